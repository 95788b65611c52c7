package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/store"
)

// recorder is a Go subscriber that keeps what it receives.
type recorder struct {
	mu  sync.Mutex
	evs []store.Event
}

func (r *recorder) add(e store.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

func (r *recorder) snapshot() []store.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]store.Event(nil), r.evs...)
}

// waitFor polls until cond holds (events arrive on the publisher's goroutine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 5*time.Millisecond, what)
}

func names(evs []store.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Name
	}
	return out
}

func indexOf(evs []store.Event, pred func(store.Event) bool) int {
	for i, e := range evs {
		if pred(e) {
			return i
		}
	}
	return -1
}

// runDiamond creates the diamond task and runs it to completion through claims
// and reports.
func runDiamond(t *testing.T, c *Client) created {
	t.Helper()
	var ct created
	callOK(t, c, "create_task", diamondSpec, &ct)
	for round := 0; round < 3; round++ {
		var claimed struct {
			Steps []struct {
				StepID int64 `json:"step_id"`
			} `json:"steps"`
		}
		callOK(t, c, "claim_steps", fmt.Sprintf(`{"worker_id": "w", "task_id": %d, "limit": 10}`, ct.TaskID), &claimed)
		var reps []string
		for _, s := range claimed.Steps {
			reps = append(reps, fmt.Sprintf(`{"step_id": %d, "worker_id": "w", "success": true}`, s.StepID))
		}
		callOK(t, c, "report_step_results", `{"reports": [`+strings.Join(reps, ",")+`]}`, nil)
	}
	return ct
}

