package sqlfuncs

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/internal/pgerr"
)

// Readiness reason codes: why a step is or is not ready (see 002_step_readiness.sql).
const (
	ReasonReady             = "ready"
	ReasonWrongState        = "wrong_state"
	ReasonTaskTerminal      = "task_terminal"
	ReasonAlreadyProcessed  = "already_processed"
	ReasonClaimed           = "claimed"
	ReasonDependenciesUnmet = "dependencies_unmet"
	ReasonNotRetryable      = "not_retryable"
	ReasonRetriesExhausted  = "retries_exhausted"
	ReasonBackoff           = "backoff"
)

// StepReadiness is one row of get_step_readiness_status.
type StepReadiness struct {
	WorkflowStepID        int64          `json:"workflow_step_id"`
	TaskID                int64          `json:"task_id"`
	NamedStepID           int32          `json:"named_step_id"`
	Name                  string         `json:"name"`
	CurrentState          string         `json:"current_state"`
	DependenciesSatisfied bool           `json:"dependencies_satisfied"`
	RetryEligible         bool           `json:"retry_eligible"`
	ReadyForExecution     bool           `json:"ready_for_execution"`
	LastFailureAt         *time.Time     `json:"last_failure_at"`
	NextRetryAt           *time.Time     `json:"next_retry_at"`
	TotalParents          int32          `json:"total_parents"`
	CompletedParents      int32          `json:"completed_parents"`
	Attempts              int32          `json:"attempts"`
	RetryLimit            int32          `json:"retry_limit"`
	BackoffRequestSeconds *int32         `json:"backoff_request_seconds"`
	LastAttemptedAt       *time.Time     `json:"last_attempted_at"`
	Retryable             bool           `json:"retryable"`
	InProcess             bool           `json:"in_process"`
	Processed             bool           `json:"processed"`
	Reason                string         `json:"reason"`
	ReasonDetail          map[string]any `json:"reason_detail"`
}

const readinessColumns = `workflow_step_id, task_id, named_step_id, name, current_state, dependencies_satisfied,
	retry_eligible, ready_for_execution, last_failure_at, next_retry_at, total_parents, completed_parents,
	attempts, retry_limit, backoff_request_seconds, last_attempted_at, retryable, in_process, processed,
	reason, reason_detail`

// StepReadinessStatus calls get_step_readiness_status for one task. stepIDs nil
// means every step; asOf nil means now.
func StepReadinessStatus(ctx context.Context, q Querier, taskID int64, stepIDs []int64, asOf *time.Time) ([]StepReadiness, error) {
	rows, err := q.Query(ctx, `SELECT `+readinessColumns+` FROM get_step_readiness_status($1, $2, $3)`, taskID, stepIDs, asOf)
	return collectReadiness(rows, err, "step readiness")
}

// ViableStep is a row of get_step_readiness_status that is ready for
// execution, with only the columns a caller of discover_viable_steps gets
// (REFERENCE §6). reason_detail stays the JSON text PostgreSQL sent: it is
// passed on, never read, so it is not decoded into a map and encoded again.
type ViableStep struct {
	WorkflowStepID        int64           `json:"workflow_step_id"`
	TaskID                int64           `json:"task_id"`
	NamedStepID           int32           `json:"named_step_id"`
	Name                  string          `json:"name"`
	CurrentState          string          `json:"current_state"`
	DependenciesSatisfied bool            `json:"dependencies_satisfied"`
	RetryEligible         bool            `json:"retry_eligible"`
	Attempts              int32           `json:"attempts"`
	RetryLimit            int32           `json:"retry_limit"`
	Reason                string          `json:"reason"`
	ReasonDetail          json.RawMessage `json:"reason_detail"`
}

