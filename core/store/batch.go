package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/events"
	"github.com/taskercore/tasker-core/core/readiness"
	"github.com/taskercore/tasker-core/core/state"
)

// Outcome statuses of a batch item.
const (
	OutcomeApplied   = "applied"   // transition and step columns written
	OutcomeDuplicate = "duplicate" // already in the target state: nothing written, not an error
	OutcomeRejected  = "rejected"  // refused: nothing written for this item
)

// BatchOutcome is the result of one item of BatchTransitionSteps.
type BatchOutcome struct {
	Index         int         `json:"index"`
	StepID        int64       `json:"step_id"`
	TaskID        int64       `json:"task_id,omitempty"`
	CorrelationID string      `json:"correlation_id,omitempty"`
	Status        string      `json:"status"`
	From          state.State `json:"from_state,omitempty"`
	To            state.State `json:"to_state"`
	TransitionID  int64       `json:"transition_id,omitempty"`
	Err           error       `json:"-"`
	transition    Transition
	exhausted     bool        // a failure with no attempt left (not retryable or attempts at the limit)
	taskState     state.State // the step's task's state, read under its lock
}

// BatchTransitionSteps applies step transitions in one transaction, in order, each
// checked against the step state machine and its guards, where earlier items of the
// same call count (complete a parent and start its child in one call). A step
// already in the target state is a duplicate (a repeated delivery), not applied
// twice. The returned error is non-nil only when the database fails; then nothing
// at all was written.
//
// The work is set-based: one read of every step's facts, the plan checked in
// memory, then one compare-and-swap-and-insert and one step update per "round"
// (round k holds each step's k-th transition, so usually there is one round). If a
// concurrent writer moved one of the steps in between, the transaction is rolled
// back and the batch is replayed item by item under savepoints, so the outcome per
// item is exact either way.
func (s *Store) BatchTransitionSteps(ctx context.Context, reqs []StepTransition) ([]BatchOutcome, error) {
	var out []BatchOutcome
	ctx, col := s.collect(ctx)
	defer func() { s.published(col) }() // emptied unless a transaction committed
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if out, err = s.applyStepTransitions(ctx, tx, reqs); err != nil {
			return err
		}
		return refreshTasksOf(ctx, tx, out)
	})
	if err != nil {
		col.rollback(0)
	}
	if !errors.Is(err, errConcurrentChange) {
		return out, dbErr(err, "batch transition")
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		out = make([]BatchOutcome, len(reqs))
		for i, req := range reqs {
			var items []BatchOutcome
			mark := col.mark()
			err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error { // a savepoint
				var err error
				items, err = s.applyStepTransitions(ctx, sp, []StepTransition{req})
				if err == nil && items[0].Status == OutcomeRejected {
					return errRollbackItem
				}
				return err
			})
			if err != nil {
				col.rollback(mark)
			}
			switch {
			case errors.Is(err, errConcurrentChange):
				items = []BatchOutcome{conflictOutcome(req)}
			case err != nil && !errors.Is(err, errRollbackItem):
				return err
			}
			items[0].Index = i
			out[i] = items[0]
		}
		return refreshTasksOf(ctx, tx, out)
	})
	if err != nil {
		col.rollback(0)
	}
	return out, dbErr(err, "batch transition")
}

// afterLoadHook lets a test write between planning and writing, as a writer that
// bypasses the step locks would (one that edits transition rows directly).
var afterLoadHook func(stepIDs []int64)

var (
	errConcurrentChange = errors.New("a step changed state concurrently")
	errRollbackItem     = errors.New("item rejected")
)

func conflictOutcome(req StepTransition) BatchOutcome {
	return BatchOutcome{StepID: req.StepID, To: req.To, Status: OutcomeRejected,
		Err: errs.New(errs.StateTransition, map[string]any{"step_id": req.StepID, "to_state": string(req.To), "conflict": true},
			"step %d changed state concurrently; transition to %s not applied", req.StepID, req.To)}
}

