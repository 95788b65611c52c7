package store

import (
	"context"
	"time"

	"github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
)

// roundEvents gathers the events of one batch of step transitions (applyWithFacts)
// into one statement: the transitions' lifecycle events, every round's, and the
// workflow events queued into the same batch after them (a report's
// workflow.step_completed, a claim's workflow.viable_steps_discovered). One
// statement bumps each task's event_seq once where two or three did, each an
// update of the task's row.
//
// Each task's events keep the order separate statements gave them: the rounds'
// lifecycle events in round order, within a round in request order, then the
// workflow events in the order they were queued.
type roundEvents struct {
	batch   *pgx.Batch
	tasks   []int64
	steps   []int64 // 0 for a workflow event (no step_id)
	idxs    []int64
	names   []string
	froms   []string // a lifecycle event's states; "" for a workflow event
	tos     []string
	payload []*string // a workflow event's payload; nil for a lifecycle event (built in SQL)
	next    int64     // the next workflow event's idx
	// schedule: tasks whose ready_at the statement sets (scheduleTasksInto),
	// read into readyAt when it is not nil
	schedule []int64
	readyAt  map[int64]*time.Time
}

// openRoundEvents starts gathering the events queued into b (until
// closeRoundEvents): queueStepEvents and queueWorkflowEvents add to it instead
// of queueing statements of their own.
func (s *Store) openRoundEvents(b *pgx.Batch, rounds, outcomes int) *roundEvents {
	ev := &roundEvents{batch: b, next: int64(rounds) * int64(outcomes)}
	s.roundEventsMu.Lock()
	if s.roundEvents == nil {
		s.roundEvents = map[*pgx.Batch]*roundEvents{}
	}
	s.roundEvents[b] = ev
	s.roundEventsMu.Unlock()
	return ev
}

// gathering returns the roundEvents open for b, or nil.
func (s *Store) gathering(b *pgx.Batch) *roundEvents {
	s.roundEventsMu.Lock()
	defer s.roundEventsMu.Unlock()
	return s.roundEvents[b]
}

// closeRoundEvents stops gathering for ev's batch; queue, when true, queues the
// gathered events' statement at the batch's end.
func (s *Store) closeRoundEvents(ctx context.Context, ev *roundEvents, queue bool) {
	s.roundEventsMu.Lock()
	delete(s.roundEvents, ev.batch)
	s.roundEventsMu.Unlock()
	if queue {
		queueRoundEvents(ctx, ev)
	}
}

// queueRoundEvents queues the statement that writes ev's rows (none: nothing).
func queueRoundEvents(ctx context.Context, ev *roundEvents) {
	if len(ev.tasks) == 0 && len(ev.schedule) == 0 {
		return
	}
	live := collectorFrom(ctx) != nil
	schedule := ev.schedule
	if live && ev.readyAt != nil && len(schedule) > 0 {
		// The live statement returns the events: the schedule read in a
		// statement of its own, after it.
		defer queueScheduleTasksReturning(ev.batch, schedule, ev.readyAt)
		schedule = nil
	}
	if schedule == nil {
		schedule = []int64{}
	}
	args := []any{ev.tasks, ev.steps, ev.idxs, ev.names, ev.froms, ev.tos, ev.payload, schedule}
	if live || ev.readyAt == nil || len(schedule) == 0 {
		queueEvents(ctx, ev.batch, "write events", roundEventsSQL+eventTail(live), args...)
		return
	}
	readyAt := ev.readyAt
	ev.batch.Queue(roundEventsSQL+scheduledTail, args...).Fn = func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return dbErr(err, "write events")
		}
		return dbErr(collectReadyAt(rows, readyAt), "write events")
	}
}

// scheduledTail ends roundEventsSQL returning the scheduled tasks' ready_at
// (and a row of task 0 for the wake-up of LISTENers, when something was
// written).
const scheduledTail = `SELECT b.task_id, b.ready_at FROM bumped b WHERE b.sched
		UNION ALL
		SELECT 0::bigint, NULL::timestamptz FROM (SELECT ` + notifyExpr + ` AS n FROM (SELECT 1 FROM written LIMIT 1) w) x`

// scheduleTasksInto has the ready_at of taskIDs set from their steps' schedule
// at the end of b (read into readyAt unless it is nil): by the statement of
// the events gathered for b, or by a statement of its own when b gathers none.
func (s *Store) scheduleTasksInto(b *pgx.Batch, taskIDs []int64, readyAt map[int64]*time.Time) {
	if len(taskIDs) == 0 {
		return
	}
	if ev := s.gathering(b); ev != nil {
		ev.schedule = append(ev.schedule, taskIDs...)
		if readyAt != nil {
			ev.readyAt = readyAt
		}
		return
	}
	if readyAt != nil {
		queueScheduleTasksReturning(b, taskIDs, readyAt)
		return
	}
	queueExec(b, "schedule tasks", scheduleTasksSQL, taskIDs)
}

