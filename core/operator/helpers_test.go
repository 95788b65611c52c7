package operator_test

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/operator"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/testdb"
)

var testPolicy = backoff.Policy{Strategy: backoff.Exponential, BaseSeconds: 1, Multiplier: 2, CapSeconds: 30}

func newStore(t *testing.T) *store.Store {
	t.Helper()
	s := store.New(testdb.Schema(t), testPolicy)
	require.NoError(t, s.SyncRetryPolicy(context.Background()))
	return s
}

func limit(n int32) *int32 { return &n }

// chain creates a → b → c; a's retry limit is aLimit.
func chain(t *testing.T, s *store.Store, aLimit int32) store.CreatedTask {
	t.Helper()
	ct, err := s.CreateTask(context.Background(), store.TaskSpec{Name: "chain", Namespace: "ops", Context: []byte(`{"order": 7}`),
		Steps: []store.StepSpec{{Name: "a", RetryLimit: limit(aLimit)}, {Name: "b", DependsOn: []string{"a"}},
			{Name: "c", DependsOn: []string{"b"}}}})
	require.NoError(t, err)
	return ct
}

func claim(t *testing.T, s *store.Store, worker string, taskID int64, n int) []store.ClaimedStep {
	t.Helper()
	cs, err := s.ClaimSteps(context.Background(), store.ClaimRequest{WorkerID: worker, TaskID: taskID, Limit: n, LeaseSeconds: 30})
	require.NoError(t, err)
	return cs
}

func report(t *testing.T, s *store.Store, reps ...store.StepReport) store.ReportResult {
	t.Helper()
	res, err := s.ReportResults(context.Background(), reps)
	require.NoError(t, err)
	return res
}

func success(worker string, c store.ClaimedStep) store.StepReport {
	return store.StepReport{StepID: c.StepID, WorkerID: worker, Attempt: c.Attempts, Success: true,
		Results: []byte(fmt.Sprintf(`{"by": %q}`, c.StepName))}
}

func failure(worker string, c store.ClaimedStep) store.StepReport {
	return store.StepReport{StepID: c.StepID, WorkerID: worker, Attempt: c.Attempts, Error: &store.StepError{Message: "boom"}}
}

// runAll claims and completes every step of the task.
func runAll(t *testing.T, s *store.Store, taskID int64) {
	t.Helper()
	for i := 0; i < 10; i++ {
		cs := claim(t, s, "w", taskID, 10)
		if len(cs) == 0 {
			return
		}
		for _, c := range cs {
			report(t, s, success("w", c))
		}
	}
}

func taskState(t *testing.T, s *store.Store, taskID int64) state.State {
	t.Helper()
	ec, err := s.ExecutionContext(context.Background(), taskID, nil)
	require.NoError(t, err)
	return state.State(ec.Status)
}

// stepStates returns name → state of the task's steps.
func stepStates(t *testing.T, s *store.Store, taskID int64) map[string]state.State {
	t.Helper()
	snaps, err := s.StepSnapshots(context.Background(), taskID)
	require.NoError(t, err)
	out := map[string]state.State{}
	for _, st := range snaps {
		out[st.Name] = st.State
	}
	return out
}

// fingerprint is every tasker_ table of the schema: its row count and a digest
// of its rows, so any write (insert, update, delete) changes it.
func fingerprint(t *testing.T, s *store.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	rows, err := s.Pool().Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_name LIKE 'tasker\_%' AND table_type = 'BASE TABLE' ORDER BY 1`)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		tables = append(tables, n)
	}
	require.NoError(t, rows.Err())
	require.Contains(t, tables, "tasker_operator_actions")
	out := map[string]string{}
	for _, tbl := range tables {
		var n int64
		var digest string
		require.NoError(t, s.Pool().QueryRow(ctx, fmt.Sprintf(`SELECT count(*), COALESCE(md5(string_agg(x::text, '|' ORDER BY x::text)), '')
			FROM %s x`, tbl)).Scan(&n, &digest))
		out[tbl] = fmt.Sprintf("%d:%s", n, digest)
	}
	return out
}

func countActions(t *testing.T, s *store.Store, taskID int64) int {
	t.Helper()
	var n int
	require.NoError(t, s.Pool().QueryRow(context.Background(), `SELECT count(*) FROM tasker_operator_actions WHERE task_id = $1`, taskID).Scan(&n))
	return n
}

func eventNames(evs []operator.EventChange) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Name
	}
	return out
}

func sortedKeys(m map[string]state.State) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var who = operator.Request{Actor: "oncall@example.com", Reason: "incident 42"}
