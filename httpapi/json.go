package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"voxgate"
)

// writeJSON writes v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	// API answers carry secrets (keys, client and voice tokens) and
	// biometric results: no cache, shared or private, may keep them.
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// maxJSONBody bounds JSON bodies without audio in them.
const maxJSONBody = 1 << 20

// decodeJSON reads one JSON object from the body into v, bounded by limit
// bytes, whatever Content-Type the client put on it. Unknown fields are allowed (clients of other APIs send extras);
// wrong types, trailing data and oversize bodies are not.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	// The body is judged by its content, not its Content-Type: `curl -d
	// '{...}'` labels JSON as a form, and a drop-in API must accept it.
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "multipart/") {
		return voxgate.Errorf(voxgate.EINVALID, "request body must be JSON, not multipart")
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return voxgate.Errorf(voxgate.EPAYLOADTOOLARGE, "request body larger than %d bytes", mbe.Limit)
		case errors.Is(err, io.EOF):
			return voxgate.Errorf(voxgate.EINVALID, "request body must be a JSON object")
		case errors.As(err, &ute):
			return voxgate.Errorf(voxgate.EINVALID, "field %q must be %s", ute.Field, ute.Type.String())
		default:
			return voxgate.Errorf(voxgate.EINVALID, "invalid JSON body")
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return voxgate.Errorf(voxgate.EINVALID, "request body must hold exactly one JSON object")
	}
	return nil
}
