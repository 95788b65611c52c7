package events

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/internal/safefile/safefiletest"
)

// The compatibility contract: exactly the events of REFERENCE §7.
var reference = []string{
	"task.initialize_requested", "task.start_requested", "task.completed", "task.failed", "task.retry_requested",
	"task.cancelled", "task.resolved_manually", "task.before_transition",
	"step.initialize_requested", "step.execution_requested", "step.before_handle", "step.handle", "step.completed",
	"step.failed", "step.retry_requested", "step.cancelled", "step.resolved_manually", "step.before_transition",
	"workflow.task_started", "workflow.task_completed", "workflow.task_failed", "workflow.step_completed",
	"workflow.step_failed", "workflow.viable_steps_discovered", "workflow.no_viable_steps",
	"workflow.orchestration_requested", "workflow.task_finalization_started", "workflow.task_finalization_completed",
	"workflow.task_reenqueue_requested", "workflow.task_reenqueue_delayed", "workflow.steps_execution_started",
	"workflow.steps_execution_completed",
	"observability.task.handle", "observability.task.enqueue", "observability.task.finalize",
	"observability.step.handle", "observability.step.find_viable", "observability.step.backoff",
	"observability.step.skip", "observability.step.max_retries_reached",
}

// Tasker Core's own system events, beyond the reference: one per operator
// action (core/operator), carrying its actor and reason.
var additions = []string{
	"operator.task_cancelled", "operator.task_retried", "operator.attempts_reset", "operator.task_force_completed",
	"operator.task_force_failed", "operator.task_metadata_updated", "operator.step_retried", "operator.step_reset",
	"operator.step_resolved", "operator.step_results_updated", "operator.dependencies_overridden",
}

// What a process says about itself (issue 19): system health and the library's
// warnings and errors, not tied to a task.
var selfReported = []string{
	"system.worker.started", "system.worker.stopped", "system.worker.presumed_dead",
	"system.database.connection_lost", "system.database.connection_restored",
	"system.pool.saturated", "system.pool.recovered", "system.events.dropped",
	"system.health.degraded", "system.health.recovered",
	"library.warning.deadlock_retried", "library.warning.report_refused_stale", "library.warning.leases_recovered",
	"library.warning.config_deprecated", "library.error.transaction_abandoned", "library.error.subscriber_failed",
}

func TestSystemCatalog(t *testing.T) {
	t.Parallel()
	c, err := System()
	require.NoError(t, err)
	assert.ElementsMatch(t, append(append(append([]string{}, reference...), additions...), selfReported...), c.Names())
	for _, name := range additions {
		d, _ := c.Lookup(name)
		assert.Equal(t, "durable", d.Delivery, name)
		assert.Contains(t, d.Payload["required"], "actor", name)
		assert.Contains(t, d.Payload["required"], "reason", name)
	}
	for _, name := range c.Names() {
		d, _ := c.Lookup(name)
		assert.NotEmpty(t, d.Description, name)
		assert.NotEmpty(t, d.FiredBy, name)
		assert.Contains(t, []string{"durable", "live", "worker"}, d.Delivery, name)
		assert.NotEmpty(t, d.Payload, name)
		compile(t, name, d.Payload)
	}
}

func compile(t *testing.T, name string, schema map[string]any) *jsonschema.Schema {
	t.Helper()
	raw, err := json.Marshal(schema)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	comp := jsonschema.NewCompiler()
	comp.AssertFormat()
	require.NoError(t, comp.AddResource("mem://"+name, doc), name)
	s, err := comp.Compile("mem://" + name)
	require.NoError(t, err, name)
	return s
}

// Every state transition publishes a catalog event whose payload matches the
// event's schema, with ISO-8601 UTC timestamps.
func TestTransitionPayloadsMatchTheirSchemas(t *testing.T) {
	t.Parallel()
	c, err := System()
	require.NoError(t, err)
	at := time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.FixedZone("CET", 3600))
	validate := func(name string, payload any) {
		d, ok := c.Lookup(name)
		require.True(t, ok, name)
		raw, err := json.Marshal(payload)
		require.NoError(t, err)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		require.NoError(t, err)
		assert.NoError(t, compile(t, name, d.Payload).Validate(doc), "%s: %s", name, raw)
	}
	seen := map[string]bool{}
	for _, p := range state.Task.Pairs() {
		name, payload := ForTaskTransition(7, "order", map[string]any{"id": 1}, p[0], p[1], at)
		if name == "" {
			continue
		}
		seen[name] = true
		assert.Equal(t, "2026-11-25T11:00:00.123456Z", payload.TransitionedAt)
		validate(name, payload)
	}
	for _, p := range state.Step.Pairs() {
		name, payload := ForStepTransition(7, 9, "charge", p[0], p[1], at)
		if name == "" {
			continue
		}
		seen[name] = true
		validate(name, payload)
	}
	name, payload := ForStepTransition(7, 9, "charge", "", state.Pending, at)
	validate(name, payload)
	seen[name] = true
	name, tp := ForTaskTransition(7, "order", nil, "", state.Pending, at)
	validate(name, tp)
	seen[name] = true
	for _, want := range []string{"task.start_requested", "task.completed", "task.failed", "task.retry_requested",
		"task.cancelled", "task.resolved_manually", "task.initialize_requested", "step.execution_requested",
		"step.completed", "step.failed", "step.retry_requested", "step.cancelled", "step.resolved_manually",
		"step.initialize_requested"} {
		assert.True(t, seen[want], "no transition publishes %s", want)
	}
}

