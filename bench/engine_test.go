package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/taskercore/tasker-core/core/config"
	"github.com/taskercore/tasker-core/internal/enginesql"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// engineCalls are the two functions compared with tasker-engine's, by the SQL a
// caller sends (the engine's take only the task id too).
var engineCalls = []struct{ name, sql string }{
	{"readiness", `SELECT * FROM get_step_readiness_status(%s)`},
	{"context", `SELECT * FROM get_task_execution_context(%s)`},
}

// engineResult is one (function, implementation, protocol) cell of
// BenchmarkEngineSQL, written to $TASKER_BENCH_OUT/engine_sql.json for the
// report (bench/ruby/write_doc.rb).
type engineResult struct {
	Function  string    `json:"function"`
	Impl      string    `json:"impl"`     // core | engine
	Protocol  string    `json:"protocol"` // prepared | simple
	LatencyMS []float64 `json:"latency_ms"`
	// From EXPLAIN (ANALYZE, BUFFERS) over sampled tasks (one per situation of
	// the population), means per call: robust to a loaded machine.
	Buffers     float64 `json:"buffers"`
	PlanningMS  float64 `json:"planning_ms"`
	ExecutionMS float64 `json:"execution_ms"`
}

// BenchmarkEngineSQL compares Tasker Core's readiness and execution-context
// functions with tasker-engine's own, loaded into a schema of their own over the
// same tables (package enginesql), on one population of 10-step tasks in mixed
// states (full: 5,000 tasks; quick: 500). It is not a Go benchmark loop: with
// TASKER_BENCH_ENGINE=1 it runs pgbench -f with a random task id per call, -M
// prepared and -M simple, one client, rounds interleaved (core and engine
// alternate) so machine load hits both alike, and EXPLAIN (ANALYZE, BUFFERS) of
// sampled calls for buffers and planning time. Both sides run with the client's
// plan_cache_mode (database.plan_cache_mode). Skipped, saying so, when the
// engine's SQL or pgbench is absent.
func BenchmarkEngineSQL(b *testing.B) {
	if os.Getenv("TASKER_BENCH_ENGINE") != "1" {
		b.Skip("set TASKER_BENCH_ENGINE=1 (bench/run.sh does) to compare with tasker-engine's functions")
	}
	dir := enginesql.Dir("..")
	pgbench, err := exec.LookPath("pgbench")
	if err != nil {
		b.Skip("pgbench not found (scripts/ensure-deps.sh bench installs it): the engine comparison needs it")
	}
	n := sizes([]int{500}, []int{5000})[0]
	// Short rounds, many of them: core and engine of a cell run back to back in
	// each round, and the verdict is the median over the rounds of that round's
	// ratio, so a burst of load from elsewhere moves one round, not the verdict
	// (3 rounds of 8 s let one slow engine round make a 0.58× look like 0.87×).
	seconds := sizes([]int{2}, []int{3})[0]
	rounds := sizes([]int{3}, []int{8})[0]
	logMode(b, fmt.Sprintf("%d tasks × 10 steps, pgbench %d s × %d interleaved rounds per cell", n, seconds, rounds))
	ctx := context.Background()
	p := &population{env: newEnv(b, 4)}
	engine := testdb.NewSchemaName()
	b.Cleanup(func() {
		_, _ = p.pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{engine}.Sanitize()+` CASCADE`)
	})
	err = enginesql.Load(ctx, p.pool, dir, engine, "get_step_readiness_status", "get_task_execution_context")
	if errors.Is(err, os.ErrNotExist) {
		b.Skipf("tasker-engine's SQL is not at %s (set %s): the engine baseline is skipped: %v", dir, enginesql.EnvDir, err)
	}
	must(b, err)
	p.grow(b, n)
	lo, hi := p.taskIDs[0], p.taskIDs[0]
	for _, id := range p.taskIDs {
		lo, hi = min(lo, id), max(hi, id)
	}
	if hi-lo+1 != int64(len(p.taskIDs)) {
		b.Fatalf("task ids %d…%d are not contiguous (%d tasks): random ids would miss", lo, hi, len(p.taskIDs))
	}
	planMode := defaultString(b, "database.plan_cache_mode")
	pageCost := defaultString(b, "database.random_page_cost") // the client's session settings, on both sides
	searchPath := map[string]string{"core": p.schema, "engine": engine + "," + p.schema}

	scriptDir := b.TempDir()
	var results []*engineResult
	cell := map[string]*engineResult{}
	for _, call := range engineCalls {
		script := filepath.Join(scriptDir, call.name+".sql")
		must(b, os.WriteFile(script, []byte("\\set id random("+strconv.FormatInt(lo, 10)+", "+
			strconv.FormatInt(hi, 10)+")\n"+fmt.Sprintf(call.sql, ":id")+";\n"), 0o600))
		for _, proto := range []string{"prepared", "simple"} {
			for _, impl := range []string{"core", "engine"} {
				r := &engineResult{Function: call.name, Impl: impl, Protocol: proto}
				results = append(results, r)
				cell[call.name+"/"+impl+"/"+proto] = r
			}
		}
	}

	// EXPLAIN first: one sampled task per situation of the population.
	samples := p.taskIDs[:min(10, len(p.taskIDs))]
	for _, r := range results {
		explainEngineCell(b, p.url, searchPath[r.Impl], planMode, pageCost, r, samples)
	}

	runOne := func(r *engineResult) {
		script := filepath.Join(scriptDir, r.Function+".sql")
		cmd := exec.Command(pgbench, "-n", "-c", "1", "-T", strconv.Itoa(seconds), "-M", r.Protocol, "-f", script, p.url)
		cmd.Env = append(os.Environ(), "PGOPTIONS=-c search_path="+searchPath[r.Impl]+" -c plan_cache_mode="+planMode+
			" -c random_page_cost="+pageCost)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("pgbench %s: %v\n%s", r.Function, err, out)
		}
		m := regexp.MustCompile(`latency average = ([\d.]+) ms`).FindSubmatch(out)
		if m == nil {
			b.Fatalf("pgbench: no latency in\n%s", out)
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		r.LatencyMS = append(r.LatencyMS, v)
	}
	for round := 0; round < rounds; round++ {
		for i := range results {
			// Alternate which implementation goes first in each round.
			j := i
			if round%2 == 1 {
				j = i ^ 1
			}
			runOne(results[j])
		}
	}

	for _, call := range engineCalls {
		for _, proto := range []string{"prepared", "simple"} {
			c, e := cell[call.name+"/core/"+proto], cell[call.name+"/engine/"+proto]
			ratios := make([]float64, len(c.LatencyMS))
			for k := range c.LatencyMS {
				ratios[k] = c.LatencyMS[k] / e.LatencyMS[k]
			}
			b.Logf("%-9s %-8s core %.3f ms (buffers %.0f, planning %.3f ms)  engine %.3f ms (buffers %.0f, planning %.3f ms)  core/engine %.2f× (median of the rounds' ratios)",
				call.name, proto, medianOf(c.LatencyMS), c.Buffers, c.PlanningMS,
				medianOf(e.LatencyMS), e.Buffers, e.PlanningMS, medianOf(ratios))
		}
	}
	writeBenchJSON(b, "engine_sql", map[string]any{"tasks": n, "steps_per_task": len(tenSteps),
		"seconds": seconds, "rounds": rounds, "plan_cache_mode": planMode, "random_page_cost": pageCost,
		"cells": results})
}

