package sqlfuncs_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/internal/testdb"
	"github.com/taskercore/tasker-core/sqlfuncs"
)

// analyticsWorld is the shared analytics fixture; B below is f.base (now, to the
// second). Every duration is fixed by the fixture's timestamps:
//
//	task  named task                    created  history (current state last)                        took
//	A     payments/charge 1.0.0         B-50m    in_progress B-50m, complete B-48m30s                  90 s
//	B     payments/charge 2.0.0         B-40m    in_progress, complete B-39m29s; completed_at B-39m30s 30 s
//	C     payments/refund 1.0.0         B-30m    in_progress, error B-20m                              open
//	D     inventory/restock 1.0.0       B-10m    (none: pending)                                       open
//	E     inventory/restock 1.0.0       B-5m     in_progress B-5m                                      open
//	F     payments/charge 1.0.0         B-3h     in_progress, complete B-10m                           10200 s
//	G     payments/charge 1.0.0         B-5h     in_progress, complete B-4h                            3600 s
//	H     payments/refund 1.0.0         B-65m    in_progress, error B-62m, pending, in_progress, error B-15m
//	I     payments/refund 1.0.0         B-25m    in_progress, error B-24m, resolved_manually B-22m     180 s
//	J     inventory/audit 1.0.0         B-6h     (none: pending)                                       open
//
//	step  task  name      history                                                            took (last attempt)
//	As1   A     validate  in_progress B-50m, complete B-49m                                   60 s
//	As2   A     capture   in_progress B-49m, complete B-48m40s                                20 s
//	Bs1   B     capture   in_progress B-40m, error, pending, in_progress B-39m50s, complete B-39m30s   20 s
//	Cs1   C     validate  in_progress B-30m, error B-20m
//	Es1   E     notify    in_progress B-5m
//	Fs1   F     validate  in_progress B-3h, complete B-70m                                    6600 s
//	Fs2   F     capture   in_progress B-15m, complete B-10m                                   300 s
//	Gs1   G     validate  in_progress B-5h, complete B-4h30m                                  1800 s
//	Is1   I     validate  in_progress B-25m, error B-24m, resolved_manually B-22m
//
// Namespaces: payments, inventory and an unused one.
type analyticsWorld struct {
	f                                      *metricsFixture
	A, B, C, D, E, F, G, H, I, J           int64
	As1, As2, Bs1, Cs1, Es1, Fs1, Fs2, Gs1 int64
	Is1                                    int64
}

