package operator

import (
	"context"
	"slices"

	"github.com/goccy/go-json"

	"github.com/taskercore/tasker-core/core/dag"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
)

// StepRequest names a step.
type StepRequest struct {
	Request
	StepID int64 `json:"step_id"`
}

func (r StepRequest) target() Target { return Target{Type: "step", StepID: r.StepID} }

// RetryStep sends a failed step back to pending now (error → pending, ignoring
// its backoff), even when its retries were exhausted or it failed permanently:
// its attempt count goes to 0 (its retry limit applies afresh) and it becomes
// retryable. A failed task becomes runnable again.
func (s *Service) RetryStep(ctx context.Context, req StepRequest) (Result, error) {
	return s.run(ctx, action{op: OpRetryStep, target: req.target(), req: req.Request, params: map[string]any{},
		apply: func(ctx context.Context, r *runState) error {
			if err := r.requireOpenTask(); err != nil {
				return err
			}
			st := r.byID[req.StepID]
			if st.snap.State != state.Error {
				return r.refuseStep(st, []state.State{state.Error})
			}
			if err := r.exec(ctx, "reset step", `UPDATE tasker_workflow_steps
				SET attempts = 0, retryable = true, backoff_request_seconds = 0, updated_at = now()
				WHERE workflow_step_id = $1`, st.id); err != nil {
				return err
			}
			return r.transitionSteps(ctx, []store.StepTransition{{StepID: st.id, From: state.Error, To: state.Pending}})
		}})
}

// ResetStepRequest rewinds a step.
type ResetStepRequest struct {
	StepRequest
	// Descendants also resets every step below the step ("rewind the workflow
	// from here").
	Descendants bool `json:"descendants,omitempty"`
}

// ResetStep puts a step that is not running back to pending as if it had never
// run: attempts 0, results cleared, not processed, retryable, no backoff. From
// complete, resolved_manually or cancelled this is an operator-only transition
// (→ pending, no catalog event), from error the retry path (step.retry_requested).
// With Descendants, every step below it too. Refused when one of them is running
// (details.conflict) or when nothing would change; the task must be open.
func (s *Service) ResetStep(ctx context.Context, req ResetStepRequest) (Result, error) {
	return s.run(ctx, action{op: OpResetStep, target: req.target(), req: req.Request,
		params: map[string]any{"descendants": req.Descendants},
		apply: func(ctx context.Context, r *runState) error {
			if err := r.requireOpenTask(); err != nil {
				return err
			}
			ids := []int64{req.StepID}
			if req.Descendants {
				ids = append(ids, r.descendants(req.StepID)...)
			}
			notRunning := []state.State{state.Pending, state.Error, state.Complete, state.ResolvedManually, state.Cancelled}
			var reqs []store.StepTransition
			var dirty []int64
			for _, id := range ids {
				st := r.byID[id]
				if st.snap.State == state.InProgress {
					return r.refuseStep(st, notRunning)
				}
				if st.snap.State != state.Pending {
					reqs = append(reqs, store.StepTransition{StepID: id, From: st.snap.State, To: state.Pending})
				}
				if st.snap.State != state.Pending || st.snap.Attempts > 0 || !sameJSON(st.snap.Results, json.RawMessage("null")) ||
					!st.snap.Retryable {
					dirty = append(dirty, id)
				}
			}
			if len(dirty) == 0 {
				return r.refuse(map[string]any{"step_id": req.StepID}, "reset_step: step %d is pending and has never run: nothing to reset", req.StepID)
			}
			// The columns first: error → pending is the retry path, whose guard
			// then sees the fresh attempt budget.
			if err := r.exec(ctx, "reset steps", `UPDATE tasker_workflow_steps
				SET attempts = 0, results = NULL, processed = false, processed_at = NULL, retryable = true,
				    backoff_request_seconds = 0, updated_at = now()
				WHERE workflow_step_id = ANY ($1)`, dirty); err != nil {
				return err
			}
			return r.transitionSteps(ctx, reqs)
		}})
}

// ResultsRequest gives a step results.
type ResultsRequest struct {
	StepRequest
	Results json.RawMessage `json:"results,omitempty"`
}

// ResolveStep resolves a pending or failed step by hand (→ resolved_manually)
// with Results (when given) as its results: its children run next and read
// them in their sequence. Resolving the last failed step completes the task.
func (s *Service) ResolveStep(ctx context.Context, req ResultsRequest) (Result, error) {
	if len(req.Results) > 0 && !json.Valid(req.Results) {
		return Result{}, errs.New(errs.Validation, map[string]any{"field": "results"}, "results must be JSON")
	}
	return s.run(ctx, action{op: OpResolveStep, target: req.target(), req: req.Request,
		params: map[string]any{"results": req.Results},
		apply: func(ctx context.Context, r *runState) error {
			if err := r.requireOpenTask(); err != nil {
				return err
			}
			st := r.byID[req.StepID]
			if st.snap.State != state.Pending && st.snap.State != state.Error {
				return r.refuseStep(st, []state.State{state.Pending, state.Error})
			}
			if err := r.transitionSteps(ctx, []store.StepTransition{{StepID: st.id, From: st.snap.State, To: state.ResolvedManually}}); err != nil {
				return err
			}
			if len(req.Results) == 0 {
				return nil
			}
			return r.exec(ctx, "step results", `UPDATE tasker_workflow_steps SET results = $2::jsonb, updated_at = now()
				WHERE workflow_step_id = $1`, st.id, string(req.Results))
		}})
}