// stepFacts is what planning needs to know about a step, kept up to date in memory
// as the plan advances.
type stepFacts struct {
	state         state.State
	sortKey       int32
	attempts      int32
	limit         int32
	retryable     bool
	parents       []int64
	parentNames   []string
	parentStates  []state.State
	claimedBy     string
	taskID        int64
	taskState     state.State // the task's current state, read under its lock
	correlationID string
	name          string
	transitionsIn int // planned transitions so far (the round of the next one)
}

type planned struct {
	outcome int // index into outcomes
	req     StepTransition
	from    state.State
	sortKey int32 // current row's sort key (0: no row yet)
	meta    string
	results *string
	round   int
}

// applyStepTransitions plans and writes reqs inside tx. A lost compare-and-swap
// returns errConcurrentChange (the caller must roll tx back).
func (s *Store) applyStepTransitions(ctx context.Context, tx pgx.Tx, reqs []StepTransition) ([]BatchOutcome, error) {
	return s.applyStepTransitionsAnd(ctx, tx, reqs, nil, nil)
}

// applyStepTransitionsAnd is applyStepTransitions whose writes go to the server
// in one round trip after the read of the steps' facts: every round's
// transitions, step rows and events, then the schedule of the moved steps, then
// what more queues (called with the outcomes as they will be once the batch
// succeeds; on any error the caller rolls tx back). With deferEvents, the
// events go there instead (ahead of its own), for a later batch to write.
func (s *Store) applyStepTransitionsAnd(ctx context.Context, tx pgx.Tx, reqs []StepTransition,
	more func(outcomes []BatchOutcome, b *pgx.Batch) error, deferEvents *roundEvents) ([]BatchOutcome, error) {
	ids := stepIDsOf(reqs)
	facts := map[int64]*stepFacts{}
	if len(ids) > 0 {
		var err error
		if facts, err = loadStepFacts(ctx, tx, ids); err != nil {
			return nil, err
		}
	}
	return s.applyWithFacts(ctx, tx, reqs, facts, more, deferEvents)
}

// stepIDsOf returns the distinct steps of reqs in request order.
func stepIDsOf(reqs []StepTransition) []int64 {
	ids := make([]int64, 0, len(reqs))
	seen := map[int64]bool{}
	for _, r := range reqs {
		if !seen[r.StepID] {
			seen[r.StepID] = true
			ids = append(ids, r.StepID)
		}
	}
	return ids
}

