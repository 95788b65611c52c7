package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// The schedule: when each step can next run (tasker_workflow_steps.runnable_at,
// migration 0016, computed by the SQL function tasker_step_runnable_at by
// readiness's rules) and, from it, when each task next has work
// (tasker_tasks.ready_at: the least runnable_at of its steps; NULL for a task
// that has ended or is in error). Every write that moves steps recomputes the
// steps it moved and their children, then the tasks' ready_at from the index
// on (task_id, runnable_at): the cost is in proportion to the steps changed,
// not to the size of their tasks. Claims find ready steps through the same
// index.

// scheduleStepsSQL recomputes runnable_at of the steps $1 and of the children of
// the steps $2 (whose dependencies a change of state may have met or unmet).
// Rows whose value does not change are not written.
const scheduleStepsSQL = `
	UPDATE tasker_workflow_steps ws SET runnable_at = r.runnable_at
	FROM tasker_step_runnable_at(ARRAY(
		SELECT unnest($1::bigint[])
		UNION
		SELECT e.to_step_id FROM tasker_workflow_step_edges e WHERE e.from_step_id = ANY ($2::bigint[]))) r
	WHERE ws.workflow_step_id = r.workflow_step_id AND ws.runnable_at IS DISTINCT FROM r.runnable_at`

// scheduleTaskStepsSQL recomputes runnable_at of every step of the tasks $1 (at
// creation, after an operator's action, and to repair a schedule written by
// something other than Tasker Core).
const scheduleTaskStepsSQL = `
	UPDATE tasker_workflow_steps ws SET runnable_at = r.runnable_at
	FROM tasker_step_runnable_at(ARRAY(
		SELECT s.workflow_step_id FROM tasker_workflow_steps s WHERE s.task_id = ANY ($1::bigint[]))) r
	WHERE ws.workflow_step_id = r.workflow_step_id AND ws.runnable_at IS DISTINCT FROM r.runnable_at`

// rescheduleFailedSQL recomputes runnable_at of every step with a failure that
// may run again (after the retry policy changed), then their tasks' ready_at.
const rescheduleFailedSQL = `
	WITH r AS (
		SELECT * FROM tasker_step_runnable_at(ARRAY(
			SELECT s.workflow_step_id FROM tasker_workflow_steps s
			WHERE s.runnable_at IS NOT NULL AND s.task_id IN (SELECT task_id FROM tasker_tasks WHERE NOT complete)))
	), moved AS (
		UPDATE tasker_workflow_steps ws SET runnable_at = r.runnable_at FROM r
		WHERE ws.workflow_step_id = r.workflow_step_id AND ws.runnable_at IS DISTINCT FROM r.runnable_at
		RETURNING ws.task_id
	)
	SELECT DISTINCT task_id FROM moved`

// scheduleTasksSQL sets the ready_at of the tasks $1 from their steps' schedule.
const scheduleTasksSQL = `
	UPDATE tasker_tasks t SET ready_at = CASE
			WHEN COALESCE((SELECT tt.to_state FROM tasker_task_transitions tt
			               WHERE tt.task_id = t.task_id AND tt.most_recent), 'pending')
			     IN ('complete', 'cancelled', 'resolved_manually', 'error') THEN NULL
			ELSE (SELECT min(ws.runnable_at) FROM tasker_workflow_steps ws
			      WHERE ws.task_id = t.task_id AND ws.runnable_at IS NOT NULL)
		END
	WHERE t.task_id = ANY ($1::bigint[])`

// batchSender is a transaction or the pool.
type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// scheduleTasks recomputes the ready_at of tasks from their steps' schedule.
func scheduleTasks(ctx context.Context, tx batchSender, taskIDs []int64) error {
	if len(taskIDs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	queueExec(b, "schedule tasks", scheduleTasksSQL, taskIDs)
	return tx.SendBatch(ctx, b).Close()
}

// rescheduleTasks recomputes the schedule of every step of the tasks, then the
// tasks' ready_at: O(task), for creation, operators' actions and repairs.
func rescheduleTasks(ctx context.Context, tx pgx.Tx, taskIDs []int64) error {
	if len(taskIDs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	b.Queue(scheduleTaskStepsSQL, taskIDs)
	b.Queue(scheduleTasksSQL, taskIDs)
	return dbErr(tx.SendBatch(ctx, b).Close(), "reschedule")
}
