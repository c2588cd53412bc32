package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"voxgate"
	"voxgate/service"
)

// Usage, audit, learning and administration routes of the native API.

var (
	usageSchema    = schemaOf(service.Usage{})
	learningSchema = with(schemaOf(service.Learning{}), schema{
		"required_speech_seconds": schema{"type": "number", "description": "net speech an enrollment needs"},
		"cosine_to_enrolled":      schema{"type": "number", "description": "similarity of the adapted template to the enrolled one"},
		"threshold_floor":         schema{"type": "number", "description": "adaptation never lowers the threshold below this"},
	})
	auditSchema = schema{"type": "object", "required": []string{"attempts"}, "properties": schema{
		"attempts": schema{"type": "array", "description": "newest first", "items": with(schemaOf(service.AuditEntry{}), schema{
			"detail": schema{"type": "object", "description": "the decision's scores, thresholds and reasons (no biometrics)"},
		})},
	}}
)

func (s *Server) registerUsage() {
	s.handle("GET", "/v1/usage", operation{
		id: "usage", summary: "Per-key usage: totals, decision mix, reasons, throttling, per-minute windows, latency", tag: "native", auth: authAPIKey,
		query: []param{{"window", "how far back the report reaches, a Go duration (default 24h, at most 720h)",
			schema{"type": "string", "default": "24h", "examples": []string{"1h", "24h", "168h"}}}},
		response: map[int]*body{200: jsonBody(usageSchema)},
	}, s.authed(s.usage))
	s.handle("GET", "/v1/audit", operation{
		id: "audit", summary: "Audit log of decisions with scores and reasons, no biometrics (admin)", tag: "native", auth: authAPIKey,
		query: []param{
			{"user_id", "only this user's attempts", schema{"type": "string", "minLength": 1, "maxLength": voxgate.MaxUserIDLen}},
			{"limit", "at most this many attempts, newest first", schema{"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
		},
		response: map[int]*body{200: jsonBody(auditSchema)},
		errors:   []int{http.StatusForbidden},
	}, s.authed(s.auditLog))
	s.handle("GET", "/v1/user-learning/{user_id}", operation{
		id: "userLearning", summary: "A profile's adaptive state: samples, progress, threshold, score statistics, recent updates (admin)", tag: "native", auth: authAPIKey,
		response: map[int]*body{200: jsonBody(learningSchema)},
	}, s.authed(s.userLearning))
	s.handle("POST", "/v1/user-learning/{user_id}/revert", operation{
		id: "revertLearning", summary: "Undo the last adaptation, or all of them (admin); answers the adaptive state after it", tag: "native", auth: authAPIKey,
		query: []param{{"all", "true: back to the enrolled template; otherwise the last adaptation only",
			schema{"type": "string", "enum": []string{"true", "false"}, "default": "false"}}},
		response: map[int]*body{200: jsonBody(learningSchema)},
		errors:   []int{http.StatusForbidden},
	}, s.authed(s.revertLearning))
	s.handle("POST", "/v1/profiles/{user_id}/reset-attempts", operation{
		id: "resetAttempts", summary: "Clear a profile's failures, cooldown and lock (admin)", tag: "native", auth: authAPIKey,
		response: map[int]*body{200: jsonBody(schema{"type": "object", "required": []string{"user_id", "reset"}, "properties": schema{
			"user_id": schema{"type": "string"}, "reset": schema{"type": "boolean", "const": true}}})},
		errors: []int{http.StatusForbidden},
	}, s.authed(s.resetAttempts))
	s.handle("POST", "/v1/keys/demo", operation{
		id: "demoKey", summary: "Mint a 24-hour sandbox key (only when the operator enabled demo keys)", tag: "native",
		response: map[int]*body{201: jsonBody(schema{"type": "object", "required": []string{"key", "tenant", "scope", "expires_at"}, "properties": schema{
			"key": schema{"type": "string"}, "tenant": schema{"type": "string"}, "scope": schema{"type": "string", "enum": []string{"admin", "verify"}},
			"expires_at": schema{"type": "string", "format": "date-time"}}})},
		errors: []int{http.StatusForbidden, http.StatusTooManyRequests},
	}, s.demoKey)
}

func (s *Server) usage(w http.ResponseWriter, r *http.Request) {
	window := 24 * time.Hour
	if v := r.URL.Query().Get("window"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			writeError(w, r, voxgate.Errorf(voxgate.EINVALID, "window must be a duration such as 1h or 24h"))
			return
		}
		window = d
	}
	u, err := s.svc.Usage(r.Context(), actorFrom(r), window)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, r, voxgate.Errorf(voxgate.EINVALID, "limit must be 1-1000"))
			return
		}
		limit = n
	}
	entries, err := s.svc.Audit(r.Context(), actorFrom(r), r.URL.Query().Get("user_id"), limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"attempts": entries})
}

func (s *Server) userLearning(w http.ResponseWriter, r *http.Request) {
	l, err := s.svc.UserLearning(r.Context(), actorFrom(r), r.PathValue("user_id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (s *Server) revertLearning(w http.ResponseWriter, r *http.Request) {
	l, err := s.svc.RevertLearning(r.Context(), actorFrom(r), r.PathValue("user_id"), r.URL.Query().Get("all") == "true")
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (s *Server) resetAttempts(w http.ResponseWriter, r *http.Request) {
	userID := r.PathValue("user_id")
	if err := s.svc.ResetAttempts(r.Context(), actorFrom(r), userID); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user_id": userID, "reset": true})
}

func (s *Server) demoKey(w http.ResponseWriter, r *http.Request) {
	nk, err := s.svc.CreateDemoKey(r.Context(), reqContext(r.Context()).client)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"key": nk.Key, "tenant": nk.Tenant.Name, "scope": nk.Record.Scope, "expires_at": nk.Record.ExpiresAt})
}
