-- Events not tied to a task (system.* health, library.warning.* / library.error.*)
-- in the outbox: their task_id is NULL, and their task_seq counts a stream of
-- their own ("system" in tasker_event_streams), assigned under that row's lock,
-- so the system stream's events are visible in the order their transactions
-- committed, like each task's. No task's event_seq is touched. Subscribers keep
-- their place in the system stream as a cursor with task_id 0 (no task has id 0).
ALTER TABLE tasker_events ALTER COLUMN task_id DROP NOT NULL;
CREATE TABLE IF NOT EXISTS tasker_event_streams (
    stream varchar(64) PRIMARY KEY,
    event_seq bigint NOT NULL DEFAULT 0
);
INSERT INTO tasker_event_streams (stream) VALUES ('system') ON CONFLICT (stream) DO NOTHING;
CREATE UNIQUE INDEX IF NOT EXISTS tasker_events_system_seq_unique ON tasker_events (task_seq) WHERE task_id IS NULL;
