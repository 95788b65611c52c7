package backoff_test

import (
	"fmt"
	"time"

	"github.com/taskercore/tasker-core/core/backoff"
)

// The default policy waits base · 2^attempts (1 s · 2^attempts) after the
// attempts-th failed attempt, capped at five minutes; SQL readiness computes the same numbers
// (tasker_backoff_seconds), from the tasker_retry_policies row that
// Store.SyncRetryPolicy writes.
func ExamplePolicy_Delay() {
	p := backoff.Default()
	for _, attempts := range []int{1, 2, 5, 8, 9, 20} {
		fmt.Printf("after %2d attempts: %v\n", attempts, p.Delay(1, attempts))
	}
	// Output:
	// after  1 attempts: 2s
	// after  2 attempts: 4s
	// after  5 attempts: 32s
	// after  8 attempts: 4m16s
	// after  9 attempts: 5m0s
	// after 20 attempts: 5m0s
}

// Jitter shortens a delay by a fraction that depends on the step and the
// attempt only, so retries of many steps that failed together spread out while
// Go and SQL still agree on each step's next retry time.
func ExamplePolicy_Delay_jitter() {
	p := backoff.Policy{Strategy: backoff.Fixed, BaseSeconds: 10, Multiplier: 1, CapSeconds: 10, Jitter: 0.5}
	if err := p.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	for step := int64(1); step <= 3; step++ {
		d := p.Delay(step, 1)
		fmt.Printf("step %d: between 5s and 10s: %v, same again: %v\n", step,
			d >= 5*time.Second && d <= 10*time.Second, d == p.Delay(step, 1))
	}
	fmt.Println(backoff.Policy{Strategy: "random"}.Validate())
	// Output:
	// step 1: between 5s and 10s: true, same again: true
	// step 2: between 5s and 10s: true, same again: true
	// step 3: between 5s and 10s: true, same again: true
	// backoff strategy "random": want exponential, linear or fixed
}

// A delay a handler asks for (backoff_request_seconds, Ruby's RetryableError
// retry_after:) wins over the policy and counts from the later of the attempt's
// start and the failure, so a slow failure is not retried early.
func ExamplePolicy_NextRetryAt() {
	p := backoff.Default()
	started := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	failed := started.Add(20 * time.Second)
	at, _ := p.NextRetryAt(7, 1, &failed, &started, nil)
	fmt.Println("policy:   ", at.Format(time.TimeOnly))
	asked := 30
	at, _ = p.NextRetryAt(7, 1, &failed, &started, &asked)
	fmt.Println("requested:", at.Format(time.TimeOnly))
	_, ok := p.NextRetryAt(7, 0, nil, nil, nil)
	fmt.Println("never failed, has a retry time:", ok)
	// Output:
	// policy:    12:00:22
	// requested: 12:00:50
	// never failed, has a retry time: false
}
