package store

import (
	"context"
	"errors"

	"github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
)

// Primitives for operator actions (package core/operator), which compose them
// into transactions of their own. Everything here runs inside the caller's
// transaction; the operator package holds the task's row lock, then its steps'
// rows in id order (the one lock order of every writer) before it calls them.

type operatorKey struct{}

// WithOperatorAction returns ctx marking the transitions written under it as an
// operator action's: each carries meta (actor, reason, action id, operation) in
// its metadata, over whatever its writer put there, and the state machines'
// operator-only transitions (state.Machine.CheckOperator) are allowed.
func WithOperatorAction(ctx context.Context, meta map[string]any) context.Context {
	return context.WithValue(ctx, operatorKey{}, meta)
}

func operatorMeta(ctx context.Context) map[string]any {
	m, _ := ctx.Value(operatorKey{}).(map[string]any)
	return m
}

// rulesFor returns the state rules a write under ctx is checked with.
func (s *Store) rulesFor(ctx context.Context) state.Rules {
	if operatorMeta(ctx) != nil {
		return s.rules.ForOperator()
	}
	return s.rules
}

// withOperatorMeta returns metadata with the operator action's keys of ctx
// merged in (a copy; metadata itself is not changed).
func withOperatorMeta(ctx context.Context, metadata map[string]any) map[string]any {
	op := operatorMeta(ctx)
	if op == nil {
		return metadata
	}
	out := make(map[string]any, len(metadata)+len(op))
	for k, v := range metadata {
		out[k] = v
	}
	for k, v := range op {
		out[k] = v
	}
	return out
}

// errDryRun rolls back a dry run's transaction.
var errDryRun = errors.New("dry run")

// OperatorTx runs fn in a transaction (retried from the start on a deadlock or
// serialization failure) and publishes its events live after the commit. With
// dryRun, the transaction is rolled back after fn returns, so everything fn wrote
// (and read back) is forgotten: no row, no event, no notification survives.
func (s *Store) OperatorTx(ctx context.Context, dryRun bool, fn func(ctx context.Context, tx pgx.Tx) error) error {
	ctx, col := s.collect(ctx)
	err := s.retryTx(ctx, func(tx pgx.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		col.rollback(0)
		return nil
	}
	if err == nil {
		s.published(col)
	}
	return err
}

// WithoutLive returns a store over the same pool and settings that publishes
// nothing live (a dry run's before_transition events must not reach subscribers).
func (s *Store) WithoutLive() *Store {
	return &Store{pool: s.pool, policy: s.policy, rules: s.rules, defaultRetryLimit: s.defaultRetryLimit,
		eventsEnabled: s.eventsEnabled}
}

// ApplyStepTransitionsTx writes step transitions inside tx as
// BatchTransitionSteps plans them (in order, rounds per step), all or nothing:
// the first refused item's error is returned (the caller rolls back), a lost
// compare-and-swap is a state_transition_error with details.conflict. Each
// request must change its step's state. The steps' task schedules are refreshed.
func (s *Store) ApplyStepTransitionsTx(ctx context.Context, tx pgx.Tx, reqs []StepTransition) ([]BatchOutcome, error) {
	if len(reqs) == 0 {
		return []BatchOutcome{}, nil
	}
	out, err := s.applyStepTransitions(ctx, tx, reqs)
	if errors.Is(err, errConcurrentChange) {
		return nil, conflictOutcome(reqs[0]).Err
	}
	if err != nil {
		return nil, err
	}
	for i, o := range out {
		switch o.Status {
		case OutcomeRejected:
			return nil, o.Err
		case OutcomeDuplicate:
			return nil, mustNotHappen("step %d is already %s (item %d)", o.StepID, o.To, i)
		}
	}
	return out, refreshTasksOf(ctx, tx, out)
}

// RefreshScheduleTx recomputes the schedule of every step of the tasks (an
// operator may have changed step columns directly) and the tasks' ready_at
// (when each next has work).
func (s *Store) RefreshScheduleTx(ctx context.Context, tx pgx.Tx, taskIDs []int64) ([]TaskStatus, error) {
	if err := rescheduleTasks(ctx, tx, taskIDs); err != nil {
		return nil, err
	}
	return taskStatuses(ctx, tx, taskIDs)
}

// WriteTaskEventTx appends one durable event to the task's outbox sequence
// (nothing when events.enabled is false). The caller holds the task's row.
// payload gets task_id; stepID, when non-nil, is the event's step.
func (s *Store) WriteTaskEventTx(ctx context.Context, tx pgx.Tx, taskID int64, stepID *int64, name string, payload map[string]any) error {
	if !s.eventsEnabled {
		return nil
	}
	p := map[string]any{"task_id": taskID}
	for k, v := range payload {
		p[k] = v
	}
	b, err := json.Marshal(p)
	if err != nil {
		return errs.Wrap(errs.Internal, err, "event payload")
	}
	err = execEvents(ctx, tx, `
		WITH bumped AS (
			UPDATE tasker_tasks SET event_seq = event_seq + 1 WHERE task_id = $1 RETURNING event_seq, correlation_id
		), written AS (
			INSERT INTO tasker_events (task_id, task_seq, step_id, name, correlation_id, payload)
			SELECT $1, b.event_seq, $2, $3, b.correlation_id, $4::jsonb FROM bumped b
			`+eventColumns+`
		)
		`+eventTail(collectorFrom(ctx) != nil), taskID, stepID, name, string(b))
	return dbErr(err, "write event")
}
