package operator

import (
	"bytes"
	"context"
	"slices"

	"github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/pgerr"
	"github.com/taskercore/tasker-core/sqlfuncs"
)

// taskSnap is the locked task as an operation reads it.
type taskSnap struct {
	id       int64
	state    state.State
	sortKey  int32
	eventSeq int64
	corr     string
	tags     json.RawMessage
	context  json.RawMessage
}

// stepSnap is one of the task's steps.
type stepSnap struct {
	id      int64
	name    string
	sortKey int32
	snap    StepSnapshot
}

// runState is one operation's transaction: the locked task and its steps as
// they were before the operation, and what the operation adds to its answer.
type runState struct {
	st       *store.Store
	tx       pgx.Tx
	a        action
	actionID int64
	task     taskSnap
	steps    []*stepSnap // in id order
	byID     map[int64]*stepSnap
	children map[int64][]int64
	extra    Result // the operation's own fields of the answer
}

func dbErr(err error, what string) error { return pgerr.Wrap(err, what) }

// begin resolves the target's task, locks it (task row, then its steps in id
// order), answers a repeated idempotency key, and snapshots the task.
func begin(ctx context.Context, st *store.Store, tx pgx.Tx, a action) (*runState, *Result, error) {
	taskID := a.target.TaskID
	if a.target.Type == "step" {
		err := tx.QueryRow(ctx, `SELECT task_id FROM tasker_workflow_steps WHERE workflow_step_id = $1`, a.target.StepID).Scan(&taskID)
		if err == pgx.ErrNoRows {
			return nil, nil, errs.New(errs.NotFound, map[string]any{"step_id": a.target.StepID}, "workflow step %d not found", a.target.StepID)
		}
		if err != nil {
			return nil, nil, dbErr(err, "find step")
		}
	}
	var found int64
	err := tx.QueryRow(ctx, `SELECT task_id FROM tasker_tasks WHERE task_id = $1 FOR NO KEY UPDATE`, taskID).Scan(&found)
	if err == pgx.ErrNoRows {
		return nil, nil, errs.New(errs.NotFound, map[string]any{"task_id": taskID}, "task %d not found", taskID)
	}
	if err != nil {
		return nil, nil, dbErr(err, "lock task")
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM tasker_workflow_steps WHERE task_id = $1 ORDER BY workflow_step_id FOR NO KEY UPDATE`, taskID); err != nil {
		return nil, nil, dbErr(err, "lock steps")
	}
	if a.req.IdempotencyKey != "" {
		replay, err := replayed(ctx, tx, a)
		if err != nil || replay != nil {
			return nil, replay, err
		}
	}
	r := &runState{st: st, tx: tx, a: a}
	if r.task, err = loadTask(ctx, tx, taskID); err != nil {
		return nil, nil, err
	}
	if r.steps, r.children, err = loadSteps(ctx, tx, taskID); err != nil {
		return nil, nil, err
	}
	r.byID = make(map[int64]*stepSnap, len(r.steps))
	for _, s := range r.steps {
		r.byID[s.id] = s
	}
	if !a.req.DryRun {
		if err := tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('tasker_operator_actions', 'action_id'))`).Scan(&r.actionID); err != nil {
			return nil, nil, dbErr(err, "action id")
		}
	}
	return r, nil, nil
}

// replayed returns the first answer of the request's idempotency key, or nil
// when the key is new. A key first used for another operation or target is a
// validation error.
func replayed(ctx context.Context, tx pgx.Tx, a action) (*Result, error) {
	var op, targetType string
	var targetID int64
	var raw []byte
	err := tx.QueryRow(ctx, `SELECT operation, target_type, target_id, result FROM tasker_operator_actions
		WHERE idempotency_key = $1`, a.req.IdempotencyKey).Scan(&op, &targetType, &targetID, &raw)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, dbErr(err, "idempotency key")
	}
	if op != a.op || targetType != a.target.Type || targetID != a.target.id() {
		return nil, errs.New(errs.Validation, map[string]any{"field": "idempotency_key", "operation": op,
			"target_type": targetType, "target_id": targetID},
			"idempotency_key %q was used for %s of %s %d", a.req.IdempotencyKey, op, targetType, targetID)
	}
	var res Result
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, errs.Wrap(errs.Internal, err, "stored operator result")
	}
	res.Replayed = true
	return &res, nil
}

