package bench

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// BenchmarkExplain is not a measurement: with TASKER_BENCH_EXPLAIN=1 it builds the
// at-scale population (5,000 tasks in full mode, 500 in quick) and logs EXPLAIN
// (ANALYZE, BUFFERS) of the hot SQL, including the statements inside the SQL
// functions (auto_explain with nested statements, sent back as notices), for
// whoever profiles them. Run it with -v to see the plans.
func BenchmarkExplain(b *testing.B) {
	if os.Getenv("TASKER_BENCH_EXPLAIN") != "1" {
		b.Skip("set TASKER_BENCH_EXPLAIN=1 to log query plans")
	}
	n := sizes([]int{100, 500, 1000}, []int{1000, 5000, 10000})[1]
	logMode(b, "plans at "+sizeLabel(n)+" tasks")
	ctx := context.Background()
	p := &population{env: newEnv(b, 4)}
	p.grow(b, n)

	cfg, err := pgx.ParseConfig(p.url)
	must(b, err)
	cfg.RuntimeParams["search_path"] = p.schema
	var notices []string
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Message) }
	conn, err := pgx.ConnectConfig(ctx, cfg)
	must(b, err)
	defer conn.Close(ctx)
	// auto_explain shows the plans of the statements the functions run (a LANGUAGE
	// sql function that is not inlined is opaque to a plain EXPLAIN).
	if _, err := conn.Exec(ctx, `LOAD 'auto_explain'`); err == nil {
		_, err = conn.Exec(ctx, `SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on;
			SET auto_explain.log_buffers = on; SET auto_explain.log_nested_statements = on;
			SET auto_explain.log_level = notice; SET client_min_messages = notice`)
		must(b, err)
	} else {
		b.Logf("auto_explain not available (%v): plain EXPLAIN only", err)
	}

	ids := p.taskIDs
	one := ids[len(ids)/2]
	batch := window(ids, 3, 50)
	for _, q := range []struct {
		name, sql string
		args      []any
	}{
		{"readiness_one_task", `SELECT * FROM get_step_readiness_status($1)`, []any{one}},
		{"context_one_task", `SELECT * FROM get_task_execution_context($1)`, []any{one}},
		{"readiness_batch_50", `SELECT * FROM get_step_readiness_status_batch($1)`, []any{batch}},
		{"context_batch_50", `SELECT * FROM get_task_execution_contexts_batch($1)`, []any{batch}},
		{"next_ready_tasks", `SELECT task_id, priority, ready_at FROM tasker_tasks WHERE ready_at <= now()
			ORDER BY priority DESC, ready_at, task_id LIMIT 10`, nil},
	} {
		// Warm the connection's caches first, so Planning Time is the steady
		// state's (each call of these inlined functions is planned again unless
		// the plan cache settles on a generic plan).
		for i := 0; i < 3; i++ {
			rows, err := conn.Query(ctx, q.sql, q.args...)
			must(b, err)
			rows.Close()
		}
		for _, stmt := range []string{`EXPLAIN (ANALYZE, BUFFERS) ` + q.sql, q.sql} {
			notices = notices[:0]
			rows, err := conn.Query(ctx, stmt, q.args...)
			must(b, err)
			var plan []string
			for rows.Next() {
				if strings.HasPrefix(stmt, "EXPLAIN") {
					var line string
					must(b, rows.Scan(&line))
					plan = append(plan, line)
				}
			}
			must(b, rows.Err())
			if len(plan) > 0 {
				b.Logf("== %s: EXPLAIN (ANALYZE, BUFFERS)\n%s", q.name, strings.Join(plan, "\n"))
			}
			if !strings.HasPrefix(stmt, "EXPLAIN") && len(notices) > 0 {
				b.Logf("== %s: auto_explain (nested statements)\n%s", q.name, strings.Join(notices, "\n---\n"))
			}
		}
	}
}
