package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"voxgate"
	"voxgate/audio"
	"voxgate/service"
	"voxgate/webhook"
)

// The asynchronous API (seed 002): enrollments and verifications submitted
// as JSON with base64 audio, answered 202 at once, their results POSTed to
// the organisation's webhook. {orgId} is the tenant's name or ID; a key of
// another organisation gets 404.

// maxAsyncBody bounds a submission: the base64 of the audio limit (4/3 of
// it) plus room for the other fields.
const maxAsyncBody = audio.DefaultMaxBytes/3*4 + 1<<20

var asyncRequestSchema = schema{"type": "object", "required": []string{"voice_data", "request_uuid", "external_id"},
	"properties": schema{
		"voice_data":         schema{"type": "string", "format": "byte", "description": "base64 WAV or MP3 (FLAC, Ogg, WebM, AAC/M4A also accepted)"},
		"request_uuid":       schema{"type": "string", "format": "uuid", "description": "idempotency key: the same UUID twice is one job"},
		"external_id":        schema{"type": "string", "description": "the user's identifier (the profile's user_id)"},
		"language":           schema{"type": "string", "default": service.DefaultLanguage},
		"device_fingerprint": schema{"type": "string"},
		"device_type":        schema{"type": "integer", "enum": []int{0, 1, 2, 3}, "description": "0 unknown, 1 mobile, 2 desktop, 3 IP phone"},
	}}

var asyncIdentifySchema = schema{"type": "object", "required": []string{"voice_data", "request_uuid"},
	"properties": schema{
		"voice_data":   asyncRequestSchema["properties"].(schema)["voice_data"],
		"request_uuid": asyncRequestSchema["properties"].(schema)["request_uuid"],
		"group":        schema{"type": "string", "description": "search only this group's members (default: every enrolled voice)"},
		"top":          schema{"type": "integer", "minimum": 1, "maximum": service.MaxIdentifyTop, "default": 5},
		"language":     schema{"type": "string", "default": service.DefaultLanguage},
	}}

var acceptedSchema = schema{"type": "object", "required": []string{"callback_url", "message"}, "properties": schema{
	"callback_url": schema{"type": "string", "format": "uri"},
	"message":      schema{"type": "string", "const": service.AcceptedMessage},
}}

var webhookSchema = schema{"type": "object", "required": []string{"url", "signature_scheme", "created_at", "updated_at", "signature"}, "properties": schema{
	"url":              schema{"type": "string", "format": "uri"},
	"secret":           schema{"type": "string", "description": "only in the answer that generated it: store it now"},
	"signature_scheme": signatureSchemeSchema,
	"previous_secret_expires_at": schema{"type": "string", "format": "date-time",
		"description": "during a rotation: when the replaced secret stops signing beside the new one"},
	"created_at": schema{"type": "string", "format": "date-time"},
	"updated_at": schema{"type": "string", "format": "date-time"},
	"signature": schema{"type": "object", "description": "how deliveries are signed under this scheme (headers, signed payload, key)",
		"additionalProperties": schema{"type": "string"}},
}}

var signatureSchemeSchema = schema{"type": "string", "enum": []string{string(webhook.SchemeStandard), string(webhook.SchemeLegacy), string(webhook.SchemeBoth)},
	"description": "standard: Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature); legacy: X-Voxgate-Signature only, for receivers written against it; both: both sets of headers"}

var putWebhookSchema = schema{"type": "object", "required": []string{"url"}, "properties": schema{
	"url": schema{"type": "string", "format": "uri"},
	"secret": schema{"type": "string", "minLength": 16, "maxLength": 256,
		"description": "the signing secret; omit it to have one generated (returned once). The standard scheme needs whsec_ and the base64 of 24-64 bytes; a secret other than the current one starts a rotation"},
	"signature_scheme": signatureSchemeSchema,
	"secret_overlap_seconds": schema{"type": "integer", "minimum": 0, "maximum": int64(service.MaxSecretOverlap.Seconds()),
		"description": "how long a replaced secret keeps signing beside the new one (default: the server's, 24 h)"},
}}

var deliverySchema = schema{"type": "object", "properties": schema{
	"id": schema{"type": "string"}, "event_type": schema{"type": "string"},
	"status":          schema{"type": "string", "enum": []string{"pending", "delivered", "dead"}},
	"attempts":        schema{"type": "integer"},
	"last_status":     schema{"type": "integer"},
	"last_error":      schema{"type": "string"},
	"created_at":      schema{"type": "string", "format": "date-time"},
	"next_attempt_at": schema{"type": []string{"string", "null"}, "format": "date-time"},
	"delivered_at":    schema{"type": []string{"string", "null"}, "format": "date-time"},
	"payload":         schema{"type": "object"},
}}