func loadTask(ctx context.Context, tx pgx.Tx, taskID int64) (taskSnap, error) {
	t := taskSnap{id: taskID}
	var tags, taskContext []byte
	err := tx.QueryRow(ctx, `
		SELECT COALESCE(t.to_state, 'pending'), COALESCE(t.sort_key, 0), k.event_seq, COALESCE(k.correlation_id::text, ''),
		       k.tags, k.context
		FROM tasker_tasks k
		LEFT JOIN tasker_task_transitions t ON t.task_id = k.task_id AND t.most_recent
		WHERE k.task_id = $1`, taskID).Scan(&t.state, &t.sortKey, &t.eventSeq, &t.corr, &tags, &taskContext)
	t.tags, t.context = rawOrNull(tags), rawOrNull(taskContext)
	return t, dbErr(err, "read task")
}

func loadSteps(ctx context.Context, tx pgx.Tx, taskID int64) ([]*stepSnap, map[int64][]int64, error) {
	var out []*stepSnap
	children := map[int64][]int64{}
	rows, err := tx.Query(ctx, `
		SELECT ws.workflow_step_id, ns.name, COALESCE(t.to_state, 'pending'), COALESCE(t.sort_key, 0),
		       COALESCE(ws.attempts, 0), COALESCE(ws.retry_limit, $2), COALESCE(ws.retryable, true), ws.results,
		       COALESCE(ws.claimed_by, ''),
		       ARRAY(SELECT e.from_step_id FROM tasker_workflow_step_edges e WHERE e.to_step_id = ws.workflow_step_id ORDER BY 1)
		FROM tasker_workflow_steps ws
		JOIN tasker_named_steps ns ON ns.named_step_id = ws.named_step_id
		LEFT JOIN tasker_workflow_step_transitions t ON t.workflow_step_id = ws.workflow_step_id AND t.most_recent
		WHERE ws.task_id = $1 ORDER BY ws.workflow_step_id`, taskID, store.DefaultRetryLimit)
	if err != nil {
		return nil, nil, dbErr(err, "read steps")
	}
	for rows.Next() {
		s := &stepSnap{}
		var results []byte
		if err := rows.Scan(&s.id, &s.name, &s.snap.State, &s.sortKey, &s.snap.Attempts, &s.snap.RetryLimit,
			&s.snap.Retryable, &results, &s.snap.ClaimedBy, &s.snap.Parents); err != nil {
			rows.Close()
			return nil, nil, dbErr(err, "read steps")
		}
		s.snap.Results = rawOrNull(results)
		if s.snap.Parents == nil {
			s.snap.Parents = []int64{}
		}
		for _, p := range s.snap.Parents {
			children[p] = append(children[p], s.id)
		}
		out = append(out, s)
	}
	return out, children, dbErr(rows.Err(), "read steps")
}

func rawOrNull(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return json.RawMessage(b)
}

// step returns a step of the task or a not_found error.
func (r *runState) step(id int64) (*stepSnap, error) {
	s := r.byID[id]
	if s == nil {
		return nil, errs.New(errs.NotFound, map[string]any{"step_id": id, "task_id": r.task.id},
			"workflow step %d is not a step of task %d", id, r.task.id)
	}
	return s, nil
}

