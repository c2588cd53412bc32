package weights

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"voxgate/internal/shared"
)

// mirror serves the shared models folder under the upstream URL paths, as a
// mirror of raw.githubusercontent.com would (the optional files it has, too).
func mirror(t *testing.T, tamper string) *httptest.Server {
	t.Helper()
	dir := filepath.Join(shared.Dir(t), "models")
	byPath := map[string]string{}
	for _, f := range append(Manifest(), Optional()...) {
		byPath[strings.TrimPrefix(f.URL, "https://raw.githubusercontent.com")] = filepath.Join(dir, f.Path)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		local, ok := byPath[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(local)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if strings.HasSuffix(local, tamper) && tamper != "" {
			b[len(b)/2] ^= 1
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// optionalIn counts the optional files dir holds.
func optionalIn(dir string) int {
	n := 0
	for _, f := range Optional() {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.Path))); err == nil {
			n++
		}
	}
	return n
}

func TestManifestMatchesSharedModels(t *testing.T) {
	if errs := Verify(filepath.Join(shared.Dir(t), "models")); len(errs) > 0 {
		t.Fatalf("shared models differ from the manifest: %v", errs)
	}
}

func TestPullFetchesAndVerifies(t *testing.T) {
	srv := mirror(t, "")
	dir := t.TempDir()
	var log strings.Builder
	p := &Puller{Client: srv.Client(), Mirror: srv.URL, Log: &log}
	if err := p.Pull(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if errs := Verify(dir); len(errs) > 0 {
		t.Fatalf("after pull: %v", errs)
	}
	if strings.Count(log.String(), "fetched") != len(Manifest())+optionalIn(filepath.Join(shared.Dir(t), "models")) {
		t.Fatalf("log: %s", log.String())
	}
	// A second pull keeps the good files and downloads nothing.
	log.Reset()
	if err := p.Pull(context.Background(), dir); err != nil || strings.Contains(log.String(), "fetched") {
		t.Fatalf("second pull: %v\n%s", err, log.String())
	}
}

func TestPullRefusesTamperedFile(t *testing.T) {
	srv := mirror(t, "AASIST.pth")
	dir := t.TempDir()
	err := (&Puller{Client: srv.Client(), Mirror: srv.URL}).Pull(context.Background(), dir)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("Pull = %v, want checksum error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "aasist", "AASIST.pth")); !os.IsNotExist(err) {
		t.Fatal("a tampered download was left under the real name")
	}
	left, _ := filepath.Glob(filepath.Join(dir, "aasist", ".pull-*"))
	if len(left) > 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

func TestPullCopiesVerifiedFilesWithoutNetwork(t *testing.T) {
	dir := t.TempDir()
	var log strings.Builder
	// Nothing listens on port 1: every download would fail.
	p := &Puller{Mirror: "http://127.0.0.1:1", Log: &log, From: []string{t.TempDir(), filepath.Join(shared.Dir(t), "models")}}
	if err := p.Pull(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if errs := Verify(dir); len(errs) > 0 {
		t.Fatalf("after pull: %v", errs)
	}
	if strings.Count(log.String(), "copied") != len(Manifest())+optionalIn(filepath.Join(shared.Dir(t), "models")) {
		t.Fatalf("log: %s", log.String())
	}
}

func TestPullGoesOnWithoutOptionalFiles(t *testing.T) {
	// a copy of the shared folder's required files only; no network
	from := t.TempDir()
	src := filepath.Join(shared.Dir(t), "models")
	for _, f := range Manifest() {
		b, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(from, f.Path)), 0o755)
		os.WriteFile(filepath.Join(from, filepath.FromSlash(f.Path)), b, 0o644)
	}
	dir := t.TempDir()
	var log strings.Builder
	p := &Puller{Mirror: "http://127.0.0.1:1", Log: &log, From: []string{from}}
	if err := p.Pull(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if errs := Verify(dir); len(errs) > 0 {
		t.Fatalf("after pull: %v", errs)
	}
	if strings.Count(log.String(), "skipped") != len(Optional()) {
		t.Fatalf("log: %s", log.String())
	}
}

func TestVerifyChecksOptionalFilesPresent(t *testing.T) {
	dir := t.TempDir()
	f := Optional()[0]
	bad := filepath.Join(dir, filepath.FromSlash(f.Path))
	os.MkdirAll(filepath.Dir(bad), 0o755)
	os.WriteFile(bad, []byte("not the model"), 0o644)
	found := false
	for _, err := range Verify(dir) {
		if strings.HasPrefix(err.Error(), f.Path+":") && errors.Is(err, ErrChecksum) {
			found = true
		}
	}
	if !found {
		t.Fatalf("Verify did not report the wrong %s", f.Path)
	}
}

func TestPullWithoutNetworkOrCopiesSaysWhatToDo(t *testing.T) {
	dir := t.TempDir()
	p := &Puller{Mirror: "http://127.0.0.1:1", From: []string{t.TempDir()}}
	err := p.Pull(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), "no network?") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Pull = %v", err)
	}
}

func TestPullDoesNotCopyAWrongFile(t *testing.T) {
	from := t.TempDir()
	f := Manifest()[0]
	bad := filepath.Join(from, filepath.FromSlash(f.Path))
	os.MkdirAll(filepath.Dir(bad), 0o755)
	os.WriteFile(bad, []byte("not the model"), 0o644)
	srv := mirror(t, "")
	dir := t.TempDir()
	var log strings.Builder
	p := &Puller{Client: srv.Client(), Mirror: srv.URL, Log: &log, From: []string{from}}
	if err := p.Pull(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "fetched   "+f.Path) {
		t.Fatalf("a wrong local copy was used:\n%s", log.String())
	}
}
