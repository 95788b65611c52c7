package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/config"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/pgcluster"
)

// fastSystemEvents: the monitor every 20 ms, no flap or warning limits, so tests
// see every change at once (the limits have their own unit tests).
const fastSystemEvents = `, "system_events": {"check_interval_ms": 20, "flap_interval_ms": 0, "warning_interval_ms": 0}`

// systemEvents subscribes to the system and library families and checks each
// event received against its catalog schema.
func systemEvents(t *testing.T, c *Client) *recorder {
	t.Helper()
	rec := &recorder{}
	for _, p := range []string{"system.*", "library.*"} {
		unsub, err := c.Subscribe(p, rec.add)
		require.NoError(t, err)
		t.Cleanup(unsub)
	}
	return rec
}

// firstNamed waits for an event of that name and returns its payload, checked
// against the catalog's schema for it.
func firstNamed(t *testing.T, c *Client, rec *recorder, name string) map[string]any {
	t.Helper()
	var got *store.Event
	waitFor(t, name, func() bool {
		for _, e := range rec.snapshot() {
			if e.Name == name {
				got = &e
				return true
			}
		}
		return false
	})
	assert.Zero(t, got.TaskID, "%s is not tied to a task", name)
	checkSchema(t, c, name, got.Payload)
	var p map[string]any
	require.NoError(t, json.Unmarshal(got.Payload, &p))
	return p
}

func checkSchema(t *testing.T, c *Client, name string, payload []byte) {
	t.Helper()
	d, ok := c.Catalog().Lookup(name)
	require.True(t, ok, "%s is in the catalog", name)
	raw, err := json.Marshal(d.Payload)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	comp := jsonschema.NewCompiler()
	require.NoError(t, comp.AddResource("mem://"+name, doc))
	sch, err := comp.Compile("mem://" + name)
	require.NoError(t, err)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	require.NoError(t, err)
	assert.NoError(t, sch.Validate(inst), "%s: %s", name, payload)
}

type outboxEvent struct {
	Name    string          `json:"name"`
	TaskID  *int64          `json:"task_id"`
	TaskSeq int64           `json:"task_seq"`
	Payload json.RawMessage `json:"payload"`
}

// fetchAll reads every outbox event for subscriber (and acknowledges them).
func fetchAll(t *testing.T, c *Client, subscriber string) []outboxEvent {
	t.Helper()
	var raw json.RawMessage
	callOK(t, c, "fetch_events", fmt.Sprintf(`{"subscriber": %q, "limit": 1000}`, subscriber), &raw)
	var b struct {
		Events []outboxEvent `json:"events"`
	}
	require.NoError(t, json.Unmarshal(raw, &b))
	var full map[string]any
	require.NoError(t, json.Unmarshal(raw, &full))
	full["subscriber"] = subscriber
	ack, _ := json.Marshal(full)
	callOK(t, c, "ack_events", string(ack), nil)
	return b.Events
}

