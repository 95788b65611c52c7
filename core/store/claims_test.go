package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
)

func claim(t *testing.T, s *store.Store, worker string, taskID int64, limit int) []store.ClaimedStep {
	t.Helper()
	cs, err := s.ClaimSteps(context.Background(), store.ClaimRequest{WorkerID: worker, TaskID: taskID, Limit: limit, LeaseSeconds: 30})
	require.NoError(t, err)
	return cs
}

func claimedNames(cs []store.ClaimedStep) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.StepName)
	}
	sort.Strings(out)
	return out
}

func report(t *testing.T, s *store.Store, reps ...store.StepReport) store.ReportResult {
	t.Helper()
	res, err := s.ReportResults(context.Background(), reps)
	require.NoError(t, err)
	return res
}

func ok(worker string, c store.ClaimedStep) store.StepReport {
	return store.StepReport{StepID: c.StepID, WorkerID: worker, Success: true, Results: []byte(fmt.Sprintf(`{"by": %q}`, c.StepName))}
}

func taskState(t *testing.T, s *store.Store, taskID int64) string {
	t.Helper()
	ec, err := s.ExecutionContext(context.Background(), taskID, nil)
	require.NoError(t, err)
	return ec.Status
}

func TestClaimReportFinalizeDiamond(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ct := create(t, s, "diamond", step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c"))

	cs := claim(t, s, "w1", ct.TaskID, 10)
	require.Equal(t, []string{"a"}, claimedNames(cs))
	assert.Equal(t, "in_progress", taskState(t, s, ct.TaskID), "the first claim starts the task")
	assert.JSONEq(t, `{"order_id": 42}`, string(cs[0].TaskContext))
	assert.Equal(t, int32(1), cs[0].Attempts)
	assert.WithinDuration(t, time.Now().Add(30*time.Second), cs[0].LeaseExpiresAt, 5*time.Second)
	assert.Empty(t, claim(t, s, "w2", ct.TaskID, 10), "nothing else is ready while a runs")

	res := report(t, s, ok("w1", cs[0]))
	require.Equal(t, store.OutcomeApplied, res.Outcomes[0].Status)
	require.Len(t, res.Tasks, 1)
	assert.Equal(t, "has_ready_steps", res.Tasks[0].ExecutionStatus)

	// Both branches are handed out together: they can run at the same time.
	cs = claim(t, s, "w1", ct.TaskID, 10)
	require.Equal(t, []string{"b", "c"}, claimedNames(cs))
	assert.JSONEq(t, `{"by": "a"}`, string(sequenceOf(t, cs[0])["a"]), "a child sees its parent's results")
	res = report(t, s, ok("w1", cs[0]), ok("w1", cs[1]))
	assert.Equal(t, "has_ready_steps", res.Tasks[0].ExecutionStatus)

	cs = claim(t, s, "w1", ct.TaskID, 10)
	require.Equal(t, []string{"d"}, claimedNames(cs))
	assert.Len(t, sequenceOf(t, cs[0]), 3)
	res = report(t, s, ok("w1", cs[0]))
	assert.Equal(t, "complete", res.Tasks[0].Status)
	assert.Nil(t, res.Tasks[0].ReadyAt)

	trail, err := s.TaskTransitions(context.Background(), ct.TaskID)
	require.NoError(t, err)
	var states []string
	for _, tr := range trail {
		states = append(states, string(tr.To))
	}
	assert.Equal(t, []string{"pending", "in_progress", "complete"}, states)
}

func TestFailureRetryAfterBackoffThroughClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ct := create(t, s, "flaky", step("a"))
	cs := claim(t, s, "w", ct.TaskID, 1)
	res := report(t, s, store.StepReport{StepID: cs[0].StepID, WorkerID: "w", Error: &store.StepError{Message: "timeout"}})
	require.Equal(t, store.OutcomeApplied, res.Outcomes[0].Status)
	assert.Equal(t, "waiting_for_dependencies", res.Tasks[0].ExecutionStatus)
	require.NotNil(t, res.Tasks[0].ReadyAt)
	require.NotNil(t, res.Tasks[0].NextRetryAt)
	assert.Equal(t, *res.Tasks[0].NextRetryAt, *res.Tasks[0].ReadyAt, "the task is scheduled for the retry time")
	assert.Empty(t, claim(t, s, "w", ct.TaskID, 1), "not before the backoff")

	backdate(t, s, cs[0].StepID, 3*time.Second)
	_, err := s.Pool().Exec(ctx, `UPDATE tasker_tasks SET ready_at = ready_at - interval '3 seconds' WHERE task_id = $1`, ct.TaskID)
	require.NoError(t, err)
	again := claim(t, s, "w", 0, 5)
	require.Len(t, again, 1, "found through the task schedule")
	assert.Equal(t, int32(2), again[0].Attempts)
	report(t, s, ok("w", again[0]))
	assert.Equal(t, "complete", taskState(t, s, ct.TaskID))

	trail, err := s.StepTransitions(ctx, cs[0].StepID)
	require.NoError(t, err)
	var got []string
	for _, tr := range trail {
		got = append(got, string(tr.To))
	}
	assert.Equal(t, []string{"pending", "in_progress", "error", "pending", "in_progress", "complete"}, got,
		"the retry path is explicit and audited")
}

