-- 0002: enrollment samples, voiceprints, replay fingerprints, attempts.
-- Biometric columns (embedding, template, data) hold blobs sealed by the
-- service (AES-256-GCM bound to tenant and user); the store never sees
-- plaintext biometrics.
CREATE TABLE enrollment_samples (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    speech_seconds DOUBLE PRECISION NOT NULL,
    weight         DOUBLE PRECISION NOT NULL,
    model_version  TEXT NOT NULL,
    quality        TEXT NOT NULL,  -- JSON measures, no biometrics
    embedding      BYTEA NOT NULL, -- sealed
    FOREIGN KEY (tenant_id, user_id) REFERENCES profiles (tenant_id, user_id) ON DELETE CASCADE
);
CREATE INDEX enrollment_samples_by_user ON enrollment_samples (tenant_id, user_id, created_at);

CREATE TABLE voiceprints (
    tenant_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    model_version TEXT NOT NULL,
    template      BYTEA NOT NULL,   -- sealed
    revision      BIGINT NOT NULL,  -- bumped by every write: optimistic concurrency
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES profiles (tenant_id, user_id) ON DELETE CASCADE
);

CREATE TABLE fingerprints (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    source     TEXT NOT NULL CHECK (source IN ('enroll', 'verify')),
    data       BYTEA NOT NULL,      -- sealed
    FOREIGN KEY (tenant_id, user_id) REFERENCES profiles (tenant_id, user_id) ON DELETE CASCADE
);
CREATE INDEX fingerprints_by_user ON fingerprints (tenant_id, user_id, created_at);

-- attempts is the audit log: decisions and scores, never biometrics. It
-- outlives profile deletion on purpose (who tried what, when).
CREATE TABLE attempts (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    kind       TEXT NOT NULL,      -- enroll | verify | challenge
    decision   TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL,      -- JSON: scores, signals, thresholds
    latency_ms DOUBLE PRECISION NOT NULL
);
CREATE INDEX attempts_by_user ON attempts (tenant_id, user_id, created_at);
CREATE INDEX attempts_by_time ON attempts (tenant_id, created_at);
CREATE INDEX attempts_by_key ON attempts (tenant_id, key_id, created_at);
