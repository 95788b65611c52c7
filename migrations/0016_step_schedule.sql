-- The step schedule: when each step can next run, so that a claim finds ready
-- steps through an index and every write updates the schedule in proportion to
-- the steps it changed, not to the size of their task.
--
-- runnable_at: now or earlier = the step is ready (the time it became ready); a
-- future time = its retry time (backoff); NULL = it cannot run until something
-- else changes (a parent completes, an operator acts, it is running or done).
-- It is derived from the audit trail by tasker_step_runnable_at (sqlfuncs), the
-- rules of readiness (get_step_readiness_status) for one step at a time; every
-- step transition recomputes it for the step and its children, and a task's
-- ready_at is the least runnable_at of its steps. Migrate fills it for every
-- unfinished task after installing the functions.
ALTER TABLE tasker_workflow_steps ADD COLUMN IF NOT EXISTS runnable_at timestamptz;
CREATE INDEX IF NOT EXISTS tasker_workflow_steps_runnable_idx ON tasker_workflow_steps (task_id, runnable_at)
    WHERE runnable_at IS NOT NULL;
