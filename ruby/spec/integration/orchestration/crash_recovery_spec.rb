# frozen_string_literal: true

# A worker process dies (SIGKILL) holding a step; a live worker recovers the step
# once its lease expires and finishes the task.
RSpec.describe "Orchestration: crash recovery", :integration do
  with_tasker_schema(retry_policy: { strategy: "fixed", base_seconds: 0.05, multiplier: 1, cap_seconds: 1, jitter: 0 })

  before(:context) { TaskerCoreSpec::OrchestrationTemplates.register_all }

  let(:lease) { 1.5 }

  it "retries the dead worker's step once, with an audit trail naming the dead worker" do
    Dir.mktmpdir do |dir|
      marker = File.join(dir, "marker.log")
      task = TaskerCore.create_task(name: "crash", namespace: TaskerCoreSpec::OrchestrationTemplates::NAMESPACE,
                                    client: client,
                                    context: { "marker_file" => marker, "hang" => { "X" => 30 }, "log_dir" => dir })
      doomed = spawn_worker(tasker_schema, dir: dir, concurrency: 1, lease_seconds: lease, task_id: task.task_id)
      wait_until(timeout: 60, message: -> { "the worker never ran X\n#{doomed.describe}" }) do
        File.exist?(marker) && File.readlines(marker).size == 1
      end
      dead_id = doomed.worker_id
      expect(dead_id).not_to be_nil, doomed.describe
      Process.kill("KILL", doomed.pid)
      expect(wait_for_exit(doomed, timeout: 30).termsig).to eq(Signal.list["KILL"])

      x_id = task.step_id("X")
      expect(client.step_transitions(x_id).last.to_state).to eq("in_progress") # nobody reported it

      events = []
      rescuer = TaskerCore::Worker.new(client: client, concurrency: 2, lease_seconds: lease, recovery_interval: 0.1,
                                       on_event: ->(event, data) { events << [event, data[:step_id]] })
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 60
      rescuer.run(install_signal_traps: false,
                  until: lambda {
                    events.any? { |e, _| e == :task_completed } ||
                      Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
                  })
      context = client.task_execution_context(task.task_id)
      expect(context.status).to eq("complete"), "task not complete: #{context.inspect}\nevents #{events.inspect}"

      # The handler of X ran at most once more: the dead run and the retry.
      lines = File.readlines(marker, chomp: true)
      expect(lines.size).to eq(2), lines.inspect
      expect(lines.map { |l| l.split(",")[2] }).to eq(%w[1 2])

      trail = client.step_transitions(x_id)
      expect(trail.map { |t| [t.from_state, t.to_state] })
        .to eq([["", "pending"], %w[pending in_progress], %w[in_progress error], %w[error pending],
                %w[pending in_progress], %w[in_progress complete]])
      expect(trail[1].metadata["worker_id"]).to eq(dead_id)
      expect(trail[2].metadata).to include("reason" => "lease_expired", "claimed_by" => dead_id,
                                           "recovered_by" => rescuer.worker_id, "event" => "step.failed")
      expect(trail[3].event).to eq("step.retry_requested")
      expect(trail[4].metadata["worker_id"]).to eq(rescuer.worker_id)
      expect(trail[5].metadata["worker_id"]).to eq(rescuer.worker_id)
      # The lease ran out before the step was recovered (ordering of recorded times).
      expect(trail[2].created_at - trail[1].created_at).to be >= lease
      expect(events).to include([:recovered, x_id])
      expect(client.step_readiness(task.task_id, step_ids: [x_id]).first.attempts).to eq(2)
    end
  end
end
