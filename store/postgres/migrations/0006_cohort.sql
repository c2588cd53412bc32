-- 0006: the tenant's own impostor cohort for score normalisation is read as
-- its newest enrollment samples of one model version.
CREATE INDEX enrollment_samples_by_version ON enrollment_samples (tenant_id, model_version, created_at);
