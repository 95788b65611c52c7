package operator

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/core/telemetry"
)

// Operation names: the JSON API's methods, the audit rows' operation, the
// Authorizer's action.
const (
	OpCancelTask           = "cancel_task"
	OpRetryTask            = "retry_task"
	OpResetAttempts        = "reset_attempts"
	OpForceCompleteTask    = "force_complete_task"
	OpForceFailTask        = "force_fail_task"
	OpUpdateTaskMetadata   = "update_task_metadata"
	OpRetryStep            = "retry_step"
	OpResetStep            = "reset_step"
	OpResolveStep          = "resolve_step"
	OpUpdateStepResults    = "update_step_results"
	OpOverrideDependencies = "override_dependencies"
	OpOperatorActions      = "operator_actions" // the audit trail read (authorized, not audited)
)

// EventNames maps each operation to the operator event it writes (the catalog's
// operator.* events).
var EventNames = map[string]string{
	OpCancelTask:           "operator.task_cancelled",
	OpRetryTask:            "operator.task_retried",
	OpResetAttempts:        "operator.attempts_reset",
	OpForceCompleteTask:    "operator.task_force_completed",
	OpForceFailTask:        "operator.task_force_failed",
	OpUpdateTaskMetadata:   "operator.task_metadata_updated",
	OpRetryStep:            "operator.step_retried",
	OpResetStep:            "operator.step_reset",
	OpResolveStep:          "operator.step_resolved",
	OpUpdateStepResults:    "operator.step_results_updated",
	OpOverrideDependencies: "operator.dependencies_overridden",
}

// Limits of the audit row's columns (migrations/0007_operator_actions.sql).
const (
	maxActorLen = 256
	maxKeyLen   = 256
)

// Request is what every operation takes besides its target.
type Request struct {
	// Actor is who acts (a user name, a service); required.
	Actor string `json:"actor"`
	// Reason says why; required, kept in the audit row and every transition.
	Reason string `json:"reason"`
	// DryRun answers what the operation would change and writes nothing.
	DryRun bool `json:"dry_run,omitempty"`
	// IdempotencyKey, when set, makes a repeated request (same key) return the
	// first answer without acting again.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// RequestID is the caller's request id (an HTTP request's, say), for the audit row.
	RequestID string `json:"request_id,omitempty"`
}

func (r Request) validate() error {
	for _, f := range [][2]string{{"actor", r.Actor}, {"reason", r.Reason}, {"idempotency_key", r.IdempotencyKey}, {"request_id", r.RequestID}} {
		if !utf8.ValidString(f[1]) || strings.ContainsRune(f[1], 0) {
			return errs.New(errs.Validation, map[string]any{"field": f[0]}, "%s must be UTF-8 without U+0000", f[0])
		}
	}
	switch {
	case r.Actor == "" || utf8.RuneCountInString(r.Actor) > maxActorLen:
		return errs.New(errs.Validation, map[string]any{"field": "actor"}, "actor is required (at most %d characters)", maxActorLen)
	case strings.TrimSpace(r.Reason) == "":
		return errs.New(errs.Validation, map[string]any{"field": "reason"}, "reason is required: say why the operator acts")
	case utf8.RuneCountInString(r.IdempotencyKey) > maxKeyLen:
		return errs.New(errs.Validation, map[string]any{"field": "idempotency_key"}, "idempotency_key is at most %d characters", maxKeyLen)
	case utf8.RuneCountInString(r.RequestID) > maxKeyLen:
		return errs.New(errs.Validation, map[string]any{"field": "request_id"}, "request_id is at most %d characters", maxKeyLen)
	}
	return nil
}

// Target is what an operation acts on, as the caller named it.
type Target struct {
	Type   string `json:"type"` // "task" or "step"
	TaskID int64  `json:"task_id,omitempty"`
	StepID int64  `json:"step_id,omitempty"`
}

func (t Target) id() int64 {
	if t.Type == "step" {
		return t.StepID
	}
	return t.TaskID
}

// Authorizer decides whether actor may perform action (an operation name) on
// target. A non-nil error refuses: the operation writes nothing and fails with
// errs.PermissionDenied carrying the error's message.
type Authorizer interface {
	Authorize(ctx context.Context, actor, action string, target Target) error
}

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(ctx context.Context, actor, action string, target Target) error

