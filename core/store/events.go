package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/internal/pgurl"
)

// Event is one row of the outbox.
type Event struct {
	EventID       int64           `json:"event_id"`
	TaskID        int64           `json:"task_id"`
	TaskSeq       int64           `json:"task_seq"`
	StepID        *int64          `json:"step_id"`
	Name          string          `json:"name"`
	Namespace     string          `json:"namespace"` // of the task, for subscribers' filters
	TaskName      string          `json:"task_name"`
	CorrelationID string          `json:"correlation_id"`
	Payload       json.RawMessage `json:"payload"`
	CreatedAt     time.Time       `json:"created_at"`
	// Durable is true for an outbox event (EventID and TaskSeq are set), false
	// for a live-only one (before_transition, observability timings).
	Durable bool `json:"durable"`
}

// EventBatch is what FetchEvents returns; hand it back to AckEvents once the
// events are processed.
type EventBatch struct {
	Events  []Event `json:"events"`
	Horizon string  `json:"horizon"` // pg_snapshot_xmin just before the read
	Drained bool    `json:"drained"` // every visible undelivered event is in Events
}

// notifyChannelSQL names the channel transitions NOTIFY when they write events:
// one per schema ("tasker_events_" and 16 hex digits of the schema name's MD5, to
// stay within PostgreSQL's 63-byte identifiers), so a schema's listeners are not
// woken by another schema's writes.
const notifyChannelSQL = `SELECT 'tasker_events_' || left(md5(current_schema()), 16)`

// EventWait says how a FetchEvents that waits learns of new events. The zero
// value LISTENs on the pooled connection it reads with, which needs that
// connection's server session for the whole wait: right for a direct connection
// or a session pooler, wrong behind a transaction pooler (PgBouncer's
// pool_mode = transaction), which hands the server session to other clients
// between statements, so the LISTEN lands on a session the waiter no longer
// reads from. Behind one, set ListenURL or Poll (database.listen_url,
// events.wait_poll_interval_ms).
type EventWait struct {
	// ListenURL, when set, is a direct (not pooled) URL of the same database: a
	// fetch that found nothing opens a connection to it for its wait, LISTENs
	// there and reads the outbox again through the pool after each notification.
	ListenURL string
	// Poll, when > 0 and ListenURL is empty, makes a fetch that found nothing read
	// the outbox again every Poll until there are events or the wait is over.
	Poll time.Duration
	// ConnectTimeout bounds the connection to ListenURL (0: the wait's own deadline).
	ConnectTimeout time.Duration
}

// SetEventWait chooses how FetchEvents waits (see EventWait). Call it before
// the store is shared.
func (s *Store) SetEventWait(w EventWait) { s.wait = w }

