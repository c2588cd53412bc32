-- 0007: Standard Webhooks signing (issue 22). signature is the scheme:
-- 'standard', 'legacy' (X-Voxgate-Signature) or 'both'; webhooks configured
-- before this migration keep the legacy scheme their receivers check. A
-- secret rotation keeps the replaced secret (sealed) signing beside the new
-- one until previous_until (Unix ms; 0: no rotation under way).
ALTER TABLE webhooks ADD COLUMN signature TEXT NOT NULL DEFAULT 'legacy';
ALTER TABLE webhooks ADD COLUMN previous_secret BYTEA;
ALTER TABLE webhooks ADD COLUMN previous_until BIGINT NOT NULL DEFAULT 0;
