package store_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/sqlfuncs"
)

// patCtx is the expected execution context after a stage. total_steps is the
// pattern's step count, ready_steps the length of the stage's ready set, and
// recommended_action follows from exec (patAction).
type patCtx struct {
	pending, inProgress, completed, failed int32
	exec, health                           string
	pct                                    float64
	// retryOf names the step whose next_retry_at the context must report
	// (a step waiting on backoff); empty means next_retry_at is NULL.
	retryOf string
}

// patStage is one stage of a walk: operations, then the expected state.
type patStage struct {
	// do lists "verb step" operations, applied in order. Verbs: start
	// (→in_progress), finish (→complete), complete (→in_progress→complete),
	// fail (→error), retry (error→pending), backdate (shift the step's
	// timestamps 10 s into the past, beyond any backoff of these tests).
	do    []string
	ready []string // sorted
	want  patCtx
}

type pattern struct {
	steps          []store.StepSpec
	levels         map[string]int
	roots, leaves  []string // sorted
	stages         []patStage
	wantParallel   int // widest level
	wantMaxDepth   int // number of levels
	wantEdgesCount int
}

var patAction = map[string]string{
	sqlfuncs.StatusHasReadySteps:          sqlfuncs.ActionExecuteReadySteps,
	sqlfuncs.StatusProcessing:             sqlfuncs.ActionWaitForCompletion,
	sqlfuncs.StatusBlockedByFailures:      sqlfuncs.ActionHandleFailures,
	sqlfuncs.StatusAllComplete:            sqlfuncs.ActionFinalizeTask,
	sqlfuncs.StatusWaitingForDependencies: sqlfuncs.ActionWaitForDependencies,
}

func patNames(ct store.CreatedTask, ids []int64) []string {
	byID := map[int64]string{}
	for n, id := range ct.StepIDs {
		byID[id] = n
	}
	out := []string{}
	for _, id := range ids {
		out = append(out, byID[id])
	}
	sort.Strings(out)
	return out
}

func patApply(t *testing.T, s *store.Store, ct store.CreatedTask, op string) {
	t.Helper()
	verb, name, ok := strings.Cut(op, " ")
	require.True(t, ok, "bad op %q", op)
	id, ok := ct.StepIDs[name]
	require.True(t, ok, "op %q: unknown step", op)
	switch verb {
	case "start":
		move(t, s, id, state.InProgress)
	case "finish":
		move(t, s, id, state.Complete)
	case "complete":
		move(t, s, id, state.InProgress, state.Complete)
	case "fail":
		move(t, s, id, state.Error)
	case "retry":
		move(t, s, id, state.Pending)
	case "backdate":
		backdate(t, s, id, 10*time.Second)
	default:
		t.Fatalf("bad verb in %q", op)
	}
}

