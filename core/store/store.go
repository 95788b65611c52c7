package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/dag"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/readiness"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/internal/pgerr"
	"github.com/taskercore/tasker-core/sqlfuncs"
)

// Store reads and writes workflows in one PostgreSQL schema.
type Store struct {
	pool              *pgxpool.Pool
	policy            backoff.Policy
	rules             state.Rules
	defaultRetryLimit int32
	eventsEnabled     bool
	live              atomic.Pointer[LiveSink]

	deadlocks, serializationFailures atomic.Int64

	// reach is this process's view of the database's reachability: since when
	// it has been reaching it without a lost connection (see RecoverExpiredLeases).
	reachMu     sync.Mutex
	reachSince  time.Time
	reachLost   bool
	reachLostAt time.Time // when the current outage began (this process's view)

	hooks Hooks
	wait  EventWait

	// The batches whose events are being gathered into one statement
	// (roundEvents), while applyWithFacts queues them.
	roundEventsMu sync.Mutex
	roundEvents   map[*pgx.Batch]*roundEvents
}

// Hooks are the store's calls out to the system events emitter (package
// sysevents): each only records and returns, on the caller's goroutine. Nil
// fields are skipped.
type Hooks struct {
	// ConnectionChanged runs at the first lost connection of an outage (lost,
	// with the error) and at the first success after it (with the outage's start).
	ConnectionChanged func(lost bool, outageStart time.Time, cause error)
	// TxAborted runs when PostgreSQL aborted a claim, report or recovery
	// transaction for a deadlock or a serialization failure: retried says whether
	// the store tries it again (false: it gave up after its last attempt).
	TxAborted func(sqlstate string, attempt int, retried bool)
}

// SetHooks installs the system event hooks. Call it before the store is shared.
func (s *Store) SetHooks(h Hooks) { s.hooks = h }

// New returns a Store over pool. policy is the retry policy this process uses;
// SyncRetryPolicy writes it where the SQL readiness functions read it.
func New(pool *pgxpool.Pool, policy backoff.Policy) *Store {
	return &Store{pool: pool, policy: policy, defaultRetryLimit: DefaultRetryLimit, eventsEnabled: true,
		reachSince: time.Now()}
}

// observe records the outcome of a database call for the reachability view: a
// lost connection starts an outage, the first success after it ends the outage.
func (s *Store) observe(err error) {
	lost := pgerr.ConnectionLost(err)
	if err != nil && !lost {
		return // the database answered
	}
	s.reachMu.Lock()
	changed, start := false, s.reachLostAt
	switch {
	case lost && !s.reachLost:
		s.reachLost, s.reachLostAt, changed = true, time.Now(), true
		start = s.reachLostAt
	case lost:
	case s.reachLost:
		s.reachLost, s.reachSince, changed = false, time.Now(), true
	}
	s.reachMu.Unlock()
	if changed && s.hooks.ConnectionChanged != nil {
		s.hooks.ConnectionChanged(lost, start, err)
	}
}

// reachableFor is how long this process has been reaching the database without a
// lost connection (0 during an outage).
func (s *Store) reachableFor() time.Duration {
	s.reachMu.Lock()
	defer s.reachMu.Unlock()
	if s.reachLost {
		return 0
	}
	return time.Since(s.reachSince)
}

// SetRules tightens the state machines with configured prohibitions
// (state_transitions.forbid). Call it before the store is shared.
func (s *Store) SetRules(r state.Rules) { s.rules = r }

// SetDefaultRetryLimit sets the retry limit of steps whose spec gives none
// (retry.default_retry_limit). Call it before the store is shared.
func (s *Store) SetDefaultRetryLimit(n int32) { s.defaultRetryLimit = n }

// SetEventsEnabled turns the event outbox on or off (events.enabled). Off, state
// changes write no events and wake no listener. Call it before the store is shared.
func (s *Store) SetEventsEnabled(on bool) { s.eventsEnabled = on }

// Pool returns the underlying pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Policy returns the retry policy the store was made with.
func (s *Store) Policy() backoff.Policy { return s.policy }