// applyWithFacts is applyStepTransitionsAnd with the steps' facts already read
// under their locks (loadStepFacts, or the statements queued after a claim's
// pick); a step without facts is refused as not found.
func (s *Store) applyWithFacts(ctx context.Context, tx pgx.Tx, reqs []StepTransition, facts map[int64]*stepFacts,
	more func(outcomes []BatchOutcome, b *pgx.Batch) error, deferEvents *roundEvents) ([]BatchOutcome, error) {
	outcomes := make([]BatchOutcome, len(reqs))
	if afterLoadHook != nil {
		afterLoadHook(stepIDsOf(reqs))
	}

	var plan []planned
	rounds := 0
	for i, req := range reqs {
		o := &outcomes[i]
		*o = BatchOutcome{Index: i, StepID: req.StepID, To: req.To}
		f := facts[req.StepID]
		req.Metadata = withOperatorMeta(ctx, req.Metadata)
		p, err := planOne(req, f, facts, s.rulesFor(ctx))
		if f != nil {
			o.From, o.TaskID, o.CorrelationID, o.taskState = f.state, f.taskID, f.correlationID, f.taskState
		}
		if err != nil {
			o.Status, o.Err = OutcomeRejected, err
			continue
		}
		if p == nil {
			o.Status = OutcomeDuplicate
			continue
		}
		p.outcome = i
		plan = append(plan, *p)
		rounds = max(rounds, p.round+1)
		advance(f, req)
		if req.To == state.Error {
			o.exhausted = f.attempts >= f.limit || !f.retryable
		}
	}

	if len(plan) > 0 && s.LiveOn() {
		s.publishBeforeStepTransitions(ctx, tx, plan, facts)
	}
	b := &pgx.Batch{}
	// The rounds' events and the workflow events that more queues into b are
	// gathered into one statement at b's end.
	var ev *roundEvents
	if s.eventsEnabled {
		ev = s.openRoundEvents(b, rounds, len(outcomes))
	}
	queued := false
	defer func() {
		if ev != nil && !queued {
			s.closeRoundEvents(ctx, ev, false)
		}
	}()
	for r := 0; r < rounds; r++ {
		s.queueRound(ctx, b, plan, r, outcomes)
	}
	// The schedule of the steps moved and of their children; their tasks'
	// ready_at is the caller's (it may move the tasks too).
	if len(plan) > 0 {
		// A step that ends the batch in_progress, complete, resolved_manually or
		// cancelled cannot run: the step update wrote NULL. A pending or failed
		// step is computed again, and so are the children of a step that
		// completed (or stopped being complete): their dependencies changed.
		final := make(map[int64]state.State, len(plan))
		var order, parents []int64
		parentSeen := map[int64]bool{}
		for _, p := range plan {
			if _, ok := final[p.req.StepID]; !ok {
				order = append(order, p.req.StepID)
			}
			final[p.req.StepID] = p.req.To
			if (p.from.Satisfies() || p.req.To.Satisfies()) && !parentSeen[p.req.StepID] {
				parentSeen[p.req.StepID] = true
				parents = append(parents, p.req.StepID)
			}
			o := &outcomes[p.outcome]
			o.Status, o.From = OutcomeApplied, p.from
		}
		var again []int64
		for _, id := range order {
			if !unschedulable(final[id]) {
				again = append(again, id)
			}
		}
		if len(again) > 0 || len(parents) > 0 {
			queueExec(b, "schedule steps", scheduleStepsSQL, again, parents)
		}
	}
	if more != nil {
		if err := more(outcomes, b); err != nil {
			return nil, err
		}
	}
	if ev != nil {
		queued = true
		s.closeRoundEvents(ctx, ev, deferEvents == nil)
		if deferEvents != nil {
			deferEvents.absorb(ev)
		}
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return nil, err
		}
	}
	return outcomes, nil
}

// unschedulable says a step in state st cannot run whatever else holds: its
// runnable_at is NULL (written by the step update itself).
func unschedulable(st state.State) bool {
	switch st {
	case state.InProgress, state.Complete, state.ResolvedManually, state.Cancelled:
		return true
	}
	return false
}

// queueExec queues a statement whose error is labelled what.
func queueExec(b *pgx.Batch, what, sql string, args ...any) {
	b.Queue(sql, args...).Fn = func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return dbErr(err, what)
	}
}

// queueEvents queues an event-writing statement (built with
// eventTail(collectorFrom(ctx) != nil)), collecting its rows when live delivery
// is on.
func queueEvents(ctx context.Context, b *pgx.Batch, what, sql string, args ...any) {
	c := collectorFrom(ctx)
	if c == nil {
		queueExec(b, what, sql, args...)
		return
	}
	b.Queue(sql, args...).Fn = func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return dbErr(err, what)
		}
		return dbErr(scanLive(rows, c), what)
	}
}

// publishBeforeStepTransitions publishes step.before_transition (live only) for
// each planned transition, as it is about to be written: a transition that then
// loses a race or rolls back had its before_transition event all the same.
func (s *Store) publishBeforeStepTransitions(ctx context.Context, tx pgx.Tx, plan []planned, facts map[int64]*stepFacts) {
	at := events.Timestamp(time.Now())
	evs := make([]Event, 0, len(plan))
	for _, p := range plan {
		f := facts[p.req.StepID]
		id := p.req.StepID
		b, err := json.Marshal(events.StepPayload{TaskID: f.taskID, StepID: id, StepName: f.name,
			FromState: string(p.from), ToState: string(p.req.To), TransitionedAt: at})
		if err != nil {
			continue
		}
		evs = append(evs, Event{TaskID: f.taskID, StepID: &id, Name: state.StepBeforeTransition,
			CorrelationID: f.correlationID, Payload: b, CreatedAt: time.Now().UTC()})
	}
	nameLiveEvents(ctx, tx, evs)
	s.publishLive(evs...)
}

