package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/internal/testdb"
	"github.com/taskercore/tasker-core/migrations"
)

func openClient(t *testing.T, extra string) *Client {
	t.Helper()
	_, schema := testdb.SchemaWithName(t, testdb.Options{SkipMigrate: true})
	cfg := fmt.Sprintf(`{"database_url": %q, "schema": %q, "migrate": true%s}`, testdb.URL(t), schema, extra)
	c, err := Open(context.Background(), []byte(cfg))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// callOK runs an operation and decodes its data into out.
func callOK(t *testing.T, c *Client, method, payload string, out any) {
	t.Helper()
	var env struct {
		OK    bool            `json:"ok"`
		Data  json.RawMessage `json:"data"`
		Error *ErrorBody      `json:"error"`
	}
	require.NoError(t, json.Unmarshal(c.CallJSON(context.Background(), method, []byte(payload)), &env))
	require.True(t, env.OK, "%s %s: %+v", method, payload, env.Error)
	if out != nil {
		require.NoError(t, json.Unmarshal(env.Data, out))
	}
}

// callErr runs an operation that must fail and returns the error body.
func callErr(t *testing.T, c *Client, method, payload string) ErrorBody {
	t.Helper()
	var env Envelope
	require.NoError(t, json.Unmarshal(c.CallJSON(context.Background(), method, []byte(payload)), &env))
	require.False(t, env.OK, "%s %s must fail", method, payload)
	require.NotNil(t, env.Error)
	return *env.Error
}

const diamondSpec = `{"name": "diamond", "namespace": "api", "context": {"n": 1},
	"steps": [{"name": "a"}, {"name": "b", "depends_on": ["a"]}, {"name": "c", "depends_on": ["a"]},
	          {"name": "d", "depends_on": ["b", "c"]}]}`

type created struct {
	TaskID  int64            `json:"task_id"`
	StepIDs map[string]int64 `json:"step_ids"`
}

func TestFourFunctionsOnADiamond(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	var ct created
	callOK(t, c, "create_task", diamondSpec, &ct)
	task := fmt.Sprintf(`{"task_id": %d}`, ct.TaskID)
	id := ct.StepIDs

	var viable struct {
		Steps []ViableStep `json:"steps"`
	}
	callOK(t, c, "discover_viable_steps", task, &viable)
	require.Len(t, viable.Steps, 1)
	assert.Equal(t, "a", viable.Steps[0].Name)
	assert.Equal(t, "ready", viable.Steps[0].Reason)

	var batch BatchResult
	callOK(t, c, "batch_update_step_states", fmt.Sprintf(`{"updates": [
		{"step_id": %d, "state": "in_progress"},
		[%d, "complete", {"valid": true}],
		{"step_id": %d, "state": "in_progress"},
		[%d, "complete"],
		{"step_id": %d, "state": "in_progress"}]}`, id["a"], id["a"], id["b"], id["a"], id["d"]), &batch)
	assert.Equal(t, 3, batch.Applied)
	assert.Equal(t, 1, batch.Duplicates)
	assert.Equal(t, 1, batch.Rejected)
	assert.Equal(t, "state_transition_error", string(batch.Outcomes[4].Error.Type))

	var ec map[string]any
	callOK(t, c, "get_task_execution_context", task, &ec)
	assert.Equal(t, "has_ready_steps", ec["execution_status"])
	assert.Equal(t, float64(1), ec["ready_steps"])
	assert.Equal(t, float64(1), ec["in_progress_steps"])
	assert.Equal(t, float64(25), ec["completion_percentage"])

	var an struct {
		HasCycles          bool           `json:"has_cycles"`
		MaxDepth           int            `json:"max_depth"`
		ParallelBranches   int            `json:"parallel_branches"`
		CriticalPathLength int            `json:"critical_path_length"`
		DependencyLevels   map[string]int `json:"dependency_levels"`
	}
	callOK(t, c, "analyze_dependencies", task, &an)
	assert.False(t, an.HasCycles)
	assert.Equal(t, 3, an.MaxDepth)
	assert.Equal(t, 2, an.ParallelBranches)
	assert.Equal(t, 3, an.CriticalPathLength)
	assert.Equal(t, 2, an.DependencyLevels[fmt.Sprint(id["d"])])

	var trail struct {
		Transitions []map[string]any `json:"transitions"`
	}
	callOK(t, c, "get_step_transitions", fmt.Sprintf(`{"step_id": %d}`, id["a"]), &trail)
	assert.Len(t, trail.Transitions, 3)
	callOK(t, c, "get_task_transitions", task, &trail)
	assert.Len(t, trail.Transitions, 1)

	var readiness struct {
		Steps []map[string]any `json:"steps"`
	}
	callOK(t, c, "get_step_readiness", fmt.Sprintf(`{"task_id": %d, "step_ids": [%d]}`, ct.TaskID, id["d"]), &readiness)
	require.Len(t, readiness.Steps, 1)
	assert.Equal(t, "dependencies_unmet", readiness.Steps[0]["reason"])

	var health map[string]any
	callOK(t, c, "get_system_health", `{}`, &health)
	assert.Equal(t, float64(1), health["total_tasks"])
	callOK(t, c, "get_analytics_metrics", ``, nil)
	callOK(t, c, "get_slowest_tasks", `{"limit": 5}`, nil)
	callOK(t, c, "get_slowest_steps", `{"namespace": "api"}`, nil)
	var mig map[string]any
	callOK(t, c, "run_migrations", `{}`, &mig)
	assert.Equal(t, []any{}, mig["applied"])
}

// Bad input gets a clear, typed error and changes nothing.
func TestBadInputIsTypedAndWritesNothing(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "max_payload_bytes": 1048576`)
	var ct created
	callOK(t, c, "create_task", diamondSpec, &ct)
	a := ct.StepIDs["a"]
	snapshot := func() string {
		var n string
		require.NoError(t, c.Store().Pool().QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM tasker_tasks)::text || '/' || (SELECT count(*) FROM tasker_workflow_steps)::text || '/' ||
			(SELECT count(*) FROM tasker_workflow_step_transitions)::text || '/' || (SELECT count(*) FROM tasker_task_transitions)::text`).Scan(&n))
		return n
	}
	before := snapshot()
	cases := []struct {
		method, payload string
		kind            errs.Kind
		contains        string
	}{
		{"get_task_execution_context", `{"task_id": `, errs.Validation, "malformed JSON"},
		{"get_task_execution_context", `{"task_id": "1"}`, errs.Validation, "field task_id: expected an integer"},
		{"get_task_execution_context", `{}`, errs.Validation, "task_id is required"},
		{"get_task_execution_context", `{"task_id": 1, "extra": true}`, errs.Validation, `unknown field "extra"`},
		{"get_task_execution_context", `{"task_id": 9223372036854775807}`, errs.NotFound, "not found"},
		{"discover_viable_steps", `{"task_id": -4}`, errs.Validation, "positive integer"},
		{"analyze_dependencies", `{"task_id": 424242}`, errs.NotFound, "424242"},
		{"get_step_transitions", `{"step_id": 424242}`, errs.NotFound, "424242"},
		{"batch_update_step_states", `{"updates": [[` + fmt.Sprint(a) + `]]}`, errs.Validation, "[step_id, state]"},
		{"batch_update_step_states", `{"updates": [{"step_id": 1, "state": "complete", "x": 1}]}`, errs.Validation, `unknown field "x"`},
		{"batch_update_step_states", `{}`, errs.Validation, "updates is required"},
		{"batch_update_step_states", `{"updates": "all"}`, errs.Validation, "field updates"},
		{"create_task", `{"name": "x", "steps": [{"name": "a", "depends_on": ["a"]}]}`, errs.Validation, "depends on itself"},
		{"create_task", `{"name": "x", "steps": [{"name": "a", "depends_on": ["b"]}, {"name": "b", "depends_on": ["a"]}]}`, errs.Cycle, "dependency cycle"},
		{"create_task", `{"name": "x", "steps": [{"name": "a"}], "context": {"s": "\u0000"}}`, "", ""},
		{"get_task_execution_context", "{\"task_id\": 1, \"s\": \"\xff\"}", errs.Validation, "UTF-8"},
		{"get_task_execution_context", strings.Repeat("[", 10_000), errs.Validation, "max_json_depth"},
		{"get_task_execution_context", `{"task_id": 1, "pad": "` + strings.Repeat("x", 2<<20) + `"}`, errs.Validation, "max_payload_bytes"},
		{"transition_task", fmt.Sprintf(`{"task_id": %d, "state": "complete"}`, ct.TaskID), errs.StateTransition, "illegal task transition"},
		{"no_such_function", `{}`, errs.Validation, "unknown operation"},
	}
	for _, tc := range cases {
		if tc.kind == "" {
			continue // see the NUL case below
		}
		e := callErr(t, c, tc.method, tc.payload)
		assert.Equal(t, tc.kind, e.Type, "%s %.60s: %s", tc.method, tc.payload, e.Message)
		assert.Contains(t, e.Message, tc.contains, "%s %.60s", tc.method, tc.payload)
	}
	assert.Equal(t, before, snapshot(), "no bad call wrote anything")

	// PostgreSQL cannot store U+0000 in jsonb: refused before any SQL, naming where it is.
	e := callErr(t, c, "create_task", `{"name": "nul", "steps": [{"name": "a"}], "context": {"s": "\u0000"}}`)
	assert.Equal(t, errs.Validation, e.Type, e.Message)
	assert.Equal(t, "context.s", e.Details["field"])
	assert.Equal(t, before, snapshot())
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := Open(ctx, []byte(`{"database_url": "postgres://x@127.0.0.1:1/x", "max_connectons": 3}`))
	assert.Equal(t, errs.Configuration, errs.KindOf(err))
	assert.Contains(t, err.Error(), `unknown key "max_connectons"`)
	assert.Contains(t, err.Error(), `did you mean`)

	_, err = Open(ctx, []byte(`{"database_url": "postgres://x@127.0.0.1:1/x", "min_connections": 5, "max_connections": 2}`))
	assert.Equal(t, errs.Configuration, errs.KindOf(err))
	assert.Equal(t, "database.pool.min_connections", errs.DetailsOf(err)["key"])

	_, err = Open(ctx, []byte(`{"database_url": "postgres://tasker:s3cr3t@127.0.0.1:1/x", "acquire_timeout_ms": 500}`))
	require.Error(t, err)
	assert.Equal(t, errs.Database, errs.KindOf(err))
	assert.NotContains(t, err.Error(), "s3cr3t", "the password never appears in an error")

	_, err = Open(ctx, []byte(`{"database_url": "postgres://x@127.0.0.1:1/x", "retry_policy": {"strategy": "exponential", "multiplier": 2, "jitter": 3}}`))
	assert.Equal(t, errs.Configuration, errs.KindOf(err))
	_, err = Open(ctx, []byte(`not json`))
	assert.Equal(t, errs.Configuration, errs.KindOf(err))
}

