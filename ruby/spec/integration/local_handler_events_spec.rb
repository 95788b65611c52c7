# frozen_string_literal: true

require "securerandom"

module LocalHandlerEventsSpec
  class Ok < TaskerCore::StepHandler::Base
    def call(_task, _sequence, _step)
      { "ok" => true }
    end
  end
end

# The handler-side moments reach this process's subscribers.
RSpec.describe "handler events in the worker's process", :integration do
  with_tasker_schema

  after { TaskerCore::Events.reset! }

  it "publishes step.before_handle, step.handle and observability.step.handle around each handler" do
    name = "local_events_#{SecureRandom.hex(4)}"
    TaskerCore.register_task(name: name, namespace: "rspec_local",
                             steps: [{ name: "only", handler_class: "LocalHandlerEventsSpec::Ok" }])
    seen = []
    lock = Mutex.new
    TaskerCore::Events.subscribe("step.*") { |e| lock.synchronize { seen << e } }
    TaskerCore::Events.subscribe("observability.step.handle") { |e| lock.synchronize { seen << e } }
    task = TaskerCore.create_task(name: name, namespace: "rspec_local", client: client)
    expect(TaskerCore.run_task(task, timeout: 30, client: client, concurrency: 1)).to be_complete

    mine = seen.select { |e| e.task_id == task.task_id }
    expect(mine.map(&:name)).to eq(%w[step.before_handle step.handle observability.step.handle])
    expect(mine.map(&:correlation_id).uniq).to eq([task.correlation_id])
    expect(mine.last.payload).to include("step_name" => "only", "success" => true, "attempt" => 1)
    expect(mine.last.payload["duration_ms"]).to be >= 0
  end

  it "builds none of them when nothing listens (no subscriber, no ActiveSupport subscriber, no dry-events)" do
    hide_const("Dry") if defined?(Dry)
    hide_const("ActiveSupport") if defined?(ActiveSupport)
    name = "local_events_#{SecureRandom.hex(4)}"
    TaskerCore.register_task(name: name, namespace: "rspec_local",
                             steps: [{ name: "only", handler_class: "LocalHandlerEventsSpec::Ok" }])
    allow(TaskerCore::Event).to receive(:new).and_call_original
    task = TaskerCore.create_task(name: name, namespace: "rspec_local", client: client)
    expect(TaskerCore.run_task(task, timeout: 30, client: client, concurrency: 1)).to be_complete
    expect(TaskerCore::Event).not_to have_received(:new).with(hash_including(durable: false))

    # A subscriber to one of them: that one is built again.
    seen = []
    TaskerCore::Events.subscribe("step.handle") { |e| seen << e.name }
    task = TaskerCore.create_task(name: name, namespace: "rspec_local", client: client)
    expect(TaskerCore.run_task(task, timeout: 30, client: client, concurrency: 1)).to be_complete
    expect(seen).to eq(["step.handle"])
    expect(TaskerCore::Event).to have_received(:new).with(hash_including(name: "step.handle", durable: false)).once
  end
end

# The worker's and the task runner's own moments reach this process's subscribers.
RSpec.describe "worker and task runner events in the worker's process", :integration do
  with_tasker_schema

  before(:context) { TaskerCoreSpec::OrchestrationTemplates.register_all }

  after { TaskerCore::Events.reset! }

  let(:namespace) { TaskerCoreSpec::OrchestrationTemplates::NAMESPACE }

  def collect(task, into:, lock:)
    %w[workflow.steps_execution_started workflow.steps_execution_completed observability.task.handle
       step.before_handle observability.step.handle].each do |pattern|
      TaskerCore::Events.subscribe(pattern) { |e| lock.synchronize { into << e } if e.task_id == task.task_id }
    end
  end

  it "publishes workflow.steps_execution_started / _completed around each claimed batch and " \
     "observability.task.handle when the task is done" do
    seen = []
    lock = Mutex.new
    task = TaskerCore.create_task(name: "fan_out", namespace: namespace, client: client, context: {})
    collect(task, into: seen, lock: lock)
    expect(TaskerCore.run_task(task, timeout: 60, client: client, concurrency: 4)).to be_complete

    started = seen.select { |e| e.name == "workflow.steps_execution_started" }
    completed = seen.select { |e| e.name == "workflow.steps_execution_completed" }
    expect(started.size).to be >= 2 # root first, then the leaves (in one claim or more)
    expect(completed.map { |e| e.payload["step_ids"] }).to match_array(started.map { |e| e.payload["step_ids"] })
    expect(started.flat_map { |e| e.payload["step_ids"] }).to match_array(task.step_ids.values)
    (started + completed).each do |e|
      expect(e.payload["task_id"]).to eq(task.task_id)
      expect(e.payload["worker_id"]).to be_a(String).and(match(/:#{Process.pid}:/))
      expect([e.correlation_id, e.namespace, e.task_name, e.durable?])
        .to eq([task.correlation_id, namespace, "fan_out", false])
    end
    expect(completed.map { |e| e.payload["duration_ms"] }).to all(be >= 0)

    # started before its steps' handlers, completed after them
    started.each do |batch|
      finished = seen.index { |e| e.name == "workflow.steps_execution_completed" && e.payload["step_ids"] == batch.payload["step_ids"] }
      batch.payload["step_ids"].each do |step_id|
        before = seen.index { |e| e.name == "step.before_handle" && e.step_id == step_id }
        handled = seen.index { |e| e.name == "observability.step.handle" && e.step_id == step_id }
        expect(seen.index(batch)).to be < before
        expect(handled).to be < finished
      end
    end

    handle = seen.select { |e| e.name == "observability.task.handle" }
    expect(handle.size).to eq(1)
    expect(handle.first).to eq(seen.last)
    expect(handle.first.payload).to include("task_id" => task.task_id, "status" => "complete", "timed_out" => false)
    expect(handle.first.payload["duration_ms"]).to be > 0
    expect([handle.first.correlation_id, handle.first.namespace, handle.first.task_name, handle.first.durable?])
      .to eq([task.correlation_id, namespace, "fan_out", false])
  end

  it "publishes observability.task.handle when run_task times out too" do
    seen = []
    lock = Mutex.new
    task = TaskerCore.create_task(name: "single", namespace: namespace, client: client,
                                  context: { "sleep" => { "only" => 5 } })
    collect(task, into: seen, lock: lock)
    expect { TaskerCore.run_task(task, timeout: 0.3, client: client, concurrency: 1) }
      .to raise_error(TaskerCore::TimeoutError)
    handle = seen.select { |e| e.name == "observability.task.handle" }
    expect(handle.map(&:payload)).to contain_exactly(include("task_id" => task.task_id, "status" => "in_progress",
                                                             "timed_out" => true))
    expect(seen.map(&:name)).to include("workflow.steps_execution_started")
    expect(seen.map(&:name)).not_to include("workflow.steps_execution_completed") # abandoned, never reported
  end
end