func seedAnalytics(t *testing.T) *analyticsWorld {
	t.Helper()
	f := newMetricsFixture(t)
	w := &analyticsWorld{f: f}
	m := func(d time.Duration) time.Time { return f.ago(d) }
	const mins = time.Minute

	payments := f.namespace("payments")
	inventory := f.namespace("inventory")
	f.namespace("unused")
	chargeV1 := f.namedTask(payments, "charge", "1.0.0")
	chargeV2 := f.namedTask(payments, "charge", "2.0.0")
	refund := f.namedTask(payments, "refund", "1.0.0")
	restock := f.namedTask(inventory, "restock", "1.0.0")
	audit := f.namedTask(inventory, "audit", "1.0.0")
	validate, capture, notify := f.namedStep("validate"), f.namedStep("capture"), f.namedStep("notify")

	alice, web := "alice", "web"
	w.A = f.task(chargeV1, m(50*mins), fxTaskOpts{initiator: &alice, sourceSystem: &web})
	f.taskHistory(w.A, fxAt{"in_progress", m(50 * mins)}, fxAt{"complete", m(48*mins + 30*time.Second)})
	w.As1 = f.step(w.A, validate, m(50*mins), fxStepOpts{attempts: fxInt32(1)})
	f.stepHistory(w.As1, fxAt{"in_progress", m(50 * mins)}, fxAt{"complete", m(49 * mins)})
	w.As2 = f.step(w.A, capture, m(50*mins), fxStepOpts{retryLimit: fxInt32(5)})
	f.stepHistory(w.As2, fxAt{"in_progress", m(49 * mins)}, fxAt{"complete", m(48*mins + 40*time.Second)})

	w.B = f.task(chargeV2, m(40*mins), fxTaskOpts{completedAt: fxTime(m(39*mins + 30*time.Second))})
	// completed_at wins over the complete transition, written a second later.
	f.taskHistory(w.B, fxAt{"in_progress", m(40 * mins)}, fxAt{"complete", m(39*mins + 29*time.Second)})
	w.Bs1 = f.step(w.B, capture, m(40*mins), fxStepOpts{attempts: fxInt32(2), retryLimit: fxInt32(3)})
	f.stepHistory(w.Bs1, fxAt{"in_progress", m(40 * mins)}, fxAt{"error", m(39*mins + 55*time.Second)},
		fxAt{"pending", m(39*mins + 54*time.Second)}, fxAt{"in_progress", m(39*mins + 50*time.Second)},
		fxAt{"complete", m(39*mins + 30*time.Second)})

	w.C = f.task(refund, m(30*mins), fxTaskOpts{})
	f.taskHistory(w.C, fxAt{"in_progress", m(30 * mins)}, fxAt{"error", m(20 * mins)})
	w.Cs1 = f.step(w.C, validate, m(30*mins), fxStepOpts{attempts: fxInt32(1)})
	f.stepHistory(w.Cs1, fxAt{"in_progress", m(30 * mins)}, fxAt{"error", m(20 * mins)})

	w.D = f.task(restock, m(10*mins), fxTaskOpts{})

	w.E = f.task(restock, m(5*mins), fxTaskOpts{})
	f.taskHistory(w.E, fxAt{"in_progress", m(5 * mins)})
	w.Es1 = f.step(w.E, notify, m(5*mins), fxStepOpts{attempts: fxInt32(1)})
	f.stepHistory(w.Es1, fxAt{"in_progress", m(5 * mins)})

	w.F = f.task(chargeV1, m(3*time.Hour), fxTaskOpts{})
	f.taskHistory(w.F, fxAt{"in_progress", m(3 * time.Hour)}, fxAt{"complete", m(10 * mins)})
	w.Fs1 = f.step(w.F, validate, m(3*time.Hour), fxStepOpts{attempts: fxInt32(1)})
	f.stepHistory(w.Fs1, fxAt{"in_progress", m(3 * time.Hour)}, fxAt{"complete", m(70 * mins)})
	w.Fs2 = f.step(w.F, capture, m(3*time.Hour), fxStepOpts{attempts: fxInt32(1)})
	f.stepHistory(w.Fs2, fxAt{"in_progress", m(15 * mins)}, fxAt{"complete", m(10 * mins)})

	w.G = f.task(chargeV1, m(5*time.Hour), fxTaskOpts{})
	f.taskHistory(w.G, fxAt{"in_progress", m(5 * time.Hour)}, fxAt{"complete", m(4 * time.Hour)})
	w.Gs1 = f.step(w.G, validate, m(5*time.Hour), fxStepOpts{attempts: fxInt32(1)})
	f.stepHistory(w.Gs1, fxAt{"in_progress", m(5 * time.Hour)}, fxAt{"complete", m(4*time.Hour + 30*mins)})

	w.H = f.task(refund, m(65*mins), fxTaskOpts{})
	f.taskHistory(w.H, fxAt{"in_progress", m(65 * mins)}, fxAt{"error", m(62 * mins)},
		fxAt{"pending", m(61 * mins)}, fxAt{"in_progress", m(60 * mins)}, fxAt{"error", m(15 * mins)})

	w.I = f.task(refund, m(25*mins), fxTaskOpts{})
	f.taskHistory(w.I, fxAt{"in_progress", m(25 * mins)}, fxAt{"error", m(24 * mins)},
		fxAt{"resolved_manually", m(22 * mins)})
	w.Is1 = f.step(w.I, validate, m(25*mins), fxStepOpts{attempts: fxInt32(1)})
	f.stepHistory(w.Is1, fxAt{"in_progress", m(25 * mins)}, fxAt{"error", m(24 * mins)},
		fxAt{"resolved_manually", m(22 * mins)})

	w.J = f.task(audit, m(6*time.Hour), fxTaskOpts{})
	return w
}

