-- The W3C traceparent a task was created under (the span of its creation, a
-- child of the request that asked for it; NULL: created without one). Each
-- claimed step carries it, so the span of a step's execution — in Go, and of
-- its Ruby handler — joins the trace of the request that created the workflow.
ALTER TABLE tasker_tasks ADD COLUMN IF NOT EXISTS trace_parent varchar(55);
