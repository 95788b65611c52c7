package sqlfuncs_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/internal/testdb"
	"github.com/taskercore/tasker-core/sqlfuncs"
)

// metricsFixture writes rows for the health and analytics tests with plain SQL, at
// explicit times relative to base (now, to the second), so durations are exact.
type metricsFixture struct {
	t      *testing.T
	ctx    context.Context
	pool   *pgxpool.Pool
	base   time.Time
	system int32 // the dependent system every named step belongs to
}

func newMetricsFixture(t *testing.T) *metricsFixture {
	t.Helper()
	f := &metricsFixture{t: t, ctx: context.Background(), pool: testdb.Schema(t),
		base: time.Now().UTC().Truncate(time.Second)}
	f.system = f.id32(`INSERT INTO tasker_dependent_systems (name) VALUES ('fixture') RETURNING dependent_system_id`)
	return f
}

// ago is the instant d before base.
func (f *metricsFixture) ago(d time.Duration) time.Time { return f.base.Add(-d) }

func (f *metricsFixture) id32(sql string, args ...any) int32 {
	f.t.Helper()
	var id int32
	require.NoError(f.t, f.pool.QueryRow(f.ctx, sql, args...).Scan(&id))
	return id
}

func (f *metricsFixture) id64(sql string, args ...any) int64 {
	f.t.Helper()
	var id int64
	require.NoError(f.t, f.pool.QueryRow(f.ctx, sql, args...).Scan(&id))
	return id
}

func (f *metricsFixture) namespace(name string) int32 {
	return f.id32(`INSERT INTO tasker_task_namespaces (name) VALUES ($1) RETURNING task_namespace_id`, name)
}

func (f *metricsFixture) namedTask(namespace int32, name, version string) int32 {
	return f.id32(`INSERT INTO tasker_named_tasks (task_namespace_id, name, version) VALUES ($1, $2, $3)
		RETURNING named_task_id`, namespace, name, version)
}

func (f *metricsFixture) namedStep(name string) int32 {
	return f.id32(`INSERT INTO tasker_named_steps (dependent_system_id, name) VALUES ($1, $2) RETURNING named_step_id`,
		f.system, name)
}

// fxTaskOpts are the optional columns of a fixture task.
type fxTaskOpts struct {
	initiator, sourceSystem *string
	completedAt             *time.Time
}

// task inserts a task created at the given instant.
func (f *metricsFixture) task(namedTask int32, created time.Time, o fxTaskOpts) int64 {
	return f.id64(`INSERT INTO tasker_tasks (named_task_id, requested_at, created_at, identity_hash, initiator,
		source_system, completed_at) VALUES ($1, $2, $2, gen_random_uuid()::text, $3, $4, $5) RETURNING task_id`,
		namedTask, created, o.initiator, o.sourceSystem, o.completedAt)
}

// fxStepOpts are the retry columns of a fixture step; nil pointers stay NULL.
type fxStepOpts struct {
	attempts, retryLimit, backoffSeconds *int32
	notRetryable                         bool
	lastAttemptedAt                      *time.Time
}

// step inserts a step of taskID created at the given instant.
func (f *metricsFixture) step(taskID int64, namedStep int32, created time.Time, o fxStepOpts) int64 {
	return f.id64(`INSERT INTO tasker_workflow_steps (task_id, named_step_id, created_at, attempts, retry_limit,
		retryable, backoff_request_seconds, last_attempted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		RETURNING workflow_step_id`,
		taskID, namedStep, created, o.attempts, o.retryLimit, !o.notRetryable, o.backoffSeconds, o.lastAttemptedAt)
}

// fxAt is one transition of a fixture history.
type fxAt struct {
	state string
	when  time.Time
}

// taskHistory writes a task's transitions in order; the last one is most_recent.
func (f *metricsFixture) taskHistory(taskID int64, history ...fxAt) {
	f.history(`tasker_task_transitions`, `task_id`, taskID, history)
}

// stepHistory writes a step's transitions in order; the last one is most_recent.
func (f *metricsFixture) stepHistory(stepID int64, history ...fxAt) {
	f.history(`tasker_workflow_step_transitions`, `workflow_step_id`, stepID, history)
}

func (f *metricsFixture) history(table, key string, id int64, history []fxAt) {
	f.t.Helper()
	var from *string
	for i, h := range history {
		_, err := f.pool.Exec(f.ctx, `INSERT INTO `+table+` (`+key+`, from_state, to_state, sort_key, most_recent,
			created_at) VALUES ($1, $2, $3, $4, $5, $6)`, id, from, h.state, i+1, i == len(history)-1, h.when)
		require.NoError(f.t, err)
		state := h.state
		from = &state
	}
}

func fxInt32(v int32) *int32 { return &v }

func TestSystemHealthCountsEmpty(t *testing.T) {
	t.Parallel()
	pool := testdb.Schema(t)
	h, err := sqlfuncs.SystemHealthCounts(context.Background(), pool)
	require.NoError(t, err)
	got := h
	got.ActiveConnections, got.MaxConnections = 0, 0
	assert.Equal(t, sqlfuncs.SystemHealth{}, got, "no tasks, no steps: every count is zero")
	assert.GreaterOrEqual(t, h.ActiveConnections, int64(1), "this test's own connection counts")
	assert.Positive(t, h.MaxConnections)
}