func TestPermanentFailureAndExhaustionBlockTheTask(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	no := false
	ct := create(t, s, "permanent", step("a"), step("b", "a"))
	cs := claim(t, s, "w", ct.TaskID, 1)
	res := report(t, s, store.StepReport{StepID: cs[0].StepID, WorkerID: "w",
		Error: &store.StepError{Message: "card declined", Retryable: &no}})
	assert.Equal(t, "blocked_by_failures", res.Tasks[0].ExecutionStatus)
	assert.Equal(t, "error", res.Tasks[0].Status)
	assert.Nil(t, res.Tasks[0].ReadyAt)
	before, err := s.TaskTransitions(context.Background(), ct.TaskID)
	require.NoError(t, err)
	assert.Empty(t, claim(t, s, "w", ct.TaskID, 2), "nothing to claim on a blocked task")
	after, err := s.TaskTransitions(context.Background(), ct.TaskID)
	require.NoError(t, err)
	assert.Equal(t, before, after, "a claim that finds nothing changes no task's state")

	limit := int32(2)
	ct2 := create(t, s, "exhaust", store.StepSpec{Name: "x", RetryLimit: &limit})
	for attempt := 1; attempt <= 2; attempt++ {
		backdate(t, s, ct2.StepIDs["x"], time.Hour)
		cs := claim(t, s, "w", ct2.TaskID, 1)
		require.Len(t, cs, 1, "attempt %d", attempt)
		res = report(t, s, store.StepReport{StepID: cs[0].StepID, WorkerID: "w", Error: &store.StepError{Message: "boom"}})
	}
	assert.Equal(t, "blocked_by_failures", res.Tasks[0].ExecutionStatus)
	assert.Equal(t, "error", res.Tasks[0].Status)
	backdate(t, s, ct2.StepIDs["x"], time.Hour)
	assert.Empty(t, claim(t, s, "w", ct2.TaskID, 1))
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ct := create(t, s, "ra", step("a"))
	cs := claim(t, s, "w", ct.TaskID, 1)
	after := int32(120)
	res := report(t, s, store.StepReport{StepID: cs[0].StepID, WorkerID: "w",
		Error: &store.StepError{Message: "rate limited", RetryAfterSeconds: &after}})
	require.NotNil(t, res.Tasks[0].NextRetryAt)
	assert.WithinDuration(t, time.Now().Add(120*time.Second), *res.Tasks[0].NextRetryAt, 5*time.Second)
	backdate(t, s, cs[0].StepID, 100*time.Second) // past the policy's 2 s, not past 120 s
	assert.Empty(t, claim(t, s, "w", ct.TaskID, 1), "not earlier than retry_after")
	backdate(t, s, cs[0].StepID, 30*time.Second)
	assert.Len(t, claim(t, s, "w", ct.TaskID, 1), 1)
}

