package store

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/taskercore/tasker-core/core/errs"
)

// System events: events not tied to a task (system.* health, library.warning.*
// and library.error.*). Durable ones are written to the outbox with a NULL
// task_id, in the "system" stream of tasker_event_streams (migration 0011): their
// task_seq is that stream's, assigned under its row lock, so no task's sequence
// changes and the stream is read in commit order like a task's. They carry
// TaskID 0 in Go and task_id null in JSON.

// SystemEvent is one event of the system stream to write.
type SystemEvent struct {
	Name    string
	Payload map[string]any
}

// MarshalJSON writes task_id as null for an event not tied to a task.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	if e.TaskID != 0 {
		return json.Marshal(plain(e))
	}
	return json.Marshal(struct {
		plain
		TaskID *int64 `json:"task_id"`
	}{plain: plain(e)})
}

// PublishSystemEvent writes a durable system event in a transaction of its own
// and hands it to the live sink after the commit.
func (s *Store) PublishSystemEvent(ctx context.Context, name string, payload map[string]any) error {
	if name == "" {
		return errs.New(errs.Validation, map[string]any{"field": "name"}, "a system event needs a name")
	}
	if !s.eventsEnabled {
		return nil
	}
	ctx, col := s.collect(ctx)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return s.writeSystemEvents(ctx, tx, []SystemEvent{{Name: name, Payload: payload}})
	})
	s.observe(err)
	if err != nil {
		return dbErr(err, "publish system event")
	}
	s.published(col)
	return nil
}

// writeSystemEvents appends events to the system stream inside tx (collected for
// live delivery when someone listens).
func (s *Store) writeSystemEvents(ctx context.Context, tx pgx.Tx, evs []SystemEvent) error {
	if len(evs) == 0 || !s.eventsEnabled {
		return nil
	}
	names := make([]string, len(evs))
	payloads := make([]string, len(evs))
	for i, e := range evs {
		p := e.Payload
		if p == nil {
			p = map[string]any{}
		}
		b, err := json.Marshal(p)
		if err != nil {
			return errs.Wrap(errs.Internal, err, "system event %s: payload", e.Name)
		}
		names[i], payloads[i] = e.Name, string(b)
	}
	c := collectorFrom(ctx)
	err := execEvents(ctx, tx, `
		WITH bumped AS (
			UPDATE tasker_event_streams SET event_seq = event_seq + $1 WHERE stream = 'system'
			RETURNING event_seq - $1 AS base
		), items AS (
			SELECT u.name, u.payload, u.n FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(name, payload, n)
		), written AS (
			INSERT INTO tasker_events (task_id, task_seq, name, payload)
			SELECT NULL, b.base + i.n, i.name, i.payload::jsonb FROM bumped b, items i
			`+eventColumns+`
		)
		`+eventTail(c != nil), len(evs), names, payloads)
	return dbErr(err, "write system events")
}

// presumedDead builds system.worker.presumed_dead for each holder (other than the
// recovering worker itself, whose own hung step is no sign of death) whose
// expired leases a recovery applied, with how many steps it lost.
func presumedDead(outs []BatchOutcome, holders map[int64]string, recoveredBy string) []SystemEvent {
	byHolder := map[string][]int64{}
	for _, o := range outs {
		h := holders[o.StepID]
		if o.Status != OutcomeApplied || h == "" || h == recoveredBy {
			continue
		}
		byHolder[h] = append(byHolder[h], o.StepID)
	}
	ids := make([]string, 0, len(byHolder))
	for h := range byHolder {
		ids = append(ids, h)
	}
	sort.Strings(ids)
	evs := make([]SystemEvent, 0, len(ids))
	for _, h := range ids {
		evs = append(evs, SystemEvent{Name: "system.worker.presumed_dead", Payload: map[string]any{
			"worker_id": h, "recovered_by": recoveredBy, "steps": len(byHolder[h]), "step_ids": byHolder[h]}})
	}
	return evs
}
