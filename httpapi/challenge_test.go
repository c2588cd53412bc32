package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"voxgate"
	"voxgate/audio"
	"voxgate/internal/enginetest"
	"voxgate/internal/shared"
)

const (
	kids = "kids are talking by the door"
	dogs = "dogs are sitting by the door"
)

func statementOf(challenge string) int {
	if challenge == kids {
		return 1
	}
	return 2
}

func TestChallengeFlowWithRavdessPhrases(t *testing.T) {
	e := newBioEnv(t, ravdessConfig())
	e.engine = enginetest.WithSpoof(t)
	e.start(t) // speaker, phrase and liveness must all pass
	key := e.key("acme", voxgate.ScopeAdmin)
	if st, body, _ := e.do("PUT", "/v1/challenge-phrases", key, map[string]any{"phrases": []string{kids, dogs}}); st != 200 {
		t.Fatalf("set phrases: %d %v", st, body)
	}
	enrollNeutral(t, e.testEnv, key, "actor1", 1)
	start := func() (string, string) {
		st, body, _ := e.do("POST", "/start-auth", key, map[string]string{"user_id": "actor1", "mode": "phrases"})
		if st != 200 || body["session_id"] == "" || body["expiresAt"] == "" {
			t.Fatalf("start-auth: %d %v", st, body)
		}
		c := body["challenge"].(string)
		if c != kids && c != dogs {
			t.Fatalf("challenge %q is not a tenant phrase", c)
		}
		return body["session_id"].(string), c
	}

	// The right actor, the right sentence, calm: accepted, a token valid once.
	sid, c := start()
	accepted := ravdess(t, 1, 2, 1, statementOf(c), 1)
	st, body := e.upload("/verify-voice", key, map[string]string{"session_id": sid, "user_id": "actor1"}, "audio", accepted)
	if st != 200 || body["success"] != true || body["decision"] != "accept" || body["user_id"] != "actor1" {
		t.Fatalf("genuine answer: %d %v", st, body)
	}
	if d := body["details"].(map[string]any); d["spoof"].(map[string]any)["deepfake_checked"] != true {
		t.Fatalf("liveness was not checked: %v", d["spoof"])
	}
	token := body["voiceToken"].(string)
	if cc := e.header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("the answer carrying the voice token has Cache-Control %q, want no-store", cc)
	}
	var valid atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, body, _ := e.do("POST", "/verify-token", key, map[string]string{"token": token})
			if st != 200 {
				t.Errorf("verify-token: %d %v", st, body)
			}
			if body["valid"] == true {
				if body["user_id"] != "actor1" || body["iat"] == nil {
					t.Errorf("valid token body %v", body)
				}
				valid.Add(1)
			}
		}()
	}
	wg.Wait()
	if valid.Load() != 1 {
		t.Fatalf("%d of 50 concurrent validations were valid, want 1", valid.Load())
	}
	// The session was consumed.
	st, body = e.upload("/verify-voice", key, map[string]string{"session_id": sid, "user_id": "actor1"}, "audio", accepted)
	if st != 410 || body["error"] != "session_expired" {
		t.Fatalf("reused session: %d %v", st, body)
	}

	// Another actor saying the right sentence: voice.
	sid, c = start()
	st, body = e.upload("/verify-voice", key, map[string]string{"session_id": sid, "user_id": "actor1"}, "audio", ravdess(t, 3, 2, 1, statementOf(c), 1))
	if st != 200 || body["success"] != false || body["decision"] != "reject" || body["code"] != "voice_rejected" || body["reason"] != "low_similarity" {
		t.Fatalf("impostor: %d %v", st, body)
	}
	// The right actor saying the other sentence: phrase.
	sid, c = start()
	st, body = e.upload("/verify-voice", key, map[string]string{"session_id": sid, "user_id": "actor1"}, "audio", ravdess(t, 1, 2, 1, 3-statementOf(c), 2))
	if st != 200 || body["success"] != false || body["code"] != "phrase_rejected" {
		t.Fatalf("wrong sentence: %d %v", st, body)
	}
	// The accepted recording again, to a new session asking the same
	// sentence: replay. Sessions asking the other sentence are used up with
	// undecodable audio, which consumes them without counting as a failure.
	firstChallenge := kids
	if bytes.Equal(accepted, ravdess(t, 1, 2, 1, 2, 1)) {
		firstChallenge = dogs
	}
	for i := 0; ; i++ {
		if sid, c = start(); c == firstChallenge {
			break
		}
		if i == 10 {
			t.Fatalf("no session asked %q again in 10 tries", firstChallenge)
		}
		e.upload("/verify-voice", key, map[string]string{"session_id": sid, "user_id": "actor1"}, "audio", []byte("not audio"))
	}
	e.svc.ResetAttempts(context.Background(), voxgate.Actor{TenantID: mustTenantID(t, e.testEnv, "acme"), Scope: voxgate.ScopeAdmin}, "actor1")
	st, body = e.upload("/verify-voice", key, map[string]string{"session_id": sid, "user_id": "actor1"}, "audio", accepted)
	if st != 200 || body["success"] != false || body["code"] != "replay_rejected" || body["reason"] != "replay_detected" {
		t.Fatalf("replayed recording: %d %v", st, body)
	}
}

