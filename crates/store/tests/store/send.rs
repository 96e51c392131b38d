//! Compile-time check: every future the store returns is `Send`, so the server can await it in
//! spawned tasks and axum handlers. (sqlx has APIs whose futures are not, e.g.
//! `Migrator::run(&mut PgConnection)`; this keeps such a regression from compiling.)

use crate::harness::{minutes, new_task, new_user, t0};
use taskify_domain::{AuditQuery, Order, PageRequest, TaskChanges, TaskListQuery, UserListQuery, Visibility};
use taskify_store::{
    AttributeOwner, NewAttribute, ProfileChanges, RefreshToken, RevokedJti, Store, StoredResponse, UserPatch,
};
use uuid::Uuid;

fn send<T: Send>(_: T) {}

#[allow(dead_code)]
async fn every_store_future_is_send(store: Store) {
    let id = Uuid::nil();
    let now = t0();
    let attribute = NewAttribute {
        key: "k".into(),
        value: taskify_domain::AttributeValue::Boolean(true),
        source: "manual".into(),
        expires_at: None,
    };
    let user = new_user("u", None);
    let task = new_task(id, "t");
    let token = RefreshToken {
        id,
        user_id: id,
        family_id: id,
        parent_id: None,
        token_hash: String::new(),
        access_jti: None,
        access_expires_at: None,
        issued_at: now,
        expires_at: now,
        used_at: None,
        revoked_at: None,
        revoke_reason: None,
        ip_address: None,
        user_agent: None,
    };
    let jti = RevokedJti { jti: id, user_id: id, expires_at: now };
    let response = StoredResponse { status: 201, body: String::new(), headers: Vec::new() };
    let audit_query = AuditQuery {
        user_id: None,
        resource: None,
        action: None,
        decision: None,
        from: now,
        to: None,
        order: Order::Desc,
        page: PageRequest::default(),
    };
    let owner = AttributeOwner::User(id);

    send(Store::connect("sqlite::memory:", &crate::harness::pool_config()));
    send(store.ping());
    send(store.close());
    send(store.migration_lock());
    send(async { store.migration_lock().await?.release().await });
    send(store.migrate());
    send(store.migrations_pending());
    send(store.create_user(&user, &["user"], &[]));
    send(store.find_taken("", ""));
    send(store.credentials_by_email(""));
    send(store.password_hash(id));
    send(store.get_user(id, now, true));
    send(store.record_login(id, now));
    send(store.set_password_hash(id, "", ""));
    send(store.change_password(id, "", now, minutes(15)));
    send(store.update_profile(id, &ProfileChanges::default(), now));
    send(store.load_principal(id, now));
    send(store.list_users(&UserListQuery::default(), now));
    send(store.patch_user(id, &UserPatch::default(), now));
    send(store.soft_delete_user(id, now, minutes(15)));
    send(store.has_active_admin(now));
    send(store.list_roles());
    send(store.assign_role(id, "user", None, None, now));
    send(store.revoke_role(id, "user", None, now));
    send(store.list_attributes(owner, now));
    send(store.get_attribute(owner, "k", now));
    send(store.put_attribute(owner, &attribute, now));
    send(store.delete_attribute(owner, "k"));
    send(store.insert_task(&task));
    send(store.get_task(id, now));
    send(store.update_task(id, &TaskChanges::default(), None, now));
    send(store.delete_task(id, None));
    send(store.list_tasks(&TaskListQuery::default(), &Visibility::All, now));
    send(store.idempotency_begin(id, "", "", now, now, now));
    send(store.idempotency_complete(id, "", &response));
    send(store.idempotency_release(id, ""));
    send(store.insert_refresh_token(&token));
    send(store.find_refresh_token(""));
    send(store.rotate_refresh_token(&token, &token, now, minutes(1)));
    send(store.revoke_refresh_family(id, "logout", now, minutes(15)));
    send(store.revoke_access_token(&jti, now));
    send(store.is_access_token_revoked(id));
    send(store.insert_audit_batch(&[]));
    send(store.list_audit(&audit_query));
    send(store.housekeeping(now, None));
}