// A worker SIGKILLed leaves its leases; the recovering worker recovers them:
// library.warning.leases_recovered (live) and system.worker.presumed_dead (durable,
// in the outbox's system stream with the step count); the dead worker's late
// report is refused as stale (library.warning.report_refused_stale). Each task's
// event sequence stays gapless; the system stream has its own.
func TestRecoveryPresumedDeadAndStaleReports(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "retry": {"base_seconds": 0}`+fastSystemEvents)
	rec := systemEvents(t, c)
	var ct created
	callOK(t, c, "create_task", `{"name": "pair", "namespace": "sys", "steps": [{"name": "a"}, {"name": "b"}]}`, &ct)
	callOK(t, c, "announce_worker", `{"worker_id": "dead", "state": "started", "details": {"pid": 42, "concurrency": 2}}`, nil)
	var claimed struct {
		Steps []store.ClaimedStep `json:"steps"`
	}
	callOK(t, c, "claim_steps", `{"worker_id": "dead", "limit": 2, "lease_seconds": 0.2}`, &claimed)
	require.Len(t, claimed.Steps, 2)
	time.Sleep(500 * time.Millisecond) // the lease, and one lease period of a reachable database, pass
	var res struct {
		Outcomes []map[string]any `json:"outcomes"`
	}
	callOK(t, c, "recover_expired_steps", `{"worker_id": "peer"}`, &res)
	require.Len(t, res.Outcomes, 2)

	p := firstNamed(t, c, rec, "library.warning.leases_recovered")
	assert.EqualValues(t, 2, p["steps"])
	assert.EqualValues(t, 2, p["failed"])
	assert.Equal(t, "peer", p["recovered_by"])
	dead := firstNamed(t, c, rec, "system.worker.presumed_dead")
	assert.Equal(t, "dead", dead["worker_id"])
	assert.EqualValues(t, 2, dead["steps"])

	// The step is claimed again by the peer; the dead worker's result comes late.
	callOK(t, c, "claim_steps", fmt.Sprintf(`{"worker_id": "peer", "task_id": %d, "limit": 1}`, ct.TaskID), &claimed)
	require.Len(t, claimed.Steps, 1)
	var rep struct {
		Outcomes []struct {
			Status string `json:"status"`
		} `json:"outcomes"`
	}
	callOK(t, c, "report_step_results", fmt.Sprintf(`{"reports": [{"step_id": %d, "worker_id": "dead", "success": true}]}`,
		claimed.Steps[0].StepID), &rep)
	require.Equal(t, store.OutcomeRejected, rep.Outcomes[0].Status)
	stale := firstNamed(t, c, rec, "library.warning.report_refused_stale")
	assert.Equal(t, "dead", stale["worker_id"])
	assert.Equal(t, []any{float64(claimed.Steps[0].StepID)}, stale["step_ids"])

	// Another process's subscriber sees the durable ones in the system stream.
	evs := fetchAll(t, c, "ops")
	var system []outboxEvent
	seqs := map[int64][]int64{}
	for _, e := range evs {
		if e.TaskID == nil {
			system = append(system, e)
			continue
		}
		seqs[*e.TaskID] = append(seqs[*e.TaskID], e.TaskSeq)
	}
	require.Len(t, system, 2, "worker started, presumed dead")
	assert.Equal(t, "system.worker.started", system[0].Name)
	assert.Equal(t, "system.worker.presumed_dead", system[1].Name)
	assert.Equal(t, []int64{system[0].TaskSeq, system[0].TaskSeq + 1}, []int64{system[0].TaskSeq, system[1].TaskSeq},
		"the system stream has a gapless sequence of its own")
	for task, s := range seqs {
		for i, q := range s {
			assert.Equal(t, int64(i+1), q, "task %d's sequence is gapless and untouched", task)
		}
	}
	assert.Empty(t, fetchAll(t, c, "ops"), "acknowledged system events are not delivered again")
}

// A real deadlock: an outside transaction locks a step, the report locks its task
// and waits for the step, the outside one then asks for the task. PostgreSQL
// aborts the report (the outside session waits longer before it checks), the
// store retries it, and library.warning.deadlock_retried says so.
func TestDeadlockRetriedIsReported(t *testing.T) {
	t.Parallel()
	c := openClient(t, fastSystemEvents)
	rec := systemEvents(t, c)
	var ct created
	callOK(t, c, "create_task", `{"name": "one", "namespace": "sys", "steps": [{"name": "a"}]}`, &ct)
	var claimed struct {
		Steps []store.ClaimedStep `json:"steps"`
	}
	callOK(t, c, "claim_steps", `{"worker_id": "w", "limit": 1}`, &claimed)
	require.Len(t, claimed.Steps, 1)
	stepID := claimed.Steps[0].StepID

	ctx := context.Background()
	conn, err := c.Store().Pool().Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, `SET deadlock_timeout = '10s'`) // the report's session finds the deadlock first
	require.NoError(t, err)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // committed below
	_, err = tx.Exec(ctx, `SELECT 1 FROM tasker_workflow_steps WHERE workflow_step_id = $1 FOR UPDATE`, stepID)
	require.NoError(t, err)
	var xid string // the lock the report waits for is this transaction's (pg_locks is the whole server's)
	require.NoError(t, tx.QueryRow(ctx, `SELECT xid(pg_current_xact_id())::text`).Scan(&xid))

	done := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, "report_step_results",
			[]byte(fmt.Sprintf(`{"reports": [{"step_id": %d, "worker_id": "w", "success": true}]}`, stepID)))
		done <- err
	}()
	waitFor(t, "the report waits for the step lock", func() bool {
		var n int
		_ = c.Store().Pool().QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()
			AND locktype = 'transactionid' AND transactionid::text = $1`, xid).Scan(&n)
		return n > 0
	})
	_, err = tx.Exec(ctx, `SELECT 1 FROM tasker_tasks WHERE task_id = $1 FOR UPDATE`, ct.TaskID)
	require.NoError(t, err, "the report was the deadlock's victim")
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-done, "the retried report succeeded")

	p := firstNamed(t, c, rec, "library.warning.deadlock_retried")
	assert.Equal(t, "40P01", p["sqlstate"])
	assert.EqualValues(t, 1, p["attempt"])
	assert.EqualValues(t, 1, c.Store().TxAborts().Deadlocks)
}

