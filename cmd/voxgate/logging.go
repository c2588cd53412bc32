package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// newLogger returns the server's JSON logger at level (debug, info, warn,
// error). Durations are logged in milliseconds: an attribute holding a
// time.Duration becomes "<key>_ms" with a number, so that no line carries
// nanoseconds or Go's "1m30s" notation.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(level))); err != nil {
		return nil, fmt.Errorf("%q is not a level: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l, ReplaceAttr: durationsInMillis})), nil
}

func durationsInMillis(groups []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		d := a.Value.Duration()
		return slog.Float64(a.Key+"_ms", float64(d.Microseconds())/1000)
	}
	return a
}
