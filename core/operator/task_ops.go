package operator

import (
	"context"

	"github.com/goccy/go-json"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
)

// TaskRequest names a task.
type TaskRequest struct {
	Request
	TaskID int64 `json:"task_id"`
}

func (r TaskRequest) target() Target { return Target{Type: "task", TaskID: r.TaskID} }

// unfinished reports whether a step still has work (it is not complete,
// resolved_manually or cancelled).
func unfinished(s state.State) bool {
	return s == state.Pending || s == state.InProgress || s == state.Error
}

// leaseMeta is the metadata of a transition that takes a step from its worker.
func leaseMeta(s *stepSnap) map[string]any {
	if s.snap.State != state.InProgress {
		return nil
	}
	return map[string]any{"lease_revoked_from": s.snap.ClaimedBy}
}

func operatorError(kind, message, actor string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"type": kind, "message": message, "actor": actor}})
	return b
}

// CancelTask cancels the task and every unfinished step (pending, in_progress,
// error) in one transaction. Steps in flight lose their lease: their worker's
// heartbeat no longer extends it and its late report is refused (a
// state_transition_error outcome with details.conflict). Complete and resolved
// steps keep their state. Any task state but cancelled may be cancelled.
func (s *Service) CancelTask(ctx context.Context, req TaskRequest) (Result, error) {
	return s.run(ctx, action{op: OpCancelTask, target: req.target(), req: req.Request, params: map[string]any{},
		apply: func(ctx context.Context, r *runState) error {
			if r.task.state == state.Cancelled {
				return r.refuse(nil, "cancel_task: task %d is already cancelled", r.task.id)
			}
			var reqs []store.StepTransition
			for _, st := range r.steps {
				if unfinished(st.snap.State) {
					reqs = append(reqs, store.StepTransition{StepID: st.id, From: st.snap.State, To: state.Cancelled, Metadata: leaseMeta(st)})
				}
			}
			if err := r.transitionSteps(ctx, reqs); err != nil {
				return err
			}
			return r.taskPath(ctx, state.Cancelled)
		}})
}

// RetryTask sends every failed step that may run again (retryable, attempts
// below its retry limit) back to pending now, ignoring its backoff. A failed
// task becomes runnable again (error → pending). Refused when no failed step may
// run again (details name the exhausted and not-retryable ones: use retry_step or
// reset_attempts for those).
func (s *Service) RetryTask(ctx context.Context, req TaskRequest) (Result, error) {
	return s.run(ctx, action{op: OpRetryTask, target: req.target(), req: req.Request, params: map[string]any{},
		apply: func(ctx context.Context, r *runState) error {
			if err := r.requireOpenTask(); err != nil {
				return err
			}
			var ids []int64
			exhausted, notRetryable := []string{}, []string{}
			for _, st := range r.steps {
				if st.snap.State != state.Error {
					continue
				}
				switch {
				case !st.snap.Retryable:
					notRetryable = append(notRetryable, st.name)
				case st.snap.Attempts >= st.snap.RetryLimit:
					exhausted = append(exhausted, st.name)
				default:
					ids = append(ids, st.id)
				}
			}
			if len(ids) == 0 {
				return r.refuse(map[string]any{"exhausted": exhausted, "not_retryable": notRetryable},
					"retry_task: task %d has no failed step that may run again (exhausted: %v, not retryable: %v); use retry_step or reset_attempts",
					r.task.id, exhausted, notRetryable)
			}
			// A zero requested backoff counts from the last failure: ready now.
			if err := r.exec(ctx, "clear backoff", `UPDATE tasker_workflow_steps SET backoff_request_seconds = 0, updated_at = now()
				WHERE workflow_step_id = ANY ($1)`, ids); err != nil {
				return err
			}
			reqs := make([]store.StepTransition, len(ids))
			for i, id := range ids {
				reqs[i] = store.StepTransition{StepID: id, From: state.Error, To: state.Pending}
			}
			return r.transitionSteps(ctx, reqs)
		}})
}

// ResetAttemptsRequest resets failed steps' attempt counts.
type ResetAttemptsRequest struct {
	TaskRequest
	// StepIDs limits the reset to these failed steps of the task (default: all).
	StepIDs []int64 `json:"step_ids,omitempty"`
	// RetryLimit, when set (>= 1), becomes the steps' new retry limit.
	RetryLimit *int32 `json:"retry_limit,omitempty"`
}

