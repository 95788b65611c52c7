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
end
