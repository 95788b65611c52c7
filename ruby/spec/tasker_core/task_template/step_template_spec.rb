# frozen_string_literal: true

RSpec.describe TaskerCore::TaskTemplate::StepTemplate do
  it "is built from a Hash with symbol or string keys" do
    step = described_class.from_h("name" => "charge", "handler_class" => "Shop::Charge", "depends_on" => ["cart"],
                                  "retry_limit" => 5, "retryable" => true, "handler_config" => { "x" => 1 })
    expect(step).to have_attributes(name: "charge", handler_class: "Shop::Charge", depends_on: ["cart"], retry_limit: 5,
                                    retryable: true, handler_config: { "x" => 1 })
    expect(step).to be_frozen
  end

  it "gives its part of the task spec, leaving unset settings to the library" do
    step = described_class.new(name: :charge, handler_class: "Shop::Charge", depends_on: [:cart])
    expect(step.to_step_spec).to eq(name: "charge", depends_on: ["cart"])
    full = described_class.new(name: "x", handler_class: "X", retry_limit: 0, retryable: false, skippable: true,
                               dependent_system: "payments", inputs: { "a" => 1 })
    expect(full.to_step_spec).to eq(name: "x", depends_on: [], retry_limit: 0, retryable: false, skippable: true,
                                    dependent_system: "payments", inputs: { "a" => 1 })
  end

  it "accepts a Class as handler_class" do
    step = described_class.new(name: "x", handler_class: TaskerCore::StepHandler::Base)
    expect(step.handler_class_name).to eq("TaskerCore::StepHandler::Base")
  end

  it "refuses a missing name or handler class, a bad retry_limit and unknown keys" do
    expect { described_class.new(name: "", handler_class: "X") }.to raise_error(ArgumentError, /name/)
    expect { described_class.new(name: "x", handler_class: "") }.to raise_error(ArgumentError, /"x" needs a handler_class/)
    expect { described_class.new(name: "x", handler_class: "X", retry_limit: -1) }.to raise_error(ArgumentError, /retry_limit/)
    expect { described_class.from_h(name: "x", handler_class: "X", colour: 1) }.to raise_error(ArgumentError, /colour/)
    expect { described_class.from_h(name: "x") }.to raise_error(ArgumentError, /handler_class/)
  end
end
