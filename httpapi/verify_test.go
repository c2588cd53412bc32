package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"voxgate"
	"voxgate/engine"
	"voxgate/internal/enginetest"
	"voxgate/internal/shared"
	"voxgate/seal"
	"voxgate/service"
	"voxgate/store/sqlite"
	"voxgate/voicetoken"
)

// bioEnv is a server with the real engine over a SQLite file that survives
// restarts of the server within one test.
type bioEnv struct {
	*testEnv
	dbPath   string
	engine   *engine.Engine
	sealKey  []byte
	tokenKey ed25519.PrivateKey
	cfg      service.Config
	now      func() time.Time // the service's clock; nil: the real one
	// logs holds the JSON log lines of every start.
	logs *syncBuffer
}

func newBioEnv(t *testing.T, cfg service.Config) *bioEnv {
	t.Helper()
	return newBioEnvAt(t, cfg, nil)
}

// newBioEnvAt is newBioEnv with now as the service's clock (nil: the real
// one).
func newBioEnvAt(t *testing.T, cfg service.Config, now func() time.Time) *bioEnv {
	t.Helper()
	key := bytes.Repeat([]byte{7}, 32)
	_, tokenKey, _ := ed25519.GenerateKey(rand.Reader)
	b := &bioEnv{dbPath: filepath.Join(t.TempDir(), "voxgate.db"), sealKey: key, tokenKey: tokenKey, cfg: cfg, now: now}
	b.start(t)
	return b
}

// start (re)starts the server over the same database and voiceprint key.
func (b *bioEnv) start(t *testing.T) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), b.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := seal.New(b.sealKey)
	eng := b.engine
	if eng == nil {
		eng = enginetest.Engine(t)
	}
	if b.logs == nil {
		b.logs = &syncBuffer{}
	}
	log := slog.New(slog.NewJSONHandler(b.logs, nil))
	cfg := b.cfg
	// The test engines leave out the deepfake detector where liveness is
	// not under test (it costs about half a second a verification).
	cfg.Degraded = eng.Spoof == nil
	svc := service.New(db, service.Options{Logger: log, Engine: eng, Sealer: sealer, Tokens: voicetoken.New(b.tokenKey), Config: cfg, Now: b.now})
	api := New(svc, Options{Logger: log})
	srv := conformingServer(t, api)
	t.Cleanup(func() { srv.Close(); db.Close() })
	b.testEnv = &testEnv{t: t, svc: svc, api: api, srv: srv, logs: b.logs}
}