// SyncRetryPolicy validates the store's retry policy and writes it to the
// tasker_retry_policies row that SQL readiness reads, so Go and SQL apply one rule.
func (s *Store) SyncRetryPolicy(ctx context.Context) error {
	if err := s.policy.Validate(); err != nil {
		return errs.Wrap(errs.Configuration, err, "retry policy")
	}
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO tasker_retry_policies (name, strategy, base_seconds, multiplier, cap_seconds, jitter, updated_at)
		VALUES ('default', $1, $2, $3, $4, $5, now())
		ON CONFLICT (name) DO UPDATE SET strategy = EXCLUDED.strategy, base_seconds = EXCLUDED.base_seconds,
			multiplier = EXCLUDED.multiplier, cap_seconds = EXCLUDED.cap_seconds, jitter = EXCLUDED.jitter,
			updated_at = now()
		WHERE (tasker_retry_policies.strategy, tasker_retry_policies.base_seconds, tasker_retry_policies.multiplier,
		       tasker_retry_policies.cap_seconds, tasker_retry_policies.jitter)
		   IS DISTINCT FROM (EXCLUDED.strategy, EXCLUDED.base_seconds, EXCLUDED.multiplier, EXCLUDED.cap_seconds, EXCLUDED.jitter)`,
		string(s.policy.Strategy), s.policy.BaseSeconds, s.policy.Multiplier, s.policy.CapSeconds, s.policy.Jitter)
	if err != nil || tag.RowsAffected() == 0 {
		return dbErr(err, "sync retry policy")
	}
	// A changed policy moves the retry times of the failed steps that wait for one.
	return dbErr(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tasks, err := collectIDs(tx.Query(ctx, rescheduleFailedSQL))
		if err != nil {
			return err
		}
		return scheduleTasks(ctx, tx, tasks)
	}), "sync retry policy: reschedule")
}

// StoredRetryPolicy reads the policy row SQL readiness uses.
func (s *Store) StoredRetryPolicy(ctx context.Context) (backoff.Policy, error) {
	var p backoff.Policy
	var strategy string
	err := s.pool.QueryRow(ctx, `SELECT strategy, base_seconds, multiplier, cap_seconds, jitter
		FROM tasker_retry_policies WHERE name = 'default'`).Scan(&strategy, &p.BaseSeconds, &p.Multiplier, &p.CapSeconds, &p.Jitter)
	p.Strategy = backoff.Strategy(strategy)
	return p, dbErr(err, "read retry policy")
}

// StepReadiness returns the readiness of a task's steps (all when stepIDs is nil)
// at asOf (now when nil), with the reason each step is or is not ready.
func (s *Store) StepReadiness(ctx context.Context, taskID int64, stepIDs []int64, asOf *time.Time) ([]sqlfuncs.StepReadiness, error) {
	rows, err := sqlfuncs.StepReadinessStatus(ctx, s.pool, taskID, stepIDs, asOf)
	if err == nil && len(rows) == 0 {
		err = s.requireTask(ctx, taskID) // only an empty answer needs telling apart from an unknown task
	}
	return rows, err
}

// ReadySteps returns the steps of a task that can run now (asOf nil) or at asOf,
// filtered in SQL.
func (s *Store) ReadySteps(ctx context.Context, taskID int64, asOf *time.Time) ([]sqlfuncs.ViableStep, error) {
	rows, err := sqlfuncs.ViableSteps(ctx, s.pool, taskID, asOf)
	if err == nil && len(rows) == 0 {
		err = s.requireTask(ctx, taskID)
	}
	return rows, err
}

// ExecutionContext returns the task's execution context (REFERENCE §4).
func (s *Store) ExecutionContext(ctx context.Context, taskID int64, asOf *time.Time) (sqlfuncs.TaskExecutionContext, error) {
	return sqlfuncs.GetTaskExecutionContext(ctx, s.pool, taskID, asOf)
}

// DependencyLevels returns calculate_dependency_levels for the task.
func (s *Store) DependencyLevels(ctx context.Context, taskID int64) (map[int64]int, error) {
	if err := s.requireTask(ctx, taskID); err != nil {
		return nil, err
	}
	return sqlfuncs.DependencyLevels(ctx, s.pool, taskID)
}

// TaskGraph loads a task's steps and edges as a dag.Graph (node names are step
// names), in one query that answers one row of arrays.
//
// Every table is read through an index, by the same plan whatever the task's
// size and whether the plan is custom or generic: the task's steps by task_id,
// then its edges and its steps' names by index lookups of those arrays (= ANY).
// A join to tasker_named_steps was planned as a hash over every named step once
// a 10,000-step task's names shared the table, so a 100-step task paid for
// reading them all; a subquery per step avoided that but cost more per step
// than the array lookups, and decoding a row per step in Go more than a few
// arrays.
func (s *Store) TaskGraph(ctx context.Context, taskID int64) (*dag.Graph, error) {
	var ids, from, to []int64
	var named, nameIDs []int32
	var names []string
	err := s.pool.QueryRow(ctx, `
		SELECT st.ids, st.named, ed.froms, ed.tos, nm.ids, nm.names
		FROM (SELECT COALESCE(array_agg(ws.workflow_step_id), '{}') AS ids,
		             COALESCE(array_agg(ws.named_step_id), '{}') AS named
		      FROM tasker_workflow_steps ws WHERE ws.task_id = $1) st,
		LATERAL (SELECT COALESCE(array_agg(e.from_step_id), '{}') AS froms,
		                COALESCE(array_agg(e.to_step_id), '{}') AS tos
		         FROM tasker_workflow_step_edges e WHERE e.to_step_id = ANY (st.ids)) ed,
		LATERAL (SELECT COALESCE(array_agg(ns.named_step_id), '{}') AS ids,
		                COALESCE(array_agg(ns.name), '{}') AS names
		         FROM tasker_named_steps ns WHERE ns.named_step_id = ANY (st.named)) nm`,
		taskID).Scan(&ids, &named, &from, &to, &nameIDs, &names)
	if err != nil {
		return nil, dbErr(err, "load steps")
	}
	if len(ids) == 0 {
		if err := s.requireTask(ctx, taskID); err != nil {
			return nil, err
		}
	}
	nameOf := make(map[int32]string, len(nameIDs))
	for k, id := range nameIDs {
		nameOf[id] = names[k]
	}
	g := dag.NewSized(len(ids))
	for k, id := range ids {
		if err := g.AddNode(id, nameOf[named[k]]); err != nil {
			return nil, mustNotHappen("step %d twice: %v", id, err) // a task's steps are rows of one table
		}
	}
	for k := range from {
		if err := g.AddEdge(from[k], to[k]); err != nil {
			return nil, errs.Wrap(errs.Validation, err, "edge %d->%d", from[k], to[k])
		}
	}
	return g, nil
}

// AnalyzeDependencies loads the task's graph and analyses it in Go.
func (s *Store) AnalyzeDependencies(ctx context.Context, taskID int64) (dag.Analysis, error) {
	g, err := s.TaskGraph(ctx, taskID)
	if err != nil {
		return dag.Analysis{}, err
	}
	return g.Analyze(), nil
}

func (s *Store) requireTask(ctx context.Context, taskID int64) error {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tasker_tasks WHERE task_id = $1)`, taskID).Scan(&ok); err != nil {
		return dbErr(err, "find task")
	}
	if !ok {
		return errs.New(errs.NotFound, map[string]any{"task_id": taskID}, "task %d not found", taskID)
	}
	return nil
}

