package template

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/dag"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/store"
)

const (
	orderFile    = "testdata/good/order_fulfillment.yaml"
	pipelineFile = "testdata/good/data_pipeline.yaml"
	refundFile   = "testdata/good/payments/refund/1.0.0.yml"

	orderSchema = `{"properties":{"customer":{"properties":{"email":{"format":"email","type":"string"},"name":{"type":"string"}},"required":["email"],"type":"object"},` +
		`"items":{"items":{"properties":{"quantity":{"minimum":1,"type":"integer"},"sku":{"type":"string"}},"required":["sku","quantity"],"type":"object"},"minItems":1,"type":"array"},` +
		`"order_id":{"minimum":1,"type":"integer"}},"required":["order_id","customer","items"],"type":"object"}`
	pipelineSchema = `{"properties":{"date":{"format":"date","type":"string"},` +
		`"sources":{"items":{"enum":["sales","inventory","customers"],"type":"string"},"type":"array"}},"required":["date"],"type":"object"}`
)

func load(t *testing.T, path, env string) *Template {
	t.Helper()
	tpl, err := Load(path, env, testMaxBytes)
	require.NoError(t, err)
	return tpl
}

// orderFulfillment is order_fulfillment.yaml without environment overrides.
func orderFulfillment() *Template {
	return &Template{
		Name:                   "order_fulfillment",
		Namespace:              "ecommerce",
		Version:                "1.2.0",
		Description:            "Fulfil a paid order from validation to customer notification",
		TaskHandlerClass:       "Ecommerce::OrderFulfillmentHandler",
		ModuleNamespace:        "Ecommerce",
		DefaultDependentSystem: "ecommerce_platform",
		Schema:                 json.RawMessage(orderSchema),
		Steps: []Step{
			{
				Name:          "validate_order",
				Description:   "Check the order and its items",
				HandlerClass:  "Ecommerce::StepHandlers::ValidateOrderHandler",
				Retryable:     false,
				RetryLimit:    0,
				HandlerConfig: map[string]any{"strict": true, "max_items": int64(100)},
			},
			{
				Name:            "reserve_inventory",
				Description:     "Hold the stock in the warehouse",
				DependentSystem: "inventory_service",
				HandlerClass:    "Ecommerce::StepHandlers::ReserveInventoryHandler",
				DependsOn:       []string{"validate_order"},
				Retryable:       true,
				RetryLimit:      5,
				HandlerConfig: map[string]any{
					"warehouse":    map[string]any{"url": "https://inventory.example.com/api", "timeout_seconds": int64(10)},
					"hold_minutes": int64(30),
				},
				CustomEvents: []Event{{Name: "inventory.reserved", Description: "Stock is held for the order"}},
			},
			{
				Name:            "charge_payment",
				Description:     "Charge the customer's card",
				DependentSystem: "payment_gateway",
				HandlerClass:    "Ecommerce::StepHandlers::ChargePaymentHandler",
				DependsOn:       []string{"validate_order"},
				Retryable:       true,
				RetryLimit:      2,
				HandlerConfig: map[string]any{
					"gateway":  map[string]any{"url": "https://payments.example.com/v2", "timeout_seconds": int64(30)},
					"currency": "USD",
				},
				CustomEvents: []Event{{Name: "payment.charged", Description: "The card was charged"}, {Name: "payment.declined"}},
			},
			{
				Name:            "ship_order",
				Description:     "Hand the parcel to the carrier",
				DependentSystem: "shipping_service",
				HandlerClass:    "Ecommerce::StepHandlers::ShipOrderHandler",
				DependsOn:       []string{"reserve_inventory", "charge_payment"}, // depends_on_step, then depends_on_steps, once each
				Retryable:       true,
				RetryLimit:      3,
				HandlerConfig:   map[string]any{"carrier": "ups", "rates": []any{1.5, int64(2)}},
			},
			{
				Name:         "notify_customer",
				Description:  "Email the tracking number",
				HandlerClass: "Ecommerce::StepHandlers::NotifyCustomerHandler",
				DependsOn:    []string{"ship_order"},
				Retryable:    true,
				RetryLimit:   3,
				Skippable:    true,
				CustomEvents: []Event{{Name: "inventory.reserved", Description: "Declared twice"}},
			},
		},
		CustomEvents: []Event{
			{Name: "order.fulfilled", Description: "Every step of the order is done"},
			{Name: "inventory.reserved", Description: "Stock is held for the order"},
			{Name: "payment.charged", Description: "The card was charged"},
			{Name: "payment.declined"},
		},
		File:   orderFile,
		Format: FormatEngine,
	}
}

