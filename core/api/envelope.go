package api

import (
	"github.com/goccy/go-json"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/logging"
)

// ErrorBody is the error half of an envelope.
type ErrorBody struct {
	Type    errs.Kind      `json:"type"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// Envelope is what every call returns: {"ok":true,"data":…} or
// {"ok":false,"error":{"type","message","details"}}, plus, when the host sink
// holds log lines (logging.output "host"), "logs" (the JSON lines, oldest
// first) and "logs_dropped" (lines lost to a full sink since the last
// envelope): any call carries the lines logged since the previous one, so the
// host needs no thread to collect them.
type Envelope struct {
	OK          bool              `json:"ok"`
	Data        any               `json:"data,omitempty"`
	Error       *ErrorBody        `json:"error,omitempty"`
	Logs        []json.RawMessage `json:"logs,omitempty"`
	LogsDropped uint64            `json:"logs_dropped,omitempty"`
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
	if logging.Host().Pending() {
		lines, dropped := logging.Host().Drain()
		env.Logs = make([]json.RawMessage, len(lines))
		for i, l := range lines {
			env.Logs[i] = l
		}
		env.LogsDropped = dropped
	}
	b, mErr := json.Marshal(env)
	if mErr != nil {
		b, _ = json.Marshal(Envelope{Error: ErrorOf(errs.Wrap(errs.Internal, mErr, "encode result")),
			LogsDropped: env.LogsDropped + uint64(len(env.Logs))})
	}
	return b
}