// planOne checks one request against the step's (planned) facts. It returns nil,
// nil for a duplicate.
func planOne(req StepTransition, f *stepFacts, facts map[int64]*stepFacts, rules state.Rules) (*planned, error) {
	details := map[string]any{"step_id": req.StepID, "to_state": string(req.To)}
	if !req.To.Valid() {
		return nil, errs.New(errs.Validation, details, "unknown target state %q", req.To)
	}
	if f == nil {
		return nil, errs.New(errs.NotFound, map[string]any{"step_id": req.StepID}, "workflow step %d not found", req.StepID)
	}
	details["from_state"] = string(f.state)
	if req.From != "" && req.From != f.state {
		details["expected_state"], details["conflict"] = string(req.From), true
		return nil, errs.New(errs.StateTransition, details, "step %d is %s, not %s", req.StepID, f.state, req.From)
	}
	if f.state == req.To {
		return nil, nil
	}
	if f.taskState.Terminal() && req.To != state.Cancelled && req.To != state.ResolvedManually {
		// Nothing of a finished, cancelled or resolved task runs or reports any
		// more; an operator may still cancel or resolve its leftover steps.
		details["reason"], details["task_id"], details["task_state"] = "task_terminal", f.taskID, string(f.taskState)
		return nil, errs.New(errs.StateTransition, details,
			"step %d belongs to task %d, which is %s: transition to %s not applied", req.StepID, f.taskID, f.taskState, req.To)
	}
	if err := rules.Check(state.Step, f.state, req.To); err != nil {
		return nil, &errs.Error{Kind: errs.StateTransition, Message: err.Error(), Details: details, Err: err}
	}
	if req.To == state.InProgress {
		var unmet []string
		for i, pid := range f.parents {
			ps := f.parentStates[i]
			if pf := facts[pid]; pf != nil {
				ps = pf.state // an earlier item of this batch may have moved it
			}
			if !ps.Satisfies() {
				unmet = append(unmet, f.parentNames[i])
			}
		}
		if len(unmet) > 0 {
			details["unmet_dependencies"] = unmet
			return nil, errs.New(errs.StateTransition, details,
				"step %d cannot start: dependencies not complete: %v", req.StepID, unmet)
		}
	}
	if req.WorkerID != "" && f.state == state.InProgress && f.claimedBy != req.WorkerID {
		details["claimed_by"], details["worker_id"], details["conflict"] = f.claimedBy, req.WorkerID, true
		return nil, errs.New(errs.StateTransition, details,
			"step %d is held by %q, not %q (its lease expired and it was recovered, or it was never claimed by this worker)",
			req.StepID, f.claimedBy, req.WorkerID)
	}
	if req.Attempt > 0 && f.state == state.InProgress && f.attempts != req.Attempt {
		details["attempt"], details["current_attempt"], details["conflict"] = req.Attempt, f.attempts, true
		return nil, errs.New(errs.StateTransition, details,
			"step %d is on attempt %d; a result of attempt %d is refused (its lease expired and the step ran again)",
			req.StepID, f.attempts, req.Attempt)
	}
	if f.state == state.Error && req.To == state.Pending && (!f.retryable || f.attempts >= f.limit) {
		// The retry path is for steps that may run again; an exhausted or
		// permanently failed step is resolved by an operator instead.
		reason := "retries_exhausted"
		if !f.retryable {
			reason = "not_retryable"
		}
		details["reason"], details["attempts"], details["retry_limit"] = reason, f.attempts, f.limit
		return nil, errs.New(errs.StateTransition, details,
			"step %d cannot be retried: %s (attempts %d, retry_limit %d); resolve it manually instead",
			req.StepID, reason, f.attempts, f.limit)
	}
	if req.BackoffRequestSeconds != nil && *req.BackoffRequestSeconds < 0 {
		return nil, errs.New(errs.Validation, details, "backoff_request_seconds %d must be >= 0", *req.BackoffRequestSeconds)
	}
	p := &planned{req: req, from: f.state, sortKey: f.sortKey, round: f.transitionsIn}
	if len(req.Results) > 0 {
		if !json.Valid(req.Results) {
			return nil, errs.New(errs.Validation, details, "results for step %d are not valid JSON", req.StepID)
		}
		v := string(req.Results)
		p.results = &v
	}
	meta := map[string]any{}
	for k, v := range req.Metadata {
		meta[k] = v
	}
	if ev := state.Step.EventFor(f.state, req.To); ev != "" {
		meta["event"] = ev
	}
	if req.WorkerID != "" {
		meta["worker_id"] = req.WorkerID
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return nil, errs.Wrap(errs.Validation, err, "transition metadata")
	}
	p.meta = string(b)
	return p, nil
}