// FetchEvents returns up to limit events subscriber has not acknowledged, in
// order per task (and in event_id order overall). If none is there and wait > 0,
// it waits up to wait for new ones (LISTEN, or what SetEventWait chose) and reads
// again. Delivery is once per subscriber once acknowledged; until then the same
// events come back (at least once).
func (s *Store) FetchEvents(ctx context.Context, subscriber string, limit int, wait time.Duration) (EventBatch, error) {
	if subscriber == "" || len(subscriber) > 128 {
		return EventBatch{}, errs.New(errs.Validation, map[string]any{"field": "subscriber"},
			"fetching events needs a subscriber name (at most 128 characters)")
	}
	if limit < 1 {
		return EventBatch{}, errs.New(errs.Validation, map[string]any{"field": "limit"}, "limit must be >= 1")
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return EventBatch{}, dbErr(err, "fetch events")
	}
	defer conn.Release()
	listenPooled := wait > 0 && s.wait.ListenURL == "" && s.wait.Poll <= 0
	if listenPooled {
		channel, err := listenChannel(ctx, conn)
		if err != nil {
			return EventBatch{}, err
		}
		if _, err := conn.Exec(ctx, `LISTEN `+channel); err != nil {
			return EventBatch{}, dbErr(err, "listen")
		}
		defer conn.Exec(context.WithoutCancel(ctx), `UNLISTEN `+channel) //nolint:errcheck // best effort
	}
	read := func() (EventBatch, error) { return readEvents(ctx, conn, subscriber, limit) }
	b, err := read()
	if err != nil || len(b.Events) > 0 || wait <= 0 {
		return b, err
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	switch {
	case listenPooled:
		return waitForEvents(ctx, wctx, conn.Conn(), read, b)
	case s.wait.ListenURL != "":
		return s.waitDirect(ctx, wctx, conn, read, b)
	default:
		return pollEvents(ctx, wctx, s.wait.Poll, read, b)
	}
}

// listenChannel is the quoted name of this schema's channel (notifyChannelSQL).
func listenChannel(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (string, error) {
	var channel string
	if err := q.QueryRow(ctx, notifyChannelSQL).Scan(&channel); err != nil {
		return "", dbErr(err, "listen")
	}
	return pgx.Identifier{channel}.Sanitize(), nil
}

// waitForEvents waits on listener for notifications until wctx ends, reading
// after each one. A notification may be for events this subscriber already has
// (or for another schema whose name shares the channel's hash): it reads again
// after each, until there are events or the wait is over.
func waitForEvents(ctx, wctx context.Context, listener *pgx.Conn, read func() (EventBatch, error), b EventBatch) (EventBatch, error) {
	for {
		if _, err := listener.WaitForNotification(wctx); err != nil {
			if wctx.Err() != nil && ctx.Err() == nil {
				return b, nil // waited long enough: nothing new
			}
			return b, dbErr(err, "wait for events")
		}
		var err error
		if b, err = read(); err != nil || len(b.Events) > 0 {
			return b, err
		}
	}
}

// waitDirect LISTENs on a connection of its own to EventWait.ListenURL, then
// reads once more (events committed between the first read and the LISTEN
// would wake nobody) before it waits. Connecting counts in the wait: a wait
// that ends while it connects returns empty, as any wait that saw nothing.
func (s *Store) waitDirect(ctx, wctx context.Context, conn *pgxpool.Conn, read func() (EventBatch, error), empty EventBatch) (EventBatch, error) {
	waited := func() bool { return wctx.Err() != nil && ctx.Err() == nil }
	channel, err := listenChannel(ctx, conn)
	if err != nil {
		return EventBatch{}, err
	}
	cfg, err := pgx.ParseConfig(s.wait.ListenURL)
	if err != nil {
		return EventBatch{}, errs.New(errs.Configuration, map[string]any{"key": "database.listen_url"},
			"database.listen_url %s: %v", pgurl.Mask(s.wait.ListenURL), pgurl.RedactError(err, s.wait.ListenURL))
	}
	if s.wait.ConnectTimeout > 0 {
		cfg.ConnectTimeout = s.wait.ConnectTimeout
	}
	listener, err := pgx.ConnectConfig(wctx, cfg)
	if err != nil {
		if waited() {
			return empty, nil
		}
		return EventBatch{}, dbErr(pgurl.RedactError(err, s.wait.ListenURL), "listen (database.listen_url)")
	}
	defer listener.Close(context.WithoutCancel(ctx)) //nolint:errcheck // closing ends the LISTEN
	if _, err := listener.Exec(wctx, `LISTEN `+channel); err != nil {
		if waited() {
			return empty, nil
		}
		return EventBatch{}, dbErr(err, "listen (database.listen_url)")
	}
	b, err := read()
	if err != nil || len(b.Events) > 0 {
		return b, err
	}
	return waitForEvents(ctx, wctx, listener, read, b)
}

// pollEvents reads every interval until there are events or wctx ends.
func pollEvents(ctx, wctx context.Context, interval time.Duration, read func() (EventBatch, error), b EventBatch) (EventBatch, error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-wctx.Done():
			if ctx.Err() == nil {
				return b, nil // waited long enough: nothing new
			}
			return b, dbErr(ctx.Err(), "wait for events")
		case <-t.C:
		}
		var err error
		if b, err = read(); err != nil || len(b.Events) > 0 {
			return b, err
		}
	}
}

