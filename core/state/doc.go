// Package state defines the task and workflow-step state machines of Tasker Core:
// the six states, the legal transitions between them, and the lifecycle event each
// transition publishes. It is pure Go: persistence (compare-and-swap on the current
// state, the audit trail) lives in core/store, which asks this package what is legal.
//
// # Start here
//
// Task and Step are the two Machines. Machine.Check says whether a transition is
// legal (an *IllegalTransitionError when not), Machine.EventFor names the event it
// publishes (REFERENCE §7: step.execution_requested, task.completed, …), and
// Machine.CheckOperator allows the operator-only transitions (resetting a
// finished step to pending) that only core/operator uses. Rules are the machines
// as configured: state_transitions.forbid may forbid legal transitions, never
// allow illegal ones.
//
// The retry path is explicit: a failed step goes error → pending
// (step.retry_requested) before it starts again.
package state
