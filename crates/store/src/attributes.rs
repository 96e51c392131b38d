//! User attributes and task (resource) attributes behind one interface.

use crate::rows::{ATTRIBUTE_COLUMNS, AttributeRow, is_active};
use crate::types::{DbTime, DbUuid};
use crate::{AttributeOwner, NewAttribute, Store, StoreResult};
use sqlx::AssertSqlSafe;
use taskify_domain::{Attribute, Timestamp};
use uuid::Uuid;

/// The table and owner condition (on `$1`) of an attribute owner. Task attributes live in the
/// polymorphic `resource_attributes` table under resource type `task`.
struct OwnerSql {
    table: &'static str,
    /// Condition on the owner with the owner id as `$1`, columns unqualified.
    filter: &'static str,
    /// Upsert of one attribute: `$1` id, `$2` owner, `$3` key, `$4` value, `$5` data_type,
    /// `$6` source, `$7` expires_at, `$8` now. Returns the row's id and created_at, which are
    /// kept on replace: a returned id different from `$1` means the row existed.
    upsert: &'static str,
    id: Uuid,
}

fn owner_sql(owner: AttributeOwner) -> OwnerSql {
    match owner {
        AttributeOwner::User(id) => OwnerSql {
            table: "user_attributes",
            filter: "user_id = $1",
            upsert: "INSERT INTO user_attributes \
                 (id, user_id, key, value, data_type, source, expires_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                 ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value, \
                     data_type = excluded.data_type, source = excluded.source, \
                     expires_at = excluded.expires_at, updated_at = excluded.updated_at \
                 RETURNING id, created_at",
            id,
        },
        AttributeOwner::Task(id) => OwnerSql {
            table: "resource_attributes",
            filter: "resource_type = 'task' AND resource_id = $1",
            upsert: "INSERT INTO resource_attributes \
                 (id, resource_type, resource_id, key, value, data_type, source, expires_at, \
                  created_at, updated_at) \
                 VALUES ($1, 'task', $2, $3, $4, $5, $6, $7, $8, $8) \
                 ON CONFLICT (resource_type, resource_id, key) DO UPDATE SET \
                     value = excluded.value, data_type = excluded.data_type, \
                     source = excluded.source, expires_at = excluded.expires_at, \
                     updated_at = excluded.updated_at \
                 RETURNING id, created_at",
            id,
        },
    }
}

impl Store {
    /// All attributes of the owner, expired ones included (`active` computed against `now`),
    /// ordered by key.
    pub async fn list_attributes(&self, owner: AttributeOwner, now: Timestamp) -> StoreResult<Vec<Attribute>> {
        // Same owner-scoped SELECT as the single-key read below: the two queries differ in their
        // filter and result, so each builds its own SQL.
        let o = owner_sql(owner);
        let sql = format!(
            "SELECT {ATTRIBUTE_COLUMNS} FROM (SELECT * FROM {table} WHERE {filter}) a ORDER BY a.key",
            table = o.table,
            filter = o.filter
        );
        let rows: Vec<AttributeRow> = on_db!(&self.db, |pool, _d| {
            sqlx::query_as(AssertSqlSafe(sql)).bind(DbUuid(o.id)).fetch_all(pool).await?
        });
        rows.into_iter().map(|r| r.into_attribute(now)).collect()
    }

    /// One attribute by key, expired or not (`active` computed against `now`).
    pub async fn get_attribute(
        &self,
        owner: AttributeOwner,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<Option<Attribute>> {
        // Same owner-scoped SELECT as `list_attributes` above, narrowed to one key.
        let o = owner_sql(owner);
        let sql = format!(
            "SELECT {ATTRIBUTE_COLUMNS} FROM (SELECT * FROM {table} WHERE {filter} AND key = $2) a",
            table = o.table,
            filter = o.filter
        );
        let row: Option<AttributeRow> = on_db!(&self.db, |pool, _d| {
            sqlx::query_as(AssertSqlSafe(sql)).bind(DbUuid(o.id)).bind(key).fetch_optional(pool).await?
        });
        row.map(|r| r.into_attribute(now)).transpose()
    }

    /// Creates or replaces (upsert on the unique key). Returns the attribute and whether it
    /// was created. `created_at` is kept on replace.
    pub async fn put_attribute(
        &self,
        owner: AttributeOwner,
        attribute: &NewAttribute,
        now: Timestamp,
    ) -> StoreResult<(Attribute, bool)> {
        let o = owner_sql(owner);
        let new_id = Uuid::now_v7();
        let (row_id, created_at): (DbUuid, DbTime) = on_db!(&self.db, |pool, _d| {
            // The same attribute binds as `insert_user` in users.rs: one bind per column of the
            // attribute tables, kept at each query.
            sqlx::query_as(o.upsert)
                .bind(DbUuid(new_id))
                .bind(DbUuid(o.id))
                .bind(&attribute.key)
                .bind(attribute.value.to_stored())
                .bind(attribute.value.data_type().as_str())
                .bind(&attribute.source)
                .bind(attribute.expires_at.map(DbTime))
                .bind(DbTime(now))
                .fetch_one(pool)
                .await?
        });
        let stored = Attribute {
            key: attribute.key.clone(),
            value: attribute.value.clone(),
            data_type: attribute.value.data_type(),
            source: attribute.source.clone(),
            expires_at: attribute.expires_at,
            active: is_active(attribute.expires_at, now),
            created_at: created_at.0,
            updated_at: now,
        };
        Ok((stored, row_id.0 == new_id))
    }

    /// Deletes the row; false when there was none.
    pub async fn delete_attribute(&self, owner: AttributeOwner, key: &str) -> StoreResult<bool> {
        let o = owner_sql(owner);
        let sql = format!("DELETE FROM {} WHERE {} AND key = $2", o.table, o.filter);
        let deleted = on_db!(&self.db, |pool, _d| {
            sqlx::query(AssertSqlSafe(sql)).bind(DbUuid(o.id)).bind(key).execute(pool).await?.rows_affected()
        });
        Ok(deleted > 0)
    }
}
