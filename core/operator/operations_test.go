package operator_test

import (
	"context"
	"strings"
	"testing"

	"github.com/goccy/go-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/operator"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
)

// A scenario puts the chain a → b → c in one situation.
type scenario struct {
	name   string
	aLimit int32
	setup  func(t *testing.T, s *store.Store, svc *operator.Service, ct store.CreatedTask)
}

var scenarios = map[string]scenario{
	"pending": {aLimit: 3, setup: func(*testing.T, *store.Store, *operator.Service, store.CreatedTask) {}},
	"running": {aLimit: 3, setup: func(t *testing.T, s *store.Store, _ *operator.Service, ct store.CreatedTask) {
		require.Len(t, claim(t, s, "w1", ct.TaskID, 1), 1)
	}},
	"failed_retryable": {aLimit: 3, setup: func(t *testing.T, s *store.Store, _ *operator.Service, ct store.CreatedTask) {
		cs := claim(t, s, "w1", ct.TaskID, 1)
		report(t, s, failure("w1", cs[0]))
	}},
	"exhausted": {aLimit: 1, setup: func(t *testing.T, s *store.Store, _ *operator.Service, ct store.CreatedTask) {
		cs := claim(t, s, "w1", ct.TaskID, 1)
		report(t, s, failure("w1", cs[0]))
		require.Equal(t, state.Error, taskState(t, s, ct.TaskID))
	}},
	"b_running": {aLimit: 3, setup: func(t *testing.T, s *store.Store, _ *operator.Service, ct store.CreatedTask) {
		cs := claim(t, s, "w1", ct.TaskID, 1)
		report(t, s, success("w1", cs[0]))
		require.Len(t, claim(t, s, "w1", ct.TaskID, 1), 1)
	}},
	"complete": {aLimit: 3, setup: func(t *testing.T, s *store.Store, _ *operator.Service, ct store.CreatedTask) {
		runAll(t, s, ct.TaskID)
		require.Equal(t, state.Complete, taskState(t, s, ct.TaskID))
	}},
	"cancelled": {aLimit: 3, setup: func(t *testing.T, s *store.Store, svc *operator.Service, ct store.CreatedTask) {
		_, err := svc.CancelTask(context.Background(), operator.TaskRequest{Request: who, TaskID: ct.TaskID})
		require.NoError(t, err)
	}},
}

type opFunc func(ctx context.Context, svc *operator.Service, ct store.CreatedTask, req operator.Request) (operator.Result, error)