func mustTenantID(t *testing.T, e *testEnv, name string) string {
	t.Helper()
	_, keys, err := e.svc.ListKeys(context.Background(), name)
	if err != nil || len(keys) == 0 {
		t.Fatalf("tenant %s: %v", name, err)
	}
	return keys[0].TenantID
}

var digitWords = map[rune]string{'0': "zero", '1': "one", '2': "two", '3': "three", '4': "four", '5': "five", '6': "six", '7': "seven", '8': "eight", '9': "nine"}

// fsddDigits joins a speaker's recordings (take idx) of the digits of s,
// with 150 ms of silence between them, as 8 kHz 16-bit WAV.
func fsddDigits(t *testing.T, speaker, s string, take int) []byte {
	t.Helper()
	dec := &audio.Decoder{}
	var x []float32
	for _, d := range s {
		if d < '0' || d > '9' {
			continue
		}
		p := filepath.Join(shared.Dir(t), "voice-data/corpora/fsdd", speaker, "enroll", fmt.Sprintf("%c_%d.wav", d, take))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c, err := dec.Decode(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		x = append(x, audio.Resample(c.Samples, audio.Rate, 8000)...)
		x = append(x, make([]float32, 1200)...)
	}
	return audio.EncodeWAV(x, 8000)
}

// TestChallengeFlowWithFSDDDigits answers digits challenges with FSDD
// speakers' recordings of the requested digits, on a fresh profile each
// time (joined takes of one digit set would otherwise be, rightly, a
// replay of the previous answer), and reports how often the genuine answer
// passes. Each round of profiles is its own organisation: a speaker
// enrolled twice in one tenant, from the same recordings, would sit in his
// own impostor cohort and drag his genuine scores down.
func TestChallengeFlowWithFSDDDigits(t *testing.T) {
	cfg := ravdessConfig()
	cfg.RequiredSpeech = 2 // ten isolated digits hold 3-5 s of speech
	e := newBioEnv(t, cfg)
	speakers := []string{"george", "jackson", "lucas", "nicolas", "theo", "yweweler"}
	// Twelve answers in -short runs too: with four (jackson's and theo's,
	// the recogniser's best readers) all four missed in about one run in
	// ten, on random challenges, and failed CI runs under the race detector.
	trials := 2
	passed, total := 0, 0
	reasons := map[string]int{}
	keys := make([]string, trials)
	for i := range keys {
		keys[i] = e.key(fmt.Sprintf("acme-%d", i), voxgate.ScopeAdmin)
	}
	for _, spk := range speakers {
		for i, key := range keys {
			user := fmt.Sprintf("%s-%d", spk, i)
			e.do("POST", "/create-profile", key, map[string]string{"user_id": user})
			for d := 0; d <= 9; d++ {
				st, body := e.upload("/enroll", key, map[string]string{"user_id": user}, "audio", fsddDigits(t, spk, fmt.Sprint(d), 0))
				if st != 200 && st != 400 && st != 422 {
					t.Fatalf("enroll %s digit %d: %d %v", spk, d, st, body)
				}
			}
			st, body, _ := e.do("POST", "/start-auth", key, map[string]string{"user_id": user, "mode": "digits"})
			if st != 200 {
				t.Fatalf("start-auth digits: %d %v", st, body)
			}
			c := body["challenge"].(string)
			if n := len(strings.ReplaceAll(c, " ", "")); n < 4 || n > 8 {
				t.Fatalf("digits challenge %q", c)
			}
			st, res := e.upload("/verify-voice", key, map[string]string{"session_id": body["session_id"].(string), "user_id": user}, "audio", fsddDigits(t, spk, c, 1))
			if st != 200 {
				t.Fatalf("verify-voice: %d %v", st, res)
			}
			total++
			if res["success"] == true {
				passed++
			} else {
				reasons[fmt.Sprint(res["code"], "/", res["reason"])]++
			}
		}
	}
	t.Logf("FSDD digits challenges: %d of %d genuine answers passed; failures %v", passed, total, reasons)
	if passed == 0 {
		t.Fatalf("no genuine digits answer passed (%v)", reasons)
	}
}
