package store_test

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/testdb"
)

type outboxEvent struct {
	ID      int64
	Seq     int64
	StepID  *int64
	Name    string
	Corr    string
	Payload map[string]any
}

func outbox(t *testing.T, s *store.Store, taskID int64) []outboxEvent {
	t.Helper()
	rows, err := s.Pool().Query(context.Background(), `SELECT event_id, task_seq, step_id, name, correlation_id::text, payload
		FROM tasker_events WHERE task_id = $1 ORDER BY task_seq`, taskID)
	require.NoError(t, err)
	var out []outboxEvent
	for rows.Next() {
		var e outboxEvent
		require.NoError(t, rows.Scan(&e.ID, &e.Seq, &e.StepID, &e.Name, &e.Corr, &e.Payload))
		out = append(out, e)
	}
	require.NoError(t, rows.Err())
	return out
}

var isoUTC = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

// Every transition writes its event in the same transaction: the task's events are
// numbered 1… without gaps, in the order their transactions committed, with the
// REFERENCE §7 payloads.
func TestTransitionsWriteTheirEvents(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ct := create(t, s, "diamond", step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c"))
	for round := 0; round < 3; round++ {
		cs := claim(t, s, "w", ct.TaskID, 10)
		var reps []store.StepReport
		for _, c := range cs {
			reps = append(reps, ok("w", c))
		}
		report(t, s, reps...)
	}
	_, err := s.TransitionStep(context.Background(), store.StepTransition{StepID: ct.StepIDs["a"], To: state.Pending})
	require.Error(t, err, "an illegal transition")

	all := outbox(t, s, ct.TaskID)
	require.NotEmpty(t, all)
	var evs []outboxEvent // the lifecycle events of transitions
	workflow := map[string]int{}
	for i, e := range all {
		assert.Equal(t, int64(i+1), e.Seq, "gapless, orchestration events included")
		assert.Equal(t, ct.CorrelationID, e.Corr)
		if strings.HasPrefix(e.Name, "task.") || strings.HasPrefix(e.Name, "step.") {
			evs = append(evs, e)
			continue
		}
		workflow[e.Name]++
		assert.Equal(t, float64(ct.TaskID), e.Payload["task_id"], e.Name)
	}
	assert.Equal(t, map[string]int{
		"workflow.orchestration_requested": 1,
		"workflow.task_started":            1, "workflow.viable_steps_discovered": 3, "workflow.step_completed": 4,
		"workflow.task_finalization_started": 3, "workflow.task_finalization_completed": 3, "workflow.task_completed": 1,
		// after a, then after b and c: more steps are ready, the task goes back to the schedule at once
		"workflow.task_reenqueue_requested": 2,
	}, workflow)
	assert.Equal(t, "workflow.task_finalization_completed", all[len(all)-1].Name)
	perStep := map[string][]string{}
	var taskEvents []string
	names := map[int64]string{}
	for n, id := range ct.StepIDs {
		names[id] = n
	}
	for i, e := range evs {
		if i > 0 {
			assert.Greater(t, e.ID, evs[i-1].ID, "event ids follow the task's sequence")
		}
		assert.Equal(t, ct.CorrelationID, e.Corr)
		assert.Regexp(t, isoUTC, e.Payload["transitioned_at"])
		assert.Equal(t, float64(ct.TaskID), e.Payload["task_id"])
		if e.StepID == nil {
			taskEvents = append(taskEvents, e.Name)
			assert.Equal(t, "diamond", e.Payload["task_name"])
			assert.Contains(t, e.Payload, "task_context")
			continue
		}
		name := names[*e.StepID]
		assert.Equal(t, name, e.Payload["step_name"])
		perStep[name] = append(perStep[name], e.Name)
	}
	assert.Equal(t, "task.initialize_requested", evs[0].Name)
	assert.Nil(t, evs[0].Payload["from_state"])
	assert.Equal(t, []string{"task.initialize_requested", "task.start_requested", "task.completed"}, taskEvents)
	assert.Equal(t, "task.completed", evs[len(evs)-1].Name, "the task's completion comes after every step's")
	for _, n := range []string{"a", "b", "c", "d"} {
		assert.Equal(t, []string{"step.initialize_requested", "step.execution_requested", "step.completed"}, perStep[n], n)
	}
	assert.Len(t, evs, 3+4*3, "the refused transition wrote no event")
}

// Concurrent reports on one task: the sequence stays gapless and unique.
func TestConcurrentEventSequenceIsGapless(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	specs := make([]store.StepSpec, 24)
	for i := range specs {
		specs[i] = step(fmt.Sprintf("s%02d", i))
	}
	ct := create(t, s, "wide", specs...)
	cs := claim(t, s, "w", ct.TaskID, 24)
	require.Len(t, cs, 24)
	var wg sync.WaitGroup
	for i := range cs {
		wg.Add(1)
		go func(c store.ClaimedStep) {
			defer wg.Done()
			_, err := s.ReportResults(ctx, []store.StepReport{ok("w", c)})
			assert.NoError(t, err)
		}(cs[i])
	}
	wg.Wait()
	evs := outbox(t, s, ct.TaskID)
	for i, e := range evs {
		require.Equal(t, int64(i+1), e.Seq)
		if i > 0 {
			assert.Greater(t, e.ID, evs[i-1].ID)
		}
	}
	var lifecycle []string
	for _, e := range evs {
		if strings.HasPrefix(e.Name, "task.") || strings.HasPrefix(e.Name, "step.") {
			lifecycle = append(lifecycle, e.Name)
		}
	}
	assert.Equal(t, "task.completed", lifecycle[len(lifecycle)-1])
	assert.Len(t, lifecycle, 1+24+1+24+24+1) // initial task + steps, start, claims, completions, completion
}

// A subscriber reading while workers write, then "restarting" (a fresh store on
// the same database, the same subscriber name), receives every event exactly once
// and each task's events in order.
func TestSubscriberReceivesEveryEventOnceInOrderAcrossRestarts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	const tasks = 12
	for i := range tasks {
		create(t, s, fmt.Sprintf("t%d", i), step("a"), step("b", "a"), step("c", "a"))
	}
	seen := map[int64][]int64{} // task → sequence numbers delivered, in delivery order
	total := 0
	consume := func(st *store.Store, limit int) int {
		b, err := st.FetchEvents(ctx, "audit", limit, 0)
		require.NoError(t, err)
		for _, e := range b.Events {
			seen[e.TaskID] = append(seen[e.TaskID], e.TaskSeq)
		}
		require.NoError(t, st.AckEvents(ctx, "audit", b))
		total += len(b.Events)
		return len(b.Events)
	}
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker := fmt.Sprintf("w%d", w)
			for {
				cs, err := s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: worker, Limit: 2, LeaseSeconds: 30})
				if !assert.NoError(t, err) || len(cs) == 0 {
					return
				}
				var reps []store.StepReport
				for _, c := range cs {
					reps = append(reps, ok(worker, c))
				}
				_, err = s.ReportResults(ctx, reps)
				assert.NoError(t, err)
			}
		}()
	}
	for i := 0; i < 20; i++ {
		consume(s, 7) // small batches while the workers write
	}
	wg.Wait()

	restarted := store.New(s.Pool(), testPolicy) // a new process would open a new pool; the state is in the database
	for consume(restarted, 50) > 0 {
	}
	var want int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM tasker_events`).Scan(&want))
	assert.Equal(t, want, total, "every event delivered exactly once")
	for task, seqs := range seen {
		for i, q := range seqs {
			if int64(i+1) != q {
				rows, _ := s.Pool().Query(ctx, `SELECT event_id, task_seq, tx::text, name FROM tasker_events WHERE task_id = $1 ORDER BY task_seq`, task)
				for rows.Next() {
					var id, seq int64
					var tx, name string
					_ = rows.Scan(&id, &seq, &tx, &name)
					t.Logf("task %d: event %d seq %d tx %s %s", task, id, seq, tx, name)
				}
				t.Logf("delivered %v", seqs)
			}
			require.Equal(t, int64(i+1), q, "task %d: in order, no gap, no repeat", task)
		}
	}
	assert.Len(t, seen, tasks)
	b, err := restarted.FetchEvents(ctx, "audit", 10, 0)
	require.NoError(t, err)
	assert.Empty(t, b.Events, "nothing left, nothing repeated")

	other, err := s.FetchEvents(ctx, "metrics", 1000, 0)
	require.NoError(t, err)
	assert.Len(t, other.Events, want, "each subscriber has its own cursor")
}

// A waiting fetch wakes up for new events in each way of waiting: LISTEN on its
// pooled connection (the default), LISTEN on a direct connection of its own
// (EventWait.ListenURL) and polling (EventWait.Poll), the two a transaction
// pooler leaves (core/api's PgBouncer test runs them through one). At the end
// of its wait a fetch returns what its last read found: nothing, here.
func TestFetchEventsWaitsForANotification(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		wait store.EventWait
	}{
		{"listen_pooled", store.EventWait{}},
		{"listen_direct", store.EventWait{ListenURL: testdb.URL(t), ConnectTimeout: 5 * time.Second}},
		{"poll", store.EventWait{Poll: 20 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := newStore(t)
			s.SetEventWait(tc.wait)
			b, err := s.FetchEvents(ctx, "waiter", 10, 0)
			require.NoError(t, err)
			require.NoError(t, s.AckEvents(ctx, "waiter", b))
			done := make(chan store.EventBatch, 1)
			go func() {
				b, err := s.FetchEvents(ctx, "waiter", 10, 10*time.Second)
				assert.NoError(t, err)
				done <- b
			}()
			time.Sleep(200 * time.Millisecond) // let the reader LISTEN first
			ct := create(t, s, "late", step("a"))
			select {
			case b := <-done:
				require.NotEmpty(t, b.Events, "woken with the new task's events")
				assert.Equal(t, ct.TaskID, b.Events[0].TaskID)
			case <-time.After(9 * time.Second):
				t.Fatal("FetchEvents did not wake")
			}
		})
	}
}

// Connecting to database.listen_url counts in the wait: a server that does not
// answer within it leaves the fetch empty, not failed (a short wait_ms on a slow
// network is not an error).
func TestFetchEventsWaitEndsWhileConnectingToTheListenURL(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept() // accepted, never answered
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	s := newStore(t)
	s.SetEventWait(store.EventWait{ListenURL: "postgres://postgres@" + l.Addr().String() + "/x?sslmode=disable"})
	b, err := s.FetchEvents(context.Background(), "slow", 10, 200*time.Millisecond)
	require.NoError(t, err)
	assert.Empty(t, b.Events)
}

func TestFetchEventsWithABadListenURL(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	s.SetEventWait(store.EventWait{ListenURL: "postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=1"})
	_, err := s.FetchEvents(context.Background(), "bad", 10, time.Second)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2", "the password is masked")
	assert.Contains(t, err.Error(), "database.listen_url")
}

func TestPruneEventsByRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	old := create(t, s, "old", step("a"))
	fresh := create(t, s, "fresh", step("a"))
	b, err := s.FetchEvents(ctx, "p", 100, 0)
	require.NoError(t, err)
	require.NoError(t, s.AckEvents(ctx, "p", b))
	_, err = s.Pool().Exec(ctx, `UPDATE tasker_events SET created_at = now() - interval '10 days' WHERE task_id = $1`, old.TaskID)
	require.NoError(t, err)
	n, err := s.PruneEvents(ctx, 7*24*time.Hour)
	require.NoError(t, err)
	assert.Equal(t, int64(3), n, "the old task's three events (task, step, orchestration_requested)")
	assert.Len(t, outbox(t, s, old.TaskID), 0)
	assert.Len(t, outbox(t, s, fresh.TaskID), 3)
	var cursors int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM tasker_event_cursors`).Scan(&cursors))
	assert.Equal(t, 1, cursors, "the pruned task's cursor went with its events")
	_, err = s.PruneEvents(ctx, 0)
	assert.Error(t, err)
}

func TestEventsCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	s.SetEventsEnabled(false)
	ct := create(t, s, "quiet", step("a"))
	cs := claim(t, s, "w", ct.TaskID, 1)
	report(t, s, ok("w", cs[0]))
	assert.Equal(t, "complete", taskState(t, s, ct.TaskID))
	assert.Empty(t, outbox(t, s, ct.TaskID), "events.enabled false: no events")
}

// A subscriber's start position: a new name started "now" gets only the events
// committed afterwards, one started at a time gets the events created since,
// an unstarted one everything, and an existing cursor is never moved back or
// forward by a later start.
func TestStartSubscriber(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	old := create(t, s, "before", step("a"))
	var cut time.Time
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&cut))
	mid := create(t, s, "middle", step("a"))

	fetchTasks := func(sub string) map[int64]bool {
		t.Helper()
		b, err := s.FetchEvents(ctx, sub, 1000, 0)
		require.NoError(t, err)
		require.NoError(t, s.AckEvents(ctx, sub, b))
		out := map[int64]bool{}
		for _, e := range b.Events {
			out[e.TaskID] = true
		}
		return out
	}

	created, err := s.StartSubscriber(ctx, "from-now", nil)
	require.NoError(t, err)
	assert.True(t, created)
	created, err = s.StartSubscriber(ctx, "from-cut", &cut)
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, map[int64]bool{old.TaskID: true, mid.TaskID: true}, fetchTasks("from-beginning"))
	// An existing subscriber keeps its cursor: starting it "now" changes nothing.
	created, err = s.StartSubscriber(ctx, "from-beginning", nil)
	require.NoError(t, err)
	assert.False(t, created)

	late := create(t, s, "after", step("a"))
	claim(t, s, "w", old.TaskID, 1) // a new event of an old task counts as new
	assert.Equal(t, map[int64]bool{late.TaskID: true, old.TaskID: true}, fetchTasks("from-now"))
	assert.Equal(t, map[int64]bool{mid.TaskID: true, late.TaskID: true, old.TaskID: true}, fetchTasks("from-cut"),
		"the events created since the cut: the middle task's, the late task's and the old task's new one")
	assert.Equal(t, map[int64]bool{late.TaskID: true, old.TaskID: true}, fetchTasks("from-beginning"))

	_, err = s.StartSubscriber(ctx, "", nil)
	require.Error(t, err)
}