// dataPipeline is data_pipeline.yaml without environment overrides.
func dataPipeline() *Template {
	standard := func() *Backoff { return &Backoff{Strategy: "exponential", BaseMS: 1000, MaxMS: 30000} }
	return &Template{
		Name:                   "data_pipeline",
		Namespace:              "analytics",
		Version:                "2.0.0",
		Description:            "Nightly analytics pipeline",
		TaskHandlerClass:       "Analytics::DataPipelineHandler",
		DefaultDependentSystem: "warehouse",
		Schema:                 json.RawMessage(pipelineSchema),
		Steps: []Step{
			{
				Name:           "extract_sales",
				Description:    "Pull the day's sales rows",
				HandlerClass:   "Analytics::ExtractSales",
				Retryable:      true,
				RetryLimit:     3,
				TimeoutSeconds: 120,
				HandlerConfig:  map[string]any{"source": "sales_db", "batch_size": int64(5000)},
				Backoff:        standard(),
			},
			{
				Name:            "extract_inventory",
				DependentSystem: "inventory_service",
				HandlerClass:    "Analytics::ExtractInventory",
				Retryable:       true,
				RetryLimit:      3,
				TimeoutSeconds:  120,
				Backoff:         standard(), // the *standard_retry alias
			},
			{
				Name:           "extract_customers",
				HandlerClass:   "Analytics::ExtractCustomers",
				Retryable:      true,
				RetryLimit:     5, // <<: *standard_retry with max_attempts overridden
				TimeoutSeconds: 180,
				HandlerConfig:  map[string]any{"source": "crm"},
				Backoff:        standard(),
				CustomEvents:   []Event{{Name: "customers.extracted", Description: "Customer rows are staged"}},
			},
			{
				Name:          "aggregate_metrics",
				Description:   "Join the three extracts",
				HandlerClass:  "Analytics::AggregateMetrics",
				DependsOn:     []string{"extract_sales", "extract_inventory", "extract_customers"},
				Retryable:     true,
				RetryLimit:    2,
				HandlerConfig: map[string]any{"output": map[string]any{"format": "parquet", "compression": "snappy"}},
			},
			{
				Name:         "publish_report",
				HandlerClass: "Analytics::PublishReport",
				DependsOn:    []string{"aggregate_metrics"},
				Retryable:    false,
				RetryLimit:   3,
				CustomEvents: []Event{{Name: "report.published"}},
			},
		},
		CustomEvents: []Event{
			{Name: "customers.extracted", Description: "Customer rows are staged"},
			{Name: "report.published"},
		},
		File:   pipelineFile,
		Format: FormatSuccessor,
	}
}

func TestParseEngineFormat(t *testing.T) {
	t.Parallel()
	for _, env := range []string{"", "production", "staging"} { // production is empty, staging absent
		t.Run("env="+env, func(t *testing.T) {
			t.Parallel()
			tpl := load(t, orderFile, env)
			assert.Equal(t, orderFulfillment(), tpl)
			assert.Equal(t, "ecommerce/order_fulfillment@1.2.0", tpl.Key())
		})
	}
}

func TestEngineEnvironmentOverrides(t *testing.T) {
	t.Parallel()
	cases := map[string]map[string]map[string]any{ // env -> step -> handler_config
		"development": {
			"reserve_inventory": {
				"warehouse":    map[string]any{"url": "http://localhost:3001/api", "timeout_seconds": int64(10), "debug": true},
				"hold_minutes": int64(30),
			},
			"charge_payment": {
				"gateway":  map[string]any{"url": "http://localhost:3002/v2", "timeout_seconds": int64(30), "sandbox": true},
				"currency": "USD",
			},
			"notify_customer": nil,
		},
		"test": {
			"reserve_inventory": {
				"warehouse":    map[string]any{"url": "https://inventory.example.com/api", "timeout_seconds": int64(10)},
				"hold_minutes": int64(30),
			},
			"charge_payment": {
				"gateway":  map[string]any{"url": "http://payments.test/v2", "timeout_seconds": int64(30)},
				"currency": "EUR",
			},
			"notify_customer": {"dry_run": true}, // a step without handler_config gets the override's
		},
	}
	for env, steps := range cases {
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			tpl := load(t, orderFile, env)
			for name, want := range steps {
				assert.Equal(t, want, tpl.Step(name).HandlerConfig, "step %s", name)
			}
			// Everything else is as without overrides.
			base := orderFulfillment()
			for i := range base.Steps {
				base.Steps[i].HandlerConfig = tpl.Steps[i].HandlerConfig
			}
			assert.Equal(t, base, tpl)
		})
	}
}

