package template

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/dag"
	"github.com/taskercore/tasker-core/core/errs"
)

func TestBrokenTemplates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file    string
		kind    errs.Kind
		message string         // the whole message, after "testdata/broken/<file>:"
		details map[string]any // besides file; compared key by key
	}{
		{
			file:    "typo_key.yaml",
			message: `9: step "reserve_inventory": unknown key "dependson_steps" at step_templates[1].dependson_steps; did you mean depends_on_steps?`,
			details: map[string]any{"line": 9, "step": "reserve_inventory", "key": "dependson_steps", "path": "step_templates[1].dependson_steps",
				"suggestion": "depends_on_steps", "problem": "unknown_key"},
		},
		{
			file:    "wrong_format_key.yaml",
			message: `9: step "load": unknown key "depends_on_steps" at steps[1].depends_on_steps; did you mean dependencies?`,
			details: map[string]any{"line": 9, "step": "load", "key": "depends_on_steps", "suggestion": "dependencies", "problem": "unknown_key"},
		},
		{
			file:    "step_template_typo.yaml",
			message: `3: unknown key "step_template" at step_template; did you mean step_templates?`,
			details: map[string]any{"line": 3, "key": "step_template", "suggestion": "step_templates", "problem": "unknown_key"},
		},
		{
			file:    "unknown_dependency.yaml",
			message: `11: step "aggregate_metrics": depends on unknown step "extract_salse"; did you mean extract_sales?`,
			details: map[string]any{"line": 11, "step": "aggregate_metrics", "dependency": "extract_salse", "suggestion": "extract_sales", "problem": "unknown_dependency"},
		},
		{
			file:    "self_dependency.yaml",
			message: `6: step "extract_sales": depends on itself`,
			details: map[string]any{"line": 6, "step": "extract_sales", "problem": "self_dependency"},
		},
		{
			file:    "cycle.yaml",
			kind:    errs.Cycle,
			message: `6: step "reserve": dependency cycle: reserve -> charge -> ship -> reserve`,
			details: map[string]any{"line": 6, "step": "reserve", "cycle": []string{"reserve", "charge", "ship"}, "problem": "cycle"},
		},
		{
			file:    "duplicate_step.yaml",
			message: `10: step "extract_sales": duplicate step name "extract_sales" (first defined at steps[0], line 3)`,
			details: map[string]any{"line": 10, "step": "extract_sales", "path": "steps[2]", "problem": "duplicate_step"},
		},
		{
			file:    "missing_handler_class.yaml",
			message: `6: step "charge_payment": missing required key "handler_class" at step_templates[1]`,
			details: map[string]any{"line": 6, "step": "charge_payment", "key": "handler_class", "problem": "missing_key"},
		},
		{
			file:    "missing_callable.yaml",
			message: `5: step "extract_sales": missing required key "callable" at steps[0].handler`,
			details: map[string]any{"line": 5, "step": "extract_sales", "key": "callable", "path": "steps[0].handler.callable", "problem": "missing_key"},
		},
		{
			file:    "bad_types.yaml",
			message: `6: step "charge_payment": default_retry_limit must be an integer, got string "three"`,
			details: map[string]any{"line": 6, "step": "charge_payment", "key": "default_retry_limit", "problem": "wrong_type"},
		},
		{
			file:    "bad_bool.yaml",
			message: `6: step "charge_payment": skippable must be a boolean (true or false), got string "sometimes"`,
			details: map[string]any{"line": 6, "step": "charge_payment", "key": "skippable", "problem": "wrong_type"},
		},
		{
			file:    "negative_retry.yaml",
			message: `7: step "extract_sales": max_attempts must be >= 0, got -1`,
			details: map[string]any{"line": 7, "step": "extract_sales", "key": "max_attempts", "path": "steps[0].retry.max_attempts", "problem": "invalid_value"},
		},
		{
			file:    "unknown_override.yaml",
			message: `14: step "ship_ordr": environment "production" overrides unknown step "ship_ordr"; did you mean ship_order?`,
			details: map[string]any{"line": 14, "step": "ship_ordr", "environment": "production", "suggestion": "ship_order",
				"path": "environments.production.step_templates[0]", "problem": "unknown_override_step"},
		},
		{
			file: "invalid_schema.yaml",
			message: `7: schema is not a valid JSON Schema: /properties/order_id/type: got string, want array; ` +
				`/properties/order_id/type: value must be one of 'array', 'boolean', 'integer', 'null', 'number', 'object', 'string'`,
			details: map[string]any{"line": 7, "key": "schema", "path": "schema.properties.order_id.type", "problem": "invalid_schema"},
		},
		{
			file:    "both_formats.yaml",
			message: `6: both step_templates (engine format) and steps (successor format) are given (lines 3 and 6); a template uses one format`,
			details: map[string]any{"line": 6, "problem": "format"},
		},
		{
			file:    "not_in_named_steps.yaml",
			message: `7: step "ship_order": step template "ship_order" is not listed in named_steps (line 3)`,
			details: map[string]any{"line": 7, "step": "ship_order", "problem": "step_not_in_named_steps"},
		},
		{
			file:    "two_documents.yaml",
			message: `6: 2 YAML documents; a file holds exactly one template`,
			details: map[string]any{"line": 6, "problem": "format"},
		},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			path := "testdata/broken/" + c.file
			for _, env := range []string{"", "test", "production"} {
				tpl, err := Load(path, env, testMaxBytes)
				require.Error(t, err)
				assert.Nil(t, tpl)
				want := c.kind
				if want == "" {
					want = errs.Validation
				}
				assert.Equal(t, want, errs.KindOf(err))
				assert.EqualError(t, err, path+":"+c.message)
				d := errs.DetailsOf(err)
				assert.Equal(t, path, d["file"])
				for k, v := range c.details {
					assert.Equal(t, v, d[k], "details[%q]", k)
				}
			}
		})
	}

	t.Run("the cycle error wraps the dag's", func(t *testing.T) {
		t.Parallel()
		_, err := Load("testdata/broken/cycle.yaml", "", testMaxBytes)
		var ce *dag.CycleError
		require.True(t, errors.As(err, &ce))
		assert.Equal(t, []string{"reserve", "charge", "ship"}, ce.Names)
		assert.True(t, errors.Is(err, errs.Of(errs.Cycle)))
	})
	t.Run("syntax error", func(t *testing.T) {
		t.Parallel()
		_, err := Load("testdata/broken/syntax_error.yaml", "", testMaxBytes)
		require.Error(t, err)
		assert.Equal(t, errs.Validation, errs.KindOf(err))
		assert.Regexp(t, `^testdata/broken/syntax_error\.yaml:\d+: invalid YAML: did not find expected ',' or ']'$`, err.Error())
		assert.Positive(t, errs.DetailsOf(err)["line"])
	})
}

