package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/taskercore/tasker-core/sqlfuncs"
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
const scheduleStepsSQL = `SELECT tasker_schedule_steps($1::bigint[], $2::bigint[])`

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

// taskReadyAtExpr is the ready_at of the task row t from its steps' schedule:
// NULL once the task has ended or is in error, else its steps' least
// runnable_at.
const taskReadyAtExpr = `CASE
			WHEN COALESCE((SELECT tt.to_state FROM tasker_task_transitions tt
			               WHERE tt.task_id = t.task_id AND tt.most_recent), 'pending')
			     IN ('complete', 'cancelled', 'resolved_manually', 'error') THEN NULL
			ELSE (SELECT min(ws.runnable_at) FROM tasker_workflow_steps ws
			      WHERE ws.task_id = t.task_id AND ws.runnable_at IS NOT NULL)
		END`

// scheduleTasksSQL sets the ready_at of the tasks $1 from their steps' schedule.
const scheduleTasksSQL = `
	UPDATE tasker_tasks t SET ready_at = ` + taskReadyAtExpr + `
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

// taskProgressSQL reads what finalization decides on for the tasks $1 from the
// step rows and the schedule, written earlier in the same transaction: counts
// by current state, ready = runnable_at due, blocked = failed with no retry
// left (readiness's retry_eligible), next_retry_at = the earliest future
// runnable_at, and the execution context's execution_status from them
// (tasker_execution_status). It answers what get_task_execution_contexts_batch
// would for those fields (TestStepScheduleMatchesReadiness holds them equal)
// for one index scan of each task's steps, not readiness per step.
const taskProgressSQL = `
	SELECT t.task_id, COALESCE(tt.to_state, 'pending')::text, t.correlation_id,
	       a.in_progress, r.ready, r.next_retry_at,
	       tasker_execution_status(r.ready, a.in_progress, a.blocked, a.completed, a.total)
	FROM tasker_tasks t
	LEFT JOIN tasker_task_transitions tt ON tt.task_id = t.task_id AND tt.most_recent AND tt.task_id = ANY ($1)
	CROSS JOIN LATERAL (
		SELECT count(*)::integer AS total,
		       count(*) FILTER (WHERE ws.current_state IN ('complete', 'resolved_manually'))::integer AS completed,
		       count(*) FILTER (WHERE ws.current_state = 'in_progress')::integer AS in_progress,
		       count(*) FILTER (WHERE ws.runnable_at <= now())::integer AS ready,
		       count(*) FILTER (WHERE ws.current_state = 'error'
		                          AND NOT ((COALESCE(ws.attempts, 0) = 0 AND ws.last_failure_at IS NULL)
		                                   OR (COALESCE(ws.retryable, true)
		                                       AND COALESCE(ws.attempts, 0) < COALESCE(ws.retry_limit, 3))))::integer AS blocked,
		       min(ws.runnable_at) FILTER (WHERE ws.runnable_at > now()) AS next_retry_at
		FROM tasker_workflow_steps ws WHERE ws.task_id = t.task_id
	) a
	-- The steps of a task that ended keep their schedule (the task's ready_at,
	-- NULL, keeps them unclaimed); readiness calls none of them ready.
	CROSS JOIN LATERAL (
		SELECT CASE WHEN tt.to_state IN ('complete', 'cancelled', 'resolved_manually') THEN 0 ELSE a.ready END AS ready,
		       CASE WHEN tt.to_state IN ('complete', 'cancelled', 'resolved_manually') THEN NULL ELSE a.next_retry_at END AS next_retry_at
	) r
	WHERE t.task_id = ANY ($1)
	ORDER BY t.task_id`

// queueTaskProgress queues taskProgressSQL, its rows into *out as execution
// contexts with the fields finalization reads (TaskID, Status, CorrelationID,
// InProgressSteps, ReadySteps, NextRetryAt, ExecutionStatus).
func queueTaskProgress(b *pgx.Batch, taskIDs []int64, out *[]sqlfuncs.TaskExecutionContext) {
	b.Queue(taskProgressSQL, taskIDs).Fn = func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return dbErr(err, "task progress")
		}
		*out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (sqlfuncs.TaskExecutionContext, error) {
			var c sqlfuncs.TaskExecutionContext
			err := r.Scan(&c.TaskID, &c.Status, &c.CorrelationID, &c.InProgressSteps, &c.ReadySteps, &c.NextRetryAt,
				&c.ExecutionStatus)
			if c.NextRetryAt != nil {
				t := c.NextRetryAt.UTC()
				c.NextRetryAt = &t
			}
			return c, err
		})
		return dbErr(err, "task progress")
	}
}
