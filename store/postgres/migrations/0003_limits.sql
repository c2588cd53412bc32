-- 0003: attempt standing per profile (NIST SP 800-63B limits) and per-key
-- rate-limit windows. Standing is read-modify-write under the profile row's
-- lock (SELECT ... FOR UPDATE); a window is counted by one upsert. Both hold
-- across nodes.
CREATE TABLE standings (
    tenant_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    failures       INTEGER NOT NULL DEFAULT 0,
    cooldown_until BIGINT NOT NULL DEFAULT 0,
    locked         BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES profiles (tenant_id, user_id) ON DELETE CASCADE
);

CREATE TABLE rate_windows (
    key_id       TEXT NOT NULL,
    scope        TEXT NOT NULL,    -- minute | hour
    window_start BIGINT NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (key_id, scope, window_start)
);
CREATE INDEX rate_windows_by_start ON rate_windows (window_start);
