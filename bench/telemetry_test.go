package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
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

// telemetryConfig is one client configuration of BenchmarkTelemetry: its
// name and the keys added to the client's JSON configuration (SINK is the trace
// receiver's URL).
type telemetryConfig struct{ name, extra string }

// telemetryConfigs are BenchmarkTelemetry's configurations: off is the baseline
// (metrics and tracing off) and off_again a second client like it (its "cost"
// is the run's noise floor); metrics is the default; tracing exports spans of
// every call, step and SQL statement over OTLP/HTTP; tracing_nostmt is tracing
// with telemetry.tracing.db_statements off.
var telemetryConfigs = []telemetryConfig{
	{"off", `, "metrics": {"enabled": false}`},
	{"off_again", `, "metrics": {"enabled": false}`},
	{"metrics", ``},
	{"tracing", `, "metrics": {"enabled": false}, "telemetry": {"tracing": {"enabled": true, "endpoint": "SINK"}}`},
	{"metrics_tracing", `, "telemetry": {"tracing": {"enabled": true, "endpoint": "SINK"}}`},
	{"tracing_nostmt", `, "metrics": {"enabled": false}, "telemetry": {"tracing": {"enabled": true, "endpoint": "SINK", "db_statements": false}}`},
}

// telemetrySample is one configuration's share of one round.
type telemetrySample struct {
	wall, cpu     time.Duration
	allocs, bytes uint64
	steps         int
}

// BenchmarkTelemetry is the cost of observability end to end: a workflow creates
// an 8-step task and runs it to completion through the JSON API (create, claim,
// report_and_claim rounds) — the path a Ruby worker takes, without the handlers.
// It is not a Go benchmark loop: one client per configuration (telemetryConfigs)
// is open at once, and the configurations take turns in short rounds (quick: 31,
// full: 91), each turn telemetryWorkflowsPerTurn workflows and then a flush of
// the spans they made (so a configuration's export falls in its own turn's CPU
// time, not in another's; outside the turn's wall time, as the export runs in
// the background in a worker), the order rotated every round, so that the load of
// other processes falls on every configuration alike. Per configuration it
// reports the medians over the rounds of steps/s (the goal's figure), of this
// process's CPU time per step (getrusage: Tasker Core's Go side, the exporter
// and the GC, not PostgreSQL, nor the trace receiver, which is a child process)
// and of the allocations per step; and, beside the baseline, the median over the
// rounds of each round's throughput cost (1 − steps/s ÷ the same round's off
// steps/s) and CPU cost. TASKER_BENCH_TELEMETRY_ONLY=off,tracing runs only the
// configurations named (to profile one). The goals (docs/observability.md):
// metrics under 2 %, tracing under 5 %.
func BenchmarkTelemetry(b *testing.B) {
	rounds := sizes([]int{31}, []int{91})[0]
	logMode(b, fmt.Sprintf("8-step fan-out/fan-in tasks, %d interleaved rounds of %d workflows per configuration",
		rounds, telemetryWorkflowsPerTurn))
	configs := telemetryConfigs
	if only := os.Getenv("TASKER_BENCH_TELEMETRY_ONLY"); only != "" { // e.g. off,tracing: to profile one
		configs = slices.DeleteFunc(slices.Clone(configs), func(c telemetryConfig) bool {
			return !slices.Contains(strings.Split(only, ","), c.name)
		})
	}
	sink := startTraceSink(b) + "/v1/traces"
	e := newEnv(b, 8)
	clients := make([]*api.Client, len(configs))
	for i, cfg := range configs {
		c, err := api.Open(context.Background(), []byte(`{"database_url": `+strconv.Quote(e.url)+`, "schema": `+
			strconv.Quote(e.schema)+`, "migrate": false, "max_connections": 2`+strings.ReplaceAll(cfg.extra, "SINK", sink)+`}`))
		must(b, err)
		b.Cleanup(c.Close)
		telemetryTurn(b, c, 2) // warm the pool and the plans
		clients[i] = c
	}
	samples := make([][]telemetrySample, len(configs))
	b.ResetTimer()
	for r := 0; r < rounds; r++ {
		if r > 0 && r%telemetryAnalyzeEvery == 0 {
			e.analyze(b) // as autovacuum would: the tables grow by a few hundred rows a round
		}
		for k := range configs {
			i := (k + r) % len(configs)
			samples[i] = append(samples[i], telemetryTurn(b, clients[i], telemetryWorkflowsPerTurn))
		}
	}
	b.StopTimer()
	per := func(i int, f func(telemetrySample) float64) float64 {
		v := make([]float64, len(samples[i]))
		for r, s := range samples[i] {
			v[r] = f(s)
		}
		return medianOf(v)
	}
	rate := func(s telemetrySample) float64 { return float64(s.steps) / s.wall.Seconds() }
	cpu := func(s telemetrySample) float64 { return float64(s.cpu.Microseconds()) / float64(s.steps) }
	for i, cfg := range configs {
		rates := make([]string, len(samples[i]))
		for r, s := range samples[i] {
			rates[r] = strconv.FormatFloat(rate(s), 'f', 0, 64)
		}
		b.Logf("%s: steps/s by round %s", cfg.name, strings.Join(rates, " "))
		b.ReportMetric(per(i, rate), cfg.name+"-steps/s")
		b.ReportMetric(per(i, cpu), cfg.name+"-cpu-us/step")
		b.ReportMetric(per(i, func(s telemetrySample) float64 { return float64(s.allocs) / float64(s.steps) }), cfg.name+"-allocs/step")
		b.ReportMetric(per(i, func(s telemetrySample) float64 { return float64(s.bytes) / float64(s.steps) }), cfg.name+"-B/step")
		if i == 0 {
			continue
		}
		cost, cpuCost := make([]float64, rounds), make([]float64, rounds)
		for r := range rounds {
			cost[r] = (1 - rate(samples[i][r])/rate(samples[0][r])) * 100
			cpuCost[r] = (cpu(samples[i][r])/cpu(samples[0][r]) - 1) * 100
		}
		b.ReportMetric(medianOf(cost), cfg.name+"-cost-%")
		b.ReportMetric(medianOf(cpuCost), cfg.name+"-cpu-cost-%")
	}
}

