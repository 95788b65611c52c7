package logging

import (
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/taskercore/tasker-core/core/config"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/internal/pgurl"
)

// Standard field names (besides zerolog's time, level and message).
const (
	Component     = "component"
	CorrelationID = "correlation_id"
	TaskID        = "task_id"
	StepID        = "step_id"
	StepName      = "step_name"
	Namespace     = "namespace"
	Attempt       = "attempt"
	DurationMS    = "duration_ms"
	Error         = "error" // an object: {"type", "message"}
)

// New returns the logger logging.level, logging.format and logging.output
// describe, and a closer for a log file (a no-op for stderr, stdout and the
// host sink). logging.output "host" writes JSON lines to the host sink (Host)
// when a host program collects them (AttachHost), else to stderr.
func New(cfg *config.Config) (zerolog.Logger, io.Closer, error) {
	level, err := zerolog.ParseLevel(cfg.String("logging.level"))
	if err != nil {
		return zerolog.Nop(), nopCloser{}, errs.New(errs.Configuration, map[string]any{"key": "logging.level"},
			"logging.level: %v", err)
	}
	var out io.Writer
	closer := io.Closer(nopCloser{})
	format := cfg.String("logging.format")
	switch dest := cfg.String("logging.output"); dest {
	case "host":
		if !HostAttached() {
			out = os.Stderr
			break
		}
		// The host parses the lines (level, fields): always JSON.
		host.SetCapacity(int(cfg.Int("logging.buffer_lines")))
		out, format = host, "json"
	case "", "stderr":
		out = os.Stderr
	case "stdout":
		out = os.Stdout
	default:
		f, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return zerolog.Nop(), nopCloser{}, errs.New(errs.Configuration, map[string]any{"key": "logging.output", "value": dest},
				"logging.output %s: %v", dest, err)
		}
		out, closer = f, f
	}
	return NewWriter(out, level, format), closer, nil
}

// NewWriter returns a logger writing to w at level, as "json" or "console".
// Callers add their component: l.With().Str(logging.Component, "api").
func NewWriter(w io.Writer, level zerolog.Level, format string) zerolog.Logger {
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: true}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

func init() {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	zerolog.TimestampFunc = func() time.Time { return time.Now().UTC() }
}

// Err adds the standard error object {"type", "message"} to an event. Messages
// are passed through Redact.
func Err(e *zerolog.Event, err error) *zerolog.Event {
	if err == nil {
		return e
	}
	return e.Dict(Error, zerolog.Dict().Str("type", string(errs.KindOf(err))).Str("message", Redact(err.Error())))
}

// Redact masks the passwords of any database URL or DSN quoted in s
// (pgurl.Redact), so a secret that reached an error message never reaches a log
// line.
func Redact(s string) string { return pgurl.Redact(s) }

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
