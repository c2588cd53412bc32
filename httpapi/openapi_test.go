package httpapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
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