// telemetryAnalyzeEvery is how many rounds run between two analyses of the
// tables (outside the turns): without them a long run's plans can go bad as
// the tables grow (bench/README.md, "Notes").
const telemetryAnalyzeEvery = 10

// telemetryWorkflowsPerTurn is how many workflows (8 steps each) one
// configuration runs per turn of BenchmarkTelemetry.
const telemetryWorkflowsPerTurn = 2

// telemetryTurn runs n workflows on c and flushes its spans: the wall time of
// the workflows (the export runs in the background, as in a worker: the flush
// is outside it), and this process's CPU time and heap allocations (all
// goroutines) over the workflows and the flush, so the export of the turn's
// spans is in its CPU and allocations.
func telemetryTurn(b *testing.B, c *api.Client, n int) telemetrySample {
	a0 := heapAllocs()
	cpu0, t0 := ownCPU(b), time.Now()
	for range n {
		runTelemetryWorkflow(b, c)
	}
	wall := time.Since(t0)
	must(b, c.Telemetry().ForceFlush(context.Background()))
	cpu := ownCPU(b) - cpu0
	a1 := heapAllocs()
	return telemetrySample{wall: wall, cpu: cpu, allocs: a1[0] - a0[0], bytes: a1[1] - a0[1], steps: 8 * n}
}

// ownCPU is the user and system CPU time of this process so far.
func ownCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	must(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapAllocs is the count and bytes of heap allocations so far, exact
// (runtime.ReadMemStats flushes every P's cache; runtime/metrics' counts lag by
// up to a span of objects per P and size class, which is noise at this scale).
func heapAllocs() [2]uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return [2]uint64{m.Mallocs, m.TotalAlloc}
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
// compare with a claim's round trip (BenchmarkAPI) to see the share. The spans
// go to the trace receiver of BenchmarkTelemetry (a child process).
func BenchmarkTelemetryHooks(b *testing.B) {
	sink := startTraceSink(b) + "/v1/traces"
	for _, cfg := range []struct {
		name string
		s    telemetry.Settings
	}{
		{"off", telemetry.Settings{}},
		{"metrics", telemetry.Settings{MetricsEnabled: true, TrackedStepsLimit: 100000}},
		{"tracing", telemetry.Settings{TracingEnabled: true, Exporter: telemetry.ExporterHTTP,
			Endpoint: sink, SampleRatio: 1, TrackedStepsLimit: 100000}},
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