// report_and_claim writes a task's events in the order, and with the payloads,
// that a report and then a claim write them as two calls: its finalization's
// events go with the claim's in one statement, ahead of them.
func TestReportAndClaimEventsMatchSeparateCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	chain := []store.StepSpec{step("a"), step("b", "a"), step("c", "b")}
	combined := create(t, s, "chain", chain...)
	separate := create(t, s, "chain", chain...)
	type view struct {
		Name    string
		Step    string
		Payload map[string]any
	}
	events := func(ct store.CreatedTask) []view {
		names := map[int64]string{}
		for n, id := range ct.StepIDs {
			names[id] = n
		}
		var out []view
		for i, e := range outbox(t, s, ct.TaskID) {
			require.Equal(t, int64(i+1), e.Seq, "gapless")
			v := view{Name: e.Name, Payload: e.Payload}
			if e.StepID != nil {
				v.Step = names[*e.StepID]
			}
			for _, k := range []string{"transitioned_at", "task_id", "step_id", "step_ids", "worker_id"} {
				delete(v.Payload, k) // ids and times differ between the two tasks
			}
			out = append(out, v)
		}
		return out
	}
	one := func(ct store.CreatedTask) store.ClaimRequest {
		return store.ClaimRequest{WorkerID: "w", TaskID: ct.TaskID, Limit: 1, LeaseSeconds: 60}
	}
	cc, err := s.ClaimSteps(ctx, one(combined))
	require.NoError(t, err)
	sc, err := s.ClaimSteps(ctx, one(separate))
	require.NoError(t, err)
	for round := 0; round < 3; round++ {
		require.Len(t, cc, 1)
		require.Len(t, sc, 1)
		_, cc, err = s.ReportAndClaim(ctx, []store.StepReport{ok("w", cc[0])}, one(combined))
		require.NoError(t, err)
		_, err = s.ReportResults(ctx, []store.StepReport{ok("w", sc[0])})
		require.NoError(t, err)
		sc, err = s.ClaimSteps(ctx, one(separate))
		require.NoError(t, err)
	}
	require.Empty(t, cc)
	got, want := events(combined), events(separate)
	require.NotEmpty(t, want)
	require.Equal(t, want, got)
	// The last round's claim found no task (the task had completed): its
	// report's finalization events were written all the same, after the
	// report's own, with the task's transition between.
	var last []string
	for _, v := range got[len(got)-6:] {
		last = append(last, v.Name)
	}
	require.Equal(t, []string{"step.completed", "workflow.step_completed", "workflow.task_finalization_started",
		"task.completed", "workflow.task_completed", "workflow.task_finalization_completed"}, last)
	// A round that leaves the task in progress: the report's events, its
	// finalization's, then the claim's.
	var second []string
	for _, v := range got {
		if len(second) > 0 || (v.Name == "step.completed" && v.Step == "a") {
			second = append(second, v.Name)
		}
	}
	require.Equal(t, []string{"step.completed", "workflow.step_completed", "workflow.task_finalization_started",
		"workflow.task_finalization_completed", "workflow.task_reenqueue_requested",
		"step.execution_requested", "workflow.viable_steps_discovered"}, second[:7])
}
