package readiness

import (
	"math"
	"sort"
	"time"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/state"
)

// Reason codes, the same strings the SQL function returns.
const (
	Ready             = "ready"
	WrongState        = "wrong_state"
	TaskTerminal      = "task_terminal"
	AlreadyProcessed  = "already_processed"
	Claimed           = "claimed"
	DependenciesUnmet = "dependencies_unmet"
	NotRetryable      = "not_retryable"
	RetriesExhausted  = "retries_exhausted"
	Backoff           = "backoff"
)

// DefaultRetryLimit applies when a step's retry_limit is NULL (REFERENCE §3).
const DefaultRetryLimit = 3

// Step is what the rule needs to know about one step. Nil pointers are SQL NULLs.
type Step struct {
	ID                    int64
	Name                  string
	State                 state.State
	Parents               []int64
	Attempts              *int32
	RetryLimit            *int32
	Retryable             *bool
	InProcess             bool
	Processed             bool
	BackoffRequestSeconds *int32
	LastAttemptedAt       *time.Time
	LastFailureAt         *time.Time
	// TaskState is the state of the step's task: nothing of a complete,
	// cancelled or resolved_manually task runs ("" counts as pending).
	TaskState state.State
}

// Result is the verdict for one step.
type Result struct {
	StepID                int64
	Ready                 bool
	Reason                string
	DependenciesSatisfied bool
	RetryEligible         bool
	TotalParents          int
	CompletedParents      int
	UnmetParents          []string // names, sorted
	NextRetryAt           *time.Time
	SecondsRemaining      float64 // for Backoff
}

// Evaluate applies the rule to every step of a task at time now. Parents must be
// among steps.
func Evaluate(steps []Step, policy backoff.Policy, now time.Time) []Result {
	byID := make(map[int64]*Step, len(steps))
	for i := range steps {
		byID[steps[i].ID] = &steps[i]
	}
	out := make([]Result, 0, len(steps))
	for i := range steps {
		out = append(out, evaluate(&steps[i], byID, policy, now))
	}
	return out
}

func evaluate(s *Step, byID map[int64]*Step, policy backoff.Policy, now time.Time) Result {
	r := Result{StepID: s.ID, TotalParents: len(s.Parents)}
	for _, p := range s.Parents {
		ps := byID[p]
		if ps != nil && ps.State.Satisfies() {
			r.CompletedParents++
		} else if ps != nil {
			r.UnmetParents = append(r.UnmetParents, ps.Name)
		}
	}
	sort.Strings(r.UnmetParents)
	r.DependenciesSatisfied = r.CompletedParents == r.TotalParents

	attempts := int32(0)
	if s.Attempts != nil {
		attempts = *s.Attempts
	}
	limit := int32(DefaultRetryLimit)
	if s.RetryLimit != nil {
		limit = *s.RetryLimit
	}
	retryable := s.Retryable == nil || *s.Retryable
	// A first attempt is always allowed: never attempted and never failed.
	r.RetryEligible = (attempts == 0 && s.LastFailureAt == nil) || (retryable && attempts < limit)

	runnable := (s.State == state.Pending || s.State == state.Error) && !s.TaskState.Terminal()
	if runnable && r.RetryEligible {
		if at, ok := policy.NextRetryAt(s.ID, int(attempts), s.LastFailureAt, s.LastAttemptedAt, intPtr(s.BackoffRequestSeconds)); ok {
			r.NextRetryAt = &at
		}
	}

	switch {
	case s.State != state.Pending && s.State != state.Error:
		r.Reason = WrongState
	case s.TaskState.Terminal():
		r.Reason = TaskTerminal
	case s.Processed:
		r.Reason = AlreadyProcessed
	case s.InProcess:
		r.Reason = Claimed
	case !r.DependenciesSatisfied:
		r.Reason = DependenciesUnmet
	case !r.RetryEligible && !retryable:
		r.Reason = NotRetryable
	case !r.RetryEligible:
		r.Reason = RetriesExhausted
	case r.NextRetryAt != nil && r.NextRetryAt.After(now):
		r.Reason = Backoff
		r.SecondsRemaining = math.Round(r.NextRetryAt.Sub(now).Seconds()*1000) / 1000
	default:
		r.Reason = Ready
		r.Ready = true
	}
	return r
}

func intPtr(v *int32) *int {
	if v == nil {
		return nil
	}
	i := int(*v)
	return &i
}
