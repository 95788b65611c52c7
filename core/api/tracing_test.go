package api

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/taskercore/tasker-core/internal/testdb"
)

// otlpSink collects the spans an OTLP receiver got.
type otlpSink struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
}

func (s *otlpSink) add(req *coltracepb.ExportTraceServiceRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				s.services = append(s.services, a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			s.spans = append(s.spans, ss.GetSpans()...)
		}
	}
}

func (s *otlpSink) named(name string) []*tracepb.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*tracepb.Span
	for _, sp := range s.spans {
		if sp.GetName() == name {
			out = append(out, sp)
		}
	}
	return out
}

func (s *otlpSink) byID() map[string]*tracepb.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]*tracepb.Span{}
	for _, sp := range s.spans {
		out[hex.EncodeToString(sp.GetSpanId())] = sp
	}
	return out
}

func attr(sp *tracepb.Span, key string) string {
	for _, a := range sp.GetAttributes() {
		if a.GetKey() == key {
			v := a.GetValue()
			if v.GetStringValue() != "" {
				return v.GetStringValue()
			}
			return fmt.Sprint(v.GetIntValue())
		}
	}
	return ""
}

// httpReceiver is an OTLP/HTTP receiver (protobuf bodies on /v1/traces).
func httpReceiver(t *testing.T, sink *otlpSink) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || r.URL.Path != "/v1/traces" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sink.add(&req)
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1/traces"
}

type grpcTraceService struct {
	coltracepb.UnimplementedTraceServiceServer
	sink *otlpSink
}

func (g grpcTraceService) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	g.sink.add(req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// grpcReceiver is an OTLP/gRPC receiver.
func grpcReceiver(t *testing.T, sink *otlpSink) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, grpcTraceService{sink: sink})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return "http://" + ln.Addr().String()
}

// A real workflow's spans reach an OTLP receiver, and they hang together: the
// incoming traceparent (a Rack request's span) is the parent of the create_task
// call, whose creation span is the parent of every step's execution span; each
// call has its claim/finalize spans and its SQL statements as children.
func TestTracesOfAWorkflowReachAnOTLPReceiver(t *testing.T) {
	t.Parallel()
	for _, exporter := range []string{"otlp-http", "otlp-grpc"} {
		t.Run(exporter, func(t *testing.T) {
			t.Parallel()
			sink := &otlpSink{}
			endpoint := httpReceiver(t, sink)
			if exporter == "otlp-grpc" {
				endpoint = grpcReceiver(t, sink)
			}
			_, schema := testdb.SchemaWithName(t, testdb.Options{SkipMigrate: true})
			c, err := Open(context.Background(), []byte(fmt.Sprintf(`{"database_url": %q, "schema": %q, "migrate": true,
				"telemetry": {"tracing": {"enabled": true, "exporter": %q, "endpoint": %q, "service_name": "shop-worker"}}}`,
				testdb.URL(t), schema, exporter, endpoint)))
			require.NoError(t, err)
			t.Cleanup(c.Close)

			const traceID, requestSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
			spec := strings.Replace(diamondSpec, `"context"`, `"traceparent": "00-`+traceID+`-`+requestSpan+`-01", "context"`, 1)
			var ct created
			callOK(t, c, "create_task", spec, &ct)
			runWorkflow(t, c, ct.TaskID, "trace-worker")
			var other created
			callOK(t, c, "create_task", diamondSpec, &other)
			callOK(t, c, "cancel_task", fmt.Sprintf(`{"task_id": %d, "actor": "oncall", "reason": "traced"}`, other.TaskID), nil)
			c.Close() // flushes the batch exporter

			ids := sink.byID()
			parentName := func(sp *tracepb.Span) string {
				if p := ids[hex.EncodeToString(sp.GetParentSpanId())]; p != nil {
					return p.GetName()
				}
				return hex.EncodeToString(sp.GetParentSpanId())
			}
			inTrace := func(spans []*tracepb.Span) []*tracepb.Span { // the first task's, not the cancelled one's
				var out []*tracepb.Span
				for _, sp := range spans {
					if hex.EncodeToString(sp.GetTraceId()) == traceID {
						out = append(out, sp)
					}
				}
				return out
			}
			calls := inTrace(sink.named("tasker.api.create_task"))
			require.Len(t, calls, 1)
			assert.Equal(t, traceID, hex.EncodeToString(calls[0].GetTraceId()))
			assert.Equal(t, requestSpan, hex.EncodeToString(calls[0].GetParentSpanId()), "the request's span is the parent")
			creates := inTrace(sink.named("tasker.task.create"))
			require.Len(t, creates, 1)
			assert.Equal(t, "tasker.api.create_task", parentName(creates[0]))
			assert.Equal(t, fmt.Sprint(ct.TaskID), attr(creates[0], "tasker.task_id"))
			assert.Equal(t, "api", attr(creates[0], "tasker.namespace"))
			assert.NotEmpty(t, attr(creates[0], "tasker.correlation_id"))

			steps := sink.named("tasker.step.execute")
			require.Len(t, steps, 4)
			seen := map[string]bool{}
			for _, sp := range steps {
				assert.Equal(t, traceID, hex.EncodeToString(sp.GetTraceId()), "a step is in the request's trace")
				assert.Equal(t, creates[0].GetSpanId(), sp.GetParentSpanId(), "a step is a child of the task's creation")
				assert.Equal(t, "complete", attr(sp, "tasker.outcome"))
				assert.Equal(t, fmt.Sprint(ct.TaskID), attr(sp, "tasker.task_id"))
				assert.Equal(t, "api", attr(sp, "tasker.namespace"))
				assert.Equal(t, attr(creates[0], "tasker.correlation_id"), attr(sp, "tasker.correlation_id"))
				seen[attr(sp, "tasker.step_id")] = true
				require.Len(t, sp.GetLinks(), 1, "linked to the claim call")
				assert.Equal(t, "tasker.api.claim_steps", ids[hex.EncodeToString(sp.GetLinks()[0].GetSpanId())].GetName())
				assert.LessOrEqual(t, sp.GetStartTimeUnixNano(), sp.GetEndTimeUnixNano())
			}
			assert.Len(t, seen, 4, "one span per step")

			claims := sink.named("tasker.claim")
			require.NotEmpty(t, claims)
			assert.Equal(t, "tasker.api.claim_steps", parentName(claims[0]))
			finalizes := sink.named("tasker.finalize")
			require.NotEmpty(t, finalizes)
			assert.Equal(t, "tasker.api.report_step_results", parentName(finalizes[0]))
			var statements int
			for _, q := range sink.named("db.query") {
				statements++
				assert.NotEmpty(t, attr(q, "db.statement"))
				assert.NotContains(t, attr(q, "db.statement"), `"n": 1`, "arguments are never recorded")
				assert.Contains(t, []string{"tasker.task.create", "tasker.claim", "tasker.finalize", "tasker.api.report_step_results",
					"tasker.api.claim_steps", "tasker.operator.cancel_task"}, parentName(q))
			}
			assert.Greater(t, statements, 5)

			ops := sink.named("tasker.operator.cancel_task")
			require.Len(t, ops, 1, "an operator action has its span")
			assert.Equal(t, "tasker.api.cancel_task", parentName(ops[0]))
			assert.Equal(t, "oncall", attr(ops[0], "tasker.actor"))
			assert.Equal(t, fmt.Sprint(other.TaskID), attr(ops[0], "tasker.task_id"))
			assert.Equal(t, "ok", attr(ops[0], "tasker.outcome"))
			assert.Contains(t, sink.services, "shop-worker")
		})
	}
}
