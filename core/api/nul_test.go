package api

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
)

// writtenRows sums up what the tables a call may write hold, to show a refused
// call wrote nothing.
func writtenRows(t *testing.T, c *Client) string {
	t.Helper()
	var n string
	require.NoError(t, c.Store().Pool().QueryRow(context.Background(), `SELECT concat_ws('/',
		(SELECT count(*) FROM tasker_tasks), (SELECT count(*) FROM tasker_workflow_steps),
		(SELECT count(*) FROM tasker_workflow_step_transitions), (SELECT count(*) FROM tasker_task_transitions),
		(SELECT count(*) FROM tasker_events), (SELECT count(*) FROM tasker_event_subscribers),
		(SELECT count(*) FROM tasker_event_cursors), (SELECT count(*) FROM tasker_named_tasks),
		(SELECT count(*) FROM tasker_task_namespaces), (SELECT count(*) FROM tasker_named_steps),
		(SELECT count(*) FROM tasker_dependent_systems),
		(SELECT md5(string_agg(workflow_step_id || ':' || COALESCE(results::text, '') || COALESCE(claimed_by, '') ||
		        COALESCE(lease_expires_at::text, ''), ',' ORDER BY workflow_step_id)) FROM tasker_workflow_steps))`).Scan(&n))
	return n
}

const nulTemplate = `
name: nul_events
namespace_name: api
version: 1.0.0
task_handler_class: NulHandler
custom_events:
  - name: order.flagged
step_templates:
  - name: a
    handler_class: A
`

// U+0000 anywhere in a payload that is not a batch item refuses the call with a
// validation_error naming where it is, and writes nothing.
func TestNULIsRefusedNamingTheField(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	callOK(t, c, "register_task_templates", fmt.Sprintf(`{"yaml": %q}`, nulTemplate), nil)
	var ct created
	callOK(t, c, "create_task_from_template", `{"name": "nul_events", "namespace": "api", "version": "1.0.0"}`, &ct)
	before := writtenRows(t, c)
	cases := []struct{ method, payload, field string }{
		{"create_task", `{"name": "n", "steps": [{"name": "a"}], "context": {"s": "x\u0000"}}`, "context.s"},
		{"create_task", `{"name": "n", "steps": [{"name": "a"}], "context": {"k\u0000": 1}}`, `context.k\u0000`},
		{"create_task", `{"name": "n", "steps": [{"name": "a", "inputs": [1, "\u0000"]}]}`, "steps[0].inputs[1]"},
		{"create_task", `{"name": "n\u0000", "steps": [{"name": "a"}]}`, "name"},
		{"create_task", `{"name": "n", "steps": [{"name": "a"}], "tags": {"t": "\u0000"}}`, "tags.t"},
		{"create_task_from_template", `{"name": "nul_events", "namespace": "api", "version": "1.0.0", "context": {"a": "\u0000"}}`, "context.a"},
		{"transition_task", fmt.Sprintf(`{"task_id": %d, "state": "cancelled", "metadata": {"why": "\u0000"}}`, ct.TaskID), "metadata.why"},
		{"publish_event", fmt.Sprintf(`{"task_id": %d, "name": "order.flagged", "payload": {"p": ["\u0000"]}}`, ct.TaskID), "payload.p[0]"},
		{"claim_steps", `{"worker_id": "w\u0000"}`, "worker_id"},
		{"report_and_claim", `{"reports": [], "claim": {"worker_id": "w\u0000"}}`, "claim.worker_id"},
		{"fetch_events", `{"subscriber": "s\u0000"}`, "subscriber"},
		{"heartbeat", `{"worker_id": "w\u0000", "step_ids": [1]}`, "worker_id"},
	}
	for _, tc := range cases {
		e := callErr(t, c, tc.method, tc.payload)
		assert.Equal(t, errs.Validation, e.Type, "%s: %s", tc.method, e.Message)
		assert.Equal(t, tc.field, e.Details["field"], "%s: %s", tc.method, e.Message)
		assert.Contains(t, e.Message, "U+0000", tc.method)
	}
	assert.Equal(t, before, writtenRows(t, c), "no refused call wrote anything")

	// An escaped backslash followed by "u0000" is text, not U+0000.
	var ok created
	callOK(t, c, "create_task", `{"name": "n", "steps": [{"name": "a"}], "context": {"s": "\\u0000"}}`, &ok)
	var ctx string
	require.NoError(t, c.Store().Pool().QueryRow(context.Background(), `SELECT context->>'s' FROM tasker_tasks WHERE task_id = $1`, ok.TaskID).Scan(&ctx))
	assert.Equal(t, `\u0000`, ctx)
}

