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
	id      string
	summary string
	tag     string
	auth    auth
	request *body // nil: no body
	// query lists the query parameters the handler reads.
	query    []param
	response map[int]*body
	// errors are the error statuses the operation answers beyond those
	// the document derives from its shape (401 with auth, 400 with a body
	// or query, 404 with path parameters).
	errors []int
}

// param is one query parameter.
type param struct {
	name, description string
	schema            schema
}

// body is a request or response content: its media type and schema.
type body struct {
	contentType string
	schema      schema
	// also are further media types the same content may come as (static
	// files of several kinds under one route).
	also []string
}

// content is the body's OpenAPI content map.
func (b *body) content() map[string]any {
	c := map[string]any{b.contentType: map[string]any{"schema": b.schema}}
	for _, m := range b.also {
		c[m] = map[string]any{"schema": b.schema}
	}
	return c
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
