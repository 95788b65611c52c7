# frozen_string_literal: true

require "stringio"

module StepTimeoutSpecHandlers
  # Waits up to +seconds+ for an item in +queue+ (Queue#pop(timeout:) is Ruby 3.2+). → the item or nil
  def self.pop(queue, seconds)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
    loop do
      return queue.pop(true) unless queue.empty?
      return nil if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

      sleep 0.01
    end
  rescue ThreadError # emptied meanwhile
    retry
  end

  # Hangs (sleeps 4 s) on the first attempt, returns at once on the next ones.
  class SleepsFirst < TaskerCore::StepHandler::Base
    ATTEMPTS = Queue.new

    def call(_task, _sequence, step)
      ATTEMPTS << step.attempts
      sleep 4 if step.attempts == 1
      { "attempt" => step.attempts }
    end
  end

  # Attempt 1 hangs until attempt 2 has started, then returns; attempt 2 returns
  # only after attempt 1 has returned: attempt 1's late result arrives while
  # this worker holds the step again.
  class Overlapping < TaskerCore::StepHandler::Base
    SECOND_STARTED = Queue.new
    FIRST_RETURNED = Queue.new

    def call(_task, _sequence, step)
      if step.attempts == 1
        StepTimeoutSpecHandlers.pop(SECOND_STARTED, 20)
        FIRST_RETURNED << true
      else
        SECOND_STARTED << true
        StepTimeoutSpecHandlers.pop(FIRST_RETURNED, 20)
        sleep 0.3 # let the worker see attempt 1's result before this one
      end
      { "attempt" => step.attempts }
    end
  end

  # Records the results of the step it depends on.
  class Follower < TaskerCore::StepHandler::Base
    SEEN = Queue.new

    def call(_task, sequence, _step)
      SEEN << sequence["nap"]
      {}
    end
  end
end

# A handler running past its step's timeout: the worker stops renewing the
# step's lease, lease recovery fails the attempt, the step is retried, and the
# hung handler's late result is refused.
RSpec.describe "Orchestration: step timeout", :integration do
  with_tasker_schema(retry_policy: { strategy: "fixed", base_seconds: 0.05, multiplier: 1, cap_seconds: 1, jitter: 0 })

  let(:namespace) { "rspec_timeouts" }
  let(:log) { StringIO.new }
  let(:logger) { Logger.new(log, level: Logger::INFO) }

  before do
    [StepTimeoutSpecHandlers::SleepsFirst::ATTEMPTS, StepTimeoutSpecHandlers::Overlapping::SECOND_STARTED,
     StepTimeoutSpecHandlers::Overlapping::FIRST_RETURNED, StepTimeoutSpecHandlers::Follower::SEEN].each(&:clear)
  end

  # A successor-format template whose step "nap" has timeout_seconds: 1,
  # registered in the database only (no TaskerCore.register_task).
  def register(handler, follower: false)
    name = unique_name("timeout")
    yaml = <<~YAML
      name: #{name}
      namespace_name: #{namespace}
      version: 1.0.0
      steps:
        - name: nap
          handler:
            callable: #{handler}
          retry:
            retryable: true
            max_attempts: 3
          timeout_seconds: 1
    YAML
    if follower
      yaml += <<~YAML.gsub(/^/, "  ")
        - name: after
          handler:
            callable: StepTimeoutSpecHandlers::Follower
          dependencies: [nap]
      YAML
    end
    client.register_templates(yaml: yaml, file: "#{name}.yaml")
    client.create_task_from_template(name: name, namespace: namespace, version: "1.0.0")
  end

  def done?(task)
    %w[complete error].include?(client.task_execution_context(task.task_id).status)
  end

  # Runs the worker until the task is done; a hang fails the example after 30 s.
  def run_until_done(worker, task)
    thread = Thread.new { worker.run(install_signal_traps: false, until: -> { done?(task) }) }
    thread.report_on_exception = false
    unless thread.join(30)
      worker.stop
      worker.stop
      thread.join(5)
      raise RSpec::Expectations::ExpectationNotMetError,
            "the task did not finish within 30 s\n#{log.string.lines.last(20).join}"
    end
    thread.value
  end

  it "stops renewing a hung handler's lease so the attempt fails by lease expiry and is retried; " \
     "the late result is refused" do
    task = register("StepTimeoutSpecHandlers::SleepsFirst")
    step_id = task.step_id("nap")
    worker = TaskerCore::Worker.new(client: client, concurrency: 1, lease_seconds: 1.5, heartbeat_interval: 0.3,
                                    recovery_interval: 0.3, logger: logger)
    expect(worker.step_timeout).to eq(300.0) # the template's timeout_seconds wins over the worker's

    stats = run_until_done(worker, task)

    expect(client.task_execution_context(task.task_id).status).to eq("complete")
    trail = client.step_transitions(step_id)
    expect(trail.map(&:to_state)).to eq(%w[pending in_progress error pending in_progress complete])
    expect(trail[2].metadata).to include("reason" => "lease_expired", "claimed_by" => worker.worker_id)
    attempts = []
    attempts << StepTimeoutSpecHandlers::SleepsFirst::ATTEMPTS.pop until StepTimeoutSpecHandlers::SleepsFirst::ATTEMPTS.empty?
    expect(attempts).to eq([1, 2])

    # The late result of attempt 1 came back after recovery and was refused, quietly.
    expect(stats).to include(timed_out: 1, recovered: 1, rejected: 1, completed: 1)
    expect(stats[:errors]).to eq(0)
    expect(log.string).to match(
      /step #{step_id} \(nap\) of task #{task.task_id} \(correlation id #{Regexp.escape(task.correlation_id)}\) has run past its timeout of 1s; no longer renewing its lease/
    )
    expect(log.string).to match(/the late result of step #{step_id} \(it ran 4\.\ds, past its timeout of 1s\) was refused/)
  end

  it "drops the late result of a hung handler when this worker holds the step again" do
    task = register("StepTimeoutSpecHandlers::Overlapping", follower: true)
    worker = TaskerCore::Worker.new(client: client, concurrency: 2, lease_seconds: 1.5, heartbeat_interval: 0.3,
                                    recovery_interval: 0.3, logger: logger)

    stats = run_until_done(worker, task)

    expect(client.task_execution_context(task.task_id).status).to eq("complete"), log.string
    # The step's results are attempt 2's: attempt 1's result was not reported
    # under attempt 2's claim (the library checks only the holder's id).
    expect(StepTimeoutSpecHandlers.pop(StepTimeoutSpecHandlers::Follower::SEEN, 1)).to eq("attempt" => 2)
    expect(stats).to include(timed_out: 1, discarded: 1, completed: 2)
    expect(stats[:rejected]).to eq(0)
    expect(log.string).to include("dropped the late result of attempt 1 of step #{task.step_id('nap')}")
    expect(client.step_transitions(task.step_id("nap")).map(&:to_state))
      .to eq(%w[pending in_progress error pending in_progress complete])
  end
end
