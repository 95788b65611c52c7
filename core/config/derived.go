package config

import (
	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
)

// RetryPolicy is the retry.* group as a backoff.Policy.
func (c *Config) RetryPolicy() backoff.Policy {
	return backoff.Policy{
		Strategy:    backoff.Strategy(c.String("retry.strategy")),
		BaseSeconds: c.Float("retry.base_seconds"),
		Multiplier:  c.Float("retry.multiplier"),
		CapSeconds:  c.Float("retry.cap_seconds"),
		Jitter:      c.Float("retry.jitter"),
	}
}

// ForbiddenTransitions is state_transitions.forbid as state.Rules.
func (c *Config) ForbiddenTransitions() (state.Rules, error) {
	r, err := state.NewRules(c.Strings("state_transitions.forbid"))
	if err != nil {
		return state.Rules{}, errs.New(errs.Configuration, map[string]any{"key": "state_transitions.forbid"},
			"configuration %s: state_transitions.forbid: %v", c.origin("state_transitions.forbid"), err)
	}
	return r, nil
}

// PriorityFor returns the priority of a new task in namespace ns.
func (c *Config) PriorityFor(ns string) int64 {
	if p, ok := c.IntMap("queues.namespace_priorities")[ns]; ok {
		return p
	}
	return c.Int("queues.default_priority")
}
