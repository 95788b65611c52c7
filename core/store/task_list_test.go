package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
)

// listFixture creates tasks of two names in two namespaces with fixed creation
// times (two of them equal, so the task id must break the tie) and returns
// their ids oldest first.
func listFixture(t *testing.T, s *store.Store) []int64 {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	specs := []struct {
		ns, name string
		at       time.Duration
	}{
		{"shop", "order", 0}, {"shop", "refund", time.Minute}, {"shop", "order", 2 * time.Minute},
		{"ops", "order", 2 * time.Minute}, {"ops", "sweep", 3 * time.Minute}, {"shop", "order", 4 * time.Minute},
		{"shop", "order", 5 * time.Minute},
	}
	ids := make([]int64, len(specs))
	for i, sp := range specs {
		ct, err := s.CreateTask(ctx, store.TaskSpec{Name: sp.name, Namespace: sp.ns, Steps: []store.StepSpec{step("a")},
			Context: []byte(`{"i": ` + string(rune('0'+i)) + `}`)})
		require.NoError(t, err)
		_, err = s.Pool().Exec(ctx, `UPDATE tasker_tasks SET created_at = $2 WHERE task_id = $1`, ct.TaskID, base.Add(sp.at))
		require.NoError(t, err)
		ids[i] = ct.TaskID
	}
	return ids
}

// allPages walks every page of q and returns the task ids in order.
func allPages(t *testing.T, s *store.Store, q store.TaskListQuery) ([]int64, int) {
	t.Helper()
	var ids []int64
	pages := 0
	for {
		page, err := s.ListTasks(context.Background(), q, 100)
		require.NoError(t, err)
		pages++
		require.LessOrEqual(t, len(page.Tasks), q.Limit)
		for _, ts := range page.Tasks {
			ids = append(ids, ts.TaskID)
		}
		if page.NextCursor == "" {
			return ids, pages
		}
		require.Len(t, page.Tasks, q.Limit, "only the last page may be short")
		q.Cursor = page.NextCursor
		require.Less(t, pages, 20, "pagination does not end")
	}
}

func reversed(in []int64) []int64 {
	out := make([]int64, len(in))
	for i, v := range in {
		out[len(in)-1-i] = v
	}
	return out
}

func TestListTasksPagesInCreationOrderWithCursor(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ids := listFixture(t, s)

	// Newest first by default; the two tasks created at the same instant come in
	// task id order (reversed), each exactly once across pages.
	got, pages := allPages(t, s, store.TaskListQuery{Limit: 3})
	assert.Equal(t, reversed(ids), got)
	assert.Equal(t, 3, pages)

	got, _ = allPages(t, s, store.TaskListQuery{Limit: 2, Sort: store.SortCreatedAsc})
	assert.Equal(t, ids, got)

	// A page of exactly the remaining tasks has no cursor.
	page, err := s.ListTasks(context.Background(), store.TaskListQuery{Limit: len(ids)}, 100)
	require.NoError(t, err)
	assert.Empty(t, page.NextCursor)
	assert.Equal(t, store.SortCreatedDesc, page.Sort)
	first := page.Tasks[len(ids)-1]
	assert.Equal(t, "shop", first.Namespace)
	assert.Equal(t, "order", first.Name)
	assert.Equal(t, state.Pending, first.State)
	assert.NotEmpty(t, first.CorrelationID)
	assert.Equal(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), first.CreatedAt.UTC())
}

func TestListTasksCursorSurvivesNewTasks(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ids := listFixture(t, s)
	page, err := s.ListTasks(context.Background(), store.TaskListQuery{Limit: 3}, 100)
	require.NoError(t, err)
	// A task created after the first page was read is newer than all of them: it
	// does not push an old task onto the next page twice.
	create(t, s, "late", step("a"))
	next, err := s.ListTasks(context.Background(), store.TaskListQuery{Limit: 3, Cursor: page.NextCursor}, 100)
	require.NoError(t, err)
	var got []int64
	for _, ts := range next.Tasks {
		got = append(got, ts.TaskID)
	}
	assert.Equal(t, reversed(ids)[3:6], got)
}

func TestListTasksFilters(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	ids := listFixture(t, s)
	_, err := s.TransitionTask(ctx, store.TaskTransition{TaskID: ids[2], To: state.InProgress})
	require.NoError(t, err)
	_, err = s.TransitionTask(ctx, store.TaskTransition{TaskID: ids[4], To: state.Cancelled})
	require.NoError(t, err)
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	from, to := base.Add(time.Minute), base.Add(4*time.Minute)

	for _, tc := range []struct {
		name string
		q    store.TaskListQuery
		want []int64 // oldest first
	}{
		{"namespace", store.TaskListQuery{Namespace: "ops"}, []int64{ids[3], ids[4]}},
		{"name", store.TaskListQuery{Name: "order"}, []int64{ids[0], ids[2], ids[3], ids[5], ids[6]}},
		{"namespace and name", store.TaskListQuery{Namespace: "shop", Name: "order"}, []int64{ids[0], ids[2], ids[5], ids[6]}},
		{"version", store.TaskListQuery{Name: "order", Version: "9.9.9"}, nil},
		{"state", store.TaskListQuery{States: []state.State{state.InProgress}}, []int64{ids[2]}},
		{"states", store.TaskListQuery{States: []state.State{state.InProgress, state.Cancelled}}, []int64{ids[2], ids[4]}},
		{"pending means no transition yet too", store.TaskListQuery{States: []state.State{state.Pending}, Namespace: "ops"}, []int64{ids[3]}},
		{"created range (from inclusive, to exclusive)", store.TaskListQuery{CreatedFrom: &from, CreatedTo: &to}, ids[1:5]},
		{"everything", store.TaskListQuery{Namespace: "shop", Name: "order", States: []state.State{state.Pending}, CreatedFrom: &from},
			[]int64{ids[5], ids[6]}},
	} {
		q := tc.q
		q.Limit, q.Sort = 2, store.SortCreatedAsc
		got, _ := allPages(t, s, q)
		assert.Equal(t, tc.want, got, tc.name)
	}
}

