package sqlfuncs_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/sqlfuncs"
)

// Readiness judges a step's parents from a map of its task's steps; a parent that
// is outside that map — in another task (the engine's tables allow such an edge), or
// not among the steps asked about — is read from the tables instead. Both must give
// the answer a full read gives.
func TestReadinessParentsOutsideTheMap(t *testing.T) {
	t.Parallel()
	f := newMetricsFixture(t)
	ns := f.namespace("parents")
	nt := f.namedTask(ns, "parents", "1.0.0")
	a, b, c := f.namedStep("pa"), f.namedStep("pb"), f.namedStep("pc")
	at := f.ago(time.Hour)

	other := f.task(nt, at, fxTaskOpts{})
	foreign := f.step(other, a, at, fxStepOpts{}) // pending: unmet for its child
	done := f.step(other, c, at, fxStepOpts{})
	f.stepHistory(done, fxAt{"pending", at}, fxAt{"in_progress", at}, fxAt{"complete", at})

	task := f.task(nt, at, fxTaskOpts{})
	child := f.step(task, b, at, fxStepOpts{})
	for _, from := range []int64{foreign, done} {
		_, err := f.pool.Exec(f.ctx, `INSERT INTO tasker_workflow_step_edges (from_step_id, to_step_id, name) VALUES ($1, $2, 'provides')`,
			from, child)
		require.NoError(t, err)
	}

	rows, err := sqlfuncs.StepReadinessStatus(f.ctx, f.pool, task, nil, nil)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	r := rows[0]
	assert.Equal(t, int32(2), r.TotalParents)
	assert.Equal(t, int32(1), r.CompletedParents)
	assert.False(t, r.DependenciesSatisfied)
	assert.Equal(t, "dependencies_unmet", r.Reason)
	detail, err := json.Marshal(r.ReasonDetail)
	require.NoError(t, err)
	assert.JSONEq(t, `{"unmet": ["pa"], "total_parents": 2, "completed_parents": 1}`, string(detail))

	// A grandchild in the same task, its parent (child) not among the steps asked
	// about: each step asked alone answers as in the whole task's answer.
	grandchild := f.step(task, c, at, fxStepOpts{})
	_, err = f.pool.Exec(f.ctx, `INSERT INTO tasker_workflow_step_edges (from_step_id, to_step_id, name) VALUES ($1, $2, 'provides')`,
		child, grandchild)
	require.NoError(t, err)
	all, err := sqlfuncs.StepReadinessStatus(f.ctx, f.pool, task, nil, nil)
	require.NoError(t, err)
	for _, want := range all {
		got, err := sqlfuncs.StepReadinessStatus(f.ctx, f.pool, task, []int64{want.WorkflowStepID}, nil)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, want, got[0])
	}
	require.Len(t, all, 2)
	assert.Equal(t, "dependencies_unmet", all[1].Reason, "the grandchild waits for child")
}
