package store_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// These examples run against a real database in every `go test` (testdb.Example
// gives each a fresh migrated schema, so ids start at 1 and the output is fixed).

// A task is a DAG of steps. Creating it writes the task, its steps and edges and
// their initial transitions in one transaction; walking it moves each step
// through the state machine with compare-and-swap, and the last step's completion
// lets the task complete.
func ExampleStore_CreateTask() {
	pool, drop := testdb.Example()
	defer drop()
	ctx := context.Background()
	s := store.New(pool, backoff.Default())

	task, err := s.CreateTask(ctx, store.TaskSpec{
		Name: "order_fulfillment", Namespace: "shop", Version: "1.0.0",
		Context: []byte(`{"order_id": 42}`),
		Steps: []store.StepSpec{
			{Name: "validate"},
			{Name: "charge", DependsOn: []string{"validate"}},
			{Name: "reserve", DependsOn: []string{"validate"}},
			{Name: "ship", DependsOn: []string{"charge", "reserve"}},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("task", task.TaskID, "created:", task.Created, "steps:", len(task.StepIDs))

	// Walk the steps in dependency order; what is ready is what may run next.
	for round := 1; ; round++ {
		rows, err := s.ReadySteps(ctx, task.TaskID, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		var names []string
		for _, r := range rows {
			names = append(names, r.Name)
			for _, to := range []state.State{state.InProgress, state.Complete} {
				if _, err := s.TransitionStep(ctx, store.StepTransition{StepID: r.WorkflowStepID, To: to}); err != nil {
					fmt.Println(err)
					return
				}
			}
		}
		if len(names) == 0 {
			break
		}
		fmt.Printf("round %d ran: %s\n", round, strings.Join(names, ", "))
	}

	// The task moves through its own machine; →complete is guarded by its steps.
	for _, to := range []state.State{state.InProgress, state.Complete} {
		if _, err := s.TransitionTask(ctx, store.TaskTransition{TaskID: task.TaskID, To: to}); err != nil {
			fmt.Println(err)
			return
		}
	}
	trail, _ := s.TaskTransitions(ctx, task.TaskID)
	for _, tr := range trail {
		fmt.Printf("task %s -> %s (%s)\n", tr.From, tr.To, tr.Event)
	}
	// Output:
	// task 1 created: true steps: 4
	// round 1 ran: validate
	// round 2 ran: charge, reserve
	// round 3 ran: ship
	// task  -> pending (task.initialize_requested)
	// task pending -> in_progress (task.start_requested)
	// task in_progress -> complete (task.completed)
}

// Every step that is not ready says why: the readiness rows carry a reason and
// its detail (unmet parents by name, the backoff's remaining time and source,
// the attempts against the limit). This is the first thing to read when a
// workflow seems stuck (docs/troubleshooting.md).
func ExampleStore_StepReadiness() {
	pool, drop := testdb.Example()
	defer drop()
	ctx := context.Background()
	s := store.New(pool, backoff.Default())
	limit := int32(1)
	task, err := s.CreateTask(ctx, store.TaskSpec{Name: "reasons", Steps: []store.StepSpec{
		{Name: "fetch"},
		{Name: "transform", DependsOn: []string{"fetch"}},
		{Name: "flaky"},
		{Name: "once", RetryLimit: &limit},
		{Name: "running"},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	id := task.StepIDs
	wait := int32(600)
	for _, tr := range []store.StepTransition{
		{StepID: id["flaky"], To: state.InProgress},
		{StepID: id["flaky"], To: state.Error, BackoffRequestSeconds: &wait}, // the handler asked for 10 minutes
		{StepID: id["once"], To: state.InProgress},
		{StepID: id["once"], To: state.Error}, // its one attempt is spent
		{StepID: id["running"], To: state.InProgress},
	} {
		if _, err := s.TransitionStep(ctx, tr); err != nil {
			fmt.Println(err)
			return
		}
	}

	rows, err := s.StepReadiness(ctx, task.TaskID, nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rows {
		fmt.Printf("%-9s %-11s ready=%-5v %s", r.Name, r.CurrentState, r.ReadyForExecution, r.Reason)
		switch r.Reason {
		case "dependencies_unmet":
			fmt.Print(" unmet=", r.ReasonDetail["unmet"])
		case "backoff":
			fmt.Print(" source=", r.ReasonDetail["source"], " next_retry_at set=", r.NextRetryAt != nil)
		case "retries_exhausted":
			fmt.Print(" attempts=", r.ReasonDetail["attempts"], " retry_limit=", r.ReasonDetail["retry_limit"])
		case "wrong_state":
			fmt.Print(" state=", r.ReasonDetail["state"])
		}
		fmt.Println()
	}
	// Output:
	// fetch     pending     ready=true  ready
	// transform pending     ready=false dependencies_unmet unmet=[fetch]
	// flaky     error       ready=false backoff source=requested next_retry_at set=true
	// once      error       ready=false retries_exhausted attempts=1 retry_limit=1
	// running   in_progress ready=false wrong_state state=in_progress
}

// The execution context sums a task up: counts per state, what the
// orchestration should do next, and the task's health.
func ExampleStore_ExecutionContext() {
	pool, drop := testdb.Example()
	defer drop()
	ctx := context.Background()
	s := store.New(pool, backoff.Default())
	task, err := s.CreateTask(ctx, store.TaskSpec{Name: "context", Steps: []store.StepSpec{
		{Name: "a"}, {Name: "b", DependsOn: []string{"a"}}, {Name: "c", DependsOn: []string{"a"}},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	show := func(when string) {
		ec, err := s.ExecutionContext(ctx, task.TaskID, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %d/%d complete (%.2f%%), %d ready, status=%s action=%s health=%s\n", when,
			ec.CompletedSteps, ec.TotalSteps, ec.CompletionPercentage, ec.ReadySteps,
			ec.ExecutionStatus, ec.RecommendedAction, ec.HealthStatus)
	}
	show("new")
	_, _ = s.TransitionStep(ctx, store.StepTransition{StepID: task.StepIDs["a"], To: state.InProgress})
	show("a running")
	_, _ = s.TransitionStep(ctx, store.StepTransition{StepID: task.StepIDs["a"], To: state.Complete})
	_, _ = s.TransitionStep(ctx, store.StepTransition{StepID: task.StepIDs["b"], To: state.InProgress})
	_, _ = s.TransitionStep(ctx, store.StepTransition{StepID: task.StepIDs["b"], To: state.Error, Permanent: true})
	show("b failed for good")
	// Output:
	// new: 0/3 complete (0.00%), 1 ready, status=has_ready_steps action=execute_ready_steps health=healthy
	// a running: 0/3 complete (0.00%), 0 ready, status=processing action=wait_for_completion health=healthy
	// b failed for good: 1/3 complete (33.33%), 1 ready, status=has_ready_steps action=execute_ready_steps health=recovering
}

// AnalyzeDependencies reads a task's graph and analyses it in Go (core/dag):
// levels, the critical path and the steps everything waits on.
func ExampleStore_AnalyzeDependencies() {
	pool, drop := testdb.Example()
	defer drop()
	ctx := context.Background()
	s := store.New(pool, backoff.Default())
	task, err := s.CreateTask(ctx, store.TaskSpec{Name: "pipeline", Steps: []store.StepSpec{
		{Name: "extract_orders"}, {Name: "extract_users"},
		{Name: "join", DependsOn: []string{"extract_orders", "extract_users"}},
		{Name: "report", DependsOn: []string{"join"}},
		{Name: "archive", DependsOn: []string{"extract_orders"}},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	a, err := s.AnalyzeDependencies(ctx, task.TaskID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("steps:", a.TotalSteps, "edges:", a.TotalEdges, "depth:", a.MaxDepth, "cycles:", a.HasCycles)
	fmt.Println("levels:", a.Levels)
	fmt.Println("critical path:", strings.Join(a.CriticalPathNames, " -> "))
	// archive runs beside join and report, so no single step holds all work back.
	fmt.Println("bottlenecks:", a.BottleneckNames)
	// Output:
	// steps: 5 edges: 4 depth: 3 cycles: false
	// levels: [[1 2] [3 5] [4]]
	// critical path: extract_orders -> join -> report
	// bottlenecks: []
}
