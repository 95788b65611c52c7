package readiness_test

import (
	"fmt"
	"time"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/readiness"
	"github.com/taskercore/tasker-core/core/state"
)

// The rule in memory: the same verdicts and reasons get_step_readiness_status
// returns from the database (a property test holds the two equal).
func ExampleEvaluate() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	failedAt := now.Add(-1 * time.Second)
	one, three := int32(1), int32(3)
	steps := []readiness.Step{
		{ID: 1, Name: "fetch", State: state.Complete, Attempts: &one},
		{ID: 2, Name: "transform", State: state.Pending, Parents: []int64{1}},
		{ID: 3, Name: "load", State: state.Pending, Parents: []int64{2}},
		// Failed a second ago; the default policy waits 2 s after one attempt.
		{ID: 4, Name: "notify", State: state.Error, Attempts: &one, LastFailureAt: &failedAt},
		{ID: 5, Name: "audit", State: state.Error, Attempts: &three, RetryLimit: &three, LastFailureAt: &failedAt},
	}
	for _, r := range readiness.Evaluate(steps, backoff.Default(), now) {
		fmt.Printf("step %d ready=%-5v %s", r.StepID, r.Ready, r.Reason)
		switch r.Reason {
		case readiness.DependenciesUnmet:
			fmt.Print(" unmet=", r.UnmetParents)
		case readiness.Backoff:
			fmt.Printf(" %.0fs remaining, next at %s", r.SecondsRemaining, r.NextRetryAt.Format(time.TimeOnly))
		}
		fmt.Println()
	}
	// Output:
	// step 1 ready=false wrong_state
	// step 2 ready=true  ready
	// step 3 ready=false dependencies_unmet unmet=[transform]
	// step 4 ready=false backoff 1s remaining, next at 12:00:01
	// step 5 ready=false retries_exhausted
}
