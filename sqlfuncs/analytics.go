package sqlfuncs

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/internal/pgerr"
)

// DefaultAnalyticsWindow is how far back get_analytics_metrics, get_slowest_tasks
// and get_slowest_steps look when no since time is given. The SQL functions
// (006_analytics.sql) hard-code the same interval for a NULL since_timestamp;
// TestAnalyticsDefaultsMirrorGoConstants holds the two equal.
const DefaultAnalyticsWindow = time.Hour

// DefaultSlowestLimit is how many rows SlowestTasks and SlowestSteps return when
// SlowestFilter.Limit is 0; it is also the SQL functions' limit_count default.
const DefaultSlowestLimit = 10

// MaxSlowestLimit is the largest SlowestFilter.Limit accepted: these are dashboard
// queries, and a larger page would be an export, which is a different tool.
const MaxSlowestLimit = 1000

// The weights of get_analytics_metrics' system_health_score (mirrored in
// 006_analytics.sql; they sum to 1 so the score stays in 0..1):
//
//	score = 1 - (HealthScoreTaskWeight·task_failure_share + HealthScoreStepWeight·step_failure_share)
//
// where a failure share is error / (error + completed) by current state, over the
// tasks created in the window and over their steps respectively (0 when nothing
// has settled). Tasks weigh more: a failed step may still be retried, a failed task
// is what users see.
const (
	HealthScoreTaskWeight = 0.7
	HealthScoreStepWeight = 0.3
)

// Analytics is the row of get_analytics_metrics. "Completed" means complete or
// resolved_manually; the window is [AnalysisPeriodStart, now].
type Analytics struct {
	// ActiveTasksCount: tasks whose current state is pending or in_progress (all
	// time, not windowed).
	ActiveTasksCount int64 `json:"active_tasks_count"`
	// TotalNamespacesCount: all task namespaces.
	TotalNamespacesCount int64 `json:"total_namespaces_count"`
	// UniqueTaskTypesCount: named tasks (namespace, name, version) with a task
	// created in the window.
	UniqueTaskTypesCount int64 `json:"unique_task_types_count"`
	// SystemHealthScore: 0..1, 4 decimals; see HealthScoreTaskWeight.
	SystemHealthScore float64 `json:"system_health_score"`
	// TaskThroughput: tasks created in the window.
	TaskThroughput int64 `json:"task_throughput"`
	// CompletionCount: tasks with a transition to complete or resolved_manually in
	// the window.
	CompletionCount int64 `json:"completion_count"`
	// ErrorCount: tasks with a transition to error in the window.
	ErrorCount int64 `json:"error_count"`
	// CompletionRate: fraction (0..1, not percent) of the tasks created in the
	// window that are now completed; 0 when none were created.
	CompletionRate float64 `json:"completion_rate"`
	// ErrorRate: fraction of the tasks created in the window now in error.
	ErrorRate float64 `json:"error_rate"`
	// AvgTaskDurationSeconds: created_at → completion, over tasks with a complete
	// transition in the window; nil when there are none.
	AvgTaskDurationSeconds *float64 `json:"avg_task_duration_seconds"`
	// AvgStepDurationSeconds: in_progress → complete transition (the successful
	// attempt), over steps completed in the window; nil when there are none.
	AvgStepDurationSeconds *float64 `json:"avg_step_duration_seconds"`
	// StepThroughput: steps with a transition to complete or resolved_manually in
	// the window.
	StepThroughput int64 `json:"step_throughput"`
	// AnalysisPeriodStart is the window's start (UTC).
	AnalysisPeriodStart time.Time `json:"analysis_period_start"`
}

// AnalyticsMetrics calls get_analytics_metrics; since nil means
// DefaultAnalyticsWindow ago.
func AnalyticsMetrics(ctx context.Context, q Querier, since *time.Time) (Analytics, error) {
	var a Analytics
	err := q.QueryRow(ctx, `SELECT active_tasks_count, total_namespaces_count, unique_task_types_count,
		system_health_score::float8, task_throughput, completion_count, error_count, completion_rate::float8,
		error_rate::float8, avg_task_duration_seconds::float8, avg_step_duration_seconds::float8,
		step_throughput, analysis_period_start
		FROM get_analytics_metrics($1)`, since).Scan(
		&a.ActiveTasksCount, &a.TotalNamespacesCount, &a.UniqueTaskTypesCount, &a.SystemHealthScore,
		&a.TaskThroughput, &a.CompletionCount, &a.ErrorCount, &a.CompletionRate, &a.ErrorRate,
		&a.AvgTaskDurationSeconds, &a.AvgStepDurationSeconds, &a.StepThroughput, &a.AnalysisPeriodStart)
	if err != nil {
		return Analytics{}, pgerr.Wrap(err, "analytics metrics")
	}
	a.AnalysisPeriodStart = a.AnalysisPeriodStart.UTC()
	return a, nil
}

// SlowestFilter selects what SlowestTasks and SlowestSteps look at.
type SlowestFilter struct {
	Since     *time.Time // window start; nil = DefaultAnalyticsWindow ago
	Limit     int        // rows, 1..MaxSlowestLimit; 0 = DefaultSlowestLimit
	Namespace string     // exact namespace name; "" = any
	TaskName  string     // exact task name; "" = any
	Version   string     // exact task version; "" = any
}

