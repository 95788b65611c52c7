-- Dependency levels (REFERENCE §5): roots 0, a child one more than its deepest
-- parent. The engine's recursive CTE enumerated every path (exponential on wide
-- diamonds) and had no cycle guard. This is Kahn's algorithm, O(steps + edges):
-- two statements load the task's steps (ranked by id) and its edges as ranks into
-- arrays, a third counts each step's parents and finds its children's range, then
-- a loop peels the graph from its roots, each step leaving the queue
-- once and each edge followed once, so a lattice or a chain of diamonds costs in
-- proportion to its size however many paths it has. (The walk over (step, level)
-- pairs this replaces joined the task's edges again at every level: quadratic on
-- a chain of diamonds, whose depth grows with its size.) No temporary tables,
-- which a transaction-mode connection pooler would not keep.
--
-- The steps Kahn's algorithm cannot peel are those on or below a cycle; then it
-- raises SQLSTATE TK001 naming them. A task without steps has no cycle and no
-- levels: no rows, as the engine answers. Edges from a step of another task are
-- ignored (the engine's tables allow them; Tasker Core writes none).
--
-- SET plan_cache_mode = force_custom_plan: the statements are planned for the
-- task asked about. A cached generic plan is planned for an average task, and
-- once one 10,000-step task shares the tables that average makes it read every
-- edge (a sequential scan and a hash) for a 100-step task as well; planning these
-- statements costs far less than that. (PostgreSQL applies a function's SET
-- clause for the duration of each call.)
CREATE FUNCTION calculate_dependency_levels(input_task_id bigint)
RETURNS TABLE (workflow_step_id bigint, dependency_level integer)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    ids bigint[];     -- rank (1-based, ascending id) -> step id
    n integer;
    par integer[];    -- edge k runs from rank par[k] to rank adj[k], sorted by par
    adj integer[];
    first integer[];  -- the children of rank u are adj[first[u] .. last[u]]
    last integer[];
    indeg integer[];  -- parents not yet peeled
    lvl integer[];
    queue integer[];  -- ranks in the order they were peeled
    head integer := 1;
    tail integer := 0;
    u integer;
    c integer;
    l integer;
    stuck text;
BEGIN
    SELECT array_agg(ws.workflow_step_id ORDER BY ws.workflow_step_id) INTO ids
    FROM tasker_workflow_steps ws
    WHERE ws.task_id = input_task_id;
    n := cardinality(ids);
    IF n IS NULL THEN
        RETURN;
    END IF;

    WITH r AS (
        SELECT s.id, s.ord::integer AS ord FROM unnest(ids) WITH ORDINALITY AS s(id, ord)
    )
    SELECT COALESCE(array_agg(pr.ord ORDER BY pr.ord, cr.ord), '{}'),
           COALESCE(array_agg(cr.ord ORDER BY pr.ord, cr.ord), '{}')
    INTO par, adj
    FROM r cr
    JOIN tasker_workflow_step_edges e ON e.to_step_id = cr.id
    JOIN r pr ON pr.id = e.from_step_id;

    -- Per rank, in one statement (a PL/pgSQL loop over the edges cost a few
    -- statements an edge, most of a large task's time): its parents' count, the
    -- range of its children in adj (1 .. 0: none), and the roots in rank order,
    -- the queue's start.
    SELECT array_agg(COALESCE(d.cnt, 0) ORDER BY g.r),
           array_agg(COALESCE(o.lo, 1) ORDER BY g.r),
           array_agg(COALESCE(o.hi, 0) ORDER BY g.r),
           COALESCE(array_agg(g.r ORDER BY g.r) FILTER (WHERE d.cnt IS NULL), '{}')
    INTO indeg, first, last, queue
    FROM generate_series(1, n) AS g(r)
    LEFT JOIN (SELECT a.r, count(*)::integer AS cnt FROM unnest(adj) AS a(r) GROUP BY a.r) d ON d.r = g.r
    LEFT JOIN (SELECT x.r, min(x.k)::integer AS lo, max(x.k)::integer AS hi
               FROM unnest(par) WITH ORDINALITY AS x(r, k) GROUP BY x.r) o ON o.r = g.r;

    lvl := array_fill(0, ARRAY[n]);
    tail := cardinality(queue);
    queue := queue || array_fill(0, ARRAY[n - tail]);
    WHILE head <= tail LOOP
        u := queue[head];
        head := head + 1;
        l := lvl[u] + 1;
        FOR k IN first[u] .. last[u] LOOP
            c := adj[k];
            IF lvl[c] < l THEN
                lvl[c] := l;
            END IF;
            indeg[c] := indeg[c] - 1;
            IF indeg[c] = 0 THEN
                tail := tail + 1;
                queue[tail] := c;
            END IF;
        END LOOP;
    END LOOP;

    IF tail < n THEN
        SELECT string_agg(ns.name || ' (' || ws.workflow_step_id || ')', ', ' ORDER BY ws.workflow_step_id)
        INTO stuck
        FROM unnest(ids, indeg) AS s(id, parents_left)
        JOIN tasker_workflow_steps ws ON ws.workflow_step_id = s.id
        JOIN tasker_named_steps ns ON ns.named_step_id = ws.named_step_id
        WHERE s.parents_left > 0;
        RAISE EXCEPTION 'dependency cycle in task %: steps on or below a cycle: %', input_task_id, stuck
            USING ERRCODE = 'TK001';
    END IF;

    RETURN QUERY SELECT s.id, s.lvl FROM unnest(ids, lvl) AS s(id, lvl) ORDER BY s.lvl, s.id;
END
$$;
