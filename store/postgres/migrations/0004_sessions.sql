-- 0004: challenge sessions, single-use voice tokens, tenant passphrases.
-- Consumption is one conditional UPDATE (consumed_at IS NULL): under READ
-- COMMITTED a second updater waits for the first and then finds the
-- condition false, so exactly one caller wins.
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    mode        TEXT NOT NULL,
    challenge   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX sessions_by_user ON sessions (tenant_id, user_id, created_at);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE voice_tokens (
    jti        TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    session_id TEXT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX voice_tokens_by_expiry ON voice_tokens (expires_at);

CREATE TABLE challenge_phrases (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    phrases    TEXT NOT NULL, -- JSON array
    updated_at BIGINT NOT NULL
);
