package httpapi

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"voxgate"
	"voxgate/audio"
	"voxgate/ids"
)

// speechWAV returns seconds of one RAVDESS actor's speech (takes joined)
// as 16 kHz 16-bit WAV.
func speechWAV(t *testing.T, actor int, seconds float64) []byte {
	t.Helper()
	var x []float32
	dec := &audio.Decoder{}
	for statement := 1; len(x) < int(seconds*16000); statement = statement%2 + 1 {
		for rep := 1; rep <= 2 && len(x) < int(seconds*16000); rep++ {
			c, err := dec.Decode(context.Background(), ravdess(t, actor, 1, 1, statement, rep))
			if err != nil {
				t.Fatal(err)
			}
			x = append(x, c.Samples...)
		}
	}
	x = x[:int(seconds*16000)]
	return audio.EncodeWAV(x, audio.Rate)
}

func TestVoiceIDEnrollReturns256Floats(t *testing.T) {
	e := newBioEnv(t, ravdessConfig())
	key := e.key("acme", voxgate.ScopeVerify)
	st, body := e.upload("/v1/voiceid/enroll", key, map[string]string{"user_id": "john_doe"}, "audio_file", speechWAV(t, 1, 12))
	if st != 200 {
		t.Fatalf("enroll: %d %v", st, body)
	}
	emb, _ := body["embedding"].([]any)
	if len(emb) != 256 {
		t.Fatalf("embedding has %d values", len(emb))
	}
	var norm float64
	for _, v := range emb {
		f, ok := v.(float64)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			t.Fatalf("non-finite value %v", v)
		}
		norm += f * f
	}
	if math.Abs(norm-1) > 1e-3 {
		t.Fatalf("norm² %v", norm)
	}
	if _, ok := body["processing_time"].(float64); !ok || body["model_version"] == "" {
		t.Fatalf("fields: %v", body)
	}
	if _, ok := body["deepfake_checked"].(bool); !ok {
		t.Fatalf("deepfake_checked: %v", body)
	}
	// Nothing was stored: no profile exists for the user.
	if st, _, _ := e.do("GET", "/v1/profiles/john_doe", key, nil); st != 404 {
		t.Fatalf("voiceid enroll created a profile: %d", st)
	}

	// The companion verify: same speaker matches, another does not.
	embJSON, _ := json.Marshal(emb)
	st, body = e.upload("/v1/voiceid/verify", key, map[string]string{"embedding": string(embJSON), "model_version": body["model_version"].(string)}, "audio_file", ravdess(t, 1, 2, 1, 1, 1))
	if st != 200 || body["match"] != true {
		t.Fatalf("genuine voiceid verify: %d %v", st, body)
	}
	st, body = e.upload("/v1/voiceid/verify", key, map[string]string{"embedding": string(embJSON)}, "audio_file", ravdess(t, 2, 2, 1, 1, 1))
	if st != 200 || body["match"] != false {
		t.Fatalf("impostor voiceid verify: %d %v", st, body)
	}
	st, body = e.upload("/v1/voiceid/verify", key, map[string]string{"embedding": string(embJSON), "model_version": "titanet-large"}, "audio_file", ravdess(t, 1, 2, 1, 1, 1))
	if st != 400 || body["error"] != "validation_error" {
		t.Fatalf("foreign model version: %d %v", st, body)
	}
	st, body = e.upload("/v1/voiceid/verify", key, map[string]string{"embedding": "[0.1, 0.2]"}, "audio_file", ravdess(t, 1, 2, 1, 1, 1))
	if st != 400 || body["error"] != "validation_error" {
		t.Fatalf("short embedding: %d %v", st, body)
	}
}

func TestVoiceIDEnrollErrorsMatchSeed(t *testing.T) {
	e := newBioEnv(t, ravdessConfig())
	key := e.key("acme", voxgate.ScopeVerify)
	st, body := e.upload("/v1/voiceid/enroll", key, nil, "audio_file", speechWAV(t, 1, 8.5))
	if st != 400 || body["error"] != "validation_error" || body["message"] != "Audio file too short: 8.5s (minimum 10.0s required)" ||
		body["status"] != float64(400) || !ids.IsUUID(body["correlation_id"].(string)) || len(body) != 4 {
		t.Fatalf("8.5 s: %d %v", st, body)
	}
	st, body = e.upload("/v1/voiceid/enroll", key, nil, "audio_file", []byte("ID3 but not really an mp3 at all......"))
	if st != 422 || body["error"] != "unsupported_format" || body["message"] != "Provided audio format is not supported" || body["status"] != float64(422) {
		t.Fatalf("bad format: %d %v", st, body)
	}
	st, body = e.upload("/v1/voiceid/enroll", "vg_bad", nil, "audio_file", speechWAV(t, 1, 12))
	if st != 401 || body["error"] != "unauthorized" || body["message"] != "Invalid or inactive API key" {
		t.Fatalf("bad key: %d %v", st, body)
	}
}
