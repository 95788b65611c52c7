-- Step readiness (REFERENCE §3) for the steps of a set of tasks, with the reason a
-- step is not ready. The public functions below wrap this one. as_of is the clock
-- (NULL = now()), so tests and callers can ask "ready at time T?" without sleeping.
--
-- reason codes, first match wins:
--   wrong_state        current state is not pending or error   {state}
--   task_terminal      the step's task is complete, cancelled or resolved_manually: nothing of it
--                      runs any more (tasker-engine looked at steps only, so a cancelled task's
--                      pending steps stayed ready)                                {task_state}
--   already_processed  processed = true                        {}
--   claimed            in_process = true (a worker holds it)     {}
--   dependencies_unmet a parent is not complete/resolved         {unmet: [names], total_parents, completed_parents}
--   not_retryable      failed before and retryable = false      {attempts}
--                      ("a first attempt is always allowed": a step never attempted and never failed
--                      is eligible whatever its limit; a step failed permanently before any attempt is not)
--   retries_exhausted  attempts >= retry_limit                   {attempts, retry_limit}
--   backoff            waiting for a retry time                  {seconds_remaining, next_retry_at, source: requested|policy}
--
-- next_retry_at is set only for a pending or error step that may still run (and whose task
-- is not terminal): an explicit
-- backoff_request_seconds replaces the policy's delay (a server or handler that asks for
-- a delay gets exactly that delay), counted from the later of the last attempt and the
-- last failure — tasker-engine counted from the attempt's start, which let a handler
-- that failed slowly be retried before the delay it asked for; otherwise the policy's
-- delay counts from the last failure.
--   ready              ready_for_execution                       {}
CREATE TYPE tasker_step_readiness_row AS (
    workflow_step_id bigint,
    task_id bigint,
    named_step_id integer,
    name text,
    current_state text,
    dependencies_satisfied boolean,
    retry_eligible boolean,
    ready_for_execution boolean,
    last_failure_at timestamptz,
    next_retry_at timestamptz,
    total_parents integer,
    completed_parents integer,
    attempts integer,
    retry_limit integer,
    backoff_request_seconds integer,
    last_attempted_at timestamptz,
    retryable boolean,
    in_process boolean,
    processed boolean,
    reason text,
    reason_detail jsonb
);

CREATE FUNCTION tasker_step_readiness(task_ids bigint[], step_ids bigint[], as_of timestamptz)
RETURNS SETOF tasker_step_readiness_row
LANGUAGE sql STABLE PARALLEL SAFE AS $$
WITH clock AS (
    SELECT COALESCE(as_of, now()) AS now
),
policy AS (
    SELECT p.strategy, p.base_seconds, p.multiplier, p.cap_seconds, p.jitter
    FROM tasker_retry_policies p WHERE p.name = 'default'
),
steps AS (
    SELECT ws.workflow_step_id, ws.task_id, ws.named_step_id, ns.name::text AS name,
           COALESCE(cur.to_state, 'pending')::text AS current_state,
           COALESCE(ws.attempts, 0) AS attempts,
           COALESCE(ws.retry_limit, 3) AS retry_limit,
           COALESCE(ws.retryable, true) AS retryable,
           COALESCE(ws.in_process, false) AS in_process,
           COALESCE(ws.processed, false) AS processed,
           ws.backoff_request_seconds, ws.last_attempted_at,
           lf.created_at AS last_failure_at,
           COALESCE(tt.to_state, 'pending')::text IN ('complete', 'cancelled', 'resolved_manually') AS task_terminal,
           COALESCE(tt.to_state, 'pending')::text AS task_state
    FROM tasker_workflow_steps ws
    JOIN tasker_named_steps ns ON ns.named_step_id = ws.named_step_id
    LEFT JOIN tasker_task_transitions tt ON tt.task_id = ws.task_id AND tt.most_recent
    LEFT JOIN tasker_workflow_step_transitions cur
           ON cur.workflow_step_id = ws.workflow_step_id AND cur.most_recent
    LEFT JOIN LATERAL (
        SELECT t.created_at FROM tasker_workflow_step_transitions t
        WHERE t.workflow_step_id = ws.workflow_step_id AND t.to_state = 'error'
        ORDER BY t.sort_key DESC LIMIT 1
    ) lf ON true
    WHERE ws.task_id = ANY (task_ids)
      AND (step_ids IS NULL OR ws.workflow_step_id = ANY (step_ids))
),
judged AS (
    SELECT s.*,
           COALESCE(pa.total, 0) AS total_parents,
           COALESCE(pa.done, 0) AS completed_parents,
           COALESCE(pa.unmet, '[]'::jsonb) AS unmet,
           COALESCE(pa.total, 0) = COALESCE(pa.done, 0) AS deps_ok,
           ((s.attempts = 0 AND s.last_failure_at IS NULL) OR (s.retryable AND s.attempts < s.retry_limit)) AS retry_ok,
           CASE
               -- A retry time only for a step that may still run again.
               WHEN s.current_state NOT IN ('pending', 'error') OR s.task_terminal
                    OR NOT ((s.attempts = 0 AND s.last_failure_at IS NULL) OR (s.retryable AND s.attempts < s.retry_limit))
                   THEN NULL
               WHEN s.backoff_request_seconds IS NOT NULL
                    AND COALESCE(s.last_attempted_at, s.last_failure_at) IS NOT NULL
                   THEN GREATEST(s.last_attempted_at, s.last_failure_at) + make_interval(secs => s.backoff_request_seconds)
               WHEN s.last_failure_at IS NOT NULL
                   THEN s.last_failure_at + make_interval(secs => round(tasker_backoff_seconds(
                            pol.strategy, pol.base_seconds, pol.multiplier, pol.cap_seconds, pol.jitter,
                            s.workflow_step_id, s.attempts)::numeric, 6)::double precision)
           END AS retry_at,
           s.backoff_request_seconds IS NOT NULL AND COALESCE(s.last_attempted_at, s.last_failure_at) IS NOT NULL AS requested
    FROM steps s
    -- Parents per step through the edges index: linear in edges whatever the
    -- planner believes about row counts (a grouped join over all steps was
    -- rescanned per step when statistics were stale).
    LEFT JOIN LATERAL (
        SELECT count(*)::integer AS total,
               count(*) FILTER (WHERE COALESCE(pt.to_state, 'pending') IN ('complete', 'resolved_manually'))::integer AS done,
               COALESCE(jsonb_agg(pns.name ORDER BY pns.name)
                        FILTER (WHERE COALESCE(pt.to_state, 'pending') NOT IN ('complete', 'resolved_manually')),
                        '[]'::jsonb) AS unmet
        FROM tasker_workflow_step_edges e
        JOIN tasker_workflow_steps p ON p.workflow_step_id = e.from_step_id
        JOIN tasker_named_steps pns ON pns.named_step_id = p.named_step_id
        LEFT JOIN tasker_workflow_step_transitions pt
               ON pt.workflow_step_id = e.from_step_id AND pt.most_recent
        WHERE e.to_step_id = s.workflow_step_id
    ) pa ON true
    LEFT JOIN policy pol ON true
)
SELECT j.workflow_step_id, j.task_id, j.named_step_id, j.name, j.current_state,
       j.deps_ok AS dependencies_satisfied,
       j.retry_ok AS retry_eligible,
       r.code = 'ready' AS ready_for_execution,
       j.last_failure_at,
       j.retry_at AS next_retry_at,
       j.total_parents, j.completed_parents, j.attempts, j.retry_limit,
       j.backoff_request_seconds, j.last_attempted_at, j.retryable, j.in_process, j.processed,
       r.code AS reason, r.detail AS reason_detail