func TestParseSuccessorFormat(t *testing.T) {
	t.Parallel()
	tpl := load(t, pipelineFile, "")
	assert.Equal(t, dataPipeline(), tpl)
	assert.Equal(t, "analytics/data_pipeline@2.0.0", tpl.Key())
}

func TestSuccessorEnvironmentOverrides(t *testing.T) {
	t.Parallel()
	t.Run("test", func(t *testing.T) {
		t.Parallel()
		want := dataPipeline()
		sales := &want.Steps[0]
		sales.HandlerConfig = map[string]any{"source": "fixtures/sales.csv", "batch_size": int64(5000)}
		sales.RetryLimit = 1
		sales.Backoff = &Backoff{Strategy: "exponential", BaseMS: 10, MaxMS: 30000}
		sales.TimeoutSeconds = 5
		want.Steps[3].HandlerConfig = map[string]any{"output": map[string]any{"format": "csv", "compression": "snappy"}}
		tpl := load(t, pipelineFile, "test")
		assert.Equal(t, want, tpl)
		// The steps sharing the *standard_retry alias keep their own backoff.
		assert.Equal(t, int64(1000), tpl.Step("extract_inventory").Backoff.BaseMS)
	})
	t.Run("production", func(t *testing.T) {
		t.Parallel()
		want := dataPipeline()
		want.Steps[4].TimeoutSeconds = 60
		assert.Equal(t, want, load(t, pipelineFile, "production"))
	})
}

func TestSpec(t *testing.T) {
	t.Parallel()
	ptrB := func(b bool) *bool { return &b }
	ptrI := func(i int32) *int32 { return &i }

	t.Run("engine", func(t *testing.T) {
		t.Parallel()
		ctx := json.RawMessage(`{"order_id": 42, "customer": {"email": "ada@example.com", "name": "Ada"}, "items": [{"sku": "BOOK-1", "quantity": 2}]}`)
		spec, err := load(t, orderFile, "test").Spec(ctx)
		require.NoError(t, err)
		assert.Equal(t, store.TaskSpec{
			Name:        "order_fulfillment",
			Namespace:   "ecommerce",
			Version:     "1.2.0",
			Description: "Fulfil a paid order from validation to customer notification",
			Context:     ctx,
			Steps: []store.StepSpec{
				{Name: "validate_order", DependentSystem: "ecommerce_platform", Retryable: ptrB(false), RetryLimit: ptrI(0)},
				{Name: "reserve_inventory", DependsOn: []string{"validate_order"}, DependentSystem: "inventory_service", Retryable: ptrB(true), RetryLimit: ptrI(5)},
				{Name: "charge_payment", DependsOn: []string{"validate_order"}, DependentSystem: "payment_gateway", Retryable: ptrB(true), RetryLimit: ptrI(2)},
				{Name: "ship_order", DependsOn: []string{"reserve_inventory", "charge_payment"}, DependentSystem: "shipping_service", Retryable: ptrB(true), RetryLimit: ptrI(3)},
				{Name: "notify_customer", DependsOn: []string{"ship_order"}, DependentSystem: "ecommerce_platform", Retryable: ptrB(true), RetryLimit: ptrI(3), Skippable: true},
			},
		}, spec)
	})
	t.Run("successor", func(t *testing.T) {
		t.Parallel()
		spec, err := load(t, pipelineFile, "test").Spec(json.RawMessage(`{"date": "2026-11-24"}`))
		require.NoError(t, err)
		assert.Equal(t, []store.StepSpec{
			{Name: "extract_sales", DependentSystem: "warehouse", Retryable: ptrB(true), RetryLimit: ptrI(1)},
			{Name: "extract_inventory", DependentSystem: "inventory_service", Retryable: ptrB(true), RetryLimit: ptrI(3)},
			{Name: "extract_customers", DependentSystem: "warehouse", Retryable: ptrB(true), RetryLimit: ptrI(5)},
			{Name: "aggregate_metrics", DependsOn: []string{"extract_sales", "extract_inventory", "extract_customers"}, DependentSystem: "warehouse", Retryable: ptrB(true), RetryLimit: ptrI(2)},
			{Name: "publish_report", DependsOn: []string{"aggregate_metrics"}, DependentSystem: "warehouse", Retryable: ptrB(false), RetryLimit: ptrI(3)},
		}, spec.Steps)
		assert.Equal(t, "analytics", spec.Namespace)
	})
	t.Run("no default dependent system, no schema, no context", func(t *testing.T) {
		t.Parallel()
		spec, err := load(t, refundFile, "").Spec(nil)
		require.NoError(t, err)
		assert.Equal(t, store.TaskSpec{
			Name: "process_refund", Namespace: "payments", Version: "1.0.0",
			Steps: []store.StepSpec{
				{Name: "validate_refund", Retryable: ptrB(true), RetryLimit: ptrI(3)},
				{Name: "issue_refund", DependsOn: []string{"validate_refund"}, Retryable: ptrB(true), RetryLimit: ptrI(3)},
			},
		}, spec)
	})
	t.Run("invalid context", func(t *testing.T) {
		t.Parallel()
		_, err := load(t, orderFile, "").Spec(json.RawMessage(`{"order_id": 1}`))
		require.Error(t, err)
		assert.Equal(t, errs.Validation, errs.KindOf(err))
		assert.Contains(t, err.Error(), "/customer: required property is missing")
	})
	t.Run("the spec does not share the template's slices", func(t *testing.T) {
		t.Parallel()
		tpl := load(t, refundFile, "")
		spec, err := tpl.Spec(nil)
		require.NoError(t, err)
		spec.Steps[1].DependsOn[0] = "changed"
		assert.Equal(t, []string{"validate_refund"}, tpl.Steps[1].DependsOn)
	})
}

