-- Orchestration: step leases (who runs a step, until when) and the task-level
-- schedule (when a task next has work), so claims never scan every task.

ALTER TABLE tasker_workflow_steps ADD COLUMN IF NOT EXISTS claimed_by varchar(128);
ALTER TABLE tasker_workflow_steps ADD COLUMN IF NOT EXISTS lease_expires_at timestamptz;
CREATE INDEX IF NOT EXISTS tasker_workflow_steps_lease_idx ON tasker_workflow_steps (lease_expires_at)
    WHERE in_process;

-- ready_at: now or earlier = the task has a ready step; a future time = its next
-- retry; NULL = nothing to do until a running step reports (or the task is done).
-- Every write that changes a step's state recomputes it for the step's task.
ALTER TABLE tasker_tasks ADD COLUMN IF NOT EXISTS ready_at timestamptz;
UPDATE tasker_tasks SET ready_at = now() WHERE NOT complete AND ready_at IS NULL;
CREATE INDEX IF NOT EXISTS tasker_tasks_ready_idx ON tasker_tasks (priority DESC, ready_at, task_id)
    WHERE ready_at IS NOT NULL;
