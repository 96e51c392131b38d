//! Tasks: CRUD with compare-and-set on `version`, and filtered, sorted, paginated lists.

use crate::dialect::Dialect;
use crate::idempotency::IdempotencyCompletion;
use crate::params::{Param, Params, contains_pattern, counted_page, offset_of};
use crate::rows::{OPTIONAL_ATTRIBUTE_COLUMNS, OptionalAttributeRow, TASK_COLUMNS, TaskRow};
use crate::types::{DbTime, DbUuid};
use crate::{Store, StoreResult, TaskRecord};
use sqlx::AssertSqlSafe;
use taskify_domain::{
    Paged, Principal, TASK_TOTAL_CAP, Task, TaskChanges, TaskListQuery, TaskPriority, TaskSort, TaskStatus, Timestamp,
    Visibility,
};
use uuid::Uuid;

/// The attribute key that hides a task from department readers with a lower clearance.
const REQUIRED_CLEARANCE: &str = "required_clearance";

#[derive(sqlx::FromRow)]
struct TaskRecordRow {
    #[sqlx(flatten)]
    task: TaskRow,
    owner_department: Option<String>,
    owner_deleted: bool,
}

#[derive(sqlx::FromRow)]
struct TaskWithAttributeRow {
    #[sqlx(flatten)]
    record: TaskRecordRow,
    #[sqlx(flatten)]
    attribute: OptionalAttributeRow,
}

impl Store {
    /// Inserts the task (all fields from the argument; `owner_username` is ignored) and returns
    /// it with `owner_username` filled in.
    pub async fn insert_task(&self, task: &Task) -> StoreResult<Task> {
        self.insert_task_completing(task, None).await
    }

    /// [`Store::insert_task`], and in the same transaction the completion of the create's
    /// `Idempotency-Key` claim (its stored 201). A replica that dies mid-request therefore leaves
    /// either both (a retry replays the 201) or neither (a retry takes the claim over and creates
    /// the task once), never a task whose claim still looks unfinished.
    ///
    /// Without a claim to complete the insert is one autocommitted statement, which also returns
    /// the owner's username: one round trip instead of four (BEGIN, INSERT, SELECT, COMMIT;
    /// BENCHMARKS.md, "Round trips of a create").
    pub async fn insert_task_completing(
        &self,
        task: &Task,
        completes: Option<IdempotencyCompletion<'_>>,
    ) -> StoreResult<Task> {
        let owner_username: String = on_db!(&self.db, |pool, d| {
            let insert = sqlx::query_scalar(
                "INSERT INTO tasks (id, user_id, title, description, status, priority, due_date, \
                     created_at, updated_at, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 RETURNING (SELECT u.username FROM users u WHERE u.id = $2)",
            )
            .bind(DbUuid(task.id))
            .bind(DbUuid(task.user_id))
            .bind(&task.title)
            .bind(&task.description)
            .bind(task.status.as_str())
            .bind(task.priority.as_str())
            .bind(task.due_date.map(DbTime))
            .bind(DbTime(task.created_at))
            .bind(DbTime(task.updated_at))
            .bind(task.version);
            match &completes {
                None => insert.fetch_one(pool).await?,
                Some(completion) => {
                    let mut tx = pool.begin_with(d.begin_write()).await?;
                    let username = insert.fetch_one(&mut *tx).await?;
                    crate::idempotency::complete_claim!(completion).execute(&mut *tx).await?;
                    tx.commit().await?;
                    username
                }
            }
        });
        Ok(Task { owner_username, ..task.clone() })
    }