func TestValidateContext(t *testing.T) {
	t.Parallel()
	order := load(t, orderFile, "")

	for _, ok := range []string{
		`{"order_id": 1, "customer": {"email": "ada@example.com"}, "items": [{"sku": "A", "quantity": 1}]}`,
		`{"order_id": 7, "customer": {"email": "b@example.org", "vip": true}, "items": [{"sku": "A", "quantity": 3}], "note": "extra keys are fine"}`,
	} {
		assert.NoError(t, order.ValidateContext(json.RawMessage(ok)), ok)
	}

	type fe = map[string]any
	cases := []struct {
		name, context string
		errors        []fe
	}{
		{
			name:    "missing email and wrong type of items",
			context: `{"order_id": 7, "customer": {"name": "Ada"}, "items": "two"}`,
			errors: []fe{
				{"path": "/customer/email", "message": "required property is missing"},
				{"path": "/items", "message": "got string, want array"},
			},
		},
		{
			name:    "bad email format and quantity",
			context: `{"order_id": 7, "customer": {"email": "nope"}, "items": [{"sku": "A", "quantity": 0}]}`,
			errors: []fe{
				{"path": "/customer/email", "message": "'nope' is not valid email: missing @"},
				{"path": "/items/0/quantity", "message": "minimum: got 0, want 1"},
			},
		},
		{
			name:    "empty context is {}",
			context: ``,
			errors: []fe{
				{"path": "/customer", "message": "required property is missing"},
				{"path": "/items", "message": "required property is missing"},
				{"path": "/order_id", "message": "required property is missing"},
			},
		},
		{
			name:    "not an object",
			context: `[1, 2]`,
			errors:  []fe{{"path": "", "message": "got array, want object"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := order.ValidateContext(json.RawMessage(c.context))
			require.Error(t, err)
			assert.Equal(t, errs.Validation, errs.KindOf(err))
			d := errs.DetailsOf(err)
			assert.Equal(t, c.errors, d["errors"])
			assert.Equal(t, "ecommerce/order_fulfillment@1.2.0", d["template"])
			assert.Equal(t, orderFile, d["file"])
			for _, e := range c.errors {
				p := e["path"].(string)
				if p == "" {
					p = "(root)"
				}
				assert.Contains(t, err.Error(), p+": "+e["message"].(string))
			}
		})
	}

	t.Run("message lists the failing paths", func(t *testing.T) {
		t.Parallel()
		err := order.ValidateContext(json.RawMessage(`{"order_id": 7, "customer": {"name": "Ada"}, "items": "two"}`))
		assert.EqualError(t, err, "context does not match the schema of template ecommerce/order_fulfillment@1.2.0: "+
			"/customer/email: required property is missing; /items: got string, want array")
	})
	t.Run("invalid JSON", func(t *testing.T) {
		t.Parallel()
		err := order.ValidateContext(json.RawMessage(`{"order_id":`))
		assert.Equal(t, errs.Validation, errs.KindOf(err))
		assert.Contains(t, err.Error(), "not valid JSON")
	})
	t.Run("no schema accepts any JSON", func(t *testing.T) {
		t.Parallel()
		refund := load(t, refundFile, "")
		assert.NoError(t, refund.ValidateContext(json.RawMessage(`{"anything": [1, "goes"]}`)))
		assert.NoError(t, refund.ValidateContext(json.RawMessage(`42`)))
		assert.NoError(t, refund.ValidateContext(nil))
		assert.Error(t, refund.ValidateContext(json.RawMessage(`nope`)))
	})
	t.Run("boolean schema", func(t *testing.T) {
		t.Parallel()
		closed, err := Parse([]byte("name: x\ninput_schema: false\nsteps:\n  - name: a\n    handler: {callable: A}\n"), "closed.yaml", "")
		require.NoError(t, err)
		assert.Equal(t, json.RawMessage(`false`), closed.Schema)
		assert.EqualError(t, closed.ValidateContext(json.RawMessage(`{}`)),
			"context does not match the schema of template default/x@0.1.0: (root): false schema")
	})
	t.Run("a hand-built template with a broken schema", func(t *testing.T) {
		t.Parallel()
		tpl := &Template{Name: "x", Namespace: "n", Version: "1", Format: FormatSuccessor, File: "x.json", Schema: json.RawMessage(`{"type": 12}`)}
		err := tpl.ValidateContext(json.RawMessage(`{}`))
		require.Error(t, err)
		assert.Equal(t, errs.Validation, errs.KindOf(err))
		assert.True(t, strings.HasPrefix(err.Error(), "x.json: input_schema is not a valid JSON Schema: /type: "), err.Error())
	})
	t.Run("successor input_schema", func(t *testing.T) {
		t.Parallel()
		pipe := load(t, pipelineFile, "")
		assert.NoError(t, pipe.ValidateContext(json.RawMessage(`{"date": "2026-11-24", "sources": ["sales"]}`)))
		err := pipe.ValidateContext(json.RawMessage(`{"date": "2026-13-45", "sources": ["sales", "weather"]}`))
		require.Error(t, err)
		paths := []string{}
		for _, e := range errs.DetailsOf(err)["errors"].([]map[string]any) {
			paths = append(paths, e["path"].(string))
		}
		assert.Equal(t, []string{"/date", "/sources/1"}, paths)
	})
}

func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	for _, file := range []string{orderFile, pipelineFile, refundFile} {
		for _, env := range []string{"", "development", "test", "production"} {
			t.Run(filepath.Base(file)+"/"+env, func(t *testing.T) {
				t.Parallel()
				tpl := load(t, file, env)
				b, err := tpl.JSON()
				require.NoError(t, err)
				back, err := FromJSON(b)
				require.NoError(t, err)
				assert.Equal(t, tpl, back)
				again, err := back.JSON()
				require.NoError(t, err)
				assert.Equal(t, string(b), string(again), "JSON is canonical")

				// As a jsonb column returns it: other key order, other spacing.
				var generic any
				require.NoError(t, json.Unmarshal(b, &generic))
				reordered, err := json.MarshalIndent(generic, "", "  ")
				require.NoError(t, err)
				back, err = FromJSON(reordered)
				require.NoError(t, err)
				assert.Equal(t, tpl, back)
			})
		}
	}
}

