package api

import (
	"github.com/goccy/go-json"

	"github.com/taskercore/tasker-core/core/errs"
)

// ErrorBody is the error half of an envelope.
type ErrorBody struct {
	Type    errs.Kind      `json:"type"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// Envelope is what every call returns: {"ok":true,"data":…} or
// {"ok":false,"error":{"type","message","details"}}.
type Envelope struct {
	OK    bool       `json:"ok"`
	Data  any        `json:"data,omitempty"`
	Error *ErrorBody `json:"error,omitempty"`
}

// ErrorOf converts an error to its envelope body.
func ErrorOf(err error) *ErrorBody {
	d := errs.DetailsOf(err)
	if d == nil {
		d = map[string]any{}
	}
	return &ErrorBody{Type: errs.KindOf(err), Message: err.Error(), Details: d}
}

// Encode returns the envelope for a result or an error. It never fails: a value
// that cannot be encoded becomes an internal_error envelope.
func Encode(data any, err error) []byte {
	env := Envelope{OK: err == nil, Data: data}
	if err != nil {
		env.Data, env.Error = nil, ErrorOf(err)
	} else if data == nil {
		env.Data = map[string]any{}
	}
	b, mErr := json.Marshal(env)
	if mErr != nil {
		b, _ = json.Marshal(Envelope{Error: ErrorOf(errs.Wrap(errs.Internal, mErr, "encode result"))})
	}
	return b
}
