package httpapi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"voxgate"
	"voxgate/internal/enginetest"
	"voxgate/internal/shared"
)

func tortoiseReal(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(shared.Dir(t), "voice-data/corpora/tortoise/real", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// path reads a nested field of a JSON answer: path(body, "thresholds", "voice").
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

func TestVerificationSettingsRefuseBadValuesWithTheirOwnCodes(t *testing.T) {
	e := newBioEnv(t, ravdessConfig())
	e.engine = enginetest.WithSpoof(t) // its operating points decide which max_bpcer values exist
	e.start(t)
	key := e.key("acme", voxgate.ScopeAdmin)
	for _, tc := range []struct {
		name string
		body any
		code string
	}{
		{"target under what the calibration resolves", map[string]any{"target_far": 0.0001}, voxgate.EINVALIDTARGETFAR},
		{"target too lax", map[string]any{"target_far": 0.1}, voxgate.EINVALIDTARGETFAR},
		{"negative target", map[string]any{"target_far": -0.01}, voxgate.EINVALIDTARGETFAR},
		{"liveness off", map[string]any{"liveness": map[string]any{"mode": "off"}}, voxgate.EINVALIDLIVENESSMODE},
		{"unknown liveness mode", map[string]any{"liveness": map[string]any{"mode": "maybe"}}, voxgate.EINVALIDLIVENESSMODE},
		{"bpcer the detector has no point for", map[string]any{"liveness": map[string]any{"max_bpcer": 0.03}}, voxgate.EINVALIDLIVENESSBPCER},
		{"bpcer over one", map[string]any{"liveness": map[string]any{"max_bpcer": 2}}, voxgate.EINVALIDLIVENESSBPCER},
		{"target of the wrong type", map[string]any{"target_far": "0.001"}, voxgate.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, hdr := e.do("PUT", "/v1/settings/verification", key, tc.body)
			assertError(t, st, body, hdr, 400, tc.code)
		})
	}
	verify := e.key("acme", voxgate.ScopeVerify)
	st, body, hdr := e.do("PUT", "/v1/settings/verification", verify, map[string]any{"target_far": 0.02})
	assertError(t, st, body, hdr, 403, voxgate.EFORBIDDEN)

	// Nothing refused was stored or audited: the defaults stand.
	st, body, _ = e.do("GET", "/v1/settings/verification", key, nil)
	if st != 200 || body["target_far"] != 0.01 || path(body, "liveness", "mode") != "enforce" || path(body, "liveness", "max_bpcer") != 0.01 ||
		path(body, "effective", "voice_threshold") != 3.342 || path(body, "effective", "spoof_threshold") != 0.286114 {
		t.Fatalf("defaults: %d %v", st, body)
	}
	lim := path(body, "limits").(map[string]any)
	if lim["target_far_min"] != 0.00025 || lim["target_far_max"] != 0.05 || len(lim["liveness_max_bpcer"].([]any)) != 4 {
		t.Fatalf("limits: %v", lim)
	}
	if _, body, _ := e.do("GET", "/v1/audit", key, nil); len(body["attempts"].([]any)) != 0 {
		t.Fatalf("refused changes were audited: %v", body)
	}
}

// A bank at a 0.1 % target false-accept rate turns away a genuine but
// borderline probe that a tenant at the default 1 % accepts; the bank's
// setting changes nothing for the other tenant, and survives a restart.
// The probes are RAVDESS actor 1's strong happy takes of statement 2
// against his four neutral takes: normalised scores 3.50 and 3.97, between
// the 1 % threshold (3.342) and the 0.1 % one (4.892).
func TestStricterTargetFARTurnsAwayABorderlineGenuineProbe(t *testing.T) {
	e := newBioEnv(t, ravdessConfig())
	bank := e.key("bank", voxgate.ScopeAdmin)
	shop := e.key("shop", voxgate.ScopeAdmin)
	st, body, _ := e.do("PUT", "/v1/settings/verification", bank, map[string]any{"target_far": 0.001})
	if st != 200 || body["target_far"] != 0.001 || path(body, "effective", "voice_threshold") != 4.8917 || path(body, "liveness", "mode") != "enforce" {
		t.Fatalf("set: %d %v", st, body)
	}
	for _, key := range []string{bank, shop} {
		enrollNeutral(t, e.testEnv, key, "actor1", 1)
	}
	probe := func(key string, rep int) map[string]any {
		t.Helper()
		st, body := e.upload("/v1/voice/verify", key, map[string]string{"user_id": "actor1"}, "audio", ravdess(t, 1, 3, 2, 2, rep))
		if st != 200 {
			t.Fatalf("verify: %d %v", st, body)
		}
		return body
	}
	atShop, atBank := probe(shop, 2), probe(bank, 2)
	score := path(atShop, "calibration", "normalized_score").(float64)
	if path(atBank, "calibration", "normalized_score") != score {
		t.Fatalf("the same probe scored %v and %v in two tenants enrolled alike", score, path(atBank, "calibration", "normalized_score"))
	}
	t.Logf("score %.3f; shop (1 %%): %v, bank (0.1 %%): %v %v", score, atShop["decision"], atBank["decision"], atBank["reason"])
	if atShop["decision"] != "accept" || path(atShop, "thresholds", "target_far") != 0.01 || path(atShop, "thresholds", "voice") != 3.342 {
		t.Fatalf("shop: %v", atShop)
	}
	if atBank["decision"] != "reject" || atBank["reason"] != "voice_mismatch" || path(atBank, "thresholds", "target_far") != 0.001 || path(atBank, "thresholds", "voice") != 4.8917 {
		t.Fatalf("bank: %v", atBank)
	}

	// The change is in the bank's audit log, with the key that made it;
	// the shop's log has no such row.
	_, audit, _ := e.do("GET", "/v1/audit", bank, nil)
	var change map[string]any
	for _, a := range audit["attempts"].([]any) {
		if a := a.(map[string]any); a["kind"] == "settings" {
			change = a
		}
	}
	if change == nil || path(change, "detail", "after", "target_far") != 0.001 || path(change, "detail", "before", "target_far") != 0.0 || change["key_id"] == "" {
		t.Fatalf("audit of the change: %v", audit)
	}
	_, audit, _ = e.do("GET", "/v1/audit", shop, nil)
	for _, a := range audit["attempts"].([]any) {
		if a.(map[string]any)["kind"] == "settings" {
			t.Fatalf("the shop's log holds the bank's change: %v", a)
		}
	}

	e.start(t) // a restart over the same database
	st, body, _ = e.do("GET", "/v1/settings/verification", bank, nil)
	if st != 200 || body["target_far"] != 0.001 {
		t.Fatalf("after restart: %d %v", st, body)
	}
	atShop, atBank = probe(shop, 1), probe(bank, 1)
	t.Logf("after restart, score %v; shop: %v, bank: %v %v", path(atShop, "calibration", "normalized_score"), atShop["decision"], atBank["decision"], atBank["reason"])
	if atShop["decision"] != "accept" || atBank["decision"] == "accept" || path(atBank, "thresholds", "target_far") != 0.001 {
		t.Fatalf("after restart: shop %v, bank %v", atShop, atBank)
	}
}

// A tenant watching the detector before enforcing it (liveness "flag")
// sees the spoof verdict on every path but is not refused for it. The
// probe is a real recording (tortoise's reference clip angie/3, P(spoof)
// about 0.24) that the detector's strictest operating point (BPCER 10 %,
// threshold 0.159) flags and its default (0.286) does not.
func TestLivenessFlagReportsTheVerdictWithoutRejecting(t *testing.T) {
	e := newBioEnv(t, ravdessConfig())
	e.engine = enginetest.WithSpoof(t)
	e.start(t)
	keys := map[string]string{}
	for name, settings := range map[string]any{
		"plain":   nil,
		"enforce": map[string]any{"liveness": map[string]any{"max_bpcer": 0.1}},
		"flag":    map[string]any{"liveness": map[string]any{"mode": "flag", "max_bpcer": 0.1}},
	} {
		keys[name] = e.key(name, voxgate.ScopeAdmin)
		if settings != nil {
			if st, body, _ := e.do("PUT", "/v1/settings/verification", keys[name], settings); st != 200 || path(body, "effective", "spoof_threshold") != 0.15933 {
				t.Fatalf("%s: %d %v", name, st, body)
			}
		}
		e.do("POST", "/create-profile", keys[name], map[string]string{"user_id": "angie"})
		for _, clip := range []string{"angie/1.flac", "angie/2.flac"} {
			if st, body := e.upload("/enroll", keys[name], map[string]string{"user_id": "angie"}, "audio", tortoiseReal(t, clip)); st != 200 {
				t.Fatalf("enroll: %d %v", st, body)
			}
		}
	}
	got := map[string]map[string]any{}
	for name, key := range keys {
		st, body := e.upload("/v1/voice/verify", key, map[string]string{"user_id": "angie"}, "audio", tortoiseReal(t, "angie/3.flac"))
		if st != 200 {
			t.Fatalf("%s: %d %v", name, st, body)
		}
		got[name] = body
		t.Logf("%s: %v %v, P(spoof) %v at %v, mode %v", name, body["decision"], body["reason"], path(body, "spoof", "spoof_probability"),
			path(body, "thresholds", "spoof"), path(body, "thresholds", "liveness_mode"))
	}
	if b := got["plain"]; b["decision"] != "accept" || path(b, "spoof", "deepfake_detected") != false ||
		path(b, "thresholds", "spoof") != 0.286114 || path(b, "thresholds", "spoof_bpcer") != 0.01 {
		t.Fatalf("plain: %v", b)
	}
	if b := got["enforce"]; b["decision"] != "reject" || b["reason"] != "spoof_suspected" || path(b, "spoof", "deepfake_detected") != true ||
		path(b, "thresholds", "spoof") != 0.15933 || path(b, "thresholds", "spoof_bpcer") != 0.1 || path(b, "thresholds", "liveness_mode") != "enforce" {
		t.Fatalf("enforce: %v", b)
	}
	b := got["flag"]
	labels, _ := json.Marshal(path(b, "spoof", "labels"))
	insights, _ := json.Marshal(b["insights"])
	if b["decision"] != "accept" || path(b, "spoof", "deepfake_detected") != true || !strings.Contains(string(labels), "synthetic") ||
		path(b, "signals", "liveness") != "low" || b["learned"] == true || path(b, "thresholds", "liveness_mode") != "flag" ||
		!strings.Contains(string(insights), "flagged only") {
		t.Fatalf("flag: %v", b)
	}

	// Identification names nobody on a spoof verdict it enforces, and the
	// speaker on one it only flags.
	for name, want := range map[string]string{"plain": "identified", "enforce": "unknown", "flag": "identified"} {
		st, b := e.upload("/v1/voice/identify", keys[name], nil, "audio", tortoiseReal(t, "angie/3.flac"))
		if st != 200 || b["decision"] != want || path(b, "spoof", "deepfake_detected") != (name != "plain") {
			t.Fatalf("identify, %s: %d %v", name, st, b)
		}
	}

	// Voice-ID, which stores nothing, applies the same policy. One 12 s
	// recording makes a weaker voiceprint than two (angie/3 scores 2.98
	// against angie/2 alone): both tenants move to a 5 % target, which
	// applies from the next request on.
	for _, name := range []string{"enforce", "flag"} {
		if st, body, _ := e.do("PUT", "/v1/settings/verification", keys[name], map[string]any{"target_far": 0.05,
			"liveness": map[string]any{"mode": name, "max_bpcer": 0.1}}); st != 200 || path(body, "effective", "voice_threshold") != 1.6287 {
			t.Fatalf("%s: %d %v", name, st, body)
		}
	}
	match := func(name string) map[string]any {
		t.Helper()
		st, enr := e.upload("/v1/voiceid/enroll", keys[name], nil, "audio_file", tortoiseReal(t, "angie/2.flac"))
		if st != 200 {
			t.Fatalf("voiceid enroll: %d %v", st, enr)
		}
		emb, _ := json.Marshal(enr["embedding"])
		st, body := e.upload("/v1/voiceid/verify", keys[name], map[string]string{"embedding": string(emb)}, "audio_file", tortoiseReal(t, "angie/3.flac"))
		if st != 200 {
			t.Fatalf("voiceid verify: %d %v", st, body)
		}
		return body
	}
	if b := match("enforce"); b["match"] != false || b["deepfake_detected"] != true || b["liveness_mode"] != "enforce" || b["target_far"] != 0.05 {
		t.Fatalf("voice-ID, enforce: %v", b)
	}
	if b := match("flag"); b["match"] != true || b["deepfake_detected"] != true || b["liveness_mode"] != "flag" {
		t.Fatalf("voice-ID, flag: %v", b)
	}
	if b := match("plain"); b["match"] != false || b["deepfake_detected"] != false || b["target_far"] != 0.01 || b["threshold"] != 3.342 {
		t.Fatalf("voice-ID, plain: %v", b)
	}
}
