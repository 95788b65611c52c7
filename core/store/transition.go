package store

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"time"

	"github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/events"
	"github.com/taskercore/tasker-core/core/state"
)

// StepTransition asks to move one workflow step to a new state.
type StepTransition struct {
	StepID int64       `json:"step_id"`
	To     state.State `json:"to_state"`
	// From, when set, is the state the caller believes the step is in; the
	// transition fails with a state-transition error if it is not. When empty, the
	// state read at the start is used — still compare-and-swapped.
	From state.State `json:"from_state,omitempty"`
	// Results are stored on the step on complete or error (JSON).
	Results json.RawMessage `json:"results,omitempty"`
	// Metadata is kept on the transition row (the audit trail).
	Metadata map[string]any `json:"metadata,omitempty"`
	// BackoffRequestSeconds, on →error, is a server-requested retry delay that
	// wins over the policy.
	BackoffRequestSeconds *int32 `json:"backoff_request_seconds,omitempty"`
	// Permanent, on →error, marks the step not retryable.
	Permanent bool `json:"permanent,omitempty"`
	// WorkerID, on →in_progress, records who holds the step (with a lease of
	// LeaseSeconds); on leaving in_progress, when set, it must be the holder — a
	// worker whose lease was taken away cannot report.
	WorkerID     string  `json:"worker_id,omitempty"`
	LeaseSeconds float64 `json:"lease_seconds,omitempty"`
	// Attempt, when > 0 on leaving in_progress, must be the step's current attempt
	// number: a late result of an earlier attempt (a handler that hung past its
	// timeout, whose step was recovered and claimed again, even by the same worker)
	// is refused.
	Attempt int32 `json:"attempt,omitempty"`
}

// Transition is one row of a task's or step's audit trail.
type Transition struct {
	ID        int64          `json:"id"`
	OwnerID   int64          `json:"owner_id"` // task_id or workflow_step_id
	From      state.State    `json:"from_state"`
	To        state.State    `json:"to_state"`
	SortKey   int32          `json:"sort_key"`
	Metadata  map[string]any `json:"metadata"`
	CreatedAt time.Time      `json:"created_at"`
	Event     string         `json:"event,omitempty"` // the lifecycle event this transition publishes
}

// TransitionStep moves a step to req.To in its own transaction. See
// TransitionStepTx.
func (s *Store) TransitionStep(ctx context.Context, req StepTransition) (Transition, error) {
	var out Transition
	ctx, col := s.collect(ctx)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = s.TransitionStepTx(ctx, tx, req)
		return err
	})
	if err == nil {
		s.published(col)
	}
	return out, dbErr(err, "step transition")
}

// TransitionStepTx moves a step to req.To inside tx: it checks the move against the
// step state machine and its guards (→in_progress needs every parent complete or
// resolved_manually; error→pending needs retries left), swaps the current transition
// row only if it is still the one read (so of concurrent attempts exactly one wins;
// the others get an errs.StateTransition error with details.conflict = true),
// appends the new row, and updates the step's columns (in_process, processed,
// attempts, results…). A step already in req.To is refused too. On any error the
// caller must roll tx back; nothing this call wrote survives.
func (s *Store) TransitionStepTx(ctx context.Context, tx pgx.Tx, req StepTransition) (Transition, error) {
	out, err := s.applyStepTransitions(ctx, tx, []StepTransition{req})
	if errors.Is(err, errConcurrentChange) {
		return Transition{}, conflictOutcome(req).Err
	}
	if err != nil {
		return Transition{}, err
	}
	switch o := out[0]; o.Status {
	case OutcomeApplied:
		return o.transition, refreshTasksOf(ctx, tx, out)
	case OutcomeDuplicate:
		err := s.rules.Check(state.Step, o.From, req.To)
		return Transition{}, &errs.Error{Kind: errs.StateTransition, Message: err.Error(), Err: err,
			Details: map[string]any{"step_id": req.StepID, "from_state": string(o.From), "to_state": string(req.To)}}
	default:
		return Transition{}, o.Err
	}
}

// TaskTransition asks to move a task to a new state.
type TaskTransition struct {
	TaskID   int64          `json:"task_id"`
	To       state.State    `json:"to_state"`
	From     state.State    `json:"from_state,omitempty"` // as in StepTransition
	Metadata map[string]any `json:"metadata,omitempty"`
}

// TransitionTask moves a task in its own transaction. The guard: →complete only
// when every step is complete or resolved_manually.
func (s *Store) TransitionTask(ctx context.Context, req TaskTransition) (Transition, error) {
	var out Transition
	ctx, col := s.collect(ctx)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if out, err = s.TransitionTaskTx(ctx, tx, req); err != nil {
			return err
		}
		return scheduleTasks(ctx, tx, []int64{req.TaskID})
	})
	if err == nil {
		s.published(col)
	}
	return out, dbErr(err, "task transition")
}