var ops = map[string]opFunc{
	"cancel_task": func(ctx context.Context, svc *operator.Service, ct store.CreatedTask, req operator.Request) (operator.Result, error) {
		return svc.CancelTask(ctx, operator.TaskRequest{Request: req, TaskID: ct.TaskID})
	},
	"retry_task": func(ctx context.Context, svc *operator.Service, ct store.CreatedTask, req operator.Request) (operator.Result, error) {
		return svc.RetryTask(ctx, operator.TaskRequest{Request: req, TaskID: ct.TaskID})
	},
	"reset_attempts": func(ctx context.Context, svc *operator.Service, ct store.CreatedTask, req operator.Request) (operator.Result, error) {
		return svc.ResetAttempts(ctx, operator.ResetAttemptsRequest{TaskRequest: operator.TaskRequest{Request: req, TaskID: ct.TaskID},
			RetryLimit: limit(2)})
	},
	"force_complete_task": func(ctx context.Context, svc *operator.Service, ct store.CreatedTask, req operator.Request) (operator.Result, error) {
		return svc.ForceCompleteTask(ctx, operator.TaskRequest{Request: req, TaskID: ct.TaskID})
	},
	"force_fail_task": func(ctx context.Context, svc *operator.Service, ct store.CreatedTask, req operator.Request) (operator.Result, error) {
		return svc.ForceFailTask(ctx, operator.TaskRequest{Request: req, TaskID: ct.TaskID})
	},
	"update_task_metadata": func(ctx context.Context, svc *operator.Service, ct store.CreatedTask, req operator.Request) (operator.Result, error) {
		return svc.UpdateTaskMetadata(ctx, operator.UpdateTaskMetadataRequest{TaskRequest: operator.TaskRequest{Request: req, TaskID: ct.TaskID},
			Tags: json.RawMessage(`{"incident": "42"}`)})
	},
	"retry_step": func(ctx context.Context, svc *operator.Service, ct store.CreatedTask, req operator.Request) (operator.Result, error) {
		return svc.RetryStep(ctx, operator.StepRequest{Request: req, StepID: ct.StepIDs["a"]})
	},
	"reset_step": func(ctx context.Context, svc *operator.Service, ct store.CreatedTask, req operator.Request) (operator.Result, error) {
		return svc.ResetStep(ctx, operator.ResetStepRequest{StepRequest: operator.StepRequest{Request: req, StepID: ct.StepIDs["a"]},
			Descendants: true})
	},
	"resolve_step": func(ctx context.Context, svc *operator.Service, ct store.CreatedTask, req operator.Request) (operator.Result, error) {
		return svc.ResolveStep(ctx, operator.ResultsRequest{StepRequest: operator.StepRequest{Request: req, StepID: ct.StepIDs["a"]},
			Results: json.RawMessage(`{"fixed": true}`)})
	},
	"update_step_results": func(ctx context.Context, svc *operator.Service, ct store.CreatedTask, req operator.Request) (operator.Result, error) {
		return svc.UpdateStepResults(ctx, operator.ResultsRequest{StepRequest: operator.StepRequest{Request: req, StepID: ct.StepIDs["a"]},
			Results: json.RawMessage(`{"fixed": true}`)})
	},
	"override_dependencies": func(ctx context.Context, svc *operator.Service, ct store.CreatedTask, req operator.Request) (operator.Result, error) {
		return svc.OverrideDependencies(ctx, operator.DependenciesRequest{StepRequest: operator.StepRequest{Request: req, StepID: ct.StepIDs["c"]},
			Remove: []int64{ct.StepIDs["b"]}, Add: []int64{ct.StepIDs["a"]}})
	},
}

type P = state.State

const (
	pe = state.Pending
	ip = state.InProgress
	co = state.Complete
	er = state.Error
	ca = state.Cancelled
	rm = state.ResolvedManually
)

// expect is an operation's outcome in a scenario: an error kind (and whether it
// is a conflict with a worker), or the task's and the steps' states after it.
type expect struct {
	kind     errs.Kind
	conflict bool
	task     state.State
	steps    [3]state.State // a, b, c
}

func refused() expect             { return expect{kind: errs.StateTransition} }
func conflicted() expect          { return expect{kind: errs.StateTransition, conflict: true} }
func ok(task P, a, b, c P) expect { return expect{task: task, steps: [3]state.State{a, b, c}} }

