-- 0003: attempt standing per profile (NIST SP 800-63B limits) and per-key
-- rate-limit windows. Both are read-modify-write under a lock (SQLite's
-- write lock; FOR UPDATE / upserts in PostgreSQL), so they hold across nodes.
CREATE TABLE standings (
    tenant_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    failures       INTEGER NOT NULL DEFAULT 0,
    cooldown_until INTEGER NOT NULL DEFAULT 0,
    locked         INTEGER NOT NULL DEFAULT 0,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES profiles (tenant_id, user_id) ON DELETE CASCADE
);

CREATE TABLE rate_windows (
    key_id       TEXT NOT NULL,
    scope        TEXT NOT NULL,    -- minute | hour
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (key_id, scope, window_start)
);
CREATE INDEX rate_windows_by_start ON rate_windows (window_start);
