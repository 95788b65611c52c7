// Package bench holds Tasker Core's benchmarks: the hot paths measured side by side
// with their baselines in the same run. They report, they do not assert.
//
//	go test -run '^$' -bench . -benchmem ./bench/            # quick sizes
//	TASKER_BENCH_FULL=1 go test -run '^$' -bench . ./bench/  # the published sizes
//
// bench/run.sh runs these and the Ruby scripts (bench/ruby) and keeps the output in
// bench/results; `make bench` calls it. Every benchmark gets its own schema in the
// test database (internal/testdb), so it needs DATABASE_URL or a local PostgreSQL.
//
//   - BenchmarkSQLAtScale: readiness and execution context of one task, and their
//     batch variants, and the next-ready-tasks query, while 1k/5k/10k tasks of 10
//     steps in mixed states exist; beside a SELECT 1 round trip.
//   - BenchmarkBatchUpdate: 1,000 step transitions in one batch vs 1,000 single
//     transitions.
//   - BenchmarkLevels: DAG analysis in Go (with and without loading the graph) vs
//     calculate_dependency_levels in SQL, on lattices and chains of diamonds.
//   - BenchmarkAPI: the four FFI functions through api.Client.CallJSON (the JSON path
//     the C API runs) vs the store calls underneath, so the Go-side cost of JSON is
//     visible apart from FFI.
//   - BenchmarkWorkflowHeap: a 10,000-step workflow created and walked through
//     claim/report, then the Go heap in use.
package bench
