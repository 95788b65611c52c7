package bench

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-json"

	"github.com/taskercore/tasker-core/core/api"
	"github.com/taskercore/tasker-core/core/telemetry"
)

// telemetryWorkflowSteps is the task of the telemetry figures: a root, six
// parallel steps, a join (8 steps, 3 rounds of claims and reports).
const telemetryWorkflowSteps = `{"name": "bench_telemetry", "namespace": "bench", "steps": [{"name": "root"},
	{"name": "p1", "depends_on": ["root"]}, {"name": "p2", "depends_on": ["root"]}, {"name": "p3", "depends_on": ["root"]},
	{"name": "p4", "depends_on": ["root"]}, {"name": "p5", "depends_on": ["root"]}, {"name": "p6", "depends_on": ["root"]},
	{"name": "join", "depends_on": ["p1", "p2", "p3", "p4", "p5", "p6"]}]}`

// BenchmarkTelemetry is the cost of observability end to end: each iteration
// creates an 8-step task and runs it to completion through the JSON API (create,
// claim, report_and_claim rounds) — the path a Ruby worker takes, without the
// handlers — under four configurations in the same run: baseline (metrics and
// tracing off), metrics (the default), tracing (spans of every call, step and SQL
// statement exported over OTLP/HTTP to a local receiver that discards them) and
// both. steps/s is the figure; the goals (docs/observability.md) are tracing
// under 5 % and metrics under 2 % of the baseline's throughput.
func BenchmarkTelemetry(b *testing.B) {
	logMode(b, "8-step fan-out/fan-in task per iteration (no quick/full difference)")
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(sink.Close)
	e := newEnv(b, 8)
	configs := []struct{ name, extra string }{
		{"baseline_off", `, "metrics": {"enabled": false}`},
		{"metrics", ``},
		{"tracing", `, "metrics": {"enabled": false}, "telemetry": {"tracing": {"enabled": true, "endpoint": "` + sink.URL + `/v1/traces"}}`},
		{"metrics_tracing", `, "telemetry": {"tracing": {"enabled": true, "endpoint": "` + sink.URL + `/v1/traces"}}`},
	}
	for _, cfg := range configs {
		b.Run(cfg.name, func(b *testing.B) {
			c, err := api.Open(context.Background(), []byte(`{"database_url": `+strconv.Quote(e.url)+`, "schema": `+
				strconv.Quote(e.schema)+`, "migrate": false, "max_connections": 8`+cfg.extra+`}`))
			must(b, err)
			defer c.Close()
			runTelemetryWorkflow(b, c) // warm the pool and the plans
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				runTelemetryWorkflow(b, c)
			}
			b.StopTimer()
			b.ReportMetric(float64(8*b.N)/b.Elapsed().Seconds(), "steps/s")
		})
	}
}

func runTelemetryWorkflow(b *testing.B, c *api.Client) {
	ctx := context.Background()
	out := c.CallJSON(ctx, "create_task", []byte(telemetryWorkflowSteps))
	i := bytes.Index(out, []byte(`"task_id":`))
	if i < 0 {
		b.Fatalf("create_task: %.300s", out)
	}
	rest := out[i+len(`"task_id":`):]
	taskID := string(rest[:bytes.IndexAny(rest, ",}")])
	claim := `{"worker_id": "bench-telemetry", "task_id": ` + taskID + `, "limit": 10}`
	data, err := c.Call(ctx, "claim_steps", []byte(claim))
	must(b, err)
	steps := data.(map[string]any)["steps"]
	for round := 0; round < 10; round++ {
		ids := claimedIDs(steps)
		if len(ids) == 0 {
			return
		}
		reps := make([]string, len(ids))
		for k, id := range ids {
			reps[k] = `{"step_id": ` + id + `, "worker_id": "bench-telemetry", "success": true}`
		}
		data, err := c.Call(ctx, "report_and_claim", []byte(`{"reports": [`+strings.Join(reps, ",")+`], "claim": `+claim+`}`))
		must(b, err)
		steps = data.(map[string]any)["steps"]
	}
	b.Fatalf("task %s did not finish", taskID)
}

// claimedIDs reads the step ids of a claim's result (the store's values, as
// Call returns them).
func claimedIDs(steps any) []string {
	b, _ := json.Marshal(steps)
	var out []string
	for _, part := range bytes.Split(b, []byte(`"step_id":`))[1:] {
		out = append(out, string(part[:bytes.IndexAny(part, ",}")]))
	}
	return out
}

// BenchmarkTelemetryHooks is the in-process cost of the per-step hooks (a claim
// and its report: counters, the tracked step, the duration histogram) with
// metrics on and off, and with tracing on (a step span each), beside nothing:
// compare with a claim's round trip (BenchmarkAPI) to see the share.
func BenchmarkTelemetryHooks(b *testing.B) {
	for _, cfg := range []struct {
		name string
		s    telemetry.Settings
	}{
		{"off", telemetry.Settings{}},
		{"metrics", telemetry.Settings{MetricsEnabled: true, TrackedStepsLimit: 100000}},
		{"tracing", telemetry.Settings{TracingEnabled: true, Exporter: telemetry.ExporterHTTP,
			Endpoint: "http://127.0.0.1:1/v1/traces", SampleRatio: 1, TrackedStepsLimit: 100000}},
	} {
		b.Run(cfg.name, func(b *testing.B) {
			cfg.s.ExportTimeout, cfg.s.ScrapeTimeout = time.Second, time.Second
			tel, err := telemetry.New(context.Background(), cfg.s)
			must(b, err)
			defer func() { _ = tel.Shutdown(context.Background()) }()
			ctx := telemetry.WithContext(context.Background(), tel)
			now := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tel.StepClaimed(ctx, telemetry.ClaimedStep{StepID: int64(i), TaskID: 1, Namespace: "bench", Attempt: 1,
					ReadyAt: now}, now)
				tel.StepReported(int64(i), "applied", "complete", now)
				tel.ObserveCall("report_and_claim", time.Millisecond, nil)
			}
		})
	}
}
