package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"voxgate/service"
)

// TestOpenAPIDocumentsExactlyTheRegisteredRoutes keeps /openapi.json true:
// every route the mux serves is documented, and every documented operation
// is served by the mux under the same pattern.
func TestOpenAPIDocumentsExactlyTheRegisteredRoutes(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	var documented []string
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			var op struct {
				OperationID string                     `json:"operationId"`
				Responses   map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil || op.OperationID == "" || len(op.Responses) == 0 {
				t.Errorf("%s %s: incomplete operation", method, path)
			}
			m := strings.ToUpper(method)
			documented = append(documented, m+" "+path)
			req, _ := http.NewRequest(m, param.ReplaceAllString(path, "x"), nil)
			if _, pattern := e.api.mux.Handler(req); openAPIPath(pattern) != m+" "+path {
				t.Errorf("documented %s %s is served by mux pattern %q", m, path, pattern)
			}
		}
	}
	var registered []string
	for _, rt := range e.api.routes {
		registered = append(registered, rt.method+" "+openAPIPath(rt.path))
	}
	sort.Strings(documented)
	sort.Strings(registered)
	if strings.Join(documented, "\n") != strings.Join(registered, "\n") {
		t.Fatalf("documented:\n%s\nregistered:\n%s", strings.Join(documented, "\n"), strings.Join(registered, "\n"))
	}
}

// TestOpenAPIWebhooksDescribeThePayloadsSent keeps the webhooks section
// true: each event's schema names exactly the JSON fields of the payload
// type the service sends, and its required list only fields that are
// always present.
func TestOpenAPIWebhooksDescribeThePayloadsSent(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Webhooks map[string]struct {
			Post struct {
				OperationID string `json:"operationId"`
				Parameters  []struct {
					Name string `json:"name"`
					In   string `json:"in"`
				} `json:"parameters"`
				RequestBody struct {
					Content map[string]struct {
						Schema struct {
							Required   []string                   `json:"required"`
							Properties map[string]json.RawMessage `json:"properties"`
						} `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
			} `json:"post"`
		} `json:"webhooks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for event, payload := range map[string]any{
		service.EventVerificationCompleted: service.VerificationEvent{},
		service.EventEnrollmentCompleted:   service.EnrollmentEvent{},
	} {
		op := doc.Webhooks[event].Post
		if op.OperationID == "" {
			t.Errorf("webhooks: no %s", event)
			continue
		}
		var headers []string
		for _, p := range op.Parameters {
			if p.In == "header" {
				headers = append(headers, strings.ToLower(p.Name))
			}
		}
		for _, h := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
			if !slices.Contains(headers, h) {
				t.Errorf("%s: header %s not documented", event, h)
			}
		}
		sch := op.RequestBody.Content["application/json"].Schema
		var documented []string
		for name := range sch.Properties {
			documented = append(documented, name)
		}
		var fields, always []string
		typ := reflect.TypeOf(payload)
		for i := range typ.NumField() {
			name, opts, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			fields = append(fields, name)
			if !strings.Contains(opts, "omitempty") {
				always = append(always, name)
			}
		}
		sort.Strings(documented)
		sort.Strings(fields)
		if !slices.Equal(documented, fields) {
			t.Errorf("%s: documented %v, sent %v", event, documented, fields)
		}
		sort.Strings(always)
		req := slices.Clone(sch.Required)
		sort.Strings(req)
		if !slices.Equal(req, always) {
			t.Errorf("%s: required %v, always sent %v", event, req, always)
		}
	}
}

// TestOpenAPIPassesRedoclyRecommendedLint runs Redocly's linter, with its
// recommended rules, over the served document: what a client generator
// or an API gateway reads must carry no errors. It needs npx (Node) and the
// npm registry the first time; under -short, or without npx outside CI,
// it is skipped.
func TestOpenAPIPassesRedoclyRecommendedLint(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: fetches @redocly/cli with npx")
	}
	npx, err := exec.LookPath("npx")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("npx (Node.js) is needed to lint the OpenAPI document")
		}
		t.Skip("no npx: install Node.js to lint the OpenAPI document")
	}
	e := newEnv(t)
	resp, err := http.Get(e.srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npx, "--yes", "@redocly/cli@2.77.0", "lint", "--format=summary", file)
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redocly lint: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "valid") {
		t.Fatalf("redocly lint did not report a valid document:\n%s", out)
	}
}
