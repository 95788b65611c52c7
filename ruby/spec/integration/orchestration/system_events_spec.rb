# frozen_string_literal: true

# System events reach Ruby like the others: a worker process is SIGKILLed while
# it runs a step; the worker of this process recovers its lease. The durable
# system.worker.* events (the dead worker's own started, its presumed_dead, the
# rescuer's started and stopped) arrive through a Listener, the live-only
# library.warning.leases_recovered through a LiveRelay, and every one of them
# through TaskerCore::Events.subscribe("system.*" / "library.*"),
# ActiveSupport::Notifications and dry-events.
TaskerCoreSpec::DryEvents.load!

RSpec.describe "Orchestration: system events", :integration do
  with_tasker_schema(retry_policy: { strategy: "fixed", base_seconds: 0.05, multiplier: 1, cap_seconds: 1, jitter: 0 })

  before(:context) { TaskerCoreSpec::OrchestrationTemplates.register_all }

  after do
    TaskerCore::Events.reset!
    TaskerCore::Events::DryEventsBridge.reset! if TaskerCore::Events::DryEventsBridge.available?
  end

  let(:lease) { 1.5 }
  let(:notifications) do
    Module.new do
      def self.calls
        @calls ||= Queue.new
      end

      def self.instrument(name, payload = {})
        calls << [name, payload]
      end
    end
  end

  it "tells every subscriber that a killed worker is presumed dead, with its step count" do
    stub_const("ActiveSupport::Notifications", notifications)
    dry_seen = Queue.new
    if TaskerCore::Events::DryEventsBridge.available?
      TaskerCore::Events::DryEventsBridge.register_catalog(client)
      TaskerCore::Events::DryEventsBridge.publisher.subscribe("system.worker.presumed_dead") { |e| dry_seen << e }
    end
    seen = Queue.new
    TaskerCore::Events.subscribe("system.*") { |e| seen << e }
    TaskerCore::Events.subscribe("library.*") { |e| seen << e }

    Dir.mktmpdir do |dir|
      marker = File.join(dir, "marker.log")
      task = TaskerCore.create_task(name: "crash", namespace: TaskerCoreSpec::OrchestrationTemplates::NAMESPACE,
                                    client: client,
                                    context: { "marker_file" => marker, "hang" => { "X" => 30 }, "log_dir" => dir })
      doomed = spawn_worker(tasker_schema, dir: dir, concurrency: 1, lease_seconds: lease)
      wait_until(timeout: 60, message: -> { "the worker never ran X\n#{doomed.describe}" }) do
        File.exist?(marker) && File.readlines(marker).size == 1
      end
      dead_id = doomed.worker_id
      Process.kill("KILL", doomed.pid)
      expect(wait_for_exit(doomed, timeout: 30).termsig).to eq(Signal.list["KILL"])

      listener = TaskerCore::Events::Listener.new(client: client, subscriber: "ops", wait_ms: 100, from: :beginning).start
      relay = TaskerCore::Events::LiveRelay.new(client: client, patterns: "library.*", wait_ms: 100).start
      done = false
      rescuer = TaskerCore::Worker.new(client: client, concurrency: 2, lease_seconds: lease, recovery_interval: 0.1,
                                       on_event: ->(event, _) { done ||= event == :task_completed })
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 60
      rescuer.run(install_signal_traps: false,
                  until: -> { done || Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline })
      expect(client.task_execution_context(task.task_id).status).to eq("complete")

      events = []
      wanted = lambda do
        names = events.map { |e| [e.name, e.payload["worker_id"] || e.payload["recovered_by"]] }
        [["system.worker.started", dead_id], ["system.worker.presumed_dead", dead_id],
         ["system.worker.started", rescuer.worker_id], ["system.worker.stopped", rescuer.worker_id],
         ["library.warning.leases_recovered", rescuer.worker_id]].all? { |pair| names.include?(pair) }
      end
      wait_until(timeout: 30, message: -> { "system events seen: #{events.map(&:name).inspect}" }) do
        events << seen.pop until seen.empty?
        wanted.call
      end
      listener.stop
      relay.stop

      dead = events.find { |e| e.name == "system.worker.presumed_dead" }
      expect(dead.payload).to include("worker_id" => dead_id, "recovered_by" => rescuer.worker_id, "steps" => 1,
                                      "step_ids" => [task.step_id("X")])
      expect(dead.task_id).to be_nil
      expect(dead).to be_durable
      started = events.find { |e| e.name == "system.worker.started" && e.payload["worker_id"] == dead_id }
      expect(started.payload).to include("pid" => doomed.pid, "concurrency" => 1)
      stopped = events.find { |e| e.name == "system.worker.stopped" }
      expect(stopped.payload["stats"]).to include("completed" => be >= 1)
      recovered = events.find { |e| e.name == "library.warning.leases_recovered" }
      expect(recovered).not_to be_durable
      expect(recovered.payload).to include("steps" => 1, "failed" => 1)

      instrumented = []
      instrumented << notifications.calls.pop until notifications.calls.empty?
      expect(instrumented.map(&:first)).to include("system.worker.presumed_dead", "library.warning.leases_recovered")
      expect(instrumented.find { |n, _| n == "system.worker.presumed_dead" }.last).to include("worker_id" => dead_id,
                                                                                             "task_id" => nil)
      if TaskerCore::Events::DryEventsBridge.available?
        expect(dry_seen.pop(timeout: 5)[:worker_id]).to eq(dead_id)
      end
    end
  end
end