func TestCustomEvents(t *testing.T) {
	t.Parallel()
	c, err := System()
	require.NoError(t, err)
	require.NoError(t, c.AddCustom("order.fulfilled", "every step done", "ecommerce/order@1.0.0"))
	d, ok := c.Lookup("order.fulfilled")
	require.True(t, ok)
	assert.True(t, d.Custom)
	err = c.AddCustom("step.completed", "", "x")
	assert.Equal(t, errs.Validation, errs.KindOf(err))
	assert.Contains(t, err.Error(), "system event")
	assert.Error(t, c.AddCustom("Bad Name", "", "x"))
}

func TestPatterns(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"*", "step.completed", true},
		{"step.*", "step.completed", true},
		{"step.*", "step.before_transition", true},
		{"step.*", "step", false},
		{"step.*", "steps.completed", false},
		{"observability.*", "observability.step.handle", true},
		{"observability.step.*", "observability.task.handle", false},
		{"task.completed", "task.completed", true},
		{"task.completed", "task.completed_x", false},
	} {
		assert.Equal(t, c.want, Match(c.pattern, c.name), "%s ~ %s", c.pattern, c.name)
	}
	for p, ok := range map[string]bool{"*": true, "step.*": true, "order.fulfilled": true, "step": true,
		"step.": false, "Step.*": false, "": false, "a..b": false, "*.completed": false, "step.**": false} {
		assert.Equal(t, ok, ValidPattern(p), p)
	}
}

func TestAddFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := dir + "/" + name
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	c, err := System()
	require.NoError(t, err)
	good := write("good.yml", `events:
  billing.invoice_sent:
    description: An invoice went out
    fired_by: billing service
    payload: {type: object, required: [invoice_id]}
  billing.refund_issued: {description: A refund went out}
`)
	require.NoError(t, c.AddFile(good, testMaxBytes))
	d, ok := c.Lookup("billing.invoice_sent")
	require.True(t, ok)
	assert.True(t, d.Custom)
	assert.Equal(t, "billing service", d.FiredBy)
	d, _ = c.Lookup("billing.refund_issued")
	assert.Contains(t, d.FiredBy, good, "defaults to the file it came from")

	for name, body := range map[string]string{
		"system.yml":  "events:\n  task.completed: {description: x}\n",
		"badname.yml": "events:\n  Billing: {description: x}\n",
		"nodesc.yml":  "events:\n  billing.x: {fired_by: y}\n",
		"schema.yml":  "events:\n  billing.x: {description: x, payload: {type: 7}}\n",
		"empty.yml":   "events: {}\n",
		"yaml.yml":    "events: [\n",
	} {
		before := len(c.Names())
		err := c.AddFile(write(name, body), testMaxBytes)
		require.Error(t, err, name)
		assert.Equal(t, errs.Configuration, errs.KindOf(err), name)
		assert.Len(t, c.Names(), before, "%s: a refused file adds nothing it names", name)
	}
	assert.Error(t, c.AddFile(dir+"/missing.yml", testMaxBytes))
}

func TestAddFileIsAllOrNothing(t *testing.T) {
	t.Parallel()
	c, err := System()
	require.NoError(t, err)
	p := t.TempDir() + "/mixed.yml"
	require.NoError(t, os.WriteFile(p, []byte("events:\n  aaa.good: {description: fine}\n  zzz.bad: {}\n"), 0o600))
	require.Error(t, c.AddFile(p, testMaxBytes))
	_, ok := c.Lookup("aaa.good")
	assert.False(t, ok, "the good event of a refused file is not added")
}

// testMaxBytes is the files.max_bytes the tests read definitions with.
const testMaxBytes = 1 << 20

// events.definitions_paths naming a device, a FIFO, a directory, a link to a
// device or a file over files.max_bytes is a configuration_error naming the
// path, and the catalog is unchanged.
func TestAddFileRefusesWhatIsNotASmallRegularFile(t *testing.T) {
	t.Parallel()
	for _, tc := range safefiletest.Cases(t) {
		safefiletest.Within(t, 5*time.Second, func() {
			c, err := System()
			if !assert.NoError(t, err) {
				return
			}
			before := len(c.Names())
			err = c.AddFile(tc.Path, safefiletest.Limit)
			if !assert.Error(t, err, tc.Name) {
				return
			}
			assert.Equal(t, errs.Configuration, errs.KindOf(err), tc.Name)
			assert.Contains(t, err.Error(), "event definitions "+tc.Path, tc.Name)
			assert.Contains(t, err.Error(), tc.Want, tc.Name)
			assert.Equal(t, "events.definitions_paths", errs.DetailsOf(err)["key"], tc.Name)
			assert.Len(t, c.Names(), before, tc.Name)
		})
	}
}