// A Go subscriber receives, once each and in order, every event the outbox got
// for a task run through the client, plus the live-only ones (before_transition
// just before each transition's own event, and the observability timings).
func TestLiveEventsReachGoSubscribers(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "events": {"batch_size": 4, "flush_interval_ms": 10}`)
	var rec recorder
	unsubscribe, err := c.Subscribe("*", rec.add)
	require.NoError(t, err)
	defer unsubscribe()
	ct := runDiamond(t, c)

	outbox := durable(t, c, ct.TaskID)
	waitFor(t, "every durable event delivered live", func() bool {
		n := 0
		for _, e := range rec.snapshot() {
			if e.Durable {
				n++
			}
		}
		return n == len(outbox)
	})
	got := rec.snapshot()
	var live []store.Event
	for _, e := range got {
		assert.Equal(t, ct.TaskID, e.TaskID)
		assert.NotEmpty(t, e.CorrelationID, "%s carries the task's correlation id", e.Name)
		assert.Equal(t, "api", e.Namespace, "%s carries its task's namespace", e.Name)
		assert.Equal(t, "diamond", e.TaskName, "%s carries its task's name", e.Name)
		if e.Durable {
			live = append(live, e)
		}
	}
	require.Equal(t, len(outbox), len(live))
	for i := range outbox {
		assert.Equal(t, outbox[i].TaskSeq, live[i].TaskSeq, "the outbox's order, nothing repeated")
		assert.Equal(t, outbox[i].Name, live[i].Name)
		assert.Equal(t, "api", live[i].Namespace)
		assert.Equal(t, "diamond", live[i].TaskName)
	}

	stepA := ct.StepIDs["a"]
	before := indexOf(got, func(e store.Event) bool {
		return e.Name == "step.before_transition" && e.StepID != nil && *e.StepID == stepA
	})
	exec := indexOf(got, func(e store.Event) bool {
		return e.Name == "step.execution_requested" && e.StepID != nil && *e.StepID == stepA
	})
	require.GreaterOrEqual(t, before, 0, "step.before_transition published: %v", names(got))
	require.GreaterOrEqual(t, exec, 0)
	assert.Less(t, before, exec, "before_transition comes before the transition's event")
	var p map[string]any
	require.NoError(t, json.Unmarshal(got[before].Payload, &p))
	assert.Equal(t, "pending", p["from_state"])
	assert.Equal(t, "in_progress", p["to_state"])
	assert.Equal(t, "a", p["step_name"])

	taskBefore := indexOf(got, func(e store.Event) bool { return e.Name == "task.before_transition" })
	require.GreaterOrEqual(t, taskBefore, 0)
	require.NoError(t, json.Unmarshal(got[taskBefore].Payload, &p))
	assert.Equal(t, "diamond", p["task_name"])
	assert.False(t, got[taskBefore].Durable)

	for _, name := range []string{"observability.task.enqueue", "observability.step.find_viable", "observability.task.finalize"} {
		i := indexOf(got, func(e store.Event) bool { return e.Name == name })
		require.GreaterOrEqual(t, i, 0, "%s published: %v", name, names(got))
		require.NoError(t, json.Unmarshal(got[i].Payload, &p))
		assert.Equal(t, float64(ct.TaskID), p["task_id"], name)
		if name != "observability.task.enqueue" {
			assert.Contains(t, p, "duration_ms", name)
		}
	}
	// Every payload matches its catalog schema, and every event is in the catalog.
	for _, e := range got {
		d, ok := c.Catalog().Lookup(e.Name)
		require.True(t, ok, "%s is in the catalog", e.Name)
		if e.Durable {
			assert.Equal(t, "durable", d.Delivery, e.Name)
		} else {
			assert.Equal(t, "live", d.Delivery, e.Name)
		}
		raw, err := json.Marshal(d.Payload)
		require.NoError(t, err)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		require.NoError(t, err)
		comp := jsonschema.NewCompiler()
		comp.AssertFormat()
		require.NoError(t, comp.AddResource("mem://s", doc))
		sch, err := comp.Compile("mem://s")
		require.NoError(t, err)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(e.Payload))
		require.NoError(t, err)
		assert.NoError(t, sch.Validate(inst), "%s payload %s", e.Name, e.Payload)
	}
	m := c.EventMetrics()
	assert.True(t, m.Listening)
	assert.Equal(t, uint64(len(got)), m.Delivered)
	assert.Zero(t, m.Dropped)
	assert.Positive(t, m.Batches)
}

type durableEvent struct {
	TaskSeq int64
	Name    string
}

func durable(t *testing.T, c *Client, taskID int64) []durableEvent {
	t.Helper()
	rows, err := c.Store().Pool().Query(context.Background(),
		`SELECT task_seq, name FROM tasker_events WHERE task_id = $1 ORDER BY task_seq`, taskID)
	require.NoError(t, err)
	defer rows.Close()
	var out []durableEvent
	for rows.Next() {
		var e durableEvent
		require.NoError(t, rows.Scan(&e.TaskSeq, &e.Name))
		out = append(out, e)
	}
	require.NoError(t, rows.Err())
	return out
}

// Without a listener the store does not hand events over; a rejected transition
// publishes nothing.
func TestLiveEventsOnlyWhileListening(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "events": {"flush_interval_ms": 5}`)
	var ct created
	callOK(t, c, "create_task", diamondSpec, &ct)
	assert.False(t, c.EventMetrics().Listening)
	assert.Zero(t, c.EventMetrics().Published, "nobody listened")

	var rec recorder
	unsubscribe, err := c.Subscribe("step.*", rec.add)
	require.NoError(t, err)
	callErr(t, c, "transition_task", fmt.Sprintf(`{"task_id": %d, "to_state": "complete"}`, ct.TaskID))
	var res struct {
		Outcomes []struct {
			Status string `json:"status"`
		} `json:"outcomes"`
	}
	callOK(t, c, "batch_update_step_states", fmt.Sprintf(`{"updates": [{"step_id": %d, "state": "in_progress"}]}`,
		ct.StepIDs["d"]), &res)
	require.Equal(t, "rejected", res.Outcomes[0].Status, "d's parents are not complete")
	callOK(t, c, "batch_update_step_states", fmt.Sprintf(`{"updates": [{"step_id": %d, "state": "in_progress"}]}`,
		ct.StepIDs["a"]), &res)
	waitFor(t, "a's events", func() bool { return len(rec.snapshot()) == 2 })
	assert.Equal(t, []string{"step.before_transition", "step.execution_requested"}, names(rec.snapshot()),
		"only the applied transition, only step.* events")

	unsubscribe()
	assert.False(t, c.EventMetrics().Listening)
	published := c.EventMetrics().Published
	callOK(t, c, "create_task", `{"name": "quiet", "namespace": "api", "steps": [{"name": "a"}]}`, nil)
	assert.Equal(t, published, c.EventMetrics().Published)
}

