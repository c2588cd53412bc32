package service

import (
	"encoding/json"
	"fmt"
	"time"

	"voxgate"
	"voxgate/seal"
)

// template is the plaintext of a sealed voiceprint: the current (possibly
// adapted) vector, the enrollment vector it may not drift far from, and the
// learning history that makes adaptation auditable and revertible.
type template struct {
	ModelVersion string    `json:"model_version"`
	Current      []float32 `json:"current"`
	Enrolled     []float32 `json:"enrolled"`
	Samples      int       `json:"samples"`
	Speech       float64   `json:"speech_seconds"`
	Adaptations  int       `json:"adaptations"`
	// Previous holds the last few Current vectors before adaptations, newest
	// last, so an administrator can step back.
	Previous [][]float32 `json:"previous,omitempty"`
	// History records each adaptation: when, with what score, and the
	// cosine to the enrolled vector afterwards.
	History []update `json:"history,omitempty"`
	// GenuineLevel is the lowest score an enrollment sample reached against
	// the template built from the others (0 with fewer than two samples):
	// how this user scores against themselves. Adaptation needs a probe
	// halfway from the high tier up to it (policy.Learning.Bar), so that an
	// impostor who is accepted now and then, above the high tier yet below
	// the user's own level, cannot pull the template towards their voice.
	GenuineLevel float64 `json:"genuine_level,omitempty"`
	// Scores summarises genuine (accepted) scores, for the learning view.
	Accepted  int     `json:"accepted"`
	ScoreSum  float64 `json:"score_sum"`
	ScoreSum2 float64 `json:"score_sum2"`
}

type update struct {
	At    time.Time `json:"at"`
	Score float64   `json:"score"`
	Drift float64   `json:"cosine_to_enrolled"`
}

const (
	keepPrevious = 5
	keepHistory  = 50
)

func voiceprintAD(tenantID, userID string) []byte { return seal.AD(tenantID, userID, "voiceprint") }
func sampleAD(tenantID, userID string) []byte     { return seal.AD(tenantID, userID, "sample") }
func fingerprintAD(tenantID, userID string) []byte {
	return seal.AD(tenantID, userID, "fingerprint")
}

func (s *Service) sealTemplate(tenantID, userID string, t *template) ([]byte, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	return s.sealer.Seal(b, voiceprintAD(tenantID, userID)), nil
}

func (s *Service) openTemplate(tenantID string, vp *voxgate.Voiceprint) (*template, error) {
	b, err := s.sealer.Open(vp.Template, voiceprintAD(tenantID, vp.UserID))
	if err != nil {
		return nil, fmt.Errorf("open voiceprint of %s: %w", vp.UserID, err)
	}
	var t template
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("decode voiceprint: %w", err)
	}
	return &t, nil
}

// sealVector and openVector store embeddings as little-endian float32.
func (s *Service) sealVector(v []float32, ad []byte) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		putFloat(b[4*i:], x)
	}
	return s.sealer.Seal(b, ad)
}

func (s *Service) openVector(blob, ad []byte) ([]float32, error) {
	b, err := s.sealer.Open(blob, ad)
	if err != nil {
		return nil, err
	}
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("sealed vector of %d bytes", len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = getFloat(b[4*i:])
	}
	return v, nil
}