// ViableSteps returns the steps of get_step_readiness_status that are ready
// for execution, filtered in SQL; only ViableStep's columns are read.
func ViableSteps(ctx context.Context, q Querier, taskID int64, asOf *time.Time) ([]ViableStep, error) {
	rows, err := q.Query(ctx, `SELECT workflow_step_id, task_id, named_step_id, name, current_state,
		dependencies_satisfied, retry_eligible, attempts, retry_limit, reason, reason_detail
		FROM get_step_readiness_status($1, NULL, $2) WHERE ready_for_execution`, taskID, asOf)
	if err != nil {
		return nil, pgerr.Wrap(err, "viable steps")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ViableStep, error) {
		var s ViableStep
		var detail []byte // a []byte is copied as is; a json.RawMessage would be parsed (json.Unmarshaler)
		err := r.Scan(&s.WorkflowStepID, &s.TaskID, &s.NamedStepID, &s.Name, &s.CurrentState,
			&s.DependenciesSatisfied, &s.RetryEligible, &s.Attempts, &s.RetryLimit, &s.Reason, &detail)
		s.ReasonDetail = detail
		return s, err
	})
	if err != nil {
		return nil, pgerr.Wrap(err, "viable steps")
	}
	return out, nil
}

// StepReadinessStatusBatch calls get_step_readiness_status_batch for several tasks.
func StepReadinessStatusBatch(ctx context.Context, q Querier, taskIDs []int64, asOf *time.Time) ([]StepReadiness, error) {
	rows, err := q.Query(ctx, `SELECT `+readinessColumns+` FROM get_step_readiness_status_batch($1, $2)`, taskIDs, asOf)
	return collectReadiness(rows, err, "step readiness batch")
}

func collectReadiness(rows pgx.Rows, err error, what string) ([]StepReadiness, error) {
	if err != nil {
		return nil, pgerr.Wrap(err, what)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StepReadiness, error) {
		var s StepReadiness
		err := r.Scan(&s.WorkflowStepID, &s.TaskID, &s.NamedStepID, &s.Name, &s.CurrentState,
			&s.DependenciesSatisfied, &s.RetryEligible, &s.ReadyForExecution, &s.LastFailureAt, &s.NextRetryAt,
			&s.TotalParents, &s.CompletedParents, &s.Attempts, &s.RetryLimit, &s.BackoffRequestSeconds,
			&s.LastAttemptedAt, &s.Retryable, &s.InProcess, &s.Processed, &s.Reason, &s.ReasonDetail)
		utc(s.LastFailureAt, s.NextRetryAt, s.LastAttemptedAt)
		return s, err
	})
	if err != nil {
		return nil, pgerr.Wrap(err, what)
	}
	return out, nil
}

// TaskExecutionContext is one row of get_task_execution_context (REFERENCE §4).
type TaskExecutionContext struct {
	TaskID                  int64      `json:"task_id"`
	NamedTaskID             int32      `json:"named_task_id"`
	Status                  string     `json:"status"`
	TotalSteps              int32      `json:"total_steps"`
	PendingSteps            int32      `json:"pending_steps"`
	InProgressSteps         int32      `json:"in_progress_steps"`
	CompletedSteps          int32      `json:"completed_steps"`
	FailedSteps             int32      `json:"failed_steps"`
	ReadySteps              int32      `json:"ready_steps"`
	ExecutionStatus         string     `json:"execution_status"`
	RecommendedAction       string     `json:"recommended_action"`
	CompletionPercentage    float64    `json:"completion_percentage"`
	HealthStatus            string     `json:"health_status"`
	PermanentlyBlockedSteps int32      `json:"permanently_blocked_steps"`
	CancelledSteps          int32      `json:"cancelled_steps"`
	NextRetryAt             *time.Time `json:"next_retry_at"`
	CorrelationID           string     `json:"correlation_id"`
}

// Execution statuses and recommended actions of the decision table (REFERENCE §4).
const (
	StatusHasReadySteps          = "has_ready_steps"
	StatusProcessing             = "processing"
	StatusBlockedByFailures      = "blocked_by_failures"
	StatusAllComplete            = "all_complete"
	StatusWaitingForDependencies = "waiting_for_dependencies"

	ActionExecuteReadySteps   = "execute_ready_steps"
	ActionWaitForCompletion   = "wait_for_completion"
	ActionHandleFailures      = "handle_failures"
	ActionFinalizeTask        = "finalize_task"
	ActionWaitForDependencies = "wait_for_dependencies"

	HealthHealthy    = "healthy"
	HealthRecovering = "recovering"
	HealthBlocked    = "blocked"
	HealthUnknown    = "unknown"
)