func init() {
	operations["panic_for_test"] = func(context.Context, *Client, []byte) (any, error) { panic("boom") }
}

func TestClosedClientAndPanicsAreTyped(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	e := callErr(t, c, "panic_for_test", `{}`)
	assert.Equal(t, errs.Internal, e.Type)
	assert.Contains(t, e.Message, "boom")

	c.Close()
	c.Close() // idempotent
	e = callErr(t, c, "get_system_health", `{}`)
	assert.Equal(t, errs.Database, e.Type)
}

func TestVersion(t *testing.T) {
	t.Parallel()
	v := Version()
	assert.Equal(t, LibraryVersion, v.LibraryVersion)
	assert.Greater(t, v.SchemaVersion, 0)
}

func TestOrchestrationOperations(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "lease_seconds": 20, "claim_batch_size": 5`)
	var ct created
	callOK(t, c, "create_task", diamondSpec, &ct)

	var next struct {
		Tasks []map[string]any `json:"tasks"`
	}
	callOK(t, c, "next_ready_tasks", `{}`, &next)
	require.Len(t, next.Tasks, 1)

	var claimed struct {
		Steps []struct {
			StepID   int64          `json:"step_id"`
			StepName string         `json:"step_name"`
			Context  map[string]any `json:"task_context"`
		} `json:"steps"`
	}
	callOK(t, c, "claim_steps", `{"worker_id": "ruby-1"}`, &claimed)
	require.Len(t, claimed.Steps, 1)
	assert.Equal(t, "a", claimed.Steps[0].StepName)
	assert.Equal(t, float64(1), claimed.Steps[0].Context["n"])

	var hb struct {
		Extended []int64 `json:"extended"`
	}
	callOK(t, c, "heartbeat", fmt.Sprintf(`{"worker_id": "ruby-1", "step_ids": [%d]}`, claimed.Steps[0].StepID), &hb)
	assert.Equal(t, []int64{claimed.Steps[0].StepID}, hb.Extended)

	var rep struct {
		Outcomes []batchOutcome `json:"outcomes"`
		Tasks    []map[string]any
	}
	callOK(t, c, "report_step_results", fmt.Sprintf(`{"reports": [{"step_id": %d, "worker_id": "ruby-1", "success": false,
		"error": {"message": "flaky", "retry_after_seconds": 0}}]}`, claimed.Steps[0].StepID), &rep)
	require.Len(t, rep.Outcomes, 1)
	assert.Equal(t, "applied", rep.Outcomes[0].Status)
	assert.Equal(t, "has_ready_steps", rep.Tasks[0]["execution_status"], "retry_after 0: ready again at once")

	callOK(t, c, "claim_steps", fmt.Sprintf(`{"worker_id": "ruby-2", "task_id": %d}`, ct.TaskID), &claimed)
	require.Len(t, claimed.Steps, 1)
	callOK(t, c, "report_step_results", fmt.Sprintf(`{"reports": [{"step_id": %d, "worker_id": "ruby-1", "success": true}]}`,
		claimed.Steps[0].StepID), &rep)
	assert.Equal(t, "rejected", rep.Outcomes[0].Status, "only the holder reports")

	var rec struct {
		Outcomes []batchOutcome `json:"outcomes"`
	}
	callOK(t, c, "recover_expired_steps", `{"worker_id": "ruby-2"}`, &rec)
	assert.Empty(t, rec.Outcomes)
	e := callErr(t, c, "claim_steps", `{"worker_id": ""}`)
	assert.Equal(t, errs.Validation, e.Type)
}

func TestEffectiveConfigWithSources(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "execution": {"lease_seconds": 12}, "environment": "test"`)
	var eff struct {
		Environment string `json:"environment"`
		Values      []struct {
			Key    string `json:"key"`
			Value  any    `json:"value"`
			Source string `json:"source"`
		} `json:"values"`
	}
	callOK(t, c, "get_effective_config", `{}`, &eff)
	assert.Equal(t, "test", eff.Environment)
	got := map[string]string{}
	for _, v := range eff.Values {
		got[v.Key] = fmt.Sprint(v.Value) + "@" + v.Source
	}
	assert.Equal(t, "12@explicit", got["execution.lease_seconds"])
	assert.Equal(t, "true@explicit", got["database.migrate"])
	assert.Equal(t, "10@default", got["database.pool.max_connections"])
	assert.Equal(t, 12.0, c.leaseSeconds)
}

