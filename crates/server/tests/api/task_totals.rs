//! Capped totals of task lists (docs/http-contract.md#pagination): `total` stops counting 10 000
//! rows past the page's offset and the body then says `total_capped`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::*;

/// Ten thousand copies of task `id` (same owner; distinct ids and titles), inserted in one
/// statement: through the API this would take minutes.
fn copy_task_sql(backend: Backend, id: &str) -> String {
    let columns = "id, user_id, title, description, status, priority, due_date, created_at, updated_at, version";
    let copied = "user_id, title || ' ' || n, description, status, priority, due_date, created_at, updated_at, version";
    match backend {
        Backend::Postgres => format!(
            "INSERT INTO tasks ({columns}) \
             SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, {copied} \
             FROM tasks, generate_series(1, 10000) AS n WHERE id = '{id}'"
        ),
        Backend::Sqlite => format!(
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 10000) \
             INSERT INTO tasks ({columns}) \
             SELECT printf('00000000-0000-4000-8000-%012d', n), {copied} FROM tasks, s WHERE id = '{id}'"
        ),
    }
}

fn totals(page: &Value) -> (Option<u64>, Option<u64>, Option<&Value>, usize) {
    let items = page["tasks"].as_array().map_or(0, Vec::len);
    (page["total"].as_u64(), page["total_pages"].as_u64(), page.get("total_capped"), items)
}

both_backends!(task_list_totals_are_capped_and_pages_go_on_past_the_cap, |app| async move {
    let fixtures = app.fixtures().await;
    let token = fixtures.alice.token();
    let id = app.new_task_id(token, "Original").await;
    let exact = json_body(app.list_tasks(token, &[]).await, StatusCode::OK).await;
    assert_eq!(totals(&exact), (Some(1), Some(1), None, 1), "a small list has an exact total and no flag");

    app.execute_sql(&copy_task_sql(app.backend, &id));
    let capped = Some(&Value::Bool(true));

    // 10 001 tasks: page 1 counts up to 10 000 and says so.
    let first = json_body(app.list_tasks(token, &[("pageSize", "20")]).await, StatusCode::OK).await;
    assert_eq!(totals(&first), (Some(10_000), Some(500), capped, 20));
    let of_user =
        json_body(app.user_tasks(token, &fixtures.alice.id, &[("pageSize", "20")]).await, StatusCode::OK).await;
    assert_eq!(totals(&of_user), (Some(10_000), Some(500), capped, 20), "GET /users/{{id}}/tasks is capped too");

    // Page 500 counts up to 9 980 + 10 000: all 10 001, exactly.
    let deep = json_body(app.list_tasks(token, &[("pageSize", "20"), ("page", "500")]).await, StatusCode::OK).await;
    assert_eq!(totals(&deep), (Some(10_001), Some(501), None, 20));
    // The page past the first answer's `total_pages` holds the last task.
    let last = json_body(app.list_tasks(token, &[("pageSize", "20"), ("page", "501")]).await, StatusCode::OK).await;
    assert_eq!(totals(&last), (Some(10_001), Some(501), None, 1));
});
