package state

import (
	"fmt"
	"strings"
)

// Rules is the state machines as configured: configuration may forbid legal
// transitions (tighten), never allow illegal ones. The zero value forbids nothing.
type Rules struct {
	forbidden map[string]bool
	operator  bool
}

// ForOperator returns the rules as an operator action applies them: the same
// prohibitions, plus the machines' operator-only transitions (Machine.CheckOperator).
func (r Rules) ForOperator() Rules {
	r.operator = true
	return r
}

// Operator reports whether the rules are an operator action's.
func (r Rules) Operator() bool { return r.operator }

// NewRules parses transitions to forbid, each "task:from->to" or "step:from->to",
// and refuses one that is not a legal transition of its machine.
func NewRules(forbid []string) (Rules, error) {
	r := Rules{forbidden: map[string]bool{}}
	for _, rule := range forbid {
		kind, move, ok := strings.Cut(strings.TrimSpace(rule), ":")
		from, to, ok2 := strings.Cut(move, "->")
		var m Machine
		switch kind {
		case "task":
			m = Task
		case "step":
			m = Step
		default:
			ok = false
		}
		if !ok || !ok2 {
			return Rules{}, fmt.Errorf(`transition rule %q: want "task:from->to" or "step:from->to"`, rule)
		}
		f, t := State(strings.TrimSpace(from)), State(strings.TrimSpace(to))
		if !m.Can(f, t) {
			return Rules{}, fmt.Errorf("transition rule %q: %s -> %s is not a legal %s transition, so there is nothing to forbid", rule, f, t, kind)
		}
		r.forbidden[kind+":"+string(f)+"->"+string(t)] = true
	}
	return r, nil
}

// Check is m.Check plus the configured prohibitions.
func (r Rules) Check(m Machine, from, to State) error {
	if err := m.check(from, to, r.operator); err != nil {
		return err
	}
	if r.forbidden[m.kind+":"+string(from)+"->"+string(to)] {
		return &IllegalTransitionError{Kind: m.kind, From: from, To: to, Reason: "forbidden by configuration (state_transitions.forbid)"}
	}
	return nil
}
