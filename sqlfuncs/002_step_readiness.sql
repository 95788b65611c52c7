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

-- A step's [state, name]: for a parent outside the tasks asked about (the engine's
-- tables allow an edge between tasks; CreateTask never makes one). A function, not
-- a subquery, so the plan carries no subquery for a lookup that practically never
-- runs.
CREATE FUNCTION tasker_step_brief(step_id bigint)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_array(COALESCE(p.current_state, 'pending'), pns.name)
    FROM tasker_workflow_steps p
    JOIN tasker_named_steps pns ON pns.named_step_id = p.named_step_id
    WHERE p.workflow_step_id = step_id
$$;

-- The policy's retry time after a failure (the default retry policy, see core/backoff).
-- PL/pgSQL, called only for a step that failed and asked for no delay of its own: in
-- the readiness query it is one function call, not a join and an inlined formula
-- that every execution would set up.
CREATE FUNCTION tasker_policy_retry_at(step_id bigint, attempts integer, last_failure_at timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (SELECT last_failure_at + make_interval(secs => round(tasker_backoff_seconds(
                       pol.strategy, pol.base_seconds, pol.multiplier, pol.cap_seconds, pol.jitter,
                       step_id, attempts)::numeric, 6)::double precision)
            FROM tasker_retry_policies pol WHERE pol.name = 'default');
END
$$;

-- names as a JSON array in name order ('[]' for none): the unmet parents of a step
-- with three or more (tasker_step_readiness orders one or two in place).
CREATE FUNCTION tasker_sorted_names(names text[])
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(jsonb_agg(u.n ORDER BY u.n), '[]'::jsonb) FROM unnest(names) AS u(n)
$$;

-- The rows are in no order (the public functions order them by task and step; the
-- claim query orders its own). Shaped for the cost of one execution, which for a
-- task of ten steps is mostly executor set-up and index descents, not rows:
--   st    the steps of the tasks, once: state and last failure from the step row
--         (migration 0017 keeps them there from the audit trail), name, task state
--         (one look-up per task); materialized, because the parents' states and names are
--         read from it by a hash join instead of an index look-up per edge;
--   pa    parents counted per step: the edges into st's steps joined to st (a parent
--         outside the tasks, which CreateTask never makes, through tasker_step_brief);
--   a     the reason code, computed once (the level is kept, OFFSET 0, so that the
--         code and the retry time are not copied into every expression that uses them);
--   top   reason_detail: constants where the detail is fixed (wrong_state,
--         task_terminal, ready), jsonb_build_object only where it varies.
CREATE FUNCTION tasker_step_readiness(task_ids bigint[], step_ids bigint[], as_of timestamptz)
RETURNS SETOF tasker_step_readiness_row
LANGUAGE sql STABLE PARALLEL SAFE AS $$
WITH st AS MATERIALIZED (
    SELECT ws.workflow_step_id, ws.task_id, ws.named_step_id, ns.name::text AS name,
           COALESCE(ws.current_state, 'pending') AS current_state,
           COALESCE(ws.attempts, 0) AS attempts,
           COALESCE(ws.retry_limit, 3) AS retry_limit,
           COALESCE(ws.retryable, true) AS retryable,
           COALESCE(ws.in_process, false) AS in_process,
           COALESCE(ws.processed, false) AS processed,
           ws.backoff_request_seconds, ws.last_attempted_at,
           COALESCE(tt.to_state, 'pending')::text AS task_state,
           ws.last_failure_at
    FROM tasker_tasks t
    LEFT JOIN tasker_task_transitions tt ON tt.task_id = t.task_id AND tt.most_recent
    JOIN tasker_workflow_steps ws ON ws.task_id = t.task_id
    JOIN tasker_named_steps ns ON ns.named_step_id = ws.named_step_id
    WHERE t.task_id = ANY (task_ids)
)
SELECT a.workflow_step_id, a.task_id, a.named_step_id, a.name, a.current_state,
       a.total_parents = a.completed_parents AS dependencies_satisfied,
       a.retry_ok AS retry_eligible,
       a.code = 'ready' AS ready_for_execution,
       a.last_failure_at,
       a.retry_at AS next_retry_at,
       a.total_parents, a.completed_parents, a.attempts, a.retry_limit,
       a.backoff_request_seconds, a.last_attempted_at, a.retryable, a.in_process, a.processed,
       a.code AS reason,
       CASE a.code
           WHEN 'wrong_state' THEN CASE a.current_state
               WHEN 'complete' THEN '{"state": "complete"}'::jsonb
               WHEN 'in_progress' THEN '{"state": "in_progress"}'::jsonb
               WHEN 'cancelled' THEN '{"state": "cancelled"}'::jsonb
               WHEN 'resolved_manually' THEN '{"state": "resolved_manually"}'::jsonb
               ELSE jsonb_build_object('state', a.current_state)
           END
           WHEN 'task_terminal' THEN CASE a.task_state
               WHEN 'complete' THEN '{"task_state": "complete"}'::jsonb
               WHEN 'cancelled' THEN '{"task_state": "cancelled"}'::jsonb
               ELSE jsonb_build_object('task_state', a.task_state)
           END
           WHEN 'dependencies_unmet' THEN jsonb_build_object(
               'unmet', CASE
                   WHEN cardinality(a.unmet) = 1 THEN to_jsonb(a.unmet)
                   WHEN cardinality(a.unmet) = 2 AND a.unmet[1] <= a.unmet[2] THEN to_jsonb(a.unmet)
                   WHEN cardinality(a.unmet) = 2 THEN to_jsonb(ARRAY[a.unmet[2], a.unmet[1]])
                   ELSE tasker_sorted_names(a.unmet)
               END,
               'total_parents', a.total_parents, 'completed_parents', a.completed_parents)
           WHEN 'not_retryable' THEN jsonb_build_object('attempts', a.attempts)
           WHEN 'retries_exhausted' THEN jsonb_build_object('attempts', a.attempts, 'retry_limit', a.retry_limit)
           WHEN 'backoff' THEN jsonb_build_object(
               'seconds_remaining', round(extract(epoch FROM a.retry_at - COALESCE(as_of, now()))::numeric, 3),
               'next_retry_at', a.retry_at,
               'source', CASE WHEN a.requested THEN 'requested' ELSE 'policy' END)
           ELSE '{}'::jsonb
       END AS reason_detail
