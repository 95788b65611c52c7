// Package operator is Tasker Core's operator API: the repairs an on-call engineer
// makes to running workflows (cancel a task with everything under it, retry a
// failed step now, resolve a step by hand with results its children read, rewind
// a workflow from a step, rewire dependencies of steps that have not started).
//
// Every operation is one transaction that
//   - locks the task's row, then its steps' rows in id order (the one lock order
//     of every writer, so an operation and a worker's claim or report serialize:
//     exactly one of them sees the other's result, and a report that lost its step
//     gets a state_transition_error outcome with details.conflict);
//   - expresses its changes as legal transitions of core/state (and the operator-only
//     ones), written with compare-and-swap, each carrying the actor, reason and
//     action id in its metadata, and each writing its catalog event to the outbox;
//   - finalizes the task again (resolving the last failed step completes it, a
//     retried step makes a failed task runnable);
//   - writes one row in tasker_operator_actions (the audit trail) and one
//     operator.* event carrying actor and reason.
//
// A dry run does all of that and rolls it back, so its answer is exactly what the
// operation would change. An idempotency key makes a repeated request return the
// first answer without acting again. An Authorizer is asked before anything else.
//
// # Start here
//
//	ops := operator.New(s, operator.Options{Authorizer: myAuthorizer})
//	res, err := ops.RetryStep(ctx, operator.StepRequest{StepID: 42,
//		Request: operator.Request{Actor: "alice", Reason: "gateway fixed", DryRun: true}})
//
// Each Service method takes a request naming its target and a Request (actor,
// reason, dry run, idempotency key, request id) and answers a Result: the task's
// state before and after, every step changed with its snapshot before and after,
// the transitions and events written. The operations, what each changes and its
// refusals are in docs/operations.md; the JSON API exposes them under the Op*
// names.
package operator
