-- The access token issued together with a refresh token lives until its own `exp`, which is
-- fixed by the ACCESS_TOKEN_TTL in force when it was issued. Revoking a family or a user's
-- sessions must reach every access token still alive, and the revocation entry must live as
-- long as that token, even after ACCESS_TOKEN_TTL was lowered: so the expiry is stored, not
-- recomputed from the current TTL. Canonical timestamp text, as every `ts` column.
ALTER TABLE refresh_tokens ADD COLUMN access_expires_at TEXT NULL;

-- Rows issued before this column existed: their access token cannot outlive the refresh
-- token's own expiry under any sane configuration, so that bound is kept (conservative).
UPDATE refresh_tokens SET access_expires_at = expires_at WHERE access_jti IS NOT NULL;
