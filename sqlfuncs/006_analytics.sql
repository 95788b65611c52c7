-- Analytics (REFERENCE §5): system metrics over a look-back window, and the slowest
-- tasks and steps. Each is one statement (one round trip), set-based.
--
-- Shared conventions:
--   * The window is [since_timestamp, now()]; the bound is inclusive. A NULL
--     since_timestamp means now() - interval '1 hour', mirroring the Go constant
--     sqlfuncs.DefaultAnalyticsWindow.
--   * Current state = the most_recent transition; no transition = pending.
--   * "Completed" = complete or resolved_manually. Durations are measured only for
--     complete (a manual resolution measures a person, not the work).

-- get_analytics_metrics: one row.
--   active_tasks_count       tasks whose current state is pending or in_progress (all
--                            time, not windowed)
--   total_namespaces_count   all namespaces
--   unique_task_types_count  named tasks (namespace, name, version) with a task
--                            created in the window
--   task_throughput          tasks created in the window
--   completion_count         tasks with a transition to complete or resolved_manually
--                            in the window
--   error_count              tasks with a transition to error in the window
--   completion_rate          of the tasks created in the window, the fraction (0..1, 4
--                            decimals) now completed; 0 when none were created
--   error_rate               of the same tasks, the fraction now in error; 0 when none
--   avg_task_duration_seconds  created_at → completed_at (else the complete
--                            transition's time), over tasks with a complete
--                            transition in the window; NULL when there are none
--   avg_step_duration_seconds  the step's in_progress transition → its complete
--                            transition (the in_progress just before it, i.e. the
--                            successful attempt), over steps completed in the window;
--                            NULL when none
--   step_throughput          steps with a transition to complete or resolved_manually
--                            in the window
--   system_health_score      see below
--   analysis_period_start    the window's start
--
-- system_health_score, 0..1 with 4 decimals (mirrored by sqlfuncs.HealthScoreTaskWeight
-- and sqlfuncs.HealthScoreStepWeight):
--     1 - (0.7 * task_failure_share + 0.3 * step_failure_share)
--   task_failure_share = error / (error + completed) over the tasks created in the
--                        window, by current state (0 when none has settled)
--   step_failure_share = the same over the steps of those tasks
-- Only settled work counts, so tasks still running neither help nor hurt; tasks
-- weigh more than steps because a failed step may still be retried, a failed task is
-- what users see. 1 = nothing failed (or nothing settled), 0 = everything failed.
CREATE FUNCTION get_analytics_metrics(since_timestamp timestamptz DEFAULT NULL)
RETURNS TABLE (
    active_tasks_count bigint,
    total_namespaces_count bigint,
    unique_task_types_count bigint,
    system_health_score numeric(5, 4),
    task_throughput bigint,
    completion_count bigint,
    error_count bigint,
    completion_rate numeric(5, 4),
    error_rate numeric(5, 4),
    avg_task_duration_seconds numeric(14, 3),
    avg_step_duration_seconds numeric(14, 3),
    step_throughput bigint,
    analysis_period_start timestamptz
)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
WITH win AS (
    SELECT COALESCE(since_timestamp, now() - interval '1 hour') AS since  -- DefaultAnalyticsWindow
),
active AS (
    SELECT count(*) AS n
    FROM tasker_tasks t
    LEFT JOIN tasker_task_transitions cur ON cur.task_id = t.task_id AND cur.most_recent
    WHERE cur.to_state IS NULL OR cur.to_state IN ('pending', 'in_progress')
),
recent AS (
    SELECT t.task_id, t.named_task_id, COALESCE(cur.to_state, 'pending') AS state
    FROM win
    JOIN tasker_tasks t ON t.created_at >= win.since
    LEFT JOIN tasker_task_transitions cur ON cur.task_id = t.task_id AND cur.most_recent
),
recent_tasks AS (
    SELECT count(*) AS created,
           count(DISTINCT r.named_task_id) AS task_types,
           count(*) FILTER (WHERE r.state IN ('complete', 'resolved_manually')) AS completed,
           count(*) FILTER (WHERE r.state = 'error') AS failed
    FROM recent r
),
recent_steps AS (
    SELECT count(*) FILTER (WHERE cur.to_state IN ('complete', 'resolved_manually')) AS completed,
           count(*) FILTER (WHERE cur.to_state = 'error') AS failed
    FROM recent r
    JOIN tasker_workflow_steps ws ON ws.task_id = r.task_id
    LEFT JOIN tasker_workflow_step_transitions cur
           ON cur.workflow_step_id = ws.workflow_step_id AND cur.most_recent
),
task_events AS (
    SELECT count(DISTINCT tr.task_id) FILTER (WHERE tr.to_state IN ('complete', 'resolved_manually')) AS completions,
           count(DISTINCT tr.task_id) FILTER (WHERE tr.to_state = 'error') AS errors
    FROM win
    JOIN tasker_task_transitions tr ON tr.created_at >= win.since
    WHERE tr.to_state IN ('complete', 'resolved_manually', 'error')
),
task_durations AS (
    SELECT avg(extract(epoch FROM COALESCE(t.completed_at, c.completed) - t.created_at)) AS seconds
    FROM (SELECT tr.task_id, max(tr.created_at) AS completed
          FROM win
          JOIN tasker_task_transitions tr ON tr.created_at >= win.since
          WHERE tr.to_state = 'complete'
          GROUP BY tr.task_id) c
    JOIN tasker_tasks t ON t.task_id = c.task_id
),
step_done AS (
    SELECT DISTINCT ON (st.workflow_step_id) st.workflow_step_id, st.to_state, st.sort_key, st.created_at
    FROM win
    JOIN tasker_workflow_step_transitions st ON st.created_at >= win.since
    WHERE st.to_state IN ('complete', 'resolved_manually')
    ORDER BY st.workflow_step_id, st.sort_key DESC
),
step_stats AS (
    SELECT count(*) AS completed,
           avg(extract(epoch FROM d.created_at - s.started)) FILTER (WHERE d.to_state = 'complete') AS seconds
    FROM step_done d
    LEFT JOIN LATERAL (
        SELECT ip.created_at AS started
        FROM tasker_workflow_step_transitions ip
        WHERE ip.workflow_step_id = d.workflow_step_id AND ip.to_state = 'in_progress' AND ip.sort_key < d.sort_key
        ORDER BY ip.sort_key DESC
        LIMIT 1
    ) s ON true
),
shares AS (
    SELECT COALESCE(rt.failed::numeric / NULLIF(rt.failed + rt.completed, 0), 0) AS task_failure,
           COALESCE(rs.failed::numeric / NULLIF(rs.failed + rs.completed, 0), 0) AS step_failure
    FROM recent_tasks rt, recent_steps rs
)
SELECT a.n,
       (SELECT count(*) FROM tasker_task_namespaces),
       rt.task_types,
       round(1 - (0.7 * sh.task_failure + 0.3 * sh.step_failure), 4),  -- HealthScoreTaskWeight, HealthScoreStepWeight
       rt.created,
       te.completions,
       te.errors,
       COALESCE(round(rt.completed::numeric / NULLIF(rt.created, 0), 4), 0),
       COALESCE(round(rt.failed::numeric / NULLIF(rt.created, 0), 4), 0),
       round(td.seconds, 3),
       round(ss.seconds, 3),
       ss.completed,
       w.since
FROM win w, active a, recent_tasks rt, shares sh, task_events te, task_durations td, step_stats ss
$$;

-- get_slowest_tasks: the tasks of the window, slowest first (ties by task_id).
-- A task is in the window when it was created in it or completed in it, so a task
-- longer than the window still shows up when it finishes inside it (filtering on
-- created_at alone, as tasker-engine did, hides exactly the slowest tasks).
-- completed_at is set when the current state is complete or resolved_manually
-- (tasks.completed_at, else the time of that transition); otherwise it is NULL and
-- duration_seconds runs up to now(). Step counts are by current step state;
-- completed_steps = complete + resolved_manually. Filters: NULL = any; names and
-- versions match exactly. limit_count defaults to 10, mirroring
-- sqlfuncs.DefaultSlowestLimit (an explicit NULL means the same); the Go wrapper
-- also enforces sqlfuncs.MaxSlowestLimit.
CREATE FUNCTION get_slowest_tasks(
    since_timestamp timestamptz DEFAULT NULL,
    limit_count integer DEFAULT 10,
    namespace_filter text DEFAULT NULL,
    task_name_filter text DEFAULT NULL,
    version_filter text DEFAULT NULL)
RETURNS TABLE (
    task_id bigint,
    task_name text,
    version text,
    namespace_name text,
    duration_seconds numeric(14, 3),
    step_count bigint,
    completed_steps bigint,
    error_steps bigint,
    created_at timestamptz,
    completed_at timestamptz,
    initiator text,
    source_system text
)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
WITH win AS (
    SELECT COALESCE(since_timestamp, now() - interval '1 hour') AS since  -- DefaultAnalyticsWindow
),
candidates AS (
    SELECT t.task_id, nt.name::text AS task_name, nt.version::text AS version, tn.name::text AS namespace_name,
           t.created_at, t.initiator::text AS initiator, t.source_system::text AS source_system,
           CASE WHEN cur.to_state IN ('complete', 'resolved_manually')
                THEN COALESCE(t.completed_at, cur.created_at) END AS done_at
    FROM tasker_tasks t
    JOIN tasker_named_tasks nt ON nt.named_task_id = t.named_task_id
    JOIN tasker_task_namespaces tn ON tn.task_namespace_id = nt.task_namespace_id
    LEFT JOIN tasker_task_transitions cur ON cur.task_id = t.task_id AND cur.most_recent
    WHERE (namespace_filter IS NULL OR tn.name = namespace_filter)
      AND (task_name_filter IS NULL OR nt.name = task_name_filter)
      AND (version_filter IS NULL OR nt.version = version_filter)
),
slowest AS (
    SELECT c.*, extract(epoch FROM COALESCE(c.done_at, now()) - c.created_at) AS seconds
    FROM candidates c, win
    WHERE c.created_at >= win.since OR c.done_at >= win.since
    ORDER BY seconds DESC, c.task_id
    LIMIT COALESCE(limit_count, 10)  -- DefaultSlowestLimit
)
SELECT s.task_id, s.task_name, s.version, s.namespace_name, round(s.seconds, 3),
       st.total, st.completed, st.failed,
       s.created_at, s.done_at, s.initiator, s.source_system
FROM slowest s
CROSS JOIN LATERAL (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE cur.to_state IN ('complete', 'resolved_manually')) AS completed,
           count(*) FILTER (WHERE cur.to_state = 'error') AS failed
    FROM tasker_workflow_steps ws
    LEFT JOIN tasker_workflow_step_transitions cur
           ON cur.workflow_step_id = ws.workflow_step_id AND cur.most_recent
    WHERE ws.task_id = s.task_id
) st
ORDER BY s.seconds DESC, s.task_id
$$;