// parseErr parses an inline template and returns its error.
func parseErr(t *testing.T, yml string) error {
	t.Helper()
	_, err := Parse([]byte(yml), "inline.yaml", "")
	require.Error(t, err)
	return err
}

func TestUnknownKeySuggestions(t *testing.T) {
	t.Parallel()
	const engineStep = "name: x\ntask_handler_class: H\nstep_templates:\n  - name: a\n    handler_class: A\n"
	const successorStep = "name: x\nsteps:\n  - name: a\n    handler:\n      callable: A\n"
	cases := []struct {
		name, yml, key, suggestion string
	}{
		{"engine top level", "namespce_name: ns\n" + engineStep, "namespce_name", "namespace_name"},
		{"engine schema under the successor name", "input_schema: {}\n" + engineStep, "input_schema", "schema"},
		{"engine step", engineStep + "    default_retry_limt: 2\n", "default_retry_limt", "default_retry_limit"},
		{"engine step, successor key", engineStep + "    dependencies: []\n", "dependencies", "depends_on_steps"},
		{"engine event", engineStep + "    custom_events:\n      - name: e\n        descripton: d\n", "descripton", "description"},
		{"engine override", engineStep + "environments:\n  test:\n    step_templates:\n      - name: a\n        handler_confg: {}\n", "handler_confg", "handler_config"},
		{"engine environment", engineStep + "environments:\n  test:\n    steps: []\n", "steps", "step_templates"},
		{"successor top level", "input_shema: {}\n" + successorStep, "input_shema", "input_schema"},
		{"successor step, engine key", successorStep + "    handler_class: A\n", "handler_class", "handler.callable"},
		{"successor handler", "name: x\nsteps:\n  - name: a\n    handler:\n      callabel: A\n", "callabel", "callable"},
		{"successor retry", successorStep + "    retry:\n      max_attempt: 2\n", "max_attempt", "max_attempts"},
		{"successor override", successorStep + "environments:\n  test:\n    steps:\n      - name: a\n        timeout_second: 3\n", "timeout_second", "timeout_seconds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := parseErr(t, c.yml)
			d := errs.DetailsOf(err)
			assert.Equal(t, c.key, d["key"], err.Error())
			assert.Equal(t, c.suggestion, d["suggestion"], err.Error())
			assert.Contains(t, err.Error(), "did you mean "+c.suggestion+"?")
			assert.Equal(t, "unknown_key", d["problem"])
			assert.Equal(t, "inline.yaml", d["file"])
		})
	}
	t.Run("nothing close", func(t *testing.T) {
		t.Parallel()
		err := parseErr(t, engineStep+"    colour: red\n")
		assert.EqualError(t, err, `inline.yaml:6: step "a": unknown key "colour" at step_templates[0].colour (known keys: `+
			strings.Join(engineStepKeys, ", ")+")")
		assert.NotContains(t, errs.DetailsOf(err), "suggestion")
	})
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yml, message string
	}{
		{"no file name", "", "template: empty file: no template"},
		{"not a mapping", "- a\n- b\n", "template:1: the template must be a mapping, got a list"},
		{"neither format", "name: x\ntask_handler_class: H\n", "template:1: neither step_templates (engine format) nor steps (successor format) is given"},
		{"missing name", "task_handler_class: H\nstep_templates:\n  - name: a\n    handler_class: A\n", `template:1: missing required key "name" at the template`},
		{"blank name", "name: ' '\ntask_handler_class: H\nstep_templates:\n  - name: a\n    handler_class: A\n", "template:1: name must not be empty"},
		{"missing task_handler_class", "name: x\nstep_templates:\n  - name: a\n    handler_class: A\n", `template:1: missing required key "task_handler_class" at the template`},
		{"empty steps", "name: x\nsteps: []\n", "template:2: steps is empty: a template needs at least one step"},
		{"steps not a list", "name: x\nsteps:\n  a: 1\n", "template:3: steps must be a list, got a mapping"},
		{"step not a mapping", "name: x\nsteps:\n  - a\n", "template:3: steps[0] must be a mapping, got string \"a\""},
		{"missing step name", "name: x\nsteps:\n  - handler:\n      callable: A\n", `template:3: missing required key "name" at steps[0]`},
		{"missing handler", "name: x\nsteps:\n  - name: a\n", `template:3: step "a": missing required key "handler" at steps[0]`},
		{"name is a list", "name: [x]\nsteps:\n  - name: a\n    handler: {callable: A}\n", "template:1: name must be a string, got a list"},
		{"dependencies not a list", "name: x\nsteps:\n  - name: a\n    handler: {callable: A}\n    dependencies: b\n",
			`template:5: step "a": dependencies must be a list, got string "b"`},
		{"dependency not a string", "name: x\nsteps:\n  - name: a\n    handler: {callable: A}\n    dependencies: [{b: 1}]\n",
			`template:5: step "a": dependencies[0] must be a non-empty string, got a mapping`},
		{"handler_config not a mapping", "name: x\ntask_handler_class: H\nstep_templates:\n  - name: a\n    handler_class: A\n    handler_config: [1]\n",
			`template:6: step "a": handler_config must be a mapping, got a list`},
		{"negative engine retry limit", "name: x\ntask_handler_class: H\nstep_templates:\n  - name: a\n    handler_class: A\n    default_retry_limit: -2\n",
			`template:6: step "a": default_retry_limit must be >= 0, got -2`},
		{"retry limit beyond int32", "name: x\ntask_handler_class: H\nstep_templates:\n  - name: a\n    handler_class: A\n    default_retry_limit: 4294967296\n",
			`template:6: step "a": default_retry_limit must be <= 2147483647, got 4294967296`},
		{"timeout as a string", "name: x\nsteps:\n  - name: a\n    handler: {callable: A}\n    timeout_seconds: 30s\n",
			`template:5: step "a": timeout_seconds must be an integer, got string "30s"`},
		{"negative backoff", "name: x\nsteps:\n  - name: a\n    handler: {callable: A}\n    retry: {backoff_base_ms: -5}\n",
			`template:5: step "a": backoff_base_ms must be >= 0, got -5`},
		{"duplicate key", "name: x\nname: y\nsteps:\n  - name: a\n    handler: {callable: A}\n", `template:2: duplicate key "name" (first on line 1)`},
		{"duplicate key in handler_config", "name: x\ntask_handler_class: H\nstep_templates:\n  - name: a\n    handler_class: A\n    handler_config:\n      k: 1\n      k: 2\n",
			`template:8: step "a": duplicate key "k" (first on line 7)`},
		{"infinite number", "name: x\ntask_handler_class: H\nstep_templates:\n  - name: a\n    handler_class: A\n    handler_config: {k: .inf}\n",
			`template:6: step "a": step_templates[0].handler_config.k: .inf cannot be represented in JSON`},
		{"custom tag", "name: x\ntask_handler_class: H\nstep_templates:\n  - name: a\n    handler_class: A\n    handler_config: {k: !ruby/sym x}\n",
			`template:6: step "a": step_templates[0].handler_config.k: unsupported YAML tag !ruby/sym`},
		{"event without name", "name: x\ntask_handler_class: H\nstep_templates:\n  - name: a\n    handler_class: A\n    custom_events:\n      - description: d\n",
			`template:7: step "a": missing required key "name" at step_templates[0].custom_events[0]`},
		{"override without name", "name: x\ntask_handler_class: H\nstep_templates:\n  - name: a\n    handler_class: A\nenvironments:\n  test:\n    step_templates:\n      - handler_config: {}\n",
			`template:9: missing required key "name" at environments.test.step_templates[0]`},
		{"environments not a mapping", "name: x\ntask_handler_class: H\nstep_templates:\n  - name: a\n    handler_class: A\nenvironments: [test]\n",
			"template:6: environments must be a mapping, got a list"},
		{"step name too long", "name: x\nsteps:\n  - name: " + strings.Repeat("s", 129) + "\n    handler: {callable: A}\n",
			`template:3: step "` + strings.Repeat("s", 129) + `": step name "` + strings.Repeat("s", 129) + `" is longer than 128 characters`},
		{"version too long", "name: x\nversion: 1.0.0-beta.1+build.2\nsteps:\n  - name: a\n    handler: {callable: A}\n",
			`template:2: version "1.0.0-beta.1+build.2" is longer than 16 characters`},
		{"conflicting handler classes", "name: x\ntask_handler_class: A\ntask_handler: {callable: B}\nsteps:\n  - name: a\n    handler: {callable: A}\n",
			`template:3: task_handler.callable "B" contradicts task_handler_class "A"`},
		{"schema not a mapping", "name: x\ninput_schema: [1]\nsteps:\n  - name: a\n    handler: {callable: A}\n",
			"template:2: input_schema must be a mapping (a JSON Schema), got a list"},
		{"schema with a remote $ref", "name: x\ninput_schema: {$ref: 'https://example.com/s.json'}\nsteps:\n  - name: a\n    handler: {callable: A}\n",
			"a template's schema must be self-contained"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(c.yml), "", "")
			require.Error(t, err)
			assert.Equal(t, errs.Validation, errs.KindOf(err))
			if strings.HasPrefix(c.message, "template") {
				assert.EqualError(t, err, c.message)
			} else {
				assert.Contains(t, err.Error(), c.message)
			}
		})
	}
}

