// Package demo walks an order-fulfilment workflow through Tasker Core's store by
// hand — create the DAG, ask what is ready, move steps through their states (with
// one flaky step that fails, backs off and is retried), and show the execution
// context and dependency analysis at every stage. `make demo` runs it. Once the
// orchestration exists, the demo runs real Ruby handlers instead.
package demo

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/dag"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/pgurl"
	"github.com/taskercore/tasker-core/migrations"
)

// Database is the database the demo uses next to DATABASE_URL's.
const Database = "tasker_core_demo"

// Policy is the demo's retry policy: short, so the flaky step's backoff is over
// in a moment (production defaults are in core/backoff).
var Policy = backoff.Policy{Strategy: backoff.Exponential, BaseSeconds: 0.25, Multiplier: 2, CapSeconds: 5}

// Steps is the order workflow: validate_cart → (process_payment ∥ reserve_inventory)
// → create_order → send_confirmation.
var Steps = []store.StepSpec{
	{Name: "validate_cart"},
	{Name: "process_payment", DependsOn: []string{"validate_cart"}, DependentSystem: "payments"},
	{Name: "reserve_inventory", DependsOn: []string{"validate_cart"}, DependentSystem: "inventory"},
	{Name: "create_order", DependsOn: []string{"process_payment", "reserve_inventory"}},
	{Name: "send_confirmation", DependsOn: []string{"create_order"}, DependentSystem: "email"},
}

// Flaky is the step that fails on its first attempt.
const Flaky = "process_payment"

// Summary is what a run did, for the caller (and the test) to check.
type Summary struct {
	TaskID     int64
	Stages     int
	Attempts   map[string]int
	Final      string // the task's final state
	Transition int    // audit rows written for steps
}

