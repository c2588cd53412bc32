package httpapi

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"voxgate"
	"voxgate/ids"
	"voxgate/internal/shared"
	"voxgate/service"
)

func librispeech(t *testing.T, speaker, chapter string, utt int) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(shared.Dir(t), "voice-data/corpora/librispeech/test-other", speaker,
		fmt.Sprintf("%s-%s-%04d.flac", speaker, chapter, utt)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIdentifyNamesTheTwelveRavdessActors enrolls the 12 RAVDESS dev actors
// from their neutral takes, identifies each actor's calm takes among all of
// them, and checks what the watchlist, groups and deletion do.
func TestIdentifyNamesTheTwelveRavdessActors(t *testing.T) {
	if testing.Short() {
		t.Skip("enrolls 12 actors and identifies 48 takes")
	}
	e := newBioEnv(t, ravdessConfig())
	key := e.key("acme", voxgate.ScopeAdmin)
	for actor := 1; actor <= 12; actor++ {
		enrollNeutral(t, e.testEnv, key, fmt.Sprint("actor", actor), actor)
	}

	identify := func(audio []byte, fields map[string]string) map[string]any {
		t.Helper()
		st, body := e.upload("/v1/voice/identify", key, fields, "audio", audio)
		if st != 200 {
			t.Fatalf("identify: %d %v", st, body)
		}
		return body
	}
	first := func(body map[string]any) string {
		c, _ := body["candidates"].([]any)
		if len(c) == 0 {
			return ""
		}
		return c[0].(map[string]any)["user_id"].(string)
	}

	rank1, identified, wrong := 0, 0, 0
	for actor := 1; actor <= 12; actor++ {
		for statement := 1; statement <= 2; statement++ {
			for rep := 1; rep <= 2; rep++ {
				body := identify(ravdess(t, actor, 2, 1, statement, rep), nil)
				if c := body["candidates"].([]any); len(c) != 5 || body["gallery_size"] != float64(12) || body["threshold"] == nil {
					t.Fatalf("answer: %v", body)
				}
				want := fmt.Sprint("actor", actor)
				if first(body) == want {
					rank1++
				}
				if body["decision"] == "identified" {
					if first(body) == want {
						identified++
					} else {
						wrong++
					}
				}
			}
		}
	}
	t.Logf("calm takes: rank 1 %d of 48, identified correctly %d, identified wrongly %d", rank1, identified, wrong)
	// Measured: 41 of 48 at rank 1; 25 named at the open-set threshold
	// (FPIR 1 % among 12), none wrongly.
	if rank1 < 41 || identified < 25 || wrong > 0 {
		t.Errorf("rank 1 %d of 48 calm takes, identified %d, wrongly %d; measured 41, 25, 0", rank1, identified, wrong)
	}

	// A voice that is not enrolled: LibriSpeech speakers.
	for _, f := range [][]byte{librispeech(t, "1688", "142285", 2), librispeech(t, "1998", "15444", 3)} {
		if body := identify(f, nil); body["decision"] != "unknown" || body["reason"] != "no_match" {
			t.Errorf("a voice not enrolled: %v", body)
		}
	}

	// The watchlist: actor 10 is a known fraudster who enrolls again as a
	// new user.
	if st, body, _ := e.do("PUT", "/v1/groups/watchlist/members", key, map[string]any{"add": []string{"actor10"}}); st != 200 || fmt.Sprint(body["members"]) != "[actor10]" {
		t.Fatalf("watchlist: %d %v", st, body)
	}
	e.do("POST", "/create-profile", key, map[string]string{"user_id": "newcomer"})
	st, body := e.upload("/enroll", key, map[string]string{"user_id": "newcomer"}, "audio", ravdess(t, 10, 2, 1, 2, 1))
	if st != 200 {
		t.Fatalf("enroll: %d %v", st, body)
	}
	wm, _ := body["watchlist_match"].(map[string]any)
	dup, _ := body["duplicate_voice"].(map[string]any)
	if wm["user_id"] != "actor10" || dup["user_id"] != "actor10" || len(body["insights"].([]any)) != 2 {
		t.Fatalf("a watchlisted voice enrolling as a new user: %v", body)
	}
	// Under the reject policy the same voice is refused.
	if st, body, _ := e.do("PUT", "/v1/settings/identification", key, map[string]string{"watchlist_policy": "reject"}); st != 200 || body["watchlist_policy"] != "reject" {
		t.Fatalf("settings: %d %v", st, body)
	}
	st, body = e.upload("/enroll", key, map[string]string{"user_id": "newcomer"}, "audio", ravdess(t, 10, 2, 1, 1, 2))
	if st != 403 || body["error"] != "watchlist_match" {
		t.Fatalf("enroll under the reject policy: %d %v", st, body)
	}

	// A group restricts the search.
	e.do("PUT", "/v1/groups/team/members", key, map[string]any{"add": []string{"actor1", "actor2"}})
	body = identify(ravdess(t, 3, 2, 1, 1, 1), map[string]string{"group": "team", "top": "3"})
	if body["gallery_size"] != float64(2) || len(body["candidates"].([]any)) != 2 || (first(body) != "actor1" && first(body) != "actor2") {
		t.Fatalf("search within a group: %v", body)
	}

	// A delete is reflected in the next search.
	take := ravdess(t, 7, 2, 1, 1, 1)
	if got := first(identify(take, nil)); got != "actor7" {
		t.Fatalf("before the delete: %s", got)
	}
	if st, body, _ := e.do("DELETE", "/v1/profiles/actor7", key, nil); st != 200 && st != 204 {
		t.Fatalf("delete: %d %v", st, body)
	}
	body = identify(take, nil)
	for _, c := range body["candidates"].([]any) {
		if c.(map[string]any)["user_id"] == "actor7" {
			t.Fatalf("deleted profile still found: %v", body)
		}
	}
	if body["gallery_size"] != float64(11) { // the newcomer's one take is not an enrollment yet
		t.Fatalf("gallery after the delete: %v", body["gallery_size"])
	}

	// A verify key may identify; another tenant sees none of acme's voices.
	other := e.key("globex", voxgate.ScopeVerify)
	st, body = e.upload("/v1/voice/identify", other, nil, "audio", take)
	if st != 200 || body["decision"] != "unknown" || body["reason"] != "empty_gallery" || len(body["candidates"].([]any)) != 0 {
		t.Fatalf("another tenant: %d %v", st, body)
	}
	if st, body, hdr := e.do("GET", "/v1/groups/watchlist", other, nil); st != 403 {
		assertError(t, st, body, hdr, 403, "forbidden")
	}
}

func TestAsyncIdentificationReachesTheWebhook(t *testing.T) {
	e, key, rc := asyncEnv(t, service.AsyncConfig{})
	callback := rc.srv.URL + "/voxgate"
	enrollNeutral(t, e.testEnv, key, "actor10", 10)
	enrollNeutral(t, e.testEnv, key, "actor12", 12)

	req := map[string]any{"voice_data": base64.StdEncoding.EncodeToString(ravdess(t, 10, 2, 1, 2, 1)), "request_uuid": ids.UUID(), "top": 2}
	st, body, _ := e.do("POST", "/organisations/acme/identifications", key, req)
	wantAccepted(t, st, body, callback)
	ev := rc.event(60 * time.Second)
	cands, _ := ev["candidates"].([]any)
	if ev["event_type"] != "identification.completed" || ev["request_uuid"] != req["request_uuid"] || ev["result"] != "identified" ||
		ev["external_id"] != "actor10" || len(cands) != 2 || ev["deepfake_detected"] != false || ev["threshold"] == nil {
		t.Fatalf("identification event %v", ev)
	}
	// Within a group that leaves actor 10 out, nobody is named.
	e.do("PUT", "/v1/groups/others/members", key, map[string]any{"add": []string{"actor12"}})
	req = map[string]any{"voice_data": base64.StdEncoding.EncodeToString(ravdess(t, 10, 2, 1, 2, 1)), "request_uuid": ids.UUID(), "group": "others"}
	st, body, _ = e.do("POST", "/organisations/acme/identifications", key, req)
	wantAccepted(t, st, body, callback)
	if ev = rc.event(60 * time.Second); ev["result"] != "unknown" || ev["external_id"] != "" || ev["group"] != "others" {
		t.Fatalf("identification within a group %v", ev)
	}
	// An identification names nobody in its request.
	req["request_uuid"], req["external_id"] = ids.UUID(), "actor10"
	st, body, hdr := e.do("POST", "/organisations/acme/identifications", key, req)
	assertError(t, st, body, hdr, 400, "validation_error")
}