-- get_slowest_steps: steps whose current state is complete and whose complete
-- transition is in the window, slowest first (ties by workflow_step_id).
-- duration_seconds runs from the in_progress transition just before the complete
-- one (the successful, latest attempt; earlier failed attempts and backoff waits are
-- not counted) to the complete transition; those are started_at and completed_at.
-- A step without such an in_progress transition has no measurable run and is left
-- out. attempts and retry_limit are normalized (NULL attempts = 0, NULL limit = 3).
-- Filters and limit_count as in get_slowest_tasks (10 mirrors DefaultSlowestLimit).
CREATE FUNCTION get_slowest_steps(
    since_timestamp timestamptz DEFAULT NULL,
    limit_count integer DEFAULT 10,
    namespace_filter text DEFAULT NULL,
    task_name_filter text DEFAULT NULL,
    version_filter text DEFAULT NULL)
RETURNS TABLE (
    workflow_step_id bigint,
    task_id bigint,
    step_name text,
    task_name text,
    namespace_name text,
    version text,
    duration_seconds numeric(14, 3),
    attempts integer,
    retry_limit integer,
    step_status text,
    started_at timestamptz,
    completed_at timestamptz
)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
WITH win AS (
    SELECT COALESCE(since_timestamp, now() - interval '1 hour') AS since  -- DefaultAnalyticsWindow
),
done AS (
    SELECT cur.workflow_step_id, cur.sort_key, cur.created_at AS completed_at
    FROM win
    JOIN tasker_workflow_step_transitions cur ON cur.created_at >= win.since
    WHERE cur.most_recent AND cur.to_state = 'complete'
),
timed AS (
    SELECT d.workflow_step_id, s.started_at, d.completed_at,
           extract(epoch FROM d.completed_at - s.started_at) AS seconds
    FROM done d
    CROSS JOIN LATERAL (
        SELECT ip.created_at AS started_at
        FROM tasker_workflow_step_transitions ip
        WHERE ip.workflow_step_id = d.workflow_step_id AND ip.to_state = 'in_progress' AND ip.sort_key < d.sort_key
        ORDER BY ip.sort_key DESC
        LIMIT 1
    ) s
)
SELECT ws.workflow_step_id, ws.task_id, ns.name::text, nt.name::text, tn.name::text, nt.version::text,
       round(tm.seconds, 3),
       COALESCE(ws.attempts, 0), COALESCE(ws.retry_limit, 3),
       'complete'::text,
       tm.started_at, tm.completed_at
FROM timed tm
JOIN tasker_workflow_steps ws ON ws.workflow_step_id = tm.workflow_step_id
JOIN tasker_named_steps ns ON ns.named_step_id = ws.named_step_id
JOIN tasker_tasks t ON t.task_id = ws.task_id
JOIN tasker_named_tasks nt ON nt.named_task_id = t.named_task_id
JOIN tasker_task_namespaces tn ON tn.task_namespace_id = nt.task_namespace_id
WHERE (namespace_filter IS NULL OR tn.name = namespace_filter)
  AND (task_name_filter IS NULL OR nt.name = task_name_filter)
  AND (version_filter IS NULL OR nt.version = version_filter)
ORDER BY tm.seconds DESC, ws.workflow_step_id
LIMIT COALESCE(limit_count, 10)  -- DefaultSlowestLimit
$$;
