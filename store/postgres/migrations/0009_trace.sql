-- 0009: asynchronous jobs and their deliveries remember the submitting
-- request's correlation ID and W3C trace context, for their log lines.
ALTER TABLE async_jobs ADD COLUMN correlation_id TEXT NOT NULL DEFAULT '';
ALTER TABLE async_jobs ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_deliveries ADD COLUMN correlation_id TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_deliveries ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';
-- The backlog's oldest rows, for the queue-age metrics.
CREATE INDEX async_jobs_pending_age ON async_jobs (status, created_at);
CREATE INDEX webhook_deliveries_pending_age ON webhook_deliveries (status, created_at);