func TestLeaseExpiryRecoveryAndLateReport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ct := create(t, s, "crash", step("a"))
	cs := claim(t, s, "dead-worker", ct.TaskID, 1)

	ext, err := s.Heartbeat(ctx, "dead-worker", []int64{cs[0].StepID}, 60)
	require.NoError(t, err)
	assert.Equal(t, []int64{cs[0].StepID}, ext)
	ext, err = s.Heartbeat(ctx, "someone-else", []int64{cs[0].StepID}, 60)
	require.NoError(t, err)
	assert.Empty(t, ext, "only the holder extends a lease")

	none, err := s.RecoverExpiredLeases(ctx, "live", 10)
	require.NoError(t, err)
	assert.Empty(t, none.Outcomes, "a live lease is left alone")

	// The holder's last heartbeat gives it 50 ms, and then it dies.
	ext, err = s.Heartbeat(ctx, "dead-worker", []int64{cs[0].StepID}, 0.05)
	require.NoError(t, err)
	require.Len(t, ext, 1)
	time.Sleep(100 * time.Millisecond)
	rec, err := s.RecoverExpiredLeases(ctx, "live", 10)
	require.NoError(t, err)
	require.Len(t, rec.Outcomes, 1)
	assert.Equal(t, store.OutcomeApplied, rec.Outcomes[0].Status)
	trail, err := s.StepTransitions(ctx, cs[0].StepID)
	require.NoError(t, err)
	last := trail[len(trail)-1]
	assert.Equal(t, state.Error, last.To)
	assert.Equal(t, "lease_expired", last.Metadata["reason"])
	assert.Equal(t, "dead-worker", last.Metadata["claimed_by"])

	// The dead worker's late report is refused; the step is retried by another.
	res, err := s.ReportResults(ctx, []store.StepReport{ok("dead-worker", cs[0])})
	require.NoError(t, err)
	assert.Equal(t, store.OutcomeRejected, res.Outcomes[0].Status)
	assert.Equal(t, errs.StateTransition, errs.KindOf(res.Outcomes[0].Err))

	backdate(t, s, cs[0].StepID, time.Hour)
	again := claim(t, s, "live", ct.TaskID, 1)
	require.Len(t, again, 1)
	assert.Equal(t, int32(2), again[0].Attempts, "the lost run counted as a failed attempt")
	report(t, s, ok("live", again[0]))
	assert.Equal(t, "complete", taskState(t, s, ct.TaskID))
}

func TestNextReadyTasksByPriority(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	var ids []int64
	for i, prio := range []int32{0, 5, 1} {
		ct, err := s.CreateTask(ctx, store.TaskSpec{Name: fmt.Sprintf("p%d", i), Priority: prio, Steps: []store.StepSpec{step("only")}})
		require.NoError(t, err)
		ids = append(ids, ct.TaskID)
	}
	ready, err := s.NextReadyTasks(ctx, 10)
	require.NoError(t, err)
	require.Len(t, ready, 3)
	assert.Equal(t, []int64{ids[1], ids[2], ids[0]}, []int64{ready[0].TaskID, ready[1].TaskID, ready[2].TaskID})

	cs := claim(t, s, "w", 0, 1)
	require.Len(t, cs, 1)
	assert.Equal(t, ids[1], cs[0].TaskID, "the highest priority first")
	ready, err = s.NextReadyTasks(ctx, 10)
	require.NoError(t, err)
	assert.Len(t, ready, 2, "a task whose only step runs has no ready work")
}