// explainEngineCell fills r's buffers, planning and execution means from EXPLAIN
// (ANALYZE, BUFFERS) on a fresh connection: prepared = PREPARE once, then EXPLAIN
// EXECUTE (the plan cache as a prepared-protocol client sees it); simple = the
// statement with the id as a literal (planned on every call, as a simple-protocol
// client's is). Each task is run three times first so caches are warm.
func explainEngineCell(b *testing.B, url, searchPath, planMode, pageCost string, r *engineResult, ids []int64) {
	b.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(url)
	must(b, err)
	cfg.RuntimeParams["search_path"] = searchPath
	cfg.RuntimeParams["plan_cache_mode"] = planMode
	cfg.RuntimeParams["random_page_cost"] = pageCost
	conn, err := pgx.ConnectConfig(ctx, cfg)
	must(b, err)
	defer conn.Close(ctx)
	var sqlText string
	for _, c := range engineCalls {
		if c.name == r.Function {
			sqlText = c.sql
		}
	}
	if r.Protocol == "prepared" {
		_, err := conn.Exec(ctx, `PREPARE q(bigint) AS `+fmt.Sprintf(sqlText, "$1"))
		must(b, err)
	}
	stmt := func(id int64) string {
		if r.Protocol == "prepared" {
			return fmt.Sprintf(`EXECUTE q(%d)`, id)
		}
		return fmt.Sprintf(sqlText, strconv.FormatInt(id, 10))
	}
	var bufs, planning, execution float64
	for _, id := range ids {
		for i := 0; i < 3; i++ {
			_, err := conn.Exec(ctx, stmt(id), pgx.QueryExecModeSimpleProtocol)
			must(b, err)
		}
		var raw []byte
		must(b, conn.QueryRow(ctx, `EXPLAIN (ANALYZE, BUFFERS, SUMMARY, FORMAT JSON) `+stmt(id),
			pgx.QueryExecModeSimpleProtocol).Scan(&raw))
		var plans []struct {
			Plan struct {
				SharedHit  float64 `json:"Shared Hit Blocks"`
				SharedRead float64 `json:"Shared Read Blocks"`
			} `json:"Plan"`
			Planning struct {
				SharedHit  float64 `json:"Shared Hit Blocks"`
				SharedRead float64 `json:"Shared Read Blocks"`
			} `json:"Planning"`
			PlanningTime  float64 `json:"Planning Time"`
			ExecutionTime float64 `json:"Execution Time"`
		}
		must(b, json.Unmarshal(raw, &plans))
		bufs += plans[0].Plan.SharedHit + plans[0].Plan.SharedRead
		planning += plans[0].PlanningTime
		execution += plans[0].ExecutionTime
	}
	k := float64(len(ids))
	r.Buffers, r.PlanningMS, r.ExecutionMS = bufs/k, planning/k, execution/k
}

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// writeBenchJSON writes v to $TASKER_BENCH_OUT/<name>.json when that is set (bench/run.sh
// sets it to the run's directory; write_doc.rb reads it), with the time it was taken.
func writeBenchJSON(b *testing.B, name string, v map[string]any) {
	b.Helper()
	dir := os.Getenv("TASKER_BENCH_OUT")
	if dir == "" {
		return
	}
	v["measured_at"] = time.Now().UTC().Format(time.RFC3339)
	v["mode"] = modeName()
	raw, err := json.MarshalIndent(v, "", "  ")
	must(b, err)
	must(b, os.WriteFile(filepath.Join(dir, name+".json"), raw, 0o644))
}

// defaultString is the documented default of a configuration key.
func defaultString(b *testing.B, path string) string {
	b.Helper()
	for _, k := range config.Keys {
		if k.Path == path {
			return strings.TrimSpace(fmt.Sprint(k.Default))
		}
	}
	b.Fatalf("no configuration key %s", path)
	return ""
}