func ravdess(t *testing.T, actor, emotion, intensity, statement, rep int) []byte {
	t.Helper()
	name := fmt.Sprintf("03-01-%02d-%02d-%02d-%02d-%02d.flac", emotion, intensity, statement, rep, actor)
	b, err := os.ReadFile(filepath.Join(shared.Dir(t), "voice-data/corpora/ravdess", fmt.Sprintf("Actor_%02d", actor), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// upload posts a multipart form with an audio file.
func (e *testEnv) upload(path, key string, fields map[string]string, fileField string, audioData []byte) (int, map[string]any) {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile(fileField, "voice.flac")
	fw.Write(audioData)
	mw.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	e.header = resp.Header
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("%s: not JSON: %s", path, raw)
	}
	return resp.StatusCode, out
}

func ravdessConfig() service.Config {
	cfg := service.DefaultConfig()
	cfg.RequiredSpeech = 5 // four neutral takes hold about 7 s of speech
	cfg.RatePerMinute, cfg.RatePerHour = 0, 0
	return cfg
}

// enrollNeutral enrolls a RAVDESS actor from the four neutral takes.
func enrollNeutral(t *testing.T, e *testEnv, key, user string, actor int) map[string]any {
	t.Helper()
	if st, body, _ := e.do("POST", "/create-profile", key, map[string]string{"user_id": user}); st != 201 {
		t.Fatalf("create-profile: %d %v", st, body)
	}
	var last map[string]any
	for statement := 1; statement <= 2; statement++ {
		for rep := 1; rep <= 2; rep++ {
			st, body := e.upload("/enroll", key, map[string]string{"user_id": user}, "audio", ravdess(t, actor, 1, 1, statement, rep))
			if st != 200 {
				t.Fatalf("enroll: %d %v", st, body)
			}
			last = body
		}
	}
	return last
}

func TestVerifyAcceptsGenuineCalmTakesAndRejectsOtherActors(t *testing.T) {
	e := newBioEnv(t, ravdessConfig())
	key := e.key("acme", voxgate.ScopeAdmin)
	last := enrollNeutral(t, e.testEnv, key, "actor1", 1)
	if last["enrolled"] != true || last["samples"] != float64(4) || last["progress"] != float64(1) {
		t.Fatalf("after 4 samples: %v", last)
	}
	accepted := 0
	for intensity := 1; intensity <= 2; intensity++ {
		for statement := 1; statement <= 2; statement++ {
			for rep := 1; rep <= 2; rep++ {
				st, body := e.upload("/v1/voice/verify", key, map[string]string{"user_id": "actor1"}, "audio", ravdess(t, 1, 2, intensity, statement, rep))
				if st != 200 {
					t.Fatalf("verify: %d %v", st, body)
				}
				for _, f := range []string{"decision", "confidence", "signals", "learning_progress", "calibration", "thresholds", "spoof", "retries", "insights"} {
					if _, ok := body[f]; !ok {
						t.Fatalf("verify response lacks %q: %v", f, body)
					}
				}
				if body["decision"] == "accept" {
					accepted++
				}
			}
		}
	}
	t.Logf("genuine calm takes accepted: %d of 8", accepted)
	if accepted < 5 {
		t.Fatalf("only %d of 8 genuine calm takes accepted", accepted)
	}
	for actor := 2; actor <= 12; actor++ {
		st, body := e.upload("/v1/voice/verify", key, map[string]string{"user_id": "actor1"}, "audio", ravdess(t, actor, 2, 1, 1, 1))
		if st != 200 {
			t.Fatalf("verify: %d %v", st, body)
		}
		if body["decision"] == "accept" {
			t.Fatalf("actor %d accepted as actor 1: %v", actor, body)
		}
		if body["decision"] == "cooldown" {
			break // the attempt limit took over: covered below
		}
	}
}

func TestImpostorsLeadToCooldownThatSurvivesRestart(t *testing.T) {
	e := newBioEnv(t, ravdessConfig())
	key := e.key("acme", voxgate.ScopeAdmin)
	enrollNeutral(t, e.testEnv, key, "actor1", 1)
	var body map[string]any
	for i, actor := range []int{2, 3, 4, 5, 6} {
		_, body = e.upload("/v1/voice/verify", key, map[string]string{"user_id": "actor1"}, "audio", ravdess(t, actor, 2, 1, 1, 1))
		if body["decision"] == "accept" {
			t.Fatalf("impostor %d accepted", i)
		}
	}
	st, body := e.upload("/v1/voice/verify", key, map[string]string{"user_id": "actor1"}, "audio", ravdess(t, 7, 2, 1, 1, 1))
	if st != 200 || body["decision"] != "cooldown" || body["reason"] != "cooldown" {
		t.Fatalf("sixth attempt after five failures: %d %v", st, body)
	}
	ms, _ := body["retryAfterMs"].(float64)
	if ms <= 0 {
		t.Fatalf("cooldown without retryAfterMs: %v", body)
	}
	if got, want := e.header.Get("Retry-After"), strconv.Itoa(int(math.Ceil(ms/1000))); got != want {
		t.Fatalf("cooldown answer's Retry-After = %q, want %q (retryAfterMs %v)", got, want, ms)
	}
	e.start(t) // a restart: new server and store handle over the same file
	st, body = e.upload("/v1/voice/verify", key, map[string]string{"user_id": "actor1"}, "audio", ravdess(t, 1, 2, 1, 1, 1))
	if st != 200 || body["decision"] != "cooldown" {
		t.Fatalf("after restart: %d %v", st, body)
	}
}

func TestVerifyErrors(t *testing.T) {
	e := newBioEnv(t, ravdessConfig())
	key := e.key("acme", voxgate.ScopeAdmin)
	st, body := e.upload("/v1/voice/verify", key, map[string]string{"user_id": "ghost"}, "audio", ravdess(t, 1, 2, 1, 1, 1))
	if st != 404 || body["error"] != "profile_not_found" || body["message"] != "User must enroll before verification" {
		t.Fatalf("unknown user: %d %v", st, body)
	}
	e.do("POST", "/create-profile", key, map[string]string{"user_id": "half"})
	e.upload("/enroll", key, map[string]string{"user_id": "half"}, "audio", ravdess(t, 1, 1, 1, 1, 1))
	st, body = e.upload("/v1/voice/verify", key, map[string]string{"user_id": "half"}, "audio", ravdess(t, 1, 2, 1, 1, 1))
	if st != 409 || body["error"] != "enrollment_incomplete" {
		t.Fatalf("half-enrolled user: %d %v", st, body)
	}
	st, body = e.upload("/enroll", key, map[string]string{"user_id": "half"}, "audio", []byte("not audio"))
	if st != 422 || body["error"] != "unsupported_format" {
		t.Fatalf("garbage audio: %d %v", st, body)
	}
	// The same recording enrolled twice adds nothing.
	st, body = e.upload("/enroll", key, map[string]string{"user_id": "half"}, "audio", ravdess(t, 1, 1, 1, 1, 1))
	if st != 409 || body["error"] != "conflict" {
		t.Fatalf("duplicate enrollment sample: %d %v", st, body)
	}
	// A tenant's key cannot verify against another tenant's profile.
	other := e.key("other", voxgate.ScopeAdmin)
	st, body = e.upload("/v1/voice/verify", other, map[string]string{"user_id": "half"}, "audio", ravdess(t, 1, 2, 1, 1, 1))
	if st != 404 || body["error"] != "profile_not_found" {
		t.Fatalf("cross-tenant verify: %d %v", st, body)
	}
}
