package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/internal/pgbouncer"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// bouncerPoolSize is the server connections PgBouncer keeps for the test's
// database: fewer than the client's pool and its workers, so every server
// session is shared between clients, transaction by transaction.
const bouncerPoolSize = 2

// startBouncer starts PgBouncer in transaction pooling mode in front of a fresh
// (unmigrated) schema of the test database, its server sessions set up with
// the connect_query a client of that schema needs (ConnectQuery).
func startBouncer(t *testing.T) (b *pgbouncer.Bouncer, schema string) {
	t.Helper()
	_, schema = testdb.SchemaWithName(t, testdb.Options{SkipMigrate: true})
	cfg, err := ParseConfig([]byte(fmt.Sprintf(`{"schema": %q}`, schema)))
	require.NoError(t, err)
	b = pgbouncer.Start(t, pgbouncer.Options{Upstream: testdb.URL(t), ConnectQuery: ConnectQuery(cfg),
		PoolSize: bouncerPoolSize})
	return b, schema
}

// TestNamedPreparedStatementsBreakBehindTransactionPooling is the control of the
// test below: pgx's default (named, cached prepared statements) through the same
// PgBouncer fails, because a statement prepared by one client's transaction is
// on a server session that other clients' transactions get next. Without it, a
// PgBouncer that did not really share sessions would pass the test below too.
func TestNamedPreparedStatementsBreakBehindTransactionPooling(t *testing.T) {
	t.Parallel()
	b, _ := startBouncer(t)
	pcfg, err := pgxpool.ParseConfig(b.URL())
	require.NoError(t, err)
	pcfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	pcfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	require.NoError(t, err)
	defer pool.Close()
	ctx := context.Background()
	conns := make([]*pgxpool.Conn, 4)
	for i := range conns {
		conns[i], err = pool.Acquire(ctx)
		require.NoError(t, err)
		defer conns[i].Release()
	}
	var failures []string
	for round := 0; round < 5; round++ {
		for i, c := range conns {
			var n int
			err := c.QueryRow(ctx, fmt.Sprintf(`SELECT $1::int + %d`, round), i).Scan(&n)
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) {
				failures = append(failures, pgErr.Code+" "+pgErr.Message)
			} else {
				require.NoError(t, err)
			}
		}
	}
	require.NotEmpty(t, failures, "named prepared statements must collide behind transaction pooling:\n%s", b.Log())
	for _, f := range failures {
		assert.Regexp(t, `^(42P05|26000) prepared statement "stmtcache_\w+" (already exists|does not exist)$`, f)
	}
}

// TestWorkflowBehindPgBouncerTransactionPooling runs workflows through the JSON
// API with database.pooler: transaction, through PgBouncer in transaction pooling
// mode with 2 server connections under a client pool of 8 and 6 concurrent
// workers, in each statement mode a transaction pooler allows, and with both
// ways of waiting for events (polling, LISTEN over database.listen_url). Every
// call must succeed, every step must run and complete exactly once, every task
// must finish, a waiting fetch must wake up for new events, and a subscriber
// must receive every event of the outbox once.
func TestWorkflowBehindPgBouncerTransactionPooling(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ mode, listen string }{
		{"auto", ""},
		{"cache_describe", "direct"},
		{"exec", ""},
	} {
		t.Run(tc.mode+"_listen_"+map[bool]string{true: "direct", false: "poll"}[tc.listen != ""], func(t *testing.T) {
			t.Parallel()
			b, schema := startBouncer(t)
			listen := ""
			if tc.listen != "" {
				listen = testdb.URL(t)
			}
			c, err := Open(context.Background(), []byte(fmt.Sprintf(`{"database_url": %q, "schema": %q, "migrate": true,
				"max_connections": 8, "lease_seconds": 60, "database": {"pooler": "transaction", "statement_mode": %q,
				"listen_url": %q}, "events": {"wait_poll_interval_ms": 20}}`, b.URL(), schema, tc.mode, listen)))
			require.NoError(t, err, "open through PgBouncer:\n%s", b.Log())
			t.Cleanup(c.Close)
			runPooledWorkflows(t, c, b, schema, tc.listen != "")
		})
	}
}