// ResetAttempts sets the attempt count of the task's failed steps (or of
// StepIDs) to zero, and their retry limit to RetryLimit when given, so their
// retry limit applies afresh. The steps stay in error and are retried by the
// usual path once their (base) backoff passes; a failed task becomes runnable
// again. Retryable is not changed: a permanently failed step needs retry_step.
func (s *Service) ResetAttempts(ctx context.Context, req ResetAttemptsRequest) (Result, error) {
	params := map[string]any{"step_ids": req.StepIDs}
	if req.RetryLimit != nil {
		params["retry_limit"] = *req.RetryLimit
		if *req.RetryLimit < 1 {
			return Result{}, errs.New(errs.Validation, map[string]any{"field": "retry_limit"}, "retry_limit must be >= 1")
		}
	}
	return s.run(ctx, action{op: OpResetAttempts, target: req.target(), req: req.Request, params: params,
		apply: func(ctx context.Context, r *runState) error {
			if err := r.requireOpenTask(); err != nil {
				return err
			}
			var ids []int64
			if len(req.StepIDs) > 0 {
				for _, id := range req.StepIDs {
					st, err := r.step(id)
					if err != nil {
						return err
					}
					if st.snap.State != state.Error {
						return r.refuseStep(st, []state.State{state.Error})
					}
					ids = append(ids, id)
				}
			} else {
				for _, st := range r.steps {
					if st.snap.State == state.Error {
						ids = append(ids, st.id)
					}
				}
			}
			if len(ids) == 0 {
				return r.refuse(nil, "reset_attempts: task %d has no failed step", r.task.id)
			}
			return r.exec(ctx, "reset attempts", `UPDATE tasker_workflow_steps
				SET attempts = 0, retry_limit = COALESCE($2, retry_limit), updated_at = now()
				WHERE workflow_step_id = ANY ($1)`, ids, req.RetryLimit)
		}})
}

// ForceCompleteTask completes a pending, in_progress or failed task at once.
// Unfinished steps are resolved: pending and error steps go to
// resolved_manually (their results kept); a step in flight loses its lease and
// goes in_progress → error (results {"error": {"type": "operator_forced"}}) →
// resolved_manually, so its worker's late report is refused. Then the task goes
// to complete by its legal path (pending → in_progress → complete, error →
// pending → in_progress → complete).
func (s *Service) ForceCompleteTask(ctx context.Context, req TaskRequest) (Result, error) {
	return s.run(ctx, action{op: OpForceCompleteTask, target: req.target(), req: req.Request, params: map[string]any{},
		apply: func(ctx context.Context, r *runState) error {
			if err := r.requireOpenTask(); err != nil {
				return err
			}
			var reqs []store.StepTransition
			for _, st := range r.steps {
				switch st.snap.State {
				case state.Pending, state.Error:
					reqs = append(reqs, store.StepTransition{StepID: st.id, From: st.snap.State, To: state.ResolvedManually})
				case state.InProgress:
					reqs = append(reqs,
						store.StepTransition{StepID: st.id, From: state.InProgress, To: state.Error, Metadata: leaseMeta(st),
							Results: operatorError("operator_forced", "force_complete_task: "+r.a.req.Reason, r.a.req.Actor)},
						store.StepTransition{StepID: st.id, From: state.Error, To: state.ResolvedManually})
				}
			}
			if err := r.transitionSteps(ctx, reqs); err != nil {
				return err
			}
			switch r.task.state {
			case state.Pending:
				return r.taskPath(ctx, state.InProgress, state.Complete)
			case state.InProgress:
				return r.taskPath(ctx, state.Complete)
			default: // error
				return r.taskPath(ctx, state.Pending, state.InProgress, state.Complete)
			}
		}})
}

// ForceFailTask fails a pending or in_progress task at once. Every unfinished
// step fails for good: pending and in-flight steps go to error (in-flight ones
// lose their lease; results {"error": {"type": "operator_failed"}}), and they and
// the steps already in error become not retryable, so no claim restarts the
// task. The task goes to error. retry_step or reset_step bring steps back.
func (s *Service) ForceFailTask(ctx context.Context, req TaskRequest) (Result, error) {
	return s.run(ctx, action{op: OpForceFailTask, target: req.target(), req: req.Request, params: map[string]any{},
		apply: func(ctx context.Context, r *runState) error {
			if r.task.state != state.Pending && r.task.state != state.InProgress {
				return r.refuse(nil, "force_fail_task: task %d is %s; the operation applies to pending or in_progress tasks",
					r.task.id, r.task.state)
			}
			var reqs []store.StepTransition
			var failed []int64
			for _, st := range r.steps {
				switch st.snap.State {
				case state.Pending, state.InProgress:
					reqs = append(reqs, store.StepTransition{StepID: st.id, From: st.snap.State, To: state.Error, Permanent: true,
						Metadata: leaseMeta(st), Results: operatorError("operator_failed", "force_fail_task: "+r.a.req.Reason, r.a.req.Actor)})
				case state.Error:
					failed = append(failed, st.id)
				}
			}
			if err := r.transitionSteps(ctx, reqs); err != nil {
				return err
			}
			if err := r.exec(ctx, "fail steps for good", `UPDATE tasker_workflow_steps SET retryable = false, updated_at = now()
				WHERE workflow_step_id = ANY ($1)`, failed); err != nil {
				return err
			}
			return r.taskPath(ctx, state.Error)
		}})
}

