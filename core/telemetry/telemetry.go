// Package telemetry is Tasker Core's observability: OpenTelemetry traces (off by
// default; exported over OTLP, HTTP or gRPC, configured by Tasker Core's
// configuration and the standard OTEL_* variables), a Prometheus registry of
// counters and histograms with bounded labels (no task or step ids), a pgx tracer
// that makes each SQL statement a child span, and the optional HTTP listener that
// serves /metrics and the /health endpoints (docs/observability.md).
//
// The rest of core calls small hooks: StartSpan/EndSpan with the context of the
// call (Client.Call puts the client's Telemetry there with WithContext), and the
// nil-safe counting methods of *Telemetry. A nil *Telemetry, or a context without
// one, costs a pointer test.
package telemetry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/taskercore/tasker-core/core/config"
	"github.com/taskercore/tasker-core/core/errs"
)

// InstrumentationName names the tracer (the instrumentation scope of every span).
const InstrumentationName = "github.com/taskercore/tasker-core"

// Settings are the telemetry keys of the configuration (telemetry.*, metrics.*).
type Settings struct {
	TracingEnabled    bool
	Exporter          string // auto, otlp-http, otlp-grpc
	Endpoint          string
	SampleRatio       float64
	ServiceName       string
	DBStatements      bool
	ExportTimeout     time.Duration
	BatchSize         int           // spans per export
	QueueSize         int           // ended spans awaiting export; beyond it they are dropped
	ScheduleDelay     time.Duration // longest a span waits for a batch to fill
	TrackedStepsLimit int
	MetricsEnabled    bool
	Listen            string
	ScrapeTimeout     time.Duration
	PoolExhausted     float64
}

// SettingsFrom reads the settings from a validated configuration.
func SettingsFrom(cfg *config.Config) Settings {
	ms := func(k string) time.Duration { return time.Duration(cfg.Int(k)) * time.Millisecond }
	return Settings{
		TracingEnabled:    cfg.Bool("telemetry.tracing.enabled"),
		Exporter:          cfg.String("telemetry.tracing.exporter"),
		Endpoint:          cfg.String("telemetry.tracing.endpoint"),
		SampleRatio:       cfg.Float("telemetry.tracing.sample_ratio"),
		ServiceName:       cfg.String("telemetry.tracing.service_name"),
		DBStatements:      cfg.Bool("telemetry.tracing.db_statements"),
		ExportTimeout:     ms("telemetry.tracing.export_timeout_ms"),
		BatchSize:         int(cfg.Int("telemetry.tracing.batch_size")),
		QueueSize:         int(cfg.Int("telemetry.tracing.queue_size")),
		ScheduleDelay:     ms("telemetry.tracing.schedule_delay_ms"),
		TrackedStepsLimit: int(cfg.Int("telemetry.tracked_steps_limit")),
		MetricsEnabled:    cfg.Bool("metrics.enabled"),
		Listen:            cfg.String("metrics.listen"),
		ScrapeTimeout:     ms("metrics.scrape_timeout_ms"),
		PoolExhausted:     cfg.Float("metrics.pool_exhausted_ratio"),
	}
}

// Telemetry is one client's tracer provider, metrics registry and listener.
type Telemetry struct {
	s      Settings
	tp     *sdktrace.TracerProvider // nil when tracing is off
	tracer trace.Tracer             // a no-op tracer when tracing is off
	prop   propagation.TraceContext

	reg   *prometheus.Registry // nil when metrics are off
	m     *metrics
	steps *tracker // nil when neither metrics nor tracing is on

	shutdown sync.Once
	srvMu    sync.Mutex
	srv      *http.Server
	ln       net.Listener
}

// New builds the telemetry of a client. With tracing on it creates the OTLP
// exporter (which connects lazily: an unreachable collector drops spans, it
// never fails or slows a call beyond the export timeout of a background batch).
func New(ctx context.Context, s Settings) (*Telemetry, error) {
	t := &Telemetry{s: s, tracer: noop.NewTracerProvider().Tracer(InstrumentationName)}
	if s.TracingEnabled {
		tp, err := newTracerProvider(ctx, s)
		if err != nil {
			return nil, errs.Wrap(errs.Configuration, err, "telemetry.tracing: exporter")
		}
		t.tp, t.tracer = tp, tp.Tracer(InstrumentationName)
	}
	if s.MetricsEnabled {
		t.reg = prometheus.NewRegistry()
		t.m = newMetrics(t.reg)
	}
	if (s.MetricsEnabled || s.TracingEnabled) && s.TrackedStepsLimit > 0 {
		t.steps = newTracker(s.TrackedStepsLimit)
	}
	return t, nil
}

// Settings returns the settings the telemetry was made with.
func (t *Telemetry) Settings() Settings { return t.s }

// TracingEnabled reports whether spans are recorded and exported.
func (t *Telemetry) TracingEnabled() bool { return t != nil && t.tp != nil }

// MetricsEnabled reports whether the registry counts.
func (t *Telemetry) MetricsEnabled() bool { return t != nil && t.m != nil }

// Registry is the client's Prometheus registry (nil when metrics are off).
func (t *Telemetry) Registry() *prometheus.Registry {
	if t == nil {
		return nil
	}
	return t.reg
}

// Shutdown stops the listener, ends the spans of steps still tracked and
// flushes the spans not yet exported (bounded by the export timeout).
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	var err error
	t.shutdown.Do(func() { err = t.doShutdown(ctx) })
	return err
}

func (t *Telemetry) doShutdown(ctx context.Context) error {
	var errList []error
	t.srvMu.Lock()
	if t.srv != nil {
		sctx, cancel := context.WithTimeout(ctx, t.s.ExportTimeout)
		errList = append(errList, t.srv.Shutdown(sctx))
		cancel()
		t.srv, t.ln = nil, nil
	}
	t.srvMu.Unlock()
	if t.steps != nil {
		t.steps.endAll("abandoned")
	}
	if t.tp != nil {
		sctx, cancel := context.WithTimeout(ctx, t.s.ExportTimeout)
		errList = append(errList, t.tp.Shutdown(sctx))
		cancel()
	}
	return errors.Join(errList...)
}

type ctxKey struct{}

// WithContext returns ctx carrying t, for the hooks called below it.
func WithContext(ctx context.Context, t *Telemetry) context.Context {
	if t == nil {
		return ctx
	}
	return context.WithValue(ctx, ctxKey{}, t)
}

// From returns the Telemetry of ctx, or nil.
func From(ctx context.Context) *Telemetry {
	t, _ := ctx.Value(ctxKey{}).(*Telemetry)
	return t
}

// ForceFlush exports the spans ended so far (bounded by ctx); without tracing it
// does nothing. Benchmarks call it so a configuration's export cost falls in its
// own measurement.
func (t *Telemetry) ForceFlush(ctx context.Context) error {
	if t == nil || t.tp == nil {
		return nil
	}
	return t.tp.ForceFlush(ctx)
}
