// Package shared locates the ../shared folder beside the checkout, where the
// real speech corpora and model weights used by tests and evaluation live.
// They are never copied into the repository.
package shared

import (
	"os"
	"path/filepath"
	"testing"
)

// Find returns the shared folder: $VOXGATE_SHARED, else the first "shared"
// sibling of the working directory or of one of its parents. "" when none.
func Find() string {
	if d := os.Getenv("VOXGATE_SHARED"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		cand := filepath.Join(filepath.Dir(dir), "shared")
		if st, err := os.Stat(filepath.Join(cand, "voice-data")); err == nil && st.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Dir returns the shared folder for a test. Without it the test is skipped,
// or fails when CI is set: in CI, missing data is a failure, not a skip.
func Dir(t testing.TB) string {
	t.Helper()
	d := Find()
	if d == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("../shared (voice-data, models) not found beside the checkout; set VOXGATE_SHARED")
		}
		t.Skip("../shared not found beside the checkout; set VOXGATE_SHARED to run this test")
	}
	return d
}

// Path returns a file under the shared folder, checking that it exists.
func Path(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(Dir(t), rel)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("shared file missing: %v", err)
		}
		t.Skipf("shared file missing: %v", err)
	}
	return p
}