// A full live buffer drops events; the next delivery reports how many
// (system.events.dropped, with the policy).
func TestPublisherDropsAreReported(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "events": {"buffer_size": 3, "batch_size": 1, "flush_interval_ms": 1}`+fastSystemEvents)
	rec := systemEvents(t, c)
	release := make(chan struct{})
	var once, releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	defer free() // a failing test must not leave delivery stuck (Close waits for it)
	entered := make(chan struct{})
	// Any event blocks delivery: the first one may itself be dropped before the
	// delivery goroutine takes it.
	unsub, err := c.Subscribe("*", func(store.Event) {
		once.Do(func() { close(entered) })
		<-release
	})
	require.NoError(t, err)
	defer unsub()
	for i := range 5 {
		callOK(t, c, "create_task", fmt.Sprintf(`{"name": "t%d", "namespace": "sys", "steps": [{"name": "a"}]}`, i), nil)
		if i == 0 {
			select { // delivery is stuck in the subscriber: the buffer fills
			case <-entered:
			case <-time.After(10 * time.Second):
				t.Fatal("no event was delivered")
			}
		}
	}
	require.Positive(t, c.EventMetrics().Dropped)
	free()
	p := firstNamed(t, c, rec, "system.events.dropped")
	assert.Positive(t, p["dropped"])
	assert.Equal(t, "drop_oldest", p["overflow"])
}

// A pool of two connections under the load of four sleeping queries is saturated;
// when they are done, it recovers.
func TestPoolSaturationAndRecovery(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "max_connections": 2`+fastSystemEvents)
	rec := systemEvents(t, c)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Store().Pool().Exec(context.Background(), `SELECT pg_sleep(0.3)`)
			assert.NoError(t, err)
		}()
	}
	p := firstNamed(t, c, rec, "system.pool.saturated")
	assert.EqualValues(t, 2, p["max_connections"])
	assert.EqualValues(t, 2, p["in_use"])
	wg.Wait()
	p = firstNamed(t, c, rec, "system.pool.recovered")
	assert.Less(t, p["ratio"], 0.9)
	// Edge-triggered: one event when saturation starts, one when it ends. The
	// queued queries take over the connections as the first ones finish, so a
	// sampler may see a moment in between: then the pair repeats, but never two
	// alike in a row, and it ends recovered.
	var got []string
	require.Eventually(t, func() bool {
		got = names(onlyNamed(rec.snapshot(), "system.pool."))
		return len(got) > 0 && got[len(got)-1] == "system.pool.recovered"
	}, 5*time.Second, 10*time.Millisecond, "the pool never reported recovered")
	for i, name := range got {
		want := "system.pool.saturated"
		if i%2 == 1 {
			want = "system.pool.recovered"
		}
		assert.Equal(t, want, name, "event %d of %v", i, got)
	}
}

func onlyNamed(evs []store.Event, prefix string) []store.Event {
	var out []store.Event
	for _, e := range evs {
		if len(e.Name) >= len(prefix) && e.Name[:len(prefix)] == prefix {
			out = append(out, e)
		}
	}
	return out
}

