package httpapi

import (
	"encoding/json"
	"net/http"

	"voxgate"
)

// The voice-ID face (seed 000): stateless enrollment that returns the
// embedding, and its companion verification against a returned embedding.

func (s *Server) registerVoiceID() {
	s.handle("POST", "/v1/voiceid/enroll", operation{
		id: "voiceidEnroll", summary: "Embed a voice (>= 10 s); nothing is stored", tag: "voiceid", auth: authAPIKey,
		request: multipartBody(schema{"type": "object", "required": []string{"audio_file"}, "properties": schema{
			"audio_file": schema{"type": "string", "format": "binary"}, "user_id": schema{"type": "string"}}}),
		response: map[int]*body{200: jsonBody(schema{"type": "object", "required": []string{"embedding", "processing_time", "model_version", "deepfake_checked"},
			"properties": schema{
				"embedding":         schema{"type": "array", "items": schema{"type": "number"}, "minItems": 256, "maxItems": 256},
				"processing_time":   schema{"type": "number", "description": "seconds"},
				"model_version":     schema{"type": "string"},
				"deepfake_checked":  schema{"type": "boolean"},
				"deepfake_detected": schema{"type": "boolean"},
			}})},
	}, s.authed(s.voiceidEnroll))
	s.handle("POST", "/v1/voiceid/verify", operation{
		id: "voiceidVerify", summary: "Compare a voice with an embedding returned by /v1/voiceid/enroll", tag: "voiceid", auth: authAPIKey,
		request: multipartBody(schema{"type": "object", "required": []string{"audio_file", "embedding"}, "properties": schema{
			"audio_file": schema{"type": "string", "format": "binary"}, "embedding": schema{"type": "string", "description": "JSON array of 256 floats"},
			"model_version": schema{"type": "string"}, "user_id": schema{"type": "string"}}}),
		response: map[int]*body{200: jsonBody(schema{"type": "object", "properties": schema{
			"match": schema{"type": "boolean"}, "score": schema{"type": "number"}, "confidence": schema{"type": "number"},
			"threshold": schema{"type": "number"}, "deepfake_checked": schema{"type": "boolean"}, "deepfake_detected": schema{"type": "boolean"},
			"target_far":      schema{"type": "number", "description": "the tenant's speaker operating point (GET /v1/settings/verification)"},
			"liveness_mode":   schema{"type": "string", "enum": []string{voxgate.LivenessEnforce, voxgate.LivenessFlag}},
			"processing_time": schema{"type": "number"}, "model_version": schema{"type": "string"}}})},
	}, s.authed(s.voiceidVerify))
}

func (s *Server) voiceidEnroll(w http.ResponseWriter, r *http.Request) {
	f, err := s.readForm(w, r, "audio_file")
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.svc.VoiceIDEnroll(r.Context(), actorFrom(r), f.fields["user_id"], f.file)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"embedding": res.Embedding, "processing_time": res.ProcessingTime.Seconds(), "model_version": res.ModelVersion,
		"deepfake_checked": res.DeepfakeChecked, "deepfake_detected": res.DeepfakeDetected,
	})
}

func (s *Server) voiceidVerify(w http.ResponseWriter, r *http.Request) {
	f, err := s.readForm(w, r, "audio_file")
	if err != nil {
		writeError(w, r, err)
		return
	}
	var emb []float32
	if err := json.Unmarshal([]byte(f.fields["embedding"]), &emb); err != nil {
		writeError(w, r, voxgate.Errorf(voxgate.EINVALID, "embedding must be a JSON array of 256 floats"))
		return
	}
	res, err := s.svc.VoiceIDVerify(r.Context(), actorFrom(r), f.fields["user_id"], f.file, emb, f.fields["model_version"])
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"match": res.Match, "score": res.Score, "confidence": res.Confidence, "threshold": res.Threshold,
		"deepfake_checked": res.DeepfakeChecked, "deepfake_detected": res.DeepfakeDetected,
		"target_far": res.TargetFAR, "liveness_mode": res.LivenessMode,
		"processing_time": res.ProcessingTime.Seconds(), "model_version": res.ModelVersion,
	})
}
