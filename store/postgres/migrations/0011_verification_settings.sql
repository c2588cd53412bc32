-- 0011: per-tenant verification operating point (issues 16 and 17): the
-- speaker target false-accept rate and the liveness policy. Zero and ''
-- mean the server's defaults; the service checks the values against the
-- loaded models before storing them.
CREATE TABLE verification_settings (
    tenant_id          TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    target_far         DOUBLE PRECISION NOT NULL CHECK (target_far >= 0 AND target_far < 1),
    liveness_mode      TEXT NOT NULL CHECK (liveness_mode IN ('', 'enforce', 'flag')),
    liveness_max_bpcer DOUBLE PRECISION NOT NULL CHECK (liveness_max_bpcer >= 0 AND liveness_max_bpcer < 1),
    updated_at         BIGINT NOT NULL
);