// While a worker of the process runs, the health counts are checked: a task in
// error reaches the threshold (degraded), resolving it ends it (recovered).
func TestHealthThresholdWhileAWorkerRuns(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "system_events": {"check_interval_ms": 20, "flap_interval_ms": 0, "warning_interval_ms": 0,
		"health_check_interval_seconds": 0.02, "health_thresholds": {"error_tasks": 1}}`)
	rec := systemEvents(t, c)
	var ct created
	callOK(t, c, "create_task", `{"name": "doomed", "namespace": "sys", "steps": [{"name": "a"}]}`, &ct)
	var claimed struct {
		Steps []store.ClaimedStep `json:"steps"`
	}
	callOK(t, c, "claim_steps", `{"worker_id": "w", "limit": 1}`, &claimed)
	callOK(t, c, "report_step_results", fmt.Sprintf(`{"reports": [{"step_id": %d, "worker_id": "w", "success": false,
		"error": {"message": "no", "retryable": false}}]}`, claimed.Steps[0].StepID), nil)
	time.Sleep(200 * time.Millisecond)
	assert.Empty(t, onlyNamed(rec.snapshot(), "system.health."), "no worker runs: no health checks")

	callOK(t, c, "announce_worker", `{"worker_id": "w", "state": "started"}`, nil)
	p := firstNamed(t, c, rec, "system.health.degraded")
	assert.Equal(t, []any{"error_tasks"}, p["exceeded"])
	callOK(t, c, "transition_task", fmt.Sprintf(`{"task_id": %d, "state": "resolved_manually"}`, ct.TaskID), nil)
	p = firstNamed(t, c, rec, "system.health.recovered")
	assert.Equal(t, []any{}, p["exceeded"])
	callOK(t, c, "announce_worker", `{"worker_id": "w", "state": "stopped", "details": {"stats": {"completed": 0}}}`, nil)
	e := callErr(t, c, "announce_worker", `{"worker_id": "w", "state": "sleeping"}`)
	assert.Equal(t, "validation_error", string(e.Type))
}

// A Go subscriber that panics is reported (library.error.subscriber_failed).
func TestSubscriberPanicIsReported(t *testing.T) {
	t.Parallel()
	c := openClient(t, fastSystemEvents)
	rec := systemEvents(t, c)
	unsub, err := c.Subscribe("task.*", func(store.Event) { panic("boom") })
	require.NoError(t, err)
	defer unsub()
	callOK(t, c, "create_task", `{"name": "p", "namespace": "sys", "steps": [{"name": "a"}]}`, nil)
	p := firstNamed(t, c, rec, "library.error.subscriber_failed")
	assert.Equal(t, "boom", p["panic"])
	assert.Equal(t, "task.*", p["pattern"])
}

// The database server of a throwaway cluster is stopped and started: the client
// reports the connection lost and then restored, with the outage's length.
func TestConnectionLostAndRestored(t *testing.T) {
	t.Parallel()
	cl := pgcluster.New(t)
	c, err := Open(context.Background(), []byte(fmt.Sprintf(`{"database_url": %q, "migrate": true%s}`, cl.URL(), fastSystemEvents)))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	rec := systemEvents(t, c)
	claim := func() error {
		_, err := c.Call(context.Background(), "claim_steps", []byte(`{"worker_id": "w"}`))
		return err
	}
	require.NoError(t, claim())
	cl.Stop()
	require.Error(t, claim())
	lost := firstNamed(t, c, rec, "system.database.connection_lost")
	assert.NotEmpty(t, lost["error"])
	time.Sleep(300 * time.Millisecond)
	cl.Start()
	waitFor(t, "a claim succeeds again", func() bool { return claim() == nil })
	back := firstNamed(t, c, rec, "system.database.connection_restored")
	assert.GreaterOrEqual(t, back["outage_seconds"], 0.3)
	assert.Equal(t, lost["since"], back["since"])
	assert.Len(t, onlyNamed(rec.snapshot(), "system.database."), 2, "one event when it starts, one when it ends")
}

// A value given under a deprecated name applies to its replacement and is
// reported durably (library.warning.config_deprecated): no key is deprecated
// yet, so the test renames one. Not parallel: it changes config.Renamed.
func TestDeprecatedConfigIsReported(t *testing.T) {
	config.Renamed["events.buffer"] = "events.buffer_size"
	defer delete(config.Renamed, "events.buffer")
	c := openClient(t, `, "events.buffer": 7`)
	assert.EqualValues(t, 7, c.Config().Int("events.buffer_size"))
	evs := fetchAll(t, c, "ops")
	var found []outboxEvent
	for _, e := range evs {
		if e.Name == "library.warning.config_deprecated" {
			found = append(found, e)
		}
	}
	require.Len(t, found, 1)
	assert.Nil(t, found[0].TaskID)
	checkSchema(t, c, found[0].Name, found[0].Payload)
	var p map[string]any
	require.NoError(t, json.Unmarshal(found[0].Payload, &p))
	assert.Equal(t, "events.buffer", p["key"])
	assert.Equal(t, "events.buffer_size", p["replacement"])
}