// A panicking subscriber is logged and counted; the others still get every event.
func TestLiveSubscriberIsolation(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "events": {"flush_interval_ms": 5}`)
	_, err := c.Subscribe("*", func(store.Event) { panic("subscriber bug") })
	require.NoError(t, err)
	var rec recorder
	_, err = c.Subscribe("task.*", rec.add)
	require.NoError(t, err)
	callOK(t, c, "create_task", diamondSpec, nil)
	waitFor(t, "the task's initial event", func() bool { return len(rec.snapshot()) == 1 })
	assert.Equal(t, "task.initialize_requested", rec.snapshot()[0].Name)
	assert.Positive(t, c.EventMetrics().SubscriberErrors)

	_, err = c.Subscribe("step.", func(store.Event) {})
	assert.Equal(t, errs.Validation, errs.KindOf(err))
}

// A full buffer applies events.overflow without blocking the writer, counts the
// drops and logs them.
func TestLiveOverflowDropsAndSaysSo(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "tasker.log")
	c := openClient(t, fmt.Sprintf(`, "events": {"buffer_size": 3, "batch_size": 1, "flush_interval_ms": 5,
		"overflow": "drop_newest"}, "logging": {"output": %q}`, logFile))
	release := make(chan struct{})
	var rec recorder
	_, err := c.Subscribe("*", func(e store.Event) {
		<-release // a stuck subscriber: delivery stops, the buffer fills
		rec.add(e)
	})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		callOK(t, c, "create_task", diamondSpec, nil) // 1 + 4 + 1 durable events and task.enqueue
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("creating a task blocked on a stuck subscriber")
	}
	m := c.EventMetrics()
	assert.Positive(t, m.Dropped, "%+v", m)
	assert.Equal(t, "drop_newest", m.Overflow)
	close(release)
	waitFor(t, "what was kept is delivered", func() bool {
		m := c.EventMetrics()
		return m.Delivered+m.Dropped == m.Published
	})
	assert.Equal(t, "task.initialize_requested", rec.snapshot()[0].Name, "drop_newest keeps the oldest")
	raw, err := os.ReadFile(logFile)
	require.NoError(t, err)
	assert.Contains(t, string(raw), "event buffer full")
}

// The FFI's stream: open with patterns, read batches, time out a reader that does
// not come, close.
func TestEventStream(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "events": {"flush_interval_ms": 5, "delivery_timeout_ms": 50}`)
	callOK(t, c, "open_event_stream", `{"patterns": ["task.*", "workflow.orchestration_requested"]}`, nil)
	e := callErr(t, c, "open_event_stream", `{}`)
	assert.Equal(t, errs.Validation, e.Type, "one stream per client")
	var ct created
	callOK(t, c, "create_task", diamondSpec, &ct)
	var got []store.Event
	for len(got) < 2 {
		var r streamRead
		callOK(t, c, "read_event_stream", `{"wait_ms": 2000}`, &r)
		require.True(t, r.Open)
		got = append(got, r.Events...)
	}
	assert.Equal(t, []string{"task.initialize_requested", "workflow.orchestration_requested"}, names(got))
	assert.True(t, got[0].Durable)
	assert.Equal(t, int64(1), got[0].TaskSeq)

	// Nobody reads: the batch times out and counts as failed.
	callOK(t, c, "create_task", `{"name": "unread", "namespace": "api", "steps": [{"name": "a"}]}`, nil)
	waitFor(t, "an unread batch fails", func() bool { return c.EventMetrics().Failed > 0 })

	var closed map[string]bool
	callOK(t, c, "close_event_stream", `{}`, &closed)
	assert.True(t, closed["closed"])
	var r streamRead
	callOK(t, c, "read_event_stream", `{"wait_ms": 10}`, &r)
	assert.False(t, r.Open)
	assert.Empty(t, r.Events)
	e = callErr(t, c, "open_event_stream", `{"patterns": ["Step.Completed"]}`)
	assert.Equal(t, errs.Validation, e.Type)
	e = callErr(t, c, "read_event_stream", `{"wait_ms": -1}`)
	assert.Equal(t, errs.Validation, e.Type)
}