// absorb takes the rows gathered by carry (a report's finalization events,
// gathered from the batch that went with the claim's pick) ahead of every
// row of ev: each task's finalization events keep their place before the
// claim's.
func (ev *roundEvents) absorb(carry *roundEvents) {
	if carry == nil {
		return
	}
	ev.schedule = append(ev.schedule, carry.schedule...)
	carry.schedule = nil
	if carry.readyAt != nil {
		ev.readyAt = carry.readyAt
	}
	for i := range carry.tasks {
		ev.tasks = append(ev.tasks, carry.tasks[i])
		ev.steps = append(ev.steps, carry.steps[i])
		ev.idxs = append(ev.idxs, carry.idxs[i]-carry.next) // carry's are 0…next-1: below 0, in carry's order
		ev.names = append(ev.names, carry.names[i])
		ev.froms, ev.tos = append(ev.froms, carry.froms[i]), append(ev.tos, carry.tos[i])
		ev.payload = append(ev.payload, carry.payload[i])
	}
	carry.tasks = nil
}

// writeNow writes the rows ev gathered so far in a round trip of their own
// (ev keeps gathering for its batch): events that must precede a statement
// that numbers events itself (a task transition).
func (ev *roundEvents) writeNow(ctx context.Context, tx pgx.Tx) error {
	if len(ev.tasks) == 0 {
		return nil
	}
	now := &roundEvents{batch: &pgx.Batch{}, tasks: ev.tasks, steps: ev.steps, idxs: ev.idxs, names: ev.names,
		froms: ev.froms, tos: ev.tos, payload: ev.payload}
	queueRoundEvents(ctx, now)
	ev.tasks, ev.steps, ev.idxs, ev.names, ev.froms, ev.tos, ev.payload = nil, nil, nil, nil, nil, nil, nil
	return tx.SendBatch(ctx, now.batch).Close()
}

// addLifecycle adds the lifecycle event of a step's transition (round-th of
// the batch, at outcome index outcome of n).
func (ev *roundEvents) addLifecycle(taskID, stepID int64, round, outcome, n int, name string, from, to state.State) {
	ev.tasks = append(ev.tasks, taskID)
	ev.steps = append(ev.steps, stepID)
	ev.idxs = append(ev.idxs, int64(round)*int64(n)+int64(outcome))
	ev.names = append(ev.names, name)
	ev.froms, ev.tos = append(ev.froms, string(from)), append(ev.tos, string(to))
	ev.payload = append(ev.payload, nil)
}

// addWorkflow adds workflow events, after every lifecycle event of their tasks.
func (ev *roundEvents) addWorkflow(evs []wfEvent) error {
	for _, e := range evs {
		p, err := workflowPayload(e)
		if err != nil {
			return err
		}
		ev.tasks = append(ev.tasks, e.taskID)
		ev.steps = append(ev.steps, 0)
		ev.idxs = append(ev.idxs, ev.next)
		ev.next++
		ev.names = append(ev.names, e.name)
		ev.froms, ev.tos = append(ev.froms, ""), append(ev.tos, "")
		ev.payload = append(ev.payload, &p)
	}
	return nil
}

// workflowPayload is a workflow event's payload: task_id and the event's own
// fields.
func workflowPayload(e wfEvent) (string, error) {
	p := map[string]any{"task_id": e.taskID}
	for k, v := range e.payload {
		p[k] = v
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", errs.Wrap(errs.Internal, err, "event payload")
	}
	return string(b), nil
}

// roundEventsSQL writes roundEvents' rows: each task's events numbered on from
// its event_seq in idx order; a lifecycle event's payload built from its step
// (the step's name), a workflow event's given. The same update of each task's
// row sets the ready_at of the tasks $8 from their steps' schedule (the
// batch's writes before it included), so a round writes its tasks' rows once.
const roundEventsSQL = `
		WITH ev AS (
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::jsonb[])
			         AS e(task_id, step_id, idx, name, from_state, to_state, payload)
		), counts AS (
			SELECT task_id, sum(n)::bigint AS n, bool_or(sched) AS sched FROM (
				SELECT task_id, count(*) AS n, false AS sched FROM ev GROUP BY task_id
				UNION ALL
				SELECT unnest($8::bigint[]), 0, true
			) x GROUP BY task_id
		), bumped AS (
			UPDATE tasker_tasks t SET event_seq = t.event_seq + c.n,
				ready_at = CASE WHEN c.sched THEN ` + taskReadyAtExpr + ` ELSE t.ready_at END
			FROM counts c
			WHERE t.task_id = c.task_id AND t.task_id = ANY ($1 || $8)
			RETURNING t.task_id, t.event_seq - c.n AS base, t.correlation_id, t.ready_at, c.sched
		), written AS (
			INSERT INTO tasker_events (task_id, task_seq, step_id, name, correlation_id, payload)
			SELECT ev.task_id, b.base + row_number() OVER (PARTITION BY ev.task_id ORDER BY ev.idx),
			       NULLIF(ev.step_id, 0), ev.name, b.correlation_id,
			       COALESCE(ev.payload,
			                jsonb_build_object('task_id', ev.task_id, 'step_id', ev.step_id, 'step_name', ns.name,
			                                   'from_state', ev.from_state, 'to_state', ev.to_state,
			                                   'transitioned_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
			FROM ev
			JOIN bumped b ON b.task_id = ev.task_id
			LEFT JOIN tasker_workflow_steps ws ON ws.workflow_step_id = ev.step_id AND ws.workflow_step_id = ANY ($2)
			LEFT JOIN tasker_named_steps ns ON ns.named_step_id = ws.named_step_id
			ORDER BY ev.task_id, ev.idx
			` + eventColumns + `
		)
		`