// args validates f and returns the SQL functions' five arguments.
func (f SlowestFilter) args() ([]any, error) {
	limit := f.Limit
	if limit == 0 {
		limit = DefaultSlowestLimit
	}
	if limit < 1 || limit > MaxSlowestLimit {
		return nil, errs.New(errs.Validation, map[string]any{"field": "limit", "limit": f.Limit, "max": MaxSlowestLimit},
			"limit must be between 1 and %d (0 = %d), got %d", MaxSlowestLimit, DefaultSlowestLimit, f.Limit)
	}
	orNull := func(s string) *string { // "" = no filter = SQL NULL
		if s == "" {
			return nil
		}
		return &s
	}
	return []any{f.Since, int32(limit), orNull(f.Namespace), orNull(f.TaskName), orNull(f.Version)}, nil
}

// SlowTask is one row of get_slowest_tasks.
type SlowTask struct {
	TaskID        int64  `json:"task_id"`
	TaskName      string `json:"task_name"`
	Version       string `json:"version"`
	NamespaceName string `json:"namespace_name"`
	// DurationSeconds runs from creation to completion, or to now when the task is
	// not completed (3 decimals).
	DurationSeconds float64   `json:"duration_seconds"`
	StepCount       int64     `json:"step_count"`
	CompletedSteps  int64     `json:"completed_steps"` // complete + resolved_manually
	ErrorSteps      int64     `json:"error_steps"`
	CreatedAt       time.Time `json:"created_at"`
	// CompletedAt is nil unless the task's current state is complete or
	// resolved_manually.
	CompletedAt  *time.Time `json:"completed_at"`
	Initiator    *string    `json:"initiator"`
	SourceSystem *string    `json:"source_system"`
}

// SlowestTasks calls get_slowest_tasks: tasks created or completed in the window,
// slowest first. A bad Limit is an errs.Validation error.
func SlowestTasks(ctx context.Context, q Querier, f SlowestFilter) ([]SlowTask, error) {
	args, err := f.args()
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT task_id, task_name, version, namespace_name, duration_seconds::float8,
		step_count, completed_steps, error_steps, created_at, completed_at, initiator, source_system
		FROM get_slowest_tasks($1, $2, $3, $4, $5)`, args...)
	if err != nil {
		return nil, pgerr.Wrap(err, "slowest tasks")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SlowTask, error) {
		var s SlowTask
		err := r.Scan(&s.TaskID, &s.TaskName, &s.Version, &s.NamespaceName, &s.DurationSeconds,
			&s.StepCount, &s.CompletedSteps, &s.ErrorSteps, &s.CreatedAt, &s.CompletedAt,
			&s.Initiator, &s.SourceSystem)
		s.CreatedAt = s.CreatedAt.UTC()
		if s.CompletedAt != nil {
			*s.CompletedAt = s.CompletedAt.UTC()
		}
		return s, err
	})
	if err != nil {
		return nil, pgerr.Wrap(err, "slowest tasks")
	}
	return out, nil
}

// SlowStep is one row of get_slowest_steps.
type SlowStep struct {
	WorkflowStepID int64  `json:"workflow_step_id"`
	TaskID         int64  `json:"task_id"`
	StepName       string `json:"step_name"`
	TaskName       string `json:"task_name"`
	NamespaceName  string `json:"namespace_name"`
	Version        string `json:"version"`
	// DurationSeconds runs from StartedAt (the in_progress transition of the
	// successful attempt) to CompletedAt (the complete transition), 3 decimals.
	DurationSeconds float64   `json:"duration_seconds"`
	Attempts        int32     `json:"attempts"`    // NULL in the table = 0
	RetryLimit      int32     `json:"retry_limit"` // NULL in the table = 3
	StepStatus      string    `json:"step_status"` // always "complete"
	StartedAt       time.Time `json:"started_at"`
	CompletedAt     time.Time `json:"completed_at"`
}

// SlowestSteps calls get_slowest_steps: steps completed in the window, slowest
// first. A bad Limit is an errs.Validation error.
func SlowestSteps(ctx context.Context, q Querier, f SlowestFilter) ([]SlowStep, error) {
	args, err := f.args()
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT workflow_step_id, task_id, step_name, task_name, namespace_name, version,
		duration_seconds::float8, attempts, retry_limit, step_status, started_at, completed_at
		FROM get_slowest_steps($1, $2, $3, $4, $5)`, args...)
	if err != nil {
		return nil, pgerr.Wrap(err, "slowest steps")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SlowStep, error) {
		var s SlowStep
		err := r.Scan(&s.WorkflowStepID, &s.TaskID, &s.StepName, &s.TaskName, &s.NamespaceName, &s.Version,
			&s.DurationSeconds, &s.Attempts, &s.RetryLimit, &s.StepStatus, &s.StartedAt, &s.CompletedAt)
		s.StartedAt = s.StartedAt.UTC()
		s.CompletedAt = s.CompletedAt.UTC()
		return s, err
	})
	if err != nil {
		return nil, pgerr.Wrap(err, "slowest steps")
	}
	return out, nil
}
