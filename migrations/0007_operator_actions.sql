-- The operator actions' audit trail (core/operator): one row per action an
-- operator applied (cancel_task, retry_step, ...), written in the same
-- transaction as the transitions it made, which carry its action_id in their
-- metadata. A dry run writes none. idempotency_key makes a repeated request
-- return the first answer (result) instead of acting twice.
CREATE TABLE IF NOT EXISTS tasker_operator_actions (
    action_id bigserial PRIMARY KEY,
    operation varchar(64) NOT NULL,
    target_type varchar(16) NOT NULL,          -- task | step
    target_id bigint NOT NULL,
    task_id bigint NOT NULL REFERENCES tasker_tasks (task_id),
    actor varchar(256) NOT NULL,
    reason text NOT NULL,
    request_id varchar(256),
    idempotency_key varchar(256),
    correlation_id uuid,
    params jsonb NOT NULL DEFAULT '{}'::jsonb,  -- the operation's arguments
    before_state jsonb NOT NULL,                -- {task: state, steps: {id: {...}}} of what it changed
    after_state jsonb NOT NULL,
    result jsonb NOT NULL,                      -- the answer the caller got
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS tasker_operator_actions_idempotency_unique
    ON tasker_operator_actions (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasker_operator_actions_task_idx ON tasker_operator_actions (task_id, action_id);
