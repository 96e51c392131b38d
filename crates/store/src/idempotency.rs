//! Idempotency-Key records for `POST /tasks` (docs/http-contract.md#idempotency).
//!
//! Claiming a key is atomic without a transaction: `INSERT … ON CONFLICT DO NOTHING` lets
//! exactly one of several concurrent requests create the record, and the takeover of an expired
//! or stale record is a conditional `UPDATE` whose condition no longer holds for the second
//! taker (PostgreSQL re-checks it after the row lock; SQLite serialises writers).

use crate::types::{DbTime, DbUuid};
use crate::{IdempotencyBegin, Store, StoreError, StoreResult, StoredResponse};
use sqlx::types::Json;
use taskify_domain::Timestamp;
use uuid::Uuid;

const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

/// How often `idempotency_begin` retries when the record vanishes between its statements
/// (released or cleaned up by another request); each retry starts from the insert again.
const CLAIM_ATTEMPTS: usize = 3;

#[derive(sqlx::FromRow)]
struct RecordRow {
    request_hash: String,
    state: String,
    response_status: Option<i32>,
    response_body: Option<String>,
    response_headers: Option<Json<Vec<(String, String)>>>,
}

impl Store {
    /// Atomically claims `(user_id, key)`: inserts an `in_progress` record (expiring at
    /// `expires_at`) when none exists, when the existing one has expired, or when it is an
    /// `in_progress` record created before `stale_before` (taken over). Otherwise reports
    /// Replay / InProgress / Mismatch by comparing `request_hash`.
    pub async fn idempotency_begin(
        &self,
        user_id: Uuid,
        key: &str,
        request_hash: &str,
        now: Timestamp,
        expires_at: Timestamp,
        stale_before: Timestamp,
    ) -> StoreResult<IdempotencyBegin> {
        for _ in 0..CLAIM_ATTEMPTS {
            let record: Option<RecordRow> = on_db!(&self.db, |pool, _d| {
                // Binds the same six values as the take-over UPDATE below (which adds the staleness
                // bound): both write the same row.
                let inserted = sqlx::query(
                    "INSERT INTO idempotency_keys \
                         (user_id, key, request_hash, state, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (user_id, key) DO NOTHING",
                )
                .bind(DbUuid(user_id))
                .bind(key)
                .bind(request_hash)
                .bind(IN_PROGRESS)
                .bind(DbTime(now))
                .bind(DbTime(expires_at))
                .execute(pool)
                .await?
                .rows_affected();
                if inserted == 1 {
                    return Ok(IdempotencyBegin::Started);
                }

                // The same six values as the insert above, plus the staleness bound: a take-over
                // writes the very row the insert would have written.
                let taken_over = sqlx::query(
                    "UPDATE idempotency_keys SET request_hash = $3, state = $4, \
                         response_status = NULL, response_body = NULL, response_headers = NULL, \
                         created_at = $5, expires_at = $6 \
                     WHERE user_id = $1 AND key = $2 \
                       AND (expires_at <= $5 OR (state = $4 AND created_at < $7))",
                )
                .bind(DbUuid(user_id))
                .bind(key)
                .bind(request_hash)
                .bind(IN_PROGRESS)
                .bind(DbTime(now))
                .bind(DbTime(expires_at))
                .bind(DbTime(stale_before))
                .execute(pool)
                .await?
                .rows_affected();
                if taken_over == 1 {
                    return Ok(IdempotencyBegin::Started);
                }

                sqlx::query_as(
                    "SELECT request_hash, state, response_status, response_body, response_headers \
                     FROM idempotency_keys WHERE user_id = $1 AND key = $2",
                )
                .bind(DbUuid(user_id))
                .bind(key)
                .fetch_optional(pool)
                .await?
            });
            let Some(record) = record else {
                continue;
            };
            return Ok(if record.request_hash != request_hash {
                IdempotencyBegin::Mismatch
            } else if record.state == COMPLETED {
                IdempotencyBegin::Replay(stored_response(record)?)
            } else {
                IdempotencyBegin::InProgress
            });
        }
        // The record kept vanishing under us: behave as if another request holds it.
        Ok(IdempotencyBegin::InProgress)
    }

    /// Stores the 201 response and marks the record `completed`.
    pub async fn idempotency_complete(&self, user_id: Uuid, key: &str, response: &StoredResponse) -> StoreResult<()> {
        let completion = IdempotencyCompletion { user_id, key, response };
        on_db!(&self.db, |pool, _d| {
            complete_claim!(&completion).execute(pool).await?;
        });
        Ok(())
    }

    /// Removes an `in_progress` record whose request did not end in 201, so the key can be retried.
    pub async fn idempotency_release(&self, user_id: Uuid, key: &str) -> StoreResult<()> {
        on_db!(&self.db, |pool, _d| {
            sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND state = $3")
                .bind(DbUuid(user_id))
                .bind(key)
                .bind(IN_PROGRESS)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

fn stored_response(record: RecordRow) -> StoreResult<StoredResponse> {
    let status = record
        .response_status
        .and_then(|s| u16::try_from(s).ok())
        .ok_or_else(|| StoreError::Corrupt("completed idempotency record without a status".into()))?;
    Ok(StoredResponse {
        status,
        body: record.response_body.unwrap_or_default(),
        headers: record.response_headers.map(|h| h.0).unwrap_or_default(),
    })
}

/// The completion of an `Idempotency-Key` claim: the 201 to replay.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencyCompletion<'a> {
    pub user_id: Uuid,
    pub key: &'a str,
    pub response: &'a StoredResponse,
}

/// The statement that marks a claim `completed` with its response, ready to execute on a pool or
/// inside a transaction (a macro, because each backend's branch of `on_db!` has its own types).
macro_rules! complete_claim {
    ($completion:expr) => {{
        let completion: &$crate::idempotency::IdempotencyCompletion<'_> = $completion;
        sqlx::query(
            "UPDATE idempotency_keys SET state = 'completed', response_status = $3, \
                 response_body = $4, response_headers = $5 \
             WHERE user_id = $1 AND key = $2",
        )
        .bind($crate::types::DbUuid(completion.user_id))
        .bind(completion.key)
        .bind(i32::from(completion.response.status))
        .bind(&completion.response.body)
        .bind(sqlx::types::Json(&completion.response.headers))
    }};
}
pub(crate) use complete_claim;
