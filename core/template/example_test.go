package template_test

import (
	"fmt"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/template"
)

// Both YAML formats parse into one Template; environment overrides of the
// given environment are merged by step name.
func ExampleParse() {
	yaml := []byte(`
name: refund
namespace_name: payments
version: 1.0.0
task_handler_class: Payments::RefundHandler
schema:
  type: object
  required: [charge_id]
step_templates:
  - name: validate
    handler_class: Payments::Validate
  - name: refund_card
    handler_class: Payments::RefundCard
    depends_on_step: validate
    default_retry_limit: 5
    handler_config: {gateway: sandbox}
environments:
  production:
    step_templates:
      - name: refund_card
        handler_config: {gateway: live}
`)
	tpl, err := template.Parse(yaml, "refund.yaml", "production")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tpl.Key(), "format:", tpl.Format)
	for _, s := range tpl.Steps {
		fmt.Println(s.Name, s.HandlerClass, "after:", s.DependsOn, "retry_limit:", s.RetryLimit, "config:", s.HandlerConfig)
	}
	fmt.Println("context ok:", tpl.ValidateContext([]byte(`{"charge_id": "ch_1"}`)) == nil)
	err = tpl.ValidateContext([]byte(`{}`))
	fmt.Println("empty context:", errs.KindOf(err))
	// Output:
	// payments/refund@1.0.0 format: engine
	// validate Payments::Validate after: [] retry_limit: 3 config: map[]
	// refund_card Payments::RefundCard after: [validate] retry_limit: 5 config: map[gateway:live]
	// context ok: true
	// empty context: validation_error
}

// Mistakes are typed errors naming the file, line and key, with the nearest
// known key.
func ExampleParse_typo() {
	_, err := template.Parse([]byte(`
name: refund
task_handler_class: Payments::RefundHandler
step_templates:
  - name: validate
    handler_class: Payments::Validate
    depends_on_stpes: [start]
`), "refund.yaml", "")
	fmt.Println(errs.KindOf(err))
	fmt.Println(err)
	// Output:
	// validation_error
	// refund.yaml:7: step "validate": unknown key "depends_on_stpes" at step_templates[0].depends_on_stpes; did you mean depends_on_step?
}