// descendants returns every step below id, in id order.
func (r *runState) descendants(id int64) []int64 {
	seen := map[int64]bool{}
	queue := []int64{id}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, c := range r.children[n] {
			if !seen[c] {
				seen[c] = true
				queue = append(queue, c)
			}
		}
	}
	out := make([]int64, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// refuse is a state_transition_error: the operation does not apply in the
// current state. Nothing was written that survives.
func (r *runState) refuse(details map[string]any, format string, args ...any) error {
	if details == nil {
		details = map[string]any{}
	}
	details["operation"] = r.a.op
	details["task_id"] = r.task.id
	details["task_state"] = string(r.task.state)
	return errs.New(errs.StateTransition, details, format, args...)
}

// refuseStep refuses an operation because of a step's state; a step a worker
// holds (in_progress) is a conflict with that worker: retry once it reports.
func (r *runState) refuseStep(s *stepSnap, allowed []state.State) error {
	d := map[string]any{"step_id": s.id, "step_name": s.name, "from_state": string(s.snap.State), "allowed_states": allowed}
	if s.snap.State == state.InProgress {
		d["conflict"], d["claimed_by"] = true, s.snap.ClaimedBy
		return r.refuse(d, "%s: step %d (%s) is running (held by %q); try again once it reports", r.a.op, s.id, s.name, s.snap.ClaimedBy)
	}
	return r.refuse(d, "%s: step %d (%s) is %s; the operation applies to %v steps", r.a.op, s.id, s.name, s.snap.State, allowed)
}

// requireOpenTask refuses an operation on a task that has finished.
func (r *runState) requireOpenTask() error {
	switch r.task.state {
	case state.Pending, state.InProgress, state.Error:
		return nil
	}
	return r.refuse(nil, "%s: task %d is %s; the operation applies to pending, in_progress or error tasks",
		r.a.op, r.task.id, r.task.state)
}

// transitionSteps writes step transitions, compare-and-swapped against the
// states read under the lock.
func (r *runState) transitionSteps(ctx context.Context, reqs []store.StepTransition) error {
	_, err := r.st.ApplyStepTransitionsTx(ctx, r.tx, reqs)
	return err
}

// taskPath moves the task through states, each transition compare-and-swapped.
func (r *runState) taskPath(ctx context.Context, path ...state.State) error {
	cur, err := r.currentTaskState(ctx)
	if err != nil {
		return err
	}
	for _, to := range path {
		if _, err := r.st.TransitionTaskTx(ctx, r.tx, store.TaskTransition{TaskID: r.task.id, From: cur, To: to}); err != nil {
			return err
		}
		cur = to
	}
	return nil
}

func (r *runState) currentTaskState(ctx context.Context) (state.State, error) {
	var cur state.State
	err := r.tx.QueryRow(ctx, `SELECT COALESCE((SELECT to_state FROM tasker_task_transitions WHERE task_id = $1 AND most_recent), 'pending')`,
		r.task.id).Scan(&cur)
	return cur, dbErr(err, "task state")
}

func (r *runState) exec(ctx context.Context, what, sql string, args ...any) error {
	_, err := r.tx.Exec(ctx, sql, args...)
	return dbErr(err, what)
}

// refinalize applies the finalization rules after the operation: a failed task
// that is no longer blocked (a step was retried, reset or resolved) goes back to
// pending; then the usual decision table (all complete → complete, blocked →
// error) and the task's schedule. A finished task only gets its schedule.
func (r *runState) refinalize(ctx context.Context) error {
	cur, err := r.currentTaskState(ctx)
	if err != nil {
		return err
	}
	if cur.Terminal() {
		_, err := r.st.RefreshScheduleTx(ctx, r.tx, []int64{r.task.id})
		return err
	}
	if cur == state.Error {
		ec, err := sqlfuncs.GetTaskExecutionContext(ctx, r.tx, r.task.id, nil)
		if err != nil {
			return err
		}
		if ec.ExecutionStatus != sqlfuncs.StatusBlockedByFailures {
			if _, err := r.st.TransitionTaskTx(ctx, r.tx, store.TaskTransition{TaskID: r.task.id, From: state.Error, To: state.Pending,
				Metadata: map[string]any{"execution_status": ec.ExecutionStatus}}); err != nil {
				return err
			}
		}
	}
	_, err = r.st.FinalizeTasksTx(ctx, r.tx, []int64{r.task.id})
	return err
}

// finish reads back what the operation changed, writes its operator event and
// audit row, and returns the answer.
func (r *runState) finish(ctx context.Context) (Result, error) {
	after, err := loadTask(ctx, r.tx, r.task.id)
	if err != nil {
		return Result{}, err
	}
	afterSteps, _, err := loadSteps(ctx, r.tx, r.task.id)
	if err != nil {
		return Result{}, err
	}
	res := r.extra
	res.ActionID, res.Operation, res.TargetType, res.TargetID = r.actionID, r.a.op, r.a.target.Type, r.a.target.id()
	res.TaskID, res.Actor, res.Reason, res.RequestID = r.task.id, r.a.req.Actor, r.a.req.Reason, r.a.req.RequestID
	res.IdempotencyKey, res.CorrelationID, res.DryRun = r.a.req.IdempotencyKey, r.task.corr, r.a.req.DryRun
	res.TaskStateBefore, res.TaskStateAfter = r.task.state, after.state
	res.Steps = []StepChange{}
	changed := []int64{}
	for _, s := range afterSteps {
		b := r.byID[s.id]
		if b != nil && !sameSnapshot(b.snap, s.snap) {
			res.Steps = append(res.Steps, StepChange{StepID: s.id, Name: s.name, Before: b.snap, After: s.snap})
			changed = append(changed, s.id)
		}
	}
	if res.Transitions, err = r.transitionsSince(ctx); err != nil {
		return Result{}, err
	}
	payload := map[string]any{"action_id": r.actionID, "operation": r.a.op, "actor": r.a.req.Actor, "reason": r.a.req.Reason,
		"target_type": r.a.target.Type, "target_id": r.a.target.id(), "task_state_before": string(r.task.state),
		"task_state_after": string(after.state), "steps_changed": changed}
	var stepID *int64
	if r.a.target.Type == "step" {
		id := r.a.target.StepID
		stepID = &id
		payload["step_id"] = id
	}
	if r.a.req.RequestID != "" {
		payload["request_id"] = r.a.req.RequestID
	}
	if r.a.req.IdempotencyKey != "" {
		payload["idempotency_key"] = r.a.req.IdempotencyKey
	}
	if err := r.st.WriteTaskEventTx(ctx, r.tx, r.task.id, stepID, EventNames[r.a.op], payload); err != nil {
		return Result{}, err
	}
	if res.Events, err = r.eventsSince(ctx); err != nil {
		return Result{}, err
	}
	if err := r.tx.QueryRow(ctx, `SELECT now()`).Scan(&res.CreatedAt); err != nil {
		return Result{}, dbErr(err, "clock")
	}
	res.CreatedAt = res.CreatedAt.UTC()
	if r.a.req.DryRun {
		return res, nil
	}
	return res, r.audit(ctx, res, afterSteps)
}

func sameSnapshot(a, b StepSnapshot) bool {
	return a.State == b.State && a.Attempts == b.Attempts && a.RetryLimit == b.RetryLimit && a.Retryable == b.Retryable &&
		a.ClaimedBy == b.ClaimedBy && slices.Equal(a.Parents, b.Parents) && sameJSON(a.Results, b.Results)
}

func sameJSON(a, b json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b))
}