FROM (
    SELECT b.*, r.retry_ok, r.requested, r.retry_at,
           CASE
               WHEN b.current_state NOT IN ('pending', 'error') THEN 'wrong_state'
               WHEN b.task_state IN ('complete', 'cancelled', 'resolved_manually') THEN 'task_terminal'
               WHEN b.processed THEN 'already_processed'
               WHEN b.in_process THEN 'claimed'
               WHEN b.total_parents <> b.completed_parents THEN 'dependencies_unmet'
               WHEN NOT r.retry_ok AND NOT b.retryable THEN 'not_retryable'
               WHEN NOT r.retry_ok THEN 'retries_exhausted'
               WHEN r.retry_at > COALESCE(as_of, now()) THEN 'backoff'
               ELSE 'ready'
           END AS code
    FROM (
        SELECT st.*, COALESCE(pa.total, 0) AS total_parents, COALESCE(pa.done, 0) AS completed_parents,
               pa.unmet
        FROM st
        LEFT JOIN (
            SELECT e.to_step_id,
                   count(*)::integer AS total,
                   count(*) FILTER (WHERE pp.state IN ('complete', 'resolved_manually'))::integer AS done,
                   array_agg(pp.name) FILTER (WHERE pp.state NOT IN ('complete', 'resolved_manually')) AS unmet
            FROM st c
            JOIN tasker_workflow_step_edges e ON e.to_step_id = c.workflow_step_id
            LEFT JOIN st p ON p.workflow_step_id = e.from_step_id
            CROSS JOIN LATERAL (
                SELECT COALESCE(p.current_state, tasker_step_brief(e.from_step_id) ->> 0) AS state,
                       COALESCE(p.name, tasker_step_brief(e.from_step_id) ->> 1) AS name
            ) pp
            GROUP BY e.to_step_id
        ) pa ON pa.to_step_id = st.workflow_step_id
        -- After st holds every step of the tasks: the parents of the steps asked
        -- about are in it.
        WHERE step_ids IS NULL OR st.workflow_step_id = ANY (step_ids)
    ) b
    CROSS JOIN LATERAL (
        SELECT q.retry_ok, q.requested,
               CASE
                   -- A retry time only for a step that may still run again.
                   WHEN b.current_state NOT IN ('pending', 'error')
                        OR b.task_state IN ('complete', 'cancelled', 'resolved_manually')
                        OR NOT q.retry_ok THEN NULL
                   WHEN q.requested
                       THEN GREATEST(b.last_attempted_at, b.last_failure_at) + make_interval(secs => b.backoff_request_seconds)
                   WHEN b.last_failure_at IS NOT NULL
                       THEN tasker_policy_retry_at(b.workflow_step_id, b.attempts, b.last_failure_at)
               END AS retry_at
        FROM (SELECT (b.attempts = 0 AND b.last_failure_at IS NULL)
                         OR (b.retryable AND b.attempts < b.retry_limit) AS retry_ok,
                     b.backoff_request_seconds IS NOT NULL
                         AND COALESCE(b.last_attempted_at, b.last_failure_at) IS NOT NULL AS requested) q
    ) r
    OFFSET 0
) a
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
    RETURN QUERY SELECT * FROM tasker_step_readiness(ARRAY[input_task_id], step_ids, as_of) r
        ORDER BY r.workflow_step_id;
END
$$;

-- Readiness of every step of several tasks in one round trip.
CREATE FUNCTION get_step_readiness_status_batch(input_task_ids bigint[], as_of timestamptz DEFAULT NULL)
RETURNS SETOF tasker_step_readiness_row
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN QUERY SELECT * FROM tasker_step_readiness(input_task_ids, NULL, as_of) r
        ORDER BY r.task_id, r.workflow_step_id;
END
$$;
