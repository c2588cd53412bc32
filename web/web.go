// Package web holds voxgate's browser side, embedded in the binary: the
// VoiceAuthorize SDK (sdk/: the plain script, the ES module, the
// AudioWorklet recorder and TypeScript declarations) and the evaluation
// console (console/: one page of HTML, CSS and JavaScript without a
// framework or anything loaded from elsewhere). It serves them as static
// files with content types, strong ETags and cache headers; the routes
// themselves are registered by httpapi.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// FS holds the assets: sdk/... and console/....
//
//go:embed sdk console
var FS embed.FS

// Assets serves the files of one directory of FS.
type Assets struct {
	files  map[string]asset
	maxAge time.Duration
}

type asset struct {
	body        []byte
	contentType string
	etag        string
}

// contentTypes fixes the types the browser is strict about (module
// scripts, worklets) rather than trusting the platform's MIME table.
var contentTypes = map[string]string{
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".html": "text/html; charset=utf-8",
	".svg":  "image/svg+xml",
	".ts":   "text/plain; charset=utf-8", // .d.ts: for reading and downloading
	".json": "application/json",
}

// NewAssets loads every file under dir of FS, to be served with
// Cache-Control max-age maxAge (0: no-cache, revalidated by ETag).
func NewAssets(dir string, maxAge time.Duration) (*Assets, error) {
	a := &Assets{files: map[string]asset{}, maxAge: maxAge}
	err := fs.WalkDir(FS, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := FS.ReadFile(p)
		if err != nil {
			return err
		}
		ext := path.Ext(p)
		ct, ok := contentTypes[ext]
		if !ok {
			ct = mime.TypeByExtension(ext)
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(b)
		a.files[strings.TrimPrefix(p, dir+"/")] = asset{body: b, contentType: ct, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	return a, err
}

// Names lists the files Assets serves, relative to its directory.
func (a *Assets) Names() []string {
	var out []string
	for n := range a.files {
		out = append(out, n)
	}
	return out
}

// Has reports whether name is served.
func (a *Assets) Has(name string) bool {
	_, ok := a.files[name]
	return ok
}

// Serve writes file name (relative to the directory) and reports whether
// it exists; the caller answers a missing file.
func (a *Assets) Serve(w http.ResponseWriter, r *http.Request, name string) bool {
	f, ok := a.files[name]
	if !ok {
		return false
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if a.maxAge > 0 {
		h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(a.maxAge/time.Second)))
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatch(match, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(f.body)
	}
	return true
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