FROM judged j
CROSS JOIN clock c
CROSS JOIN LATERAL (
    SELECT CASE
               WHEN j.current_state NOT IN ('pending', 'error') THEN 'wrong_state'
               WHEN j.task_terminal THEN 'task_terminal'
               WHEN j.processed THEN 'already_processed'
               WHEN j.in_process THEN 'claimed'
               WHEN NOT j.deps_ok THEN 'dependencies_unmet'
               WHEN NOT j.retry_ok AND NOT j.retryable THEN 'not_retryable'
               WHEN NOT j.retry_ok THEN 'retries_exhausted'
               WHEN j.retry_at > c.now THEN 'backoff'
               ELSE 'ready'
           END AS code
) k
CROSS JOIN LATERAL (
    SELECT k.code,
           CASE k.code
               WHEN 'wrong_state' THEN jsonb_build_object('state', j.current_state)
               WHEN 'task_terminal' THEN jsonb_build_object('task_state', j.task_state)
               WHEN 'dependencies_unmet' THEN jsonb_build_object(
                   'unmet', j.unmet, 'total_parents', j.total_parents, 'completed_parents', j.completed_parents)
               WHEN 'not_retryable' THEN jsonb_build_object('attempts', j.attempts)
               WHEN 'retries_exhausted' THEN jsonb_build_object('attempts', j.attempts, 'retry_limit', j.retry_limit)
               WHEN 'backoff' THEN jsonb_build_object(
                   'seconds_remaining', round(extract(epoch FROM j.retry_at - c.now)::numeric, 3),
                   'next_retry_at', j.retry_at,
                   'source', CASE WHEN j.requested THEN 'requested' ELSE 'policy' END)
               ELSE '{}'::jsonb
           END AS detail
) r
ORDER BY j.task_id, j.workflow_step_id
$$;

-- REFERENCE §3: readiness of one task's steps (all, or the given ones).
CREATE FUNCTION get_step_readiness_status(input_task_id bigint, step_ids bigint[] DEFAULT NULL,
                                          as_of timestamptz DEFAULT NULL)
RETURNS SETOF tasker_step_readiness_row
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT * FROM tasker_step_readiness(ARRAY[input_task_id], step_ids, as_of)
$$;

-- Readiness of every step of several tasks in one round trip.
CREATE FUNCTION get_step_readiness_status_batch(input_task_ids bigint[], as_of timestamptz DEFAULT NULL)
RETURNS SETOF tasker_step_readiness_row
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT * FROM tasker_step_readiness(input_task_ids, NULL, as_of)
$$;