// expectedHealthScore is the documented formula, from the Go weights.
func expectedHealthScore(taskFailureShare, stepFailureShare float64) float64 {
	s := 1 - (sqlfuncs.HealthScoreTaskWeight*taskFailureShare + sqlfuncs.HealthScoreStepWeight*stepFailureShare)
	return math.Round(s*1e4) / 1e4
}

func TestAnalyticsMetricsDefaultWindow(t *testing.T) {
	t.Parallel()
	w := seedAnalytics(t)
	before := time.Now()
	a, err := sqlfuncs.AnalyticsMetrics(context.Background(), w.f.pool, nil)
	after := time.Now()
	require.NoError(t, err)

	assert.Equal(t, int64(3), a.ActiveTasksCount, "D, E and J (active is not windowed)")
	assert.Equal(t, int64(3), a.TotalNamespacesCount)
	assert.Equal(t, int64(4), a.UniqueTaskTypesCount, "charge 1.0.0, charge 2.0.0, refund, restock; not audit")
	assert.Equal(t, int64(6), a.TaskThroughput, "A, B, C, D, E, I created in the last hour")
	assert.Equal(t, int64(4), a.CompletionCount, "A, B, F complete and I resolved in the window")
	assert.Equal(t, int64(3), a.ErrorCount, "C, H (its second failure) and I failed in the window")
	assert.InDelta(t, 0.5, a.CompletionRate, 1e-9, "A, B, I of 6")
	assert.InDelta(t, 0.1667, a.ErrorRate, 1e-9, "C of 6")
	require.NotNil(t, a.AvgTaskDurationSeconds)
	assert.Equal(t, 3440.0, *a.AvgTaskDurationSeconds, "(90 + 30 + 10200) / 3")
	require.NotNil(t, a.AvgStepDurationSeconds)
	assert.Equal(t, 100.0, *a.AvgStepDurationSeconds, "(60 + 20 + 20 + 300) / 4: Bs1's last attempt only")
	assert.Equal(t, int64(5), a.StepThroughput, "As1, As2, Bs1, Fs2 complete and Is1 resolved")
	// Tasks created in the window: 1 failed (C) of 4 settled (A, B, I, C); their
	// steps: 1 failed (Cs1) of 5 settled (As1, As2, Bs1, Is1, Cs1).
	assert.InDelta(t, expectedHealthScore(1.0/4, 1.0/5), a.SystemHealthScore, 1e-9)
	assert.InDelta(t, 0.765, a.SystemHealthScore, 1e-9)

	assert.Equal(t, time.UTC, a.AnalysisPeriodStart.Location())
	assert.False(t, a.AnalysisPeriodStart.Before(before.Add(-sqlfuncs.DefaultAnalyticsWindow).Add(-time.Second)))
	assert.False(t, a.AnalysisPeriodStart.After(after.Add(-sqlfuncs.DefaultAnalyticsWindow).Add(time.Second)))
}

