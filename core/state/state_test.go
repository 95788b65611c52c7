package state

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLegalTransitionsMatchReference(t *testing.T) {
	t.Parallel()
	want := map[string][][2]State{
		"task": {
			{Pending, InProgress}, {Pending, Cancelled}, {Pending, Error},
			{InProgress, Complete}, {InProgress, Error}, {InProgress, Cancelled}, {InProgress, Pending},
			{Complete, Cancelled},
			{Error, Pending}, {Error, ResolvedManually}, {Error, Cancelled},
			{ResolvedManually, Cancelled},
		},
		"step": {
			{Pending, InProgress}, {Pending, Error}, {Pending, Cancelled}, {Pending, ResolvedManually},
			{InProgress, Complete}, {InProgress, Error}, {InProgress, Cancelled},
			{Error, Pending}, {Error, ResolvedManually}, {Error, Cancelled},
		},
	}
	for _, m := range []Machine{Task, Step} {
		assert.ElementsMatch(t, want[m.Kind()], m.Pairs(), m.Kind())
		legal := map[[2]State]bool{}
		for _, p := range want[m.Kind()] {
			legal[p] = true
		}
		for _, from := range All {
			for _, to := range All {
				err := m.Check(from, to)
				if legal[[2]State{from, to}] {
					assert.NoError(t, err, "%s %s->%s", m.Kind(), from, to)
					continue
				}
				var ite *IllegalTransitionError
				require.True(t, errors.As(err, &ite), "%s %s->%s must be refused", m.Kind(), from, to)
				assert.Equal(t, from, ite.From)
				assert.Equal(t, to, ite.To)
			}
		}
	}
}

func TestSameStateRefusedWithReason(t *testing.T) {
	t.Parallel()
	err := Step.Check(Pending, Pending)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "already in that state")
	assert.Error(t, Task.Check(Pending, State("bogus")))
}

func TestParse(t *testing.T) {
	t.Parallel()
	s, err := Parse("resolved_manually")
	require.NoError(t, err)
	assert.Equal(t, ResolvedManually, s)
	_, err = Parse("done")
	assert.Error(t, err)
}

func TestEventFor(t *testing.T) {
	t.Parallel()
	cases := []struct {
		m        Machine
		from, to State
		want     string
	}{
		{Task, "", Pending, TaskInitializeRequested},
		{Task, Pending, InProgress, TaskStartRequested},
		{Task, InProgress, Complete, TaskCompleted},
		{Task, InProgress, Error, TaskFailed},
		{Task, Error, Pending, TaskRetryRequested},
		{Task, Complete, Cancelled, TaskCancelled},
		{Task, Error, ResolvedManually, TaskResolvedManually},
		{Task, InProgress, Pending, ""},
		{Step, "", Pending, StepInitializeRequested},
		{Step, Pending, InProgress, StepExecutionRequested},
		{Step, InProgress, Complete, StepCompleted},
		{Step, InProgress, Error, StepFailed},
		{Step, Error, Pending, StepRetryRequested},
		{Step, Pending, Cancelled, StepCancelled},
		{Step, Error, ResolvedManually, StepResolvedManually},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.m.EventFor(c.from, c.to), "%s %s->%s", c.m.Kind(), c.from, c.to)
	}
}

func TestSatisfiesAndTerminal(t *testing.T) {
	t.Parallel()
	for _, s := range All {
		assert.Equal(t, s == Complete || s == ResolvedManually, s.Satisfies(), s)
	}
	assert.True(t, Cancelled.Terminal())
	assert.False(t, Error.Terminal())
}

func TestRulesTightenOnly(t *testing.T) {
	t.Parallel()
	r, err := NewRules([]string{"task:complete->cancelled", " step:error->resolved_manually "})
	require.NoError(t, err)
	err = r.Check(Task, Complete, Cancelled)
	var ite *IllegalTransitionError
	require.True(t, errors.As(err, &ite))
	assert.Contains(t, err.Error(), "forbidden by configuration")
	assert.Error(t, r.Check(Step, Error, ResolvedManually))
	assert.NoError(t, r.Check(Step, Error, Pending))
	assert.NoError(t, Rules{}.Check(Task, Complete, Cancelled))

	_, err = NewRules([]string{"task:complete->pending"})
	assert.ErrorContains(t, err, "not a legal task transition")
	_, err = NewRules([]string{"job:a->b"})
	assert.Error(t, err)
}

// Operator actions may rewind a finished step to pending; nobody else may, and
// the configured prohibitions still apply to them.
func TestOperatorOnlyTransitions(t *testing.T) {
	t.Parallel()
	want := [][2]State{{Complete, Pending}, {Cancelled, Pending}, {ResolvedManually, Pending}}
	assert.ElementsMatch(t, want, Step.OperatorPairs())
	assert.Empty(t, Task.OperatorPairs())
	for _, p := range want {
		assert.Error(t, Step.Check(p[0], p[1]), "%v", p)
		assert.Error(t, Rules{}.Check(Step, p[0], p[1]), "%v", p)
		assert.NoError(t, Step.CheckOperator(p[0], p[1]), "%v", p)
		assert.NoError(t, Rules{}.ForOperator().Check(Step, p[0], p[1]), "%v", p)
	}
	assert.Error(t, Step.CheckOperator(Complete, Complete))
	assert.Error(t, Step.CheckOperator(Complete, InProgress))
	r, err := NewRules([]string{"step:error->pending"})
	require.NoError(t, err)
	assert.Error(t, r.ForOperator().Check(Step, Error, Pending))
	assert.True(t, r.ForOperator().Operator())
	assert.False(t, r.Operator())
}
