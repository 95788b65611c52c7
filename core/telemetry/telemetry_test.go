package telemetry

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newT(t *testing.T, s Settings) *Telemetry {
	t.Helper()
	s.ExportTimeout, s.ScrapeTimeout = time.Second, time.Second
	tel, err := New(context.Background(), s)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel
}

func TestNamespaceLabelsAreBounded(t *testing.T) {
	t.Parallel()
	tel := newT(t, Settings{MetricsEnabled: true, TrackedStepsLimit: 10})
	for i := 0; i < MaxNamespaceLabels+50; i++ {
		tel.TaskCreated(fmt.Sprintf("ns%d", i))
	}
	mfs, err := tel.Registry().Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "tasker_tasks_created_total" {
			assert.Len(t, mf.GetMetric(), MaxNamespaceLabels+1, "the first namespaces and _other")
			return
		}
	}
	t.Fatal("tasker_tasks_created_total not gathered")
}

func TestTrackerIsBoundedAndForgetsReportedSteps(t *testing.T) {
	t.Parallel()
	tel := newT(t, Settings{MetricsEnabled: true, TrackedStepsLimit: 3})
	now := time.Now()
	for i := int64(1); i <= 5; i++ {
		tel.StepClaimed(context.Background(), ClaimedStep{StepID: i, Namespace: "n"}, now)
	}
	assert.Equal(t, 3, tel.Tracked())
	tel.StepReported(1, "applied", "complete", now.Add(time.Second))
	tel.StepReported(4, "applied", "complete", now.Add(time.Second)) // never tracked: counted as _other
	assert.Equal(t, 2, tel.Tracked())
	tel.StepRecovered(2, "error", now)
	assert.Equal(t, 1, tel.Tracked())
}

func TestTraceparents(t *testing.T) {
	t.Parallel()
	good := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	assert.True(t, ValidTraceparent(good))
	for _, bad := range []string{"", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"garbage", good + "-extra"} {
		assert.False(t, ValidTraceparent(bad), bad)
	}
	assert.Equal(t, good, Traceparent(WithTraceparent(context.Background(), good)))
	assert.Equal(t, "", Traceparent(WithTraceparent(context.Background(), "nope")))
}

// Tracing off: the hooks hand back the task's traceparent and start nothing.
func TestTracingOffIsANoOp(t *testing.T) {
	t.Parallel()
	tel := newT(t, Settings{MetricsEnabled: false})
	assert.False(t, tel.TracingEnabled())
	assert.Nil(t, tel.PgxTracer())
	ctx, span := StartSpan(WithContext(context.Background(), tel), "x")
	assert.False(t, span.IsRecording())
	assert.Equal(t, "", Traceparent(ctx))
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	assert.Equal(t, tp, tel.StepClaimed(ctx, ClaimedStep{StepID: 1, Traceparent: tp}, time.Now()))
	var nilTel *Telemetry
	assert.Equal(t, tp, nilTel.StepClaimed(ctx, ClaimedStep{Traceparent: tp}, time.Now()))
	nilTel.ObserveCall("x", time.Second, nil)
}
