-- The task list (store.ListTasks) pages in (created_at, task_id) order with a
-- keyset cursor: one index for every task, one per named task for lists filtered
-- by namespace/name, so a page reads Limit+1 index entries rather than sorting.
CREATE INDEX IF NOT EXISTS tasker_tasks_created_idx ON tasker_tasks (created_at, task_id);
CREATE INDEX IF NOT EXISTS tasker_tasks_named_task_created_idx ON tasker_tasks (named_task_id, created_at, task_id);
