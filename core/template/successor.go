package template

import (
	"math"

	"go.yaml.in/yaml/v3"
)

// Keys of the successor format, in the order suggestions prefer them.
var (
	successorKeys = []string{
		"name", "namespace_name", "version", "description", "input_schema", "steps", "environments",
		"task_handler", "task_handler_class", "module_namespace", "system_dependencies", "domain_events", "metadata",
	}
	successorHints = map[string]string{
		"schema": "input_schema", "namespace": "namespace_name", "custom_events": "domain_events",
		"default_dependent_system": "system_dependencies.primary", "named_steps": "steps",
	}
	successorStepKeys = []string{
		"name", "description", "handler", "dependencies", "retry", "timeout_seconds",
		"system_dependency", "publishes_events",
	}
	successorStepHints = map[string]string{
		"depends_on_steps": "dependencies", "depends_on_step": "dependencies", "depends_on": "dependencies",
		"handler_class": "handler.callable", "callable": "handler.callable",
		"handler_config": "handler.initialization", "initialization": "handler.initialization",
		"default_retry_limit": "retry.max_attempts", "max_attempts": "retry.max_attempts",
		"default_retryable": "retry.retryable", "retryable": "retry.retryable",
		"backoff": "retry.backoff", "dependent_system": "system_dependency",
		"custom_events": "publishes_events", "timeout": "timeout_seconds",
	}
	handlerKeys  = []string{"callable", "initialization"}
	handlerHints = map[string]string{
		"handler_class": "callable", "class": "callable", "handler_config": "initialization", "config": "initialization",
	}
	retryKeys  = []string{"retryable", "max_attempts", "backoff", "backoff_base_ms", "max_backoff_ms"}
	retryHints = map[string]string{
		"retry_limit": "max_attempts", "limit": "max_attempts", "max_retries": "max_attempts",
		"default_retry_limit": "max_attempts", "strategy": "backoff",
	}
	systemDependencyKeys   = []string{"primary", "secondary"}
	successorEnvKeys       = []string{"steps", "task_handler"}
	successorEnvHints      = map[string]string{"step_templates": "steps"}
	successorOverrideKeys  = []string{"name", "handler", "retry", "timeout_seconds"}
	successorOverrideHints = map[string]string{
		"handler_config": "handler.initialization", "initialization": "handler.initialization",
		"max_attempts": "retry.max_attempts", "timeout": "timeout_seconds",
	}
	overrideHandlerKeys = []string{"initialization"}
	domainEventKeys     = []string{"name", "description", "condition", "schema", "delivery_mode", "publisher"}
)

