package telemetry

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskercore/tasker-core/core/errs"
)

// Span attribute keys. Ids are attributes of spans (never metric labels).
const (
	AttrTaskID        = "tasker.task_id"
	AttrStepID        = "tasker.step_id"
	AttrStepName      = "tasker.step_name"
	AttrTaskName      = "tasker.task_name"
	AttrNamespace     = "tasker.namespace"
	AttrCorrelationID = "tasker.correlation_id"
	AttrOutcome       = "tasker.outcome"
	AttrMethod        = "tasker.method"
	AttrWorkerID      = "tasker.worker_id"
	AttrAttempt       = "tasker.attempt"
	AttrCount         = "tasker.count"
	AttrErrorType     = "tasker.error_type"
	AttrOperation     = "tasker.operation"
	AttrActor         = "tasker.actor"
	AttrDryRun        = "tasker.dry_run"
)

// Outcomes (the tasker.outcome attribute and the outcome label).
const (
	OutcomeOK    = "ok"
	OutcomeError = "error"
)

// DefaultServiceName is service.name when neither the configuration nor
// OTEL_SERVICE_NAME gives one.
const DefaultServiceName = "tasker-core"

// Exporter names of telemetry.tracing.exporter.
const (
	ExporterAuto = "auto"
	ExporterHTTP = "otlp-http"
	ExporterGRPC = "otlp-grpc"
)

// exporterFor resolves auto with the OTEL protocol variables.
func exporterFor(name string) string {
	if name != ExporterAuto {
		return name
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p, ok := os.LookupEnv(v); ok && p != "" {
			if p == "grpc" {
				return ExporterGRPC
			}
			return ExporterHTTP
		}
	}
	return ExporterHTTP
}

// exportErrors counts the OpenTelemetry SDK's errors (failed exports, mostly):
// the SDK reports them to a process-wide handler, which by default writes to
// stderr — in a host application's process, on every failed batch.
var (
	exportErrors    atomic.Uint64
	setErrorHandler sync.Once
)

// ExportErrors is the number of errors the OpenTelemetry SDK reported in this
// process (tasker_trace_export_errors_total).
func ExportErrors() uint64 { return exportErrors.Load() }

// installErrorHandler makes the SDK's errors count in ExportErrors (once per
// process).
func installErrorHandler() {
	setErrorHandler.Do(func() {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) { exportErrors.Add(1) }))
	})
}

func newTracerProvider(ctx context.Context, s Settings) (*sdktrace.TracerProvider, error) {
	installErrorHandler()
	var exp sdktrace.SpanExporter
	var err error
	// The exporters read OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT,
	// _INSECURE and _CERTIFICATE themselves; an explicit endpoint wins.
	switch exporterFor(s.Exporter) {
	case ExporterGRPC:
		var opts []otlptracegrpc.Option
		if s.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(s.Endpoint))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	default:
		var opts []otlptracehttp.Option
		if s.Endpoint != "" {
			opts = append(opts, otlptracehttp.WithEndpointURL(s.Endpoint))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	}
	if err != nil {
		return nil, err
	}
	// Later detectors win: the default name, then OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES, then the configured name.
	opts := []resource.Option{resource.WithAttributes(attribute.String("service.name", DefaultServiceName)),
		resource.WithFromEnv(), resource.WithTelemetrySDK()}
	if s.ServiceName != "" {
		opts = append(opts, resource.WithAttributes(attribute.String("service.name", s.ServiceName)))
	}
	res, err := resource.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("resource: %w", err)
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(newBatcher(exp, s)),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(s.SampleRatio))),
	), nil
}

// StartSpan starts a span named name under ctx's span with the telemetry of
// ctx (WithContext). Without telemetry, or with tracing off, it returns ctx and
// a no-op span: cheap enough for every call. attrs does not escape (the span
// gets a copy), so a caller's attribute list stays on its stack when tracing
// is off.
func StartSpan(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	t := From(ctx)
	if t == nil || t.tp == nil {
		return ctx, trace.SpanFromContext(context.Background()) // the no-op span
	}
	return t.tracer.Start(ctx, name, trace.WithAttributes(slices.Clone(attrs)...))
}

// EndSpan records the outcome of span (ok, or the error's kind and message) and
// ends it.
func EndSpan(span trace.Span, err error) {
	if !span.IsRecording() {
		return
	}
	if err != nil {
		span.SetAttributes(attribute.String(AttrOutcome, OutcomeError),
			attribute.String(AttrErrorType, string(errs.KindOf(err))))
		span.SetStatus(codes.Error, err.Error())
	} else {
		span.SetAttributes(attribute.String(AttrOutcome, OutcomeOK))
	}
	span.End()
}

// Recording reports whether ctx's span records: callers skip building
// attributes otherwise.
func Recording(ctx context.Context) bool { return trace.SpanFromContext(ctx).IsRecording() }

// Traceparent is the W3C traceparent of ctx's span ("" without a valid one).
func Traceparent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return formatTraceparent(sc)
}

func formatTraceparent(sc trace.SpanContext) string {
	var b [TraceparentLen]byte
	tid, sid := sc.TraceID(), sc.SpanID()
	copy(b[:], "00-")
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:], []byte{byte(sc.TraceFlags())})
	return string(b[:])
}

// traceparentCarrier is a propagation carrier holding only a traceparent (a
// map carrier would be made for every claimed step).
type traceparentCarrier struct{ v string }

func (c *traceparentCarrier) Get(key string) string {
	if key == "traceparent" {
		return c.v
	}
	return ""
}
func (c *traceparentCarrier) Set(string, string) {}
func (c *traceparentCarrier) Keys() []string     { return []string{"traceparent"} }

// WithTraceparent returns ctx with the remote span context of a W3C traceparent
// as its parent; an empty or malformed value leaves ctx as it is.
func WithTraceparent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, &traceparentCarrier{traceparent})
}

// ValidTraceparent reports whether v is a W3C traceparent (version 00 form:
// 2-32-16-2 lower-case hex digits, trace and span ids not all zero).
func ValidTraceparent(v string) bool {
	if len(v) != 55 || strings.ToLower(v) != v {
		return false
	}
	return trace.SpanContextFromContext(WithTraceparent(context.Background(), v)).IsValid()
}

// TraceparentLen is the length of a version-00 traceparent.
const TraceparentLen = 55