func TestYAMLFeatures(t *testing.T) {
	t.Parallel()
	t.Run("anchors, aliases and merge keys", func(t *testing.T) {
		t.Parallel()
		tpl, err := Parse([]byte(`
name: merged
task_handler_class: H
step_templates:
  - name: a
    handler_class: A
    handler_config: &base
      url: https://a.example.com
      retries: {count: 2, jitter: true}
  - name: b
    handler_class: B
    depends_on_step: a
    handler_config:
      <<: *base
      url: https://b.example.com
  - name: c
    handler_class: C
    depends_on_step: b
    handler_config:
      <<: [{extra: 1}, *base]
`), "", "")
		require.NoError(t, err)
		retries := map[string]any{"count": int64(2), "jitter": true}
		assert.Equal(t, map[string]any{"url": "https://a.example.com", "retries": retries}, tpl.Steps[0].HandlerConfig)
		assert.Equal(t, map[string]any{"url": "https://b.example.com", "retries": retries}, tpl.Steps[1].HandlerConfig)
		assert.Equal(t, map[string]any{"url": "https://a.example.com", "retries": retries, "extra": int64(1)}, tpl.Steps[2].HandlerConfig)
		tpl.Steps[0].HandlerConfig["retries"].(map[string]any)["count"] = int64(9)
		assert.Equal(t, int64(2), tpl.Steps[1].HandlerConfig["retries"].(map[string]any)["count"], "aliases are copied, not shared")
	})
	t.Run("alias bomb", func(t *testing.T) {
		t.Parallel()
		var b strings.Builder
		b.WriteString("name: bomb\ntask_handler_class: H\nstep_templates:\n  - name: a\n    handler_class: A\n    handler_config:\n")
		b.WriteString("      l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
		for i := 1; i < 9; i++ {
			b.WriteString("      l" + string(rune('0'+i)) + ": &l" + string(rune('0'+i)) + " [")
			for j := 0; j < 10; j++ {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString("*l" + string(rune('0'+i-1)))
			}
			b.WriteString("]\n")
		}
		_, err := Parse([]byte(b.String()), "bomb.yaml", "")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "expands to too many YAML nodes")
	})
	t.Run("numbers are canonical", func(t *testing.T) {
		t.Parallel()
		tpl, err := Parse([]byte(`
name: numbers
task_handler_class: H
step_templates:
  - name: a
    handler_class: A
    handler_config:
      int: 7
      whole_float: 2.0
      negative_zero: -0.0
      fraction: 0.25
      huge: 1e21
      beyond_int64: 18446744073709551615
      hex: 0x1F
      text_number: "12"
      nothing: ~
      when: 2026-11-24
`), "", "")
		require.NoError(t, err)
		assert.Equal(t, map[string]any{
			"int": int64(7), "whole_float": int64(2), "negative_zero": int64(0), "fraction": 0.25,
			"huge": 1e21, "beyond_int64": float64(math.MaxUint64), "hex": int64(31), "text_number": "12",
			"nothing": nil, "when": "2026-11-24",
		}, tpl.Steps[0].HandlerConfig)
		b, err := tpl.JSON()
		require.NoError(t, err)
		back, err := FromJSON(b)
		require.NoError(t, err)
		assert.Equal(t, tpl, back)
	})
	t.Run("strings are taken as written", func(t *testing.T) {
		t.Parallel()
		tpl, err := Parse([]byte("name: x\nversion: 1.0\nnamespace_name: 2024\nsteps:\n  - name: 1\n    handler: {callable: A}\n"), "", "")
		require.NoError(t, err)
		assert.Equal(t, "1.0", tpl.Version)
		assert.Equal(t, "2024", tpl.Namespace)
		assert.Equal(t, "1", tpl.Steps[0].Name)
		_, err = Parse([]byte("name: x\ndescription: true\nsteps:\n  - name: a\n    handler: {callable: A}\n"), "", "")
		assert.EqualError(t, err, "template:2: description must be a string, got boolean true")
	})
	t.Run("defaults and nulls", func(t *testing.T) {
		t.Parallel()
		tpl, err := Parse([]byte("name: x\ndescription:\nsteps:\n  - name: a\n    handler: {callable: A, initialization: {}}\n    retry:\n    dependencies:\n"), "", "")
		require.NoError(t, err)
		assert.Equal(t, &Template{
			Name: "x", Namespace: "default", Version: "0.1.0", Format: FormatSuccessor,
			Steps: []Step{{Name: "a", HandlerClass: "A", Retryable: true, RetryLimit: 3, HandlerConfig: map[string]any{}}},
		}, tpl)
		b, err := tpl.JSON()
		require.NoError(t, err)
		back, err := FromJSON(b)
		require.NoError(t, err)
		assert.Equal(t, tpl, back, "an empty handler config stays empty, not nil")
	})
}