// successor decodes a template in the successor format.
func (d *decoder) successor(top *mapping) (*Template, []stepSrc, []override, error) {
	if err := top.check(successorKeys, successorHints); err != nil {
		return nil, nil, nil, err
	}
	t := &Template{Format: FormatSuccessor, File: d.file}
	var err error
	for _, f := range []struct {
		key      string
		dst      *string
		required bool
	}{
		{"name", &t.Name, true},
		{"namespace_name", &t.Namespace, false},
		{"version", &t.Version, false},
		{"description", &t.Description, false},
		{"task_handler_class", &t.TaskHandlerClass, false},
		{"module_namespace", &t.ModuleNamespace, false},
	} {
		if *f.dst, err = top.str(f.key, f.required); err != nil {
			return nil, nil, nil, err
		}
	}
	th, err := top.sub("task_handler", handlerKeys, handlerHints)
	if err != nil {
		return nil, nil, nil, err
	}
	if th != nil {
		callable, err := th.str("callable", true)
		if err != nil {
			return nil, nil, nil, err
		}
		if _, err := th.object("initialization"); err != nil {
			return nil, nil, nil, err
		}
		if t.TaskHandlerClass != "" && t.TaskHandlerClass != callable {
			return nil, nil, nil, d.invalid(th.at("callable"), probConflict,
				"task_handler.callable %q contradicts task_handler_class %q", callable, t.TaskHandlerClass)
		}
		t.TaskHandlerClass = callable
	}
	sd, err := top.sub("system_dependencies", systemDependencyKeys, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	if sd != nil {
		if t.DefaultDependentSystem, err = sd.str("primary", false); err != nil {
			return nil, nil, nil, err
		}
		if _, _, err := sd.strList("secondary"); err != nil {
			return nil, nil, nil, err
		}
	}
	if t.Schema, err = d.schema(top, "input_schema"); err != nil {
		return nil, nil, nil, err
	}
	if t.CustomEvents, err = d.events(top, "domain_events", domainEventKeys); err != nil {
		return nil, nil, nil, err
	}

	items, err := top.list("steps")
	if err != nil {
		return nil, nil, nil, err
	}
	if len(items) == 0 {
		return nil, nil, nil, d.invalid(top.at("steps"), probNoSteps, "steps is empty: a template needs at least one step")
	}
	srcs := make([]stepSrc, 0, len(items))
	for i, it := range items {
		s, src, err := d.successorStep(it, index("steps", i))
		if err != nil {
			return nil, nil, nil, err
		}
		t.Steps = append(t.Steps, s)
		srcs = append(srcs, src)
	}

	var ovs []override
	err = d.envs(top, successorEnvKeys, successorEnvHints, func(env string, em *mapping) error {
		if th, err := em.sub("task_handler", handlerKeys, handlerHints); err != nil {
			return err
		} else if th != nil {
			if _, err := th.str("callable", false); err != nil {
				return err
			}
			if _, err := th.object("initialization"); err != nil {
				return err
			}
		}
		items, err := em.list("steps")
		if err != nil {
			return err
		}
		for i, it := range items {
			om, err := d.item(it, index(child(em.path, "steps"), i), "", successorOverrideKeys, successorOverrideHints)
			if err != nil {
				return err
			}
			ov := override{env: env}
			if ov.step, err = om.str("name", true); err != nil {
				return err
			}
			ov.w = om.at("name")
			ov.w.step, ov.w.key, ov.w.path = ov.step, "", om.path
			h, err := om.sub("handler", overrideHandlerKeys, nil)
			if err != nil {
				return err
			}
			if h != nil {
				if ov.handlerConfig, err = h.object("initialization"); err != nil {
					return err
				}
			}
			if ov.retry, err = d.retry(om); err != nil {
				return err
			}
			if ov.timeout, err = timeout(om); err != nil {
				return err
			}
			ovs = append(ovs, ov)
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return t, srcs, ovs, nil
}

// successorStep decodes one step.
func (d *decoder) successorStep(n *yaml.Node, path string) (Step, stepSrc, error) {
	m, err := d.item(n, path, "", successorStepKeys, successorStepHints)
	if err != nil {
		return Step{}, stepSrc{}, err
	}
	src := srcOf(m)
	s := Step{Retryable: true, RetryLimit: DefaultRetryLimit}
	if s.Name, err = m.str("name", true); err != nil {
		return Step{}, stepSrc{}, err
	}
	if s.Description, err = m.str("description", false); err != nil {
		return Step{}, stepSrc{}, err
	}
	if s.DependentSystem, err = m.str("system_dependency", false); err != nil {
		return Step{}, stepSrc{}, err
	}
	h, err := m.sub("handler", handlerKeys, handlerHints)
	if err != nil {
		return Step{}, stepSrc{}, err
	}
	if h == nil {
		return Step{}, stepSrc{}, m.missing("handler")
	}
	if s.HandlerClass, err = h.str("callable", true); err != nil {
		return Step{}, stepSrc{}, err
	}
	if s.HandlerConfig, err = h.object("initialization"); err != nil {
		return Step{}, stepSrc{}, err
	}
	deps, nodes, err := m.strList("dependencies")
	if err != nil {
		return Step{}, stepSrc{}, err
	}
	addDeps(&s, &src, deps, nodes)
	r, err := d.retry(m)
	if err != nil {
		return Step{}, stepSrc{}, err
	}
	r.apply(&s)
	to, err := timeout(m)
	if err != nil {
		return Step{}, stepSrc{}, err
	}
	if to != nil {
		s.TimeoutSeconds = *to
	}
	if s.CustomEvents, err = d.events(m, "publishes_events", domainEventKeys); err != nil {
		return Step{}, stepSrc{}, err
	}
	return s, src, nil
}

// retry decodes the retry block under m (zero when absent).
func (d *decoder) retry(m *mapping) (retrySpec, error) {
	var r retrySpec
	rm, err := m.sub("retry", retryKeys, retryHints)
	if err != nil || rm == nil {
		return r, err
	}
	if rm.has("retryable") {
		b, err := rm.boolean("retryable", true)
		if err != nil {
			return r, err
		}
		r.retryable = &b
	}
	if r.limit, err = retryLimit(rm, "max_attempts"); err != nil {
		return r, err
	}
	if rm.has("backoff") {
		s, err := rm.str("backoff", true)
		if err != nil {
			return r, err
		}
		r.strategy = &s
	}
	for _, f := range []struct {
		key string
		dst **int64
	}{{"backoff_base_ms", &r.baseMS}, {"max_backoff_ms", &r.maxMS}} {
		v, ok, err := rm.integer(f.key, 0, math.MaxInt64)
		if err != nil {
			return r, err
		}
		if ok {
			*f.dst = &v
		}
	}
	return r, nil
}

// timeout reads timeout_seconds (nil when absent).
func timeout(m *mapping) (*int, error) {
	v, ok, err := m.integer("timeout_seconds", 0, math.MaxInt32)
	if err != nil || !ok {
		return nil, err
	}
	n := int(v)
	return &n, nil
}