// readEvents is one read of subscriber's undelivered events.
func readEvents(ctx context.Context, conn *pgxpool.Conn, subscriber string, limit int) (EventBatch, error) {
	b := EventBatch{Events: []Event{}}
	if _, err := conn.Exec(ctx, `INSERT INTO tasker_event_subscribers (subscriber) VALUES ($1)
		ON CONFLICT (subscriber) DO NOTHING`, subscriber); err != nil {
		return b, dbErr(err, "subscriber")
	}
	// The horizon is read before the events, in its own statement: every
	// transaction older than it had finished before the events are read, so
	// all of their events are in what the next statement sees (also when a
	// transaction pooler runs the two on different server sessions: the second
	// starts after the first returned).
	var horizon string
	if err := conn.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text`).Scan(&horizon); err != nil {
		return b, dbErr(err, "snapshot")
	}
	rows, err := conn.Query(ctx, `
		SELECT e.event_id, COALESCE(e.task_id, 0), e.task_seq, e.step_id, e.name, COALESCE(tn.name, ''), COALESCE(nt.name, ''),
		       COALESCE(e.correlation_id::text, ''), e.payload, e.created_at
		FROM tasker_events e
		LEFT JOIN tasker_event_cursors c ON c.subscriber = $1 AND c.task_id = COALESCE(e.task_id, 0)
		LEFT JOIN tasker_tasks k ON k.task_id = e.task_id
		LEFT JOIN tasker_named_tasks nt ON nt.named_task_id = k.named_task_id
		LEFT JOIN tasker_task_namespaces tn ON tn.task_namespace_id = nt.task_namespace_id
		WHERE e.tx >= (SELECT low_water FROM tasker_event_subscribers WHERE subscriber = $1)
		  AND e.task_seq > COALESCE(c.last_seq, 0)
		ORDER BY e.event_id LIMIT $2`, subscriber, limit)
	if err != nil {
		return b, dbErr(err, "fetch events")
	}
	var e Event
	if _, err := pgx.ForEachRow(rows, []any{&e.EventID, &e.TaskID, &e.TaskSeq, &e.StepID, &e.Name, &e.Namespace, &e.TaskName, &e.CorrelationID,
		&e.Payload, &e.CreatedAt}, func() error {
		e.CreatedAt = e.CreatedAt.UTC()
		e.Durable = true
		b.Events = append(b.Events, e)
		e.StepID = nil
		return nil
	}); err != nil {
		return b, dbErr(err, "fetch events")
	}
	b.Horizon, b.Drained = horizon, len(b.Events) < limit
	return b, nil
}

// StartSubscriber creates subscriber's cursor, when the outbox has not seen that
// name yet, so that its first fetch begins at since instead of at the
// beginning of the outbox: the events created at or after since (by the
// outbox's created_at, its transaction's start), or with since nil the events
// of the transactions that commit from now on. An existing subscriber keeps its
// cursor. It reports whether the cursor was created.
//
// One statement, one snapshot: the horizon is the oldest running transaction
// (every older one has committed or aborted, and the events of those that
// precede since are behind it), and each task with events above the horizon
// that the snapshot sees (and that precede since) gets its cursor at its last
// such event; events of transactions still running commit above both.
func (s *Store) StartSubscriber(ctx context.Context, subscriber string, since *time.Time) (bool, error) {
	if subscriber == "" || len(subscriber) > 128 {
		return false, errs.New(errs.Validation, map[string]any{"field": "subscriber"},
			"a subscriber name is 1 to 128 characters")
	}
	var created bool
	err := s.pool.QueryRow(ctx, `
		WITH pos AS (
			SELECT LEAST(pg_snapshot_xmin(pg_current_snapshot()),
			             (SELECT tx FROM tasker_events WHERE created_at >= COALESCE($2::timestamptz, 'infinity')
			              ORDER BY tx LIMIT 1)) AS low
		), ins AS (
			INSERT INTO tasker_event_subscribers (subscriber, low_water)
			SELECT $1, low FROM pos
			ON CONFLICT (subscriber) DO NOTHING
			RETURNING low_water
		), cur AS (
			INSERT INTO tasker_event_cursors (subscriber, task_id, last_seq)
			SELECT $1, e.task_id, max(e.task_seq)
			FROM tasker_events e, ins
			WHERE e.tx >= ins.low_water AND e.created_at < COALESCE($2::timestamptz, 'infinity')
			GROUP BY e.task_id
			ON CONFLICT (subscriber, task_id) DO UPDATE SET last_seq = GREATEST(tasker_event_cursors.last_seq, EXCLUDED.last_seq)
		)
		SELECT EXISTS (SELECT 1 FROM ins)`, subscriber, since).Scan(&created)
	return created, dbErr(err, "start subscriber")
}

// AckEvents records that subscriber processed a batch: each task's cursor moves to
// the last sequence number delivered, and when the batch drained everything
// visible, the subscriber's horizon moves up to the batch's.
func (s *Store) AckEvents(ctx context.Context, subscriber string, b EventBatch) error {
	last := map[int64]int64{}
	for _, e := range b.Events {
		if e.TaskSeq > last[e.TaskID] {
			last[e.TaskID] = e.TaskSeq
		}
	}
	tasks := make([]int64, 0, len(last))
	seqs := make([]int64, 0, len(last))
	for t, q := range last {
		tasks, seqs = append(tasks, t), append(seqs, q)
	}
	return dbErr(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if len(tasks) > 0 {
			if _, err := tx.Exec(ctx, `
				INSERT INTO tasker_event_cursors (subscriber, task_id, last_seq)
				SELECT $1, t, q FROM unnest($2::bigint[], $3::bigint[]) AS u(t, q)
				ON CONFLICT (subscriber, task_id) DO UPDATE SET last_seq = GREATEST(tasker_event_cursors.last_seq, EXCLUDED.last_seq)`,
				subscriber, tasks, seqs); err != nil {
				return err
			}
		}
		if b.Drained && b.Horizon != "" {
			if _, err := tx.Exec(ctx, `UPDATE tasker_event_subscribers SET low_water = GREATEST(low_water, $2::xid8),
				updated_at = now() WHERE subscriber = $1`, subscriber, b.Horizon); err != nil {
				return err
			}
		}
		return nil
	}), "ack events")
}

// PruneEvents deletes outbox rows older than retention (events.retention_hours),
// and the per-task cursors that no longer have events to guard, and returns how
// many events it deleted. A subscriber that falls further behind than the
// retention misses what was pruned.
func (s *Store) PruneEvents(ctx context.Context, retention time.Duration) (int64, error) {
	if retention <= 0 {
		return 0, errs.New(errs.Validation, map[string]any{"field": "retention"}, "retention must be positive")
	}
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM tasker_events WHERE created_at < now() - make_interval(secs => $1)`,
			retention.Seconds())
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM tasker_event_cursors c
			WHERE NOT EXISTS (SELECT 1 FROM tasker_events e WHERE e.task_id = c.task_id)
			  AND NOT (c.task_id = 0 AND EXISTS (SELECT 1 FROM tasker_events e WHERE e.task_id IS NULL))`)
		return err
	})
	return n, dbErr(err, "prune events")
}

// PublishCustomEvent writes a custom event of a task to the outbox, in the task's
// event sequence. Only events the task's template declares (custom_events) may be
// published; lifecycle events are written by the transitions themselves.
func (s *Store) PublishCustomEvent(ctx context.Context, taskID int64, name string, payload json.RawMessage) (int64, error) {
	if len(payload) == 0 {
		payload = json.RawMessage(`{}`)
	}
	var obj map[string]any
	if err := json.Unmarshal(payload, &obj); err != nil || obj == nil {
		return 0, errs.New(errs.Validation, map[string]any{"field": "payload"}, "payload must be a JSON object")
	}
	if !s.eventsEnabled {
		return 0, nil // events.enabled is false: nothing is published
	}
	var seq int64
	ctx, col := s.collect(ctx)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var declared bool
		err := tx.QueryRow(ctx, `
			SELECT EXISTS (
				SELECT 1 FROM jsonb_array_elements(
					COALESCE(CASE WHEN jsonb_typeof(nt.configuration->'custom_events') = 'array' THEN nt.configuration->'custom_events' END, '[]'::jsonb)
					|| COALESCE((SELECT jsonb_agg(ev) FROM jsonb_array_elements(
					             CASE WHEN jsonb_typeof(nt.configuration->'steps') = 'array' THEN nt.configuration->'steps' ELSE '[]'::jsonb END) st,
					             jsonb_array_elements(CASE WHEN jsonb_typeof(st->'custom_events') = 'array' THEN st->'custom_events' ELSE '[]'::jsonb END) ev),
					            '[]'::jsonb)) e
				WHERE e->>'name' = $2)
			FROM tasker_tasks t JOIN tasker_named_tasks nt ON nt.named_task_id = t.named_task_id
			WHERE t.task_id = $1
			FOR NO KEY UPDATE OF t`, taskID, name).Scan(&declared)
		if err == pgx.ErrNoRows {
			return errs.New(errs.NotFound, map[string]any{"task_id": taskID}, "task %d not found", taskID)
		}
		if err != nil {
			return err
		}
		if !declared {
			return errs.New(errs.Validation, map[string]any{"event": name, "task_id": taskID},
				"event %q is not a custom event of task %d's template (declare it under custom_events)", name, taskID)
		}
		c := collectorFrom(ctx)
		if c == nil {
			c = &collector{} // the sequence number comes back in the same rows
		}
		rows, err := tx.Query(ctx, `
			WITH bumped AS (
				UPDATE tasker_tasks SET event_seq = event_seq + 1 WHERE task_id = $1 RETURNING event_seq, correlation_id
			), written AS (
				INSERT INTO tasker_events (task_id, task_seq, name, correlation_id, payload)
				SELECT $1, b.event_seq, $2, b.correlation_id, $3::jsonb || jsonb_build_object('task_id', $1::bigint)
				FROM bumped b
				`+eventColumns+`
			)
			`+eventTail(true), taskID, name, string(payload))
		if err != nil {
			return err
		}
		if err := scanLive(rows, c); err != nil {
			return err
		}
		seq = c.evs[len(c.evs)-1].TaskSeq
		return nil
	})
	if err != nil {
		return 0, dbErr(err, "publish event")
	}
	s.published(col)
	return seq, nil
}