func runPooledWorkflows(t *testing.T, c *Client, b *pgbouncer.Bouncer, schema string, listenDirect bool) {
	ctx := context.Background()
	const tasks, workers = 12, 6

	// A fetch that waits before anything is written must be woken by the
	// first task's events (polling, or LISTEN on the direct connection): at the
	// end of its wait it would return nothing.
	callOK(t, c, "fetch_events", `{"subscriber": "waiter", "from": "now", "limit": 1}`, nil)
	woke := make(chan int, 1)
	go func() {
		var batch struct {
			Events []json.RawMessage `json:"events"`
		}
		data := c.CallJSON(ctx, "fetch_events", []byte(`{"subscriber": "waiter", "limit": 100, "wait_ms": 20000}`))
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		_ = json.Unmarshal(data, &env)
		_ = json.Unmarshal(env.Data, &batch)
		woke <- len(batch.Events)
	}()
	if listenDirect {
		// The waiter's own connection has LISTENed: its first read found nothing.
		admin, err := pgx.Connect(ctx, testdb.URL(t))
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			var n int
			require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE query = 'LISTEN "tasker_events_' || left(md5($1), 16) || '"'`, schema).Scan(&n))
			return n == 1
		}, 15*time.Second, 10*time.Millisecond, "the waiting fetch_events LISTENs on database.listen_url")
		require.NoError(t, admin.Close(ctx))
	} else {
		time.Sleep(300 * time.Millisecond) // let the waiter read once and start polling
	}

	ids := make([]int64, tasks)
	for i := range ids {
		var ct created
		callOK(t, c, "create_task", strings.Replace(diamondSpec, `"n": 1`, fmt.Sprintf(`"n": %d`, i), 1), &ct)
		ids[i] = ct.TaskID
	}
	select {
	case n := <-woke:
		require.Positive(t, n, "the waiting fetch_events came back empty: nothing woke it")
	case <-time.After(30 * time.Second):
		t.Fatal("the waiting fetch_events did not return")
	}

	var reported atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			worker := fmt.Sprintf("bouncer-%d", w)
			claim := fmt.Sprintf(`{"worker_id": %q, "limit": 2}`, worker)
			var steps []int64
			deadline := time.Now().Add(2 * time.Minute)
			for (reported.Load() < 4*tasks || len(steps) > 0) && time.Now().Before(deadline) {
				reps := make([]string, len(steps))
				for i, id := range steps {
					reps[i] = fmt.Sprintf(`{"step_id": %d, "worker_id": %q, "success": true, "results": {"by": %q}}`, id, worker, worker)
				}
				data, err := c.Call(ctx, "report_and_claim", []byte(`{"reports": [`+strings.Join(reps, ",")+`], "claim": `+claim+`}`))
				if err != nil {
					errc <- fmt.Errorf("%s: report_and_claim: %w", worker, err)
					return
				}
				var res struct {
					Outcomes []batchOutcome `json:"outcomes"`
					Steps    []struct {
						StepID int64 `json:"step_id"`
					} `json:"steps"`
				}
				raw, _ := json.Marshal(data)
				if err := json.Unmarshal(raw, &res); err != nil {
					errc <- err
					return
				}
				for _, o := range res.Outcomes {
					if o.Status != "applied" {
						errc <- fmt.Errorf("%s: outcome %+v", worker, o)
						return
					}
				}
				reported.Add(int64(len(res.Outcomes)))
				steps = steps[:0]
				for _, s := range res.Steps {
					steps = append(steps, s.StepID)
				}
				if len(steps) == 0 {
					time.Sleep(5 * time.Millisecond) // the others hold the parents of what is left
				}
			}
			if len(steps) > 0 {
				errc <- fmt.Errorf("%s stopped holding %v", worker, steps)
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		require.NoError(t, err, "through PgBouncer:\n%s", b.Log())
	}
	require.EqualValues(t, 4*tasks, reported.Load(), "every step reported once")
	assert.Greater(t, c.Store().Pool().Stat().TotalConns(), int32(bouncerPoolSize),
		"the client's pool opened more connections than PgBouncer has server connections (so they are shared)")
	servers, err := b.Show(ctx, "SERVERS")
	require.NoError(t, err)
	assert.LessOrEqual(t, len(servers), bouncerPoolSize, "PgBouncer's server connections: %v", servers)

	// The rows, read directly: every step ran once and completed once, every
	// task is complete.
	direct, err := pgx.Connect(ctx, testdb.URL(t))
	require.NoError(t, err)
	defer direct.Close(ctx)
	var steps, once, complete int
	require.NoError(t, direct.QueryRow(ctx, fmt.Sprintf(`
		SELECT count(*),
		       count(*) FILTER (WHERE (SELECT count(*) FROM %[1]s.tasker_workflow_step_transitions x
		                               WHERE x.workflow_step_id = s.workflow_step_id AND x.to_state = 'in_progress') = 1
		                          AND (SELECT count(*) FROM %[1]s.tasker_workflow_step_transitions x
		                               WHERE x.workflow_step_id = s.workflow_step_id AND x.to_state = 'complete') = 1),
		       (SELECT count(*) FROM %[1]s.tasker_tasks WHERE complete)
		FROM %[1]s.tasker_workflow_steps s`, pgx.Identifier{schema}.Sanitize())).Scan(&steps, &once, &complete))
	assert.Equal(t, 4*tasks, steps)
	assert.Equal(t, steps, once, "every step went to in_progress once and to complete once")
	assert.Equal(t, tasks, complete, "every task finalized complete")

	// A subscriber gets every event of the outbox once, in fetch/ack rounds.
	var outbox int
	require.NoError(t, direct.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s.tasker_events`,
		pgx.Identifier{schema}.Sanitize())).Scan(&outbox))
	seen := map[int64]bool{}
	for round := 0; round < 100; round++ {
		var raw json.RawMessage
		callOK(t, c, "fetch_events", `{"subscriber": "all", "limit": 50, "wait_ms": 50}`, &raw)
		var batch struct {
			Events []struct {
				EventID int64 `json:"event_id"`
			} `json:"events"`
		}
		require.NoError(t, json.Unmarshal(raw, &batch))
		if len(batch.Events) == 0 {
			break
		}
		for _, e := range batch.Events {
			require.False(t, seen[e.EventID], "event %d delivered twice", e.EventID)
			seen[e.EventID] = true
		}
		var full map[string]any
		require.NoError(t, json.Unmarshal(raw, &full))
		full["subscriber"] = "all"
		ack, _ := json.Marshal(full)
		callOK(t, c, "ack_events", string(ack), nil)
	}
	assert.Len(t, seen, outbox, "every outbox event delivered")
	assert.Greater(t, outbox, 10*tasks, "lifecycle events of every task and step")
}

