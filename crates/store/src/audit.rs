//! The append-only audit log and hourly housekeeping.

use crate::error::corrupt;
use crate::params::{Param, Params, counted_page, offset_of};
use crate::types::{DbTime, DbUuid, opt_uuid};
use crate::{HousekeepingReport, Store, StoreResult};
use sqlx::AssertSqlSafe;
use sqlx::types::Json;
use taskify_domain::audit::AUDIT_TOTAL_CAP;
use taskify_domain::{AuditEntry, AuditQuery, Decision, Paged, Timestamp};

/// Columns written per audit row.
const AUDIT_COLUMNS: &str = "id, \"timestamp\", user_id, action, resource, resource_id, decision, \
     reason, policy_ids, request_id, ip_address, user_agent, method, path, context";
const COLUMNS_PER_ROW: usize = 15;

/// Rows per multi-row INSERT: 500 × 15 = 7 500 bind parameters, far below PostgreSQL's 65 535
/// and the 32 766 of every SQLite since 3.32 (the bundled one is newer).
const ROWS_PER_INSERT: usize = 500;

/// Rows removed per housekeeping DELETE, so one run never holds a long lock (docs/data-model.md#tables).
const AUDIT_DELETE_BATCH: i64 = 10_000;

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: DbUuid,
    timestamp: DbTime,
    user_id: Option<DbUuid>,
    action: String,
    resource: String,
    resource_id: Option<String>,
    decision: String,
    reason: Option<String>,
    policy_ids: Json<Vec<String>>,
    request_id: Option<String>,
    ip_address: Option<String>,
    user_agent: Option<String>,
    method: Option<String>,
    path: Option<String>,
    context: Option<Json<serde_json::Value>>,
}

impl AuditRow {
    fn into_entry(self) -> StoreResult<AuditEntry> {
        let decision = Decision::parse(&self.decision)
            .ok_or_else(|| corrupt(format!("audit row {} has decision {:?}", self.id.0, self.decision)))?;
        Ok(AuditEntry {
            id: self.id.0,
            timestamp: self.timestamp.0,
            user_id: opt_uuid(self.user_id),
            action: self.action,
            resource: self.resource,
            resource_id: self.resource_id,
            decision,
            reason: self.reason,
            policy_ids: self.policy_ids.0,
            request_id: self.request_id,
            ip_address: self.ip_address,
            user_agent: self.user_agent,
            method: self.method,
            path: self.path,
            context: self.context.map(|c| c.0),
        })
    }
}

