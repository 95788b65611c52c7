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

-- A step's [state, name] as tasker_step_readiness's map of a task holds them: for
-- a parent outside its child's task (the engine's tables allow such an edge;
-- CreateTask never makes one). A function, not a subquery, so the planner does not
-- charge a subquery per parent for a lookup that practically never runs.
CREATE FUNCTION tasker_step_brief(step_id bigint)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_array(COALESCE(pt.to_state, 'pending'), pns.name)
    FROM tasker_workflow_steps p
    JOIN tasker_named_steps pns ON pns.named_step_id = p.named_step_id
    LEFT JOIN tasker_workflow_step_transitions pt
           ON pt.workflow_step_id = p.workflow_step_id AND pt.most_recent
    WHERE p.workflow_step_id = step_id
$$;

CREATE FUNCTION tasker_step_readiness(task_ids bigint[], step_ids bigint[], as_of timestamptz)
RETURNS SETOF tasker_step_readiness_row
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT s.workflow_step_id, s.task_id, s.named_step_id, s.name, s.current_state,
       s.deps_ok AS dependencies_satisfied,
       s.retry_ok AS retry_eligible,
       k.code = 'ready' AS ready_for_execution,
       s.last_failure_at,
       s.retry_at AS next_retry_at,
       s.total_parents, s.completed_parents, s.attempts, s.retry_limit,
       s.backoff_request_seconds, s.last_attempted_at, s.retryable, s.in_process, s.processed,
       k.code AS reason,
       CASE k.code
           WHEN 'wrong_state' THEN jsonb_build_object('state', s.current_state)
           WHEN 'task_terminal' THEN jsonb_build_object('task_state', s.task_state)
           WHEN 'dependencies_unmet' THEN jsonb_build_object(
               'unmet', s.unmet, 'total_parents', s.total_parents, 'completed_parents', s.completed_parents)
           WHEN 'not_retryable' THEN jsonb_build_object('attempts', s.attempts)
           WHEN 'retries_exhausted' THEN jsonb_build_object('attempts', s.attempts, 'retry_limit', s.retry_limit)
           WHEN 'backoff' THEN jsonb_build_object(
               'seconds_remaining', round(extract(epoch FROM s.retry_at - COALESCE(as_of, now()))::numeric, 3),
               'next_retry_at', s.retry_at,
               'source', CASE WHEN s.requested THEN 'requested' ELSE 'policy' END)
           ELSE '{}'::jsonb
       END AS reason_detail
