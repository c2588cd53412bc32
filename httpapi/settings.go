package httpapi

import (
	"net/http"

	"voxgate"
	"voxgate/service"
)

// The tenant's verification operating point (issues 16 and 17).

var verificationSettingsSchema = schema{"type": "object", "properties": schema{
	"target_far": schema{"type": "number", "description": "speaker false-accept rate the voice threshold is chosen for, through the model's calibration " +
		"(0 or absent: the server's default, 0.01); refused with invalid_target_far outside limits.target_far_min..target_far_max"},
	"liveness": schema{"type": "object", "properties": schema{
		"mode": schema{"type": "string", "enum": []string{voxgate.LivenessEnforce, voxgate.LivenessFlag},
			"description": "enforce (default): a spoof verdict rejects; flag: reported and audited, the decision does not count it. Replays are rejected either way"},
		"max_bpcer": schema{"type": "number", "description": "the deepfake detector's operating point: the share of real training speech it flags, " +
			"one of limits.liveness_max_bpcer (0 or absent: the detector's default); refused with invalid_liveness_bpcer otherwise"},
	}},
}}

var verificationPolicySchema = with(schemaOf(service.VerificationPolicy{}), schema{
	"target_far": verificationSettingsSchema["properties"].(schema)["target_far"],
	"liveness":   verificationSettingsSchema["properties"].(schema)["liveness"],
})

func (s *Server) registerSettings() {
	s.handle("PUT", "/v1/settings/verification", operation{
		id: "setVerificationSettings", summary: "The tenant's verification operating point: speaker target false-accept rate and liveness policy", tag: "native", auth: authAPIKey,
		request: jsonBody(verificationSettingsSchema), response: map[int]*body{200: jsonBody(verificationPolicySchema)},
		errors: []int{http.StatusForbidden, http.StatusServiceUnavailable},
	}, s.authed(s.setVerificationSettings))
	s.handle("GET", "/v1/settings/verification", operation{
		id: "getVerificationSettings", summary: "The tenant's verification operating point, what it comes to with the loaded models, and the values accepted", tag: "native", auth: authAPIKey,
		response: map[int]*body{200: jsonBody(verificationPolicySchema)},
		errors:   []int{http.StatusForbidden, http.StatusServiceUnavailable},
	}, s.authed(s.getVerificationSettings))
}

func (s *Server) setVerificationSettings(w http.ResponseWriter, r *http.Request) {
	var st voxgate.VerificationSettings
	if err := decodeJSON(w, r, 4<<10, &st); err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.svc.SetVerificationSettings(r.Context(), actorFrom(r), st)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) getVerificationSettings(w http.ResponseWriter, r *http.Request) {
	p, err := s.svc.VerificationPolicy(r.Context(), actorFrom(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}