    /// The task with its owner's department / deleted flag and its active attributes, in one
    /// round trip: the attributes are a LEFT JOIN, one row each (a task usually has none), so a
    /// cache miss costs one query, not two (docs/performance.md, "Uncached read").
    pub async fn get_task(&self, id: Uuid, now: Timestamp) -> StoreResult<Option<TaskRecord>> {
        let rows: Vec<TaskWithAttributeRow> = on_db!(&self.db, |pool, _d| {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {TASK_COLUMNS}, u.department AS owner_department, \
                        (u.deleted_at IS NOT NULL) AS owner_deleted, {OPTIONAL_ATTRIBUTE_COLUMNS} \
                 FROM tasks t JOIN users u ON u.id = t.user_id \
                 LEFT JOIN resource_attributes a ON a.resource_type = 'task' AND a.resource_id = t.id \
                      AND (a.expires_at IS NULL OR a.expires_at > $2) \
                 WHERE t.id = $1 ORDER BY a.key"
            )))
            .bind(DbUuid(id))
            .bind(DbTime(now))
            .fetch_all(pool)
            .await?
        });
        let mut rows = rows.into_iter();
        let Some(first) = rows.next() else {
            return Ok(None);
        };
        let attributes = std::iter::once(first.attribute)
            .chain(rows.map(|r| r.attribute))
            .filter_map(OptionalAttributeRow::into_row)
            .map(|a| a.into_attribute(now))
            .collect::<StoreResult<Vec<_>>>()?;
        let row = first.record;
        let required_clearance = attributes.iter().find(|a| a.key == REQUIRED_CLEARANCE).and_then(|a| a.value.as_i64());
        Ok(Some(TaskRecord {
            task: row.task.into_task()?,
            owner_department: Principal::normalise_department(row.owner_department.as_deref()),
            owner_deleted: row.owner_deleted,
            required_clearance,
            attributes,
        }))
    }

    /// Applies non-empty `changes`: `version = version + 1`, `updated_at = now`. With
    /// `expected_version`, the update is a compare-and-set on it. `None` when the task is absent
    /// or the version did not match.
    pub async fn update_task(
        &self,
        id: Uuid,
        changes: &TaskChanges,
        expected_version: Option<i64>,
        now: Timestamp,
    ) -> StoreResult<Option<Task>> {
        if changes.is_empty() {
            // `{}` changes nothing, not even version or updated_at (docs/http-contract.md#tasks); the
            // precondition still applies.
            let current = self.get_task(id, now).await?.map(|r| r.task);
            return Ok(current.filter(|t| expected_version.is_none_or(|v| v == t.version)));
        }

        let mut params = Params::new();
        let id_ph = params.push(Param::Uuid(id));
        let mut sets = Vec::new();
        // One `if let` per optional column, each with its own Param kind: the pattern of every
        // dynamic SET/WHERE builder here (users.rs, user_admin.rs, audit.rs); a helper would only
        // move the list.
        if let Some(title) = &changes.title {
            sets.push(format!("title = {}", params.push(Param::Text(title.clone()))));
        }
        if let Some(description) = &changes.description {
            sets.push(format!("description = {}", params.push(Param::Text(description.clone()))));
        }
        if let Some(status) = changes.status {
            sets.push(format!("status = {}", params.push(Param::Text(status.as_str().to_owned()))));
        }
        if let Some(priority) = changes.priority {
            sets.push(format!("priority = {}", params.push(Param::Text(priority.as_str().to_owned()))));
        }
        if let Some(due_date) = changes.due_date {
            sets.push(format!("due_date = {}", params.push(Param::OptTime(due_date))));
        }
        sets.push("version = version + 1".to_owned());
        sets.push(format!("updated_at = {}", params.push(Param::Time(now))));
        let mut sql = format!("UPDATE tasks SET {} WHERE id = {id_ph}", sets.join(", "));
        if let Some(version) = expected_version {
            sql.push_str(&format!(" AND version = {}", params.push(Param::Int(version))));
        }

        let row: Option<TaskRow> = on_db!(&self.db, |pool, d| {
            // Update and read back in one transaction, so the returned task is exactly the
            // version this write produced.
            let mut tx = pool.begin_with(d.begin_write()).await?;
            let updated =
                bind_params!(sqlx::query(AssertSqlSafe(sql)), params).execute(&mut *tx).await?.rows_affected();
            if updated == 0 {
                None
            } else {
                let row = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {TASK_COLUMNS} FROM tasks t JOIN users u ON u.id = t.user_id \
                     WHERE t.id = $1"
                )))
                .bind(DbUuid(id))
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                row
            }
        });
        row.map(TaskRow::into_task).transpose()
    }

    /// Deletes the task and its resource attributes in one transaction, optionally as a
    /// compare-and-set on `version`. False when nothing was deleted.
    pub async fn delete_task(&self, id: Uuid, expected_version: Option<i64>) -> StoreResult<bool> {
        on_db!(&self.db, |pool, d| {
            let mut tx = pool.begin_with(d.begin_write()).await?;
            let deleted = match expected_version {
                Some(version) => {
                    sqlx::query("DELETE FROM tasks WHERE id = $1 AND version = $2")
                        .bind(DbUuid(id))
                        .bind(version)
                        .execute(&mut *tx)
                        .await
                }
                None => sqlx::query("DELETE FROM tasks WHERE id = $1").bind(DbUuid(id)).execute(&mut *tx).await,
            }?
            .rows_affected();
            if deleted == 0 {
                return Ok(false);
            }
            sqlx::query("DELETE FROM resource_attributes WHERE resource_type = 'task' AND resource_id = $1")
                .bind(DbUuid(id))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// One page of the tasks visible under `visibility` that match `query`, sorted as asked
    /// with ties broken by id ascending, and the total count up to `offset + TASK_TOTAL_CAP`
    /// ([`Store::list_tasks_capped`]).
    pub async fn list_tasks(
        &self,
        query: &TaskListQuery,
        visibility: &Visibility,
        now: Timestamp,
    ) -> StoreResult<Paged<Task>> {
        self.list_tasks_capped(query, visibility, now, TASK_TOTAL_CAP).await
    }

    /// [`Store::list_tasks`] with the cap as a parameter: `total` counts at most `offset + cap`
    /// matching rows, so a page never counts a whole large list (`total_capped` when it reached
    /// that bound; docs/http-contract.md#pagination).
    ///
    /// The count and the page run at the same time, each on its own connection. The count reads
    /// `tasks` alone (no filter needs the owner row). The page's ids are chosen
    /// first, from `tasks` alone, and only those rows are read whole and joined to their owners:
    /// with the default sort the skipped rows of a deep page are read from an index only
    /// (docs/performance.md, "Task lists").
    pub async fn list_tasks_capped(
        &self,
        query: &TaskListQuery,
        visibility: &Visibility,
        now: Timestamp,
        cap: u64,
    ) -> StoreResult<Paged<Task>> {
        let count_limit = query.page.offset().saturating_add(cap);
        let (rows, total) = on_db!(&self.db, |pool, d| {
            let (filter, mut params) = task_filter(query, visibility, now, d);
            let limit = params.push(Param::Int(offset_of(count_limit)));
            let count_sql = format!("SELECT COUNT(*) FROM (SELECT 1 FROM tasks t WHERE {filter} LIMIT {limit}) c");
            // Not kept as prepared statements: PostgreSQL would switch a kept statement to one
            // generic plan after five runs, chosen without the search pattern, department or
            // offset, which decide the plan here (docs/performance.md, "Task lists").
            let count = bind_params!(sqlx::query_scalar::<_, i64>(AssertSqlSafe(count_sql)), params)
                .persistent(false)
                .fetch_one(pool);

            let (filter, mut params) = task_filter(query, visibility, now, d);
            let limit = params.push(Param::Int(i64::from(query.page.page_size)));
            let offset = params.push(Param::Int(offset_of(query.page.offset())));
            let order = task_order(query, d);
            let sql = format!(
                "SELECT {TASK_COLUMNS} FROM (\
                    SELECT t.id FROM tasks t WHERE {filter} \
                    ORDER BY {order}, t.id ASC LIMIT {limit} OFFSET {offset}\
                 ) p JOIN tasks t ON t.id = p.id JOIN users u ON u.id = t.user_id \
                 ORDER BY {order}, t.id ASC",
            );
            let page = bind_params!(sqlx::query_as::<_, TaskRow>(AssertSqlSafe(sql)), params)
                .persistent(false)
                .fetch_all(pool);
            // Side by side on two connections: a list answers in the time of the slower
            // statement, not of both (docs/performance.md, "Task lists").
            let (total, rows) = tokio::try_join!(count, page)?;
            (rows, total)
        });
        let items = rows.into_iter().map(TaskRow::into_task).collect::<StoreResult<_>>()?;
        Ok(counted_page(items, total, &query.page, Some(count_limit)))
    }
}

/// The WHERE clause of a task list (over `tasks t` alone) and its bind values.
fn task_filter(query: &TaskListQuery, visibility: &Visibility, now: Timestamp, d: Dialect) -> (String, Params) {
    let mut params = Params::new();
    let mut clauses = Vec::new();

    match visibility {
        Visibility::All => {}
        Visibility::Own { user_id } => {
            clauses.push(format!("t.user_id = {}", params.push(Param::Uuid(*user_id))));
        }
        Visibility::Department { user_id, department, clearance } => {
            let me = params.push(Param::Uuid(*user_id));
            let department = Principal::normalise_department(Some(department));
            if department.is_empty() {
                // An empty department never matches (docs/authorization.md#default-policies): own tasks only.
                clauses.push(format!("t.user_id = {me}"));
            } else {
                let dept = params.push(Param::Text(department));
                let now_ph = params.push(Param::Time(now));
                let clearance_ph = params.push(Param::Int(*clearance));
                let number = d.attribute_number("ra");
                let trunc = d.trunc("rc.n");
                // Tasks whose owner is a live member of the department (the owner's folded
                // department, kept on the task row by triggers: docs/decisions/0009), that do
                // not require more clearance than the caller has; own tasks are exempt from the
                // clearance check. Own tasks are in the department by construction: the
                // principal's department is the caller's own stored department, folded the
                // same way (docs/performance.md, "Task lists"). One index serves this in the
                // default order.
                clauses.push(format!(
                    "t.owner_department = {dept} \
                     AND (t.user_id = {me} OR NOT EXISTS (\
                            SELECT 1 FROM (\
                                SELECT {number} AS n FROM resource_attributes ra \
                                WHERE ra.resource_type = 'task' AND ra.resource_id = t.id \
                                  AND ra.key = '{REQUIRED_CLEARANCE}' \
                                  AND (ra.expires_at IS NULL OR ra.expires_at > {now_ph})\
                            ) rc \
                            WHERE rc.n > {clearance_ph} AND rc.n = {trunc} AND abs(rc.n) < 9e15))",
                ));
            }
        }
    }

    if let Some(owner) = query.owner {
        clauses.push(format!("t.user_id = {}", params.push(Param::Uuid(owner))));
    }
    // One `if let` per optional filter, like the other dynamic SET/WHERE builders (see
    // `update_task`): each line names its own column and Param kind.
    if let Some(status) = query.status {
        clauses.push(format!("t.status = {}", params.push(Param::Text(status.as_str().to_owned()))));
    }
    if let Some(priority) = query.priority {
        clauses.push(format!("t.priority = {}", params.push(Param::Text(priority.as_str().to_owned()))));
    }
    // A bound excludes tasks without a due date: NULL compares as unknown.
    if let Some(after) = query.due_after {
        clauses.push(format!("t.due_date >= {}", params.push(Param::Time(after))));
    }
    if let Some(before) = query.due_before {
        clauses.push(format!("t.due_date < {}", params.push(Param::Time(before))));
    }
    if let Some(q) = &query.q {
        let p = params.push(Param::Text(contains_pattern(q)));
        clauses.push(format!(
            "({title} LIKE {p} ESCAPE '\\' OR {description} LIKE {p} ESCAPE '\\')",
            title = d.fold("t.title"),
            description = d.fold("t.description"),
        ));
    }

    let filter = if clauses.is_empty() { "TRUE".to_owned() } else { clauses.join(" AND ") };
    (filter, params)
}

/// The ORDER BY of a task list, without the final `t.id ASC` tie-breaker.
fn task_order(query: &TaskListQuery, d: Dialect) -> String {
    let dir = query.order.sql();
    match query.sort_by {
        TaskSort::CreatedAt => format!("t.created_at {dir}"),
        TaskSort::UpdatedAt => format!("t.updated_at {dir}"),
        TaskSort::Title => format!("{} {dir}", d.fold("t.title")),
        // Tasks without a due date come last in both directions.
        TaskSort::DueDate => format!("t.due_date {dir} NULLS LAST"),
        TaskSort::Priority => {
            format!("{} {dir}", rank_case("t.priority", TaskPriority::ALL.iter().map(|p| (p.as_str(), p.rank()))))
        }
        TaskSort::Status => {
            format!("{} {dir}", rank_case("t.status", TaskStatus::ALL.iter().map(|s| (s.as_str(), s.rank()))))
        }
    }
}

/// `CASE col WHEN 'a' THEN 0 … END` from the domain's own rank order (no extra column).
fn rank_case<'a>(column: &str, ranks: impl Iterator<Item = (&'a str, usize)>) -> String {
    let arms: String = ranks.map(|(value, rank)| format!(" WHEN '{value}' THEN {rank}")).collect();
    format!("CASE {column}{arms} END")
}
