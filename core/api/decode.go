package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/taskercore/tasker-core/core/errs"
)

// strictDecode decodes one JSON value into v, refusing unknown fields and trailing
// data. Errors are errs.Validation naming the field.
//
// Requests are decoded with encoding/json, responses encoded with goccy/go-json:
// goccy's strict mode names the wrong field for an unknown key (a prefix of a
// known one), reports a wrong-typed value without the JSON path, and calls 1.5 for
// an integer a syntax error. Payloads are small; the exact error matters more.
func strictDecode(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var pe *time.ParseError
		if errors.As(err, &pe) {
			return timeError(raw, pe)
		}
		return decodeError(err)
	}
	if dec.More() {
		return errs.New(errs.Validation, nil, "unexpected data after the JSON value")
	}
	return nil
}

func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "(payload)"
		}
		return errs.New(errs.Validation, map[string]any{"field": field, "expected": jsonTypeName(te.Type.String()), "got": te.Value},
			"field %s: expected %s, got %s", field, jsonTypeName(te.Type.String()), te.Value)
	}
	var typed *errs.Error
	if errors.As(err, &typed) {
		return err
	}
	msg := err.Error()
	if i := strings.Index(msg, "unknown field "); i >= 0 {
		field := strings.Trim(msg[i+len("unknown field "):], `"`)
		return errs.New(errs.Validation, map[string]any{"field": field}, "unknown field %q", field)
	}
	return errs.New(errs.Validation, nil, "malformed JSON: %s", msg)
}

// timeError names the field of a time that does not parse: encoding/json gives
// no field for an error of time.Time's own decoder, so it is the key whose value
// is the offending string.
func timeError(raw []byte, pe *time.ParseError) error {
	field := "(payload)"
	if i := bytes.Index(raw, []byte(strconv.Quote(pe.Value))); i > 0 {
		head := bytes.TrimRight(raw[:i], " \t\r\n")
		if bytes.HasSuffix(head, []byte(":")) {
			head = bytes.TrimRight(head[:len(head)-1], " \t\r\n")
			if j := bytes.LastIndexByte(head[:max(len(head)-1, 0)], '"'); j >= 0 && bytes.HasSuffix(head, []byte(`"`)) {
				field = string(head[j+1 : len(head)-1])
			}
		}
	}
	return errs.New(errs.Validation, map[string]any{"field": field, "expected": "an RFC 3339 time", "got": pe.Value},
		"field %s: expected an RFC 3339 time between years 0000 and 9999 (like 2024-05-01T12:00:00Z), got %.40q", field, pe.Value)
}

func jsonTypeName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string", strings.HasSuffix(goType, "State"):
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return goType
}

// checkPayload refuses payloads that are too large, not UTF-8, or nested deeper
// than maxDepth, before any decoding work.
func checkPayload(raw []byte, maxBytes, maxDepth int) error {
	if len(raw) > maxBytes {
		return errs.New(errs.Validation, map[string]any{"bytes": len(raw), "max_payload_bytes": maxBytes},
			"payload of %d bytes exceeds max_payload_bytes (%d)", len(raw), maxBytes)
	}
	if !utf8.Valid(raw) {
		return errs.New(errs.Validation, nil, "payload is not valid UTF-8")
	}
	depth, inString, escaped := 0, false, false
	for _, b := range raw {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
			if depth > maxDepth {
				return errs.New(errs.Validation, map[string]any{"max_json_depth": maxDepth},
					"payload nests deeper than max_json_depth (%d)", maxDepth)
			}
		case b == '}' || b == ']':
			depth--
		}
	}
	return nil
}
