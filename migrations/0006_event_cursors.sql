-- Readers of the event outbox: each subscriber's delivery horizon (every event of
-- a transaction older than low_water has been delivered) and, above it, how far
-- it got in each task's event sequence.
CREATE TABLE IF NOT EXISTS tasker_event_subscribers (
    subscriber varchar(128) PRIMARY KEY,
    low_water xid8 NOT NULL DEFAULT '0',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS tasker_event_cursors (
    subscriber varchar(128) NOT NULL,
    task_id bigint NOT NULL,
    last_seq bigint NOT NULL,
    PRIMARY KEY (subscriber, task_id)
);
CREATE INDEX IF NOT EXISTS tasker_events_tx_idx ON tasker_events (tx);
