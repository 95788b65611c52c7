package operator

import (
	"context"
	"time"

	"github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"

	"github.com/taskercore/tasker-core/core/errs"
)

// Action is one row of the operator actions' audit trail.
type Action struct {
	ActionID       int64           `json:"action_id"`
	Operation      string          `json:"operation"`
	TargetType     string          `json:"target_type"`
	TargetID       int64           `json:"target_id"`
	TaskID         int64           `json:"task_id"`
	Actor          string          `json:"actor"`
	Reason         string          `json:"reason"`
	RequestID      string          `json:"request_id,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	CorrelationID  string          `json:"correlation_id"`
	Params         json.RawMessage `json:"params"`
	BeforeState    json.RawMessage `json:"before_state"`
	AfterState     json.RawMessage `json:"after_state"`
	CreatedAt      time.Time       `json:"created_at"`
}

// ActionsRequest asks for a task's operator actions.
type ActionsRequest struct {
	Actor  string `json:"actor,omitempty"` // who asks (for the Authorizer)
	TaskID int64  `json:"task_id"`
}

// OperatorActions lists the operator actions on a task and its steps, oldest
// first. The Authorizer is asked (action "operator_actions"); nothing is written.
func (s *Service) OperatorActions(ctx context.Context, req ActionsRequest) ([]Action, error) {
	if req.TaskID <= 0 {
		return nil, errs.New(errs.Validation, map[string]any{"field": "task_id"}, "task_id is required (a positive integer)")
	}
	if err := s.authorize(ctx, req.Actor, OpOperatorActions, Target{Type: "task", TaskID: req.TaskID}); err != nil {
		return nil, err
	}
	pool := s.store.Pool()
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tasker_tasks WHERE task_id = $1)`, req.TaskID).Scan(&exists); err != nil {
		return nil, dbErr(err, "find task")
	}
	if !exists {
		return nil, errs.New(errs.NotFound, map[string]any{"task_id": req.TaskID}, "task %d not found", req.TaskID)
	}
	rows, err := pool.Query(ctx, `
		SELECT action_id, operation, target_type, target_id, task_id, actor, reason, COALESCE(request_id, ''),
		       COALESCE(idempotency_key, ''), COALESCE(correlation_id::text, ''), params, before_state, after_state, created_at
		FROM tasker_operator_actions WHERE task_id = $1 ORDER BY action_id`, req.TaskID)
	if err != nil {
		return nil, dbErr(err, "operator actions")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Action, error) {
		var a Action
		var params, before, after []byte
		err := r.Scan(&a.ActionID, &a.Operation, &a.TargetType, &a.TargetID, &a.TaskID, &a.Actor, &a.Reason, &a.RequestID,
			&a.IdempotencyKey, &a.CorrelationID, &params, &before, &after, &a.CreatedAt)
		a.Params, a.BeforeState, a.AfterState, a.CreatedAt = params, before, after, a.CreatedAt.UTC()
		return a, err
	})
	if out == nil {
		out = []Action{}
	}
	return out, dbErr(err, "operator actions")
}
