-- Task execution context (REFERENCE §4): readiness aggregated per task, with the
-- decision table's execution_status and recommended_action.
CREATE TYPE tasker_task_execution_context_row AS (
    task_id bigint,
    named_task_id integer,
    status text,
    total_steps integer,
    pending_steps integer,
    in_progress_steps integer,
    completed_steps integer,
    failed_steps integer,
    ready_steps integer,
    execution_status text,
    recommended_action text,
    completion_percentage numeric(5, 2),
    health_status text,
    permanently_blocked_steps integer,
    cancelled_steps integer,
    next_retry_at timestamptz,
    correlation_id uuid
);

-- The decision table's execution_status from a task's step counts (REFERENCE §4),
-- in its order. Shared by the execution context and by finalization's read of
-- the step schedule (core/store/schedule.go), so the two cannot disagree.
CREATE FUNCTION tasker_execution_status(ready integer, in_progress integer, blocked integer,
                                        completed integer, total integer)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
               WHEN ready > 0 THEN 'has_ready_steps'
               WHEN in_progress > 0 THEN 'processing'
               WHEN blocked > 0 THEN 'blocked_by_failures'
               WHEN total > 0 AND completed = total THEN 'all_complete'
               ELSE 'waiting_for_dependencies'
           END
$$;

-- Per task, its steps counted by state, and by what readiness (002) would say of
-- them: ready, blocked (failed, no retry left: not retry_eligible), and the
-- earliest retry time of a step in backoff. One index scan of the task's steps
-- (state and last failure are on the step rows, migration 0017) and, only for a
-- step that could otherwise run, a look at its parents: readiness's rules one
-- step at a time, as the schedule computes them (007, tasker_step_runnable_rows),
-- without readiness's reason columns, which a context does not return. run_at is
-- when the step can run: NULL = it cannot (wrong state, task ended, processed,
-- claimed, no retry left, a parent unfinished); '-infinity' = now, whatever
-- as_of; otherwise its retry time. TestStepScheduleMatchesReadiness holds the
-- counts equal to the schedule's and the readiness tests to readiness's.
CREATE FUNCTION tasker_task_execution_contexts(task_ids bigint[], as_of timestamptz)
RETURNS SETOF tasker_task_execution_context_row
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT t.task_id, t.named_task_id,
       COALESCE(tt.to_state, 'pending')::text AS status,
       a.total, a.pending, a.in_progress, a.completed, a.failed, a.ready,
       tasker_execution_status(a.ready, a.in_progress, a.blocked, a.completed, a.total),
       CASE
           WHEN a.ready > 0 THEN 'execute_ready_steps'
           WHEN a.in_progress > 0 THEN 'wait_for_completion'
           WHEN a.blocked > 0 THEN 'handle_failures'
           WHEN a.total > 0 AND a.completed = a.total THEN 'finalize_task'
           ELSE 'wait_for_dependencies'
       END AS recommended_action,
       CASE WHEN a.total = 0 THEN 0.00
            ELSE round(a.completed::numeric * 100 / a.total, 2)
       END::numeric(5, 2) AS completion_percentage,
       -- The engine's rule, in its order: no failed step (a task without steps
       -- too) is healthy; failures with work ready are recovering; a permanent
       -- failure and nothing ready is blocked; failures that may all be retried
       -- are recovering. The last branch cannot be reached (as in the engine).
       CASE
           WHEN a.failed = 0 THEN 'healthy'
           WHEN a.ready > 0 THEN 'recovering'
           WHEN a.blocked > 0 AND a.ready = 0 THEN 'blocked'
           WHEN a.blocked = 0 AND a.ready = 0 THEN 'recovering'
           ELSE 'unknown'
       END AS health_status,
       a.blocked, a.cancelled, a.next_retry_at,
       t.correlation_id
FROM tasker_tasks t
LEFT JOIN tasker_task_transitions tt ON tt.task_id = t.task_id AND tt.most_recent
CROSS JOIN LATERAL (
    SELECT count(*)::integer AS total,
           count(*) FILTER (WHERE s.state = 'pending')::integer AS pending,
           count(*) FILTER (WHERE s.state = 'in_progress')::integer AS in_progress,
           count(*) FILTER (WHERE s.state IN ('complete', 'resolved_manually'))::integer AS completed,
           count(*) FILTER (WHERE s.state = 'error')::integer AS failed,
           count(*) FILTER (WHERE s.state = 'cancelled')::integer AS cancelled,
           count(*) FILTER (WHERE s.run_at <= COALESCE(as_of, now()))::integer AS ready,
           count(*) FILTER (WHERE s.state = 'error' AND NOT s.retry_ok)::integer AS blocked,
           min(s.run_at) FILTER (WHERE s.run_at > COALESCE(as_of, now())) AS next_retry_at
    FROM (
        SELECT b.state, b.retry_ok,
               CASE
                   WHEN b.state NOT IN ('pending', 'error') OR COALESCE(tt.to_state, 'pending') IN ('complete', 'cancelled', 'resolved_manually')
                        OR b.processed OR b.in_process OR NOT b.retry_ok
                        OR EXISTS (SELECT 1 FROM tasker_workflow_step_edges e
                                   JOIN tasker_workflow_steps ps ON ps.workflow_step_id = e.from_step_id
                                   WHERE e.to_step_id = b.workflow_step_id
                                     AND COALESCE(ps.current_state, 'pending') NOT IN ('complete', 'resolved_manually'))
                       THEN NULL
                   WHEN b.requested
                       THEN GREATEST(b.last_attempted_at, b.last_failure_at) + make_interval(secs => b.backoff_request_seconds)
                   WHEN b.last_failure_at IS NOT NULL
                       THEN tasker_policy_retry_at(b.workflow_step_id, b.attempts, b.last_failure_at)
                   ELSE '-infinity'::timestamptz
               END AS run_at
        FROM (
            SELECT ws.workflow_step_id,
                   COALESCE(ws.current_state, 'pending') AS state,
                   COALESCE(ws.attempts, 0) AS attempts,
                   COALESCE(ws.processed, false) AS processed,
                   COALESCE(ws.in_process, false) AS in_process,
                   ws.backoff_request_seconds, ws.last_attempted_at, ws.last_failure_at,
                   (COALESCE(ws.attempts, 0) = 0 AND ws.last_failure_at IS NULL)
                       OR (COALESCE(ws.retryable, true) AND COALESCE(ws.attempts, 0) < COALESCE(ws.retry_limit, 3)) AS retry_ok,
                   ws.backoff_request_seconds IS NOT NULL
                       AND COALESCE(ws.last_attempted_at, ws.last_failure_at) IS NOT NULL AS requested
            FROM tasker_workflow_steps ws WHERE ws.task_id = t.task_id
        ) b
    ) s
) a
WHERE t.task_id = ANY (task_ids)
ORDER BY t.task_id
$$;

-- PL/pgSQL for a plan kept per session (see get_step_readiness_status).
CREATE FUNCTION get_task_execution_context(input_task_id bigint, as_of timestamptz DEFAULT NULL)
RETURNS SETOF tasker_task_execution_context_row
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN QUERY SELECT * FROM tasker_task_execution_contexts(ARRAY[input_task_id], as_of);
END
$$;

CREATE FUNCTION get_task_execution_contexts_batch(input_task_ids bigint[], as_of timestamptz DEFAULT NULL)
RETURNS SETOF tasker_task_execution_context_row
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN QUERY SELECT * FROM tasker_task_execution_contexts(input_task_ids, as_of);
END
$$;