func TestLiveEventsDisabled(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "events": {"enabled": false}`)
	_, err := c.Subscribe("*", func(store.Event) {})
	assert.Equal(t, errs.Configuration, errs.KindOf(err))
	e := callErr(t, c, "open_event_stream", `{}`)
	assert.Equal(t, errs.Configuration, e.Type)
	var m EventMetrics
	callOK(t, c, "event_metrics", `{}`, &m)
	assert.False(t, m.Enabled)
}

// events.definitions_paths extends the catalog; templates' custom events join it;
// a definition or custom event that takes a system name is refused.
func TestEventCatalog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "billing.yml")
	require.NoError(t, os.WriteFile(good, []byte(`events:
  billing.invoice_sent:
    description: An invoice went out
    payload: {type: object, required: [invoice_id], properties: {invoice_id: {type: integer}}}
`), 0o600))
	c := openClient(t, fmt.Sprintf(`, "events": {"definitions_paths": [%q]}`, good))
	callOK(t, c, "register_task_templates", `{"paths": ["../template/testdata/good/order_fulfillment.yaml"]}`, nil)
	var cat struct {
		Events []struct {
			Name          string         `json:"name"`
			Custom        bool           `json:"custom"`
			FiredBy       string         `json:"fired_by"`
			PayloadSchema map[string]any `json:"payload_schema"`
		} `json:"events"`
	}
	callOK(t, c, "event_catalog", `{}`, &cat)
	byName := map[string]int{}
	for i, e := range cat.Events {
		byName[e.Name] = i
	}
	require.Contains(t, byName, "step.completed")
	require.Contains(t, byName, "billing.invoice_sent")
	require.Contains(t, byName, "order.fulfilled", "the template's custom event")
	assert.True(t, cat.Events[byName["billing.invoice_sent"]].Custom)
	assert.NotEmpty(t, cat.Events[byName["billing.invoice_sent"]].PayloadSchema)
	assert.False(t, cat.Events[byName["step.completed"]].Custom)

	for name, body := range map[string]string{
		"system.yml": "events:\n  step.completed: {description: mine now}\n",
		"schema.yml": "events:\n  billing.bad: {description: x, payload: {type: 12}}\n",
		"empty.yml":  "other: 1\n",
	} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		_, err := Open(context.Background(), []byte(fmt.Sprintf(`{"database_url": %q, "events": {"definitions_paths": [%q]}}`,
			c.Config().String("database.url"), p)))
		require.Error(t, err, name)
		assert.Equal(t, errs.Configuration, errs.KindOf(err), name)
		assert.Contains(t, err.Error(), p, name)
	}
}

// A subscriber that calls the client while the client closes does not deadlock
// Close: the last batches are delivered before the pool closes.
func TestCloseWithASubscriberCallingTheClient(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "events": {"flush_interval_ms": 1000, "batch_size": 1000}`)
	var calls recorder
	_, err := c.Subscribe("task.initialize_requested", func(e store.Event) {
		c.CallJSON(context.Background(), "get_task_execution_context", []byte(fmt.Sprintf(`{"task_id": %d}`, e.TaskID)))
		calls.add(e)
	})
	require.NoError(t, err)
	callOK(t, c, "create_task", diamondSpec, nil) // buffered: the flush interval is long
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close deadlocked with a subscriber calling the client")
	}
	assert.Len(t, calls.snapshot(), 1, "the buffered event was delivered at Close")
}

// report_and_claim reports and claims in one transaction: the children a report
// made ready come back in the same call.
func TestReportAndClaim(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	var ct created
	callOK(t, c, "create_task", diamondSpec, &ct)
	type claimed struct {
		Steps []struct {
			StepID   int64  `json:"step_id"`
			StepName string `json:"step_name"`
		} `json:"steps"`
		Outcomes []struct {
			Status string `json:"status"`
		} `json:"outcomes"`
		Tasks []struct {
			Status string `json:"status"`
		} `json:"tasks"`
	}
	var r claimed
	callOK(t, c, "report_and_claim", `{"reports": [], "claim": {"worker_id": "w", "limit": 10}}`, &r)
	require.Len(t, r.Steps, 1)
	assert.Equal(t, "a", r.Steps[0].StepName)

	e := callErr(t, c, "report_and_claim", fmt.Sprintf(`{"reports": [{"step_id": %d, "worker_id": "w", "success": true}]}`,
		r.Steps[0].StepID))
	assert.Equal(t, errs.Validation, e.Type)
	e = callErr(t, c, "report_and_claim", fmt.Sprintf(`{"reports": [{"step_id": %d, "worker_id": "w", "success": true}],
		"claim": {"limit": 10}}`, r.Steps[0].StepID))
	assert.Equal(t, errs.Validation, e.Type, "a claim without worker_id")
	var ec struct {
		CompletedSteps int `json:"completed_steps"`
	}
	callOK(t, c, "get_task_execution_context", fmt.Sprintf(`{"task_id": %d}`, ct.TaskID), &ec)
	assert.Zero(t, ec.CompletedSteps, "a refused call records no report")

	rounds := [][]string{{"b", "c"}, {"d"}, {}}
	for _, want := range rounds {
		var reps []string
		for _, s := range r.Steps {
			reps = append(reps, fmt.Sprintf(`{"step_id": %d, "worker_id": "w", "success": true}`, s.StepID))
		}
		reported := len(reps)
		callOK(t, c, "report_and_claim", `{"reports": [`+strings.Join(reps, ",")+`], "claim": {"worker_id": "w", "limit": 10}}`, &r)
		require.Len(t, r.Outcomes, reported)
		for _, o := range r.Outcomes {
			assert.Equal(t, "applied", o.Status)
		}
		var got []string
		for _, s := range r.Steps {
			got = append(got, s.StepName)
		}
		assert.ElementsMatch(t, want, got, "claimed in the same call as the report that readied them")
	}
	require.Len(t, r.Tasks, 1)
	assert.Equal(t, "complete", r.Tasks[0].Status)
}
