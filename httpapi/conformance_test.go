package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"voxgate/ids"
)

// The suite's HTTP tests run their servers through conformingServer: every
// response any test observes is checked against the operation the
// OpenAPI document gives for its route and status, so the document cannot
// drift from what the server answers.

// conformingServer starts api on a loopback port, checking each response
// against api's own OpenAPI document; a mismatch fails t.
func conformingServer(t *testing.T, api *Server) *httptest.Server {
	t.Helper()
	doc := roundTrip(t, api.OpenAPI())
	h := api.Handler()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := api.mux.Handler(r)
		method, path := r.Method, r.URL.Path
		rec := &recordingWriter{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if err := checkResponse(doc, pattern, rec.status, rec.Header().Get("Content-Type"), rec.body.Bytes()); err != nil {
			t.Errorf("%s %s answered %d, not as /openapi.json documents it: %v", method, path, rec.status, err)
		}
	}))
}

// roundTrip turns the document into what a client sees: plain JSON values.
func roundTrip(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// recordingWriter keeps a copy of the status and body.
type recordingWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// checkResponse validates one answer of the mux pattern ("" or "/" for
// unmatched paths, which answer the common error).
func checkResponse(doc map[string]any, pattern string, status int, contentType string, body []byte) error {
	// 304s have no body; redirects of unclean paths come from ServeMux
	// itself, for any route.
	if status == http.StatusNotModified || status == http.StatusNoContent || status/100 == 3 {
		return nil
	}
	var responses map[string]any
	if pattern != "" && pattern != "/" {
		method, path, _ := strings.Cut(pattern, " ")
		op, _ := dig(doc, "paths", openAPIPath(path), lower(method)).(map[string]any)
		if op == nil {
			return fmt.Errorf("route %q is not in the document", pattern)
		}
		responses, _ = op["responses"].(map[string]any)
	} else {
		responses = map[string]any{"default": map[string]any{"content": map[string]any{
			"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}}
	}
	resp, _ := responses[strconv.Itoa(status)].(map[string]any)
	if resp == nil {
		resp, _ = responses[strconv.Itoa(status/100)+"XX"].(map[string]any)
	}
	if resp == nil {
		resp, _ = responses["default"].(map[string]any)
	}
	if resp == nil {
		return fmt.Errorf("status %d is not documented", status)
	}
	content, _ := resp["content"].(map[string]any)
	if content == nil {
		if len(body) > 0 {
			return fmt.Errorf("documented without a body, answered %d bytes", len(body))
		}
		return nil
	}
	media, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("Content-Type %q: %v", contentType, err)
	}
	entry, _ := content[media].(map[string]any)
	if entry == nil {
		var documented []string
		for m := range content {
			documented = append(documented, m)
		}
		sort.Strings(documented)
		return fmt.Errorf("Content-Type %s, documented %v", media, documented)
	}
	if media != "application/json" {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("body is not JSON: %v", err)
	}
	sch, _ := entry["schema"].(map[string]any)
	return validator{doc: doc, strict: true}.validate(sch, v, "body")
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// validator checks a JSON value against a JSON schema (2020-12) for the
// subset of keywords the document uses; a keyword it does not know is an
// error, so that the document cannot start relying on one unchecked.
// strict also refuses properties that an object schema with "properties"
// does not list (unless it says additionalProperties): the document must
// name every field the server sends, or generated clients lose them.
type validator struct {
	doc    map[string]any
	strict bool
}

// annotations are keywords that do not constrain a value.
var annotations = map[string]bool{"description": true, "default": true, "examples": true, "title": true, "deprecated": true}

func (vd validator) validate(s map[string]any, v any, at string) error {
	if ref, ok := s["$ref"].(string); ok {
		target, _ := dig(vd.doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...).(map[string]any)
		if target == nil {
			return fmt.Errorf("%s: unresolved $ref %s", at, ref)
		}
		return vd.validate(target, v, at)
	}
	for k := range s {
		switch k {
		case "type", "properties", "required", "items", "enum", "const", "additionalProperties",
			"minimum", "maximum", "minItems", "maxItems", "minLength", "maxLength", "format":
		default:
			if !annotations[k] {
				return fmt.Errorf("%s: schema keyword %q not supported by the test's validator", at, k)
			}
		}
	}
	if t, ok := s["type"]; ok {
		if err := checkType(t, v, at); err != nil {
			return err
		}
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return jsonEqual(x, v) }) {
		return fmt.Errorf("%s: %v is not one of %v", at, v, e)
	}
	if c, ok := s["const"]; ok && !jsonEqual(c, v) {
		return fmt.Errorf("%s: %v, want %v", at, v, c)
	}
	switch x := v.(type) {
	case float64:
		if m, ok := s["minimum"].(float64); ok && x < m {
			return fmt.Errorf("%s: %v < minimum %v", at, x, m)
		}
		if m, ok := s["maximum"].(float64); ok && x > m {
			return fmt.Errorf("%s: %v > maximum %v", at, x, m)
		}
	case string:
		if m, ok := s["minLength"].(float64); ok && float64(len([]rune(x))) < m {
			return fmt.Errorf("%s: %q shorter than %v", at, x, m)
		}
		if m, ok := s["maxLength"].(float64); ok && float64(len([]rune(x))) > m {
			return fmt.Errorf("%s: %q longer than %v", at, x, m)
		}
		if f, ok := s["format"].(string); ok {
			if err := checkFormat(f, x); err != nil {
				return fmt.Errorf("%s: %v", at, err)
			}
		}
	case []any:
		if m, ok := s["minItems"].(float64); ok && float64(len(x)) < m {
			return fmt.Errorf("%s: %d items, minimum %v", at, len(x), m)
		}
		if m, ok := s["maxItems"].(float64); ok && float64(len(x)) > m {
			return fmt.Errorf("%s: %d items, maximum %v", at, len(x), m)
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, e := range x {
				if err := vd.validate(items, e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		return vd.validateObject(s, x, at)
	}
	return nil
}

func (vd validator) validateObject(s map[string]any, x map[string]any, at string) error {
	if req, ok := s["required"].([]any); ok {
		for _, r := range req {
			if _, ok := x[r.(string)]; !ok {
				return fmt.Errorf("%s: required property %q missing", at, r)
			}
		}
	}
	props, _ := s["properties"].(map[string]any)
	keys := make([]string, 0, len(x))
	for k := range x {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if ps, ok := props[k].(map[string]any); ok {
			if err := vd.validate(ps, x[k], at+"."+k); err != nil {
				return err
			}
			continue
		}
		switch ap := s["additionalProperties"].(type) {
		case bool:
			if !ap {
				return fmt.Errorf("%s: property %q not allowed", at, k)
			}
		case map[string]any:
			if err := vd.validate(ap, x[k], at+"."+k); err != nil {
				return err
			}
		case nil:
			if vd.strict && props != nil {
				return fmt.Errorf("%s: property %q is answered but not documented", at, k)
			}
		}
	}
	return nil
}

func checkType(t any, v any, at string) error {
	var types []string
	switch t := t.(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			types = append(types, x.(string))
		}
	}
	for _, want := range types {
		if typeIs(want, v) {
			return nil
		}
	}
	return fmt.Errorf("%s: %s, want type %v", at, describe(v), t)
}

func typeIs(want string, v any) bool {
	switch x := v.(type) {
	case nil:
		return want == "null"
	case bool:
		return want == "boolean"
	case string:
		return want == "string"
	case float64:
		return want == "number" || (want == "integer" && x == float64(int64(x)))
	case []any:
		return want == "array"
	case map[string]any:
		return want == "object"
	}
	return false
}

func describe(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		b = append(b[:60], "..."...)
	}
	return string(b)
}

func checkFormat(f, s string) error {
	switch f {
	case "date-time":
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("%q is not an RFC 3339 date-time", s)
		}
	case "uuid":
		if !ids.IsUUID(s) {
			return fmt.Errorf("%q is not a UUID", s)
		}
	case "uri":
		if u, err := url.Parse(s); err != nil || u.Scheme == "" {
			return fmt.Errorf("%q is not an absolute URI", s)
		}
	}
	return nil
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestValidatorCatchesWhatTheDocumentForbids keeps the checker honest: a
// validator that accepts everything would make every conformance check
// pass.
func TestValidatorCatchesWhatTheDocumentForbids(t *testing.T) {
	doc := map[string]any{"components": map[string]any{"schemas": map[string]any{"E": map[string]any{"type": "string"}}}}
	obj := func(props map[string]any, req ...any) map[string]any {
		return map[string]any{"type": "object", "properties": props, "required": req}
	}
	tests := []struct {
		name   string
		schema map[string]any
		value  string
		ok     bool
	}{
		{"matching object", obj(map[string]any{"a": map[string]any{"type": "integer"}}, "a"), `{"a":1}`, true},
		{"missing required", obj(map[string]any{"a": map[string]any{"type": "integer"}}, "a"), `{}`, false},
		{"wrong type", obj(map[string]any{"a": map[string]any{"type": "integer"}}), `{"a":1.5}`, false},
		{"undocumented property", obj(map[string]any{"a": map[string]any{"type": "integer"}}), `{"a":1,"b":2}`, false},
		{"map values", map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "integer"}}, `{"x":1,"y":"2"}`, false},
		{"nullable", map[string]any{"type": []any{"string", "null"}}, `null`, true},
		{"null where not nullable", map[string]any{"type": "array"}, `null`, false},
		{"enum", map[string]any{"type": "string", "enum": []any{"a", "b"}}, `"c"`, false},
		{"const", map[string]any{"const": true}, `false`, false},
		{"item type", map[string]any{"type": "array", "items": map[string]any{"type": "number"}}, `[1,"x"]`, false},
		{"date-time", map[string]any{"type": "string", "format": "date-time"}, `"yesterday"`, false},
		{"maximum", map[string]any{"type": "number", "maximum": 1.0}, `1.5`, false},
		{"ref", map[string]any{"$ref": "#/components/schemas/E"}, `3`, false},
		{"unknown keyword", map[string]any{"pattern": "^a"}, `"a"`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tc.value), &v); err != nil {
				t.Fatal(err)
			}
			s := roundTrip(t, map[string]any{"s": tc.schema})["s"].(map[string]any)
			err := validator{doc: doc, strict: true}.validate(s, v, "body")
			if (err == nil) != tc.ok {
				t.Fatalf("validate(%s) = %v, want ok=%v", tc.value, err, tc.ok)
			}
		})
	}
}