FROM (
    SELECT b.*, pa.total AS total_parents, pa.done AS completed_parents, pa.unmet,
           pa.total = pa.done AS deps_ok,
           CASE
               -- A retry time only for a step that may still run again.
               WHEN b.current_state NOT IN ('pending', 'error') OR b.task_terminal OR NOT b.retry_ok THEN NULL
               WHEN b.requested
                   THEN GREATEST(b.last_attempted_at, b.last_failure_at) + make_interval(secs => b.backoff_request_seconds)
               WHEN b.last_failure_at IS NOT NULL
                   THEN b.last_failure_at + make_interval(secs => round(tasker_backoff_seconds(
                            pol.strategy, pol.base_seconds, pol.multiplier, pol.cap_seconds, pol.jitter,
                            b.workflow_step_id, b.attempts)::numeric, 6)::double precision)
           END AS retry_at
    FROM (
        SELECT st.*,
               -- Each task's steps by id (their state and name), built once per
               -- task: a parent's state is looked up here, not read again.
               jsonb_object_agg(st.workflow_step_id::text, jsonb_build_array(st.current_state, st.name))
                   OVER (PARTITION BY st.task_id) AS family
        FROM (
            SELECT ws.workflow_step_id, ws.task_id, ws.named_step_id, ns.name::text AS name,
                   COALESCE(cur.to_state, 'pending')::text AS current_state,
                   COALESCE(ws.attempts, 0) AS attempts,
                   COALESCE(ws.retry_limit, 3) AS retry_limit,
                   COALESCE(ws.retryable, true) AS retryable,
                   COALESCE(ws.in_process, false) AS in_process,
                   COALESCE(ws.processed, false) AS processed,
                   ws.backoff_request_seconds, ws.last_attempted_at,
                   lf.created_at AS last_failure_at,
                   (COALESCE(ws.attempts, 0) = 0 AND lf.created_at IS NULL)
                       OR (COALESCE(ws.retryable, true) AND COALESCE(ws.attempts, 0) < COALESCE(ws.retry_limit, 3)) AS retry_ok,
                   ws.backoff_request_seconds IS NOT NULL
                       AND COALESCE(ws.last_attempted_at, lf.created_at) IS NOT NULL AS requested,
                   q.task_state IN ('complete', 'cancelled', 'resolved_manually') AS task_terminal,
                   q.task_state,
                   ARRAY(SELECT e.from_step_id FROM tasker_workflow_step_edges e
                         WHERE e.to_step_id = ws.workflow_step_id) AS parents
            FROM (
                -- The task's state once per task, not once per step.
                SELECT t.id, COALESCE(tt.to_state, 'pending')::text AS task_state
                FROM (SELECT DISTINCT u.id FROM unnest(task_ids) AS u(id)) t
                LEFT JOIN tasker_task_transitions tt ON tt.task_id = t.id AND tt.most_recent
            ) q
            JOIN tasker_workflow_steps ws ON ws.task_id = q.id
            JOIN tasker_named_steps ns ON ns.named_step_id = ws.named_step_id
            LEFT JOIN tasker_workflow_step_transitions cur
                   ON cur.workflow_step_id = ws.workflow_step_id AND cur.most_recent
            LEFT JOIN LATERAL (
                SELECT t.created_at FROM tasker_workflow_step_transitions t
                WHERE t.workflow_step_id = ws.workflow_step_id AND t.to_state = 'error'
                ORDER BY t.sort_key DESC LIMIT 1
            ) lf ON true
        ) st
    ) b
    CROSS JOIN LATERAL (
        SELECT count(*)::integer AS total,
               count(*) FILTER (WHERE p.state IN ('complete', 'resolved_manually'))::integer AS done,
               COALESCE(jsonb_agg(p.name ORDER BY p.name) FILTER (WHERE p.state NOT IN ('complete', 'resolved_manually')),
                        '[]'::jsonb) AS unmet
        FROM unnest(b.parents) AS pid(id)
        CROSS JOIN LATERAL (
            SELECT x.f ->> 0 AS state, x.f ->> 1 AS name
            FROM (SELECT COALESCE(b.family -> pid.id::text, tasker_step_brief(pid.id)) AS f
                  OFFSET 0) x
        ) p
    ) pa
    LEFT JOIN tasker_retry_policies pol ON pol.name = 'default'
    -- After the map of the whole task is built: the parents of the steps asked
    -- about are in it.
    WHERE step_ids IS NULL OR b.workflow_step_id = ANY (step_ids)
) s
CROSS JOIN LATERAL (
    SELECT CASE
               WHEN s.current_state NOT IN ('pending', 'error') THEN 'wrong_state'
               WHEN s.task_terminal THEN 'task_terminal'
               WHEN s.processed THEN 'already_processed'
               WHEN s.in_process THEN 'claimed'
               WHEN NOT s.deps_ok THEN 'dependencies_unmet'
               WHEN NOT s.retry_ok AND NOT s.retryable THEN 'not_retryable'
               WHEN NOT s.retry_ok THEN 'retries_exhausted'
               WHEN s.retry_at > COALESCE(as_of, now()) THEN 'backoff'
               ELSE 'ready'
           END AS code
) k
ORDER BY s.task_id, s.workflow_step_id
$$;

-- The public functions are PL/pgSQL on purpose: PL/pgSQL keeps the plan of its
-- query for the session (a generic plan once plan_cache_mode allows it), where a
-- LANGUAGE sql wrapper is inlined into the caller's statement and planned again on
-- every call of a simple-protocol client (psql, PgBouncer in transaction mode, many
-- Ruby callers): 4-6 ms of planning for under 1 ms of execution. Internal callers
-- that filter or join the rows (claims) use tasker_step_readiness directly, inlined.

-- REFERENCE §3: readiness of one task's steps (all, or the given ones).
CREATE FUNCTION get_step_readiness_status(input_task_id bigint, step_ids bigint[] DEFAULT NULL,
                                          as_of timestamptz DEFAULT NULL)
RETURNS SETOF tasker_step_readiness_row
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN QUERY SELECT * FROM tasker_step_readiness(ARRAY[input_task_id], step_ids, as_of);
END
$$;

-- Readiness of every step of several tasks in one round trip.
CREATE FUNCTION get_step_readiness_status_batch(input_task_ids bigint[], as_of timestamptz DEFAULT NULL)
RETURNS SETOF tasker_step_readiness_row
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN QUERY SELECT * FROM tasker_step_readiness(input_task_ids, NULL, as_of);
END
$$;
