package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"
)

func (s *Server) registerHealth() {
	statusSchema := jsonBody(schema{"type": "object", "required": []string{"status"}, "properties": schema{
		"status": schema{"type": "string", "enum": []string{"ok", "degraded", "unavailable"},
			"description": "degraded: serving with --degraded, without a model a verdict depends on"},
		"checks": schema{"type": "object", "additionalProperties": schema{"type": "string"},
			"description": "each check's state: ok, degraded: WHY, or why it failed"}}})
	s.handle("GET", "/healthz", operation{
		id: "healthz", summary: "Liveness: the process is up", tag: "operations",
		response: map[int]*body{200: statusSchema},
	}, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	s.handle("GET", "/readyz", operation{
		id: "readyz", summary: "Readiness: store reachable, models loaded", tag: "operations",
		response: map[int]*body{200: statusSchema, 503: statusSchema},
	}, s.readyz)
}

// degradedError marks a readiness check that reports a degradation the
// operator accepted (voxgate serve --degraded) rather than a failure.
type degradedError struct{ error }

// Degraded wraps err, the answer of a readiness check, so that /readyz
// reports it ("degraded: ...", overall status "degraded") without failing.
func Degraded(err error) error { return degradedError{err} }

// readyz runs the store ping and every configured check with a short
// deadline; any failure answers 503 naming it. Degraded checks answer 200
// with the status "degraded".
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok, degraded := true, false
	if err := s.svc.Ping(ctx); err != nil {
		checks["store"], ok = err.Error(), false
	} else {
		checks["store"] = "ok"
	}
	for name, check := range s.ready {
		var d degradedError
		if err := check(ctx); errors.As(err, &d) {
			checks[name], degraded = "degraded: "+err.Error(), true
		} else if err != nil {
			checks[name], ok = err.Error(), false
		} else {
			checks[name] = "ok"
		}
	}
	if !ok {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "checks": checks})
		return
	}
	status := "ok"
	if degraded {
		status = "degraded"
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": status, "checks": checks})
}