// UpdateTaskMetadataRequest changes a task's operator-facing data.
type UpdateTaskMetadataRequest struct {
	TaskRequest
	// Tags: an object is merged into the task's tags (when they are an object;
	// its keys replace theirs), any other JSON value replaces them.
	Tags json.RawMessage `json:"tags,omitempty"`
	// Annotations are added (tasker_task_annotations; types created by name).
	Annotations []Annotation `json:"annotations,omitempty"`
	// Context replaces the task's context — which handlers already saw — only
	// with ReplaceContext: true.
	Context        json.RawMessage `json:"context,omitempty"`
	ReplaceContext bool            `json:"replace_context,omitempty"`
}

// maxAnnotationType is the length of tasker_annotation_types.name.
const maxAnnotationType = 64

// UpdateTaskMetadata changes a task's tags, adds annotations, and (only when
// asked explicitly) replaces its context. It writes no transition; any task
// state.
func (s *Service) UpdateTaskMetadata(ctx context.Context, req UpdateTaskMetadataRequest) (Result, error) {
	if err := req.validate(); err != nil {
		return Result{}, err
	}
	params := map[string]any{"tags": req.Tags, "annotations": req.Annotations, "replace_context": req.ReplaceContext}
	if req.ReplaceContext {
		params["context"] = req.Context
	}
	return s.run(ctx, action{op: OpUpdateTaskMetadata, target: req.target(), req: req.Request, params: params,
		apply: func(ctx context.Context, r *runState) error {
			if len(req.Tags) > 0 {
				if err := r.exec(ctx, "update tags", `UPDATE tasker_tasks SET updated_at = now(), tags = CASE
						WHEN jsonb_typeof(tags) = 'object' AND jsonb_typeof($2::jsonb) = 'object' THEN tags || $2::jsonb
						ELSE $2::jsonb END
					WHERE task_id = $1`, r.task.id, string(req.Tags)); err != nil {
					return err
				}
			}
			if req.ReplaceContext {
				if err := r.exec(ctx, "replace context", `UPDATE tasker_tasks SET context = $2::jsonb, updated_at = now() WHERE task_id = $1`,
					r.task.id, string(req.Context)); err != nil {
					return err
				}
			}
			for _, a := range req.Annotations {
				if err := r.exec(ctx, "annotation type", `INSERT INTO tasker_annotation_types (name) VALUES ($1)
					ON CONFLICT (name) DO NOTHING`, a.Type); err != nil {
					return err
				}
				if err := r.exec(ctx, "annotation", `INSERT INTO tasker_task_annotations (task_id, annotation_type_id, annotation)
					SELECT $1, annotation_type_id, $3::jsonb FROM tasker_annotation_types WHERE name = $2`,
					r.task.id, a.Type, string(a.Annotation)); err != nil {
					return err
				}
			}
			after, err := loadTask(ctx, r.tx, r.task.id)
			if err != nil {
				return err
			}
			change := &TaskChange{Before: TaskFields{Tags: r.task.tags}, After: TaskFields{Tags: after.tags}}
			if req.ReplaceContext {
				change.Before.Context, change.After.Context = r.task.context, after.context
			}
			r.extra.Task = change
			r.extra.Annotations = req.Annotations
			return nil
		}})
}

func (r UpdateTaskMetadataRequest) validate() error {
	if len(r.Tags) == 0 && len(r.Annotations) == 0 && len(r.Context) == 0 {
		return errs.New(errs.Validation, map[string]any{"field": "tags"}, "update_task_metadata needs tags, annotations or context")
	}
	if len(r.Tags) > 0 && !json.Valid(r.Tags) {
		return errs.New(errs.Validation, map[string]any{"field": "tags"}, "tags must be JSON")
	}
	if len(r.Context) > 0 && !r.ReplaceContext {
		return errs.New(errs.Validation, map[string]any{"field": "context"},
			"context is what handlers already saw: replacing it needs replace_context: true")
	}
	if r.ReplaceContext && (len(r.Context) == 0 || !json.Valid(r.Context)) {
		return errs.New(errs.Validation, map[string]any{"field": "context"}, "replace_context needs a context (JSON)")
	}
	for i, a := range r.Annotations {
		if a.Type == "" || len(a.Type) > maxAnnotationType {
			return errs.New(errs.Validation, map[string]any{"field": "annotations", "index": i},
				"annotations[%d].type is required (at most %d characters)", i, maxAnnotationType)
		}
		if len(a.Annotation) == 0 || !json.Valid(a.Annotation) {
			return errs.New(errs.Validation, map[string]any{"field": "annotations", "index": i},
				"annotations[%d].annotation must be JSON", i)
		}
	}
	return nil
}
