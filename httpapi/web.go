package httpapi

import (
	"net/http"
	"time"

	"voxgate"
	"voxgate/web"
)

// The browser side: the VoiceAuthorize SDK under /sdk/ and the evaluation
// console under /console (package web embeds both).

// consoleCSP confines the console to its own files and to this server: no
// inline script, nothing from elsewhere, no framing. Audio worklets load
// from 'self' (script-src).
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; media-src 'self' blob:; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func (s *Server) registerWeb() {
	sdk, err := web.NewAssets("sdk", 5*time.Minute)
	if err != nil {
		panic("httpapi: embedded SDK: " + err.Error())
	}
	console, err := web.NewAssets("console", 0)
	if err != nil {
		panic("httpapi: embedded console: " + err.Error())
	}
	s.handle("GET", "/sdk/{file}", operation{
		id: "sdkFile", summary: "The VoiceAuthorize browser SDK: voiceauthorize.js (script), voiceauthorize.mjs (ES module), recorder-worklet.js, voiceauthorize.d.ts", tag: "web",
		response: map[int]*body{200: {contentType: "text/javascript", schema: schema{"type": "string"}, also: []string{"text/plain"}}},
		errors:   []int{http.StatusNotFound},
	}, func(w http.ResponseWriter, r *http.Request) {
		// Public files: any page may load them, module and worklet included.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
		if !sdk.Serve(w, r, r.PathValue("file")) {
			writeError(w, r, voxgate.Errorf(voxgate.ENOTFOUND, "no SDK file %q", r.PathValue("file")))
		}
	})
	serveConsole := func(w http.ResponseWriter, r *http.Request, name string) {
		h := w.Header()
		h.Set("Content-Security-Policy", consoleCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Permissions-Policy", "microphone=(self)")
		if !console.Serve(w, r, name) {
			writeError(w, r, voxgate.Errorf(voxgate.ENOTFOUND, "no console file %q", name))
		}
	}
	html := map[int]*body{200: {contentType: "text/html", schema: schema{"type": "string"}}}
	s.handle("GET", "/console", operation{
		id: "console", summary: "The evaluation console: usage, learning, recent decisions, a try-it recorder (sign in with an API key)", tag: "web",
		response: html,
	}, func(w http.ResponseWriter, r *http.Request) { serveConsole(w, r, "index.html") })
	s.handle("GET", "/console/{file...}", operation{
		id: "consoleFile", summary: "The console's scripts and styles", tag: "web",
		response: map[int]*body{200: {contentType: "text/javascript", schema: schema{"type": "string"}, also: []string{"text/css", "text/html"}}},
	}, func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if name == "" {
			name = "index.html"
		}
		serveConsole(w, r, name)
	})
}
