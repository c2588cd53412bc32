package httpapi

import (
	"net/http"
	"time"
)

// The native API (seed 001): profiles, enrollment and the verify decision.

var profileSchema = schema{
	"type": "object",
	"properties": schema{
		"user_id":        schema{"type": "string"},
		"created":        schema{"type": "boolean", "description": "true when this call created the profile"},
		"enrolled":       schema{"type": "boolean"},
		"samples":        schema{"type": "integer"},
		"speech_seconds": schema{"type": "number"},
		"created_at":     schema{"type": "string", "format": "date-time"},
		"enrolled_at":    schema{"type": []string{"string", "null"}, "format": "date-time"},
	},
}

func (s *Server) registerNative() {
	s.handle("POST", "/create-profile", operation{
		id: "createProfile", summary: "Register a user (idempotent)", tag: "native", auth: authAPIKey,
		request: jsonBody(schema{"type": "object", "required": []string{"user_id"},
			"properties": schema{"user_id": schema{"type": "string", "minLength": 1, "maxLength": 128}}}),
		response: map[int]*body{200: jsonBody(profileSchema), 201: jsonBody(profileSchema)},
	}, s.authed(s.createProfile))
	s.handle("GET", "/v1/profiles/{user_id}", operation{
		id: "getProfile", summary: "A profile's enrollment status", tag: "native", auth: authAPIKey,
		response: map[int]*body{200: jsonBody(profileSchema)},
	}, s.authed(s.getProfile))
	s.handle("DELETE", "/v1/profiles/{user_id}", operation{
		id: "deleteProfile", summary: "Delete a profile and every record of the user; the audit log is kept (admin)", tag: "native", auth: authAPIKey,
		response: map[int]*body{200: jsonBody(schema{"type": "object", "properties": schema{
			"user_id": schema{"type": "string"}, "deleted": schema{"type": "boolean"}}})},
	}, s.authed(s.deleteProfile))
}

type profileResponse struct {
	UserID        string     `json:"user_id"`
	Created       bool       `json:"created"`
	Enrolled      bool       `json:"enrolled"`
	Samples       int        `json:"samples"`
	SpeechSeconds float64    `json:"speech_seconds"`
	CreatedAt     time.Time  `json:"created_at"`
	EnrolledAt    *time.Time `json:"enrolled_at"`
}

func (s *Server) createProfile(w http.ResponseWriter, r *http.Request) {
	var req struct {
		UserID string `json:"user_id"`
	}
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		writeError(w, r, err)
		return
	}
	p, created, err := s.svc.CreateProfile(r.Context(), actorFrom(r), req.UserID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, profileResponse{
		UserID: p.UserID, Created: created, Enrolled: p.Enrolled(), Samples: p.Samples,
		SpeechSeconds: p.SpeechSeconds, CreatedAt: p.CreatedAt, EnrolledAt: p.EnrolledAt,
	})
}

func (s *Server) getProfile(w http.ResponseWriter, r *http.Request) {
	p, err := s.svc.Profile(r.Context(), actorFrom(r), r.PathValue("user_id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, profileResponse{
		UserID: p.UserID, Enrolled: p.Enrolled(), Samples: p.Samples,
		SpeechSeconds: p.SpeechSeconds, CreatedAt: p.CreatedAt, EnrolledAt: p.EnrolledAt,
	})
}

func (s *Server) deleteProfile(w http.ResponseWriter, r *http.Request) {
	userID := r.PathValue("user_id")
	if err := s.svc.DeleteProfile(r.Context(), actorFrom(r), userID); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user_id": userID, "deleted": true})
}
