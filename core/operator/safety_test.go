package operator_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/goccy/go-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/operator"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
)

// A step in flight when its task is cancelled loses its lease: its worker's
// heartbeat extends nothing and its late report is refused without writing.
func TestCancelRefusesTheLateReportOfARunningStep(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	svc := operator.New(s, operator.Options{})
	ctx := context.Background()
	ct := chain(t, s, 3)
	cs := claim(t, s, "w1", ct.TaskID, 1)
	require.Len(t, cs, 1)

	res, err := svc.CancelTask(ctx, operator.TaskRequest{Request: who, TaskID: ct.TaskID})
	require.NoError(t, err)
	require.Len(t, res.Steps, 3)
	assert.Equal(t, "w1", res.Steps[0].Before.ClaimedBy)
	assert.Empty(t, res.Steps[0].After.ClaimedBy, "the lease is gone")

	ext, err := s.Heartbeat(ctx, "w1", []int64{cs[0].StepID}, 30)
	require.NoError(t, err)
	assert.Empty(t, ext, "the heartbeat of the old holder extends nothing")

	before := fingerprint(t, s)
	rep := report(t, s, success("w1", cs[0]))
	require.Len(t, rep.Outcomes, 1)
	assert.Equal(t, store.OutcomeRejected, rep.Outcomes[0].Status)
	assert.Equal(t, errs.StateTransition, errs.KindOf(rep.Outcomes[0].Err))
	assert.Equal(t, true, errs.DetailsOf(rep.Outcomes[0].Err)["conflict"])
	assert.Equal(t, before, fingerprint(t, s), "the refused report wrote nothing")
	assert.Equal(t, state.Cancelled, stepStates(t, s, ct.TaskID)["a"])
}

// Workers claim and report steps of a wide task while an operator cancels it:
// every step ends complete (its report came first) or cancelled (the cancel came
// first, and the report was refused with a conflict), never both, and nothing is
// written to a step after its cancellation.
func TestCancelRacingWorkers(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	svc := operator.New(s, operator.Options{})
	ctx := context.Background()
	const width, workers = 24, 4
	steps := make([]store.StepSpec, width)
	for i := range steps {
		steps[i] = store.StepSpec{Name: fmt.Sprintf("s%02d", i)}
	}
	ct, err := s.CreateTask(ctx, store.TaskSpec{Name: "wide", Namespace: "ops", Steps: steps})
	require.NoError(t, err)

	var mu sync.Mutex
	applied, refused := map[int64]bool{}, map[int64]bool{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(worker string) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				cs, err := s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: worker, TaskID: ct.TaskID, Limit: 2, LeaseSeconds: 30})
				if !assert.NoError(t, err) {
					return
				}
				if len(cs) == 0 {
					time.Sleep(time.Millisecond)
					continue
				}
				time.Sleep(2 * time.Millisecond) // the handler
				for _, c := range cs {
					res, err := s.ReportResults(ctx, []store.StepReport{success(worker, c)})
					if !assert.NoError(t, err) {
						return
					}
					o := res.Outcomes[0]
					mu.Lock()
					switch o.Status {
					case store.OutcomeApplied:
						applied[c.StepID] = true
					default:
						assert.Equal(t, true, errs.DetailsOf(o.Err)["conflict"], "a refused report is a conflict: %v", o.Err)
						refused[c.StepID] = true
					}
					mu.Unlock()
				}
			}
		}(fmt.Sprintf("w%d", w))
	}
	// Cancel mid-flight: once a few reports went through.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(applied)
		mu.Unlock()
		if n >= width/4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	res, err := svc.CancelTask(ctx, operator.TaskRequest{Request: who, TaskID: ct.TaskID})
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()

	assert.Equal(t, state.Cancelled, taskState(t, s, ct.TaskID))
	cancelledByOp := map[int64]bool{}
	for _, c := range res.Steps {
		cancelledByOp[c.StepID] = true
	}
	complete, cancelled := 0, 0
	for _, id := range ct.StepIDs {
		trail, err := s.StepTransitions(ctx, id)
		require.NoError(t, err)
		last := trail[len(trail)-1]
		switch last.To {
		case state.Complete:
			complete++
			assert.True(t, applied[id], "step %d completed by a report", id)
			assert.False(t, cancelledByOp[id])
		case state.Cancelled:
			cancelled++
			assert.False(t, applied[id], "step %d: a report applied and the step was cancelled", id)
			assert.True(t, cancelledByOp[id])
			assert.Equal(t, "oncall@example.com", last.Metadata["actor"])
		default:
			t.Errorf("step %d ended %s", id, last.To)
		}
		for _, tr := range trail {
			if tr.To == state.Cancelled {
				assert.Equal(t, last.ID, tr.ID, "nothing after the cancellation of step %d", id)
			}
		}
	}
	assert.Equal(t, width, complete+cancelled)
	assert.Positive(t, complete, "reports before the cancel")
	assert.Positive(t, cancelled, "steps the cancel took")
	assert.Equal(t, len(applied), complete)
	t.Logf("complete %d, cancelled %d, refused reports %d", complete, cancelled, len(refused))
}

