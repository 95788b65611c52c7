# frozen_string_literal: true

module DatabaseTemplateSpecHandlers
  # Records the handler_config it was built with, and returns it.
  class Configured < TaskerCore::StepHandler::Base
    SEEN = Queue.new

    def call(_task, sequence, step)
      SEEN << [step.name, config, sequence.names]
      { "config" => config }
    end
  end
end

# Tasks of YAML templates registered in the database (Client#register_templates)
# run in a Worker with no Ruby-side TaskerCore.register_task: the claimed steps
# carry their handler_class and handler_config.
RSpec.describe "Orchestration: templates from the database", :integration do
  with_tasker_schema

  let(:namespace) { "rspec_db_templates" }

  before { DatabaseTemplateSpecHandlers::Configured::SEEN.clear }

  def register_engine_template(name, second_handler: "DatabaseTemplateSpecHandlers::Configured")
    client.register_templates(yaml: <<~YAML, file: "#{name}.yaml")
      name: #{name}
      namespace_name: #{namespace}
      version: 2.1.0
      task_handler_class: DatabaseTemplateSpecHandlers::Task
      step_templates:
        - name: first
          handler_class: DatabaseTemplateSpecHandlers::Configured
          handler_config:
            greeting: hello
            limits: {max: 3}
        - name: second
          handler_class: #{second_handler}
          depends_on_step: first
          default_retry_limit: 1
          default_retryable: false
    YAML
  end

  it "runs a task of an engine-format template with the template's handler classes and handler_config" do
    name = unique_name("db_template")
    register_engine_template(name)
    expect(TaskerCore.handler_registry.find(name: name, namespace: namespace, version: "2.1.0")).to be_nil

    task = client.create_task_from_template(name: name, namespace: namespace, version: "2.1.0", context: { "n" => 1 })
    result = TaskerCore.run_task(task, timeout: 30, client: client, concurrency: 2)

    expect(result).to be_complete
    seen = []
    seen << DatabaseTemplateSpecHandlers::Configured::SEEN.pop until DatabaseTemplateSpecHandlers::Configured::SEEN.empty?
    expect(seen).to eq([["first", { "greeting" => "hello", "limits" => { "max" => 3 } }, []],
                        ["second", {}, ["first"]]])
    expect(seen.first[1]).to be_frozen
  end

  it "fails the step whose handler_class names no defined constant, saying so" do
    name = unique_name("db_template_missing")
    register_engine_template(name, second_handler: "DatabaseTemplateSpecHandlers::Missing")
    task = client.create_task_from_template(name: name, namespace: namespace, version: "2.1.0")
    result = TaskerCore.run_task(task, timeout: 30, client: client)

    expect(result.execution_context.status).to eq("error")
    failed = client.step_transitions(task.step_id("second")).find { |t| t.to_state == "error" }
    expect(failed.metadata["error"])
      .to match(/handler_class DatabaseTemplateSpecHandlers::Missing of step "second" in task template #{namespace}\/#{name}@2\.1\.0 \(registered in the database\) is not defined/)
  end

  it "prefers a template registered in Ruby under the same name, namespace and version" do
    name = unique_name("db_template_ruby")
    register_engine_template(name)
    ruby_side = Class.new(TaskerCore::StepHandler::Base) do
      def call(_task, _sequence, step) = { "ruby" => step.name }
    end
    stub_const("DatabaseTemplateSpecHandlers::RubySide", ruby_side)
    TaskerCore.register_task(name: name, namespace: namespace, version: "2.1.0",
                             steps: [{ name: "first", handler_class: "DatabaseTemplateSpecHandlers::RubySide" },
                                     { name: "second", handler_class: "DatabaseTemplateSpecHandlers::RubySide",
                                       depends_on: ["first"] }])
    task = client.create_task_from_template(name: name, namespace: namespace, version: "2.1.0")
    expect(TaskerCore.run_task(task, timeout: 30, client: client)).to be_complete
    expect(DatabaseTemplateSpecHandlers::Configured::SEEN).to be_empty
  ensure
    TaskerCore.handler_registry.unregister(name: name, namespace: namespace, version: "2.1.0")
  end
end