const contextColumns = `task_id, named_task_id, status, total_steps, pending_steps, in_progress_steps,
	completed_steps, failed_steps, ready_steps, execution_status, recommended_action,
	completion_percentage::float8, health_status, permanently_blocked_steps, cancelled_steps, next_retry_at,
	correlation_id::text`

// GetTaskExecutionContext calls get_task_execution_context. An unknown task is an
// errs.NotFound error.
func GetTaskExecutionContext(ctx context.Context, q Querier, taskID int64, asOf *time.Time) (TaskExecutionContext, error) {
	rows, err := q.Query(ctx, `SELECT `+contextColumns+` FROM get_task_execution_context($1, $2)`, taskID, asOf)
	out, err := collectContexts(rows, err, "task execution context")
	if err != nil {
		return TaskExecutionContext{}, err
	}
	if len(out) == 0 {
		return TaskExecutionContext{}, errs.New(errs.NotFound, map[string]any{"task_id": taskID}, "task %d not found", taskID)
	}
	return out[0], nil
}

// GetTaskExecutionContextsBatch calls get_task_execution_contexts_batch; unknown
// ids are left out of the result.
func GetTaskExecutionContextsBatch(ctx context.Context, q Querier, taskIDs []int64, asOf *time.Time) ([]TaskExecutionContext, error) {
	rows, err := q.Query(ctx, `SELECT `+contextColumns+` FROM get_task_execution_contexts_batch($1, $2)`, taskIDs, asOf)
	return collectContexts(rows, err, "task execution contexts batch")
}

func collectContexts(rows pgx.Rows, err error, what string) ([]TaskExecutionContext, error) {
	if err != nil {
		return nil, pgerr.Wrap(err, what)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TaskExecutionContext, error) {
		var c TaskExecutionContext
		err := r.Scan(&c.TaskID, &c.NamedTaskID, &c.Status, &c.TotalSteps, &c.PendingSteps, &c.InProgressSteps,
			&c.CompletedSteps, &c.FailedSteps, &c.ReadySteps, &c.ExecutionStatus, &c.RecommendedAction,
			&c.CompletionPercentage, &c.HealthStatus, &c.PermanentlyBlockedSteps, &c.CancelledSteps,
			&c.NextRetryAt, &c.CorrelationID)
		utc(c.NextRetryAt)
		return c, err
	})
	if err != nil {
		return nil, pgerr.Wrap(err, what)
	}
	return out, nil
}

// CycleSQLState is the SQLSTATE calculate_dependency_levels raises on a cycle.
const CycleSQLState = "TK001"

// DependencyLevels calls calculate_dependency_levels: step id → level (roots 0).
// A cycle is an errs.Cycle error.
func DependencyLevels(ctx context.Context, q Querier, taskID int64) (map[int64]int, error) {
	rows, err := q.Query(ctx, `SELECT workflow_step_id, dependency_level FROM calculate_dependency_levels($1)`, taskID)
	if err != nil {
		return nil, levelsError(err, taskID)
	}
	out := map[int64]int{}
	var id int64
	var lvl int32
	_, err = pgx.ForEachRow(rows, []any{&id, &lvl}, func() error {
		out[id] = int(lvl)
		return nil
	})
	if err != nil {
		return nil, levelsError(err, taskID)
	}
	return out, nil
}

func levelsError(err error, taskID int64) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == CycleSQLState {
		return &errs.Error{Kind: errs.Cycle, Message: pg.Message, Details: map[string]any{"task_id": taskID}, Err: err}
	}
	return pgerr.Wrap(err, "dependency levels")
}

func utc(ts ...*time.Time) {
	for _, t := range ts {
		if t != nil {
			*t = t.UTC()
		}
	}
}