// force_complete_task and the worker's report of the same in-flight step race;
// exactly one wins: the report (the step completes with the worker's results) or
// the operator (the step is resolved through error, the report is refused with a
// conflict).
func TestForceCompleteRacingAReport(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	svc := operator.New(s, operator.Options{})
	ctx := context.Background()
	const rounds = 12
	wins := map[string]int{}
	for i := 0; i < rounds; i++ {
		ct := chain(t, s, 3)
		cs := claim(t, s, "w1", ct.TaskID, 1)
		require.Len(t, cs, 1)
		var rep store.ReportResult
		var repErr, opErr error
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			rep, repErr = s.ReportResults(ctx, []store.StepReport{success("w1", cs[0])})
		}()
		go func() {
			defer wg.Done()
			<-start
			_, opErr = svc.ForceCompleteTask(ctx, operator.TaskRequest{Request: who, TaskID: ct.TaskID})
		}()
		close(start)
		wg.Wait()
		require.NoError(t, repErr)
		require.NoError(t, opErr)
		require.Equal(t, state.Complete, taskState(t, s, ct.TaskID))
		trail, err := s.StepTransitions(ctx, cs[0].StepID)
		require.NoError(t, err)
		last := trail[len(trail)-1]
		if rep.Outcomes[0].Status == store.OutcomeApplied {
			wins["worker"]++
			assert.Equal(t, state.Complete, last.To)
			assert.Nil(t, last.Metadata["action_id"])
		} else {
			wins["operator"]++
			assert.Equal(t, true, errs.DetailsOf(rep.Outcomes[0].Err)["conflict"])
			assert.Equal(t, state.ResolvedManually, last.To)
			assert.Equal(t, state.Error, trail[len(trail)-2].To)
			assert.NotNil(t, last.Metadata["action_id"])
		}
	}
	assert.Equal(t, rounds, wins["worker"]+wins["operator"])
	t.Logf("wins: %v", wins)
}

// A dry run answers exactly what the operation would change and writes nothing:
// every tasker_ table has the same rows before and after, and the real run then
// makes the transitions and events the dry run listed.
func TestDryRunsWriteNothing(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	svc := operator.New(s, operator.Options{})
	ctx := context.Background()
	cases := map[string]string{ // operation → scenario where it applies
		"cancel_task": "running", "retry_task": "failed_retryable", "reset_attempts": "exhausted",
		"force_complete_task": "running", "force_fail_task": "running", "update_task_metadata": "pending",
		"retry_step": "exhausted", "reset_step": "failed_retryable", "resolve_step": "exhausted",
		"update_step_results": "complete", "override_dependencies": "pending",
	}
	require.Len(t, cases, len(ops))
	for op, sc := range cases {
		t.Run(op, func(t *testing.T) {
			ct := chain(t, s, scenarios[sc].aLimit)
			scenarios[sc].setup(t, s, svc, ct)
			before := fingerprint(t, s)
			dryReq := who
			dryReq.DryRun = true
			dry, err := ops[op](ctx, svc, ct, dryReq)
			require.NoError(t, err)
			assert.True(t, dry.DryRun)
			assert.Zero(t, dry.ActionID)
			assert.Equal(t, before, fingerprint(t, s), "the dry run wrote nothing")

			real, err := ops[op](ctx, svc, ct, who)
			require.NoError(t, err)
			assert.Equal(t, transitionsOf(real.Transitions), transitionsOf(dry.Transitions))
			assert.Equal(t, eventNames(real.Events), eventNames(dry.Events))
			assert.Equal(t, real.TaskStateAfter, dry.TaskStateAfter)
			assert.Equal(t, len(real.Steps), len(dry.Steps))
			assert.NotEqual(t, before, fingerprint(t, s))
		})
	}
}