// Many workers claiming at once over many tasks: no step is ever held twice and
// every step is handed out exactly once.
func TestConcurrentClaimsNeverShareAStep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	const tasks = 30
	for i := range tasks {
		create(t, s, fmt.Sprintf("fan%d", i), step("a"), step("b"), step("c"))
	}
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker := fmt.Sprintf("w%d", w)
			for {
				cs, err := s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: worker, Limit: 4, LeaseSeconds: 30})
				if !assert.NoError(t, err) || len(cs) == 0 {
					return
				}
				mu.Lock()
				for _, c := range cs {
					if prev, dup := seen[c.StepID]; dup {
						t.Errorf("step %d claimed by %s and %s", c.StepID, prev, worker)
					}
					seen[c.StepID] = worker
				}
				mu.Unlock()
				var reps []store.StepReport
				for _, c := range cs {
					reps = append(reps, ok(worker, c))
				}
				res, err := s.ReportResults(ctx, reps)
				if !assert.NoError(t, err) {
					return
				}
				for _, o := range res.Outcomes {
					assert.Equal(t, store.OutcomeApplied, o.Status)
				}
			}
		}()
	}
	wg.Wait()
	assert.Len(t, seen, tasks*3)
	var complete int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM tasker_tasks WHERE complete`).Scan(&complete))
	assert.Equal(t, tasks, complete)
}

// A late result of an earlier attempt is refused even when the same worker holds
// the step again.
func TestStaleAttemptReportIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ct := create(t, s, "stale", step("a"))
	first, err := s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "w", TaskID: ct.TaskID, Limit: 1, LeaseSeconds: 0.05})
	require.NoError(t, err)
	require.Len(t, first, 1)
	time.Sleep(100 * time.Millisecond) // the handler hangs past its lease
	_, err = s.RecoverExpiredLeases(ctx, "w", 10)
	require.NoError(t, err)
	backdate(t, s, first[0].StepID, time.Hour)
	second := claim(t, s, "w", ct.TaskID, 1)
	require.Len(t, second, 1)
	require.Equal(t, int32(2), second[0].Attempts)

	late := ok("w", first[0])
	late.Attempt = first[0].Attempts
	res := report(t, s, late)
	assert.Equal(t, store.OutcomeRejected, res.Outcomes[0].Status)
	assert.Equal(t, int32(2), errs.DetailsOf(res.Outcomes[0].Err)["current_attempt"])

	current := ok("w", second[0])
	current.Attempt = second[0].Attempts
	res = report(t, s, current)
	assert.Equal(t, store.OutcomeApplied, res.Outcomes[0].Status)
}

// Work made ready by any writer (here the plain batch API) is found by a claim
// across tasks: every step write refreshes the task's schedule.
func TestAnyWriterRefreshesTheSchedule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ct := create(t, s, "sched", step("a"), step("b", "a"))
	cs := claim(t, s, "w", 0, 1)
	require.Len(t, cs, 1)
	outs, err := s.BatchTransitionSteps(ctx, []store.StepTransition{{StepID: cs[0].StepID, To: state.Complete}})
	require.NoError(t, err)
	require.Equal(t, store.OutcomeApplied, outs[0].Status)
	ready, err := s.NextReadyTasks(ctx, 10)
	require.NoError(t, err)
	require.Len(t, ready, 1)
	assert.Equal(t, ct.TaskID, ready[0].TaskID)
	assert.Equal(t, []string{"b"}, claimedNames(claim(t, s, "w", 0, 5)))
}

// A claim can be limited to namespaces: a worker pool per queue takes only its
// tasks, across tasks and for a given task.
func TestClaimByNamespace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	mk := func(ns string) store.CreatedTask {
		ct, err := s.CreateTask(ctx, store.TaskSpec{Name: "job", Namespace: ns, Steps: []store.StepSpec{step("a")}})
		require.NoError(t, err)
		return ct
	}
	billing, shipping := mk("billing"), mk("shipping")
	claimNS := func(taskID int64, ns ...string) []store.ClaimedStep {
		cs, err := s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "w", TaskID: taskID, Limit: 10, LeaseSeconds: 30, Namespaces: ns})
		require.NoError(t, err)
		return cs
	}
	assert.Empty(t, claimNS(billing.TaskID, "shipping"), "the task is not in the worker's namespaces")
	cs := claimNS(0, "shipping", "nowhere")
	require.Len(t, cs, 1)
	assert.Equal(t, shipping.TaskID, cs[0].TaskID)
	assert.Equal(t, "shipping", cs[0].Namespace)
	assert.Empty(t, claimNS(0, "shipping"), "shipping has no more work")
	cs = claimNS(0)
	require.Len(t, cs, 1, "no filter: any namespace")
	assert.Equal(t, billing.TaskID, cs[0].TaskID)

	_, err := s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "w", Limit: 1, LeaseSeconds: 30, Namespaces: []string{""}})
	assert.Equal(t, errs.Validation, errs.KindOf(err))
}

// A worker that says what it can run (Runnable) claims only those tasks: the
// templates it names and, with DatabaseHandlers, the tasks whose template in the
// database names handler classes; a claim of one task ignores the filter.
func TestClaimOnlyRunnableTasks(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	_, err := s.RegisterNamedTask(ctx, store.NamedTask{Namespace: "tests", Name: "from_db", Version: "0.1.0",
		Configuration: []byte(`{"steps": [{"name": "a", "handler_class": "Db::Handler"}]}`)}, map[string]string{"a": ""})
	require.NoError(t, err)
	_, err = s.RegisterNamedTask(ctx, store.NamedTask{Namespace: "tests", Name: "db_no_handler", Version: "0.1.0",
		Configuration: []byte(`{"steps": [{"name": "a"}]}`)}, map[string]string{"a": ""})
	require.NoError(t, err)
	mine := create(t, s, "mine", step("a"))
	fromDB := create(t, s, "from_db", step("a"))
	stranger := create(t, s, "stranger", step("a"))
	noHandler := create(t, s, "db_no_handler", step("a"))
	version := "0.1.0" // store.CreateTask's default
	runnable := &store.RunnableFilter{Tasks: []store.TaskKey{{Namespace: "tests", Name: "mine", Version: version}},
		DatabaseHandlers: true}

	got, err := s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "w", Limit: 10, LeaseSeconds: 30, Runnable: runnable})
	require.NoError(t, err)
	tasks := map[int64]bool{}
	for _, c := range got {
		tasks[c.TaskID] = true
	}
	assert.Equal(t, map[int64]bool{mine.TaskID: true, fromDB.TaskID: true}, tasks)

	none, err := s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "w", Limit: 10, LeaseSeconds: 30,
		Runnable: &store.RunnableFilter{}, Namespaces: []string{"tests"}})
	require.NoError(t, err)
	assert.Empty(t, none, "an empty filter runs nothing")

	one, err := s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "w", TaskID: stranger.TaskID, Limit: 10, LeaseSeconds: 30,
		Runnable: &store.RunnableFilter{}})
	require.NoError(t, err)
	require.Len(t, one, 1, "a claim of one task ignores the filter")

	rest, err := s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "w", Limit: 10, LeaseSeconds: 30, Namespaces: []string{"tests"}})
	require.NoError(t, err)
	require.Len(t, rest, 1, "without a filter: everything (the task without handlers is left)")
	assert.Equal(t, noHandler.TaskID, rest[0].TaskID)

	_, err = s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "w", Limit: 1, LeaseSeconds: 30,
		Runnable: &store.RunnableFilter{Tasks: []store.TaskKey{{Name: "x"}}}})
	require.Error(t, err)
}

// sequenceOf decodes a claimed step's sequence (results by step name).
func sequenceOf(t *testing.T, c store.ClaimedStep) map[string]json.RawMessage {
	t.Helper()
	m, err := c.SequenceResults()
	require.NoError(t, err)
	return m
}