// TransitionTaskTx is TransitionTask inside tx.
func (s *Store) TransitionTaskTx(ctx context.Context, tx pgx.Tx, req TaskTransition) (Transition, error) {
	if !req.To.Valid() {
		return Transition{}, errs.New(errs.Validation, map[string]any{"task_id": req.TaskID, "to_state": string(req.To)},
			"unknown target state %q", req.To)
	}
	var cur state.State
	var sortKey int32
	var open int
	var taskName, namespace, corr string
	// The task row is locked before its state is read (one round trip for both):
	// every writer locks tasks first, then steps, so a cancellation and a report
	// of one of the task's steps serialize, and the later one sees the other.
	b := &pgx.Batch{}
	b.Queue(`SELECT 1 FROM tasker_tasks WHERE task_id = $1 FOR NO KEY UPDATE`, req.TaskID)
	b.Queue(`
		SELECT COALESCE(t.to_state, 'pending'), COALESCE(t.sort_key, 0),
		       (SELECT nt.name FROM tasker_named_tasks nt WHERE nt.named_task_id = k.named_task_id),
		       (SELECT tn.name FROM tasker_named_tasks nt JOIN tasker_task_namespaces tn ON tn.task_namespace_id = nt.task_namespace_id
		        WHERE nt.named_task_id = k.named_task_id),
		       k.correlation_id::text,
		       -- The steps' current state is on their rows (migration 0017).
		       (SELECT count(*) FROM tasker_workflow_steps ws
		        WHERE ws.task_id = k.task_id AND COALESCE(ws.current_state, 'pending') NOT IN ('complete', 'resolved_manually'))
		FROM tasker_tasks k
		LEFT JOIN tasker_task_transitions t ON t.task_id = k.task_id AND t.most_recent
		WHERE k.task_id = $1`, req.TaskID)
	br := tx.SendBatch(ctx, b)
	_, err := br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&cur, &sortKey, &taskName, &namespace, &corr, &open)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == pgx.ErrNoRows {
		return Transition{}, errs.New(errs.NotFound, map[string]any{"task_id": req.TaskID}, "task %d not found", req.TaskID)
	}
	if err != nil {
		return Transition{}, dbErr(err, "read task state")
	}
	details := map[string]any{"task_id": req.TaskID, "from_state": string(cur), "to_state": string(req.To)}
	if req.From != "" && req.From != cur {
		details["expected_state"] = string(req.From)
		details["conflict"] = true
		return Transition{}, errs.New(errs.StateTransition, details, "task %d is %s, not %s", req.TaskID, cur, req.From)
	}
	if err := s.rulesFor(ctx).Check(state.Task, cur, req.To); err != nil {
		return Transition{}, &errs.Error{Kind: errs.StateTransition, Message: err.Error(), Details: details, Err: err}
	}
	if req.To == state.Complete && open > 0 {
		details["incomplete_steps"] = open
		return Transition{}, errs.New(errs.StateTransition, details,
			"task %d cannot complete: %d steps are not complete or resolved", req.TaskID, open)
	}
	if s.LiveOn() {
		// task.before_transition (live only): the move passed its checks and is
		// about to be written.
		b, err := json.Marshal(events.TaskPayload{TaskID: req.TaskID, TaskName: taskName, FromState: string(cur),
			ToState: string(req.To), TransitionedAt: events.Timestamp(time.Now())})
		if err == nil {
			s.publishLive(Event{TaskID: req.TaskID, Name: state.TaskBeforeTransition, TaskName: taskName, Namespace: namespace,
				CorrelationID: corr, Payload: b, CreatedAt: time.Now().UTC()})
		}
	}
	tr, err := swapCurrent(ctx, tx, taskTable, req.TaskID, cur, req.To, sortKey, withOperatorMeta(ctx, req.Metadata), state.Task)
	if err != nil {
		return Transition{}, err
	}
	// The row change, and the transition's event with the next number of the
	// task's gapless event sequence (the UPDATE holds the task row until commit).
	if err := execEvents(ctx, tx, `
		WITH task AS (
			UPDATE tasker_tasks SET complete = $2, completed_at = CASE WHEN $2 THEN now() ELSE completed_at END,
				ready_at = CASE WHEN $5::text IN ('complete', 'cancelled', 'resolved_manually') THEN NULL ELSE ready_at END,
				updated_at = now(), event_seq = event_seq + CASE WHEN $3 = '' OR NOT $6 THEN 0 ELSE 1 END
			WHERE task_id = $1
			RETURNING task_id, event_seq, correlation_id, named_task_id, context
		), written AS (
			INSERT INTO tasker_events (task_id, task_seq, name, correlation_id, payload)
			SELECT t.task_id, t.event_seq, $3, t.correlation_id,
			       jsonb_build_object('task_id', t.task_id, 'task_name', nt.name, 'task_context', t.context,
			                          'from_state', $4::text, 'to_state', $5::text,
			                          'transitioned_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
			FROM task t JOIN tasker_named_tasks nt ON nt.named_task_id = t.named_task_id
			WHERE $3 <> '' AND $6
			`+eventColumns+`
		)
		`+eventTail(collectorFrom(ctx) != nil),
		req.TaskID, req.To == state.Complete, tr.Event, string(cur), string(req.To), s.eventsEnabled); err != nil {
		return Transition{}, dbErr(err, "update task")
	}
	return tr, nil
}

