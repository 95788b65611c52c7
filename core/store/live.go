package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// Live delivery. Besides the durable outbox, a store can hand events to an
// in-process sink (the api client's batching Publisher): each event a store
// transaction wrote, once that transaction has committed, and the live-only events
// that are not worth an outbox row (task/step.before_transition, the
// observability.* timings). The sink is called on the caller's goroutine and must
// not block; the Publisher only queues.
//
// Only the store methods that own their transaction publish what they wrote
// (the *Tx variants leave committing, and so publishing, to their caller).

// LiveSink receives events for in-process delivery.
type LiveSink func([]Event)

// SetLiveSink installs (or, with nil, removes) the live sink. It may be called at
// any time; while none is installed, writes skip the extra work of returning
// their events.
func (s *Store) SetLiveSink(f LiveSink) {
	if f == nil {
		s.live.Store(nil)
		return
	}
	s.live.Store(&f)
}

func (s *Store) liveSink() LiveSink {
	if p := s.live.Load(); p != nil && s.eventsEnabled {
		return *p
	}
	return nil
}

// collector gathers the events one transaction writes, for publishing after it
// commits.
type collector struct{ evs []Event }

type collectorKey struct{}

// collect returns ctx carrying a new collector when live delivery is on.
func (s *Store) collect(ctx context.Context) (context.Context, *collector) {
	if s.liveSink() == nil {
		return ctx, nil
	}
	c := &collector{}
	return context.WithValue(ctx, collectorKey{}, c), c
}

func collectorFrom(ctx context.Context) *collector {
	c, _ := ctx.Value(collectorKey{}).(*collector)
	return c
}

// mark and rollback forget what a rolled-back (sub)transaction collected.
func (c *collector) mark() int {
	if c == nil {
		return 0
	}
	return len(c.evs)
}

func (c *collector) rollback(to int) {
	if c != nil && to <= len(c.evs) {
		c.evs = c.evs[:to]
	}
}

// published hands a committed transaction's events to the sink.
func (s *Store) published(c *collector) {
	if c == nil || len(c.evs) == 0 {
		return
	}
	if sink := s.liveSink(); sink != nil {
		sink(c.evs)
	}
}

// publishLive hands live-only events to the sink at once (nothing is committed
// with them). Build them only when LiveOn says someone listens.
func (s *Store) publishLive(evs ...Event) {
	if sink := s.liveSink(); sink != nil && len(evs) > 0 {
		sink(evs)
	}
}

// collectLive adds live-only events to the transaction's collector: they are
// published after it commits, in order with what it wrote, and forgotten if it
// rolls back.
func collectLive(ctx context.Context, evs []Event) {
	if c := collectorFrom(ctx); c != nil {
		c.evs = append(c.evs, evs...)
	}
}

// nameLiveEvents fills the namespace, task name and correlation id of live-only
// events that lack them (one query for their tasks), so subscribers' namespace and
// task-name filters match them as they match durable events.
func nameLiveEvents(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, evs []Event) {
	var ids []int64
	seen := map[int64]bool{}
	for _, e := range evs {
		if e.Namespace == "" && !seen[e.TaskID] {
			seen[e.TaskID] = true
			ids = append(ids, e.TaskID)
		}
	}
	if len(ids) == 0 {
		return
	}
	rows, err := q.Query(ctx, `
		SELECT k.task_id, tn.name, nt.name, k.correlation_id::text
		FROM tasker_tasks k
		JOIN tasker_named_tasks nt ON nt.named_task_id = k.named_task_id
		JOIN tasker_task_namespaces tn ON tn.task_namespace_id = nt.task_namespace_id
		WHERE k.task_id = ANY ($1)`, ids)
	if err != nil {
		return // the transaction is failing anyway; its next statement reports it
	}
	type names struct{ ns, task, corr string }
	byTask := map[int64]names{}
	var id int64
	var n names
	if _, err := pgx.ForEachRow(rows, []any{&id, &n.ns, &n.task, &n.corr}, func() error {
		byTask[id] = n
		return nil
	}); err != nil {
		return
	}
	for i := range evs {
		if n, ok := byTask[evs[i].TaskID]; ok && evs[i].Namespace == "" {
			evs[i].Namespace, evs[i].TaskName = n.ns, n.task
			if evs[i].CorrelationID == "" {
				evs[i].CorrelationID = n.corr
			}
		}
	}
}

// LiveOn reports whether a live sink is installed (and events are enabled).
func (s *Store) LiveOn() bool { return s.liveSink() != nil }

// liveEvent builds a live-only event; payload gets task_id.
func liveEvent(taskID int64, stepID *int64, name string, payload map[string]any) Event {
	p := map[string]any{"task_id": taskID}
	for k, v := range payload {
		p[k] = v
	}
	b, err := json.Marshal(p)
	if err != nil {
		b = []byte(`{}`)
	}
	return Event{TaskID: taskID, StepID: stepID, Name: name, Payload: b, CreatedAt: time.Now().UTC()}
}

// notifyExpr wakes this schema's LISTENers (see NotifyChannel).
const notifyExpr = `pg_notify('tasker_events_' || left(md5(current_schema()), 16), '')`

// eventColumns is what every outbox INSERT returns (in a CTE named "written").
const eventColumns = `RETURNING event_id, task_id, task_seq, step_id, name, correlation_id, payload, created_at`

// eventTail ends an event-writing statement whose CTE "written" returns
// eventColumns. It wakes LISTENers (once, when something was written) and, for live
// delivery, returns the rows with their task's namespace and name.
func eventTail(live bool) string {
	if !live {
		return `SELECT ` + notifyExpr + ` FROM (SELECT 1 FROM written LIMIT 1) w`
	}
	return `SELECT w.event_id, COALESCE(w.task_id, 0), w.task_seq, w.step_id, w.name, COALESCE(tn.name, ''), COALESCE(nt.name, ''),
		       COALESCE(w.correlation_id::text, ''), w.payload, w.created_at, ` + notifyExpr + `::text
		FROM written w
		LEFT JOIN tasker_tasks k ON k.task_id = w.task_id
		LEFT JOIN tasker_named_tasks nt ON nt.named_task_id = k.named_task_id
		LEFT JOIN tasker_task_namespaces tn ON tn.task_namespace_id = nt.task_namespace_id
		ORDER BY w.task_id, w.task_seq`
}

// execEvents runs an event-writing statement (built with eventTail(c != nil)) and
// collects its rows when live delivery is on.
func execEvents(ctx context.Context, tx pgx.Tx, sql string, args ...any) error {
	c := collectorFrom(ctx)
	if c == nil {
		_, err := tx.Exec(ctx, sql, args...)
		return err
	}
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	return scanLive(rows, c)
}

func scanLive(rows pgx.Rows, c *collector) error {
	var e Event
	var notified string
	_, err := pgx.ForEachRow(rows, []any{&e.EventID, &e.TaskID, &e.TaskSeq, &e.StepID, &e.Name, &e.Namespace, &e.TaskName,
		&e.CorrelationID, &e.Payload, &e.CreatedAt, &notified}, func() error {
		e.CreatedAt = e.CreatedAt.UTC()
		e.Durable = true
		c.evs = append(c.evs, e)
		e.StepID, e.Payload = nil, nil
		return nil
	})
	return err
}
