-- 0010: delete means delete. A webhook delivery names the profile it is
-- about, so that deleting the profile deletes its results even after the
-- job row itself was swept (dead deliveries outlive done jobs).
-- (Numbered 0010 to stay clear of the 0007s of branches merged beside it.)
ALTER TABLE webhook_deliveries ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
UPDATE webhook_deliveries SET user_id = COALESCE(
    (SELECT j.user_id FROM async_jobs j WHERE j.id = webhook_deliveries.job_id),
    json_extract(CAST(payload AS TEXT), '$.external_id'), '');
CREATE INDEX webhook_deliveries_by_user ON webhook_deliveries (tenant_id, user_id);
CREATE INDEX device_mismatches_by_user ON device_mismatches (tenant_id, user_id);
CREATE INDEX attempts_by_key ON attempts (tenant_id, key_id, created_at);
