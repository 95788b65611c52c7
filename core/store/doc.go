// Package store is Tasker Core's persistence layer on PostgreSQL (pgx/v5): task
// creation from a spec, step and task transitions with compare-and-swap on the
// current state and an append-only audit trail, and the reads the orchestration
// needs. It is the only package that sends SQL from Go, besides the typed function
// wrappers of package sqlfuncs that it re-exports through methods and the operator
// actions of package core/operator, which compose its transactions
// (operator_support.go).
//
// # Start here
//
// A Store wraps a pgx pool and the retry policy (package core/backoff):
//
//	pool, _ := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	_, _ = migrations.Migrate(ctx, pool)
//	s := store.New(pool, backoff.Default())
//	_ = s.SyncRetryPolicy(ctx) // the SQL readiness reads the same policy
//
// Then:
//
//   - Store.CreateTask writes a TaskSpec (a DAG of StepSpecs) in one transaction;
//     an identity strategy "hash" makes repeated requests idempotent.
//   - Store.TransitionStep and Store.TransitionTask move one row through its
//     state machine (core/state): the current transition row is compare-and-swapped,
//     so of concurrent attempts exactly one wins and the others get an
//     errs.StateTransition error with details.conflict; the event of every
//     transition is written to the tasker_events outbox in the same transaction.
//   - Store.StepReadiness / Store.ReadySteps answer which steps may run and, for
//     every other step, why not (the reason and reason_detail columns);
//     Store.ExecutionContext sums a task up; Store.AnalyzeDependencies analyses its
//     graph (core/dag).
//   - The orchestration path: Store.ClaimSteps (leases, SKIP LOCKED),
//     Store.Heartbeat, Store.ReportResults, Store.ReportAndClaim and
//     Store.RecoverExpiredLeases (an expired lease becomes a failed attempt, once
//     its holder has had a full lease period of reachable database).
//   - The durable events: Store.FetchEvents and Store.AckEvents per subscriber,
//     Store.PruneEvents.
//
// Every writer locks tasks by id, then steps by id, so reports, claims, heartbeats,
// recovery and operator actions never deadlock one another. Errors are *errs.Error
// (package core/errs): not_found, validation_error, state_transition_error,
// cycle_error, database_error (with details.sqlstate), timeout_error.
//
// The examples run against a real PostgreSQL in the test suite.
package store
