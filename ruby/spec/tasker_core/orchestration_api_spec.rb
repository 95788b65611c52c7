# frozen_string_literal: true

# The module functions of lib/tasker_core.rb for task templates and runs.
RSpec.describe "TaskerCore task templates and runs", :integration do
  with_tasker_schema

  before(:context) { TaskerCoreSpec::OrchestrationTemplates.register_all }

  let(:namespace) { TaskerCoreSpec::OrchestrationTemplates::NAMESPACE }

  it "creates a task of a registered template, with its context and other spec fields" do
    task = TaskerCore.create_task(name: "diamond", namespace: namespace, version: "0.1.0", client: client,
                                  context: { "order" => 5 }, initiator: "rspec", reason: "a test")
    expect(task).to be_created
    expect(task.step_ids.keys).to contain_exactly("A", "B", "C", "D")
    claimed = client.claim_steps(worker_id: "w", task_id: task.task_id)
    expect(claimed.map(&:step_name)).to eq(["A"])
    expect(claimed.first).to have_attributes(task_name: "diamond", namespace: namespace, task_context: { "order" => 5 })
  end

  it "raises TemplateNotFoundError for a template that is not registered" do
    expect { TaskerCore.create_task(name: "diamond", namespace: namespace, version: "9.0.0", client: client) }
      .to raise_error(TaskerCore::TemplateNotFoundError, %r{#{namespace}/diamond@9\.0\.0})
  end

  it "runs a task with TaskerCore.run_task" do
    task = TaskerCore.create_task(name: "fan_out", namespace: namespace, client: client)
    result = TaskerCore.run_task(task, timeout: 60, client: client, concurrency: 4)
    expect(result).to be_complete
    expect(result.attempts.values).to all(eq(1))
    expect(result.steps.size).to eq(5)
  end

  it "swaps the process's registry only for a HandlerRegistry" do
    previous = TaskerCore.handler_registry
    fresh = TaskerCore::HandlerRegistry.new
    TaskerCore.handler_registry = fresh
    expect(TaskerCore.handler_registry).to equal(fresh)
    expect { TaskerCore.handler_registry = {} }.to raise_error(ArgumentError)
  ensure
    TaskerCore.handler_registry = previous
  end
end