func TestAnalyticsMetricsExplicitSince(t *testing.T) {
	t.Parallel()
	w := seedAnalytics(t)
	ctx := context.Background()
	since := w.f.ago(6 * time.Hour) // exactly J's creation: the bound is inclusive

	a, err := sqlfuncs.AnalyticsMetrics(ctx, w.f.pool, &since)
	require.NoError(t, err)
	assert.Equal(t, since, a.AnalysisPeriodStart)
	assert.Equal(t, int64(3), a.ActiveTasksCount)
	assert.Equal(t, int64(3), a.TotalNamespacesCount)
	assert.Equal(t, int64(5), a.UniqueTaskTypesCount)
	assert.Equal(t, int64(10), a.TaskThroughput)
	assert.Equal(t, int64(5), a.CompletionCount, "A, B, F, G, I")
	assert.Equal(t, int64(3), a.ErrorCount, "C, H (twice, counted once), I")
	assert.InDelta(t, 0.5, a.CompletionRate, 1e-9, "A, B, F, G, I of 10")
	assert.InDelta(t, 0.2, a.ErrorRate, 1e-9, "C, H of 10")
	require.NotNil(t, a.AvgTaskDurationSeconds)
	assert.Equal(t, 3480.0, *a.AvgTaskDurationSeconds, "(90 + 30 + 10200 + 3600) / 4")
	require.NotNil(t, a.AvgStepDurationSeconds)
	assert.Equal(t, 1466.667, *a.AvgStepDurationSeconds, "(60 + 20 + 20 + 6600 + 300 + 1800) / 6")
	assert.Equal(t, int64(7), a.StepThroughput)
	assert.InDelta(t, expectedHealthScore(2.0/7, 1.0/8), a.SystemHealthScore, 1e-9)
	assert.InDelta(t, 0.7625, a.SystemHealthScore, 1e-9)

	later := since.Add(time.Second)
	a, err = sqlfuncs.AnalyticsMetrics(ctx, w.f.pool, &later)
	require.NoError(t, err)
	assert.Equal(t, int64(9), a.TaskThroughput, "J was created before the window")
	assert.Equal(t, int64(4), a.UniqueTaskTypesCount)
}

func TestAnalyticsMetricsEmpty(t *testing.T) {
	t.Parallel()
	a, err := sqlfuncs.AnalyticsMetrics(context.Background(), testdb.Schema(t), nil)
	require.NoError(t, err)
	assert.Zero(t, a.ActiveTasksCount)
	assert.Zero(t, a.TaskThroughput)
	assert.Zero(t, a.CompletionRate)
	assert.Zero(t, a.ErrorRate)
	assert.Equal(t, 1.0, a.SystemHealthScore, "nothing failed")
	assert.Nil(t, a.AvgTaskDurationSeconds)
	assert.Nil(t, a.AvgStepDurationSeconds)
	assert.Zero(t, a.StepThroughput)
}

// TestAnalyticsDefaultsMirrorGoConstants holds the SQL defaults equal to the Go
// constants that document them.
func TestAnalyticsDefaultsMirrorGoConstants(t *testing.T) {
	t.Parallel()
	pool := testdb.Schema(t)
	ctx := context.Background()
	for _, fn := range []string{"get_slowest_tasks", "get_slowest_steps"} {
		var args string
		require.NoError(t, pool.QueryRow(ctx, `SELECT pg_get_function_arguments(p.oid) FROM pg_proc p
			WHERE p.proname = $1 AND p.pronamespace = current_schema()::regnamespace`, fn).Scan(&args))
		assert.Contains(t, args, fmt.Sprintf("limit_count integer DEFAULT %d,", sqlfuncs.DefaultSlowestLimit), fn)
	}
	// The look-back window of each function: its start for a NULL since.
	var window time.Duration
	require.NoError(t, pool.QueryRow(ctx, `SELECT now() - analysis_period_start FROM get_analytics_metrics()`).Scan(&window))
	assert.Equal(t, sqlfuncs.DefaultAnalyticsWindow, window)
}

func slowTaskIDs(rows []sqlfuncs.SlowTask) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.TaskID
	}
	return out
}

func slowStepIDs(rows []sqlfuncs.SlowStep) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.WorkflowStepID
	}
	return out
}