type transitionTable struct {
	table, owner, kind string
}

var (
	stepTable = transitionTable{"tasker_workflow_step_transitions", "workflow_step_id", "step"}
	taskTable = transitionTable{"tasker_task_transitions", "task_id", "task"}
)

// swapCurrent is the compare-and-swap: it retires the current transition row only if
// it is still the current row in state `from` (a concurrent winner has retired it
// otherwise, and PostgreSQL re-checks the row after waiting for the winner's lock),
// then appends the new row. For a row with no transitions yet (an adopted engine
// row), the unique (owner, sort_key) index makes exactly one first insert win.
func swapCurrent(ctx context.Context, tx pgx.Tx, tt transitionTable, id int64, from, to state.State,
	sortKey int32, metadata map[string]any, m state.Machine) (Transition, error) {
	event := m.EventFor(from, to)
	meta := map[string]any{}
	for k, v := range metadata {
		meta[k] = v
	}
	if event != "" {
		meta["event"] = event
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return Transition{}, errs.Wrap(errs.Validation, err, "transition metadata")
	}
	out := Transition{OwnerID: id, From: from, To: to, Metadata: meta, Event: event}
	if sortKey == 0 {
		err = tx.QueryRow(ctx, `
			INSERT INTO `+tt.table+` (`+tt.owner+`, from_state, to_state, metadata, sort_key, most_recent, created_at, updated_at)
			VALUES ($1, $2, $3, $4::jsonb, 1, true, now(), now())
			RETURNING id, sort_key, created_at`, id, string(from), string(to), string(metaJSON)).Scan(&out.ID, &out.SortKey, &out.CreatedAt)
		if isUniqueViolation(err) {
			err = pgx.ErrNoRows
		}
	} else {
		err = tx.QueryRow(ctx, `
			WITH prev AS (
				UPDATE `+tt.table+` SET most_recent = false, updated_at = now()
				WHERE `+tt.owner+` = $1 AND most_recent AND to_state = $2 AND sort_key = $5
				RETURNING sort_key
			)
			INSERT INTO `+tt.table+` (`+tt.owner+`, from_state, to_state, metadata, sort_key, most_recent, created_at, updated_at)
			SELECT $1, $2, $3, $4::jsonb, prev.sort_key + 1, true, now(), now() FROM prev
			RETURNING id, sort_key, created_at`, id, string(from), string(to), string(metaJSON), sortKey).Scan(&out.ID, &out.SortKey, &out.CreatedAt)
	}
	if err == pgx.ErrNoRows {
		return Transition{}, errs.New(errs.StateTransition,
			map[string]any{tt.owner: id, "from_state": string(from), "to_state": string(to), "conflict": true},
			"%s %d changed state concurrently; %s -> %s not applied", tt.kind, id, from, to)
	}
	if err != nil {
		return Transition{}, dbErr(err, "write transition")
	}
	out.CreatedAt = out.CreatedAt.UTC()
	return out, nil
}

// StepTransitions returns a step's audit trail, oldest first.
func (s *Store) StepTransitions(ctx context.Context, stepID int64) ([]Transition, error) {
	return s.transitions(ctx, stepTable, stepID)
}

// TaskTransitions returns a task's audit trail, oldest first.
func (s *Store) TaskTransitions(ctx context.Context, taskID int64) ([]Transition, error) {
	return s.transitions(ctx, taskTable, taskID)
}

func (s *Store) transitions(ctx context.Context, tt transitionTable, id int64) ([]Transition, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, `+tt.owner+`, COALESCE(from_state, ''), to_state, sort_key,
		COALESCE(metadata, '{}'::jsonb)::text, created_at FROM `+tt.table+` WHERE `+tt.owner+` = $1 ORDER BY sort_key`, id)
	if err != nil {
		return nil, dbErr(err, "read transitions")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Transition, error) {
		var t Transition
		var from, to string
		var meta []byte
		err := r.Scan(&t.ID, &t.OwnerID, &from, &to, &t.SortKey, &meta, &t.CreatedAt)
		t.From, t.To, t.CreatedAt, t.Metadata = state.State(from), state.State(to), t.CreatedAt.UTC(), decodeObject(meta)
		if ev, ok := t.Metadata["event"].(string); ok {
			t.Event = ev
		}
		return t, err
	})
	return out, dbErr(err, "read transitions")
}

// decodeObject decodes a JSON object keeping numbers exact (json.Number), so an
// integer beyond 2^53 in metadata survives a read.
func decodeObject(b []byte) map[string]any {
	out := map[string]any{}
	dec := stdjson.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	_ = dec.Decode(&out) // the column is jsonb: always a valid object here
	return out
}
