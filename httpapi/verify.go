package httpapi

import (
	"net/http"

	"voxgate/engine"
	"voxgate/service"
)

// The native enrollment and verification routes (seed 001).

var qualitySchema = schema{"type": "object", "properties": schema{
	"format": schema{"type": "string"}, "codec": schema{"type": "string"}, "sample_rate": schema{"type": "integer"},
	"channels": schema{"type": "integer"}, "duration_s": schema{"type": "number"}, "speech_s": schema{"type": "number"},
	"snr_db": schema{"type": "number"}, "clipping": schema{"type": "number"}, "rms_dbfs": schema{"type": "number"},
}}

var enrollSchema = schema{"type": "object", "properties": schema{
	"user_id": schema{"type": "string"}, "enrolled": schema{"type": "boolean"}, "samples": schema{"type": "integer"},
	"speech_seconds": schema{"type": "number"}, "required_speech_seconds": schema{"type": "number"},
	"progress": schema{"type": "number", "minimum": 0, "maximum": 1}, "sample_id": schema{"type": "string"},
	"sample": qualitySchema, "model_version": schema{"type": "string"},
	"watchlist_match": matchSchema, "duplicate_voice": matchSchema, "insights": schema{"type": "array", "items": schema{"type": "string"}},
}}

var tierSchema = schema{"type": "string", "enum": []string{"low", "medium", "high", "not_checked"}}

var verifySchema = schema{"type": "object", "required": []string{"decision", "confidence", "signals", "learning_progress"},
	"properties": schema{
		"decision":          schema{"type": "string", "enum": []string{"accept", "retry", "reject", "cooldown"}},
		"confidence":        schema{"type": "number"},
		"signals":           schema{"type": "object", "properties": schema{"voice": tierSchema, "phrase": tierSchema, "liveness": tierSchema}},
		"learning_progress": schema{"type": "number"},
		"reason":            schema{"type": "string"},
		"retryAfterMs":      schema{"type": "integer"},
		"calibration":       schemaOf(service.Calibration{}),
		"thresholds": with(schemaOf(service.Thresholds{}), schema{
			"voice":        schema{"type": "number", "description": "the voice score at or above which the voice matches (the target false-accept rate)"},
			"voice_high":   schema{"type": "number", "description": "the voice score of a high tier"},
			"domain_shift": schema{"type": "number", "description": "how far this tenant's voice thresholds sit from the model's global ones, learned from the tenant's own enrollments (included in voice and voice_high)"},
			"phrase":       schema{"type": "number", "description": "present when a phrase was checked"},
		}),
		"spoof":           schemaOf(service.SpoofReport{}),
		"retries":         schema{"type": "object", "required": []string{"left"}, "properties": schema{"left": schema{"type": "integer"}}},
		"insights":        schema{"type": "array", "items": schema{"type": "string"}},
		"phrase":          schemaOf(phraseJSON{}),
		"quality":         qualitySchema,
		"learned":         schema{"type": "boolean"},
		"latency_ms":      schema{"type": "number"},
		"model_version":   schema{"type": "string"},
		"user_id":         schema{"type": "string"},
		"watchlist_match": matchSchema,
		"checks_not_run": schema{"type": "array", "items": schema{"type": "string", "enum": []string{service.CheckVAD, service.CheckDeepfake}},
			"description": "present only on a server started with --degraded: checks skipped because their model is not loaded"},
	}}