func TestTemplatesRegisterAndCreate(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "environment": "test"`)
	var reg struct {
		Templates []RegisteredTemplate `json:"templates"`
	}
	callOK(t, c, "register_task_templates", `{"paths": ["../template/testdata/good/order_fulfillment.yaml",
		"../template/testdata/good/data_pipeline.yaml"]}`, &reg)
	require.Len(t, reg.Templates, 2)
	assert.Equal(t, "ecommerce/order_fulfillment@1.2.0", reg.Templates[0].Key)

	// A context that fails the template's JSON Schema is refused with the failing
	// paths, and nothing is written.
	e := callErr(t, c, "create_task_from_template", `{"name": "order_fulfillment", "namespace": "ecommerce",
		"version": "1.2.0", "context": {"order_id": 7, "customer": {}, "items": "none"}}`)
	assert.Equal(t, errs.Validation, e.Type)
	assert.Contains(t, e.Message, "/customer/email")
	assert.Contains(t, e.Message, "/items")
	var tasks int
	require.NoError(t, c.Store().Pool().QueryRow(context.Background(), `SELECT count(*) FROM tasker_tasks`).Scan(&tasks))
	assert.Zero(t, tasks)

	var ct created
	callOK(t, c, "create_task_from_template", `{"name": "order_fulfillment", "namespace": "ecommerce", "version": "1.2.0",
		"context": {"order_id": 7, "customer": {"email": "zoe@example.com"}, "items": [{"sku": "A-1", "quantity": 2}]}}`, &ct)
	assert.Len(t, ct.StepIDs, 5)

	var claimed struct {
		Steps []struct {
			StepName      string         `json:"step_name"`
			HandlerClass  string         `json:"handler_class"`
			HandlerConfig map[string]any `json:"handler_config"`
			RetryLimit    int            `json:"retry_limit"`
		} `json:"steps"`
	}
	callOK(t, c, "claim_steps", fmt.Sprintf(`{"worker_id": "w", "task_id": %d}`, ct.TaskID), &claimed)
	require.Len(t, claimed.Steps, 1)
	assert.Equal(t, "validate_order", claimed.Steps[0].StepName)
	assert.Equal(t, "Ecommerce::StepHandlers::ValidateOrderHandler", claimed.Steps[0].HandlerClass)
	assert.Equal(t, true, claimed.Steps[0].HandlerConfig["strict"])

	var tpl map[string]any
	callOK(t, c, "get_task_template", `{"name": "order_fulfillment", "namespace": "ecommerce", "version": "1.2.0"}`, &tpl)
	assert.Equal(t, "engine", tpl["format"])

	e = callErr(t, c, "create_task_from_template", `{"name": "nope"}`)
	assert.Equal(t, errs.NotFound, e.Type)
	e = callErr(t, c, "register_task_templates", `{"paths": ["../template/testdata/broken/cycle.yaml"]}`)
	assert.Equal(t, errs.Cycle, e.Type)
	assert.Contains(t, e.Message, "cycle.yaml")
	e = callErr(t, c, "register_task_templates", `{"yaml": "name: x\nsteps:\n  - name: a\n    handler: {callable: A}\n    dependencies: [b]\n", "file": "inline.yaml"}`)
	assert.Contains(t, e.Message, "inline.yaml")
	assert.Contains(t, e.Message, `"b"`)
}

func TestTemplatePathsLoadAtOpen(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "templates": {"paths": ["../template/testdata/good"]}`)
	var tpl map[string]any
	callOK(t, c, "get_task_template", `{"name": "order_fulfillment", "namespace": "ecommerce", "version": "1.2.0"}`, &tpl)
	assert.Equal(t, "order_fulfillment", tpl["name"])

	_, schema := testdb.SchemaWithName(t, testdb.Options{SkipMigrate: true})
	_, err := Open(context.Background(), []byte(fmt.Sprintf(`{"database_url": %q, "schema": %q, "migrate": true,
		"templates": {"paths": ["../template/testdata/broken/cycle.yaml"]}}`, testdb.URL(t), schema)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cycle.yaml", "a broken template stops the client from starting")
}

func TestCallerEnvironmentLayer(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig([]byte(`{"database_url": "postgres://x@h/db", "env": {"TASKER_EXECUTION_LEASE_SECONDS": "12",
		"TASKER_RETRY_JITTER": "0.5"}, "retry": {"jitter": 0.25}}`))
	require.NoError(t, err)
	assert.Equal(t, 12.0, cfg.Float("execution.lease_seconds"), "the caller's env is read")
	assert.Equal(t, 0.25, cfg.Float("retry.jitter"), "explicit wins over env")
	_, err = ParseConfig([]byte(`{"env": {"X": 1}}`))
	assert.Equal(t, errs.Configuration, errs.KindOf(err))
}

// The gem sends config/tasker.yml's text (ERB evaluated) and the Rails app's
// ActiveRecord database as defaults below everything else.
// run_migrations {"dry_run": true} reports the schema's migrations and changes
// nothing (rake tasker_core:status); run_migrations creates a missing schema.
func TestRunMigrationsDryRun(t *testing.T) {
	t.Parallel()
	pool, schema := testdb.SchemaWithName(t, testdb.Options{SkipMigrate: true})
	// run_migrations creates a missing schema, as Open does with migrate: true.
	_, err := pool.Exec(context.Background(), `DROP SCHEMA `+schema)
	require.NoError(t, err)
	c, err := Open(context.Background(), []byte(fmt.Sprintf(`{"database_url": %q, "schema": %q}`, testdb.URL(t), schema)))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	var st map[string]any
	callOK(t, c, "run_migrations", `{"dry_run": true}`, &st)
	assert.Equal(t, float64(0), st["schema_version"])
	assert.Len(t, st["pending"], len(migrations.All()))
	assert.Equal(t, false, st["functions_current"])
	callOK(t, c, "run_migrations", `{"dry_run": true}`, &st)
	assert.Len(t, st["pending"], len(migrations.All()), "a dry run applies nothing")
	var mig map[string]any
	callOK(t, c, "run_migrations", `{}`, &mig)
	assert.Len(t, mig["applied"], len(migrations.All()))
	st = nil
	callOK(t, c, "run_migrations", `{"dry_run": true}`, &st)
	assert.Equal(t, []any{}, st["pending"])
	assert.Equal(t, float64(migrations.LatestVersion()), st["schema_version"])
	assert.Equal(t, true, st["functions_current"])
	e := callErr(t, c, "run_migrations", `{"dry_run": "yes"}`)
	assert.Equal(t, errs.Validation, e.Type)
}

func TestConfigYAMLAndDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig([]byte(`{"env": {}, "environment": "test", "config_file": "config/tasker.yml",
		"config_yaml": "test:\n  database:\n    schema: app_tasker\n",
		"defaults": {"database": {"url": "postgres://ar@h/app", "schema": "tasker"}}, "defaults_origin": "ActiveRecord"}`))
	require.NoError(t, err)
	assert.Equal(t, "app_tasker", cfg.String("database.schema"), "the text is read as the file")
	assert.Equal(t, "postgres://ar@h/app", cfg.String("database.url"), "defaults fill what nothing else sets")
	for _, v := range cfg.Effective() {
		if v.Key == "database.url" {
			assert.Equal(t, "ActiveRecord", v.Origin)
		}
	}
	cfg, err = ParseConfig([]byte(`{"env": {"DATABASE_URL": "postgres://env@h/app"}, "defaults": {"database.url": "postgres://ar@h/app"}}`))
	require.NoError(t, err)
	assert.Equal(t, "postgres://env@h/app", cfg.String("database.url"))
	for _, bad := range []string{`{"defaults": "x"}`, `{"config_yaml": 1}`, `{"defaults_origin": []}`} {
		_, err = ParseConfig([]byte(bad))
		assert.Equal(t, errs.Configuration, errs.KindOf(err), bad)
	}
}

