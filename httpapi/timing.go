package httpapi

import (
	"net/http"
	"time"

	"voxgate/timing"
)

// withTiming, when the server was built with ServerTiming, records the
// request's stage durations and sends them in a Server-Timing header
// (https://www.w3.org/TR/server-timing/), with "total" for the handler's
// whole time. The header must precede the body, so it is written when the
// handler first writes.
func (s *Server) withTiming(next http.Handler) http.Handler {
	if !s.serverTiming {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, rec := timing.With(r.Context())
		tw := &timingWriter{ResponseWriter: w, rec: rec, start: time.Now()}
		next.ServeHTTP(tw, r.WithContext(ctx))
		tw.flushHeader()
	})
}

// timingWriter adds the Server-Timing header before the first byte.
type timingWriter struct {
	http.ResponseWriter
	rec     *timing.Recorder
	start   time.Time
	written bool
}

func (w *timingWriter) flushHeader() {
	if w.written {
		return
	}
	w.written = true
	spans := append(w.rec.Stages(), timing.Span{Name: "total", Duration: time.Since(w.start)})
	w.Header().Set("Server-Timing", timing.Header(spans))
}

func (w *timingWriter) WriteHeader(code int) {
	w.flushHeader()
	w.ResponseWriter.WriteHeader(code)
}

func (w *timingWriter) Write(b []byte) (int, error) {
	w.flushHeader()
	return w.ResponseWriter.Write(b)
}

func (w *timingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
