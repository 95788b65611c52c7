// Package sqlfuncs holds Tasker Core's SQL functions (readiness, execution context,
// dependency levels, health and analytics) as embedded .sql files, and a typed Go
// wrapper for each. The migrator (package migrations) installs the files; the
// wrappers call them in one round trip each through any Querier (a pool, a
// connection or a transaction).
//
// # Start here
//
// StepReadinessStatus (and its Batch form) and ViableSteps wrap
// get_step_readiness_status; GetTaskExecutionContext wraps
// get_task_execution_context; DependencyLevels wraps calculate_dependency_levels
// (SQLSTATE CycleSQLState on a cycle); SystemHealthCounts, AnalyticsMetrics,
// SlowestTasks and SlowestSteps the operations views. Each takes an optional
// as_of time, so "ready at time T?" needs no waiting. Files, Names and Checksum
// tell the migrator what to (re)install: a changed file is reinstalled, and
// functions of the same names with other signatures (tasker-engine's) are dropped
// first.
//
// The functions are LANGUAGE sql and PostgreSQL inlines them into the calling
// statement, so EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM
// get_step_readiness_status(<task id>) shows the plan of the body itself; to see
// the generic plan the library's prepared statements use, PREPARE the call and
// EXPLAIN EXECUTE it under plan_cache_mode = force_generic_plan
// (docs/troubleshooting.md, "Slow SQL").
package sqlfuncs
