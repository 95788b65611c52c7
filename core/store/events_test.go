package store_test

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
)

type outboxEvent struct {
	ID      int64
	Seq     int64
	StepID  *int64
	Name    string
	Corr    string
	Payload map[string]any
}

func outbox(t *testing.T, s *store.Store, taskID int64) []outboxEvent {
	t.Helper()
	rows, err := s.Pool().Query(context.Background(), `SELECT event_id, task_seq, step_id, name, correlation_id::text, payload
		FROM tasker_events WHERE task_id = $1 ORDER BY task_seq`, taskID)
	require.NoError(t, err)
	var out []outboxEvent
	for rows.Next() {
		var e outboxEvent
		require.NoError(t, rows.Scan(&e.ID, &e.Seq, &e.StepID, &e.Name, &e.Corr, &e.Payload))
		out = append(out, e)
	}
	require.NoError(t, rows.Err())
	return out
}

var isoUTC = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

// Every transition writes its event in the same transaction: the task's events are
// numbered 1… without gaps, in the order their transactions committed, with the
// REFERENCE §7 payloads.
func TestTransitionsWriteTheirEvents(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ct := create(t, s, "diamond", step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c"))
	for round := 0; round < 3; round++ {
		cs := claim(t, s, "w", ct.TaskID, 10)
		var reps []store.StepReport
		for _, c := range cs {
			reps = append(reps, ok("w", c))
		}
		report(t, s, reps...)
	}
	_, err := s.TransitionStep(context.Background(), store.StepTransition{StepID: ct.StepIDs["a"], To: state.Pending})
	require.Error(t, err, "an illegal transition")

	evs := outbox(t, s, ct.TaskID)
	require.NotEmpty(t, evs)
	perStep := map[string][]string{}
	var taskEvents []string
	names := map[int64]string{}
	for n, id := range ct.StepIDs {
		names[id] = n
	}
	for i, e := range evs {
		assert.Equal(t, int64(i+1), e.Seq, "gapless")
		if i > 0 {
			assert.Greater(t, e.ID, evs[i-1].ID, "event ids follow the task's sequence")
		}
		assert.Equal(t, ct.CorrelationID, e.Corr)
		assert.Regexp(t, isoUTC, e.Payload["transitioned_at"])
		assert.Equal(t, float64(ct.TaskID), e.Payload["task_id"])
		if e.StepID == nil {
			taskEvents = append(taskEvents, e.Name)
			assert.Equal(t, "diamond", e.Payload["task_name"])
			assert.Contains(t, e.Payload, "task_context")
			continue
		}
		name := names[*e.StepID]
		assert.Equal(t, name, e.Payload["step_name"])
		perStep[name] = append(perStep[name], e.Name)
	}
	assert.Equal(t, "task.initialize_requested", evs[0].Name)
	assert.Nil(t, evs[0].Payload["from_state"])
	assert.Equal(t, []string{"task.initialize_requested", "task.start_requested", "task.completed"}, taskEvents)
	assert.Equal(t, "task.completed", evs[len(evs)-1].Name, "the task's completion comes after every step's")
	for _, n := range []string{"a", "b", "c", "d"} {
		assert.Equal(t, []string{"step.initialize_requested", "step.execution_requested", "step.completed"}, perStep[n], n)
	}
	assert.Len(t, evs, 3+4*3, "the refused transition wrote no event")
}

// Concurrent reports on one task: the sequence stays gapless and unique.
func TestConcurrentEventSequenceIsGapless(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	specs := make([]store.StepSpec, 24)
	for i := range specs {
		specs[i] = step(fmt.Sprintf("s%02d", i))
	}
	ct := create(t, s, "wide", specs...)
	cs := claim(t, s, "w", ct.TaskID, 24)
	require.Len(t, cs, 24)
	var wg sync.WaitGroup
	for i := range cs {
		wg.Add(1)
		go func(c store.ClaimedStep) {
			defer wg.Done()
			_, err := s.ReportResults(ctx, []store.StepReport{ok("w", c)})
			assert.NoError(t, err)
		}(cs[i])
	}
	wg.Wait()
	evs := outbox(t, s, ct.TaskID)
	for i, e := range evs {
		require.Equal(t, int64(i+1), e.Seq)
		if i > 0 {
			assert.Greater(t, e.ID, evs[i-1].ID)
		}
	}
	assert.Equal(t, "task.completed", evs[len(evs)-1].Name)
	assert.Len(t, evs, 1+24+1+24+24+1) // initial task + steps, start, claims, completions, completion
}
