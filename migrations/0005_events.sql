-- The durable event outbox: every state transition writes its lifecycle event
-- (REFERENCE §7) here in the same transaction. Events of one task carry a gapless
-- sequence (task_seq) assigned under the task's row lock, so a task's events are
-- visible in the order their transactions committed; tx lets a reader know when all
-- older transactions have finished (pg_snapshot_xmin).
ALTER TABLE tasker_tasks ADD COLUMN IF NOT EXISTS event_seq bigint NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS tasker_events (
    event_id bigserial PRIMARY KEY,
    task_id bigint NOT NULL,
    task_seq bigint NOT NULL,
    step_id bigint,
    name varchar(128) NOT NULL,
    correlation_id uuid,
    payload jsonb NOT NULL,
    tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS tasker_events_task_seq_unique ON tasker_events (task_id, task_seq);
-- (Indexes for readers — by tx for the delivery horizon, by created_at for pruning —
-- come with the reader; every index here is paid on every transition.)