// advance applies a planned transition to the in-memory facts.
func advance(f *stepFacts, req StepTransition) {
	f.state = req.To
	f.claimedBy = ""
	if req.To == state.InProgress {
		f.claimedBy = req.WorkerID
	}
	f.sortKey++
	f.transitionsIn++
	switch req.To {
	case state.InProgress:
		f.attempts++
	case state.Error:
		if req.Permanent {
			f.retryable = false
		}
	}
}

// loadStepFacts locks the steps' rows in id order (every writer of step
// transitions in Tasker Core goes through here, so concurrent batches serialize
// per step and cannot deadlock; NO KEY UPDATE leaves foreign-key checks of other
// tables free) and then reads their facts in a second statement, which in READ
// COMMITTED sees everything committed before the locks were granted. Both
// statements go to the server in one round trip.
func loadStepFacts(ctx context.Context, tx pgx.Tx, ids []int64) (map[int64]*stepFacts, error) {
	b := &pgx.Batch{}
	// Tasks first, then steps, each in id order: the one lock order of every writer
	// (claims lock tasks first too). The task lock also serializes the task's
	// event sequence (tasker_events.task_seq).
	queueExec(b, "lock tasks", `SELECT task_id FROM tasker_tasks WHERE task_id = ANY (ARRAY(
			SELECT task_id FROM tasker_workflow_steps WHERE workflow_step_id = ANY ($1)))
		ORDER BY task_id FOR NO KEY UPDATE`, ids)
	out := make(map[int64]*stepFacts, len(ids))
	queueStepFacts(b, lockStepsSQL, stepFactsSQL, out, ids, readiness.DefaultRetryLimit)
	return out, tx.SendBatch(ctx, b).Close()
}

// The steps' locks and facts by ids ($1), and by the steps a claim's pick took
// (claimStepIDs, set by the pick in the same transaction; its $1 is the retry
// limit). The "= ANY (ids)" terms beside the joins on ids, here and in the
// round's other statements, let the kept (generic) plan, which guesses ten ids,
// read every table by its index on a small database too, where a join alone
// was planned as a scan of the whole table
// (TestRoundStatementsUseIndexesOnASmallDatabase).
var (
	lockStepsSQL      = lockStepsBy("$1")
	stepFactsSQL      = stepFactsBy("$1", "$2")
	claimLockStepsSQL = lockStepsBy(claimStepIDs)
	claimStepFactsSQL = stepFactsBy(claimStepIDs, "$1")
)

// claimStepIDs is the array of the steps the last claim's pick took (the
// transaction-local tasker.claim_step_ids; none before a pick).
const claimStepIDs = `string_to_array(NULLIF(current_setting('tasker.claim_step_ids', true), ''), ',')::bigint[]`

func lockStepsBy(ids string) string {
	return `SELECT workflow_step_id FROM tasker_workflow_steps WHERE workflow_step_id = ANY (` + ids + `)
		ORDER BY workflow_step_id FOR NO KEY UPDATE`
}

