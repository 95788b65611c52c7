-- Tasker Core's additions: correlation ids, priority, completion time, the retry
-- policy row shared by SQL and Go, and the indexes readiness needs.

-- UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, random rest. Go generates
-- these at task creation; this default covers rows written by anything else and the
-- backfill of adopted engine rows (from their created_at, so ids still sort by time).
CREATE OR REPLACE FUNCTION tasker_uuid_v7(ts timestamptz DEFAULT clock_timestamp())
RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM ts) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

ALTER TABLE tasker_tasks ADD COLUMN IF NOT EXISTS correlation_id uuid;
UPDATE tasker_tasks SET correlation_id = tasker_uuid_v7(created_at) WHERE correlation_id IS NULL;
ALTER TABLE tasker_tasks ALTER COLUMN correlation_id SET DEFAULT tasker_uuid_v7();
ALTER TABLE tasker_tasks ALTER COLUMN correlation_id SET NOT NULL;
ALTER TABLE tasker_tasks ADD COLUMN IF NOT EXISTS priority integer NOT NULL DEFAULT 0;
ALTER TABLE tasker_tasks ADD COLUMN IF NOT EXISTS completed_at timestamptz;
CREATE INDEX IF NOT EXISTS tasker_tasks_correlation_id_idx ON tasker_tasks (correlation_id);
CREATE INDEX IF NOT EXISTS tasker_tasks_named_task_id_idx ON tasker_tasks (named_task_id);
CREATE INDEX IF NOT EXISTS tasker_tasks_incomplete_idx ON tasker_tasks (priority DESC, created_at)
    WHERE complete = false;

-- Where the engine database lacks them, the audit-trail invariants: one current row
-- per task or step, and a unique order.
CREATE UNIQUE INDEX IF NOT EXISTS tasker_task_transitions_sort_key_unique
    ON tasker_task_transitions (task_id, sort_key);
CREATE UNIQUE INDEX IF NOT EXISTS tasker_task_transitions_most_recent_unique
    ON tasker_task_transitions (task_id) INCLUDE (to_state, created_at) WHERE most_recent;
CREATE UNIQUE INDEX IF NOT EXISTS tasker_step_transitions_sort_key_unique
    ON tasker_workflow_step_transitions (workflow_step_id, sort_key);
CREATE UNIQUE INDEX IF NOT EXISTS tasker_step_transitions_most_recent_unique
    ON tasker_workflow_step_transitions (workflow_step_id) INCLUDE (to_state, created_at) WHERE most_recent;
-- Last failure of a step, for the backoff rule.
CREATE INDEX IF NOT EXISTS tasker_step_transitions_errors_idx
    ON tasker_workflow_step_transitions (workflow_step_id, sort_key DESC) INCLUDE (created_at)
    WHERE to_state = 'error';
CREATE INDEX IF NOT EXISTS tasker_task_transitions_state_idx
    ON tasker_task_transitions (to_state, created_at) WHERE most_recent;
CREATE INDEX IF NOT EXISTS tasker_step_transitions_state_idx
    ON tasker_workflow_step_transitions (to_state, created_at) WHERE most_recent;

-- Edges both ways, steps by task, unprocessed steps.
CREATE INDEX IF NOT EXISTS tasker_step_edges_to_from_idx ON tasker_workflow_step_edges (to_step_id, from_step_id);
CREATE INDEX IF NOT EXISTS tasker_step_edges_from_to_idx ON tasker_workflow_step_edges (from_step_id, to_step_id);
CREATE INDEX IF NOT EXISTS tasker_workflow_steps_task_idx ON tasker_workflow_steps (task_id);
CREATE INDEX IF NOT EXISTS tasker_workflow_steps_unprocessed_idx ON tasker_workflow_steps (task_id, workflow_step_id)
    WHERE processed = false;
CREATE INDEX IF NOT EXISTS tasker_workflow_steps_named_step_idx ON tasker_workflow_steps (named_step_id);

-- The retry policy (see core/backoff). One row named 'default' that the store keeps
-- equal to the Go configuration; SQL readiness reads it.
CREATE TABLE IF NOT EXISTS tasker_retry_policies (
    name varchar(64) PRIMARY KEY,
    strategy varchar(16) NOT NULL CHECK (strategy IN ('exponential', 'linear', 'fixed')),
    base_seconds double precision NOT NULL CHECK (base_seconds >= 0),
    multiplier double precision NOT NULL CHECK (multiplier >= 1),
    cap_seconds double precision NOT NULL CHECK (cap_seconds >= 0),
    jitter double precision NOT NULL CHECK (jitter >= 0 AND jitter <= 1),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- Same values as backoff.Default(); TestSeededPolicyMatchesGoDefault holds them equal.
INSERT INTO tasker_retry_policies (name, strategy, base_seconds, multiplier, cap_seconds, jitter)
VALUES ('default', 'exponential', 1, 2, 300, 0)
ON CONFLICT (name) DO NOTHING;
