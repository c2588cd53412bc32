package httpapi

import (
	"context"
	"net/http"
	"time"
)

func (s *Server) registerHealth() {
	statusSchema := jsonBody(schema{"type": "object", "properties": schema{
		"status": schema{"type": "string"}, "checks": schema{"type": "object"}}})
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

// readyz runs the store ping and every configured check with a short
// deadline; any failure answers 503 naming it.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	if err := s.svc.Ping(ctx); err != nil {
		checks["store"], ok = err.Error(), false
	} else {
		checks["store"] = "ok"
	}
	for name, check := range s.ready {
		if err := check(ctx); err != nil {
			checks[name], ok = err.Error(), false
		} else {
			checks[name] = "ok"
		}
	}
	if !ok {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "checks": checks})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "checks": checks})
}
