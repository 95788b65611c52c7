package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/store"
)

func countRows(t *testing.T, s *store.Store, table string) int {
	t.Helper()
	var n int
	require.NoError(t, s.Pool().QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n))
	return n
}

func TestInvalidSpecsAreTypedAndWriteNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	cases := []struct {
		name    string
		spec    store.TaskSpec
		kind    errs.Kind
		message string
		details map[string]any
	}{
		{"unknown dependency", store.TaskSpec{Name: "t", Steps: []store.StepSpec{step("a"), step("b", "zz")}},
			errs.Validation, `step "b" depends on unknown step "zz"`, map[string]any{"step": "b", "dependency": "zz"}},
		{"duplicate name", store.TaskSpec{Name: "t", Steps: []store.StepSpec{step("a"), step("a")}},
			errs.Validation, `duplicate step name "a"`, map[string]any{"step": "a"}},
		{"self dependency", store.TaskSpec{Name: "t", Steps: []store.StepSpec{step("a", "a")}},
			errs.Validation, `step "a" depends on itself`, map[string]any{"step": "a"}},
		{"cycle", store.TaskSpec{Name: "t", Steps: []store.StepSpec{step("a", "c"), step("b", "a"), step("c", "b"), step("d")}},
			errs.Cycle, "dependency cycle: a -> b -> c -> a", map[string]any{"cycle": []string{"a", "b", "c"}}},
		{"no steps", store.TaskSpec{Name: "t"}, errs.Validation, "has no steps", nil},
		{"no name", store.TaskSpec{Steps: []store.StepSpec{step("a")}}, errs.Validation, "name is required", nil},
		{"bad context", store.TaskSpec{Name: "t", Context: []byte(`{"a":`), Steps: []store.StepSpec{step("a")}},
			errs.Validation, "context is not valid JSON", nil},
		{"nul byte", store.TaskSpec{Name: "t\x00x", Steps: []store.StepSpec{step("a")}}, errs.Validation, "NUL", nil},
		{"long name", store.TaskSpec{Name: string(make([]byte, 65)), Steps: []store.StepSpec{step("a")}}, errs.Validation, "", nil},
		{"bad correlation id", store.TaskSpec{Name: "t", CorrelationID: "nope", Steps: []store.StepSpec{step("a")}},
			errs.Validation, "not a UUID", nil},
		{"unknown bypass step", store.TaskSpec{Name: "t", BypassSteps: []string{"x"}, Steps: []store.StepSpec{step("a")}},
			errs.Validation, `unknown step "x"`, nil},
	}
	for _, c := range cases {
		_, err := s.CreateTask(ctx, c.spec)
		require.Error(t, err, c.name)
		assert.Equal(t, c.kind, errs.KindOf(err), "%s: %v", c.name, err)
		assert.Contains(t, err.Error(), c.message, c.name)
		for k, v := range c.details {
			assert.Equal(t, v, errs.DetailsOf(err)[k], "%s: detail %s", c.name, k)
		}
	}
	for _, table := range []string{"tasker_tasks", "tasker_workflow_steps", "tasker_named_tasks", "tasker_workflow_step_edges"} {
		assert.Zero(t, countRows(t, s, table), table)
	}
}