// transitionsSince lists the transitions written since the snapshot: the steps'
// (by step id, then order) and then the task's — operations move steps first.
func (r *runState) transitionsSince(ctx context.Context) ([]TransitionChange, error) {
	ids := make([]int64, len(r.steps))
	keys := make([]int32, len(r.steps))
	for i, s := range r.steps {
		ids[i], keys[i] = s.id, s.sortKey
	}
	rows, err := r.tx.Query(ctx, `
		SELECT 'step', t.workflow_step_id, ns.name::text, COALESCE(t.from_state, ''), t.to_state, t.sort_key, COALESCE(t.metadata->>'event', '')
		FROM unnest($1::bigint[], $2::int[]) AS u(id, sort_key)
		JOIN tasker_workflow_step_transitions t ON t.workflow_step_id = u.id AND t.sort_key > u.sort_key
		JOIN tasker_workflow_steps ws ON ws.workflow_step_id = u.id
		JOIN tasker_named_steps ns ON ns.named_step_id = ws.named_step_id
		UNION ALL
		SELECT 'task', t.task_id, '', COALESCE(t.from_state, ''), t.to_state, t.sort_key, COALESCE(t.metadata->>'event', '')
		FROM tasker_task_transitions t WHERE t.task_id = $3 AND t.sort_key > $4
		ORDER BY 1, 2, 6`, ids, keys, r.task.id, r.task.sortKey)
	if err != nil {
		return nil, dbErr(err, "read transitions")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TransitionChange, error) {
		var t TransitionChange
		err := row.Scan(&t.Kind, &t.ID, &t.Name, &t.From, &t.To, &t.SortKey, &t.Event)
		return t, err
	})
	if out == nil {
		out = []TransitionChange{}
	}
	return out, dbErr(err, "read transitions")
}