// Authorize calls f.
func (f AuthorizerFunc) Authorize(ctx context.Context, actor, action string, target Target) error {
	return f(ctx, actor, action, target)
}

// Service performs operator actions on one store.
type Service struct {
	store *store.Store
	authz Authorizer
	log   zerolog.Logger
}

// Options configure a Service.
type Options struct {
	Authorizer Authorizer     // nil: every actor may do everything
	Logger     zerolog.Logger // one line per action and per refusal (zero value: none)
}

// New returns a Service over s.
func New(s *store.Store, opts Options) *Service {
	return &Service{store: s, authz: opts.Authorizer, log: opts.Logger}
}

// StepSnapshot is what an operation may change about a step.
type StepSnapshot struct {
	State      state.State     `json:"state"`
	Attempts   int32           `json:"attempts"`
	RetryLimit int32           `json:"retry_limit"`
	Retryable  bool            `json:"retryable"`
	Results    json.RawMessage `json:"results"`
	ClaimedBy  string          `json:"claimed_by,omitempty"`
	Parents    []int64         `json:"parents"`
}

// StepChange is a step the operation changed.
type StepChange struct {
	StepID int64        `json:"step_id"`
	Name   string       `json:"name"`
	Before StepSnapshot `json:"before"`
	After  StepSnapshot `json:"after"`
}

// TaskFields are the task's tags and context, in an answer when they changed.
type TaskFields struct {
	Tags    json.RawMessage `json:"tags"`
	Context json.RawMessage `json:"context,omitempty"`
}

// TaskChange is the task's fields before and after update_task_metadata.
type TaskChange struct {
	Before TaskFields `json:"before"`
	After  TaskFields `json:"after"`
}

// TransitionChange is a transition the operation wrote (or, dry, would write).
type TransitionChange struct {
	Kind    string      `json:"kind"` // "task" or "step"
	ID      int64       `json:"id"`   // task or step id
	Name    string      `json:"name"` // the step's name ("" for the task)
	From    state.State `json:"from_state"`
	To      state.State `json:"to_state"`
	SortKey int32       `json:"sort_key"`
	Event   string      `json:"event,omitempty"`
}

// EventChange is an outbox event the operation wrote (or would write).
type EventChange struct {
	TaskSeq int64           `json:"task_seq"`
	Name    string          `json:"name"`
	StepID  *int64          `json:"step_id"`
	Payload json.RawMessage `json:"payload"`
}

// StepRef names a step and its state.
type StepRef struct {
	StepID int64       `json:"step_id"`
	Name   string      `json:"name"`
	State  state.State `json:"state"`
}

// Annotation is an operator note on a task (tasker_task_annotations).
type Annotation struct {
	Type       string          `json:"type"`
	Annotation json.RawMessage `json:"annotation"`
}