func stepFactsBy(ids, retryLimit string) string {
	return `
		SELECT ws.workflow_step_id, COALESCE(t.to_state, 'pending'), COALESCE(t.sort_key, 0),
		       COALESCE(ws.attempts, 0), COALESCE(ws.retry_limit, ` + retryLimit + `), COALESCE(ws.retryable, true),
		       COALESCE(p.ids, '{}'), COALESCE(p.names, '{}'), COALESCE(p.states, '{}'), COALESCE(ws.claimed_by, ''),
		       ws.task_id, (SELECT k.correlation_id::text FROM tasker_tasks k WHERE k.task_id = ws.task_id),
		       (SELECT ns.name FROM tasker_named_steps ns WHERE ns.named_step_id = ws.named_step_id),
		       COALESCE((SELECT tt.to_state FROM tasker_task_transitions tt WHERE tt.task_id = ws.task_id AND tt.most_recent), 'pending')
		FROM tasker_workflow_steps ws
		LEFT JOIN tasker_workflow_step_transitions t ON t.workflow_step_id = ws.workflow_step_id AND t.most_recent
		                                          AND t.workflow_step_id = ANY (` + ids + `)
		LEFT JOIN LATERAL (
			SELECT array_agg(e.from_step_id ORDER BY pns.name) AS ids,
			       array_agg(pns.name::text ORDER BY pns.name) AS names,
			       array_agg(COALESCE(ps.current_state, 'pending') ORDER BY pns.name) AS states
			FROM tasker_workflow_step_edges e
			JOIN tasker_workflow_steps ps ON ps.workflow_step_id = e.from_step_id
			JOIN tasker_named_steps pns ON pns.named_step_id = ps.named_step_id
			WHERE e.to_step_id = ws.workflow_step_id
		) p ON true
		WHERE ws.workflow_step_id = ANY (` + ids + `)`
}

// queueStepFacts queues the steps' locks (lockSQL) and then the read of their
// facts (factsSQL, a statement of its own: it sees what was committed before the
// locks were granted) into out.
func queueStepFacts(b *pgx.Batch, lockSQL, factsSQL string, out map[int64]*stepFacts, args ...any) {
	queueExec(b, "lock steps", lockSQL, args[:len(args)-1]...)
	b.Queue(factsSQL, args...).Fn = func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return dbErr(err, "read step states")
		}
		var id int64
		var cur, taskState string
		var states []string
		f := &stepFacts{}
		_, err = pgx.ForEachRow(rows, []any{&id, &cur, &f.sortKey, &f.attempts, &f.limit, &f.retryable, &f.parents,
			&f.parentNames, &states, &f.claimedBy, &f.taskID, &f.correlationID, &f.name, &taskState}, func() error {
			c := *f
			c.state, c.taskState = state.State(cur), state.State(taskState)
			c.parentStates = make([]state.State, len(states))
			for i, st := range states {
				c.parentStates[i] = state.State(st)
			}
			out[id] = &c
			return nil
		})
		return dbErr(err, "read step states")
	}
}

// stepStateWrittenSQL tells the trigger that follows step transitions
// (migration 0017) that this transaction writes the steps' current_state and
// last_failure_at itself, as every insert of a step transition by Tasker Core
// does (queueRound, CreateTask); it lasts until the transaction ends.
const stepStateWrittenSQL = `SELECT set_config('tasker.step_state_written', 'on', true)`

