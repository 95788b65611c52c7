# frozen_string_literal: true

module RegistrySpecHandlers
  class Plain
    def call(_task, _sequence, _step)
      { "plain" => true }
    end
  end

  class Configured < TaskerCore::StepHandler::Base
    def call(_task, _sequence, _step)
      config
    end
  end

  class NotAHandler; end
end

RSpec.describe TaskerCore::HandlerRegistry do
  subject(:registry) { described_class.new }

  let(:template) do
    TaskerCore::TaskTemplate.new(
      name: "order", namespace: "shop", version: "1.0.0",
      steps: [{ name: "charge", handler_class: "RegistrySpecHandlers::Configured", handler_config: { "k" => "v" } },
              { name: "plain", handler_class: "RegistrySpecHandlers::Plain", depends_on: ["charge"] },
              { name: "ghost", handler_class: "RegistrySpecHandlers::Ghost", depends_on: ["charge"] },
              { name: "odd", handler_class: "RegistrySpecHandlers::NotAHandler", depends_on: ["charge"] },
              { name: "lower", handler_class: "not a constant", depends_on: ["charge"] }]
    )
  end

  before { registry.register(template) }

  it "finds templates by namespace, name and version" do
    expect(registry.fetch(name: "order", namespace: "shop", version: "1.0.0")).to equal(template)
    expect(registry.find(name: "order", namespace: "shop", version: "2.0.0")).to be_nil
    expect(registry).to be_registered(name: "order", namespace: "shop", version: "1.0.0")
    expect(registry.templates).to eq([template])
  end

  it "replaces a template registered again under the same key" do
    again = TaskerCore::TaskTemplate.new(name: "order", namespace: "shop", version: "1.0.0",
                                         steps: [{ name: "only", handler_class: "X" }])
    registry.register(again)
    expect(registry.size).to eq(1)
    expect(registry.fetch(name: "order", namespace: "shop", version: "1.0.0").step_names).to eq(["only"])
    expect(registry.unregister(name: "order", namespace: "shop", version: "1.0.0")).to eq(again)
    expect(registry.size).to eq(0)
  end

  it "raises TemplateNotFoundError naming the key and what is registered" do
    expect { registry.fetch(name: "order", namespace: "shop", version: "9.9.9") }
      .to raise_error(TaskerCore::TemplateNotFoundError, %r{shop/order@9\.9\.9 \(registered: shop/order@1\.0\.0\)}) { |e|
        expect(e.details).to eq("namespace" => "shop", "name" => "order", "version" => "9.9.9")
        expect(e).to be_a(TaskerCore::OrchestrationError)
      }
  end

  it "resolves handler class names at run time" do
    expect(registry.handler_class_for(template, "plain")).to eq(RegistrySpecHandlers::Plain)
    stub_const("RegistrySpecHandlers::Ghost", Class.new(TaskerCore::StepHandler::Base))
    expect(registry.handler_class_for(template, "ghost")).to eq(RegistrySpecHandlers::Ghost)
  end

  it "raises HandlerNotFoundError naming the template and the step when the constant is missing" do
    expect { registry.handler_class_for(template, "ghost") }
      .to raise_error(TaskerCore::HandlerNotFoundError,
                      %r{RegistrySpecHandlers::Ghost of step "ghost" in task template shop/order@1\.0\.0 is not defined}) { |e|
        expect(e.details).to eq("template" => "shop/order@1.0.0", "step" => "ghost",
                                "handler_class" => "RegistrySpecHandlers::Ghost")
      }
    expect { registry.handler_class_for(template, "lower") }.to raise_error(TaskerCore::HandlerNotFoundError, /"lower"/)
  end

  it "refuses a constant that is not a handler, and an unknown step" do
    expect { registry.handler_class_for(template, "odd") }
      .to raise_error(TaskerCore::HandlerNotFoundError, /NotAHandler of step "odd" .* is not a handler class/)
    expect { registry.handler_class_for(template, "nope") }
      .to raise_error(TaskerCore::HandlerNotFoundError, %r{shop/order@1\.0\.0 has no step "nope"})
  end

  it "makes a new handler for a claimed step, with its handler_config when it takes one" do
    charge = registry.handler_for(claimed_step(step_name: "charge"))
    expect(charge).to be_a(RegistrySpecHandlers::Configured)
    expect(charge.config).to eq("k" => "v")
    expect(registry.handler_for(claimed_step(step_name: "charge"))).not_to equal(charge)
    expect(registry.handler_for(claimed_step(step_name: "plain"))).to be_a(RegistrySpecHandlers::Plain)
    expect { registry.handler_for(claimed_step(namespace: "other")) }.to raise_error(TaskerCore::TemplateNotFoundError)
  end

  describe "a task whose template is registered only in the database" do
    let(:db_step) do
      claimed_step(namespace: "elsewhere", handler_class: "RegistrySpecHandlers::Configured",
                   handler_config: { "from" => "db" }, timeout_seconds: 5)
    end

    it "uses the claimed step's handler_class and handler_config" do
      handler = registry.handler_for(db_step)
      expect(handler).to be_a(RegistrySpecHandlers::Configured)
      expect(handler.config).to eq("from" => "db")
      plain = registry.handler_for(claimed_step(namespace: "elsewhere", handler_class: "RegistrySpecHandlers::Plain"))
      expect(plain).to be_a(RegistrySpecHandlers::Plain)
      no_config = registry.handler_for(claimed_step(namespace: "elsewhere", handler_class: "RegistrySpecHandlers::Configured"))
      expect(no_config.config).to eq({})
    end

    it "prefers a template registered here" do
      handler = registry.handler_for(claimed_step(step_name: "plain", handler_class: "RegistrySpecHandlers::Configured"))
      expect(handler).to be_a(RegistrySpecHandlers::Plain)
    end

    it "raises TemplateNotFoundError only when the claimed step carries no handler_class either" do
      expect { registry.handler_for(claimed_step(namespace: "elsewhere")) }
        .to raise_error(TaskerCore::TemplateNotFoundError,
                        %r{elsewhere/order@1\.0\.0 .* carries no handler_class from a template in the database})
      expect { registry.handler_for(claimed_step(namespace: "elsewhere", handler_class: "")) }
        .to raise_error(TaskerCore::TemplateNotFoundError)
    end

    it "raises HandlerNotFoundError for a handler_class that is not defined or not a handler" do
      expect { registry.handler_for(claimed_step(namespace: "elsewhere", handler_class: "RegistrySpecHandlers::Ghost")) }
        .to raise_error(TaskerCore::HandlerNotFoundError, /Ghost of step "charge" .*registered in the database.* is not defined/) { |e|
          expect(e.details).to include("handler_class" => "RegistrySpecHandlers::Ghost", "source" => "database",
                                       "template" => "elsewhere/order@1.0.0")
        }
      expect { registry.handler_for(claimed_step(namespace: "elsewhere", handler_class: "RegistrySpecHandlers::NotAHandler")) }
        .to raise_error(TaskerCore::HandlerNotFoundError, /is not a handler class/)
    end

    it "reads handler_class, handler_config and timeout_seconds into ClaimedStep" do
      expect(db_step).to have_attributes(handler_class: "RegistrySpecHandlers::Configured",
                                         handler_config: { "from" => "db" }, timeout_seconds: 5)
      expect(db_step.handler_config).to be_frozen
      expect(claimed_step(handler_class: "", handler_config: nil, timeout_seconds: 0))
        .to have_attributes(handler_class: nil, handler_config: nil, timeout_seconds: 0)
      expect(claimed_step).to have_attributes(handler_class: nil, timeout_seconds: 0)
    end
  end

  it "is the process's registry behind TaskerCore.register_task" do
    name = unique_name("registered")
    registered = TaskerCore.register_task(name: name, steps: [{ name: "a", handler_class: "A" }])
    expect(TaskerCore.handler_registry.fetch(name: name)).to equal(registered)
    expect(registered.label).to eq("default/#{name}@0.1.0")
    TaskerCore.handler_registry.unregister(name: name)
  end
end