// dbErr types a database error; typed errors and nil pass through unchanged.
func dbErr(err error, what string) error { return pgerr.Wrap(err, what) }

func isUniqueViolation(err error) bool { return pgerr.Code(err) == pgerr.UniqueViolation }

func mustNotHappen(format string, args ...any) error {
	return errs.New(errs.Internal, nil, "%s", fmt.Sprintf(format, args...))
}

// StepSnapshots loads the raw facts the readiness rule reads for every step of a
// task, for evaluation in Go (package readiness).
func (s *Store) StepSnapshots(ctx context.Context, taskID int64) ([]readiness.Step, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT ws.workflow_step_id, ns.name, COALESCE(cur.to_state, 'pending'),
		       ARRAY(SELECT e.from_step_id FROM tasker_workflow_step_edges e WHERE e.to_step_id = ws.workflow_step_id ORDER BY 1),
		       ws.attempts, ws.retry_limit, ws.retryable, ws.in_process, ws.processed,
		       ws.backoff_request_seconds, ws.last_attempted_at,
		       (SELECT t.created_at FROM tasker_workflow_step_transitions t
		        WHERE t.workflow_step_id = ws.workflow_step_id AND t.to_state = 'error' ORDER BY t.sort_key DESC LIMIT 1),
		       COALESCE((SELECT tt.to_state FROM tasker_task_transitions tt WHERE tt.task_id = ws.task_id AND tt.most_recent), 'pending')
		FROM tasker_workflow_steps ws
		JOIN tasker_named_steps ns ON ns.named_step_id = ws.named_step_id
		LEFT JOIN tasker_workflow_step_transitions cur ON cur.workflow_step_id = ws.workflow_step_id AND cur.most_recent
		WHERE ws.task_id = $1 ORDER BY ws.workflow_step_id`, taskID)
	if err != nil {
		return nil, dbErr(err, "step snapshots")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (readiness.Step, error) {
		var st readiness.Step
		var cur, task string
		err := r.Scan(&st.ID, &st.Name, &cur, &st.Parents, &st.Attempts, &st.RetryLimit, &st.Retryable,
			&st.InProcess, &st.Processed, &st.BackoffRequestSeconds, &st.LastAttemptedAt, &st.LastFailureAt, &task)
		st.State, st.TaskState = state.State(cur), state.State(task)
		return st, err
	})
	return out, dbErr(err, "step snapshots")
}