func TestListTasksRefusesBadQueries(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	listFixture(t, s)
	page, err := s.ListTasks(ctx, store.TaskListQuery{Limit: 2}, 100)
	require.NoError(t, err)
	require.NotEmpty(t, page.NextCursor)
	now := time.Now()
	for _, tc := range []struct {
		q     store.TaskListQuery
		field string
	}{
		{store.TaskListQuery{Limit: 0}, "limit"},
		{store.TaskListQuery{Limit: 101}, "limit"},
		{store.TaskListQuery{Limit: 1, Sort: "name"}, "sort"},
		{store.TaskListQuery{Limit: 1, States: []state.State{"running"}}, "states"},
		{store.TaskListQuery{Limit: 1, Cursor: "not a cursor!"}, "cursor"},
		{store.TaskListQuery{Limit: 1, Cursor: "eHx5fHo"}, "cursor"},
		{store.TaskListQuery{Limit: 1, Cursor: page.NextCursor, Sort: store.SortCreatedAsc}, "cursor"},
		{store.TaskListQuery{Limit: 1, CreatedFrom: &now, CreatedTo: &now}, "created_to"},
		{store.TaskListQuery{Limit: 1, Namespace: string(make([]byte, 200))}, "namespace"},
	} {
		_, err := s.ListTasks(ctx, tc.q, 100)
		require.Error(t, err, "%+v", tc.q)
		assert.Equal(t, errs.Validation, errs.KindOf(err), "%+v", tc.q)
		assert.Equal(t, tc.field, errs.DetailsOf(err)["field"], "%+v", tc.q)
	}
}

func TestGetTaskReturnsStepsWithParentsAndResults(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	ct := create(t, s, "diamond", step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c"))
	_, err := s.TransitionStep(ctx, store.StepTransition{StepID: ct.StepIDs["a"], To: state.InProgress})
	require.NoError(t, err)
	_, err = s.TransitionStep(ctx, store.StepTransition{StepID: ct.StepIDs["a"], To: state.Complete, Results: json.RawMessage(`{"ok": true}`)})
	require.NoError(t, err)

	d, err := s.GetTask(ctx, ct.TaskID)
	require.NoError(t, err)
	assert.Equal(t, ct.TaskID, d.TaskID)
	assert.Equal(t, "diamond", d.Name)
	assert.Equal(t, "tests", d.Namespace)
	assert.JSONEq(t, `{"order_id": 42}`, string(d.Context))
	require.Len(t, d.Steps, 4)
	byName := map[string]store.StepDetail{}
	for _, st := range d.Steps {
		byName[st.Name] = st
	}
	assert.Equal(t, state.Complete, byName["a"].CurrentState)
	assert.JSONEq(t, `{"ok": true}`, string(byName["a"].Results))
	assert.Equal(t, int32(1), byName["a"].Attempts)
	assert.Equal(t, []int64{}, byName["a"].DependsOn)
	assert.ElementsMatch(t, []int64{ct.StepIDs["b"], ct.StepIDs["c"]}, byName["d"].DependsOn)
	assert.Equal(t, state.Pending, byName["d"].CurrentState)

	_, err = s.GetTask(ctx, ct.TaskID+1000)
	assert.Equal(t, errs.NotFound, errs.KindOf(err))
}

func TestListNamedTasks(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	for _, nt := range []store.NamedTask{{Namespace: "shop", Name: "order", Version: "1.0.0", Description: "orders", Configuration: []byte(`{}`)},
		{Namespace: "shop", Name: "order", Version: "2.0.0", Configuration: []byte(`{}`)}, {Namespace: "ops", Name: "sweep", Version: "1.0.0", Configuration: []byte(`{}`)}} {
		_, err := s.RegisterNamedTask(ctx, nt, map[string]string{"a": "", "b": ""})
		require.NoError(t, err)
	}
	all, err := s.ListNamedTasks(ctx, "", 10, 100)
	require.NoError(t, err)
	require.Len(t, all, 3)
	assert.Equal(t, "ops", all[0].Namespace)
	assert.Equal(t, "2.0.0", all[2].Version)
	assert.Equal(t, 2, all[1].StepCount)
	require.NotNil(t, all[1].Description)
	assert.Equal(t, "orders", *all[1].Description)

	shop, err := s.ListNamedTasks(ctx, "shop", 1, 100)
	require.NoError(t, err)
	require.Len(t, shop, 1)
	assert.Equal(t, "1.0.0", shop[0].Version)

	_, err = s.ListNamedTasks(ctx, "", 0, 100)
	assert.Equal(t, errs.Validation, errs.KindOf(err))
}
