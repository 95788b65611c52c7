# frozen_string_literal: true

RSpec.describe TaskerCore::TaskTemplate do
  let(:steps) do
    [{ name: "validate_cart", handler_class: "Shop::ValidateCart" },
     { name: "charge", handler_class: "Shop::Charge", depends_on: ["validate_cart"], retry_limit: 5, retryable: true },
     { name: "ship", handler_class: "Shop::Ship", depends_on: ["charge"], retryable: false, dependent_system: "ups" }]
  end
  let(:template) { described_class.new(name: "order", namespace: "shop", version: "1.2.0", steps: steps) }

  it "builds the spec of Client#create_task" do
    spec = template.to_task_spec(context: { "cart_id" => 1 }, initiator: "rspec", priority: nil)
    expect(spec).to eq(
      name: "order", namespace: "shop", version: "1.2.0", context: { "cart_id" => 1 }, initiator: "rspec",
      steps: [{ name: "validate_cart", depends_on: [] },
              { name: "charge", depends_on: ["validate_cart"], retry_limit: 5, retryable: true },
              { name: "ship", depends_on: ["charge"], retryable: false, dependent_system: "ups" }]
    )
  end

  it "defaults to the namespace \"default\" and version \"0.1.0\"" do
    t = described_class.new(name: "x", steps: [{ name: "a", handler_class: "A" }])
    expect([t.namespace, t.version, t.label]).to eq(["default", "0.1.0", "default/x@0.1.0"])
    expect(t.key).to eq(["default", "x", "0.1.0"])
  end

  it "finds its steps by name" do
    expect(template.step("charge").handler_class).to eq("Shop::Charge")
    expect(template.step(:ship).retryable).to eq(false)
    expect(template.step("nope")).to be_nil
    expect(template.step_names).to eq(%w[validate_cart charge ship])
  end

  it "refuses duplicate step names, unknown dependencies and no steps" do
    expect { described_class.new(name: "x", steps: [{ name: "a", handler_class: "A" }, { name: "a", handler_class: "A" }]) }
      .to raise_error(ArgumentError, /duplicate step names a/)
    expect { described_class.new(name: "x", steps: [{ name: "a", handler_class: "A", depends_on: ["b"] }]) }
      .to raise_error(ArgumentError, %r{default/x@0.1.0: step "a" depends on unknown step\(s\) b})
    expect { described_class.new(name: "x", steps: []) }.to raise_error(ArgumentError, /no steps/)
    expect { described_class.new(name: "", steps: [{ name: "a", handler_class: "A" }]) }.to raise_error(ArgumentError)
  end

  it "compares by value" do
    expect(template).to eq(described_class.new(name: "order", namespace: "shop", version: "1.2.0", steps: steps))
    expect(template).not_to eq(described_class.new(name: "order", namespace: "shop", version: "1.3.0", steps: steps))
  end

  describe "with the library", :integration do
    with_tasker_schema

    it "creates a task whose steps have the template's dependencies and retry settings" do
      name = unique_name("template")
      t = described_class.new(name: name, namespace: "shop", version: "1.2.0", steps: steps)
      created = client.create_task(t.to_task_spec(context: { "cart_id" => 1 }))
      rows = client.step_readiness(created.task_id).to_h { |r| [r.name, r] }
      expect(rows.keys).to contain_exactly("validate_cart", "charge", "ship")
      expect(rows["charge"]).to have_attributes(retry_limit: 5, retryable: true, total_parents: 1)
      expect(rows["ship"]).to have_attributes(retry_limit: 3, retryable: false)
      expect(rows["validate_cart"]).to be_ready
      expect(client.claim_steps(worker_id: "w", task_id: created.task_id).first)
        .to have_attributes(task_name: name, namespace: "shop", version: "1.2.0", task_context: { "cart_id" => 1 })
    end

    it "lets the library find a cycle in a spec that no template checked" do
      spec = { name: unique_name("cyclic"), steps: [{ name: "a", depends_on: ["b"] }, { name: "b", depends_on: ["a"] }] }
      expect { client.create_task(spec) }.to raise_error(TaskerCore::DependencyCycleError)
    end
  end
end