func (s *Server) registerAsync() {
	submit := func(kind, what string) operation {
		return operation{
			id: what, summary: "Submit an asynchronous " + kind + "; the result is POSTed to the organisation's webhook", tag: "async", auth: authAPIKey,
			request: jsonBody(asyncRequestSchema), response: map[int]*body{202: jsonBody(acceptedSchema)},
			errors: []int{http.StatusForbidden, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests},
		}
	}
	s.handle("POST", "/organisations/{orgId}/enrollments", submit("enrollment", "asyncEnroll"), s.authed(s.asyncSubmit(voxgate.JobEnroll)))
	s.handle("POST", "/organisations/{orgId}/verifications", submit("verification", "asyncVerify"), s.authed(s.asyncSubmit(voxgate.JobVerify)))
	s.handle("POST", "/organisations/{orgId}/identifications", operation{
		id: "asyncIdentify", summary: "Submit an asynchronous identification (1:N); an identification.completed event is POSTed to the organisation's webhook", tag: "async", auth: authAPIKey,
		request: jsonBody(asyncIdentifySchema), response: map[int]*body{202: jsonBody(acceptedSchema)},
	}, s.authed(s.asyncSubmit(voxgate.JobIdentify)))
	s.handle("PUT", "/organisations/{orgId}/webhook", operation{
		id: "putWebhook", summary: "Configure the webhook results are POSTed to (a secret is generated when none is given; admin)", tag: "async", auth: authAPIKey,
		request:  jsonBody(putWebhookSchema),
		response: map[int]*body{200: jsonBody(webhookSchema)},
		errors:   []int{http.StatusForbidden},
	}, s.authed(s.putWebhook))
	s.handle("GET", "/organisations/{orgId}/webhook", operation{
		id: "getWebhook", summary: "The configured webhook, without its secret (admin)", tag: "async", auth: authAPIKey,
		response: map[int]*body{200: jsonBody(webhookSchema)},
		errors:   []int{http.StatusForbidden},
	}, s.authed(s.getWebhook))
	s.handle("GET", "/organisations/{orgId}/webhook/deliveries", operation{
		id: "listDeliveries", summary: "Webhook deliveries, newest first (admin)", tag: "async", auth: authAPIKey,
		query: []param{
			{"status", "only deliveries in this state", schema{"type": "string", "enum": []string{voxgate.DeliveryPending, voxgate.DeliveryDelivered, voxgate.DeliveryDead}}},
			{"limit", "at most this many deliveries", schema{"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
		},
		errors: []int{http.StatusForbidden},
		response: map[int]*body{200: jsonBody(schema{"type": "object", "properties": schema{
			"deliveries": schema{"type": "array", "items": deliverySchema}}})},
	}, s.authed(s.listDeliveries))
	s.handle("POST", "/organisations/{orgId}/webhook/deliveries/{id}/redeliver", operation{
		id: "redeliver", summary: "Queue a delivery again now, with a fresh retry window (admin)", tag: "async", auth: authAPIKey,
		response: map[int]*body{202: jsonBody(deliverySchema)},
		errors:   []int{http.StatusForbidden},
	}, s.authed(s.redeliver))
}

// asyncRequest is the JSON body of a submission.
type asyncRequest struct {
	VoiceData         string `json:"voice_data"`
	RequestUUID       string `json:"request_uuid"`
	ExternalID        string `json:"external_id"`
	Language          string `json:"language"`
	DeviceFingerprint string `json:"device_fingerprint"`
	DeviceType        *int   `json:"device_type"`
	// Group and Top are an identification's.
	Group string `json:"group"`
	Top   int    `json:"top"`
}

func (s *Server) asyncSubmit(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req asyncRequest
		// The body, its decoded audio and the sealed copy are held at once.
		if err := s.admitAudio(r, maxAsyncBody, 3); err != nil {
			writeError(w, r, err)
			return
		}
		if err := decodeJSON(w, r, maxAsyncBody, &req); err != nil {
			writeError(w, r, err)
			return
		}
		sreq := service.AsyncRequest{
			Org: r.PathValue("orgId"), Kind: kind, RequestUUID: req.RequestUUID, ExternalID: req.ExternalID,
			Language: req.Language, DeviceFingerprint: req.DeviceFingerprint, Group: req.Group, Top: req.Top,
		}
		if req.DeviceType != nil {
			sreq.DeviceType = *req.DeviceType
		}
		if req.VoiceData != "" {
			b, err := decodeBase64(req.VoiceData)
			if err != nil {
				writeError(w, r, voxgate.Errorf(voxgate.EINVALID, "voice_data must be base64-encoded audio"))
				return
			}
			sreq.Audio = b
		}
		res, err := s.svc.SubmitAsync(r.Context(), actorFrom(r), sreq)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"callback_url": res.CallbackURL, "message": service.AcceptedMessage})
	}
}

// decodeBase64 reads standard or URL-safe base64, padded or not, with or
// without a data: URL prefix and line breaks (what browsers and mobile
// SDKs produce).
func decodeBase64(s string) ([]byte, error) {
	if strings.HasPrefix(s, "data:") {
		if _, rest, ok := strings.Cut(s, ","); ok {
			s = rest
		}
	}
	if strings.ContainsAny(s, "\r\n \t") {
		s = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, s)
	}
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") && len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return enc.DecodeString(s)
}

