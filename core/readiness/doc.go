// Package readiness is the step-readiness rule (REFERENCE §3) in pure Go, the same
// rule the SQL function get_step_readiness_status applies. The orchestration uses it
// to reason about a task it already holds in memory, and a property test holds it
// equal to the SQL on random DAGs and histories.
//
// # Start here
//
// Evaluate judges every Step of a task at a given time under a backoff Policy and
// returns a Result per step: ready or not and, first match wins, why not —
// WrongState (not pending or error), TaskTerminal (the task ended),
// AlreadyProcessed, Claimed (a worker holds it), DependenciesUnmet (with the
// unmet parents' names), NotRetryable, RetriesExhausted, Backoff (with the
// seconds remaining and the next retry time). docs/troubleshooting.md explains
// each reason and what to do about it.
package readiness
