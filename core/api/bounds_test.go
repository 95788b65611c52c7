package api

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
)

// Every value a column or a SQL type bounds: at the limit it is accepted, past it
// the call is a validation_error naming the field, before any SQL (nothing
// written), never a database_error.
func TestEveryBoundIsAValidationError(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "api": {"max_batch_size": 5}`)
	callOK(t, c, "register_task_templates", fmt.Sprintf(`{"yaml": %q}`, nulTemplate), nil)
	var ct created
	callOK(t, c, "create_task", `{"name": "bounds", "steps": [{"name": "a"}]}`, &ct)
	x := func(n int) string { return strings.Repeat("x", n) }
	task := ct.TaskID
	cases := []struct {
		method, at, over, field string
		atKind                  errs.Kind // what the call at the limit answers ("": ok)
	}{
		{"claim_steps", `{"worker_id": "w", "lease_seconds": 604800}`, `{"worker_id": "w", "lease_seconds": 1e300}`, "lease_seconds", ""},
		{"claim_steps", `{"worker_id": "w", "lease_seconds": 0.1}`, `{"worker_id": "w", "lease_seconds": 0.09}`, "lease_seconds", ""},
		{"claim_steps", `{"worker_id": "w", "lease_seconds": 604800}`, `{"worker_id": "w", "lease_seconds": 604800.5}`, "lease_seconds", ""},
		{"claim_steps", `{"worker_id": "` + x(128) + `"}`, `{"worker_id": "` + x(129) + `"}`, "worker_id", ""},
		{"claim_steps", `{"worker_id": "w", "limit": 10000}`, `{"worker_id": "w", "limit": 10001}`, "limit", ""},
		{"claim_steps", `{"worker_id": "w", "limit": 1}`, `{"worker_id": "w", "limit": 0}`, "limit", ""},
		{"claim_steps", `{"worker_id": "w", "limit": 1}`, `{"worker_id": "w", "limit": 1e300}`, "limit", ""},
		{"claim_steps", `{"worker_id": "w", "task_window": 10000}`, `{"worker_id": "w", "task_window": 10001}`, "task_window", ""},
		{"claim_steps", `{"worker_id": "w", "task_id": 1}`, `{"worker_id": "w", "task_id": -1}`, "task_id", ""},
		{"claim_steps", `{"worker_id": "w", "namespaces": ["` + x(64) + `"]}`, `{"worker_id": "w", "namespaces": ["` + x(65) + `"]}`, "namespaces[0]", ""},
		{"claim_steps", `{"worker_id": "w", "namespaces": ["a", "b", "c", "d", "e"]}`, `{"worker_id": "w", "namespaces": ["a", "b", "c", "d", "e", "f"]}`, "namespaces", ""},
		{"report_and_claim", `{"reports": [], "claim": {"worker_id": "w", "lease_seconds": 604800}}`, `{"reports": [], "claim": {"worker_id": "w", "lease_seconds": 1e300}}`, "claim.lease_seconds", ""},
		{"heartbeat", `{"worker_id": "w", "step_ids": [1], "lease_seconds": 604800}`, `{"worker_id": "w", "step_ids": [1], "lease_seconds": 1e300}`, "lease_seconds", ""},
		{"heartbeat", `{"worker_id": "` + x(128) + `", "step_ids": [1]}`, `{"worker_id": "` + x(129) + `", "step_ids": [1]}`, "worker_id", ""},
		{"heartbeat", `{"worker_id": "w", "step_ids": [1, 2, 3, 4, 5]}`, `{"worker_id": "w", "step_ids": [1, 2, 3, 4, 5, 6]}`, "step_ids", ""},
		{"recover_expired_steps", `{"worker_id": "w", "limit": 10000}`, `{"worker_id": "w", "limit": 10001}`, "limit", ""},
		{"recover_expired_steps", `{"worker_id": "` + x(128) + `"}`, `{"worker_id": "` + x(129) + `"}`, "worker_id", ""},
		{"next_ready_tasks", `{"limit": 10000}`, `{"limit": 10001}`, "limit", ""},
		{"fetch_events", `{"subscriber": "` + x(128) + `"}`, `{"subscriber": "` + x(129) + `"}`, "subscriber", ""},
		{"fetch_events", `{"subscriber": "s", "limit": 10000}`, `{"subscriber": "s", "limit": 10001}`, "limit", ""},
		{"fetch_events", `{"subscriber": "s", "wait_ms": 0}`, `{"subscriber": "s", "wait_ms": 9223372036854}`, "wait_ms", ""},
		{"ack_events", `{"subscriber": "` + x(128) + `", "events": [], "horizon": "1", "drained": true}`,
			`{"subscriber": "` + x(129) + `", "events": [], "horizon": "1", "drained": true}`, "subscriber", ""},
		{"ack_events", `{"subscriber": "s", "events": [], "horizon": "18446744073709551615", "drained": true}`,
			`{"subscriber": "s", "events": [], "horizon": "1e9", "drained": true}`, "horizon", ""},
		{"publish_event", fmt.Sprintf(`{"task_id": %d, "name": "%s"}`, task, x(128)), fmt.Sprintf(`{"task_id": %d, "name": "%s"}`, task, x(129)), "name", errs.Validation},
		{"get_step_readiness", fmt.Sprintf(`{"task_id": %d, "step_ids": [1, 2, 3, 4, 5]}`, task), fmt.Sprintf(`{"task_id": %d, "step_ids": [1, 2, 3, 4, 5, 6]}`, task), "step_ids", ""},
		{"get_task_execution_context", fmt.Sprintf(`{"task_id": %d, "as_of": "9999-12-31T23:59:59-23:59"}`, task),
			fmt.Sprintf(`{"task_id": %d, "as_of": "10000-01-01T00:00:00Z"}`, task), "as_of", ""},
		{"discover_viable_steps", fmt.Sprintf(`{"task_id": %d, "as_of": "0000-01-01T00:00:00+23:59"}`, task),
			fmt.Sprintf(`{"task_id": %d, "as_of": "-0001-01-01T00:00:00Z"}`, task), "as_of", ""},
		{"get_analytics_metrics", `{"since": "0000-01-01T00:00:00Z"}`, `{"since": "0000-13-01T00:00:00Z"}`, "since", ""},
		{"get_slowest_tasks", `{"namespace": "` + x(64) + `"}`, `{"namespace": "` + x(65) + `"}`, "namespace", ""},
		{"get_slowest_steps", `{"task_name": "` + x(64) + `"}`, `{"task_name": "` + x(65) + `"}`, "task_name", ""},
		{"get_slowest_steps", `{"version": "` + x(16) + `"}`, `{"version": "` + x(17) + `"}`, "version", ""},
		{"get_slowest_steps", `{"limit": 1000}`, `{"limit": 1001}`, "limit", ""},
		{"create_task", `{"name": "` + x(64) + `", "steps": [{"name": "a"}]}`, `{"name": "` + x(65) + `", "steps": [{"name": "a"}]}`, "name", ""},
		{"create_task", `{"name": "n", "namespace": "` + x(64) + `", "steps": [{"name": "a"}]}`, `{"name": "n", "namespace": "` + x(65) + `", "steps": [{"name": "a"}]}`, "namespace", ""},
		{"create_task", `{"name": "n", "version": "` + x(16) + `", "steps": [{"name": "a"}]}`, `{"name": "n", "version": "` + x(17) + `", "steps": [{"name": "a"}]}`, "version", ""},
		{"create_task", `{"name": "n", "description": "` + x(255) + `", "steps": [{"name": "a"}]}`, `{"name": "n", "description": "` + x(256) + `", "steps": [{"name": "a"}]}`, "description", ""},
		{"create_task", `{"name": "n", "steps": [{"name": "` + x(128) + `"}]}`, `{"name": "n", "steps": [{"name": "` + x(129) + `"}]}`, "steps[0].name", ""},
		{"create_task", `{"name": "n", "steps": [{"name": "a", "dependent_system": "` + x(64) + `"}]}`, `{"name": "n", "steps": [{"name": "a", "dependent_system": "` + x(65) + `"}]}`, "steps[0].dependent_system", ""},
		{"create_task", `{"name": "n", "initiator": "` + x(128) + `", "steps": [{"name": "a"}]}`, `{"name": "n", "initiator": "` + x(129) + `", "steps": [{"name": "a"}]}`, "initiator", ""},
		{"create_task", `{"name": "n", "source_system": "` + x(128) + `", "steps": [{"name": "a"}]}`, `{"name": "n", "source_system": "` + x(129) + `", "steps": [{"name": "a"}]}`, "source_system", ""},
		{"create_task", `{"name": "n", "reason": "` + x(128) + `", "steps": [{"name": "a"}]}`, `{"name": "n", "reason": "` + x(129) + `", "steps": [{"name": "a"}]}`, "reason", ""},
		{"create_task", `{"name": "n", "priority": 2147483647, "steps": [{"name": "a"}]}`, `{"name": "n", "priority": 2147483648, "steps": [{"name": "a"}]}`, "priority", ""},
		{"create_task", `{"name": "n", "steps": [{"name": "a", "retry_limit": 2147483647}]}`, `{"name": "n", "steps": [{"name": "a", "retry_limit": 2147483648}]}`, "steps.retry_limit", ""},
		{"create_task", `{"name": "n", "steps": [{"name": "a"}], "requested_at": "9999-12-31T23:59:59Z"}`, `{"name": "n", "steps": [{"name": "a"}], "requested_at": "99999-12-31T23:59:59Z"}`, "requested_at", ""},
		{"create_task_from_template", `{"name": "nul_events", "namespace": "api", "version": "1.0.0", "priority": -2147483648}`,
			`{"name": "nul_events", "namespace": "api", "version": "1.0.0", "priority": -2147483649}`, "priority", ""},
		{"create_task_from_template", `{"name": "` + x(64) + `"}`, `{"name": "` + x(65) + `"}`, "name", errs.NotFound},
		{"get_task_template", `{"name": "n", "version": "` + x(16) + `"}`, `{"name": "n", "version": "` + x(17) + `"}`, "version", errs.NotFound},
		{"get_task_template", `{"name": "n", "namespace": "` + x(64) + `"}`, `{"name": "n", "namespace": "` + x(65) + `"}`, "namespace", errs.NotFound},
		{"register_task_templates", fmt.Sprintf(`{"yaml": %q}`, strings.Replace(nulTemplate, "name: nul_events", "name: "+x(64), 1)),
			fmt.Sprintf(`{"yaml": %q}`, strings.Replace(nulTemplate, "name: nul_events", "name: "+x(65), 1)), "name", ""},
		{"register_task_templates", fmt.Sprintf(`{"yaml": %q}`, strings.Replace(nulTemplate, "version: 1.0.0", "version: 1.0.0\ndescription: "+x(255), 1)),
			fmt.Sprintf(`{"yaml": %q}`, strings.Replace(nulTemplate, "version: 1.0.0", "version: 1.0.0\ndescription: "+x(256), 1)), "description", ""},
		{"register_task_templates", fmt.Sprintf(`{"yaml": %q}`, strings.Replace(nulTemplate, "version: 1.0.0", "version: 1.0.0\ndefault_dependent_system: "+x(64), 1)),
			fmt.Sprintf(`{"yaml": %q}`, strings.Replace(nulTemplate, "version: 1.0.0", "version: 1.0.0\ndefault_dependent_system: "+x(65), 1)), "default_dependent_system", ""},
		{"register_task_templates", fmt.Sprintf(`{"yaml": %q}`, strings.Replace(nulTemplate, "  - name: a", "  - name: "+x(128), 1)),
			fmt.Sprintf(`{"yaml": %q}`, strings.Replace(nulTemplate, "  - name: a", "  - name: "+x(129), 1)), "step_templates[0]", ""},
		{"batch_update_step_states", fmt.Sprintf(`{"updates": [{"step_id": %d, "state": "cancelled", "backoff_request_seconds": 2147483647}]}`, ct.StepIDs["a"]),
			`{"updates": [{"step_id": 1, "state": "error", "backoff_request_seconds": 2147483648}]}`, "backoff_request_seconds", ""},
		{"report_step_results", `{"reports": [{"step_id": 1, "worker_id": "w", "attempt": 2147483647}]}`,
			`{"reports": [{"step_id": 1, "worker_id": "w", "attempt": 2147483648}]}`, "reports.attempt", ""},
		{"report_step_results", `{"reports": [{"step_id": 1, "worker_id": "w", "error": {"message": "m", "retry_after_seconds": 2147483647}}]}`,
			`{"reports": [{"step_id": 1, "worker_id": "w", "error": {"message": "m", "retry_after_seconds": 2147483648}}]}`, "reports.error.retry_after_seconds", ""},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%s %s", tc.method, tc.field)
		env := c.CallJSON(context.Background(), tc.method, []byte(tc.at))
		if tc.atKind == "" {
			assert.Contains(t, string(env), `"ok":true`, "%s at the limit: %.300s", name, env)
		} else {
			e := callErr(t, c, tc.method, tc.at)
			assert.Equal(t, tc.atKind, e.Type, "%s at the limit: %s", name, e.Message)
			assert.NotEqual(t, tc.field, e.Details["field"], "%s at the limit: %s", name, e.Message)
		}
		before := writtenRows(t, c)
		e := callErr(t, c, tc.method, tc.over)
		assert.Equal(t, errs.Validation, e.Type, "%s past the limit: %s", name, e.Message)
		got := e.Details["field"]
		if got == nil { // a template's errors name its file, line and key path
			got = e.Details["path"]
		}
		assert.Equal(t, tc.field, got, "%s past the limit: %s", name, e.Message)
		assert.Equal(t, before, writtenRows(t, c), "%s past the limit wrote nothing", name)
	}
}

// The widths in inputcheck.go are the migrated schema's.
func TestColumnWidthsMatchSchema(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	for col, width := range map[string]int{
		"tasker_task_namespaces.name": WidthNamespace, "tasker_named_tasks.name": WidthTaskName,
		"tasker_named_tasks.version": WidthVersion, "tasker_named_tasks.description": WidthDescription,
		"tasker_named_steps.name": WidthStepName, "tasker_dependent_systems.name": WidthDependentSystem,
		"tasker_workflow_steps.claimed_by": WidthWorkerID, "tasker_event_subscribers.subscriber": WidthSubscriber,
		"tasker_event_cursors.subscriber": WidthSubscriber, "tasker_events.name": WidthEventName,
	} {
		table, column, _ := strings.Cut(col, ".")
		var n int
		require.NoError(t, c.Store().Pool().QueryRow(context.Background(), `SELECT character_maximum_length FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2`, table, column).Scan(&n), col)
		assert.Equal(t, n, width, col)
	}
}
