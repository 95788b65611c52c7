package sqlfuncs

import (
	"context"

	"github.com/taskercore/tasker-core/internal/pgerr"
)

// SystemHealth is the row of get_system_health_counts (005_system_health.sql):
// tasks and steps by current state (no transition = pending), the retry picture of
// the steps in error, and the database's connections.
type SystemHealth struct {
	TotalTasks            int64 `json:"total_tasks"`
	PendingTasks          int64 `json:"pending_tasks"`
	InProgressTasks       int64 `json:"in_progress_tasks"`
	CompleteTasks         int64 `json:"complete_tasks"`
	ErrorTasks            int64 `json:"error_tasks"`
	CancelledTasks        int64 `json:"cancelled_tasks"`
	ResolvedManuallyTasks int64 `json:"resolved_manually_tasks"`

	TotalSteps            int64 `json:"total_steps"`
	PendingSteps          int64 `json:"pending_steps"`
	InProgressSteps       int64 `json:"in_progress_steps"`
	CompleteSteps         int64 `json:"complete_steps"`
	ErrorSteps            int64 `json:"error_steps"`
	CancelledSteps        int64 `json:"cancelled_steps"`
	ResolvedManuallySteps int64 `json:"resolved_manually_steps"`

	// RetryableErrorSteps are steps in error that will be retried: retryable and
	// attempts (NULL = 0) < retry_limit (NULL = 3).
	RetryableErrorSteps int64 `json:"retryable_error_steps"`
	// ExhaustedRetrySteps are steps in error with attempts >= retry_limit.
	ExhaustedRetrySteps int64 `json:"exhausted_retry_steps"`
	// NonRetryableErrorSteps are steps in error marked retryable = false (a step
	// can be both this and exhausted).
	NonRetryableErrorSteps int64 `json:"non_retryable_error_steps"`
	// StepsInBackoff are retryable error steps whose next retry time (as readiness
	// computes it) is still in the future.
	StepsInBackoff int64 `json:"steps_in_backoff"`

	// ActiveConnections counts client connections to the current database.
	ActiveConnections int64 `json:"active_connections"`
	// MaxConnections is the server's max_connections setting.
	MaxConnections int64 `json:"max_connections"`
}

// SystemHealthCounts calls get_system_health_counts (one round trip).
func SystemHealthCounts(ctx context.Context, q Querier) (SystemHealth, error) {
	var h SystemHealth
	err := q.QueryRow(ctx, `SELECT total_tasks, pending_tasks, in_progress_tasks, complete_tasks, error_tasks,
		cancelled_tasks, resolved_manually_tasks, total_steps, pending_steps, in_progress_steps, complete_steps,
		error_steps, cancelled_steps, resolved_manually_steps, retryable_error_steps, exhausted_retry_steps,
		non_retryable_error_steps, steps_in_backoff, active_connections, max_connections
		FROM get_system_health_counts()`).Scan(
		&h.TotalTasks, &h.PendingTasks, &h.InProgressTasks, &h.CompleteTasks, &h.ErrorTasks,
		&h.CancelledTasks, &h.ResolvedManuallyTasks, &h.TotalSteps, &h.PendingSteps, &h.InProgressSteps,
		&h.CompleteSteps, &h.ErrorSteps, &h.CancelledSteps, &h.ResolvedManuallySteps, &h.RetryableErrorSteps,
		&h.ExhaustedRetrySteps, &h.NonRetryableErrorSteps, &h.StepsInBackoff, &h.ActiveConnections,
		&h.MaxConnections)
	if err != nil {
		return SystemHealth{}, pgerr.Wrap(err, "system health counts")
	}
	return h, nil
}
