package store_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// roundTables are the tables a worker's round reads by step or task id: on a
// database of a thousand steps (a new application's), a generic plan that
// estimates ten ids for an array parameter found a sequential scan of any of
// them cheaper than ten index look-ups, and every round paid for reading the
// whole table (0.1-0.3 ms a statement, growing with the table until the
// planner switches).
//
// tasker_tasks is not among them: at 200 rows (five pages) a scan of it is as
// cheap as an index look-up, and the planner is right to take either.
var roundTables = []string{"tasker_workflow_steps", "tasker_workflow_step_transitions", "tasker_workflow_step_edges"}

// TestRoundStatementsUseIndexesOnASmallDatabase runs claims and
// report-and-claim rounds on 200 five-step chains (the end-to-end benchmark's
// quick shape), analyzed, under generic plans, with auto_explain sending the
// plan of every statement (and of the statements inside the SQL functions) back
// as a notice, and fails on a sequential scan of a round table.
func TestRoundStatementsUseIndexesOnASmallDatabase(t *testing.T) {
	ctx := context.Background()
	pool, schema := testdb.SchemaWithName(t, testdb.Options{})
	setup := store.New(pool, testPolicy)
	require.NoError(t, setup.SyncRetryPolicy(ctx))
	for i := 0; i < 200; i++ {
		create(t, setup, fmt.Sprintf("chain_%d", i), step("a"), step("b", "a"), step("c", "b"), step("d", "c"), step("e", "d"))
	}
	_, err := pool.Exec(ctx, `ANALYZE`)
	require.NoError(t, err)

	var plans []string
	cfg, err := pgxpool.ParseConfig(testdb.URL(t))
	require.NoError(t, err)
	cfg.MaxConns = 1
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	cfg.ConnConfig.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		if strings.Contains(n.Message, "plan:") {
			plans = append(plans, n.Message)
		}
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, `LOAD 'auto_explain'`)
		if err != nil {
			return err
		}
		_, err = c.Exec(ctx, `SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
			SET client_min_messages = log`)
		return err
	}
	explained, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(explained.Close)
	if err := explained.Ping(ctx); err != nil {
		t.Skipf("auto_explain cannot be loaded on this server (PostgreSQL's contrib module): %v", err)
	}

	s := store.New(explained, testPolicy)
	req := store.ClaimRequest{WorkerID: "w1", Limit: 2, LeaseSeconds: 60}
	claimed, err := s.ClaimSteps(ctx, req)
	require.NoError(t, err)
	require.Len(t, claimed, 2)
	for round := 0; round < 6; round++ {
		reports := make([]store.StepReport, len(claimed))
		for i, c := range claimed {
			reports[i] = store.StepReport{StepID: c.StepID, WorkerID: "w1", Attempt: c.Attempts, Success: true,
				Results: []byte(`{"ok":true}`)}
		}
		res, next, err := s.ReportAndClaim(ctx, reports, req)
		require.NoError(t, err)
		for _, o := range res.Outcomes {
			require.Equal(t, store.OutcomeApplied, o.Status, "round %d: %+v", round, o)
		}
		require.NotEmpty(t, next, "round %d claimed nothing", round)
		claimed = next
	}
	require.NotEmpty(t, plans, "auto_explain sent no plans")

	seq := regexp.MustCompile(`Seq Scan on (` + strings.Join(roundTables, "|") + `)\b`)
	var bad []string
	for _, p := range plans {
		if m := seq.FindStringSubmatch(p); m != nil {
			bad = append(bad, p)
		}
	}
	require.Empty(t, bad, "round statements that scan a whole table (%d of %d plans)", len(bad), len(plans))
}