// Run connects (adminURL is DATABASE_URL), migrates the demo database and walks
// the workflow, writing a narrative to w.
func Run(ctx context.Context, adminURL string, w io.Writer) (Summary, error) {
	url, err := pgurl.EnsureDatabase(ctx, adminURL, Database)
	if err != nil {
		return Summary{}, err
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return Summary{}, err
	}
	defer pool.Close()
	res, err := migrations.Migrate(ctx, pool)
	if err != nil {
		return Summary{}, err
	}
	s := store.New(pool, Policy)
	if err := s.SyncRetryPolicy(ctx); err != nil {
		return Summary{}, err
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	p("Tasker Core demo: order fulfilment as a DAG of %d steps", len(Steps))
	p("database %s (schema version %d)", pgurl.Mask(url), res.SchemaVersion)
	ct, err := s.CreateTask(ctx, store.TaskSpec{Name: "order_fulfillment", Namespace: "demo", Version: "1.0.0",
		Context: []byte(`{"order_id": 1001, "customer": "Zoë", "total_cents": 4599}`), Initiator: "make demo",
		Steps: Steps})
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{TaskID: ct.TaskID, Attempts: map[string]int{}}
	names := map[int64]string{}
	for n, id := range ct.StepIDs {
		names[id] = n
	}
	p("created task %d, correlation id %s", ct.TaskID, ct.CorrelationID)

	an, err := s.AnalyzeDependencies(ctx, ct.TaskID)
	if err != nil {
		return Summary{}, err
	}
	p("\nDAG by level:")
	for lvl, ids := range an.Levels {
		p("  L%d  %s", lvl, strings.Join(lookup(names, ids), " ∥ "))
	}
	p("analysis: depth %d, parallel branches %d, parallelization factor %.2f", an.MaxDepth, an.ParallelBranches, an.ParallelizationFactor)
	p("  critical path: %s", strings.Join(an.CriticalPathNames, " → "))
	p("  bottlenecks:   %s", strings.Join(an.BottleneckNames, ", "))
	sqlLevels, err := s.DependencyLevels(ctx, ct.TaskID)
	if err != nil {
		return Summary{}, err
	}
	p("  SQL calculate_dependency_levels agrees with Go: %v", equalLevels(sqlLevels, an))

	if _, err := s.TransitionTask(ctx, store.TaskTransition{TaskID: ct.TaskID, To: state.InProgress}); err != nil {
		return Summary{}, err
	}
	failed := false
	for {
		ec, err := s.ExecutionContext(ctx, ct.TaskID, nil)
		if err != nil {
			return Summary{}, err
		}
		sum.Stages++
		p("\n[stage %d] %s → %s · %d/%d complete (%.2f%%) · health %s",
			sum.Stages, ec.ExecutionStatus, ec.RecommendedAction, ec.CompletedSteps, ec.TotalSteps, ec.CompletionPercentage, ec.HealthStatus)
		rows, err := s.StepReadiness(ctx, ct.TaskID, nil, nil)
		if err != nil {
			return Summary{}, err
		}
		var ready []int64
		for _, r := range rows {
			mark := "·"
			if r.ReadyForExecution {
				mark = "▶"
				ready = append(ready, r.WorkflowStepID)
			}
			why := r.Reason + " " + detail(r.ReasonDetail)
			if state.State(r.CurrentState).Terminal() {
				why = ""
			}
			p("  %s %-18s %-12s %s", mark, r.Name, r.CurrentState, why)
		}
		switch ec.ExecutionStatus {
		case "all_complete":
			if _, err := s.TransitionTask(ctx, store.TaskTransition{TaskID: ct.TaskID, To: state.Complete}); err != nil {
				return Summary{}, err
			}
			sum.Final = string(state.Complete)
			p("\ntask %d complete after %d stages; attempts: %v", ct.TaskID, sum.Stages, sum.Attempts)
			for _, id := range ct.StepIDs {
				trail, err := s.StepTransitions(ctx, id)
				if err != nil {
					return Summary{}, err
				}
				sum.Transition += len(trail)
			}
			p("audit trail: %d step transitions recorded", sum.Transition)
			return sum, nil
		case "waiting_for_dependencies":
			if ec.NextRetryAt == nil {
				return sum, fmt.Errorf("stuck: waiting with no retry time")
			}
			wait := time.Until(*ec.NextRetryAt)
			p("  … nothing to do until the backoff ends in %s", wait.Round(time.Millisecond))
			time.Sleep(wait + 10*time.Millisecond)
			continue
		case "blocked_by_failures":
			return sum, fmt.Errorf("task blocked by failures")
		}
		for _, id := range ready {
			name := names[id]
			cur := state.Pending
			for _, r := range rows {
				if r.WorkflowStepID == id {
					cur = state.State(r.CurrentState)
				}
			}
			if cur == state.Error {
				if _, err := s.TransitionStep(ctx, store.StepTransition{StepID: id, To: state.Pending,
					Metadata: map[string]any{"reason": "backoff elapsed"}}); err != nil {
					return sum, err
				}
				p("  ↻ %s error → pending (retry)", name)
			}
			if _, err := s.TransitionStep(ctx, store.StepTransition{StepID: id, To: state.InProgress}); err != nil {
				return sum, err
			}
			sum.Attempts[name]++
			if name == Flaky && !failed {
				failed = true
				if _, err := s.TransitionStep(ctx, store.StepTransition{StepID: id, To: state.Error,
					Results: []byte(`{"error": "card processor timed out"}`)}); err != nil {
					return sum, err
				}
				p("  ✗ %s pending → in_progress → error (card processor timed out)", name)
				continue
			}
			if _, err := s.TransitionStep(ctx, store.StepTransition{StepID: id, To: state.Complete,
				Results: []byte(fmt.Sprintf(`{"done_by": "demo", "step": %q}`, name))}); err != nil {
				return sum, err
			}
			p("  ✓ %s pending → in_progress → complete", name)
		}
	}
}

func lookup(names map[int64]string, ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = names[id]
	}
	return out
}

func equalLevels(sql map[int64]int, an dag.Analysis) bool {
	if len(sql) != len(an.DependencyLevels) {
		return false
	}
	for id, l := range an.DependencyLevels {
		if sql[id] != l {
			return false
		}
	}
	return true
}

func detail(d map[string]any) string {
	if len(d) == 0 {
		return ""
	}
	parts := []string{}
	for _, k := range []string{"unmet", "seconds_remaining", "source"} {
		if v, ok := d[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	return strings.Join(parts, " ")
}
