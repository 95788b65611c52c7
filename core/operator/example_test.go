package operator_test

import (
	"context"
	"fmt"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/operator"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// A step failed for good (its one attempt spent, so the task failed). An
// operator retries it: first as a dry run, which answers exactly what would
// change and writes nothing, then for real — one audited transaction that sends
// the step back to pending with a fresh attempt budget and makes the task
// runnable again.
func ExampleService_RetryStep() {
	pool, drop := testdb.Example()
	defer drop()
	ctx := context.Background()
	s := store.New(pool, backoff.Default())
	one := int32(1)
	task, err := s.CreateTask(ctx, store.TaskSpec{Name: "invoice", Steps: []store.StepSpec{
		{Name: "render", RetryLimit: &one}, {Name: "send", DependsOn: []string{"render"}},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	claimed, _ := s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "w1", TaskID: task.TaskID, Limit: 1, LeaseSeconds: 30})
	res, _ := s.ReportResults(ctx, []store.StepReport{{StepID: claimed[0].StepID, WorkerID: "w1",
		Attempt: claimed[0].Attempts, Error: &store.StepError{Message: "template missing"}}})
	fmt.Println("task after the failure:", res.Tasks[0].Status)

	ops := operator.New(s, operator.Options{})
	req := operator.StepRequest{StepID: task.StepIDs["render"],
		Request: operator.Request{Actor: "alice", Reason: "template deployed", DryRun: true}}
	dry, err := ops.RetryStep(ctx, req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("dry run, action id:", dry.ActionID, "task would go", dry.TaskStateBefore, "->", dry.TaskStateAfter)

	req.DryRun = false
	done, err := ops.RetryStep(ctx, req)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range done.Steps {
		fmt.Printf("step %s: %s (attempts %d/%d) -> %s (attempts %d/%d)\n", c.Name,
			c.Before.State, c.Before.Attempts, c.Before.RetryLimit, c.After.State, c.After.Attempts, c.After.RetryLimit)
	}
	for _, tr := range done.Transitions {
		fmt.Printf("%s %s: %s -> %s (%s)\n", tr.Kind, tr.Name, tr.From, tr.To, tr.Event)
	}
	ready, _ := s.ReadySteps(ctx, task.TaskID, nil)
	fmt.Println("render ready again:", len(ready) == 1 && ready[0].Name == "render")

	// The audit trail keeps who did what and why.
	actions, _ := ops.OperatorActions(ctx, operator.ActionsRequest{TaskID: task.TaskID})
	fmt.Println("audit:", len(actions), actions[0].Operation, actions[0].Actor, actions[0].Reason)

	// Retrying a step that has not failed is refused and changes nothing.
	_, err = ops.RetryStep(ctx, req)
	fmt.Println("again:", errs.KindOf(err))
	// Output:
	// task after the failure: error
	// dry run, action id: 0 task would go error -> pending
	// step render: error (attempts 1/1) -> pending (attempts 0/1)
	// step render: error -> pending (step.retry_requested)
	// task : error -> pending (task.retry_requested)
	// render ready again: true
	// audit: 1 retry_step alice template deployed
	// again: state_transition_error
}