// A report batch with U+0000 in one report stores the others, and the refused
// step fails saying why instead of staying in_progress.
func TestReportBatchWithNULStoresTheOthers(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	var ct created
	callOK(t, c, "create_task", `{"name": "nul_batch", "steps": [{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}, {"name": "e"}]}`, &ct)
	var claim struct {
		Steps []struct {
			StepID   int64  `json:"step_id"`
			StepName string `json:"step_name"`
			Attempts int32  `json:"attempts"`
		} `json:"steps"`
	}
	callOK(t, c, "claim_steps", fmt.Sprintf(`{"worker_id": "w", "task_id": %d, "limit": 5}`, ct.TaskID), &claim)
	require.Len(t, claim.Steps, 5)
	id := ct.StepIDs

	var rep reportResult
	callOK(t, c, "report_step_results", fmt.Sprintf(`{"reports": [
		{"step_id": %d, "worker_id": "w", "success": true, "results": {"ok": 1}},
		{"step_id": %d, "worker_id": "w", "success": true, "results": {"note": "x\u0000y"}},
		{"step_id": %d, "worker_id": "w\u0000", "success": true, "results": {"ok": 3}},
		{"step_id": %d, "worker_id": "w", "success": false, "error": {"message": "boom \u0000"}, "metadata": {"m": "\\u0000"}}]}`,
		id["a"], id["b"], id["c"], id["d"]), &rep)
	require.Len(t, rep.Outcomes, 4)
	assert.Equal(t, "applied", rep.Outcomes[0].Status)
	assert.Equal(t, "complete", string(rep.Outcomes[0].ToState))
	assert.Nil(t, rep.Outcomes[0].Error)

	b := rep.Outcomes[1]
	assert.Equal(t, 1, b.Index)
	assert.Equal(t, "applied", b.Status, "the refused step fails")
	assert.Equal(t, "error", string(b.ToState))
	require.NotNil(t, b.Error)
	assert.Equal(t, errs.Validation, b.Error.Type)
	assert.Equal(t, "reports[1].results", b.Error.Details["field"])
	assert.Equal(t, float64(id["b"]), b.Error.Details["step_id"])

	cc := rep.Outcomes[2]
	assert.Equal(t, "rejected", cc.Status, "U+0000 in worker_id: not this worker's report, refused")
	assert.Equal(t, "reports[2].worker_id", cc.Error.Details["field"])
	assert.Equal(t, id["c"], cc.StepID)

	d := rep.Outcomes[3]
	assert.Equal(t, "applied", d.Status)
	assert.Equal(t, "error", string(d.ToState))
	assert.Equal(t, "reports[3].error", d.Error.Details["field"])

	var state, msg string
	var retryable bool
	pool := c.Store().Pool()
	step := func(sid int64) {
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT t.to_state, COALESCE(ws.results->'error'->>'message', ''), ws.retryable
			FROM tasker_workflow_steps ws JOIN tasker_workflow_step_transitions t ON t.workflow_step_id = ws.workflow_step_id AND t.most_recent
			WHERE ws.workflow_step_id = $1`, sid).Scan(&state, &msg, &retryable))
	}
	step(id["b"])
	assert.Equal(t, "error", state)
	assert.Equal(t, "result refused: contains U+0000 at results.note (PostgreSQL cannot store it)", msg)
	assert.False(t, retryable, "the same result would be refused again")
	step(id["c"])
	assert.Equal(t, "in_progress", state, "a refused item writes nothing")
	step(id["d"])
	assert.Equal(t, "error", state)
	assert.Contains(t, msg, "error refused: contains U+0000 at error.message")

	// report_and_claim: the same, and the claim happens.
	var rc struct {
		Outcomes []batchOutcome `json:"outcomes"`
	}
	callOK(t, c, "report_and_claim", fmt.Sprintf(`{"reports": [
		{"step_id": %d, "worker_id": "w", "success": true, "metadata": {"x": {"\u0000": 1}}},
		{"step_id": %d, "worker_id": "w", "success": true}], "claim": {"worker_id": "w", "limit": 1}}`, id["c"], id["e"]), &rc)
	require.Len(t, rc.Outcomes, 2)
	assert.Equal(t, "error", string(rc.Outcomes[0].ToState))
	assert.Equal(t, "reports[0].metadata", rc.Outcomes[0].Error.Details["field"])
	assert.Equal(t, "complete", string(rc.Outcomes[1].ToState))
	step(id["c"])
	assert.Equal(t, "error", state)
	assert.Contains(t, msg, `metadata refused: contains U+0000 at metadata.x.\u0000`)
}

// batch_update_step_states: an item with U+0000 is refused alone; a result
// (→complete) becomes a failure saying why, anything else writes nothing.
func TestBatchUpdateWithNUL(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	var ct created
	callOK(t, c, "create_task", `{"name": "nul_updates", "steps": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}`, &ct)
	id := ct.StepIDs
	var res BatchResult
	callOK(t, c, "batch_update_step_states", fmt.Sprintf(`{"updates": [
		{"step_id": %d, "state": "in_progress"}, {"step_id": %d, "state": "in_progress"},
		{"step_id": %d, "state": "in_progress", "metadata": {"who": "\u0000"}},
		[%d, "complete", {"r": "\u0000"}], [%d, "complete", {"r": 1}]]}`, id["a"], id["b"], id["c"], id["a"], id["b"]), &res)
	require.Len(t, res.Outcomes, 5)
	assert.Equal(t, 4, res.Applied)
	assert.Equal(t, 1, res.Rejected)
	assert.Equal(t, "rejected", res.Outcomes[2].Status)
	assert.Equal(t, "updates[2].metadata", res.Outcomes[2].Error.Details["field"])
	assert.Equal(t, "applied", res.Outcomes[3].Status)
	assert.Equal(t, "error", string(res.Outcomes[3].ToState))
	assert.Equal(t, "updates[3].results", res.Outcomes[3].Error.Details["field"])
	assert.Equal(t, "complete", string(res.Outcomes[4].ToState))
	for i, o := range res.Outcomes {
		assert.Equal(t, i, o.Index)
	}
	var st string
	require.NoError(t, c.Store().Pool().QueryRow(context.Background(), `SELECT to_state FROM tasker_workflow_step_transitions
		WHERE workflow_step_id = $1 AND most_recent`, id["c"]).Scan(&st))
	assert.Equal(t, "pending", st)
}
