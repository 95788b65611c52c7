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

-- Per task, its steps' readiness aggregated in a LATERAL (the readiness query run for
-- that task, inlined): no sort and grouping of all the steps by task, and only the
-- readiness columns the counts read are computed (the planner drops the rest, the
-- reason details among them).
CREATE FUNCTION tasker_task_execution_contexts(task_ids bigint[], as_of timestamptz)
RETURNS SETOF tasker_task_execution_context_row
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT t.task_id, t.named_task_id,
       COALESCE(tt.to_state, 'pending')::text AS status,
       a.total, a.pending, a.in_progress, a.completed, a.failed, a.ready,
       tasker_execution_status(a.ready, a.in_progress, a.blocked, a.completed, a.total) AS execution_status,
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
           count(*) FILTER (WHERE r.current_state = 'pending')::integer AS pending,
           count(*) FILTER (WHERE r.current_state = 'in_progress')::integer AS in_progress,
           count(*) FILTER (WHERE r.current_state IN ('complete', 'resolved_manually'))::integer AS completed,
           count(*) FILTER (WHERE r.current_state = 'error')::integer AS failed,
           count(*) FILTER (WHERE r.current_state = 'cancelled')::integer AS cancelled,
           count(*) FILTER (WHERE r.ready_for_execution)::integer AS ready,
           count(*) FILTER (WHERE r.current_state = 'error' AND NOT r.retry_eligible)::integer AS blocked,
           min(r.next_retry_at) FILTER (WHERE r.reason = 'backoff') AS next_retry_at
    FROM tasker_step_readiness(ARRAY[t.task_id], NULL, as_of) r
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
