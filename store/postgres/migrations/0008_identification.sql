-- 0008: identification (1:N). Every node keeps its tenants' voiceprints in
-- memory; gallery_revisions counts each tenant's voiceprint writes and
-- profile deletions, voiceprints.gallery_seq says at which count a row was
-- last written and gallery_removals at which a profile went, so that a node
-- catches up with one indexed query (Store.GalleryChanges). Removals hold a
-- user id only, never biometrics, and are pruned after a week (a node that
-- fell further behind reloads the whole gallery). A writer moves the
-- revision on with an upsert of the tenant's row, which it holds locked
-- until it commits: revisions commit in order, so a reader that sees
-- revision R sees every write numbered up to R.
CREATE TABLE gallery_revisions (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    revision   BIGINT NOT NULL,
    pruned     BIGINT NOT NULL DEFAULT 0 -- removals up to this revision are gone
);

ALTER TABLE voiceprints ADD COLUMN gallery_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX voiceprints_by_gallery_seq ON voiceprints (tenant_id, gallery_seq);

CREATE TABLE gallery_removals (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    revision   BIGINT NOT NULL,
    removed_at BIGINT NOT NULL
);
CREATE INDEX gallery_removals_by_revision ON gallery_removals (tenant_id, revision);

-- Groups of profiles (a profile may be in several); the group named
-- "watchlist" is checked on every enrollment and verification.
CREATE TABLE group_members (
    tenant_id  TEXT NOT NULL,
    group_name TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    added_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, group_name, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES profiles (tenant_id, user_id) ON DELETE CASCADE
);
CREATE INDEX group_members_by_user ON group_members (tenant_id, user_id);

-- Per-tenant identification settings.
CREATE TABLE identification_settings (
    tenant_id        TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    watchlist_policy TEXT NOT NULL CHECK (watchlist_policy IN ('flag', 'reject')),
    updated_at       BIGINT NOT NULL
);

-- The asynchronous API gains identification jobs, whose parameters (the
-- group searched, how many candidates) travel as JSON in params.
ALTER TABLE async_jobs ADD COLUMN params TEXT NOT NULL DEFAULT '';
ALTER TABLE async_jobs DROP CONSTRAINT async_jobs_kind_check,
    ADD CONSTRAINT async_jobs_kind_check CHECK (kind IN ('enroll', 'verify', 'identify'));
