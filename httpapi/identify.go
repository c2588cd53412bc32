package httpapi

import (
	"net/http"
	"strconv"

	"voxgate"
	"voxgate/engine"
	"voxgate/service"
)

// Identification (1:N), groups and the watchlist policy.

var matchSchema = schema{"type": "object", "properties": schema{
	"user_id": schema{"type": "string"}, "score": schema{"type": "number"}, "threshold": schema{"type": "number"}}}

var identifySchema = schema{"type": "object", "required": []string{"decision", "candidates", "threshold"},
	"properties": schema{
		"decision": schema{"type": "string", "enum": []string{service.Identified, service.Unknown, service.IdentifyRetry}},
		"reason":   schema{"type": "string"},
		"candidates": schema{"type": "array", "items": schema{"type": "object", "properties": schema{
			"user_id": schema{"type": "string"}, "score": schema{"type": "number"}, "confidence": schema{"type": "number"}}}},
		"threshold":    schema{"type": "number"},
		"fpir":         schema{"type": "number"},
		"gallery_size": schema{"type": "integer"},
		"group":        schema{"type": "string"},
		"quality":      qualitySchema,
		"spoof":        schema{"type": "object"},
		"insights":     schema{"type": "array", "items": schema{"type": "string"}},
		"latency_ms":   schema{"type": "number"},
	}}

var groupSchema = schema{"type": "object", "properties": schema{
	"group": schema{"type": "string"}, "members": schema{"type": "array", "items": schema{"type": "string"}}}}

var settingsSchema = schema{"type": "object", "properties": schema{
	"watchlist_policy": schema{"type": "string", "enum": []string{voxgate.WatchlistFlag, voxgate.WatchlistReject}}}}

func (s *Server) registerIdentify() {
	s.handle("POST", "/v1/voice/identify", operation{
		id: "identify", summary: "Who is speaking: open-set search of the tenant's enrolled voices (or a group)", tag: "native", auth: authAPIKey,
		request: multipartBody(schema{"type": "object", "required": []string{"audio"}, "properties": schema{
			"audio": schema{"type": "string", "format": "binary"}, "group": schema{"type": "string"},
			"top": schema{"type": "integer", "minimum": 1, "maximum": service.MaxIdentifyTop}}}),
		response: map[int]*body{200: jsonBody(identifySchema)},
	}, s.authed(s.identify))
	s.handle("PUT", "/v1/groups/{group}/members", operation{
		id: "updateGroup", summary: "Add profiles to and remove profiles from a group (\"watchlist\": checked on enroll and verify)", tag: "native", auth: authAPIKey,
		request: jsonBody(schema{"type": "object", "properties": schema{
			"add": schema{"type": "array", "items": schema{"type": "string"}}, "remove": schema{"type": "array", "items": schema{"type": "string"}}}}),
		response: map[int]*body{200: jsonBody(groupSchema)},
	}, s.authed(s.updateGroup))
	s.handle("GET", "/v1/groups/{group}", operation{
		id: "getGroup", summary: "A group's members", tag: "native", auth: authAPIKey,
		response: map[int]*body{200: jsonBody(groupSchema)},
	}, s.authed(s.getGroup))
	s.handle("PUT", "/v1/settings/identification", operation{
		id: "setIdentificationSettings", summary: "The tenant's watchlist and duplicate-voice policy: flag (default) or reject", tag: "native", auth: authAPIKey,
		request: jsonBody(settingsSchema), response: map[int]*body{200: jsonBody(settingsSchema)},
	}, s.authed(s.setIdentificationSettings))
	s.handle("GET", "/v1/settings/identification", operation{
		id: "getIdentificationSettings", summary: "The tenant's identification settings", tag: "native", auth: authAPIKey,
		response: map[int]*body{200: jsonBody(settingsSchema)},
	}, s.authed(s.getIdentificationSettings))
}

type identifyResponse struct {
	Decision    string                      `json:"decision"`
	Reason      string                      `json:"reason,omitempty"`
	Candidates  []service.IdentifyCandidate `json:"candidates"`
	Threshold   float64                     `json:"threshold"`
	FPIR        float64                     `json:"fpir"`
	GallerySize int                         `json:"gallery_size"`
	Group       string                      `json:"group,omitempty"`
	Quality     *engine.Report              `json:"quality,omitempty"`
	Spoof       service.SpoofReport         `json:"spoof"`
	Insights    []string                    `json:"insights"`
	LatencyMs   float64                     `json:"latency_ms"`
}

func identifyJSON(res *service.IdentifyResult) identifyResponse {
	return identifyResponse{Decision: res.Decision, Reason: res.Reason, Candidates: res.Candidates, Threshold: res.Threshold,
		FPIR: res.FPIR, GallerySize: res.Gallery, Group: res.Group, Quality: res.Quality, Spoof: res.Spoof,
		Insights: res.Insights, LatencyMs: float64(res.Latency.Microseconds()) / 1000}
}

func (s *Server) identify(w http.ResponseWriter, r *http.Request) {
	f, err := s.readForm(w, r, "audio")
	if err != nil {
		writeError(w, r, err)
		return
	}
	req := service.IdentifyRequest{Audio: f.file, Group: f.fields["group"]}
	if t := f.fields["top"]; t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			writeError(w, r, voxgate.Errorf(voxgate.EINVALID, "top must be an integer"))
			return
		}
		req.Top = n
	}
	res, err := s.svc.Identify(r.Context(), actorFrom(r), req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.metrics.decisions.WithLabelValues("identify", res.Decision, res.Reason).Inc()
	writeJSON(w, http.StatusOK, identifyJSON(res))
}

func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Add    []string `json:"add"`
		Remove []string `json:"remove"`
	}
	if err := decodeJSON(w, r, 256<<10, &req); err != nil {
		writeError(w, r, err)
		return
	}
	g, err := s.svc.UpdateGroup(r.Context(), actorFrom(r), r.PathValue("group"), req.Add, req.Remove)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	g, err := s.svc.Group(r.Context(), actorFrom(r), r.PathValue("group"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

func (s *Server) setIdentificationSettings(w http.ResponseWriter, r *http.Request) {
	var st voxgate.IdentificationSettings
	if err := decodeJSON(w, r, 4<<10, &st); err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.svc.SetIdentificationSettings(r.Context(), actorFrom(r), st); err != nil {
		writeError(w, r, err)
		return
	}
	s.getIdentificationSettings(w, r)
}

func (s *Server) getIdentificationSettings(w http.ResponseWriter, r *http.Request) {
	st, err := s.svc.IdentificationSettings(r.Context(), actorFrom(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
