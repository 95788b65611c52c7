package state

import (
	"fmt"
	"slices"
)

// State is the lifecycle state of a task or a workflow step. Tasks and steps use the
// same words.
type State string

// The states shared by tasks and steps. A task or step with no transition row is Pending.
const (
	Pending          State = "pending"
	InProgress       State = "in_progress"
	Complete         State = "complete"
	Error            State = "error"
	Cancelled        State = "cancelled"
	ResolvedManually State = "resolved_manually"
)

// All lists every state in a stable order.
var All = []State{Pending, InProgress, Complete, Error, Cancelled, ResolvedManually}

// Valid reports whether s is one of the six states.
func (s State) Valid() bool { return slices.Contains(All, s) }

// Parse converts a string into a State, refusing unknown words.
func Parse(s string) (State, error) {
	st := State(s)
	if !st.Valid() {
		return "", fmt.Errorf("unknown state %q (want one of %v)", s, All)
	}
	return st, nil
}

// Satisfies reports whether a parent in state s lets its children run: complete or
// resolved_manually.
func (s State) Satisfies() bool { return s == Complete || s == ResolvedManually }

// Terminal reports whether no further work happens in state s without an operator.
func (s State) Terminal() bool {
	return s == Complete || s == Cancelled || s == ResolvedManually
}

// Machine is one of the two state machines.
type Machine struct {
	kind  string
	legal map[State][]State
	// operator holds the transitions only operator actions (core/operator) may
	// make, on top of legal.
	operator map[State][]State
}

// Task is the task state machine (REFERENCE §2), with tasker-engine's operator
// transition error→cancelled (any state may be cancelled).
var Task = Machine{kind: "task", legal: map[State][]State{
	Pending:          {InProgress, Cancelled, Error},
	InProgress:       {Complete, Error, Cancelled, Pending},
	Error:            {Pending, ResolvedManually, Cancelled},
	Complete:         {Cancelled},
	ResolvedManually: {Cancelled},
}}

// Step is the workflow-step state machine (REFERENCE §2). error→pending is the
// explicit, audited retry path; error→cancelled is tasker-engine's operator
// transition (every unfinished step may be cancelled). Operator actions may also
// rewind a finished step to pending (reset_step), which no other writer may do.
var Step = Machine{kind: "step", legal: map[State][]State{
	Pending:    {InProgress, Error, Cancelled, ResolvedManually},
	InProgress: {Complete, Error, Cancelled},
	Error:      {Pending, ResolvedManually, Cancelled},
}, operator: map[State][]State{
	Complete:         {Pending},
	ResolvedManually: {Pending},
	Cancelled:        {Pending},
}}

// Kind is "task" or "step".
func (m Machine) Kind() string { return m.kind }

// Targets returns the states reachable from `from` in one transition.
func (m Machine) Targets(from State) []State { return slices.Clone(m.legal[from]) }

// Can reports whether from→to is a legal transition. A transition to the state a
// row is already in is never legal.
func (m Machine) Can(from, to State) bool {
	return from != to && slices.Contains(m.legal[from], to)
}

// CanOperator reports whether an operator action may make from→to: a legal
// transition or one of the machine's operator-only transitions.
func (m Machine) CanOperator(from, to State) bool {
	return m.Can(from, to) || (from != to && slices.Contains(m.operator[from], to))
}

// OperatorPairs lists the operator-only (from, to) pairs.
func (m Machine) OperatorPairs() [][2]State {
	var out [][2]State
	for _, from := range All {
		for _, to := range m.operator[from] {
			out = append(out, [2]State{from, to})
		}
	}
	return out
}

// Check returns nil when from→to is legal and an *IllegalTransitionError otherwise.
func (m Machine) Check(from, to State) error {
	return m.check(from, to, false)
}

// CheckOperator is Check for an operator action: operator-only transitions pass.
func (m Machine) CheckOperator(from, to State) error {
	return m.check(from, to, true)
}

func (m Machine) check(from, to State, operator bool) error {
	if !to.Valid() {
		return &IllegalTransitionError{Kind: m.kind, From: from, To: to, Reason: "unknown target state"}
	}
	if !m.Can(from, to) && !(operator && m.CanOperator(from, to)) {
		reason := "not a legal transition"
		if from == to {
			reason = "already in that state"
		}
		return &IllegalTransitionError{Kind: m.kind, From: from, To: to, Reason: reason}
	}
	return nil
}

// Pairs lists every legal (from, to) pair, for tests and documentation.
func (m Machine) Pairs() [][2]State {
	var out [][2]State
	for _, from := range All {
		for _, to := range m.legal[from] {
			out = append(out, [2]State{from, to})
		}
	}
	return out
}

// IllegalTransitionError reports a transition the state machine does not allow.
type IllegalTransitionError struct {
	Kind   string // "task" or "step"
	From   State
	To     State
	Reason string
}

func (e *IllegalTransitionError) Error() string {
	return fmt.Sprintf("illegal %s transition %s -> %s: %s", e.Kind, e.From, e.To, e.Reason)
}
