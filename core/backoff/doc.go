// Package backoff is Tasker Core's one retry-delay policy. The same rule is written
// once in Go (Policy.Delay) and once in SQL (tasker_backoff_seconds, in sqlfuncs/),
// and both read the same parameters: Go from configuration, SQL from the
// tasker_retry_policies row that the store keeps in step with it. A test compares the
// two over a grid of inputs so they cannot drift apart.
//
// # Start here
//
// A Policy has a Strategy (exponential: base·multiplier^attempts, linear:
// base·attempts, fixed: base), a cap and a jitter fraction. Default is
// exponential, 1 s · 2^attempts, capped at 300 s, no jitter (the retry.* keys of
// docs/configuration.md). Jitter is a deterministic function of the step id and
// the attempt, so Go and SQL agree on every next_retry_at. Policy.NextRetryAt
// applies a delay a handler asked for (backoff_request_seconds) before the
// policy's, counted from the later of the attempt's start and the failure.
package backoff
