package httpapi

import (
	"voxgate/service"
	"voxgate/webhook"
)

// The webhooks section of the OpenAPI document (OpenAPI 3.1): the requests
// voxgate POSTs to an organisation's webhook, so that generated clients
// and receivers get typed payloads and the signature headers. The payload
// schemas follow service.VerificationEvent and service.EnrollmentEvent (a
// test keeps their property names equal to the structs' JSON fields).

var verificationEventSchema = schema{"type": "object",
	"required": []string{"event_type", "request_uuid", "external_id", "result", "match_score", "deepfake_detected", "latency_ms",
		"device_fingerprint_mismatch", "language"},
	"properties": schema{
		"event_type":   schema{"type": "string", "const": service.EventVerificationCompleted},
		"request_uuid": schema{"type": "string", "format": "uuid", "description": "the submission's request_uuid"},
		"external_id":  schema{"type": "string", "description": "the user's identifier"},
		"result": schema{"type": "string", "enum": []string{service.ResultVerified, service.ResultRejected, service.ResultInconclusive},
			"description": "inconclusive: unusable audio or a borderline score; treat it as a rejection and ask again"},
		"match_score":                 schema{"type": "number", "minimum": 0, "maximum": 1, "description": "calibrated probability that the speaker is the enrolled one"},
		"deepfake_detected":           schema{"type": "boolean", "description": "synthetic or replayed audio"},
		"latency_ms":                  schema{"type": "integer", "description": "from the submission to the result"},
		"decision":                    schema{"type": "string", "enum": []string{"accept", "retry", "reject", "cooldown"}, "description": "the native API's decision"},
		"reason":                      schema{"type": "string", "description": "machine-readable reason (voice_mismatch, spoof_suspected, audio_too_short, profile_not_found...)"},
		"device_fingerprint_mismatch": schema{"type": "boolean", "description": "the device is not one the profile enrolled with"},
		"retry_after_ms":              schema{"type": "integer", "description": "with a cooldown: when the user may try again"},
		"language":                    schema{"type": "string"},
	}}

var enrollmentEventSchema = schema{"type": "object",
	"required": []string{"event_type", "request_uuid", "external_id", "result", "latency_ms", "enrollment_complete", "progress",
		"samples", "speech_seconds", "language"},
	"properties": schema{
		"event_type":   schema{"type": "string", "const": service.EventEnrollmentCompleted},
		"request_uuid": schema{"type": "string", "format": "uuid", "description": "the submission's request_uuid"},
		"external_id":  schema{"type": "string", "description": "the user's identifier"},
		"result": schema{"type": "string", "enum": []string{service.ResultEnrolled, service.ResultRejected, service.ResultInconclusive},
			"description": "enrolled: the sample was added; inconclusive: unusable audio, record again"},
		"latency_ms":          schema{"type": "integer", "description": "from the submission to the result"},
		"reason":              schema{"type": "string", "description": "machine-readable reason of a refusal"},
		"enrollment_complete": schema{"type": "boolean", "description": "the profile holds enough speech to verify against"},
		"progress":            schema{"type": "number", "minimum": 0, "maximum": 1, "description": "share of the required speech collected"},
		"samples":             schema{"type": "integer"},
		"speech_seconds":      schema{"type": "number"},
		"language":            schema{"type": "string"},
	}}

// webhookHeaders are the headers of every delivery, as OpenAPI header
// parameters.
func webhookHeaders(event string) []any {
	h := func(name string, required bool, desc string) map[string]any {
		return map[string]any{"name": name, "in": "header", "required": required, "description": desc, "schema": schema{"type": "string"}}
	}
	return []any{
		h(webhook.HeaderID, false, "Standard Webhooks: the delivery ID, the same on every retry (dedupe on it). Sent unless the scheme is legacy"),
		h(webhook.HeaderStandardTimestamp, false, "Standard Webhooks: Unix seconds when this attempt was signed; refuse it when more than 5 minutes away from now"),
		h(webhook.HeaderStandardSignature, false,
			"Standard Webhooks: v1,<base64 HMAC-SHA256 of id.timestamp.body under the base64-decoded secret after whsec_>; space-separated, one per secret, during a rotation. Verify with any Standard Webhooks library"),
		h(webhook.HeaderEvent, true, "the event: "+event),
		h(webhook.HeaderDelivery, false, "legacy scheme (or both): the delivery ID"),
		h(webhook.HeaderTimestamp, false, "legacy scheme (or both): Unix seconds"),
		h(webhook.HeaderSignature, false, "legacy scheme (or both): v1=<hex HMAC-SHA256 of timestamp.body under the whole secret>; comma-separated during a rotation"),
	}
}

// webhooksDoc returns the document's webhooks section.
func webhooksDoc() map[string]any {
	item := func(id, event, summary string, payload schema) map[string]any {
		return map[string]any{"post": map[string]any{
			"operationId": id,
			"summary":     summary,
			"description": "POSTed to the organisation's webhook (PUT /organisations/{orgId}/webhook), signed per Standard Webhooks unless the organisation chose the legacy scheme. " +
				"Retried with exponential backoff and jitter for 24 hours until a 2xx answer, then dead-lettered (GET .../webhook/deliveries, POST .../redeliver). At least once: dedupe on webhook-id.",
			"tags":        []string{"async"},
			"security":    []any{},
			"parameters":  webhookHeaders(event),
			"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": payload}}},
			"responses": map[string]any{
				"2XX": map[string]any{"description": "received; any other answer (or none within the timeout) is retried"},
			},
		}}
	}
	return map[string]any{
		service.EventVerificationCompleted: item("verificationCompleted", service.EventVerificationCompleted,
			"The result of an asynchronous verification", verificationEventSchema),
		service.EventEnrollmentCompleted: item("enrollmentCompleted", service.EventEnrollmentCompleted,
			"The result of an asynchronous enrollment", enrollmentEventSchema),
	}
}