// queueRound queues the round-th transition of each planned step: the step
// columns in one statement, then the compare-and-swap of the current rows with
// the insert of the new ones in another, then the transitions' events.
func (s *Store) queueRound(ctx context.Context, b *pgx.Batch, plan []planned, round int, outcomes []BatchOutcome) {
	var (
		ids, idxs          []int64
		froms, tos, metas  []string
		sortKeys, backoffs []*int32
		results            []*string
		permanent          []bool
		workers            []string
		leases             []float64
	)
	for _, p := range plan {
		if p.round != round {
			continue
		}
		ids = append(ids, p.req.StepID)
		idxs = append(idxs, int64(p.outcome))
		froms = append(froms, string(p.from))
		tos = append(tos, string(p.req.To))
		metas = append(metas, p.meta)
		sk := p.sortKey
		sortKeys = append(sortKeys, &sk)
		results = append(results, p.results)
		backoffs = append(backoffs, p.req.BackoffRequestSeconds)
		permanent = append(permanent, p.req.Permanent)
		workers = append(workers, p.req.WorkerID)
		leases = append(leases, p.req.LeaseSeconds)
	}
	if len(ids) == 0 {
		return
	}
	// The step columns first, their current state among them (migration 0017),
	// and the transitions' trigger told that this transaction writes them
	// itself (the setting, a one-time filter of the same statement). Should the
	// compare-and-swap below fail, the transaction is rolled back with them.
	queueExec(b, "update steps", `
		UPDATE tasker_workflow_steps ws SET
			in_process = (u.to_state = 'in_progress'),
			attempts = CASE WHEN u.to_state = 'in_progress' THEN COALESCE(ws.attempts, 0) + 1 ELSE ws.attempts END,
			last_attempted_at = CASE WHEN u.to_state = 'in_progress' THEN now() ELSE ws.last_attempted_at END,
			backoff_request_seconds = CASE u.to_state WHEN 'in_progress' THEN NULL WHEN 'error' THEN u.backoff
			                          ELSE ws.backoff_request_seconds END,
			processed = CASE WHEN u.to_state IN ('complete', 'resolved_manually') THEN true ELSE ws.processed END,
			processed_at = CASE WHEN u.to_state IN ('complete', 'resolved_manually') THEN now() ELSE ws.processed_at END,
			results = CASE WHEN u.to_state IN ('complete', 'error') THEN COALESCE(u.results, ws.results) ELSE ws.results END,
			retryable = CASE WHEN u.to_state = 'error' AND u.permanent THEN false ELSE ws.retryable END,
			claimed_by = CASE WHEN u.to_state = 'in_progress' THEN NULLIF(u.worker, '') END,
			lease_expires_at = CASE WHEN u.to_state = 'in_progress' AND u.lease > 0
			                        THEN now() + make_interval(secs => u.lease) END,
			lease_seconds = CASE WHEN u.to_state = 'in_progress' AND u.lease > 0 THEN u.lease END,
			runnable_at = CASE WHEN u.to_state IN ('in_progress', 'complete', 'resolved_manually', 'cancelled') THEN NULL
			                   ELSE ws.runnable_at END,
			current_state = u.to_state,
			last_failure_at = CASE WHEN u.to_state = 'error' THEN now() ELSE ws.last_failure_at END,
			updated_at = now()
		FROM unnest($1::bigint[], $2::text[], $3::jsonb[], $4::int[], $5::bool[], $6::text[], $7::float8[])
		     AS u(id, to_state, results, backoff, permanent, worker, lease)
		WHERE ws.workflow_step_id = u.id AND ws.workflow_step_id = ANY ($1)
		  AND (`+stepStateWrittenSQL+`) IS NOT NULL`, ids, tos, results, backoffs, permanent, workers, leases)

	// Steps with a current row: retire it only if it is still current and in the
	// planned from-state (a concurrent winner retired it otherwise; PostgreSQL
	// re-checks the row after waiting for the winner's lock). Steps with no row yet
	// (adopted engine rows) get sort key 1, and the unique (step, sort_key) index
	// lets only one first insert win.
	b.Queue(`
		WITH u AS (
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::jsonb[], $5::int[], $6::bigint[])
			         AS u(id, from_state, to_state, meta, sort_key, idx)
		), prev AS (
			UPDATE tasker_workflow_step_transitions t SET most_recent = false, updated_at = now()
			FROM u
			WHERE u.sort_key > 0 AND t.workflow_step_id = u.id AND t.most_recent
			  AND t.to_state = u.from_state AND t.sort_key = u.sort_key
			RETURNING t.workflow_step_id
		)
		INSERT INTO tasker_workflow_step_transitions
			(workflow_step_id, from_state, to_state, metadata, sort_key, most_recent, created_at, updated_at)
		SELECT u.id, u.from_state, u.to_state, u.meta, u.sort_key + 1, true, now(), now()
		FROM u
		WHERE u.sort_key = 0 OR u.id IN (SELECT workflow_step_id FROM prev)
		ORDER BY u.idx
		RETURNING id, workflow_step_id, sort_key, created_at`,
		ids, froms, tos, metas, sortKeys, idxs).Fn = func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return dbErr(err, "write transitions")
		}
		byStep := make(map[int64]Transition, len(ids))
		var tr Transition
		_, err = pgx.ForEachRow(rows, []any{&tr.ID, &tr.OwnerID, &tr.SortKey, &tr.CreatedAt}, func() error {
			byStep[tr.OwnerID] = tr
			return nil
		})
		if isUniqueViolation(err) {
			return errConcurrentChange
		}
		if err != nil {
			return dbErr(err, "write transitions")
		}
		if len(byStep) != len(ids) {
			return errConcurrentChange
		}
		for _, p := range plan {
			if p.round != round {
				continue
			}
			t := byStep[p.req.StepID]
			o := &outcomes[p.outcome]
			o.Status, o.From, o.TransitionID = OutcomeApplied, p.from, t.ID
			o.transition = Transition{ID: t.ID, OwnerID: t.OwnerID, From: p.from, To: p.req.To, SortKey: t.SortKey,
				Metadata: decodeObject([]byte(p.meta)), CreatedAt: t.CreatedAt.UTC(), Event: state.Step.EventFor(p.from, p.req.To)}
		}
		return nil
	}

	s.queueStepEvents(plan, round, outcomes, s.gathering(b))
}