// Every operation in every situation of the chain: what it changes, what it
// refuses. A refusal changes nothing at all; a success writes one audit row and
// leaves the task and its steps exactly in the expected states.
func TestEveryOperationOnEveryState(t *testing.T) {
	t.Parallel()
	table := map[string]map[string]expect{
		"cancel_task": {
			"pending": ok(ca, ca, ca, ca), "running": ok(ca, ca, ca, ca), "failed_retryable": ok(ca, ca, ca, ca),
			"exhausted": ok(ca, ca, ca, ca), "b_running": ok(ca, co, ca, ca), "complete": ok(ca, co, co, co), "cancelled": refused(),
		},
		"retry_task": {
			"pending": refused(), "running": refused(), "failed_retryable": ok(ip, pe, pe, pe), "exhausted": refused(),
			"b_running": refused(), "complete": refused(), "cancelled": refused(),
		},
		"reset_attempts": {
			"pending": refused(), "running": refused(), "failed_retryable": ok(ip, er, pe, pe), "exhausted": ok(pe, er, pe, pe),
			"b_running": refused(), "complete": refused(), "cancelled": refused(),
		},
		"force_complete_task": {
			"pending": ok(co, rm, rm, rm), "running": ok(co, rm, rm, rm), "failed_retryable": ok(co, rm, rm, rm),
			"exhausted": ok(co, rm, rm, rm), "b_running": ok(co, co, rm, rm), "complete": refused(), "cancelled": refused(),
		},
		"force_fail_task": {
			"pending": ok(er, er, er, er), "running": ok(er, er, er, er), "failed_retryable": ok(er, er, er, er),
			"exhausted": refused(), "b_running": ok(er, co, er, er), "complete": refused(), "cancelled": refused(),
		},
		"update_task_metadata": {
			"pending": ok(pe, pe, pe, pe), "running": ok(ip, ip, pe, pe), "failed_retryable": ok(ip, er, pe, pe),
			"exhausted": ok(er, er, pe, pe), "b_running": ok(ip, co, ip, pe), "complete": ok(co, co, co, co), "cancelled": ok(ca, ca, ca, ca),
		},
		"retry_step": {
			"pending": refused(), "running": conflicted(), "failed_retryable": ok(ip, pe, pe, pe), "exhausted": ok(pe, pe, pe, pe),
			"b_running": refused(), "complete": refused(), "cancelled": refused(),
		},
		"reset_step": {
			"pending": refused(), "running": conflicted(), "failed_retryable": ok(ip, pe, pe, pe), "exhausted": ok(pe, pe, pe, pe),
			"b_running": conflicted(), "complete": refused(), "cancelled": refused(),
		},
		"resolve_step": {
			"pending": ok(pe, rm, pe, pe), "running": conflicted(), "failed_retryable": ok(ip, rm, pe, pe), "exhausted": ok(pe, rm, pe, pe),
			"b_running": refused(), "complete": refused(), "cancelled": refused(),
		},
		"update_step_results": {
			"pending": refused(), "running": conflicted(), "failed_retryable": refused(), "exhausted": refused(),
			"b_running": ok(ip, co, ip, pe), "complete": ok(co, co, co, co), "cancelled": refused(),
		},
		"override_dependencies": {
			"pending": ok(pe, pe, pe, pe), "running": ok(ip, ip, pe, pe), "failed_retryable": ok(ip, er, pe, pe),
			"exhausted": ok(er, er, pe, pe), "b_running": ok(ip, co, ip, pe), "complete": refused(), "cancelled": refused(),
		},
	}
	require.Len(t, table, len(ops))
	s := newStore(t)
	svc := operator.New(s, operator.Options{})
	ctx := context.Background()
	for opName, cases := range table {
		require.Len(t, cases, len(scenarios), opName)
		for scName, want := range cases {
			t.Run(opName+"/"+scName, func(t *testing.T) {
				sc := scenarios[scName]
				ct := chain(t, s, sc.aLimit)
				sc.setup(t, s, svc, ct)
				actionsBefore := countActions(t, s, ct.TaskID)
				beforeTask, beforeSteps := taskState(t, s, ct.TaskID), stepStates(t, s, ct.TaskID)
				res, err := ops[opName](ctx, svc, ct, who)
				if want.kind != "" {
					require.Error(t, err)
					assert.Equal(t, want.kind, errs.KindOf(err), "%v", err)
					assert.Equal(t, want.conflict, errs.DetailsOf(err)["conflict"] == true, "conflict: %v", errs.DetailsOf(err))
					assert.Equal(t, beforeTask, taskState(t, s, ct.TaskID), "a refusal changes nothing")
					assert.Equal(t, beforeSteps, stepStates(t, s, ct.TaskID), "a refusal changes nothing")
					assert.Equal(t, actionsBefore, countActions(t, s, ct.TaskID), "a refusal is not audited")
					return
				}
				require.NoError(t, err)
				assert.Equal(t, want.task, taskState(t, s, ct.TaskID), "task")
				got := stepStates(t, s, ct.TaskID)
				assert.Equal(t, []state.State{want.steps[0], want.steps[1], want.steps[2]}, []state.State{got["a"], got["b"], got["c"]}, "steps a, b, c")
				assert.Equal(t, beforeTask, res.TaskStateBefore)
				assert.Equal(t, want.task, res.TaskStateAfter)
				assert.Equal(t, actionsBefore+1, countActions(t, s, ct.TaskID), "one audit row")
				assert.NotZero(t, res.ActionID)
				assert.Equal(t, ct.CorrelationID, res.CorrelationID)
				require.NotEmpty(t, res.Events)
				last := res.Events[len(res.Events)-1]
				assert.Equal(t, operator.EventNames[opName], last.Name, "the operator event comes last")
			})
		}
	}
}