func transitionsOf(ts []operator.TransitionChange) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = fmt.Sprintf("%s %d %s->%s %s", t.Kind, t.ID, t.From, t.To, t.Event)
	}
	return out
}

// The same idempotency key applied twice does the work once and returns the
// first answer, also when both requests arrive together; a key used for another
// operation is refused.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	svc := operator.New(s, operator.Options{})
	ctx := context.Background()
	ct := chain(t, s, 1)
	scenarios["exhausted"].setup(t, s, svc, ct)
	req := who
	req.IdempotencyKey = "retry-a-incident-42"

	const n = 4
	results := make([]operator.Result, n)
	errsOut := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errsOut[i] = svc.RetryStep(ctx, operator.StepRequest{Request: req, StepID: ct.StepIDs["a"]})
		}(i)
	}
	wg.Wait()
	firsts := 0
	for i := 0; i < n; i++ {
		require.NoError(t, errsOut[i])
		assert.Equal(t, results[0].ActionID, results[i].ActionID)
		assert.Equal(t, transitionsOf(results[0].Transitions), transitionsOf(results[i].Transitions))
		if !results[i].Replayed {
			firsts++
		}
	}
	assert.Equal(t, 1, firsts, "one request did the work")
	assert.Equal(t, 1, countActions(t, s, ct.TaskID))
	trail, err := s.StepTransitions(ctx, ct.StepIDs["a"])
	require.NoError(t, err)
	retries := 0
	for _, tr := range trail {
		if tr.From == state.Error && tr.To == state.Pending {
			retries++
		}
	}
	assert.Equal(t, 1, retries)

	before := fingerprint(t, s)
	again, err := svc.RetryStep(ctx, operator.StepRequest{Request: req, StepID: ct.StepIDs["a"]})
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, before, fingerprint(t, s), "a replay writes nothing")

	_, err = svc.CancelTask(ctx, operator.TaskRequest{Request: req, TaskID: ct.TaskID})
	assert.Equal(t, errs.Validation, errs.KindOf(err))
	assert.Equal(t, "retry_step", errs.DetailsOf(err)["operation"])
}

