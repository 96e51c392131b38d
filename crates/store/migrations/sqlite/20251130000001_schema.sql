-- Taskify schema (docs/data-model.md#tables), SQLite flavour.
--
-- Portable types (docs/data-model.md#portable-types): uuid = TEXT (36 chars, lowercase), ts = TEXT
-- 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (always UTC, so text order is time order), bool = INTEGER 0/1,
-- json = TEXT holding valid JSON, str(n) = TEXT with CHECK(length(col) <= n).
-- SQLite's `lower` folds ASCII only, like Rust's `to_ascii_lowercase`; queries use the same
-- `lower(col)` expressions as these indexes.

CREATE TABLE users (
    id                 TEXT    NOT NULL PRIMARY KEY,
    username           TEXT    NOT NULL CHECK (length(username) <= 50),
    email              TEXT    NOT NULL CHECK (length(email) <= 254),
    password_hash      TEXT    NOT NULL CHECK (length(password_hash) <= 255),
    first_name         TEXT    NOT NULL CHECK (length(first_name) <= 50),
    last_name          TEXT    NOT NULL CHECK (length(last_name) <= 50),
    department         TEXT    NULL CHECK (length(department) <= 100),
    position           TEXT    NULL CHECK (length(position) <= 100),
    is_active          INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    last_login_at      TEXT    NULL,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    deleted_at         TEXT    NULL,
    -- Access tokens issued before this moment are rejected (docs/authentication.md#access-tokens check 8).
    tokens_valid_after TEXT    NULL
);
CREATE UNIQUE INDEX uq_users_username ON users (lower(username));
CREATE UNIQUE INDEX uq_users_email ON users (lower(email));
CREATE INDEX ix_users_department ON users (lower(department));
CREATE INDEX ix_users_created_at ON users (created_at);

CREATE TABLE roles (
    id          TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL CHECK (length(name) <= 50),
    description TEXT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CONSTRAINT uq_roles_name UNIQUE (name)
);

CREATE TABLE permissions (
    id          TEXT NOT NULL PRIMARY KEY,
    resource    TEXT NOT NULL CHECK (length(resource) <= 50),
    action      TEXT NOT NULL CHECK (length(action) <= 50),
    scope       TEXT NOT NULL CHECK (length(scope) <= 20),
    description TEXT NULL,
    conditions  TEXT NULL CHECK (conditions IS NULL OR json_valid(conditions)),
    CONSTRAINT ck_permissions_scope CHECK (scope IN ('own', 'department', 'all')),
    CONSTRAINT uq_permissions_resource_action_scope UNIQUE (resource, action, scope)
);

CREATE TABLE role_permissions (
    role_id       TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id TEXT NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    granted_by    TEXT NULL REFERENCES users (id) ON DELETE SET NULL,
    granted_at    TEXT NOT NULL,
    PRIMARY KEY (role_id, permission_id)
);

CREATE TABLE user_roles (
    id          TEXT NOT NULL PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id     TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    assigned_by TEXT NULL REFERENCES users (id) ON DELETE SET NULL,
    assigned_at TEXT NOT NULL,
    expires_at  TEXT NULL,
    revoked_at  TEXT NULL,
    revoked_by  TEXT NULL REFERENCES users (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX uq_user_roles_unrevoked ON user_roles (user_id, role_id) WHERE revoked_at IS NULL;
CREATE INDEX ix_user_roles_user_id ON user_roles (user_id);

CREATE TABLE user_attributes (
    id         TEXT NOT NULL PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key        TEXT NOT NULL CHECK (length(key) <= 64),
    value      TEXT NOT NULL,
    data_type  TEXT NOT NULL CHECK (length(data_type) <= 10),
    source     TEXT NOT NULL DEFAULT 'manual' CHECK (length(source) <= 20),
    expires_at TEXT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT ck_user_attributes_data_type CHECK (data_type IN ('string', 'number', 'boolean', 'datetime')),
    CONSTRAINT uq_user_attributes_user_key UNIQUE (user_id, key)
);
CREATE INDEX ix_user_attributes_expires_at ON user_attributes (expires_at);

CREATE TABLE resource_attributes (
    id            TEXT NOT NULL PRIMARY KEY,
    resource_type TEXT NOT NULL CHECK (length(resource_type) <= 50),
    resource_id   TEXT NOT NULL,
    key           TEXT NOT NULL CHECK (length(key) <= 64),
    value         TEXT NOT NULL,
    data_type     TEXT NOT NULL CHECK (length(data_type) <= 10),
    source        TEXT NOT NULL DEFAULT 'manual' CHECK (length(source) <= 20),
    expires_at    TEXT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    CONSTRAINT ck_resource_attributes_data_type CHECK (data_type IN ('string', 'number', 'boolean', 'datetime')),
    CONSTRAINT uq_resource_attributes_resource_key UNIQUE (resource_type, resource_id, key)
);
CREATE INDEX ix_resource_attributes_resource ON resource_attributes (resource_type, resource_id);
CREATE INDEX ix_resource_attributes_expires_at ON resource_attributes (expires_at);

CREATE TABLE tasks (
    id          TEXT    NOT NULL PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       TEXT    NOT NULL CHECK (length(title) <= 255),
    description TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL DEFAULT 'pending' CHECK (length(status) <= 20),
    priority    TEXT    NOT NULL DEFAULT 'medium' CHECK (length(priority) <= 10),
    due_date    TEXT    NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    CONSTRAINT ck_tasks_status CHECK (status IN ('pending', 'in_progress', 'completed', 'cancelled')),
    CONSTRAINT ck_tasks_priority CHECK (priority IN ('low', 'medium', 'high', 'urgent'))
);
CREATE INDEX ix_tasks_user_created ON tasks (user_id, created_at);
CREATE INDEX ix_tasks_user_updated ON tasks (user_id, updated_at);
CREATE INDEX ix_tasks_status ON tasks (status);
CREATE INDEX ix_tasks_priority ON tasks (priority);
CREATE INDEX ix_tasks_due_date ON tasks (due_date);

CREATE TABLE refresh_tokens (
    id            TEXT NOT NULL PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id     TEXT NOT NULL,
    parent_id     TEXT NULL,
    token_hash    TEXT NOT NULL CHECK (length(token_hash) <= 64),
    access_jti    TEXT NULL,
    issued_at     TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    used_at       TEXT NULL,
    revoked_at    TEXT NULL,
    revoke_reason TEXT NULL CHECK (length(revoke_reason) <= 30),
    ip_address    TEXT NULL CHECK (length(ip_address) <= 45),
    user_agent    TEXT NULL CHECK (length(user_agent) <= 512),
    CONSTRAINT uq_refresh_tokens_token_hash UNIQUE (token_hash)
);
CREATE INDEX ix_refresh_tokens_user_id ON refresh_tokens (user_id);
CREATE INDEX ix_refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX ix_refresh_tokens_expires_at ON refresh_tokens (expires_at);

CREATE TABLE revoked_access_tokens (
    jti        TEXT NOT NULL PRIMARY KEY,
    user_id    TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT NOT NULL
);
CREATE INDEX ix_revoked_access_tokens_expires_at ON revoked_access_tokens (expires_at);

CREATE TABLE audit_logs (
    id          TEXT NOT NULL PRIMARY KEY,
    "timestamp" TEXT NOT NULL,
    user_id     TEXT NULL,
    action      TEXT NOT NULL CHECK (length(action) <= 64),
    resource    TEXT NOT NULL CHECK (length(resource) <= 50),
    resource_id TEXT NULL CHECK (length(resource_id) <= 64),
    decision    TEXT NOT NULL CHECK (length(decision) <= 10),
    reason      TEXT NULL,
    policy_ids  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(policy_ids)),
    request_id  TEXT NULL CHECK (length(request_id) <= 128),
    ip_address  TEXT NULL CHECK (length(ip_address) <= 45),
    user_agent  TEXT NULL CHECK (length(user_agent) <= 512),
    method      TEXT NULL CHECK (length(method) <= 10),
    path        TEXT NULL CHECK (length(path) <= 2048),
    context     TEXT NULL CHECK (context IS NULL OR json_valid(context)),
    CONSTRAINT ck_audit_logs_decision CHECK (decision IN ('allowed', 'denied'))
);
CREATE INDEX ix_audit_logs_timestamp ON audit_logs ("timestamp");
CREATE INDEX ix_audit_logs_user_timestamp ON audit_logs (user_id, "timestamp");
CREATE INDEX ix_audit_logs_resource_timestamp ON audit_logs (resource, "timestamp");
CREATE INDEX ix_audit_logs_decision ON audit_logs (decision);

CREATE TABLE idempotency_keys (
    user_id          TEXT    NOT NULL,
    key              TEXT    NOT NULL CHECK (length(key) <= 255),
    request_hash     TEXT    NOT NULL CHECK (length(request_hash) <= 64),
    state            TEXT    NOT NULL CHECK (length(state) <= 12),
    response_status  INTEGER NULL,
    response_body    TEXT    NULL,
    response_headers TEXT    NULL CHECK (response_headers IS NULL OR json_valid(response_headers)),
    created_at       TEXT    NOT NULL,
    expires_at       TEXT    NOT NULL,
    PRIMARY KEY (user_id, key),
    CONSTRAINT ck_idempotency_keys_state CHECK (state IN ('in_progress', 'completed'))
);
CREATE INDEX ix_idempotency_keys_expires_at ON idempotency_keys (expires_at);

-- The migration lock row (docs/data-model.md#migrations). The store creates this table with
-- CREATE TABLE IF NOT EXISTS before it takes the lock, i.e. before this migration can have run;
-- it is repeated here so the schema documents every table.
CREATE TABLE IF NOT EXISTS taskify_migration_lock (
    id          INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    holder      TEXT    NOT NULL,
    acquired_at TEXT    NOT NULL
);