func TestJSONForm(t *testing.T) {
	t.Parallel()
	b, err := load(t, refundFile, "").JSON()
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"name": "process_refund", "namespace": "payments", "version": "1.0.0",
		"task_handler_class": "Payments::ProcessRefundHandler",
		"steps": [
			{"name": "validate_refund", "handler_class": "Payments::StepHandlers::ValidateRefundHandler", "depends_on": null,
			 "retryable": true, "retry_limit": 3, "skippable": false, "timeout_seconds": 0, "handler_config": null, "backoff": null, "custom_events": null},
			{"name": "issue_refund", "handler_class": "Payments::StepHandlers::IssueRefundHandler", "depends_on": ["validate_refund"],
			 "retryable": true, "retry_limit": 3, "skippable": false, "timeout_seconds": 0, "handler_config": null, "backoff": null, "custom_events": null}
		],
		"custom_events": null,
		"file": "testdata/good/payments/refund/1.0.0.yml",
		"format": "engine"
	}`, string(b))
}

func TestFromJSONRejects(t *testing.T) {
	t.Parallel()
	good, err := load(t, refundFile, "").JSON()
	require.NoError(t, err)
	edit := func(from, to string) string {
		require.Contains(t, string(good), from)
		return strings.Replace(string(good), from, to, 1)
	}
	cases := []struct {
		name, json, want string
		kind             errs.Kind
	}{
		{"unknown field", edit(`"name":"process_refund"`, `"name":"process_refund","colour":"red"`), "unknown field", errs.Validation},
		{"bad format", edit(`"format":"engine"`, `"format":"ruby"`), `format "ruby"`, errs.Validation},
		{"cycle", edit(`"depends_on":null`, `"depends_on":["issue_refund"]`), "dependency cycle: validate_refund -> issue_refund -> validate_refund", errs.Cycle},
		{"unknown dependency", edit(`"depends_on":null`, `"depends_on":["nope"]`), `depends on unknown step "nope"`, errs.Validation},
		{"no steps", `{"name":"x","namespace":"n","version":"1","steps":[],"custom_events":null,"format":"engine"}`, "has no steps", errs.Validation},
		{"invalid schema", edit(`"steps":`, `"schema":{"type":12},"steps":`), "schema is not a valid JSON Schema", errs.Validation},
		{"trailing data", string(good) + `{}`, "trailing data", errs.Validation},
		{"not JSON", `name: x`, "template JSON", errs.Validation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := FromJSON([]byte(c.json))
			require.Error(t, err)
			assert.Equal(t, c.kind, errs.KindOf(err))
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestLoadDir(t *testing.T) {
	t.Parallel()
	tpls, err := LoadDir("testdata/good", "test", testMaxBytes)
	require.NoError(t, err)
	var keys, files []string
	for _, tpl := range tpls {
		keys, files = append(keys, tpl.Key()), append(files, tpl.File)
	}
	assert.Equal(t, []string{"analytics/data_pipeline@2.0.0", "ecommerce/order_fulfillment@1.2.0", "payments/process_refund@1.0.0"}, keys)
	assert.Equal(t, []string{
		filepath.Join("testdata/good", "data_pipeline.yaml"),
		filepath.Join("testdata/good", "order_fulfillment.yaml"),
		filepath.Join("testdata/good", "payments/refund/1.0.0.yml"),
	}, files)
	assert.Equal(t, load(t, orderFile, "test"), tpls[1])
}

func TestLoadDirReportsEveryBrokenFile(t *testing.T) {
	t.Parallel()
	broken, err := filepath.Glob("testdata/broken/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, broken)

	tpls, err := LoadDir("testdata/broken", "", testMaxBytes)
	require.Error(t, err)
	assert.Nil(t, tpls)
	assert.Equal(t, errs.Validation, errs.KindOf(err)) // mixed kinds (one cycle): validation
	lines := strings.Split(err.Error(), "\n")
	assert.Equal(t, "testdata/broken: "+strconv.Itoa(len(broken))+" of "+strconv.Itoa(len(broken))+" template files failed to load:", lines[0])
	assert.Len(t, lines, len(broken)+1)
	for _, f := range broken {
		assert.Contains(t, err.Error(), "  - "+f+":")
	}
	d := errs.DetailsOf(err)
	assert.Equal(t, "testdata/broken", d["dir"])
	assert.Len(t, d["errors"], len(broken))
	var ce *dag.CycleError
	assert.True(t, errors.As(err, &ce), "the individual errors are wrapped")
}

func TestLoadDirDuplicateTemplate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data, err := os.ReadFile(refundFile)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), data, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.yml"), data, 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(dir, ".git"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".git", "c.yaml"), []byte("not: [a template"), 0o600))
	_, err = LoadDir(dir, "", testMaxBytes)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "1 of 2 template files failed to load")
	assert.Contains(t, err.Error(), "template payments/process_refund@1.0.0 is also defined in "+filepath.Join(dir, "a.yaml"))

	tpls, err := LoadDir(t.TempDir(), "", testMaxBytes)
	require.NoError(t, err)
	assert.Empty(t, tpls)
}

func TestLoadMissing(t *testing.T) {
	t.Parallel()
	_, err := Load("testdata/good/nope.yaml", "", testMaxBytes)
	assert.Equal(t, errs.NotFound, errs.KindOf(err))
	_, err = LoadDir("testdata/nope", "", testMaxBytes)
	assert.Equal(t, errs.NotFound, errs.KindOf(err))
}
