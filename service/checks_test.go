package service

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"

	"voxgate"
	"voxgate/internal/enginetest"
	"voxgate/seal"
	"voxgate/store/sqlite"
)

// TestMissingDeepfakeModelRefusesVerdictsUnlessDegraded: an engine without
// the deepfake detector judges no voice on a strict server, and on a
// degraded one says, in every verdict, that the check did not run.
func TestMissingDeepfakeModelRefusesVerdictsUnlessDegraded(t *testing.T) {
	eng := enginetest.Engine(t) // Silero VAD, no deepfake detector
	ctx := context.Background()
	for _, degraded := range []bool{false, true} {
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "voxgate.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		sealer, _ := seal.New(bytes.Repeat([]byte{3}, 32))
		cfg := DefaultConfig()
		cfg.RequiredSpeech, cfg.Degraded = 5, degraded
		s := New(db, Options{Engine: eng, Sealer: sealer, Config: cfg})
		a := mustActor(t, s, "acme", voxgate.ScopeAdmin)
		if got := s.ChecksNotRun(); !slices.Equal(got, []string{CheckDeepfake}) {
			t.Fatalf("ChecksNotRun = %v", got)
		}
		if _, _, err := s.CreateProfile(ctx, a, "actor1"); err != nil {
			t.Fatal(err)
		}
		_, enrollErr := s.Enroll(ctx, a, "actor1", ravdessFile(t, 1, 1, 1, 1, 1))
		_, verifyErr := s.Verify(ctx, a, VerifyRequest{UserID: "actor1", Audio: ravdessFile(t, 1, 2, 1, 1, 1)})
		if !degraded {
			if voxgate.ErrorCode(enrollErr) != voxgate.EMODELSMISSING || voxgate.ErrorCode(verifyErr) != voxgate.EMODELSMISSING {
				t.Fatalf("strict server: enroll %v, verify %v; want %s", enrollErr, verifyErr, voxgate.EMODELSMISSING)
			}
			continue
		}
		if enrollErr != nil {
			t.Fatalf("degraded enroll: %v", enrollErr)
		}
		enrollActor(t, s, a, "actor2", 2)
		res, err := s.Verify(ctx, a, VerifyRequest{UserID: "actor2", Audio: ravdessFile(t, 2, 2, 1, 1, 1)})
		if err != nil || !slices.Equal(res.ChecksNotRun, []string{CheckDeepfake}) || res.Spoof.Checked {
			t.Fatalf("degraded verify: %+v, %v", res, err)
		}
	}
}