func (s *Server) registerVerify() {
	s.handle("POST", "/enroll", operation{
		id: "enroll", summary: "Add an enrollment recording to a profile", tag: "native", auth: authAPIKey,
		request: multipartBody(schema{"type": "object", "required": []string{"user_id", "audio"}, "properties": schema{
			"user_id": schema{"type": "string"}, "audio": schema{"type": "string", "format": "binary"}}}),
		response: map[int]*body{200: jsonBody(enrollSchema)},
		errors:   []int{http.StatusForbidden, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, s.authed(s.enroll))
	s.handle("POST", "/v1/voice/verify", operation{
		id: "verify", summary: "Verify a recording against the profile: one fused, explained decision", tag: "native", auth: authAPIKey,
		request: multipartBody(schema{"type": "object", "required": []string{"user_id", "audio"}, "properties": schema{
			"user_id": schema{"type": "string"}, "phrase": schema{"type": "string"}, "audio": schema{"type": "string", "format": "binary"}}}),
		response: map[int]*body{200: jsonBody(verifySchema)},
		errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge,
			http.StatusUnprocessableEntity, http.StatusLocked, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, s.authed(s.verify))
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	f, err := s.readForm(w, r, "audio")
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.svc.Enroll(r.Context(), actorFrom(r), f.fields["user_id"], f.file)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, enrollJSON(res))
}

type enrollResponse struct {
	UserID         string        `json:"user_id"`
	Enrolled       bool          `json:"enrolled"`
	Samples        int           `json:"samples"`
	SpeechSeconds  float64       `json:"speech_seconds"`
	RequiredSpeech float64       `json:"required_speech_seconds"`
	Progress       float64       `json:"progress"`
	SampleID       string        `json:"sample_id"`
	Sample         engine.Report `json:"sample"`
	ModelVersion   string        `json:"model_version"`
	// WatchlistMatch and DuplicateVoice flag the voice (identify.go).
	WatchlistMatch *service.VoiceMatch `json:"watchlist_match,omitempty"`
	DuplicateVoice *service.VoiceMatch `json:"duplicate_voice,omitempty"`
	Insights       []string            `json:"insights,omitempty"`
}

func enrollJSON(res *service.EnrollResult) enrollResponse {
	return enrollResponse{
		UserID: res.UserID, Enrolled: res.Enrolled, Samples: res.Samples, SpeechSeconds: res.SpeechSeconds,
		RequiredSpeech: res.RequiredSpeech, Progress: res.Progress, SampleID: res.SampleID, Sample: res.Sample,
		ModelVersion: res.ModelName, WatchlistMatch: res.WatchlistMatch, DuplicateVoice: res.DuplicateVoice, Insights: res.Insights,
	}
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	f, err := s.readForm(w, r, "audio")
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.svc.Verify(r.Context(), actorFrom(r), service.VerifyRequest{
		UserID: f.fields["user_id"], Audio: f.file, Phrase: f.fields["phrase"],
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.metrics.decisions.WithLabelValues("native", res.Decision.Decision, res.Reason).Inc()
	setRetryAfter(w, res.RetryAfter) // a cooldown decision: retryAfterMs in the body, and the header
	writeJSON(w, http.StatusOK, verifyJSON(res))
}

type verifyResponse struct {
	Decision         string              `json:"decision"`
	Confidence       float64             `json:"confidence"`
	Signals          any                 `json:"signals"`
	LearningProgress float64             `json:"learning_progress"`
	Reason           string              `json:"reason,omitempty"`
	RetryAfterMs     *int64              `json:"retryAfterMs,omitempty"`
	Calibration      service.Calibration `json:"calibration"`
	Thresholds       service.Thresholds  `json:"thresholds"`
	Spoof            service.SpoofReport `json:"spoof"`
	Retries          map[string]int      `json:"retries"`
	Insights         []string            `json:"insights"`
	Phrase           *phraseJSON         `json:"phrase,omitempty"`
	Quality          *engine.Report      `json:"quality,omitempty"`
	Learned          bool                `json:"learned"`
	LatencyMs        float64             `json:"latency_ms"`
	ModelVersion     string              `json:"model_version"`
	UserID           string              `json:"user_id"`
	WatchlistMatch   *service.VoiceMatch `json:"watchlist_match,omitempty"`
	ChecksNotRun     []string            `json:"checks_not_run,omitempty"`
}

type phraseJSON struct {
	Score      float64 `json:"score"`
	Threshold  float64 `json:"threshold"`
	Confidence float64 `json:"confidence"`
	Recognized string  `json:"recognized"`
	Expected   string  `json:"expected"`
}

func verifyJSON(res *service.VerifyResult) verifyResponse {
	out := verifyResponse{
		Decision: res.Decision.Decision, Confidence: res.Confidence, Signals: res.Signals,
		LearningProgress: res.LearningProgress, Reason: res.Reason, Calibration: res.Calibration,
		Thresholds: res.Thresholds, Spoof: res.Spoof, Retries: map[string]int{"left": res.RetriesLeft},
		Insights: res.Insights, Quality: res.Quality, Learned: res.Learned,
		LatencyMs: float64(res.Latency.Microseconds()) / 1000, ModelVersion: res.ModelVersion, UserID: res.UserID,
		WatchlistMatch: res.WatchlistMatch,
		ChecksNotRun:   res.ChecksNotRun,
	}
	if out.Insights == nil {
		out.Insights = []string{}
	}
	if out.Spoof.Labels == nil {
		out.Spoof.Labels = []string{}
	}
	if res.RetryAfter > 0 {
		ms := res.RetryAfter.Milliseconds()
		out.RetryAfterMs = &ms
	}
	if p := res.Phrase; p != nil {
		out.Phrase = &phraseJSON{Score: p.Score, Threshold: p.Threshold, Confidence: p.Confidence, Recognized: p.Recognized, Expected: p.Normalized}
	}
	return out
}