// Each operation writes one audit row, listed by OperatorActions, and every
// transition it wrote carries its actor, reason and action id.
func TestAuditRowsAndTransitionMetadata(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	svc := operator.New(s, operator.Options{})
	ctx := context.Background()
	ct := chain(t, s, 1)
	scenarios["exhausted"].setup(t, s, svc, ct)
	req := who
	req.RequestID = "req-7"
	retry, err := svc.RetryStep(ctx, operator.StepRequest{Request: req, StepID: ct.StepIDs["a"]})
	require.NoError(t, err)
	cancel, err := svc.CancelTask(ctx, operator.TaskRequest{Request: operator.Request{Actor: "lead", Reason: "customer asked"}, TaskID: ct.TaskID})
	require.NoError(t, err)

	actions, err := svc.OperatorActions(ctx, operator.ActionsRequest{TaskID: ct.TaskID})
	require.NoError(t, err)
	require.Len(t, actions, 2)
	a := actions[0]
	assert.Equal(t, retry.ActionID, a.ActionID)
	assert.Equal(t, "retry_step", a.Operation)
	assert.Equal(t, "step", a.TargetType)
	assert.Equal(t, ct.StepIDs["a"], a.TargetID)
	assert.Equal(t, who.Actor, a.Actor)
	assert.Equal(t, who.Reason, a.Reason)
	assert.Equal(t, "req-7", a.RequestID)
	assert.Equal(t, ct.CorrelationID, a.CorrelationID)
	var before, after map[string]any
	require.NoError(t, json.Unmarshal(a.BeforeState, &before))
	require.NoError(t, json.Unmarshal(a.AfterState, &after))
	assert.Equal(t, "error", before["task"])
	assert.Equal(t, "pending", after["task"])
	stepKey := fmt.Sprint(ct.StepIDs["a"])
	assert.Equal(t, "error", before["steps"].(map[string]any)[stepKey].(map[string]any)["state"])
	assert.Equal(t, "pending", after["steps"].(map[string]any)[stepKey].(map[string]any)["state"])
	assert.Equal(t, "cancel_task", actions[1].Operation)
	assert.Equal(t, "lead", actions[1].Actor)

	for _, res := range []operator.Result{retry, cancel} {
		require.NotEmpty(t, res.Transitions)
		for _, tc := range res.Transitions {
			var trail []store.Transition
			if tc.Kind == "task" {
				trail, err = s.TaskTransitions(ctx, tc.ID)
			} else {
				trail, err = s.StepTransitions(ctx, tc.ID)
			}
			require.NoError(t, err)
			found := false
			for _, tr := range trail {
				if tr.SortKey == tc.SortKey {
					found = true
					assert.Equal(t, res.Actor, tr.Metadata["actor"], "%s %d #%d", tc.Kind, tc.ID, tc.SortKey)
					assert.Equal(t, res.Reason, tr.Metadata["reason"])
					assert.Equal(t, res.Operation, tr.Metadata["operation"])
					assert.Equal(t, fmt.Sprint(res.ActionID), fmt.Sprint(tr.Metadata["action_id"]))
				}
			}
			assert.True(t, found)
		}
	}
}