// signatureDoc tells a tenant, in the webhook answer, how deliveries are
// signed under its scheme.
func signatureDoc(scheme webhook.Scheme) map[string]string {
	doc := map[string]string{
		"scheme":       string(scheme),
		"algorithm":    "HMAC-SHA256",
		"event_header": webhook.HeaderEvent + ": verification.completed | enrollment.completed",
	}
	if scheme.Standard() {
		doc["specification"] = "https://www.standardwebhooks.com (verify with any Standard Webhooks library)"
		doc["key"] = "the base64-decoded part of the secret after whsec_"
		doc["signed_payload"] = "<webhook-id>.<webhook-timestamp>.<raw body>"
		doc["signature_header"] = webhook.HeaderStandardSignature + ": v1,<base64 digest> (space-separated, one per secret, during a rotation)"
		doc["timestamp_header"] = webhook.HeaderStandardTimestamp + ": <Unix seconds>"
		doc["id_header"] = webhook.HeaderID + ": <delivery id, stable across retries: dedupe on it>"
	}
	if scheme.Legacy() {
		doc["legacy_key"] = "the whole secret string"
		doc["legacy_signed_payload"] = "<X-Voxgate-Timestamp>.<raw body>"
		doc["legacy_signature_header"] = webhook.HeaderSignature + ": v1=<hex digest> (comma-separated during a rotation)"
		doc["legacy_timestamp_header"] = webhook.HeaderTimestamp + ": <Unix seconds>"
		doc["legacy_delivery_header"] = webhook.HeaderDelivery + ": <delivery id, stable across retries: dedupe on it>"
	}
	return doc
}

type webhookResponse struct {
	URL             string            `json:"url"`
	Secret          string            `json:"secret,omitempty"`
	SignatureScheme string            `json:"signature_scheme"`
	PreviousUntil   *time.Time        `json:"previous_secret_expires_at,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	Signature       map[string]string `json:"signature"`
}

func webhookView(cfg *service.WebhookConfig) webhookResponse {
	out := webhookResponse{URL: cfg.URL, Secret: cfg.Secret, SignatureScheme: string(cfg.Signature), CreatedAt: cfg.CreatedAt,
		UpdatedAt: cfg.UpdatedAt, Signature: signatureDoc(cfg.Signature)}
	if !cfg.PreviousUntil.IsZero() {
		until := cfg.PreviousUntil
		out.PreviousUntil = &until
	}
	return out
}

func (s *Server) putWebhook(w http.ResponseWriter, r *http.Request) {
	var req struct {
		URL             string `json:"url"`
		Secret          string `json:"secret"`
		SignatureScheme string `json:"signature_scheme"`
		OverlapSeconds  *int64 `json:"secret_overlap_seconds"`
	}
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		writeError(w, r, err)
		return
	}
	settings := service.WebhookSettings{URL: req.URL, Secret: req.Secret, Signature: req.SignatureScheme}
	if req.OverlapSeconds != nil {
		if *req.OverlapSeconds < 0 || *req.OverlapSeconds > int64(service.MaxSecretOverlap.Seconds()) {
			writeError(w, r, voxgate.Errorf(voxgate.EINVALID, "secret_overlap_seconds must be between 0 and %d", int64(service.MaxSecretOverlap.Seconds())))
			return
		}
		d := time.Duration(*req.OverlapSeconds) * time.Second
		settings.Overlap = &d
	}
	cfg, err := s.svc.SetWebhook(r.Context(), actorFrom(r), r.PathValue("orgId"), settings)
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, webhookView(cfg))
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	cfg, err := s.svc.Webhook(r.Context(), actorFrom(r), r.PathValue("orgId"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, webhookView(cfg))
}

type deliveryJSON struct {
	ID            string          `json:"id"`
	EventType     string          `json:"event_type"`
	Status        string          `json:"status"`
	Attempts      int             `json:"attempts"`
	LastStatus    int             `json:"last_status,omitempty"`
	LastError     string          `json:"last_error,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	NextAttemptAt *time.Time      `json:"next_attempt_at"`
	DeliveredAt   *time.Time      `json:"delivered_at"`
	Payload       json.RawMessage `json:"payload"`
}

func deliveryView(d *voxgate.Delivery) deliveryJSON {
	out := deliveryJSON{ID: d.ID, EventType: d.Event, Status: d.Status, Attempts: d.Attempts, LastStatus: d.LastStatus,
		LastError: d.LastError, CreatedAt: d.CreatedAt, DeliveredAt: d.DeliveredAt, Payload: json.RawMessage(d.Payload)}
	if d.Status == voxgate.DeliveryPending {
		next := d.AvailableAt
		out.NextAttemptAt = &next
	}
	return out
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeError(w, r, voxgate.Errorf(voxgate.EINVALID, "limit must be an integer"))
			return
		}
		limit = n
	}
	list, err := s.svc.Deliveries(r.Context(), actorFrom(r), r.PathValue("orgId"), r.URL.Query().Get("status"), limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]deliveryJSON, len(list))
	for i, d := range list {
		out[i] = deliveryView(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": out})
}

func (s *Server) redeliver(w http.ResponseWriter, r *http.Request) {
	d, err := s.svc.Redeliver(r.Context(), actorFrom(r), r.PathValue("orgId"), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, deliveryView(d))
}
