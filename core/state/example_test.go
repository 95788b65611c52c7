package state_test

import (
	"errors"
	"fmt"

	"github.com/taskercore/tasker-core/core/state"
)

// The step machine says what is legal and which event each transition
// publishes; core/store asks it before every write.
func ExampleMachine_Check() {
	for _, t := range [][2]state.State{
		{state.Pending, state.InProgress},
		{state.InProgress, state.Error},
		{state.Error, state.Pending}, // the explicit retry path
		{state.Complete, state.Pending},
	} {
		if err := state.Step.Check(t[0], t[1]); err != nil {
			var illegal *state.IllegalTransitionError
			fmt.Println("refused:", err, "| typed:", errors.As(err, &illegal))
			continue
		}
		fmt.Printf("%s -> %s publishes %s\n", t[0], t[1], state.Step.EventFor(t[0], t[1]))
	}
	// Only an operator may rewind a finished step (reset_step).
	fmt.Println("operator may reset:", state.Step.CanOperator(state.Complete, state.Pending))
	fmt.Println("after error:", state.Task.Targets(state.Error))
	// Output:
	// pending -> in_progress publishes step.execution_requested
	// in_progress -> error publishes step.failed
	// error -> pending publishes step.retry_requested
	// refused: illegal step transition complete -> pending: not a legal transition | typed: true
	// operator may reset: true
	// after error: [pending resolved_manually cancelled]
}

// Configuration (state_transitions.forbid) may forbid legal
// transitions, never allow illegal ones.
func ExampleNewRules() {
	rules, err := state.NewRules([]string{"step:pending->resolved_manually"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rules.Check(state.Step, state.Pending, state.ResolvedManually))
	fmt.Println(rules.Check(state.Step, state.Error, state.ResolvedManually))
	_, err = state.NewRules([]string{"step:complete->pending"})
	fmt.Println(err)
	// Output:
	// illegal step transition pending -> resolved_manually: forbidden by configuration (state_transitions.forbid)
	// <nil>
	// transition rule "step:complete->pending": complete -> pending is not a legal step transition, so there is nothing to forbid
}
