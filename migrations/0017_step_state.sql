-- Each step's current state and last failure, kept on the step row so that
-- readiness, the execution context and the schedule read them with the step
-- instead of two look-ups per step in the audit trail.
--
-- current_state: the to_state of the step's most recent transition; NULL when the
-- step has none (an adopted engine row), which readers take as 'pending', as they
-- did a missing transition. last_failure_at: created_at of the step's most recent
-- transition to 'error' (NULL = never failed).
--
-- The audit trail stays the source of truth: a trigger on the transitions table
-- follows every insert of a most recent transition, whoever writes it (Tasker
-- Core, tasker-engine on a database adopted in place, a console). Tasker Core's
-- own writes set the columns in their step update and tell the trigger so
-- (below).
ALTER TABLE tasker_workflow_steps ADD COLUMN IF NOT EXISTS current_state text;
ALTER TABLE tasker_workflow_steps ADD COLUMN IF NOT EXISTS last_failure_at timestamptz;

CREATE OR REPLACE FUNCTION tasker_follow_step_transitions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tasker_workflow_steps ws
    SET current_state = NEW.to_state,
        last_failure_at = CASE WHEN NEW.to_state = 'error' THEN NEW.created_at ELSE ws.last_failure_at END
    WHERE ws.workflow_step_id = NEW.workflow_step_id
      AND (ws.current_state IS DISTINCT FROM NEW.to_state
           OR (NEW.to_state = 'error' AND ws.last_failure_at IS DISTINCT FROM NEW.created_at));
    RETURN NULL;
END
$$;

-- A row trigger, its one statement's plan kept for the session (a statement
-- trigger joining its transition table measured about 1 ms at every insert,
-- a single-row one too). Tasker Core's own writes set tasker.step_state_written for their
-- transaction (set_config(…, true)) after writing the columns themselves, and
-- the WHEN clause skips them; every other writer is followed.
DROP TRIGGER IF EXISTS tasker_follow_step_transitions ON tasker_workflow_step_transitions;
CREATE TRIGGER tasker_follow_step_transitions
    AFTER INSERT ON tasker_workflow_step_transitions
    FOR EACH ROW
    WHEN (NEW.most_recent AND current_setting('tasker.step_state_written', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION tasker_follow_step_transitions();

-- A transition rewritten in place (its state or time: a repair by hand, a test
-- moving a trail back in time) makes its step's columns be read from the trail
-- again. Tasker Core never rewrites either column, so this fires for nobody else.
-- (Deleting a step's most recent transition is not followed: the trail is
-- append-only; a step deleted with its task goes with its columns.)
CREATE OR REPLACE FUNCTION tasker_reread_step_transitions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tasker_workflow_steps ws SET current_state = c.to_state, last_failure_at = c.failed_at
    FROM (SELECT (SELECT t.to_state FROM tasker_workflow_step_transitions t
                  WHERE t.workflow_step_id = NEW.workflow_step_id AND t.most_recent) AS to_state,
                 (SELECT t.created_at FROM tasker_workflow_step_transitions t
                  WHERE t.workflow_step_id = NEW.workflow_step_id AND t.to_state = 'error'
                  ORDER BY t.sort_key DESC LIMIT 1) AS failed_at) c
    WHERE ws.workflow_step_id = NEW.workflow_step_id
      AND (ws.current_state IS DISTINCT FROM c.to_state OR ws.last_failure_at IS DISTINCT FROM c.failed_at);
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS tasker_reread_step_transitions ON tasker_workflow_step_transitions;
CREATE TRIGGER tasker_reread_step_transitions
    AFTER UPDATE OF to_state, created_at ON tasker_workflow_step_transitions
    FOR EACH ROW EXECUTE FUNCTION tasker_reread_step_transitions();

-- The columns of the steps that exist (an adopted database's too).
UPDATE tasker_workflow_steps ws SET current_state = t.to_state
FROM tasker_workflow_step_transitions t
WHERE t.workflow_step_id = ws.workflow_step_id AND t.most_recent;

UPDATE tasker_workflow_steps ws SET last_failure_at = f.created_at
FROM (SELECT DISTINCT ON (workflow_step_id) workflow_step_id, created_at
      FROM tasker_workflow_step_transitions WHERE to_state = 'error'
      ORDER BY workflow_step_id, sort_key DESC) f
WHERE f.workflow_step_id = ws.workflow_step_id;
