package httpapi

import (
	"net/http"
	"strings"

	"voxgate"
)

// corsPolicy decides which browser origins may call the API cross-origin.
//
// voxgate authenticates with explicit headers (x-api-key, or a bearer API
// key or client token) and never with cookies, so a cross-origin page can
// act only with a credential it already holds: there is no ambient
// authority for CORS to protect. The policy is still closed by default
// (same origin only: the console is served by voxgate itself) and opened
// per origin by the operator, for the pages that embed the SDK. Allowed
// origins are reflected exactly, never with Allow-Credentials; responses
// vary by Origin so caches keep them apart. The SDK's static files under
// /sdk/ are public and carry "Access-Control-Allow-Origin: *" regardless,
// so that pages can load the module and its AudioWorklet from voxgate.
type corsPolicy struct {
	any     bool
	origins map[string]bool
}

func newCORSPolicy(origins []string) corsPolicy {
	p := corsPolicy{origins: map[string]bool{}}
	for _, o := range origins {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		switch o {
		case "":
		case "*":
			p.any = true
		default:
			p.origins[strings.ToLower(o)] = true
		}
	}
	return p
}

// allows reports whether a page from origin may call the API.
func (p corsPolicy) allows(origin string) bool {
	if origin == "" || origin == "null" {
		return false
	}
	return p.any || p.origins[strings.ToLower(origin)]
}

// Headers a cross-origin caller may send and read.
const (
	corsAllowHeaders  = "Authorization, Content-Type, X-Api-Key, X-Correlation-ID"
	corsExposeHeaders = "X-Correlation-ID, Retry-After"
	corsAllowMethods  = "GET, POST, PUT, DELETE"
)

// withCORS answers preflight requests and labels responses for allowed
// origins. A preflight from an origin that is not allowed is answered 403
// in the common error shape, so that the browser refuses the call.
func (s *Server) withCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if !s.cors.allows(origin) {
			if preflight {
				writeError(w, r, voxgate.Errorf(voxgate.EFORBIDDEN, "origin %s may not call this API: ask the operator to allow it (serve -cors-origin)", origin))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		if preflight {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
