-- 0001: tenants, API keys and profiles.
-- Times are Unix milliseconds (BIGINT), as in the SQLite schema, so that the
-- two stores read and write the same values.
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    scope      TEXT NOT NULL CHECK (scope IN ('admin', 'verify')),
    hash       BYTEA NOT NULL,
    label      TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE profiles (
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    enrolled_at    BIGINT,
    samples        INTEGER NOT NULL DEFAULT 0,
    speech_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, user_id)
);