func TestDeepMerge(t *testing.T) {
	t.Parallel()
	base := map[string]any{"a": 1, "m": map[string]any{"x": 1, "y": 2}, "l": []any{1, 2}}
	over := map[string]any{"b": 2, "m": map[string]any{"y": 3, "z": map[string]any{"deep": true}}, "l": []any{3}}
	got := deepMerge(base, over)
	assert.Equal(t, map[string]any{
		"a": 1, "b": 2, "m": map[string]any{"x": 1, "y": 3, "z": map[string]any{"deep": true}}, "l": []any{3},
	}, got)
	assert.Equal(t, map[string]any{"a": 1, "m": map[string]any{"x": 1, "y": 2}, "l": []any{1, 2}}, base, "base is untouched")
	assert.Equal(t, map[string]any{"k": "v"}, deepMerge(nil, map[string]any{"k": "v"}))
	assert.Equal(t, map[string]any{"m": "scalar"}, deepMerge(map[string]any{"m": map[string]any{"x": 1}}, map[string]any{"m": "scalar"}))
}

func TestLevenshtein(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "abc", 3}, {"kitten", "sitting", 3},
		{"dependson_steps", "depends_on_steps", 1}, {"depends_on_stpes", "depends_on_steps", 2},
		{"namespace", "namespace_name", 5}, {"größe", "grösse", 2},
	} {
		assert.Equal(t, c.d, levenshtein(c.a, c.b), "%q %q", c.a, c.b)
		assert.Equal(t, c.d, levenshtein(c.b, c.a), "%q %q", c.b, c.a)
	}
	assert.Equal(t, "depends_on_step", suggest("depends_on_stpe", engineStepKeys, nil), "ties go to the earlier key")
	assert.Equal(t, "", suggest("xy", []string{"ab"}, nil), "not closer than the key is long")
	assert.Equal(t, "", suggest("timeout_secs_total", []string{"timeout_seconds"}, nil), "more than 3 edits")
}
