package httpapi

import (
	"net/http"
	"regexp"
	"strconv"
)

// Version is the API version printed in the OpenAPI document.
const Version = "0.1.0"

var pathParam = regexp.MustCompile(`\{([a-zA-Z_]+)(\.\.\.)?\}`)

// errorSchema is the common error body.
var errorSchema = schema{
	"type":     "object",
	"required": []string{"error", "message", "status", "correlation_id"},
	"properties": schema{
		"error":          schema{"type": "string", "description": "machine-readable code"},
		"message":        schema{"type": "string"},
		"status":         schema{"type": "integer"},
		"correlation_id": schema{"type": "string", "format": "uuid"},
		"retryAfterMs":   schema{"type": "integer", "description": "when to retry (rate limits, cooldowns)"},
		"scope":          schema{"type": "string", "description": "the limit that was hit"},
	},
}

// OpenAPI returns the OpenAPI 3.1 document of every registered route.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		p := openAPIPath(rt.path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		op := map[string]any{
			"operationId": rt.op.id,
			"summary":     rt.op.summary,
			"tags":        []string{rt.op.tag},
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": schema{"type": "string"}})
		}
		for _, q := range rt.op.query {
			params = append(params, map[string]any{"name": q.name, "in": "query", "required": false, "description": q.description, "schema": q.schema})
		}
		if params != nil {
			op["parameters"] = params
		}
		switch rt.op.auth {
		case authNone:
			op["security"] = []any{} // public: no credential
		case authAPIKey:
			op["security"] = []any{map[string]any{"apiKey": []string{}}, map[string]any{"bearerKey": []string{}}}
		case authAdminJWT, authUserJWT:
			op["security"] = []any{map[string]any{"bearerJWT": []string{}}}
		}
		if b := rt.op.request; b != nil {
			op["requestBody"] = map[string]any{"required": true, "content": b.content()}
		}
		responses := map[string]any{}
		for status, b := range rt.op.response {
			resp := map[string]any{"description": http.StatusText(status)}
			if b != nil {
				resp["content"] = b.content()
			}
			responses[strconv.Itoa(status)] = resp
		}
		for _, status := range rt.errorStatuses() {
			if _, ok := responses[strconv.Itoa(status)]; !ok {
				responses[strconv.Itoa(status)] = map[string]any{
					"description": http.StatusText(status),
					"content":     map[string]any{"application/json": map[string]any{"schema": schema{"$ref": "#/components/schemas/Error"}}},
				}
			}
		}
		responses["default"] = map[string]any{
			"description": "error",
			"content":     map[string]any{"application/json": map[string]any{"schema": schema{"$ref": "#/components/schemas/Error"}}},
		}
		op["responses"] = responses
		paths[p][lower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "voxgate",
			"version":     Version,
			"description": "Self-hosted voice biometrics: enrollment, verification, challenge-response, liveness.",
		},
		// The document is served by the server it describes: a relative
		// URL resolves against wherever it was fetched from.
		"servers": []any{map[string]any{"url": "/", "description": "this voxgate server"}},
		"paths":   paths,
		// The requests voxgate sends to webhooks (openapi_webhooks.go).
		"webhooks": webhooksDoc(),
		"components": map[string]any{
			"schemas": map[string]any{"Error": errorSchema},
			"securitySchemes": map[string]any{
				"apiKey":    map[string]any{"type": "apiKey", "in": "header", "name": "x-api-key"},
				"bearerKey": map[string]any{"type": "http", "scheme": "bearer", "description": "the API key as a bearer token"},
				"bearerJWT": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
			},
		},
	}
}

// errorStatuses are the 4xx answers the operation documents: 401 for an
// authenticated route, 400 when it reads a body or query parameters, 404
// when it names a resource in its path, and its own extra ones.
func (rt *route) errorStatuses() []int {
	var out []int
	if rt.op.request != nil || len(rt.op.query) > 0 {
		out = append(out, http.StatusBadRequest)
	}
	if rt.op.auth != authNone {
		out = append(out, http.StatusUnauthorized)
	}
	if pathParam.MatchString(rt.path) {
		out = append(out, http.StatusNotFound)
	}
	return append(out, rt.op.errors...)
}

func lower(m string) string {
	b := []byte(m)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func (s *Server) registerDocs() {
	s.handle("GET", "/openapi.json", operation{
		id: "openapi", summary: "This OpenAPI 3.1 document", tag: "operations",
		response: map[int]*body{200: jsonBody(schema{"type": "object"})},
	}, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.OpenAPI())
	})
}
