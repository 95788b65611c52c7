-- System health counts (REFERENCE §5): tasks and steps per current state, the retry
-- picture of failed steps, and the database's connections, in one row and one
-- round trip. Current state = the most_recent transition; no transition = pending.
--
-- Failed-step columns (all count steps whose current state is error; NULL attempts
-- = 0, NULL retry_limit = 3, as in readiness):
--   retryable_error_steps      retryable and attempts < retry_limit (will be retried)
--   exhausted_retry_steps      attempts >= retry_limit
--   non_retryable_error_steps  retryable = false (may overlap exhausted_retry_steps)
--   steps_in_backoff           retryable error steps whose next retry time is still
--                              in the future.
--
-- steps_in_backoff does not restate the backoff rule: the next retry time comes from
-- tasker_step_readiness (an explicit backoff_request_seconds, else the retry policy
-- from the last failure), so this count and readiness's 'backoff' reason cannot
-- drift apart. It is asked only about the retryable error steps (their ids are
-- passed as step_ids, their tasks as task_ids), not about every step of every
-- unfinished task, so the parent and last-failure work stays proportional to the
-- failed steps; the call is part of the same statement, so still one round trip.
--
-- active_connections counts client backends connected to the current database (any
-- state); max_connections is the server's setting.
CREATE FUNCTION get_system_health_counts()
RETURNS TABLE (
    total_tasks bigint,
    pending_tasks bigint,
    in_progress_tasks bigint,
    complete_tasks bigint,
    error_tasks bigint,
    cancelled_tasks bigint,
    resolved_manually_tasks bigint,
    total_steps bigint,
    pending_steps bigint,
    in_progress_steps bigint,
    complete_steps bigint,
    error_steps bigint,
    cancelled_steps bigint,
    resolved_manually_steps bigint,
    retryable_error_steps bigint,
    exhausted_retry_steps bigint,
    non_retryable_error_steps bigint,
    steps_in_backoff bigint,
    active_connections bigint,
    max_connections bigint
)
LANGUAGE sql STABLE AS $$
WITH task_counts AS (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE cur.to_state IS NULL OR cur.to_state = 'pending') AS pending,
           count(*) FILTER (WHERE cur.to_state = 'in_progress') AS in_progress,
           count(*) FILTER (WHERE cur.to_state = 'complete') AS complete,
           count(*) FILTER (WHERE cur.to_state = 'error') AS error,
           count(*) FILTER (WHERE cur.to_state = 'cancelled') AS cancelled,
           count(*) FILTER (WHERE cur.to_state = 'resolved_manually') AS resolved_manually
    FROM tasker_tasks t
    LEFT JOIN tasker_task_transitions cur ON cur.task_id = t.task_id AND cur.most_recent
),
steps AS (
    SELECT ws.workflow_step_id, ws.task_id,
           COALESCE(cur.to_state, 'pending') AS state,
           COALESCE(ws.attempts, 0) AS attempts,
           COALESCE(ws.retry_limit, 3) AS retry_limit,
           COALESCE(ws.retryable, true) AS retryable
    FROM tasker_workflow_steps ws
    LEFT JOIN tasker_workflow_step_transitions cur
           ON cur.workflow_step_id = ws.workflow_step_id AND cur.most_recent
),
step_counts AS (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE s.state = 'pending') AS pending,
           count(*) FILTER (WHERE s.state = 'in_progress') AS in_progress,
           count(*) FILTER (WHERE s.state = 'complete') AS complete,
           count(*) FILTER (WHERE s.state = 'error') AS error,
           count(*) FILTER (WHERE s.state = 'cancelled') AS cancelled,
           count(*) FILTER (WHERE s.state = 'resolved_manually') AS resolved_manually,
           count(*) FILTER (WHERE s.state = 'error' AND s.retryable AND s.attempts < s.retry_limit) AS retryable_error,
           count(*) FILTER (WHERE s.state = 'error' AND s.attempts >= s.retry_limit) AS exhausted,
           count(*) FILTER (WHERE s.state = 'error' AND NOT s.retryable) AS non_retryable
    FROM steps s
),
retryable_errors AS (
    SELECT s.workflow_step_id, s.task_id
    FROM steps s
    WHERE s.state = 'error' AND s.retryable AND s.attempts < s.retry_limit
),
backoff AS (
    SELECT count(*) AS in_backoff
    FROM tasker_step_readiness(
             ARRAY(SELECT DISTINCT r.task_id FROM retryable_errors r),
             ARRAY(SELECT r.workflow_step_id FROM retryable_errors r),
             now()) rd
    WHERE rd.next_retry_at > now()
),
connections AS (
    SELECT count(*) AS active
    FROM pg_stat_activity a
    WHERE a.datname = current_database() AND a.backend_type = 'client backend'
)
SELECT tc.total, tc.pending, tc.in_progress, tc.complete, tc.error, tc.cancelled, tc.resolved_manually,
       sc.total, sc.pending, sc.in_progress, sc.complete, sc.error, sc.cancelled, sc.resolved_manually,
       sc.retryable_error, sc.exhausted, sc.non_retryable,
       b.in_backoff,
       c.active,
       current_setting('max_connections')::bigint
FROM task_counts tc, step_counts sc, backoff b, connections c
$$;
