-- 0010: delete means delete. A webhook delivery names the profile it is
-- about, so that deleting the profile deletes its results even after the
-- job row itself was swept (dead deliveries outlive done jobs).
-- try_jsonb reads a payload as JSON, NULL when it is not (PostgreSQL 15
-- has no IS JSON): deleting a profile looks for the user in the payloads
-- of identification results, which name users only there.
-- (attempts_by_key, 0010 in SQLite, is in this store's 0002.)
CREATE FUNCTION try_jsonb(b BYTEA) RETURNS JSONB LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN convert_from(b, 'UTF8')::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

ALTER TABLE webhook_deliveries ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
UPDATE webhook_deliveries d SET user_id = COALESCE(
    (SELECT j.user_id FROM async_jobs j WHERE j.id = d.job_id),
    try_jsonb(d.payload) ->> 'external_id', '');
CREATE INDEX webhook_deliveries_by_user ON webhook_deliveries (tenant_id, user_id);
CREATE INDEX device_mismatches_by_user ON device_mismatches (tenant_id, user_id);
