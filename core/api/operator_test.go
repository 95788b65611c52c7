package api

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/operator"
)

// The operator operations through the JSON API: strict payloads, dry runs,
// results, the audit trail read, and the Go Authorizer's refusal as a
// permission_denied envelope.
func TestOperatorOperationsThroughTheJSONAPI(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	for name := range operatorOperations {
		assert.Contains(t, Methods(), name)
	}
	var ct struct {
		TaskID  int64            `json:"task_id"`
		StepIDs map[string]int64 `json:"step_ids"`
	}
	callOK(t, c, "create_task", `{"name": "ops", "steps": [{"name": "a"}, {"name": "b", "depends_on": ["a"]}]}`, &ct)

	e := callErr(t, c, "cancel_task", fmt.Sprintf(`{"task_id": %d, "actor": "me", "reason": "r", "bogus": 1}`, ct.TaskID))
	assert.Equal(t, errs.Validation, e.Type)
	assert.Equal(t, "bogus", e.Details["field"])
	e = callErr(t, c, "cancel_task", fmt.Sprintf(`{"task_id": %d, "actor": "me"}`, ct.TaskID))
	assert.Equal(t, "reason", e.Details["field"])

	var dry operator.Result
	callOK(t, c, "cancel_task", fmt.Sprintf(`{"task_id": %d, "actor": "me", "reason": "r", "dry_run": true}`, ct.TaskID), &dry)
	assert.True(t, dry.DryRun)
	assert.Equal(t, "cancelled", string(dry.TaskStateAfter))
	var none struct {
		Actions []operator.Action `json:"actions"`
	}
	callOK(t, c, "operator_actions", fmt.Sprintf(`{"task_id": %d}`, ct.TaskID), &none)
	assert.Empty(t, none.Actions, "a dry run is not audited")

	var res operator.Result
	callOK(t, c, "resolve_step", fmt.Sprintf(`{"step_id": %d, "actor": "me", "reason": "r", "results": {"ok": true},
		"idempotency_key": "k1"}`, ct.StepIDs["a"]), &res)
	assert.Equal(t, "resolved_manually", string(res.Steps[0].After.State))
	assert.JSONEq(t, `{"ok": true}`, string(res.Steps[0].After.Results))
	var again operator.Result
	callOK(t, c, "resolve_step", fmt.Sprintf(`{"step_id": %d, "actor": "me", "reason": "r", "results": {"ok": true},
		"idempotency_key": "k1"}`, ct.StepIDs["a"]), &again)
	assert.True(t, again.Replayed)
	assert.Equal(t, res.ActionID, again.ActionID)

	e = callErr(t, c, "override_dependencies", fmt.Sprintf(`{"step_id": %d, "actor": "me", "reason": "r", "add": [%d]}`,
		ct.StepIDs["a"], ct.StepIDs["b"]))
	assert.Equal(t, errs.StateTransition, e.Type, "a is resolved: it has started")

	c.SetAuthorizer(operator.AuthorizerFunc(func(_ context.Context, actor, _ string, _ operator.Target) error {
		if actor != "lead" {
			return errors.New("only the lead")
		}
		return nil
	}))
	e = callErr(t, c, "cancel_task", fmt.Sprintf(`{"task_id": %d, "actor": "me", "reason": "r"}`, ct.TaskID))
	assert.Equal(t, errs.PermissionDenied, e.Type)
	assert.Contains(t, e.Message, "only the lead")
	callOK(t, c, "cancel_task", fmt.Sprintf(`{"task_id": %d, "actor": "lead", "reason": "r"}`, ct.TaskID), &res)
	c.SetAuthorizer(nil)

	var listed struct {
		Actions []operator.Action `json:"actions"`
	}
	callOK(t, c, "operator_actions", fmt.Sprintf(`{"task_id": %d}`, ct.TaskID), &listed)
	require.Len(t, listed.Actions, 2)
	assert.Equal(t, []string{"resolve_step", "cancel_task"}, []string{listed.Actions[0].Operation, listed.Actions[1].Operation})
	assert.Equal(t, "lead", listed.Actions[1].Actor)
}