func TestSystemHealthCounts(t *testing.T) {
	t.Parallel()
	f := newMetricsFixture(t)
	ns := f.namespace("ops")
	nt := f.namedTask(ns, "health", "1.0.0")
	stepName := f.namedStep("work")
	old := f.ago(2 * time.Hour)

	// Tasks by current state: 2 pending (one without transitions, one retried
	// error→pending), 1 in_progress, 3 complete, 1 error, 1 cancelled, 1
	// resolved_manually.
	host := f.task(nt, old, fxTaskOpts{})
	f.taskHistory(host, fxAt{"in_progress", f.ago(time.Hour)})
	f.task(nt, old, fxTaskOpts{})
	retried := f.task(nt, old, fxTaskOpts{})
	f.taskHistory(retried, fxAt{"in_progress", f.ago(100 * time.Minute)}, fxAt{"error", f.ago(90 * time.Minute)},
		fxAt{"pending", f.ago(80 * time.Minute)})
	for range 3 {
		id := f.task(nt, old, fxTaskOpts{})
		f.taskHistory(id, fxAt{"in_progress", f.ago(100 * time.Minute)}, fxAt{"complete", f.ago(90 * time.Minute)})
	}
	failed := f.task(nt, old, fxTaskOpts{})
	f.taskHistory(failed, fxAt{"in_progress", f.ago(100 * time.Minute)}, fxAt{"error", f.ago(90 * time.Minute)})
	cancelled := f.task(nt, old, fxTaskOpts{})
	f.taskHistory(cancelled, fxAt{"cancelled", f.ago(90 * time.Minute)})
	resolved := f.task(nt, old, fxTaskOpts{})
	f.taskHistory(resolved, fxAt{"in_progress", f.ago(100 * time.Minute)}, fxAt{"error", f.ago(95 * time.Minute)},
		fxAt{"resolved_manually", f.ago(90 * time.Minute)})

	// Steps by current state: 1 pending, 1 in_progress, 2 complete, 1
	// resolved_manually, 1 cancelled, 7 error.
	step := func(taskID int64, o fxStepOpts, history ...fxAt) {
		id := f.step(taskID, stepName, old, o)
		f.stepHistory(id, history...)
	}
	step(host, fxStepOpts{})
	step(host, fxStepOpts{attempts: fxInt32(1)}, fxAt{"in_progress", f.ago(time.Minute)})
	for range 2 {
		step(host, fxStepOpts{attempts: fxInt32(1)}, fxAt{"in_progress", f.ago(time.Hour)}, fxAt{"complete", f.ago(59 * time.Minute)})
	}
	step(host, fxStepOpts{attempts: fxInt32(1)}, fxAt{"in_progress", f.ago(time.Hour)}, fxAt{"error", f.ago(59 * time.Minute)},
		fxAt{"resolved_manually", f.ago(58 * time.Minute)})
	step(host, fxStepOpts{}, fxAt{"cancelled", f.ago(time.Hour)})
	failedAt := func(d time.Duration) []fxAt {
		return []fxAt{{"in_progress", f.ago(d + time.Second)}, {"error", f.ago(d)}}
	}
	// a: retryable, policy backoff (1 s · 2¹) long over → retryable, not in backoff.
	step(host, fxStepOpts{attempts: fxInt32(1), retryLimit: fxInt32(3)}, failedAt(time.Hour)...)
	// b: retryable, requested backoff of an hour from a minute ago → in backoff.
	step(host, fxStepOpts{attempts: fxInt32(2), retryLimit: fxInt32(3), backoffSeconds: fxInt32(3600),
		lastAttemptedAt: fxTime(f.ago(time.Minute))}, failedAt(time.Minute)...)
	// c: NULL attempts (= 0) and NULL limit (= 3): retryable; requested backoff → in backoff.
	step(host, fxStepOpts{backoffSeconds: fxInt32(600), lastAttemptedAt: fxTime(f.ago(time.Minute))},
		failedAt(time.Minute)...)
	// g: retryable, policy backoff min(1·2⁸, 300) = 256 s from 10 s ago → in backoff.
	step(failed, fxStepOpts{attempts: fxInt32(8), retryLimit: fxInt32(10)}, failedAt(10*time.Second)...)
	// d: attempts = limit → exhausted.
	step(failed, fxStepOpts{attempts: fxInt32(3), retryLimit: fxInt32(3)}, failedAt(time.Hour)...)
	// e: NULL limit (= 3), 5 attempts → exhausted.
	step(failed, fxStepOpts{attempts: fxInt32(5)}, failedAt(time.Hour)...)
	// f: not retryable, attempts left → non-retryable only (and its requested
	// backoff is still running, which must not make it count as in backoff).
	step(failed, fxStepOpts{attempts: fxInt32(1), retryLimit: fxInt32(3), notRetryable: true, backoffSeconds: fxInt32(3600),
		lastAttemptedAt: fxTime(f.ago(time.Minute))}, failedAt(time.Minute)...)

	h, err := sqlfuncs.SystemHealthCounts(context.Background(), f.pool)
	require.NoError(t, err)

	var maxConns int64
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT current_setting('max_connections')::bigint`).Scan(&maxConns))
	assert.Equal(t, maxConns, h.MaxConnections)
	assert.GreaterOrEqual(t, h.ActiveConnections, int64(1))
	assert.LessOrEqual(t, h.ActiveConnections, maxConns)

	h.ActiveConnections, h.MaxConnections = 0, 0
	assert.Equal(t, sqlfuncs.SystemHealth{
		TotalTasks: 9, PendingTasks: 2, InProgressTasks: 1, CompleteTasks: 3, ErrorTasks: 1, CancelledTasks: 1,
		ResolvedManuallyTasks: 1,
		TotalSteps:            13, PendingSteps: 1, InProgressSteps: 1, CompleteSteps: 2, ErrorSteps: 7, CancelledSteps: 1,
		ResolvedManuallySteps: 1,
		RetryableErrorSteps:   4, ExhaustedRetrySteps: 2, NonRetryableErrorSteps: 1, StepsInBackoff: 3,
	}, h)
}

func fxTime(t time.Time) *time.Time { return &t }
