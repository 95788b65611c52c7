package state

// Event names are a compatibility contract with tasker-engine (REFERENCE §7).
const (
	TaskInitializeRequested = "task.initialize_requested"
	TaskStartRequested      = "task.start_requested"
	TaskCompleted           = "task.completed"
	TaskFailed              = "task.failed"
	TaskRetryRequested      = "task.retry_requested"
	TaskCancelled           = "task.cancelled"
	TaskResolvedManually    = "task.resolved_manually"
	TaskBeforeTransition    = "task.before_transition"

	StepInitializeRequested = "step.initialize_requested"
	StepExecutionRequested  = "step.execution_requested"
	StepBeforeHandle        = "step.before_handle"
	StepHandle              = "step.handle"
	StepCompleted           = "step.completed"
	StepFailed              = "step.failed"
	StepRetryRequested      = "step.retry_requested"
	StepCancelled           = "step.cancelled"
	StepResolvedManually    = "step.resolved_manually"
	StepBeforeTransition    = "step.before_transition"
)

// EventFor returns the lifecycle event a transition publishes, or "" when the
// transition has no dedicated event (in_progress→pending for tasks, say). from is ""
// for the initial transition into pending.
func (m Machine) EventFor(from, to State) string {
	task := m.kind == "task"
	pick := func(t, s string) string {
		if task {
			return t
		}
		return s
	}
	switch {
	case from == "" && to == Pending:
		return pick(TaskInitializeRequested, StepInitializeRequested)
	case from == Pending && to == InProgress:
		return pick(TaskStartRequested, StepExecutionRequested)
	case to == Complete:
		return pick(TaskCompleted, StepCompleted)
	case to == Error:
		return pick(TaskFailed, StepFailed)
	case from == Error && to == Pending:
		return pick(TaskRetryRequested, StepRetryRequested)
	case to == Cancelled:
		return pick(TaskCancelled, StepCancelled)
	case to == ResolvedManually:
		return pick(TaskResolvedManually, StepResolvedManually)
	}
	return ""
}