// Result is an operation's answer: what it changed (or, dry, would change).
type Result struct {
	ActionID        int64              `json:"action_id"` // 0 for a dry run
	Operation       string             `json:"operation"`
	TargetType      string             `json:"target_type"`
	TargetID        int64              `json:"target_id"`
	TaskID          int64              `json:"task_id"`
	Actor           string             `json:"actor"`
	Reason          string             `json:"reason"`
	RequestID       string             `json:"request_id,omitempty"`
	IdempotencyKey  string             `json:"idempotency_key,omitempty"`
	CorrelationID   string             `json:"correlation_id"`
	DryRun          bool               `json:"dry_run"`
	Replayed        bool               `json:"replayed"` // the first answer of an idempotency key, returned again
	TaskStateBefore state.State        `json:"task_state_before"`
	TaskStateAfter  state.State        `json:"task_state_after"`
	Steps           []StepChange       `json:"steps"`
	Transitions     []TransitionChange `json:"transitions"`
	Events          []EventChange      `json:"events"`
	// ChildrenAlreadyRun (update_step_results): steps below the step that have
	// run or are running, and so may have read its old results.
	ChildrenAlreadyRun []StepRef `json:"children_already_run,omitempty"`
	// Task (update_task_metadata): tags and context before and after.
	Task *TaskChange `json:"task,omitempty"`
	// Annotations (update_task_metadata): the annotations added.
	Annotations []Annotation `json:"annotations,omitempty"`
	// EdgesAdded / EdgesRemoved (override_dependencies): [parent, child] pairs.
	EdgesAdded   [][2]int64 `json:"edges_added,omitempty"`
	EdgesRemoved [][2]int64 `json:"edges_removed,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
}

// action describes one operation for run.
type action struct {
	op     string
	target Target
	req    Request
	params any // the operation's own arguments, for the audit row
	// apply makes the operation's changes; r holds the locked task's snapshot.
	apply func(ctx context.Context, r *runState) error
}

// run performs an action: authorize, lock, replay or apply, finalize, audit,
// in a span tasker.operator.<operation> (when tracing is on).
func (s *Service) run(ctx context.Context, a action) (res Result, err error) {
	ctx, span := telemetry.StartSpan(ctx, "tasker.operator."+a.op, attribute.String(telemetry.AttrOperation, a.op),
		attribute.String(telemetry.AttrActor, a.req.Actor), attribute.Bool(telemetry.AttrDryRun, a.req.DryRun))
	defer func() {
		if res.TaskID != 0 {
			span.SetAttributes(attribute.Int64(telemetry.AttrTaskID, res.TaskID),
				attribute.String(telemetry.AttrCorrelationID, res.CorrelationID))
		}
		telemetry.EndSpan(span, err)
	}()
	if err := a.req.validate(); err != nil {
		return Result{}, err
	}
	if a.target.id() <= 0 {
		field := a.target.Type + "_id"
		return Result{}, errs.New(errs.Validation, map[string]any{"field": field}, "%s is required (a positive integer)", field)
	}
	if err := s.authorize(ctx, a.req.Actor, a.op, a.target); err != nil {
		return Result{}, err
	}
	st := s.store
	if a.req.DryRun {
		st = st.WithoutLive()
	}
	err = st.OperatorTx(ctx, a.req.DryRun, func(ctx context.Context, tx pgx.Tx) error {
		r, replay, err := begin(ctx, st, tx, a)
		if err != nil || replay != nil {
			if replay != nil {
				res = *replay
			}
			return err
		}
		meta := map[string]any{"action_id": r.actionID, "actor": a.req.Actor, "reason": a.req.Reason, "operation": a.op}
		ctx = store.WithOperatorAction(ctx, meta)
		if err := a.apply(ctx, r); err != nil {
			return err
		}
		if err := r.refinalize(ctx); err != nil {
			return err
		}
		res, err = r.finish(ctx)
		return err
	})
	if err != nil {
		// A refused request is the caller's business (info); a failing database
		// or a bug is the operator's (warn).
		ev := s.log.Info()
		switch errs.KindOf(err) {
		case errs.Database, errs.Timeout, errs.Internal:
			ev = s.log.Warn()
		}
		ev.Str("operation", a.op).Str("actor", a.req.Actor).Str("target_type", a.target.Type).
			Int64("target_id", a.target.id()).Str("error_type", string(errs.KindOf(err))).Err(err).Msg("operator action failed")
		return Result{}, err
	}
	if a.req.DryRun && !res.Replayed {
		res.ActionID = 0
	}
	s.log.Info().Str("operation", a.op).Str("actor", a.req.Actor).Str("reason", a.req.Reason).Int64("task_id", res.TaskID).
		Int64("action_id", res.ActionID).Bool("dry_run", res.DryRun).Bool("replayed", res.Replayed).
		Str("correlation_id", res.CorrelationID).Msg("operator action")
	return res, nil
}

// authorize asks the Authorizer; a refusal is logged and typed.
func (s *Service) authorize(ctx context.Context, actor, action string, target Target) error {
	if s.authz == nil {
		return nil
	}
	err := s.authz.Authorize(ctx, actor, action, target)
	if err == nil {
		return nil
	}
	s.log.Warn().Str("operation", action).Str("actor", actor).Str("target_type", target.Type).
		Int64("target_id", target.id()).Str("refusal", err.Error()).Msg("operator action refused")
	if errs.KindOf(err) == errs.PermissionDenied {
		return err
	}
	return &errs.Error{Kind: errs.PermissionDenied, Err: err,
		Message: fmt.Sprintf("%s may not %s %s %d: %v", actor, action, target.Type, target.id(), err),
		Details: map[string]any{"actor": actor, "action": action, "target_type": target.Type, "target_id": target.id()}}
}
