package httpapi

import (
	"net/http"
	"strings"
)

// auth says how a route authenticates its caller.
type auth int

const (
	authNone auth = iota
	authAPIKey
	authAdminJWT
	authUserJWT
)

// route is one operation: its pattern, its handler and what the OpenAPI
// document says of it. Every route is registered through handle, so the
// document cannot forget one.
type route struct {
	method, path string
	op           operation
	handler      http.HandlerFunc
}

// operation is the OpenAPI description of a route.
type operation struct {
	id       string
	summary  string
	tag      string
	auth     auth
	request  *body // nil: no body
	response map[int]*body
}

// body is a request or response content: its media type and schema.
type body struct {
	contentType string
	schema      schema
}

type schema = map[string]any

func jsonBody(s schema) *body      { return &body{contentType: "application/json", schema: s} }
func multipartBody(s schema) *body { return &body{contentType: "multipart/form-data", schema: s} }

// handle registers h for "METHOD /path" and records its documentation.
func (s *Server) handle(method, path string, op operation, h http.HandlerFunc) {
	pattern := method + " " + path
	rt := &route{method: method, path: path, op: op, handler: h}
	s.routes = append(s.routes, rt)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		reqContext(r.Context()).route = pattern
		h(w, r)
	})
}

// openAPIPath turns a ServeMux pattern into an OpenAPI path ("{id...}" to "{id}").
func openAPIPath(p string) string { return strings.ReplaceAll(p, "...}", "}") }
