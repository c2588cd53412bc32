package httpapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"
)

// schemaOf returns the JSON schema of what encoding/json writes for values
// of v's type, so that the OpenAPI document of a response the service
// builds as a Go struct (usage, learning, calibration...) follows the
// struct: every field, its JSON type, required unless omitempty.
//
//   - time.Time is a date-time string; json.RawMessage and interfaces are
//     any JSON value; []byte is base64.
//   - A pointer without omitempty may be null; with omitempty it is left
//     out instead, so the schema is its element's.
//   - Embedded structs contribute their fields, as encoding/json does.
//   - Slices are documented as arrays: a handler must not encode a nil
//     slice (null); the conformance test of the observed responses holds
//     it to that.
func schemaOf(v any) schema { return typeSchema(reflect.TypeOf(v)) }

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

func typeSchema(t reflect.Type) schema {
	switch t {
	case timeType:
		return schema{"type": "string", "format": "date-time"}
	case rawType:
		return schema{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(typeSchema(t.Elem()))
	case reflect.Bool:
		return schema{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return schema{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return schema{"type": "number"}
	case reflect.String:
		return schema{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return schema{"type": "string", "format": "byte"}
		}
		return schema{"type": "array", "items": typeSchema(t.Elem())}
	case reflect.Map:
		return schema{"type": "object", "additionalProperties": typeSchema(t.Elem())}
	case reflect.Struct:
		props, required := schema{}, []string{}
		structFields(t, props, &required)
		s := schema{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	default: // interfaces: any JSON value
		return schema{}
	}
}

// structFields adds t's JSON fields to props, and the names of those
// always present to required.
func structFields(t reflect.Type, props schema, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				structFields(ft, props, required)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		fs := typeSchema(ft)
		if omit && ft.Kind() == reflect.Pointer {
			fs = typeSchema(ft.Elem())
		}
		props[name] = fs
		if !omit {
			*required = append(*required, name)
		}
	}
}

// nullable lets s also be null.
func nullable(s schema) schema {
	out := schema{}
	for k, v := range s {
		out[k] = v
	}
	switch t := s["type"].(type) {
	case string:
		out["type"] = []string{t, "null"}
	case nil:
		// any value, null included
	}
	return out
}

// with returns a copy of s with the given properties replaced or added
// (descriptions, enums), for a generated schema that needs more than its
// Go type says.
func with(s schema, props schema) schema {
	out := schema{}
	for k, v := range s {
		out[k] = v
	}
	p := schema{}
	if old, ok := s["properties"].(schema); ok {
		for k, v := range old {
			p[k] = v
		}
	}
	for k, v := range props {
		p[k] = v
	}
	out["properties"] = p
	return out
}