// The details of what each operation changes beyond states.
func TestOperationEffects(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	svc := operator.New(s, operator.Options{})
	ctx := context.Background()

	t.Run("retry_step resets the attempt budget and ignores the backoff", func(t *testing.T) {
		ct := chain(t, s, 1)
		scenarios["exhausted"].setup(t, s, svc, ct)
		res, err := svc.RetryStep(ctx, operator.StepRequest{Request: who, StepID: ct.StepIDs["a"]})
		require.NoError(t, err)
		require.Len(t, res.Steps, 1)
		assert.Equal(t, int32(1), res.Steps[0].Before.Attempts)
		assert.Equal(t, int32(0), res.Steps[0].After.Attempts)
		cs := claim(t, s, "w2", ct.TaskID, 5)
		require.Len(t, cs, 1, "ready at once, backoff ignored")
		assert.Equal(t, "a", cs[0].StepName)
	})

	t.Run("retry_task ignores the backoff", func(t *testing.T) {
		ct := chain(t, s, 3)
		scenarios["failed_retryable"].setup(t, s, svc, ct)
		assert.Empty(t, claim(t, s, "w2", ct.TaskID, 5), "in backoff")
		_, err := svc.RetryTask(ctx, operator.TaskRequest{Request: who, TaskID: ct.TaskID})
		require.NoError(t, err)
		cs := claim(t, s, "w2", ct.TaskID, 5)
		require.Len(t, cs, 1)
		assert.Equal(t, int32(2), cs[0].Attempts, "the attempt count is kept")
	})

	t.Run("retry_task names exhausted steps when nothing may run", func(t *testing.T) {
		ct := chain(t, s, 1)
		scenarios["exhausted"].setup(t, s, svc, ct)
		_, err := svc.RetryTask(ctx, operator.TaskRequest{Request: who, TaskID: ct.TaskID})
		require.Error(t, err)
		assert.Equal(t, []string{"a"}, errs.DetailsOf(err)["exhausted"])
	})

	t.Run("reset_attempts sets a new retry limit", func(t *testing.T) {
		ct := chain(t, s, 1)
		scenarios["exhausted"].setup(t, s, svc, ct)
		res, err := svc.ResetAttempts(ctx, operator.ResetAttemptsRequest{TaskRequest: operator.TaskRequest{Request: who, TaskID: ct.TaskID},
			StepIDs: []int64{ct.StepIDs["a"]}, RetryLimit: limit(5)})
		require.NoError(t, err)
		require.Len(t, res.Steps, 1)
		assert.Equal(t, int32(5), res.Steps[0].After.RetryLimit)
		assert.Equal(t, int32(0), res.Steps[0].After.Attempts)
		_, err = svc.ResetAttempts(ctx, operator.ResetAttemptsRequest{TaskRequest: operator.TaskRequest{Request: who, TaskID: ct.TaskID},
			StepIDs: []int64{ct.StepIDs["b"]}})
		assert.Equal(t, errs.StateTransition, errs.KindOf(err), "b has not failed")
		_, err = svc.ResetAttempts(ctx, operator.ResetAttemptsRequest{TaskRequest: operator.TaskRequest{Request: who, TaskID: ct.TaskID},
			RetryLimit: limit(0)})
		assert.Equal(t, errs.Validation, errs.KindOf(err))
	})

	t.Run("resolving the last failed step completes the task", func(t *testing.T) {
		ct, err := s.CreateTask(ctx, store.TaskSpec{Name: "pair", Namespace: "ops",
			Steps: []store.StepSpec{{Name: "x"}, {Name: "y", RetryLimit: limit(1)}}})
		require.NoError(t, err)
		cs := claim(t, s, "w", ct.TaskID, 2)
		require.Len(t, cs, 2)
		for _, c := range cs {
			if c.StepName == "x" {
				report(t, s, success("w", c))
			} else {
				report(t, s, failure("w", c))
			}
		}
		require.Equal(t, state.Error, taskState(t, s, ct.TaskID))
		res, err := svc.ResolveStep(ctx, operator.ResultsRequest{StepRequest: operator.StepRequest{Request: who, StepID: ct.StepIDs["y"]},
			Results: json.RawMessage(`{"manual": 1}`)})
		require.NoError(t, err)
		assert.Equal(t, state.Complete, res.TaskStateAfter)
		assert.Equal(t, state.Complete, taskState(t, s, ct.TaskID))
		assert.Subset(t, eventNames(res.Events), []string{"step.resolved_manually", "task.retry_requested", "task.start_requested",
			"task.completed", "operator.step_resolved"})
	})

	t.Run("resolve_step results are what children read", func(t *testing.T) {
		ct := chain(t, s, 1)
		scenarios["exhausted"].setup(t, s, svc, ct)
		_, err := svc.ResolveStep(ctx, operator.ResultsRequest{StepRequest: operator.StepRequest{Request: who, StepID: ct.StepIDs["a"]},
			Results: json.RawMessage(`{"charge_id": "manual-1"}`)})
		require.NoError(t, err)
		cs := claim(t, s, "w", ct.TaskID, 5)
		require.Len(t, cs, 1)
		assert.Equal(t, "b", cs[0].StepName)
		assert.JSONEq(t, `{"charge_id": "manual-1"}`, string(sequenceOf(t, cs[0])["a"]))
	})

	t.Run("reset_step with descendants rewinds the workflow", func(t *testing.T) {
		ct := chain(t, s, 3)
		runAll(t, s, ct.TaskID)
		// complete tasks are refused; rewind within an open task instead
		ct = chain(t, s, 3)
		cs := claim(t, s, "w", ct.TaskID, 1)
		report(t, s, success("w", cs[0]))
		cs = claim(t, s, "w", ct.TaskID, 1)
		report(t, s, success("w", cs[0]))
		res, err := svc.ResetStep(ctx, operator.ResetStepRequest{StepRequest: operator.StepRequest{Request: who, StepID: ct.StepIDs["a"]},
			Descendants: true})
		require.NoError(t, err)
		assert.Equal(t, map[string]state.State{"a": pe, "b": pe, "c": pe}, stepStates(t, s, ct.TaskID))
		require.Len(t, res.Steps, 2, "a and b changed; c was pending and fresh")
		for _, c := range res.Steps {
			assert.Equal(t, co, c.Before.State)
			assert.JSONEq(t, "null", string(c.After.Results))
			assert.Equal(t, int32(0), c.After.Attempts)
		}
		cs = claim(t, s, "w", ct.TaskID, 5)
		require.Len(t, cs, 1)
		assert.Equal(t, "a", cs[0].StepName)
		assert.Empty(t, sequenceOf(t, cs[0]), "the old results are gone")
	})

	t.Run("update_step_results names the children that already ran", func(t *testing.T) {
		ct := chain(t, s, 3)
		runAll(t, s, ct.TaskID)
		res, err := svc.UpdateStepResults(ctx, operator.ResultsRequest{StepRequest: operator.StepRequest{Request: who, StepID: ct.StepIDs["a"]},
			Results: json.RawMessage(`{"v": 2}`)})
		require.NoError(t, err)
		names := []string{}
		for _, c := range res.ChildrenAlreadyRun {
			names = append(names, c.Name)
		}
		assert.Equal(t, []string{"b", "c"}, names)
		require.Len(t, res.Steps, 1)
		assert.JSONEq(t, `{"v": 2}`, string(res.Steps[0].After.Results))
		assert.Empty(t, res.Transitions)
	})

	t.Run("override_dependencies refuses a cycle", func(t *testing.T) {
		ct := chain(t, s, 3)
		before := fingerprint(t, s)
		_, err := svc.OverrideDependencies(ctx, operator.DependenciesRequest{StepRequest: operator.StepRequest{Request: who, StepID: ct.StepIDs["a"]},
			Add: []int64{ct.StepIDs["c"]}})
		require.Error(t, err)
		assert.Equal(t, errs.Cycle, errs.KindOf(err))
		assert.Equal(t, []string{"a", "b", "c"}, errs.DetailsOf(err)["cycle"])
		assert.Equal(t, before, fingerprint(t, s))
	})

	t.Run("override_dependencies rewires readiness", func(t *testing.T) {
		ct := chain(t, s, 3)
		res, err := svc.OverrideDependencies(ctx, operator.DependenciesRequest{StepRequest: operator.StepRequest{Request: who, StepID: ct.StepIDs["c"]},
			Remove: []int64{ct.StepIDs["b"]}})
		require.NoError(t, err)
		assert.Equal(t, [][2]int64{{ct.StepIDs["b"], ct.StepIDs["c"]}}, res.EdgesRemoved)
		cs := claim(t, s, "w", ct.TaskID, 5)
		names := []string{}
		for _, c := range cs {
			names = append(names, c.StepName)
		}
		assert.ElementsMatch(t, []string{"a", "c"}, names, "c no longer waits for b")
		_, err = svc.OverrideDependencies(ctx, operator.DependenciesRequest{StepRequest: operator.StepRequest{Request: who, StepID: ct.StepIDs["b"]},
			Remove: []int64{ct.StepIDs["c"]}})
		assert.Equal(t, errs.Validation, errs.KindOf(err), "c is not a parent of b")
	})

	t.Run("force_fail_task fails for good", func(t *testing.T) {
		ct := chain(t, s, 3)
		scenarios["running"].setup(t, s, svc, ct)
		_, err := svc.ForceFailTask(ctx, operator.TaskRequest{Request: who, TaskID: ct.TaskID})
		require.NoError(t, err)
		assert.Empty(t, claim(t, s, "w", ct.TaskID, 5), "no claim restarts a force-failed task")
		assert.Equal(t, er, taskState(t, s, ct.TaskID))
		snaps, err := s.StepSnapshots(ctx, ct.TaskID)
		require.NoError(t, err)
		for _, st := range snaps {
			require.NotNil(t, st.Retryable, st.Name)
			assert.False(t, *st.Retryable, st.Name)
		}
		rs, err := s.StepReadiness(ctx, ct.TaskID, []int64{ct.StepIDs["a"]}, nil)
		require.NoError(t, err)
		assert.Equal(t, "not_retryable", rs[0].Reason)
	})

	t.Run("update_task_metadata keeps the context unless asked", func(t *testing.T) {
		ct := chain(t, s, 3)
		_, err := svc.UpdateTaskMetadata(ctx, operator.UpdateTaskMetadataRequest{TaskRequest: operator.TaskRequest{Request: who, TaskID: ct.TaskID},
			Context: json.RawMessage(`{"order": 8}`)})
		assert.Equal(t, errs.Validation, errs.KindOf(err))
		res, err := svc.UpdateTaskMetadata(ctx, operator.UpdateTaskMetadataRequest{TaskRequest: operator.TaskRequest{Request: who, TaskID: ct.TaskID},
			Tags: json.RawMessage(`{"team": "payments"}`), Context: json.RawMessage(`{"order": 8}`), ReplaceContext: true,
			Annotations: []operator.Annotation{{Type: "incident", Annotation: json.RawMessage(`{"id": 42}`)}}})
		require.NoError(t, err)
		require.NotNil(t, res.Task)
		assert.JSONEq(t, `{"order": 7}`, string(res.Task.Before.Context))
		assert.JSONEq(t, `{"order": 8}`, string(res.Task.After.Context))
		assert.JSONEq(t, `{"team": "payments"}`, string(res.Task.After.Tags))
		res, err = svc.UpdateTaskMetadata(ctx, operator.UpdateTaskMetadataRequest{TaskRequest: operator.TaskRequest{Request: who, TaskID: ct.TaskID},
			Tags: json.RawMessage(`{"sev": 1}`)})
		require.NoError(t, err)
		assert.JSONEq(t, `{"team": "payments", "sev": 1}`, string(res.Task.After.Tags), "objects merge")
		var n int
		require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM tasker_task_annotations WHERE task_id = $1`, ct.TaskID).Scan(&n))
		assert.Equal(t, 1, n)
	})
}

func TestRequestValidationAndUnknownIDs(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	svc := operator.New(s, operator.Options{})
	ctx := context.Background()
	ct := chain(t, s, 3)
	before := fingerprint(t, s)
	_, err := svc.CancelTask(ctx, operator.TaskRequest{Request: operator.Request{Actor: "a"}, TaskID: ct.TaskID})
	assert.Equal(t, errs.Validation, errs.KindOf(err))
	assert.Equal(t, "reason", errs.DetailsOf(err)["field"])
	_, err = svc.CancelTask(ctx, operator.TaskRequest{Request: operator.Request{Actor: "a", Reason: " \t"}, TaskID: ct.TaskID})
	assert.Equal(t, "reason", errs.DetailsOf(err)["field"], "a blank reason is no reason")
	for field, req := range map[string]operator.Request{
		"actor":           {Actor: "a\x00b", Reason: "r"},
		"reason":          {Actor: "a", Reason: "r\x00"},
		"idempotency_key": {Actor: "a", Reason: "r", IdempotencyKey: strings.Repeat("k", 257)},
		"request_id":      {Actor: "a", Reason: "r", RequestID: "\xff"},
	} {
		_, err = svc.CancelTask(ctx, operator.TaskRequest{Request: req, TaskID: ct.TaskID})
		assert.Equal(t, errs.Validation, errs.KindOf(err), field)
		assert.Equal(t, field, errs.DetailsOf(err)["field"])
	}
	_, err = svc.CancelTask(ctx, operator.TaskRequest{Request: operator.Request{Actor: strings.Repeat("é", 256), Reason: "r", DryRun: true},
		TaskID: ct.TaskID})
	assert.NoError(t, err, "256 characters fit the column, whatever their bytes")
	_, err = svc.UpdateTaskMetadata(ctx, operator.UpdateTaskMetadataRequest{TaskRequest: operator.TaskRequest{Request: who, TaskID: ct.TaskID},
		Annotations: []operator.Annotation{{Type: strings.Repeat("t", 65), Annotation: json.RawMessage(`1`)}}})
	assert.Equal(t, "annotations", errs.DetailsOf(err)["field"])
	_, err = svc.CancelTask(ctx, operator.TaskRequest{Request: operator.Request{Reason: "r"}, TaskID: ct.TaskID})
	assert.Equal(t, "actor", errs.DetailsOf(err)["field"])
	_, err = svc.CancelTask(ctx, operator.TaskRequest{Request: who})
	assert.Equal(t, "task_id", errs.DetailsOf(err)["field"])
	_, err = svc.CancelTask(ctx, operator.TaskRequest{Request: who, TaskID: 987654321})
	assert.Equal(t, errs.NotFound, errs.KindOf(err))
	_, err = svc.RetryStep(ctx, operator.StepRequest{Request: who, StepID: 987654321})
	assert.Equal(t, errs.NotFound, errs.KindOf(err))
	_, err = svc.OperatorActions(ctx, operator.ActionsRequest{TaskID: 987654321})
	assert.Equal(t, errs.NotFound, errs.KindOf(err))
	_, err = svc.OverrideDependencies(ctx, operator.DependenciesRequest{StepRequest: operator.StepRequest{Request: who, StepID: ct.StepIDs["c"]},
		Add: []int64{987654321}})
	assert.Equal(t, errs.NotFound, errs.KindOf(err))
	assert.Equal(t, before, fingerprint(t, s))
}

// sequenceOf decodes a claimed step's sequence (results by step name).
func sequenceOf(t *testing.T, c store.ClaimedStep) map[string]json.RawMessage {
	t.Helper()
	m, err := c.SequenceResults()
	require.NoError(t, err)
	return m
}