// TestTransactionPoolerChecksTheServerSession: behind a transaction pooler the
// client does not send search_path, so a pooler whose server sessions are not
// set up for database.schema is refused at open (the store would use another
// schema's tables), naming the connect_query that fixes it.
func TestTransactionPoolerChecksTheServerSession(t *testing.T) {
	t.Parallel()
	_, schema := testdb.SchemaWithName(t, testdb.Options{SkipMigrate: true})
	b := pgbouncer.Start(t, pgbouncer.Options{Upstream: testdb.URL(t), PoolSize: bouncerPoolSize})
	_, err := Open(context.Background(), []byte(fmt.Sprintf(`{"database_url": %q, "schema": %q, "migrate": true,
		"database": {"pooler": "transaction"}}`, b.URL(), schema)))
	require.Error(t, err)
	assert.Equal(t, errs.Configuration, errs.KindOf(err))
	assert.Contains(t, err.Error(), `connect_query 'SET plan_cache_mode = force_generic_plan; SET random_page_cost = 1.1; SET search_path = "`+schema+`"; SET statement_timeout = 30000'`)
}

// A server session whose statement_timeout or plan_cache_mode (here the
// server's default, auto) differs from the configuration's opens (the store is right, only slower or unbounded) with a
// warning naming each and the connect_query to use.
func TestTransactionPoolerWarnsOfOtherSessionSettings(t *testing.T) {
	t.Parallel()
	_, schema := testdb.SchemaWithName(t, testdb.Options{SkipMigrate: true})
	b := pgbouncer.Start(t, pgbouncer.Options{Upstream: testdb.URL(t), PoolSize: bouncerPoolSize,
		ConnectQuery: "SET search_path = " + pgx.Identifier{schema}.Sanitize() + "; SET statement_timeout = 1234"})
	logFile := filepath.Join(t.TempDir(), "tasker.log")
	c, err := Open(context.Background(), []byte(fmt.Sprintf(`{"database_url": %q, "schema": %q, "migrate": true,
		"database": {"pooler": "transaction", "plan_cache_mode": "force_custom_plan"}, "logging": {"output": %q}}`,
		b.URL(), schema, logFile)))
	require.NoError(t, err)
	c.Close()
	raw, err := os.ReadFile(logFile)
	require.NoError(t, err)
	log := string(raw)
	assert.Contains(t, log, "statement_timeout is 1234 ms, database.statement_timeout_ms is 30000")
	assert.Contains(t, log, "plan_cache_mode is auto, database.plan_cache_mode is force_custom_plan")
	assert.Contains(t, log, "random_page_cost is 4, database.random_page_cost is 1.1", "the server's default page cost is named")
	assert.Contains(t, log, `SET plan_cache_mode = force_custom_plan; SET random_page_cost = 1.1; SET search_path = \"`+schema+`\"; SET statement_timeout = 30000`)
}
