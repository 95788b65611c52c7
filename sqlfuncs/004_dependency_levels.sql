-- Dependency levels (REFERENCE §5): roots 0, a child one more than its deepest
-- parent. The engine's recursive CTE enumerated every path (exponential on wide
-- diamonds) and had no cycle guard. This one walks (step, level) pairs with UNION,
-- which drops repeats, so the work is bounded by steps × depth, not by paths; and
-- it stops at depth = number of steps, because a longer walk must go round a cycle.
-- A cycle (or a step no root reaches, which in a finite graph means a cycle above
-- it) raises SQLSTATE TK001 naming the steps involved. A task without steps has no
-- cycle and no levels: no rows, as the engine answers.
--
-- SET plan_cache_mode = force_custom_plan: the statements below are planned for
-- the task asked about. A cached generic plan is planned for an average task, and
-- once one 10,000-step task shares the tables that average makes it read every edge
-- (a sequential scan and a hash) for a 100-step task as well; planning these few
-- statements costs far less than that. (PostgreSQL applies a function's SET clause
-- for the duration of each call.)
CREATE FUNCTION calculate_dependency_levels(input_task_id bigint)
RETURNS TABLE (workflow_step_id bigint, dependency_level integer)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    n integer;
    ids bigint[];
    levels integer[];
    stuck text;
BEGIN
    SELECT count(*) INTO n FROM tasker_workflow_steps ws WHERE ws.task_id = input_task_id;
    IF n = 0 THEN
        RETURN;
    END IF;

    WITH RECURSIVE edges AS (
        SELECT e.from_step_id, e.to_step_id
        FROM tasker_workflow_step_edges e
        JOIN tasker_workflow_steps c ON c.workflow_step_id = e.to_step_id
        WHERE c.task_id = input_task_id
    ),
    walk(step_id, level) AS (
        SELECT ws.workflow_step_id, 0
        FROM tasker_workflow_steps ws
        WHERE ws.task_id = input_task_id
          AND NOT EXISTS (SELECT 1 FROM edges e WHERE e.to_step_id = ws.workflow_step_id)
        UNION
        SELECT e.to_step_id, w.level + 1
        FROM walk w JOIN edges e ON e.from_step_id = w.step_id
        WHERE w.level < n
    ),
    deepest AS (
        SELECT w.step_id, max(w.level) AS level FROM walk w GROUP BY w.step_id
    )
    SELECT COALESCE(array_agg(d.step_id ORDER BY d.level, d.step_id), '{}'),
           COALESCE(array_agg(d.level ORDER BY d.level, d.step_id), '{}')
    INTO ids, levels
    FROM deepest d;

    IF cardinality(ids) < n OR COALESCE(levels[cardinality(levels)], 0) >= n THEN
        SELECT string_agg(ns.name || ' (' || ws.workflow_step_id || ')', ', ' ORDER BY ws.workflow_step_id)
        INTO stuck
        FROM tasker_workflow_steps ws
        JOIN tasker_named_steps ns ON ns.named_step_id = ws.named_step_id
        WHERE ws.task_id = input_task_id
          AND NOT (ws.workflow_step_id = ANY (ids)
                   AND levels[array_position(ids, ws.workflow_step_id)] < n);
        RAISE EXCEPTION 'dependency cycle in task %: steps on or below a cycle: %', input_task_id, stuck
            USING ERRCODE = 'TK001';
    END IF;

    RETURN QUERY SELECT u.id, u.lvl FROM unnest(ids, levels) AS u(id, lvl);
END
$$;