// Transition returns the audit row an applied outcome wrote.
func (o BatchOutcome) Transition() Transition { return o.transition }

func (o BatchOutcome) String() string {
	return fmt.Sprintf("#%d step %d %s->%s: %s", o.Index, o.StepID, o.From, o.To, o.Status)
}

// refreshTasksOf recomputes the schedule (ready_at) of the tasks whose steps the
// outcomes moved, so a claim across tasks finds work made ready by any writer.
func refreshTasksOf(ctx context.Context, tx pgx.Tx, outs []BatchOutcome) error {
	var ids []int64
	seen := map[int64]bool{}
	for _, o := range outs {
		if o.Status == OutcomeApplied && !seen[o.TaskID] {
			seen[o.TaskID] = true
			ids = append(ids, o.TaskID)
		}
	}
	return scheduleTasks(ctx, tx, ids)
}

// queueStepEvents adds the lifecycle event of each transition of the round to
// ev, the batch's events (nil: events are off); its statement numbers each
// task's events on from tasker_tasks.event_seq (the task row is locked, so the
// sequence is gapless and in commit order) and wakes LISTENers at commit.
func (s *Store) queueStepEvents(plan []planned, round int, outcomes []BatchOutcome, ev *roundEvents) {
	if ev == nil {
		return
	}
	for _, p := range plan {
		if p.round != round {
			continue
		}
		if name := state.Step.EventFor(p.from, p.req.To); name != "" {
			ev.addLifecycle(outcomes[p.outcome].TaskID, p.req.StepID, round, p.outcome, len(outcomes), name, p.from, p.req.To)
		}
	}
}

// wfEvent is an orchestration event (workflow.* / observability.*) about a task.
type wfEvent struct {
	taskID  int64
	name    string
	payload map[string]any
}

// writeWorkflowEvents appends orchestration events to the outbox in the tasks'
// event sequences; the caller holds the tasks' rows (claims, reports and
// recoveries lock them first).
func (s *Store) writeWorkflowEvents(ctx context.Context, tx pgx.Tx, evs []wfEvent) error {
	b := &pgx.Batch{}
	if err := s.queueWorkflowEvents(ctx, b, evs); err != nil || b.Len() == 0 {
		return err
	}
	return tx.SendBatch(ctx, b).Close()
}

// queueWorkflowEvents queues writeWorkflowEvents's statement in b.
func (s *Store) queueWorkflowEvents(ctx context.Context, b *pgx.Batch, evs []wfEvent) error {
	if len(evs) == 0 || !s.eventsEnabled {
		return nil
	}
	if ev := s.gathering(b); ev != nil {
		return ev.addWorkflow(evs)
	}
	// A statement of their own, as the gathered events are written.
	ev := &roundEvents{batch: b}
	if err := ev.addWorkflow(evs); err != nil {
		return err
	}
	queueRoundEvents(ctx, ev)
	return nil
}
