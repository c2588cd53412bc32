-- 0005: the asynchronous API (seed 002): tenant webhooks, the job queue,
-- the webhook delivery queue, and device fingerprints of profiles.
-- Queued rows are claimed with a lease (FOR UPDATE SKIP LOCKED, so that
-- nodes claiming at once take different rows without waiting): available_at
-- is when a row may next be claimed (now for new rows, the lease end while a
-- worker holds it, the retry time after a failure), and claim names the
-- current lease, so that a worker that lost its lease cannot complete a row
-- another worker holds. A crashed node's rows become claimable again when
-- their leases end.
CREATE TABLE webhooks (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    url        TEXT NOT NULL,
    secret     BYTEA NOT NULL,     -- sealed by the service (needed to sign)
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE async_jobs (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    request_uuid       TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('enroll', 'verify')),
    user_id            TEXT NOT NULL,
    key_id             TEXT NOT NULL,
    scope              TEXT NOT NULL,
    language           TEXT NOT NULL,
    device_fingerprint TEXT NOT NULL DEFAULT '',  -- hashed by the service
    device_type        INTEGER NOT NULL DEFAULT 0,
    audio              BYTEA,                     -- sealed; NULL once done
    status             TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    available_at       BIGINT NOT NULL,
    claim              TEXT NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL,
    completed_at       BIGINT,
    UNIQUE (tenant_id, request_uuid)
);
CREATE INDEX async_jobs_claimable ON async_jobs (status, available_at);
CREATE INDEX async_jobs_by_user ON async_jobs (tenant_id, user_id);

CREATE TABLE webhook_deliveries (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    job_id       TEXT NOT NULL,
    event        TEXT NOT NULL,
    payload      BYTEA NOT NULL,    -- the JSON body: results, never biometrics
    status       TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    available_at BIGINT NOT NULL,
    claim        TEXT NOT NULL DEFAULT '',
    last_status  INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    window_start BIGINT NOT NULL,   -- retries stop 24 h after this
    delivered_at BIGINT
);
CREATE INDEX webhook_deliveries_claimable ON webhook_deliveries (status, available_at);
CREATE INDEX webhook_deliveries_by_tenant ON webhook_deliveries (tenant_id, status, created_at);

-- Devices a profile enrolled with (fingerprints hashed with the tenant and
-- user by the service), deleted with the profile.
CREATE TABLE device_fingerprints (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    device_type INTEGER NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, fingerprint),
    FOREIGN KEY (tenant_id, user_id) REFERENCES profiles (tenant_id, user_id) ON DELETE CASCADE
);

-- Verifications from a device the profile did not enroll with, counted in
-- usage per key.
CREATE TABLE device_mismatches (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    key_id       TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    request_uuid TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX device_mismatches_by_key ON device_mismatches (tenant_id, key_id, created_at);

-- Delete means delete: removing a profile drops the audio of its jobs not
-- yet processed (they then complete as "profile deleted"); its devices go
-- by the foreign key's cascade.
CREATE FUNCTION profiles_delete_async() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE async_jobs SET audio = NULL
        WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id AND audio IS NOT NULL;
    DELETE FROM device_fingerprints WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id;
    RETURN OLD;
END $$;
CREATE TRIGGER profiles_delete_async AFTER DELETE ON profiles
    FOR EACH ROW EXECUTE FUNCTION profiles_delete_async();