// UpdateStepResults replaces the results of a complete or resolved step (no
// transition). The answer names the steps below it that already ran or are
// running (children_already_run): they may have read the old results.
func (s *Service) UpdateStepResults(ctx context.Context, req ResultsRequest) (Result, error) {
	if len(req.Results) == 0 || !json.Valid(req.Results) {
		return Result{}, errs.New(errs.Validation, map[string]any{"field": "results"}, "results are required (JSON)")
	}
	return s.run(ctx, action{op: OpUpdateStepResults, target: req.target(), req: req.Request,
		params: map[string]any{"results": req.Results},
		apply: func(ctx context.Context, r *runState) error {
			st := r.byID[req.StepID]
			if st.snap.State != state.Complete && st.snap.State != state.ResolvedManually {
				return r.refuseStep(st, []state.State{state.Complete, state.ResolvedManually})
			}
			ran := []StepRef{}
			for _, id := range r.descendants(st.id) {
				d := r.byID[id]
				if d.snap.State != state.Pending || d.snap.Attempts > 0 {
					ran = append(ran, StepRef{StepID: id, Name: d.name, State: d.snap.State})
				}
			}
			r.extra.ChildrenAlreadyRun = ran
			return r.exec(ctx, "step results", `UPDATE tasker_workflow_steps SET results = $2::jsonb, updated_at = now()
				WHERE workflow_step_id = $1`, st.id, string(req.Results))
		}})
}

// DependenciesRequest adds and removes parents of a step.
type DependenciesRequest struct {
	StepRequest
	Add    []int64 `json:"add,omitempty"`    // parent step ids to add
	Remove []int64 `json:"remove,omitempty"` // parent step ids to remove
}

// OverrideDependencies adds and removes edges parent → step of a step that has
// not started (pending, never attempted). Parents must be steps of the same
// task. A change that would close a cycle is refused with a cycle_error naming
// it. No transition; the task's readiness and schedule follow the new graph.
func (s *Service) OverrideDependencies(ctx context.Context, req DependenciesRequest) (Result, error) {
	if len(req.Add)+len(req.Remove) == 0 {
		return Result{}, errs.New(errs.Validation, map[string]any{"field": "add"}, "override_dependencies needs add or remove")
	}
	return s.run(ctx, action{op: OpOverrideDependencies, target: req.target(), req: req.Request,
		params: map[string]any{"add": req.Add, "remove": req.Remove},
		apply: func(ctx context.Context, r *runState) error {
			if err := r.requireOpenTask(); err != nil {
				return err
			}
			st := r.byID[req.StepID]
			if st.snap.State != state.Pending || st.snap.Attempts > 0 {
				d := map[string]any{"step_id": st.id, "step_name": st.name, "from_state": string(st.snap.State), "attempts": st.snap.Attempts}
				if st.snap.State == state.InProgress {
					d["conflict"] = true
				}
				return r.refuse(d, "override_dependencies: step %d (%s) has started (%s, %d attempts); only the dependencies of steps that have not started may change",
					st.id, st.name, st.snap.State, st.snap.Attempts)
			}
			parents := slices.Clone(st.snap.Parents)
			seen := map[int64]bool{}
			for _, list := range [][]int64{req.Add, req.Remove} {
				for _, id := range list {
					if _, err := r.step(id); err != nil {
						return err
					}
					if id == st.id {
						return errs.New(errs.Validation, map[string]any{"field": "add", "step_id": id}, "step %d cannot depend on itself", id)
					}
					if seen[id] {
						return errs.New(errs.Validation, map[string]any{"field": "add", "step_id": id}, "step %d is named twice", id)
					}
					seen[id] = true
				}
			}
			for _, id := range req.Add {
				if slices.Contains(parents, id) {
					return errs.New(errs.Validation, map[string]any{"field": "add", "step_id": id}, "step %d already depends on step %d", st.id, id)
				}
				parents = append(parents, id)
				r.extra.EdgesAdded = append(r.extra.EdgesAdded, [2]int64{id, st.id})
			}
			for _, id := range req.Remove {
				i := slices.Index(parents, id)
				if i < 0 {
					return errs.New(errs.Validation, map[string]any{"field": "remove", "step_id": id}, "step %d does not depend on step %d", st.id, id)
				}
				parents = slices.Delete(parents, i, i+1)
				r.extra.EdgesRemoved = append(r.extra.EdgesRemoved, [2]int64{id, st.id})
			}
			g := dag.New()
			for _, n := range r.steps {
				if err := g.AddNode(n.id, n.name); err != nil {
					return errs.Wrap(errs.Internal, err, "graph")
				}
			}
			for _, n := range r.steps {
				ps := n.snap.Parents
				if n.id == st.id {
					ps = parents
				}
				for _, p := range ps {
					if err := g.AddEdge(p, n.id); err != nil {
						return errs.Wrap(errs.Internal, err, "graph")
					}
				}
			}
			if cyc := g.FindCycle(); cyc != nil {
				return &errs.Error{Kind: errs.Cycle, Message: "override_dependencies: " + cyc.Error(), Err: cyc,
					Details: map[string]any{"cycle": cyc.Names, "cycle_ids": cyc.Cycle, "step_id": st.id}}
			}
			if err := r.exec(ctx, "remove edges", `DELETE FROM tasker_workflow_step_edges WHERE to_step_id = $1 AND from_step_id = ANY ($2)`,
				st.id, req.Remove); err != nil {
				return err
			}
			return r.exec(ctx, "add edges", `INSERT INTO tasker_workflow_step_edges (from_step_id, to_step_id, name)
				SELECT p, $1, 'provides' FROM unnest($2::bigint[]) AS p`, st.id, req.Add)
		}})
}
