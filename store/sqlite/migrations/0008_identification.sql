-- 0008: identification (1:N). Every node keeps its tenants' voiceprints in
-- memory; gallery_revisions counts each tenant's voiceprint writes and
-- profile deletions, voiceprints.gallery_seq says at which count a row was
-- last written and gallery_removals at which a profile went, so that a node
-- catches up with one indexed query (Store.GalleryChanges). Removals hold a
-- user id only, never biometrics, and are pruned after a week (a node that
-- fell further behind reloads the whole gallery).
CREATE TABLE gallery_revisions (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    revision   INTEGER NOT NULL,
    pruned     INTEGER NOT NULL DEFAULT 0 -- removals up to this revision are gone
);

ALTER TABLE voiceprints ADD COLUMN gallery_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX voiceprints_by_gallery_seq ON voiceprints (tenant_id, gallery_seq);

CREATE TABLE gallery_removals (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    revision   INTEGER NOT NULL,
    removed_at INTEGER NOT NULL
);
CREATE INDEX gallery_removals_by_revision ON gallery_removals (tenant_id, revision);

-- Groups of profiles (a profile may be in several); the group named
-- "watchlist" is checked on every enrollment and verification.
CREATE TABLE group_members (
    tenant_id  TEXT NOT NULL,
    group_name TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    added_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, group_name, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES profiles (tenant_id, user_id) ON DELETE CASCADE
);
CREATE INDEX group_members_by_user ON group_members (tenant_id, user_id);

-- Per-tenant identification settings.
CREATE TABLE identification_settings (
    tenant_id        TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    watchlist_policy TEXT NOT NULL CHECK (watchlist_policy IN ('flag', 'reject')),
    updated_at       INTEGER NOT NULL
);

-- The asynchronous API gains identification jobs, whose parameters (the
-- group searched, how many candidates) travel as JSON in params. SQLite
-- cannot change a CHECK constraint in place: the table is rebuilt (and the
-- trigger of 0005 that reads it recreated around the rebuild).
DROP TRIGGER profiles_delete_async;
CREATE TABLE async_jobs_new (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    request_uuid       TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('enroll', 'verify', 'identify')),
    user_id            TEXT NOT NULL,             -- '' for identification
    key_id             TEXT NOT NULL,
    scope              TEXT NOT NULL,
    language           TEXT NOT NULL,
    device_fingerprint TEXT NOT NULL DEFAULT '',
    device_type        INTEGER NOT NULL DEFAULT 0,
    audio              BLOB,
    status             TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    available_at       INTEGER NOT NULL,
    claim              TEXT NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL,
    completed_at       INTEGER,
    params             TEXT NOT NULL DEFAULT '',
    UNIQUE (tenant_id, request_uuid)
);
INSERT INTO async_jobs_new (id, tenant_id, request_uuid, kind, user_id, key_id, scope, language, device_fingerprint,
    device_type, audio, status, attempts, available_at, claim, created_at, completed_at)
    SELECT id, tenant_id, request_uuid, kind, user_id, key_id, scope, language, device_fingerprint,
    device_type, audio, status, attempts, available_at, claim, created_at, completed_at FROM async_jobs;
DROP TABLE async_jobs;
ALTER TABLE async_jobs_new RENAME TO async_jobs;
CREATE INDEX async_jobs_claimable ON async_jobs (status, available_at);
CREATE INDEX async_jobs_by_user ON async_jobs (tenant_id, user_id);
CREATE TRIGGER profiles_delete_async AFTER DELETE ON profiles BEGIN
    UPDATE async_jobs SET audio = NULL
        WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id AND audio IS NOT NULL;
    DELETE FROM device_fingerprints WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id;
END;
