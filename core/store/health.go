package store

import (
	"context"

	"github.com/goccy/go-json"

	"github.com/taskercore/tasker-core/sqlfuncs"
)

// NamespaceBacklog is the ready work of one namespace.
type NamespaceBacklog struct {
	Namespace          string  `json:"namespace"`
	ReadyTasks         int64   `json:"ready_tasks"`
	ReadySteps         int64   `json:"ready_steps"` // steps whose runnable_at has come, in those tasks
	OldestReadySeconds float64 `json:"oldest_ready_seconds"`
}

// Backlog is the queue as a scrape sees it.
type Backlog struct {
	Namespaces      []NamespaceBacklog `json:"namespaces"`
	ActiveWorkers   int64              `json:"active_workers"`    // distinct holders of an unexpired lease
	InProgressSteps int64              `json:"in_progress_steps"` // steps under a lease
}

// The backlog: tasks whose ready_at has come (the claim's schedule, served by
// its index) and their steps whose runnable_at has (the step schedule's index),
// by namespace — every namespace, with 0 when nothing is ready, so
// the series do not vanish — and the workers holding leases now. Ended tasks
// are not counted (a cancelled task's schedule is not work).
const backlogSQL = `
	WITH ready AS (
		SELECT nt.task_namespace_id, count(*) AS n, min(tasker_tasks.ready_at) AS oldest,
		       sum((SELECT count(*) FROM tasker_workflow_steps ws
		            WHERE ws.task_id = tasker_tasks.task_id AND ws.runnable_at <= now())) AS steps
		FROM tasker_tasks JOIN tasker_named_tasks nt ON nt.named_task_id = tasker_tasks.named_task_id
		WHERE tasker_tasks.ready_at <= now() AND NOT tasker_tasks.complete AND ` + notTerminalTask + `
		GROUP BY nt.task_namespace_id
	), ns AS (
		SELECT tn.name, COALESCE(r.n, 0) AS n, COALESCE(r.steps, 0) AS steps,
		       COALESCE(EXTRACT(EPOCH FROM now() - r.oldest), 0)::float8 AS age
		FROM tasker_task_namespaces tn LEFT JOIN ready r ON r.task_namespace_id = tn.task_namespace_id
		ORDER BY r.n DESC NULLS LAST, tn.name LIMIT $1
	)
	SELECT COALESCE((SELECT jsonb_agg(jsonb_build_object('namespace', name, 'ready_tasks', n, 'ready_steps', steps,
	                                                    'oldest_ready_seconds', age))
	                 FROM ns), '[]'::jsonb),
	       (SELECT count(DISTINCT claimed_by) FROM tasker_workflow_steps WHERE in_process AND lease_expires_at > now()),
	       (SELECT count(*) FROM tasker_workflow_steps WHERE in_process AND lease_expires_at IS NOT NULL)`

// Backlog reads the ready work by namespace (at most maxNamespaces, the
// busiest first) and the active workers, in one query.
func (s *Store) Backlog(ctx context.Context, maxNamespaces int) (Backlog, error) {
	var b Backlog
	var raw []byte
	if err := s.pool.QueryRow(ctx, backlogSQL, maxNamespaces).Scan(&raw, &b.ActiveWorkers, &b.InProgressSteps); err != nil {
		return Backlog{}, dbErr(err, "backlog")
	}
	if err := json.Unmarshal(raw, &b.Namespaces); err != nil {
		return Backlog{}, dbErr(err, "backlog")
	}
	return b, nil
}

// HealthStatus is /health/status: the system health counts, the backlog and
// the workers seen, from one query.
type HealthStatus struct {
	SchemaVersion      int                   `json:"schema_version"`
	Health             sqlfuncs.SystemHealth `json:"counts"`
	ReadyTasks         int64                 `json:"ready_tasks"`
	OldestReadySeconds float64               `json:"oldest_ready_seconds"`
	ActiveWorkers      int64                 `json:"active_workers"`
	InProgressSteps    int64                 `json:"in_progress_steps"`
}

// SchemaVersion is the highest migration applied to the connection's schema:
// one round trip that also proves the database answers. An unmigrated schema
// (no record table) is an error.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM tasker_core_schema_migrations WHERE version > 0`).Scan(&v)
	return v, dbErr(err, "schema version")
}

// Status reads HealthStatus in one round trip.
func (s *Store) Status(ctx context.Context) (HealthStatus, error) {
	var st HealthStatus
	var counts []byte
	err := s.pool.QueryRow(ctx, `
		SELECT (SELECT COALESCE(max(version), 0) FROM tasker_core_schema_migrations WHERE version > 0),
		       (SELECT to_jsonb(h) FROM get_system_health_counts() h),
		       (SELECT count(*) FROM tasker_tasks WHERE ready_at <= now() AND NOT complete AND `+notTerminalTask+`),
		       (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(ready_at)), 0)::float8 FROM tasker_tasks
		        WHERE ready_at <= now() AND NOT complete AND `+notTerminalTask+`),
		       (SELECT count(DISTINCT claimed_by) FROM tasker_workflow_steps WHERE in_process AND lease_expires_at > now()),
		       (SELECT count(*) FROM tasker_workflow_steps WHERE in_process AND lease_expires_at IS NOT NULL)`).
		Scan(&st.SchemaVersion, &counts, &st.ReadyTasks, &st.OldestReadySeconds, &st.ActiveWorkers, &st.InProgressSteps)
	if err != nil {
		return HealthStatus{}, dbErr(err, "health status")
	}
	if err := json.Unmarshal(counts, &st.Health); err != nil {
		return HealthStatus{}, dbErr(err, "health status")
	}
	return st, nil
}