impl Store {
    /// Writes a batch with one multi-row INSERT per chunk (never one statement per row).
    ///
    /// All chunks commit together, and a row whose id exists already is skipped, so retrying a
    /// batch after an error (or after a commit whose acknowledgement was lost) never duplicates
    /// rows and never fails on them.
    pub async fn insert_audit_batch(&self, entries: &[AuditEntry]) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let statements: Vec<(String, Params)> = entries.chunks(ROWS_PER_INSERT).map(insert_chunk).collect();
        on_db!(&self.db, |pool, d| {
            let mut tx = pool.begin_with(d.begin_write()).await?;
            for (sql, params) in statements {
                // Chunk sizes vary: do not fill the prepared-statement cache with them.
                bind_params!(sqlx::query(AssertSqlSafe(sql)), params).persistent(false).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// `GET /audit-logs`: ordered by timestamp then id (direction from the query); `total`
    /// counts at most `AUDIT_TOTAL_CAP` rows (`total_capped` when it reached that bound).
    ///
    /// Rows with equal timestamps are ordered by id ascending in both directions, the tie-break
    /// rule of every list (docs/http-contract.md#pagination).
    pub async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Paged<AuditEntry>> {
        let (filter, count_params) = audit_filter(query);
        let count_sql =
            format!("SELECT COUNT(*) FROM (SELECT 1 FROM audit_logs WHERE {filter} LIMIT {AUDIT_TOTAL_CAP}) capped");
        let (filter, mut params) = audit_filter(query);
        let limit = params.push(Param::Int(i64::from(query.page.page_size)));
        let offset = params.push(Param::Int(offset_of(query.page.offset())));
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_logs WHERE {filter} \
             ORDER BY \"timestamp\" {dir}, id ASC LIMIT {limit} OFFSET {offset}",
            dir = query.order.sql()
        );
        let (total, rows): (i64, Vec<AuditRow>) = on_db!(&self.db, |pool, _d| {
            // Planned for their values each time and side by side on two connections, as task
            // lists are (docs/performance.md, "Task lists").
            let count = bind_params!(sqlx::query_scalar(AssertSqlSafe(count_sql)), count_params)
                .persistent(false)
                .fetch_one(pool);
            let page = bind_params!(sqlx::query_as(AssertSqlSafe(sql)), params).persistent(false).fetch_all(pool);
            tokio::try_join!(count, page)?
        });
        let items = rows.into_iter().map(AuditRow::into_entry).collect::<StoreResult<_>>()?;
        Ok(counted_page(items, total, &query.page, Some(AUDIT_TOTAL_CAP)))
    }

    /// Deletes refresh tokens expired more than 24 h ago, revoked access tokens past their
    /// expiry, expired idempotency keys and, when `audit_retention` is set, audit rows older than
    /// it (in batches of 10 000). Idempotent.
    pub async fn housekeeping(
        &self,
        now: Timestamp,
        audit_retention: Option<chrono::Duration>,
    ) -> StoreResult<HousekeepingReport> {
        let refresh_cutoff = now - chrono::Duration::hours(24);
        let audit_cutoff = audit_retention.filter(|r| *r > chrono::Duration::zero()).map(|r| now - r);
        on_db!(&self.db, |pool, _d| {
            let refresh_tokens = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at < $1")
                .bind(DbTime(refresh_cutoff))
                .execute(pool)
                .await?
                .rows_affected();
            let revoked_access_tokens = sqlx::query("DELETE FROM revoked_access_tokens WHERE expires_at < $1")
                .bind(DbTime(now))
                .execute(pool)
                .await?
                .rows_affected();
            // Same rule as `idempotency_begin`: a record expiring at or before now is expired.
            let idempotency_keys = sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
                .bind(DbTime(now))
                .execute(pool)
                .await?
                .rows_affected();
            let mut audit_rows = 0;
            if let Some(cutoff) = audit_cutoff {
                loop {
                    let deleted = sqlx::query(
                        "DELETE FROM audit_logs WHERE id IN \
                         (SELECT id FROM audit_logs WHERE \"timestamp\" < $1 LIMIT $2)",
                    )
                    .bind(DbTime(cutoff))
                    .bind(AUDIT_DELETE_BATCH)
                    .execute(pool)
                    .await?
                    .rows_affected();
                    audit_rows += deleted;
                    if deleted < AUDIT_DELETE_BATCH.unsigned_abs() {
                        break;
                    }
                }
            }
            Ok(HousekeepingReport { refresh_tokens, revoked_access_tokens, idempotency_keys, audit_rows })
        })
    }
}

/// One multi-row INSERT for up to [`ROWS_PER_INSERT`] entries.
fn insert_chunk(chunk: &[AuditEntry]) -> (String, Params) {
    let mut params = Params::new();
    let mut rows = Vec::with_capacity(chunk.len());
    for e in chunk {
        let placeholders = [
            params.push(Param::Uuid(e.id)),
            params.push(Param::Time(e.timestamp)),
            params.push(Param::OptUuid(e.user_id)),
            params.push(Param::Text(e.action.clone())),
            params.push(Param::Text(e.resource.clone())),
            params.push(Param::OptText(e.resource_id.clone())),
            params.push(Param::Text(e.decision.as_str().to_owned())),
            params.push(Param::OptText(e.reason.clone())),
            params.push(Param::Json(serde_json::Value::from(e.policy_ids.clone()))),
            params.push(Param::OptText(e.request_id.clone())),
            params.push(Param::OptText(e.ip_address.clone())),
            params.push(Param::OptText(e.user_agent.clone())),
            params.push(Param::OptText(e.method.clone())),
            params.push(Param::OptText(e.path.clone())),
            params.push(Param::OptJson(e.context.clone())),
        ];
        debug_assert_eq!(placeholders.len(), COLUMNS_PER_ROW);
        rows.push(format!("({})", placeholders.join(", ")));
    }
    let sql =
        format!("INSERT INTO audit_logs ({AUDIT_COLUMNS}) VALUES {} ON CONFLICT (id) DO NOTHING", rows.join(", "));
    (sql, params)
}

/// The WHERE clause of `GET /audit-logs` and its bind values.
fn audit_filter(query: &AuditQuery) -> (String, Params) {
    let mut params = Params::new();
    let mut clauses = vec![format!("\"timestamp\" >= {}", params.push(Param::Time(query.from)))];
    if let Some(to) = query.to {
        clauses.push(format!("\"timestamp\" < {}", params.push(Param::Time(to))));
    }
    // One `if let` per optional filter, like the dynamic SET/WHERE builders of tasks.rs and
    // user_admin.rs: each line names its own column and Param kind.
    if let Some(user_id) = query.user_id {
        clauses.push(format!("user_id = {}", params.push(Param::Uuid(user_id))));
    }
    if let Some(resource) = &query.resource {
        clauses.push(format!("resource = {}", params.push(Param::Text(resource.clone()))));
    }
    if let Some(action) = &query.action {
        clauses.push(format!("action = {}", params.push(Param::Text(action.clone()))));
    }
    if let Some(decision) = query.decision {
        clauses.push(format!("decision = {}", params.push(Param::Text(decision.as_str().to_owned()))));
    }
    (clauses.join(" AND "), params)
}