func TestSlowestTasks(t *testing.T) {
	t.Parallel()
	w := seedAnalytics(t)
	ctx := context.Background()
	f := w.f

	rows, err := sqlfuncs.SlowestTasks(ctx, f.pool, sqlfuncs.SlowestFilter{})
	require.NoError(t, err)
	// F was created before the window but completed in it; H (open, created 65
	// minutes ago), G and J are outside.
	require.Equal(t, []int64{w.F, w.C, w.D, w.E, w.I, w.A, w.B}, slowTaskIDs(rows))
	byID := map[int64]sqlfuncs.SlowTask{}
	for _, r := range rows {
		byID[r.TaskID] = r
	}

	fRow := byID[w.F]
	assert.Equal(t, 10200.0, fRow.DurationSeconds)
	assert.Equal(t, "charge", fRow.TaskName)
	assert.Equal(t, "1.0.0", fRow.Version)
	assert.Equal(t, "payments", fRow.NamespaceName)
	assert.Equal(t, int64(2), fRow.StepCount)
	assert.Equal(t, int64(2), fRow.CompletedSteps)
	assert.Equal(t, int64(0), fRow.ErrorSteps)
	assert.Equal(t, f.ago(3*time.Hour), fRow.CreatedAt)
	require.NotNil(t, fRow.CompletedAt)
	assert.Equal(t, f.ago(10*time.Minute), *fRow.CompletedAt)
	assert.Equal(t, time.UTC, fRow.CompletedAt.Location())
	assert.Nil(t, fRow.Initiator)
	assert.Nil(t, fRow.SourceSystem)

	aRow := byID[w.A]
	assert.Equal(t, 90.0, aRow.DurationSeconds)
	require.NotNil(t, aRow.Initiator)
	assert.Equal(t, "alice", *aRow.Initiator)
	require.NotNil(t, aRow.SourceSystem)
	assert.Equal(t, "web", *aRow.SourceSystem)
	assert.Equal(t, int64(2), aRow.CompletedSteps)

	assert.Equal(t, 30.0, byID[w.B].DurationSeconds, "completed_at")
	assert.Equal(t, "2.0.0", byID[w.B].Version)

	iRow := byID[w.I]
	assert.Equal(t, 180.0, iRow.DurationSeconds, "resolved manually counts as completed")
	require.NotNil(t, iRow.CompletedAt)
	assert.Equal(t, f.ago(22*time.Minute), *iRow.CompletedAt)
	assert.Equal(t, int64(1), iRow.CompletedSteps)

	// Open tasks run up to now.
	cRow := byID[w.C]
	assert.Nil(t, cRow.CompletedAt)
	assert.GreaterOrEqual(t, cRow.DurationSeconds, 1800.0)
	assert.Less(t, cRow.DurationSeconds, 1860.0)
	assert.Equal(t, int64(1), cRow.StepCount)
	assert.Equal(t, int64(1), cRow.ErrorSteps)
	assert.Equal(t, int64(0), cRow.CompletedSteps)
	assert.GreaterOrEqual(t, byID[w.D].DurationSeconds, 600.0)
	assert.Equal(t, int64(0), byID[w.D].StepCount)
}

func TestSlowestTasksFilters(t *testing.T) {
	t.Parallel()
	w := seedAnalytics(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		filter sqlfuncs.SlowestFilter
		want   []int64
	}{
		{"namespace", sqlfuncs.SlowestFilter{Namespace: "inventory"}, []int64{w.D, w.E}},
		{"task name", sqlfuncs.SlowestFilter{TaskName: "charge"}, []int64{w.F, w.A, w.B}},
		{"version", sqlfuncs.SlowestFilter{Version: "2.0.0"}, []int64{w.B}},
		{"all three", sqlfuncs.SlowestFilter{Namespace: "payments", TaskName: "charge", Version: "1.0.0"}, []int64{w.F, w.A}},
		{"no match", sqlfuncs.SlowestFilter{Namespace: "unused"}, []int64{}},
		{"limit", sqlfuncs.SlowestFilter{Limit: 2}, []int64{w.F, w.C}},
		{"since", sqlfuncs.SlowestFilter{Since: fxTime(w.f.ago(6 * time.Hour))},
			[]int64{w.J, w.F, w.H, w.G, w.C, w.D, w.E, w.I, w.A, w.B}},
		{"since and limit", sqlfuncs.SlowestFilter{Since: fxTime(w.f.ago(6 * time.Hour)), Limit: 3},
			[]int64{w.J, w.F, w.H}},
	} {
		rows, err := sqlfuncs.SlowestTasks(ctx, w.f.pool, tc.filter)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, slowTaskIDs(rows), tc.name)
	}
}