func TestEventsThroughTheAPI(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	var ct created
	callOK(t, c, "create_task", diamondSpec, &ct)
	var batch struct {
		Events []struct {
			Name    string         `json:"name"`
			TaskSeq int64          `json:"task_seq"`
			Payload map[string]any `json:"payload"`
			Durable bool           `json:"durable"`
		} `json:"events"`
		Horizon string `json:"horizon"`
		Drained bool   `json:"drained"`
	}
	var raw json.RawMessage
	callOK(t, c, "fetch_events", `{"subscriber": "api-test"}`, &raw)
	require.NoError(t, json.Unmarshal(raw, &batch))
	require.Len(t, batch.Events, 6, "the task's, its four steps', workflow.orchestration_requested")
	assert.Equal(t, "task.initialize_requested", batch.Events[0].Name)
	assert.Equal(t, "workflow.orchestration_requested", batch.Events[5].Name)
	for _, e := range batch.Events {
		assert.True(t, e.Durable, "outbox events are durable")
	}
	assert.Equal(t, "diamond", batch.Events[0].Payload["task_name"])
	assert.True(t, batch.Drained)

	var ack map[string]any
	var full map[string]any
	require.NoError(t, json.Unmarshal(raw, &full))
	full["subscriber"] = "api-test"
	b, _ := json.Marshal(full)
	callOK(t, c, "ack_events", string(b), &ack)
	callOK(t, c, "fetch_events", `{"subscriber": "api-test", "wait_ms": 50}`, &raw)
	require.NoError(t, json.Unmarshal(raw, &batch))
	assert.Empty(t, batch.Events, "acknowledged events are not delivered again")
	e := callErr(t, c, "fetch_events", `{"subscriber": "x", "wait_ms": 999999}`)
	assert.Equal(t, errs.Validation, e.Type)
}

