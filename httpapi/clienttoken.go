package httpapi

import (
	"net/http"
	"time"

	"voxgate"
	"voxgate/service"
)

// Client tokens: the customer's backend mints, with its API key, a
// short-lived token that lets a browser page run one flow for one user
// (POST /v1/client-tokens). The page sends it as Authorization: Bearer in
// place of a key, so that keys never ship in browser code.

// clientFlowRoutes lists, per flow, the only route patterns a client token
// of that flow may call. Everything else (verify-token, usage, audit,
// minting more tokens, other users) is refused.
var clientFlowRoutes = map[string]map[string]bool{
	service.FlowEnroll: {
		"POST /create-profile":       true,
		"POST /enroll":               true,
		"GET /v1/profiles/{user_id}": true,
	},
	service.FlowChallenge: {
		"POST /start-auth":   true,
		"POST /verify-voice": true,
	},
}

func (s *Server) registerClientTokens() {
	s.handle("POST", "/v1/client-tokens", operation{
		id: "createClientToken", summary: "Mint a short-lived browser token for one user and one flow (enroll or challenge), with an API key, server side", tag: "native", auth: authAPIKey,
		request: jsonBody(schema{"type": "object", "required": []string{"user_id", "flow"}, "properties": schema{
			"user_id":     schema{"type": "string", "minLength": 1, "maxLength": 128},
			"flow":        schema{"type": "string", "enum": []string{service.FlowEnroll, service.FlowChallenge}},
			"ttl_seconds": schema{"type": "integer", "minimum": 1, "maximum": int(service.MaxClientTokenTTL / time.Second), "default": int(service.DefaultClientTokenTTL / time.Second)},
		}}),
		response: map[int]*body{201: jsonBody(schema{"type": "object", "properties": schema{
			"client_token": schema{"type": "string", "description": "send as Authorization: Bearer"},
			"expires_at":   schema{"type": "string", "format": "date-time"},
			"user_id":      schema{"type": "string"},
			"flow":         schema{"type": "string"},
		}})},
	}, s.authed(s.createClientToken))
}

func (s *Server) createClientToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		UserID     string `json:"user_id"`
		Flow       string `json:"flow"`
		TTLSeconds *int64 `json:"ttl_seconds"`
	}
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		writeError(w, r, err)
		return
	}
	var ttl time.Duration
	if req.TTLSeconds != nil {
		if *req.TTLSeconds < 1 || *req.TTLSeconds > int64(service.MaxClientTokenTTL/time.Second) {
			writeError(w, r, voxgate.Errorf(voxgate.EINVALID, "ttl_seconds must be between 1 and %d", int(service.MaxClientTokenTTL/time.Second)))
			return
		}
		ttl = time.Duration(*req.TTLSeconds) * time.Second
	}
	ct, err := s.svc.IssueClientToken(r.Context(), actorFrom(r), req.UserID, req.Flow, ttl)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"client_token": ct.Token, "expires_at": ct.ExpiresAt.Format(time.RFC3339), "user_id": ct.UserID, "flow": ct.Flow,
	})
}

// authenticate resolves the request's credential: an API key, or a client
// token confined to its user and to its flow's routes (EFORBIDDEN on any
// other route).
func (s *Server) authenticate(r *http.Request) (voxgate.Actor, error) {
	raw := apiKeyFrom(r)
	if !service.IsClientToken(raw) {
		keyID, _ := service.KeyID(raw)
		return s.checkAuth(r, "api_key", raw != "", keyID, func() (voxgate.Actor, error) { return s.svc.Authenticate(r.Context(), raw) })
	}
	a, err := s.checkAuth(r, "client_token", true, "", func() (voxgate.Actor, error) { return s.svc.AuthenticateClientToken(r.Context(), raw) })
	if err != nil {
		return voxgate.Actor{}, err
	}
	if !clientFlowRoutes[a.Flow][reqContext(r.Context()).route] {
		return voxgate.Actor{}, voxgate.Errorf(voxgate.EFORBIDDEN, "this client token is for the %s flow only", a.Flow)
	}
	return a, nil
}