func TestSlowestLimitValidation(t *testing.T) {
	t.Parallel()
	pool := testdb.Schema(t)
	ctx := context.Background()
	for _, limit := range []int{-1, sqlfuncs.MaxSlowestLimit + 1} {
		_, err := sqlfuncs.SlowestTasks(ctx, pool, sqlfuncs.SlowestFilter{Limit: limit})
		require.Error(t, err, limit)
		assert.True(t, errors.Is(err, errs.Of(errs.Validation)), "tasks, limit %d: %v", limit, err)
		assert.Equal(t, limit, errs.DetailsOf(err)["limit"])
		_, err = sqlfuncs.SlowestSteps(ctx, pool, sqlfuncs.SlowestFilter{Limit: limit})
		assert.Equal(t, errs.Validation, errs.KindOf(err), "steps, limit %d", limit)
	}
	for _, limit := range []int{0, 1, sqlfuncs.MaxSlowestLimit} {
		_, err := sqlfuncs.SlowestTasks(ctx, pool, sqlfuncs.SlowestFilter{Limit: limit})
		assert.NoError(t, err, limit)
		_, err = sqlfuncs.SlowestSteps(ctx, pool, sqlfuncs.SlowestFilter{Limit: limit})
		assert.NoError(t, err, limit)
	}
}

func TestSlowestSteps(t *testing.T) {
	t.Parallel()
	w := seedAnalytics(t)
	ctx := context.Background()
	f := w.f

	rows, err := sqlfuncs.SlowestSteps(ctx, f.pool, sqlfuncs.SlowestFilter{})
	require.NoError(t, err)
	// Complete in the last hour; Is1 (resolved manually) and Fs1 (completed 70
	// minutes ago) are out. As2 and Bs1 tie at 20 s: lower id first.
	require.Equal(t, []int64{w.Fs2, w.As1, w.As2, w.Bs1}, slowStepIDs(rows))
	assert.Equal(t, []float64{300, 60, 20, 20},
		[]float64{rows[0].DurationSeconds, rows[1].DurationSeconds, rows[2].DurationSeconds, rows[3].DurationSeconds})

	b := rows[3]
	assert.Equal(t, sqlfuncs.SlowStep{
		WorkflowStepID: w.Bs1, TaskID: w.B, StepName: "capture", TaskName: "charge", NamespaceName: "payments",
		Version: "2.0.0", DurationSeconds: 20, Attempts: 2, RetryLimit: 3, StepStatus: "complete",
		StartedAt:   f.ago(39*time.Minute + 50*time.Second),
		CompletedAt: f.ago(39*time.Minute + 30*time.Second),
	}, b, "the last attempt only: the first in_progress (B-40m) is not the start")
	assert.Equal(t, time.UTC, b.StartedAt.Location())

	// NULL attempts = 0, NULL retry_limit = 3.
	assert.Equal(t, int32(1), rows[1].Attempts)
	assert.Equal(t, int32(3), rows[1].RetryLimit)
	assert.Equal(t, int32(0), rows[2].Attempts)
	assert.Equal(t, int32(5), rows[2].RetryLimit)
}

func TestSlowestStepsFilters(t *testing.T) {
	t.Parallel()
	w := seedAnalytics(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		filter sqlfuncs.SlowestFilter
		want   []int64
	}{
		{"namespace", sqlfuncs.SlowestFilter{Namespace: "inventory"}, []int64{}},
		{"task name", sqlfuncs.SlowestFilter{TaskName: "charge"}, []int64{w.Fs2, w.As1, w.As2, w.Bs1}},
		{"name and version", sqlfuncs.SlowestFilter{TaskName: "charge", Version: "2.0.0"}, []int64{w.Bs1}},
		{"namespace and version", sqlfuncs.SlowestFilter{Namespace: "payments", Version: "1.0.0"}, []int64{w.Fs2, w.As1, w.As2}},
		{"limit", sqlfuncs.SlowestFilter{Limit: 1}, []int64{w.Fs2}},
		{"since", sqlfuncs.SlowestFilter{Since: fxTime(w.f.ago(6 * time.Hour))},
			[]int64{w.Fs1, w.Gs1, w.Fs2, w.As1, w.As2, w.Bs1}},
	} {
		rows, err := sqlfuncs.SlowestSteps(ctx, w.f.pool, tc.filter)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, slowStepIDs(rows), tc.name)
	}
}