// walkPattern creates the pattern's task and walks it stage by stage, checking the
// ready set, the execution context and the dependency levels (SQL and Go) at every
// stage. The task moves pending→in_progress after stage 0; from then on, while a
// step is open, the task guard must refuse →complete. After the last stage (every
// step complete) the task completes.
func walkPattern(t *testing.T, p pattern) {
	t.Helper()
	ctx := context.Background()
	s := newStore(t)
	ct := create(t, s, strings.ReplaceAll(t.Name(), "/", "_"), p.steps...)
	total := int32(len(p.steps))
	taskStatus := string(state.Pending)

	checkLevels := func(label string) {
		t.Helper()
		sqlLevels := levelsByName(t, s, ct)
		assert.Equal(t, p.levels, sqlLevels, "%s: SQL dependency levels", label)
		an, err := s.AnalyzeDependencies(ctx, ct.TaskID)
		require.NoError(t, err, label)
		goLevels := map[string]int{}
		for name, id := range ct.StepIDs {
			goLevels[name] = an.DependencyLevels[id]
		}
		assert.Len(t, an.DependencyLevels, len(p.steps), "%s: Go analysis levels cover every step", label)
		assert.Equal(t, sqlLevels, goLevels, "%s: Go analysis levels must equal SQL levels", label)
		assert.False(t, an.HasCycles, label)
		assert.Equal(t, p.wantMaxDepth, an.MaxDepth, "%s: max depth", label)
		assert.Equal(t, p.wantMaxDepth, an.CriticalPathLength, "%s: critical path length", label)
		assert.Equal(t, p.wantParallel, an.ParallelBranches, "%s: parallel branches", label)
		assert.Equal(t, p.wantEdgesCount, an.TotalEdges, "%s: edges", label)
		assert.Equal(t, p.roots, patNames(ct, an.Roots), "%s: roots", label)
		assert.Equal(t, p.leaves, patNames(ct, an.Leaves), "%s: leaves", label)
	}

	checkContext := func(label string, w patCtx, ready int) {
		t.Helper()
		ec, err := s.ExecutionContext(ctx, ct.TaskID, nil)
		require.NoError(t, err, label)
		assert.Equal(t, ct.TaskID, ec.TaskID, label)
		assert.Equal(t, ct.NamedTaskID, ec.NamedTaskID, label)
		assert.Equal(t, ct.CorrelationID, ec.CorrelationID, label)
		assert.Equal(t, taskStatus, ec.Status, "%s: task status", label)
		assert.Equal(t, total, ec.TotalSteps, "%s: total", label)
		assert.Equal(t, w.pending, ec.PendingSteps, "%s: pending", label)
		assert.Equal(t, w.inProgress, ec.InProgressSteps, "%s: in_progress", label)
		assert.Equal(t, w.completed, ec.CompletedSteps, "%s: completed", label)
		assert.Equal(t, w.failed, ec.FailedSteps, "%s: failed", label)
		assert.Equal(t, int32(ready), ec.ReadySteps, "%s: ready", label)
		assert.Equal(t, w.exec, ec.ExecutionStatus, "%s: execution_status", label)
		assert.Equal(t, patAction[w.exec], ec.RecommendedAction, "%s: recommended_action", label)
		assert.Equal(t, w.health, ec.HealthStatus, "%s: health_status", label)
		assert.Equal(t, w.pct, ec.CompletionPercentage, "%s: completion_percentage", label)
		assert.Equal(t, int32(0), ec.PermanentlyBlockedSteps, label)
		assert.Equal(t, int32(0), ec.CancelledSteps, label)
		if w.retryOf == "" {
			assert.Nil(t, ec.NextRetryAt, "%s: next_retry_at", label)
		} else if assert.NotNil(t, ec.NextRetryAt, "%s: next_retry_at", label) {
			rs, err := s.StepReadiness(ctx, ct.TaskID, []int64{ct.StepIDs[w.retryOf]}, nil)
			require.NoError(t, err)
			require.Len(t, rs, 1)
			require.NotNil(t, rs[0].NextRetryAt)
			assert.WithinDuration(t, *rs[0].NextRetryAt, *ec.NextRetryAt, 0, "%s: next_retry_at of %s", label, w.retryOf)
		}
	}

	for i, st := range p.stages {
		label := fmt.Sprintf("stage %d %v", i, st.do)
		for _, op := range st.do {
			patApply(t, s, ct, op)
		}
		assert.Equal(t, st.ready, readyNames(t, s, ct.TaskID, nil), "%s: ready steps", label)
		checkContext(label, st.want, len(st.ready))
		checkLevels(label)

		if i == 0 {
			_, err := s.TransitionTask(ctx, store.TaskTransition{TaskID: ct.TaskID, To: state.InProgress})
			require.NoError(t, err, "task pending -> in_progress")
			taskStatus = string(state.InProgress)
		}
		if open := total - st.want.completed; open > 0 {
			_, err := s.TransitionTask(ctx, store.TaskTransition{TaskID: ct.TaskID, To: state.Complete})
			if assert.Error(t, err, "%s: task guard must refuse ->complete with %d open steps", label, open) {
				assert.Equal(t, errs.StateTransition, errs.KindOf(err), label)
				assert.Equal(t, int(open), errs.DetailsOf(err)["incomplete_steps"], label)
			}
		}
	}

	last := p.stages[len(p.stages)-1].want
	require.Equal(t, total, last.completed, "a walk must end with every step complete")
	tr, err := s.TransitionTask(ctx, store.TaskTransition{TaskID: ct.TaskID, To: state.Complete})
	require.NoError(t, err, "task in_progress -> complete once every step is complete")
	assert.Equal(t, state.InProgress, tr.From)
	assert.Equal(t, state.TaskCompleted, tr.Event)
	taskStatus = string(state.Complete)
	checkContext("after task complete", patCtx{completed: total, exec: sqlfuncs.StatusAllComplete,
		health: sqlfuncs.HealthHealthy, pct: 100}, 0)
	assert.Equal(t, []string{}, readyNames(t, s, ct.TaskID, nil))
	var complete bool
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT complete FROM tasker_tasks WHERE task_id = $1`, ct.TaskID).Scan(&complete))
	assert.True(t, complete, "tasker_tasks.complete after the task completes")

	trs, err := s.TaskTransitions(ctx, ct.TaskID)
	require.NoError(t, err)
	var tos []state.State
	for _, tr := range trs {
		tos = append(tos, tr.To)
	}
	assert.Equal(t, []state.State{state.Pending, state.InProgress, state.Complete}, tos,
		"refused ->complete attempts must leave no trace in the audit trail")
}

// Short names for the context expectations.
const (
	pHas     = sqlfuncs.StatusHasReadySteps
	pProc    = sqlfuncs.StatusProcessing
	pWait    = sqlfuncs.StatusWaitingForDependencies
	pDone    = sqlfuncs.StatusAllComplete
	pHealthy = sqlfuncs.HealthHealthy
	pRecov   = sqlfuncs.HealthRecovering
)

func TestPatternLinear(t *testing.T) {
	t.Parallel()
	walkPattern(t, pattern{
		steps:        []store.StepSpec{step("a"), step("b", "a"), step("c", "b"), step("d", "c")},
		levels:       map[string]int{"a": 0, "b": 1, "c": 2, "d": 3},
		roots:        []string{"a"},
		leaves:       []string{"d"},
		wantParallel: 1, wantMaxDepth: 4, wantEdgesCount: 3,
		stages: []patStage{
			{nil, []string{"a"}, patCtx{pending: 4, exec: pHas, health: pHealthy, pct: 0}},
			{[]string{"start a"}, []string{}, patCtx{pending: 3, inProgress: 1, exec: pProc, health: pHealthy, pct: 0}},
			{[]string{"finish a"}, []string{"b"}, patCtx{pending: 3, completed: 1, exec: pHas, health: pHealthy, pct: 25}},
			{[]string{"complete b"}, []string{"c"}, patCtx{pending: 2, completed: 2, exec: pHas, health: pHealthy, pct: 50}},
			{[]string{"start c"}, []string{}, patCtx{pending: 1, inProgress: 1, completed: 2, exec: pProc, health: pHealthy, pct: 50}},
			{[]string{"finish c"}, []string{"d"}, patCtx{pending: 1, completed: 3, exec: pHas, health: pHealthy, pct: 75}},
			{[]string{"start d"}, []string{}, patCtx{inProgress: 1, completed: 3, exec: pProc, health: pHealthy, pct: 75}},
			{[]string{"finish d"}, []string{}, patCtx{completed: 4, exec: pDone, health: pHealthy, pct: 100}},
		},
	})
}

func TestPatternDiamond(t *testing.T) {
	t.Parallel()
	walkPattern(t, pattern{
		steps:        []store.StepSpec{step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c")},
		levels:       map[string]int{"a": 0, "b": 1, "c": 1, "d": 2},
		roots:        []string{"a"},
		leaves:       []string{"d"},
		wantParallel: 2, wantMaxDepth: 3, wantEdgesCount: 4,
		stages: []patStage{
			{nil, []string{"a"}, patCtx{pending: 4, exec: pHas, health: pHealthy}},
			{[]string{"complete a"}, []string{"b", "c"}, patCtx{pending: 3, completed: 1, exec: pHas, health: pHealthy, pct: 25}},
			{[]string{"start b"}, []string{"c"}, patCtx{pending: 2, inProgress: 1, completed: 1, exec: pHas, health: pHealthy, pct: 25}},
			{[]string{"start c"}, []string{}, patCtx{pending: 1, inProgress: 2, completed: 1, exec: pProc, health: pHealthy, pct: 25}},
			// b done but c still running: d must wait (one parent is not enough).
			{[]string{"finish b"}, []string{}, patCtx{pending: 1, inProgress: 1, completed: 2, exec: pProc, health: pHealthy, pct: 50}},
			{[]string{"finish c"}, []string{"d"}, patCtx{pending: 1, completed: 3, exec: pHas, health: pHealthy, pct: 75}},
			{[]string{"complete d"}, []string{}, patCtx{completed: 4, exec: pDone, health: pHealthy, pct: 100}},
		},
	})
}

func TestPatternParallelMerge(t *testing.T) {
	t.Parallel()
	walkPattern(t, pattern{
		steps:        []store.StepSpec{step("r1"), step("r2"), step("r3"), step("merge", "r1", "r2", "r3")},
		levels:       map[string]int{"r1": 0, "r2": 0, "r3": 0, "merge": 1},
		roots:        []string{"r1", "r2", "r3"},
		leaves:       []string{"merge"},
		wantParallel: 3, wantMaxDepth: 2, wantEdgesCount: 3,
		stages: []patStage{
			{nil, []string{"r1", "r2", "r3"}, patCtx{pending: 4, exec: pHas, health: pHealthy}},
			{[]string{"start r1", "start r2"}, []string{"r3"}, patCtx{pending: 2, inProgress: 2, exec: pHas, health: pHealthy}},
			{[]string{"finish r1"}, []string{"r3"}, patCtx{pending: 2, inProgress: 1, completed: 1, exec: pHas, health: pHealthy, pct: 25}},
			{[]string{"complete r3"}, []string{}, patCtx{pending: 1, inProgress: 1, completed: 2, exec: pProc, health: pHealthy, pct: 50}},
			{[]string{"finish r2"}, []string{"merge"}, patCtx{pending: 1, completed: 3, exec: pHas, health: pHealthy, pct: 75}},
			{[]string{"start merge"}, []string{}, patCtx{inProgress: 1, completed: 3, exec: pProc, health: pHealthy, pct: 75}},
			{[]string{"finish merge"}, []string{}, patCtx{completed: 4, exec: pDone, health: pHealthy, pct: 100}},
		},
	})
}

func TestPatternTree(t *testing.T) {
	t.Parallel()
	walkPattern(t, pattern{
		steps: []store.StepSpec{step("root"), step("a", "root"), step("b", "root"),
			step("a1", "a"), step("a2", "a"), step("b1", "b"), step("b2", "b")},
		levels:       map[string]int{"root": 0, "a": 1, "b": 1, "a1": 2, "a2": 2, "b1": 2, "b2": 2},
		roots:        []string{"root"},
		leaves:       []string{"a1", "a2", "b1", "b2"},
		wantParallel: 4, wantMaxDepth: 3, wantEdgesCount: 6,
		stages: []patStage{
			{nil, []string{"root"}, patCtx{pending: 7, exec: pHas, health: pHealthy}},
			{[]string{"complete root"}, []string{"a", "b"}, patCtx{pending: 6, completed: 1, exec: pHas, health: pHealthy, pct: 14.29}},
			{[]string{"complete a"}, []string{"a1", "a2", "b"}, patCtx{pending: 5, completed: 2, exec: pHas, health: pHealthy, pct: 28.57}},
			{[]string{"start a1", "start b"}, []string{"a2"}, patCtx{pending: 3, inProgress: 2, completed: 2, exec: pHas, health: pHealthy, pct: 28.57}},
			{[]string{"finish b"}, []string{"a2", "b1", "b2"}, patCtx{pending: 3, inProgress: 1, completed: 3, exec: pHas, health: pHealthy, pct: 42.86}},
			{[]string{"complete a2", "complete b1"}, []string{"b2"}, patCtx{pending: 1, inProgress: 1, completed: 5, exec: pHas, health: pHealthy, pct: 71.43}},
			{[]string{"complete b2"}, []string{}, patCtx{inProgress: 1, completed: 6, exec: pProc, health: pHealthy, pct: 85.71}},
			{[]string{"finish a1"}, []string{}, patCtx{completed: 7, exec: pDone, health: pHealthy, pct: 100}},
		},
	})
}

// TestPatternMixedDAG walks a 9-step DAG whose edges skip levels (config→enrich,
// extract→score, audit→publish, config→publish), with one failure, a wait on its
// backoff, and the explicit retry.
func TestPatternMixedDAG(t *testing.T) {
	t.Parallel()
	walkPattern(t, pattern{
		steps: []store.StepSpec{
			step("extract"),
			step("config"),
			step("validate", "extract"),
			step("audit", "extract"),
			step("enrich", "validate", "config"),
			step("transform", "validate"),
			step("score", "enrich", "extract"),
			step("aggregate", "transform", "score"),
			step("publish", "aggregate", "audit", "config"),
		},
		levels: map[string]int{"extract": 0, "config": 0, "validate": 1, "audit": 1, "enrich": 2, "transform": 2,
			"score": 3, "aggregate": 4, "publish": 5},
		roots:        []string{"config", "extract"},
		leaves:       []string{"publish"},
		wantParallel: 2, wantMaxDepth: 6, wantEdgesCount: 12,
		stages: []patStage{
			{nil, []string{"config", "extract"}, patCtx{pending: 9, exec: pHas, health: pHealthy}},
			{[]string{"complete extract"}, []string{"audit", "config", "validate"},
				patCtx{pending: 8, completed: 1, exec: pHas, health: pHealthy, pct: 11.11}},
			// validate fails with retries left: in backoff (2 s), the others still run.
			{[]string{"start validate", "fail validate"}, []string{"audit", "config"},
				patCtx{pending: 7, completed: 1, failed: 1, exec: pHas, health: pRecov, pct: 11.11, retryOf: "validate"}},
			// Nothing ready, nothing running: waiting on validate's backoff.
			{[]string{"complete config", "complete audit"}, []string{},
				patCtx{pending: 5, completed: 3, failed: 1, exec: pWait, health: pRecov, pct: 33.33, retryOf: "validate"}},
			// The backoff has passed: the error step itself is ready again.
			{[]string{"backdate validate"}, []string{"validate"},
				patCtx{pending: 5, completed: 3, failed: 1, exec: pHas, health: pRecov, pct: 33.33}},
			{[]string{"retry validate", "start validate"}, []string{},
				patCtx{pending: 5, inProgress: 1, completed: 3, exec: pProc, health: pHealthy, pct: 33.33}},
			{[]string{"finish validate"}, []string{"enrich", "transform"},
				patCtx{pending: 5, completed: 4, exec: pHas, health: pHealthy, pct: 44.44}},
			{[]string{"complete transform"}, []string{"enrich"},
				patCtx{pending: 4, completed: 5, exec: pHas, health: pHealthy, pct: 55.56}},
			{[]string{"complete enrich"}, []string{"score"},
				patCtx{pending: 3, completed: 6, exec: pHas, health: pHealthy, pct: 66.67}},
			{[]string{"complete score"}, []string{"aggregate"},
				patCtx{pending: 2, completed: 7, exec: pHas, health: pHealthy, pct: 77.78}},
			{[]string{"start aggregate"}, []string{},
				patCtx{pending: 1, inProgress: 1, completed: 7, exec: pProc, health: pHealthy, pct: 77.78}},
			{[]string{"finish aggregate"}, []string{"publish"},
				patCtx{pending: 1, completed: 8, exec: pHas, health: pHealthy, pct: 88.89}},
			{[]string{"complete publish"}, []string{},
				patCtx{completed: 9, exec: pDone, health: pHealthy, pct: 100}},
		},
	})
}