func TestCreateWritesStepsEdgesAndInitialTransitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	limit := int32(5)
	no := false
	ct, err := s.CreateTask(ctx, store.TaskSpec{
		Name: "order", Namespace: "shop", Version: "1.2.0", Context: []byte(`{"id": 9007199254740993, "s": "ü"}`),
		Initiator: "spec", Priority: 7,
		Steps: []store.StepSpec{
			{Name: "a", RetryLimit: &limit, Inputs: []byte(`{"x": 1}`)},
			{Name: "b", DependsOn: []string{"a"}, Retryable: &no, DependentSystem: "payments"},
		},
	})
	require.NoError(t, err)
	assert.True(t, ct.Created)
	assert.Len(t, ct.StepIDs, 2)
	u, err := uuid.Parse(ct.CorrelationID)
	require.NoError(t, err)
	assert.Equal(t, uuid.Version(7), u.Version())

	var ctxText string
	var prio int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT context::text, priority FROM tasker_tasks WHERE task_id = $1`, ct.TaskID).Scan(&ctxText, &prio))
	assert.JSONEq(t, `{"id": 9007199254740993, "s": "ü"}`, ctxText)
	assert.Contains(t, ctxText, "9007199254740993", "large integers are kept exactly")
	assert.Equal(t, 7, prio)

	var rl int
	var retryable bool
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT retry_limit, retryable FROM tasker_workflow_steps WHERE workflow_step_id = $1`,
		ct.StepIDs["a"]).Scan(&rl, &retryable))
	assert.Equal(t, 5, rl)
	assert.True(t, retryable)
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT retry_limit, retryable FROM tasker_workflow_steps WHERE workflow_step_id = $1`,
		ct.StepIDs["b"]).Scan(&rl, &retryable))
	assert.Equal(t, store.DefaultRetryLimit, rl)
	assert.False(t, retryable)

	var from, to int64
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT from_step_id, to_step_id FROM tasker_workflow_step_edges`).Scan(&from, &to))
	assert.Equal(t, ct.StepIDs["a"], from)
	assert.Equal(t, ct.StepIDs["b"], to)

	trail, err := s.TaskTransitions(ctx, ct.TaskID)
	require.NoError(t, err)
	require.Len(t, trail, 1)
	assert.Equal(t, "task.initialize_requested", trail[0].Event)
	assert.Equal(t, 2, countRows(t, s, "tasker_workflow_step_transitions"))
}

func TestIdempotentCreationByIdentityHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	at := time.Date(2026, 11, 25, 10, 30, 15, 0, time.UTC)
	spec := func(ctxJSON string, requested time.Time) store.TaskSpec {
		return store.TaskSpec{Name: "import", Identity: store.IdentityHash, Context: []byte(ctxJSON), RequestedAt: &requested,
			Steps: []store.StepSpec{step("fetch"), step("load", "fetch")}}
	}
	first, err := s.CreateTask(ctx, spec(`{"a": 1, "b": 2}`, at))
	require.NoError(t, err)
	require.True(t, first.Created)

	// Same request, keys reordered, same minute: the same task.
	again, err := s.CreateTask(ctx, spec(`{"b": 2, "a": 1}`, at.Add(20*time.Second)))
	require.NoError(t, err)
	assert.False(t, again.Created)
	assert.Equal(t, first.TaskID, again.TaskID)
	assert.Equal(t, first.StepIDs, again.StepIDs)
	assert.Equal(t, first.CorrelationID, again.CorrelationID)

	other, err := s.CreateTask(ctx, spec(`{"a": 2, "b": 2}`, at))
	require.NoError(t, err)
	assert.True(t, other.Created)
	assert.NotEqual(t, first.TaskID, other.TaskID)
	assert.Equal(t, 2, countRows(t, s, "tasker_tasks"))

	// Without the hash strategy every request is a new task.
	plain := spec(`{"a": 1, "b": 2}`, at)
	plain.Identity = ""
	p1, err := s.CreateTask(ctx, plain)
	require.NoError(t, err)
	p2, err := s.CreateTask(ctx, plain)
	require.NoError(t, err)
	assert.NotEqual(t, p1.TaskID, p2.TaskID)
}

func TestConcurrentIdempotentCreationMakesOneTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	spec := store.TaskSpec{Name: "once", Identity: store.IdentityHash, RequestedAt: &at,
		Steps: []store.StepSpec{step("a"), step("b", "a")}}
	ids := make(chan int64, 8)
	errc := make(chan error, 8)
	for range 8 {
		go func() {
			ct, err := s.CreateTask(ctx, spec)
			errc <- err
			ids <- ct.TaskID
		}()
	}
	seen := map[int64]bool{}
	for range 8 {
		require.NoError(t, <-errc)
		seen[<-ids] = true
	}
	assert.Len(t, seen, 1)
	assert.Equal(t, 1, countRows(t, s, "tasker_tasks"))
	assert.Equal(t, 2, countRows(t, s, "tasker_workflow_steps"))
}

func TestCorrelationIDGivenIsKept(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	id := uuid.Must(uuid.NewV7()).String()
	ct, err := s.CreateTask(context.Background(), store.TaskSpec{Name: "c", CorrelationID: id, Steps: []store.StepSpec{step("a")}})
	require.NoError(t, err)
	assert.Equal(t, id, ct.CorrelationID)
}