// An operation emits its transitions' catalog events and one operator event with
// actor and reason, in the outbox in the task's sequence, as the answer lists them.
func TestOperationEventsInTheOutbox(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	svc := operator.New(s, operator.Options{})
	ctx := context.Background()
	ct := chain(t, s, 3)
	claim(t, s, "w1", ct.TaskID, 1)
	var seqBefore int64
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT event_seq FROM tasker_tasks WHERE task_id = $1`, ct.TaskID).Scan(&seqBefore))
	res, err := svc.CancelTask(ctx, operator.TaskRequest{Request: who, TaskID: ct.TaskID})
	require.NoError(t, err)

	rows, err := s.Pool().Query(ctx, `SELECT task_seq, name, payload FROM tasker_events WHERE task_id = $1 AND task_seq > $2 ORDER BY task_seq`,
		ct.TaskID, seqBefore)
	require.NoError(t, err)
	var names []string
	var opPayload map[string]any
	for rows.Next() {
		var seq int64
		var name string
		var payload []byte
		require.NoError(t, rows.Scan(&seq, &name, &payload))
		names = append(names, name)
		if name == "operator.task_cancelled" {
			require.NoError(t, json.Unmarshal(payload, &opPayload))
		}
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, names, eventNames(res.Events), "the answer lists the outbox rows")
	assert.Equal(t, []string{"step.cancelled", "step.cancelled", "step.cancelled", "task.cancelled", "operator.task_cancelled"}, names)
	require.NotNil(t, opPayload)
	assert.Equal(t, who.Actor, opPayload["actor"])
	assert.Equal(t, who.Reason, opPayload["reason"])
	assert.Equal(t, "in_progress", opPayload["task_state_before"])
	assert.Equal(t, "cancelled", opPayload["task_state_after"])
	assert.Len(t, opPayload["steps_changed"], 3)
}

// An Authorizer is asked before each operation with the actor, the operation and
// the target; a refusal is a permission_denied error and writes nothing.
func TestAuthorizerRefusal(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	var mu sync.Mutex
	var asked []string
	svc := operator.New(s, operator.Options{Authorizer: operator.AuthorizerFunc(
		func(_ context.Context, actor, action string, target operator.Target) error {
			mu.Lock()
			asked = append(asked, fmt.Sprintf("%s %s %s", actor, action, target.Type))
			mu.Unlock()
			if actor == "mallory" {
				return errors.New("not on call")
			}
			return nil
		})})
	ctx := context.Background()
	ct := chain(t, s, 3)
	before := fingerprint(t, s)
	_, err := svc.CancelTask(ctx, operator.TaskRequest{Request: operator.Request{Actor: "mallory", Reason: "x"}, TaskID: ct.TaskID})
	require.Error(t, err)
	assert.Equal(t, errs.PermissionDenied, errs.KindOf(err))
	assert.Contains(t, err.Error(), "not on call")
	assert.Equal(t, "cancel_task", errs.DetailsOf(err)["action"])
	_, err = svc.ResolveStep(ctx, operator.ResultsRequest{StepRequest: operator.StepRequest{Request: operator.Request{Actor: "mallory", Reason: "x", DryRun: true},
		StepID: ct.StepIDs["a"]}})
	assert.Equal(t, errs.PermissionDenied, errs.KindOf(err), "dry runs are authorized too")
	_, err = svc.OperatorActions(ctx, operator.ActionsRequest{Actor: "mallory", TaskID: ct.TaskID})
	assert.Equal(t, errs.PermissionDenied, errs.KindOf(err))
	assert.Equal(t, before, fingerprint(t, s), "a refusal writes nothing")

	_, err = svc.CancelTask(ctx, operator.TaskRequest{Request: who, TaskID: ct.TaskID})
	require.NoError(t, err)
	assert.Equal(t, []string{"mallory cancel_task task", "mallory resolve_step step", "mallory operator_actions task",
		"oncall@example.com cancel_task task"}, asked)
}

// A retried exhausted step makes its failed task runnable and the workflow
// then completes; the task went error → pending → in_progress → complete.
func TestRetryStepRepairsAnExhaustedWorkflow(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	svc := operator.New(s, operator.Options{})
	ctx := context.Background()
	ct := chain(t, s, 1)
	scenarios["exhausted"].setup(t, s, svc, ct)
	res, err := svc.RetryStep(ctx, operator.StepRequest{Request: who, StepID: ct.StepIDs["a"]})
	require.NoError(t, err)
	assert.Equal(t, state.Pending, res.TaskStateAfter)
	assert.Contains(t, eventNames(res.Events), "step.retry_requested")
	assert.Contains(t, eventNames(res.Events), "task.retry_requested")
	runAll(t, s, ct.TaskID)
	assert.Equal(t, state.Complete, taskState(t, s, ct.TaskID))
	trail, err := s.TaskTransitions(ctx, ct.TaskID)
	require.NoError(t, err)
	var path []state.State
	for _, tr := range trail {
		path = append(path, tr.To)
	}
	assert.Equal(t, []state.State{state.Pending, state.InProgress, state.Error, state.Pending, state.InProgress, state.Complete}, path)
}

// Live subscribers get an operation's events after its commit; a dry run
// publishes nothing, not even the before_transition events of what it tried.
func TestLiveEventsAfterCommitNoneForADryRun(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	var mu sync.Mutex
	var got []string
	s.SetLiveSink(func(evs []store.Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range evs {
			got = append(got, e.Name)
		}
	})
	svc := operator.New(s, operator.Options{})
	ctx := context.Background()
	ct := chain(t, s, 3)
	mu.Lock()
	got = nil
	mu.Unlock()
	dry := who
	dry.DryRun = true
	_, err := svc.CancelTask(ctx, operator.TaskRequest{Request: dry, TaskID: ct.TaskID})
	require.NoError(t, err)
	mu.Lock()
	assert.Empty(t, got, "a dry run publishes nothing")
	mu.Unlock()
	_, err = svc.CancelTask(ctx, operator.TaskRequest{Request: who, TaskID: ct.TaskID})
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, got, "step.before_transition")
	assert.Contains(t, got, "task.cancelled")
	assert.Equal(t, "operator.task_cancelled", got[len(got)-1])
}