func (r *runState) eventsSince(ctx context.Context) ([]EventChange, error) {
	rows, err := r.tx.Query(ctx, `SELECT task_seq, name, step_id, payload FROM tasker_events
		WHERE task_id = $1 AND task_seq > $2 ORDER BY task_seq`, r.task.id, r.task.eventSeq)
	if err != nil {
		return nil, dbErr(err, "read events")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (EventChange, error) {
		var e EventChange
		var p []byte
		err := row.Scan(&e.TaskSeq, &e.Name, &e.StepID, &p)
		e.Payload = json.RawMessage(p)
		return e, err
	})
	if out == nil {
		out = []EventChange{}
	}
	return out, dbErr(err, "read events")
}

// audit writes the operation's row in tasker_operator_actions.
func (r *runState) audit(ctx context.Context, res Result, afterSteps []*stepSnap) error {
	before := map[string]any{}
	after := map[string]any{}
	for _, c := range res.Steps {
		before[itoa(c.StepID)] = c.Before
		after[itoa(c.StepID)] = c.After
	}
	beforeState := map[string]any{"task": r.task.state, "steps": before}
	afterState := map[string]any{"task": res.TaskStateAfter, "steps": after}
	if res.Task != nil {
		beforeState["task_fields"], afterState["task_fields"] = res.Task.Before, res.Task.After
	}
	if len(res.EdgesAdded)+len(res.EdgesRemoved) > 0 {
		afterState["edges_added"], afterState["edges_removed"] = res.EdgesAdded, res.EdgesRemoved
	}
	params, err := json.Marshal(r.a.params)
	if err != nil {
		return errs.Wrap(errs.Internal, err, "audit params")
	}
	enc := func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}
	bs, err1 := enc(beforeState)
	as, err2 := enc(afterState)
	rs, err3 := enc(res)
	if err1 != nil || err2 != nil || err3 != nil {
		return errs.New(errs.Internal, nil, "encode audit row")
	}
	_, err = r.tx.Exec(ctx, `
		INSERT INTO tasker_operator_actions (action_id, operation, target_type, target_id, task_id, actor, reason,
			request_id, idempotency_key, correlation_id, params, before_state, after_state, result, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''), NULLIF($9, ''), NULLIF($10, '')::uuid, $11::jsonb, $12::jsonb,
			$13::jsonb, $14::jsonb, $15)`,
		r.actionID, r.a.op, r.a.target.Type, r.a.target.id(), r.task.id, r.a.req.Actor, r.a.req.Reason,
		r.a.req.RequestID, r.a.req.IdempotencyKey, r.task.corr, string(params), bs, as, rs, res.CreatedAt)
	if pgerr.Code(err) == pgerr.UniqueViolation {
		return errs.New(errs.Validation, map[string]any{"field": "idempotency_key"},
			"idempotency_key %q is being used by another operation at the same time", r.a.req.IdempotencyKey)
	}
	return dbErr(err, "write audit row")
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
