# frozen_string_literal: true

require "stringio"

RSpec.describe TaskerCore::TaskRunner, :integration do
  with_tasker_schema

  before(:context) { TaskerCoreSpec::OrchestrationTemplates.register_all }

  let(:namespace) { TaskerCoreSpec::OrchestrationTemplates::NAMESPACE }

  def create(name, **context)
    TaskerCore.create_task(name: name, namespace: namespace, client: client, context: context)
  end

  it "runs a task given by id and returns its final status, context, attempts and durations" do
    task = create("linear")
    result = described_class.new(task.task_id, timeout: 60, client: client, concurrency: 1).run
    expect(result).to be_complete
    expect(result.task_id).to eq(task.task_id)
    expect(result.execution_context).to be_complete
    expect(result.steps.map(&:name)).to eq(%w[s1 s2 s3])
    expect(result.attempts).to eq("s1" => 1, "s2" => 1, "s3" => 1)
    expect(result.durations.values).to all(be >= 0)
    expect(result.elapsed).to be > 0
    expect(result.worker_stats).to include(claimed: 3, completed: 3)
    expect(result.step("s2").attempts.first.worker_id).to match(/:#{Process.pid}:/)
    expect { result.step("nope") }.to raise_error(KeyError)
  end

  it "claims only the task's own steps" do
    other = create("single")
    task = create("single")
    TaskerCore.run_task(task, timeout: 60, client: client)
    expect(client.task_execution_context(task.task_id).status).to eq("complete")
    expect(client.task_execution_context(other.task_id).status).to eq("pending")
  end

  it "returns at once for a task that has already finished" do
    task = create("single")
    first = TaskerCore.run_task(task, timeout: 60, client: client)
    again = TaskerCore.run_task(task, timeout: 60, client: client)
    expect(again).to be_complete
    expect(again.worker_stats).to eq({})
    expect(again.attempts).to eq(first.attempts)
  end

  it "raises TimeoutError when the task has not finished in time, leaving the running step to lease recovery" do
    Dir.mktmpdir do |dir|
      task = create("slow", "marker_file" => File.join(dir, "m"), "hang" => { "S" => 30 })
      log = StringIO.new
      expect { TaskerCore.run_task(task, timeout: 0.5, client: client, logger: Logger.new(log)) }
        .to raise_error(TaskerCore::TimeoutError, /task #{task.task_id} did not finish within 0.5s \(status in_progress/) { |e|
          expect(e.details).to include("task_id" => task.task_id, "status" => "in_progress")
        }
      expect(client.step_transitions(task.step_id("S")).last.to_state).to eq("in_progress")
      expect(log.string).to include("stopped with 1 step(s) unreported (#{task.step_id('S')})")
    end
  end

  it "passes events to on_event" do
    events = []
    TaskerCore.run_task(create("single"), timeout: 60, client: client, on_event: ->(e, _) { events << e })
    expect(events).to eq(%i[claimed completed task_completed])
  end

  it "refuses a timeout that is not a positive number" do
    expect { described_class.new(1, timeout: 0, client: client) }.to raise_error(ArgumentError, /timeout/)
    expect { described_class.new(1, timeout: nil, client: client) }.to raise_error(ArgumentError, /timeout/)
  end
end
