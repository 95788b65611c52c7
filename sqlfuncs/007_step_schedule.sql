-- The step schedule (tasker_workflow_steps.runnable_at, migration 0016) of the
-- given steps, computed from their own rows (current state and last failure
-- among them, migration 0017) and their parents' current states only: the cost
-- is in proportion to the steps asked about, not to their tasks. The rules are
-- readiness's (002, tasker_step_readiness), one step at a time: a step that
-- readiness calls ready has runnable_at <= now() (kept from an earlier
-- computation when it was already ready, so a task's ready_at says since when
-- it has had work), a step in backoff has its next_retry_at, and any other step
-- NULL. TestStepScheduleMatchesReadiness holds the two equal.
--
-- The execution context (003, tasker_task_execution_contexts) applies the same
-- per-step rule inline, to a task's steps found by task and at an as_of time:
-- called from there with ARRAY(SELECT …) this function would not be inlined.
-- The same test holds the context equal to readiness aggregated.
--
-- The rule is tasker_step_runnable_rows, a LANGUAGE sql function that the
-- planner inlines into a statement that passes it a plain array (a parameter or
-- a PL/pgSQL variable; an ARRAY(SELECT …) argument is a subplan, which prevents
-- inlining, and a LANGUAGE sql function that is not inlined is planned again at
-- every call, and planned badly: 14 ms where a kept plan takes 0.5 ms). Two
-- PL/pgSQL functions keep its plan for the session:
--   tasker_step_runnable_at(step_ids)     the rows (migrations, repairs, the retry
--                                         policy's reschedule); ROWS 10 lets the
--                                         caller's UPDATE join it to the steps by
--                                         primary key;
--   tasker_schedule_steps(step_ids, parent_ids)
--                                         the write path's update: the steps and the
--                                         children of the parents, written where
--                                         the value changes, in one call (no rows
--                                         returned through a function scan).
CREATE FUNCTION tasker_step_runnable_rows(step_ids bigint[])
RETURNS TABLE (workflow_step_id bigint, task_id bigint, runnable_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE ROWS 10 AS $$
SELECT b.workflow_step_id, b.task_id,
       CASE
           WHEN b.current_state NOT IN ('pending', 'error') OR b.task_terminal OR b.processed OR b.in_process
                OR NOT b.retry_ok
                OR EXISTS (SELECT 1 FROM tasker_workflow_step_edges e
                           JOIN tasker_workflow_steps ps ON ps.workflow_step_id = e.from_step_id
                           WHERE e.to_step_id = b.workflow_step_id
                             AND COALESCE(ps.current_state, 'pending') NOT IN ('complete', 'resolved_manually'))
               THEN NULL
           WHEN b.requested
               THEN GREATEST(b.last_attempted_at, b.last_failure_at) + make_interval(secs => b.backoff_request_seconds)
           WHEN b.last_failure_at IS NOT NULL
               THEN b.last_failure_at + make_interval(secs => round(tasker_backoff_seconds(
                        pol.strategy, pol.base_seconds, pol.multiplier, pol.cap_seconds, pol.jitter,
                        b.workflow_step_id, b.attempts)::numeric, 6)::double precision)
           ELSE LEAST(COALESCE(b.previous, now()), now())
       END
FROM (
    SELECT ws.workflow_step_id, ws.task_id, ws.runnable_at AS previous,
           COALESCE(ws.current_state, 'pending') AS current_state,
           COALESCE(ws.attempts, 0) AS attempts,
           COALESCE(ws.processed, false) AS processed,
           COALESCE(ws.in_process, false) AS in_process,
           ws.backoff_request_seconds, ws.last_attempted_at,
           ws.last_failure_at AS last_failure_at,
           (COALESCE(ws.attempts, 0) = 0 AND ws.last_failure_at IS NULL)
               OR (COALESCE(ws.retryable, true) AND COALESCE(ws.attempts, 0) < COALESCE(ws.retry_limit, 3)) AS retry_ok,
           ws.backoff_request_seconds IS NOT NULL
               AND COALESCE(ws.last_attempted_at, ws.last_failure_at) IS NOT NULL AS requested,
           COALESCE((SELECT tt.to_state FROM tasker_task_transitions tt
                     WHERE tt.task_id = ws.task_id AND tt.most_recent), 'pending')
               IN ('complete', 'cancelled', 'resolved_manually') AS task_terminal
    FROM tasker_workflow_steps ws
    WHERE ws.workflow_step_id = ANY (step_ids)
) b
LEFT JOIN tasker_retry_policies pol ON pol.name = 'default'
$$;

CREATE FUNCTION tasker_step_runnable_at(step_ids bigint[])
RETURNS TABLE (workflow_step_id bigint, task_id bigint, runnable_at timestamptz)
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 10 AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY SELECT r.workflow_step_id, r.task_id, r.runnable_at FROM tasker_step_runnable_rows(step_ids) r;
END
$$;

-- The write path's schedule update ($1 the steps moved, $2 the parents whose
-- children a change of state may have made ready or unready); the number of
-- steps whose runnable_at changed.
CREATE FUNCTION tasker_schedule_steps(step_ids bigint[], parent_ids bigint[])
RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ids bigint[];
    n integer;
BEGIN
    -- The children by an index look-up per parent (LATERAL, kept a subquery by
    -- OFFSET 0): the kept plan of "from_step_id = ANY (parent_ids)", or of a
    -- join, scanned every edge on a small database.
    ids := ARRAY(SELECT unnest(step_ids)
                 UNION
                 SELECT c.to_step_id FROM unnest(parent_ids) AS p(id)
                 CROSS JOIN LATERAL (SELECT e.to_step_id FROM tasker_workflow_step_edges e
                                     WHERE e.from_step_id = p.id OFFSET 0) c);
    -- The steps to write by their primary key too: without it the kept (generic)
    -- plan hashes the rows and scans the whole table for the steps to update.
    UPDATE tasker_workflow_steps ws SET runnable_at = r.runnable_at
    FROM tasker_step_runnable_rows(ids) r
    WHERE ws.workflow_step_id = ANY (ids) AND ws.workflow_step_id = r.workflow_step_id
      AND ws.runnable_at IS DISTINCT FROM r.runnable_at;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
