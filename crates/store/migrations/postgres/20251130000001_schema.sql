-- Taskify schema (docs/data-model.md#tables), PostgreSQL flavour.
--
-- Case-insensitive rules fold ASCII only: `lower(col COLLATE "C")` lowercases A–Z and leaves
-- every other character as it is, exactly like Rust's `to_ascii_lowercase` and SQLite's `lower`.
-- Queries use the very same expressions, so these indexes serve them.

CREATE TABLE users (
    id                 UUID PRIMARY KEY,
    username           VARCHAR(50)  NOT NULL,
    email              VARCHAR(254) NOT NULL,
    password_hash      VARCHAR(255) NOT NULL,
    first_name         VARCHAR(50)  NOT NULL,
    last_name          VARCHAR(50)  NOT NULL,
    department         VARCHAR(100) NULL,
    position           VARCHAR(100) NULL,
    is_active          BOOLEAN      NOT NULL DEFAULT TRUE,
    last_login_at      TIMESTAMPTZ  NULL,
    created_at         TIMESTAMPTZ  NOT NULL,
    updated_at         TIMESTAMPTZ  NOT NULL,
    deleted_at         TIMESTAMPTZ  NULL,
    -- Access tokens issued before this moment are rejected (docs/authentication.md#access-tokens check 8).
    tokens_valid_after TIMESTAMPTZ  NULL
);
CREATE UNIQUE INDEX uq_users_username ON users (lower(username COLLATE "C"));
CREATE UNIQUE INDEX uq_users_email ON users (lower(email COLLATE "C"));
CREATE INDEX ix_users_department ON users (lower(department COLLATE "C"));
CREATE INDEX ix_users_created_at ON users (created_at);

CREATE TABLE roles (
    id          UUID PRIMARY KEY,
    name        VARCHAR(50) NOT NULL,
    description TEXT        NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT uq_roles_name UNIQUE (name)
);

CREATE TABLE permissions (
    id          UUID PRIMARY KEY,
    resource    VARCHAR(50) NOT NULL,
    action      VARCHAR(50) NOT NULL,
    scope       VARCHAR(20) NOT NULL,
    description TEXT        NULL,
    conditions  JSONB       NULL,
    CONSTRAINT ck_permissions_scope CHECK (scope IN ('own', 'department', 'all')),
    CONSTRAINT uq_permissions_resource_action_scope UNIQUE (resource, action, scope)
);

CREATE TABLE role_permissions (
    role_id       UUID        NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id UUID        NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    granted_by    UUID        NULL REFERENCES users (id) ON DELETE SET NULL,
    granted_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (role_id, permission_id)
);

CREATE TABLE user_roles (
    id          UUID PRIMARY KEY,
    user_id     UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id     UUID        NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    assigned_by UUID        NULL REFERENCES users (id) ON DELETE SET NULL,
    assigned_at TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NULL,
    revoked_at  TIMESTAMPTZ NULL,
    revoked_by  UUID        NULL REFERENCES users (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX uq_user_roles_unrevoked ON user_roles (user_id, role_id) WHERE revoked_at IS NULL;
CREATE INDEX ix_user_roles_user_id ON user_roles (user_id);

CREATE TABLE user_attributes (
    id         UUID PRIMARY KEY,
    user_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key        VARCHAR(64) NOT NULL,
    value      TEXT        NOT NULL,
    data_type  VARCHAR(10) NOT NULL,
    source     VARCHAR(20) NOT NULL DEFAULT 'manual',
    expires_at TIMESTAMPTZ NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT ck_user_attributes_data_type CHECK (data_type IN ('string', 'number', 'boolean', 'datetime')),
    CONSTRAINT uq_user_attributes_user_key UNIQUE (user_id, key)
);
CREATE INDEX ix_user_attributes_expires_at ON user_attributes (expires_at);

CREATE TABLE resource_attributes (
    id            UUID PRIMARY KEY,
    resource_type VARCHAR(50) NOT NULL,
    resource_id   UUID        NOT NULL,
    key           VARCHAR(64) NOT NULL,
    value         TEXT        NOT NULL,
    data_type     VARCHAR(10) NOT NULL,
    source        VARCHAR(20) NOT NULL DEFAULT 'manual',
    expires_at    TIMESTAMPTZ NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT ck_resource_attributes_data_type CHECK (data_type IN ('string', 'number', 'boolean', 'datetime')),
    CONSTRAINT uq_resource_attributes_resource_key UNIQUE (resource_type, resource_id, key)
);
CREATE INDEX ix_resource_attributes_resource ON resource_attributes (resource_type, resource_id);
CREATE INDEX ix_resource_attributes_expires_at ON resource_attributes (expires_at);

CREATE TABLE tasks (
    id          UUID PRIMARY KEY,
    user_id     UUID         NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       VARCHAR(255) NOT NULL,
    description TEXT         NOT NULL DEFAULT '',
    status      VARCHAR(20)  NOT NULL DEFAULT 'pending',
    priority    VARCHAR(10)  NOT NULL DEFAULT 'medium',
    due_date    TIMESTAMPTZ  NULL,
    created_at  TIMESTAMPTZ  NOT NULL,
    updated_at  TIMESTAMPTZ  NOT NULL,
    version     BIGINT       NOT NULL DEFAULT 1,
    CONSTRAINT ck_tasks_status CHECK (status IN ('pending', 'in_progress', 'completed', 'cancelled')),
    CONSTRAINT ck_tasks_priority CHECK (priority IN ('low', 'medium', 'high', 'urgent'))
);
CREATE INDEX ix_tasks_user_created ON tasks (user_id, created_at);
CREATE INDEX ix_tasks_user_updated ON tasks (user_id, updated_at);
CREATE INDEX ix_tasks_status ON tasks (status);
CREATE INDEX ix_tasks_priority ON tasks (priority);
CREATE INDEX ix_tasks_due_date ON tasks (due_date);

CREATE TABLE refresh_tokens (
    id            UUID PRIMARY KEY,
    user_id       UUID         NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id     UUID         NOT NULL,
    parent_id     UUID         NULL,
    token_hash    VARCHAR(64)  NOT NULL,
    access_jti    UUID         NULL,
    issued_at     TIMESTAMPTZ  NOT NULL,
    expires_at    TIMESTAMPTZ  NOT NULL,
    used_at       TIMESTAMPTZ  NULL,
    revoked_at    TIMESTAMPTZ  NULL,
    revoke_reason VARCHAR(30)  NULL,
    ip_address    VARCHAR(45)  NULL,
    user_agent    VARCHAR(512) NULL,
    CONSTRAINT uq_refresh_tokens_token_hash UNIQUE (token_hash)
);
CREATE INDEX ix_refresh_tokens_user_id ON refresh_tokens (user_id);
CREATE INDEX ix_refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX ix_refresh_tokens_expires_at ON refresh_tokens (expires_at);

CREATE TABLE revoked_access_tokens (
    jti        UUID PRIMARY KEY,
    user_id    UUID        NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ix_revoked_access_tokens_expires_at ON revoked_access_tokens (expires_at);

CREATE TABLE audit_logs (
    id          UUID PRIMARY KEY,
    "timestamp" TIMESTAMPTZ   NOT NULL,
    user_id     UUID          NULL,
    action      VARCHAR(64)   NOT NULL,
    resource    VARCHAR(50)   NOT NULL,
    resource_id VARCHAR(64)   NULL,
    decision    VARCHAR(10)   NOT NULL,
    reason      TEXT          NULL,
    policy_ids  JSONB         NOT NULL DEFAULT '[]',
    request_id  VARCHAR(128)  NULL,
    ip_address  VARCHAR(45)   NULL,
    user_agent  VARCHAR(512)  NULL,
    method      VARCHAR(10)   NULL,
    path        VARCHAR(2048) NULL,
    context     JSONB         NULL,
    CONSTRAINT ck_audit_logs_decision CHECK (decision IN ('allowed', 'denied'))
);
CREATE INDEX ix_audit_logs_timestamp ON audit_logs ("timestamp");
CREATE INDEX ix_audit_logs_user_timestamp ON audit_logs (user_id, "timestamp");
CREATE INDEX ix_audit_logs_resource_timestamp ON audit_logs (resource, "timestamp");
CREATE INDEX ix_audit_logs_decision ON audit_logs (decision);

CREATE TABLE idempotency_keys (
    user_id          UUID         NOT NULL,
    key              VARCHAR(255) NOT NULL,
    request_hash     VARCHAR(64)  NOT NULL,
    state            VARCHAR(12)  NOT NULL,
    response_status  INTEGER      NULL,
    response_body    TEXT         NULL,
    response_headers JSONB        NULL,
    created_at       TIMESTAMPTZ  NOT NULL,
    expires_at       TIMESTAMPTZ  NOT NULL,
    PRIMARY KEY (user_id, key),
    CONSTRAINT ck_idempotency_keys_state CHECK (state IN ('in_progress', 'completed'))
);
CREATE INDEX ix_idempotency_keys_expires_at ON idempotency_keys (expires_at);
