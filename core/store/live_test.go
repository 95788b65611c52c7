package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/store"
)

// A task that waits only for a backoff goes back to the schedule at its retry
// time (workflow.task_reenqueue_delayed, with that time); one with more ready
// steps goes back at once (workflow.task_reenqueue_requested).
func TestReenqueueEvents(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ct := create(t, s, "flaky", step("a"), step("b"))
	cs := claim(t, s, "w", ct.TaskID, 1)
	require.Len(t, cs, 1)
	wait := int32(60)
	res := report(t, s, store.StepReport{StepID: cs[0].StepID, WorkerID: "w",
		Error: &store.StepError{Message: "timeout", RetryAfterSeconds: &wait}})
	require.Len(t, res.Tasks, 1)
	require.Equal(t, "has_ready_steps", res.Tasks[0].ExecutionStatus, "the other step is still ready")

	cs = claim(t, s, "w", ct.TaskID, 1)
	require.Len(t, cs, 1)
	res = report(t, s, ok("w", cs[0]))
	require.NotNil(t, res.Tasks[0].NextRetryAt, "only the failed step is left, waiting for its backoff")

	var requested, delayed []outboxEvent
	for _, e := range outbox(t, s, ct.TaskID) {
		switch e.Name {
		case "workflow.task_reenqueue_requested":
			requested = append(requested, e)
		case "workflow.task_reenqueue_delayed":
			delayed = append(delayed, e)
		}
	}
	require.Len(t, requested, 1)
	require.Len(t, delayed, 1)
	assert.Equal(t, float64(1), requested[0].Payload["ready_steps"])
	at, err := time.Parse(time.RFC3339Nano, delayed[0].Payload["ready_at"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, *res.Tasks[0].NextRetryAt, at, time.Millisecond)
	assert.Less(t, requested[0].Seq, delayed[0].Seq)
}

// Notifications are per schema: a write in one schema does not wake the
// listeners of another.
func TestNotifyChannelIsPerSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := newStore(t), newStore(t)
	conn, err := a.Pool().Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	var channel string
	require.NoError(t, conn.QueryRow(ctx, `SELECT 'tasker_events_' || left(md5(current_schema()), 16)`).Scan(&channel))
	_, err = conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize())
	require.NoError(t, err)

	create(t, b, "elsewhere", step("x"))
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = conn.Conn().WaitForNotification(wctx)
	cancel()
	require.Error(t, err, "another schema's write sends no notification here")

	create(t, a, "here", step("x"))
	wctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := conn.Conn().WaitForNotification(wctx)
	require.NoError(t, err, "this schema's write wakes its listener")
	assert.Equal(t, channel, n.Channel)
}

// The live sink gets a committed transaction's events, with the task's namespace
// and name, once; nothing once removed.
func TestLiveSinkGetsCommittedEvents(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	var mu sync.Mutex
	var got []store.Event
	s.SetLiveSink(func(evs []store.Event) {
		mu.Lock()
		got = append(got, evs...)
		mu.Unlock()
	})
	ct := create(t, s, "sunk", step("a"), step("b", "a"))
	mu.Lock()
	var durable []store.Event
	for _, e := range got {
		if e.Durable {
			durable = append(durable, e)
		}
	}
	mu.Unlock()
	all := outbox(t, s, ct.TaskID)
	require.Len(t, durable, len(all))
	for i, e := range durable {
		assert.Equal(t, all[i].ID, e.EventID)
		assert.Equal(t, all[i].Seq, e.TaskSeq)
		assert.Equal(t, "sunk", e.TaskName)
		assert.Equal(t, "tests", e.Namespace)
		assert.Equal(t, ct.CorrelationID, e.CorrelationID)
	}
	assert.True(t, s.LiveOn())

	s.SetLiveSink(nil)
	assert.False(t, s.LiveOn())
	mu.Lock()
	n := len(got)
	mu.Unlock()
	create(t, s, "unsunk", step("a"))
	mu.Lock()
	assert.Equal(t, n, len(got))
	mu.Unlock()

	s.SetEventsEnabled(false)
	s.SetLiveSink(func([]store.Event) { t.Error("events are off: nothing may be published") })
	create(t, s, "off", step("a"))
}