func TestPublishCustomEvents(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	callOK(t, c, "register_task_templates", `{"paths": ["../template/testdata/good/order_fulfillment.yaml"]}`, nil)
	var ct created
	callOK(t, c, "create_task_from_template", `{"name": "order_fulfillment", "namespace": "ecommerce", "version": "1.2.0",
		"context": {"order_id": 7, "customer": {"email": "zoe@example.com"}, "items": [{"sku": "A-1", "quantity": 2}]}}`, &ct)
	var pub map[string]int64
	callOK(t, c, "publish_event", fmt.Sprintf(`{"task_id": %d, "name": "order.fulfilled", "payload": {"carrier": "DHL"}}`, ct.TaskID), &pub)
	assert.Equal(t, int64(8), pub["task_seq"], "after the task's and its five steps' initial events and orchestration_requested")
	var batch struct {
		Events []struct {
			Name    string         `json:"name"`
			Payload map[string]any `json:"payload"`
		} `json:"events"`
	}
	callOK(t, c, "fetch_events", `{"subscriber": "custom"}`, &batch)
	last := batch.Events[len(batch.Events)-1]
	assert.Equal(t, "order.fulfilled", last.Name)
	assert.Equal(t, "DHL", last.Payload["carrier"])
	assert.Equal(t, float64(ct.TaskID), last.Payload["task_id"])

	e := callErr(t, c, "publish_event", fmt.Sprintf(`{"task_id": %d, "name": "task.completed"}`, ct.TaskID))
	assert.Equal(t, errs.Validation, e.Type, "lifecycle events are not published by hand")
	e = callErr(t, c, "publish_event", fmt.Sprintf(`{"task_id": %d, "name": "order.fulfilled", "payload": [1]}`, ct.TaskID))
	assert.Equal(t, errs.Validation, e.Type)
	e = callErr(t, c, "publish_event", `{"task_id": 424242, "name": "order.fulfilled"}`)
	assert.Equal(t, errs.NotFound, e.Type)
}
