# frozen_string_literal: true

require "delegate"
require "stringio"

RSpec.describe TaskerCore::Worker do
  describe "options" do
    it "names itself host:pid:random" do
      id = described_class.new.worker_id
      expect(id).to match(/\A[^:]+:#{Process.pid}:\h{8}\z/)
      expect(described_class.new.worker_id).not_to eq(id)
      expect(described_class.new(worker_id: "mine").worker_id).to eq("mine")
    end

    it "refuses bad values when built" do
      expect { described_class.new(concurrency: 0) }.to raise_error(ArgumentError, /concurrency/)
      expect { described_class.new(concurrency: 1.5) }.to raise_error(ArgumentError, /concurrency/)
      expect { described_class.new(lease_seconds: -1) }.to raise_error(ArgumentError, /lease_seconds/)
      expect { described_class.new(poll_interval: 0) }.to raise_error(ArgumentError, /poll_interval/)
      expect { described_class.new(shutdown_timeout: -1) }.to raise_error(ArgumentError, /shutdown_timeout/)
      expect { described_class.new(step_timeout: -1) }.to raise_error(ArgumentError, /step_timeout/)
      expect { described_class.new(step_timeout: "5") }.to raise_error(ArgumentError, /step_timeout/)
      expect { described_class.new(on_event: :nope) }.to raise_error(ArgumentError, /on_event/)
    end

    it "refuses a bad value set on TaskerCore.worker_config, naming it" do
      TaskerCore.worker_config.error_pause = 0
      expect { described_class.new }.to raise_error(ArgumentError, /error_pause \(from TaskerCore\.worker_config\)/)
      expect(described_class.new(error_pause: 0.5)).to be_a(described_class) # a keyword argument wins
    ensure
      TaskerCore.worker_config.reset!
    end

    it "does not read any configuration when built (a worker may be built before a fork)" do
      lazy = Object.new
      def lazy.effective_config = raise("read too early")
      worker = described_class.new(client: lazy)
      expect(worker.inspect).to include(worker.worker_id)
      expect { worker.concurrency }.to raise_error(RuntimeError, "read too early")
    end

    it "needs no configuration when every setting is given" do
      silent = Object.new
      def silent.effective_config = raise("not needed")
      worker = described_class.new(client: silent, concurrency: 2, lease_seconds: 3, heartbeat_interval: 1,
                                   poll_interval: 0.01, recovery_interval: 2, shutdown_timeout: 0, error_pause: 0.5,
                                   step_timeout: 0, report_isolation_failures: 4, claim_ahead: 0)
      expect(worker.settings).to eq(concurrency: 2, lease_seconds: 3.0, heartbeat_interval: 1.0, poll_interval: 0.01,
                                    recovery_interval: 2.0, shutdown_timeout: 0.0, error_pause: 0.5, step_timeout: 0.0,
                                    report_isolation_failures: 4, claim_ahead: 0)
    end
  end

  describe "settings from the client's configuration", :integration do
    with_tasker_schema(execution: { max_concurrent_steps: 3, lease_seconds: 12, heartbeat_interval_seconds: 2,
                                    poll_interval_ms: 20 })

    after { TaskerCore.worker_config.reset! }

    it "takes every setting the caller does not give from the client's effective configuration" do
      worker = described_class.new(client: client)
      expect(worker).to have_attributes(concurrency: 3, lease_seconds: 12.0, heartbeat_interval: 2.0,
                                        poll_interval: 0.02)
      # the keys the client was not given keep their documented defaults (docs/configuration.md)
      expect(worker).to have_attributes(recovery_interval: 5.0, shutdown_timeout: 25.0, error_pause: 1.0,
                                        step_timeout: 300.0)
      expect(worker).to be_recover_leases
      expect(worker.registry).to equal(TaskerCore.handler_registry)
    end

    it "reads the configuration once per worker, when first needed" do
      counting = Class.new(SimpleDelegator) do
        attr_reader :reads

        def effective_config
          @reads = (@reads || 0) + 1
          __getobj__.effective_config
        end
      end.new(client)
      worker = described_class.new(client: counting)
      expect(counting.reads).to be_nil
      worker.concurrency
      worker.lease_seconds
      worker.settings
      expect(counting.reads).to eq(1)
    end

    it "lets a keyword argument beat the configuration" do
      worker = described_class.new(client: client, concurrency: 7, lease_seconds: 30, heartbeat_interval: 5,
                                   poll_interval: 0.5)
      expect(worker).to have_attributes(concurrency: 7, lease_seconds: 30.0, heartbeat_interval: 5.0, poll_interval: 0.5)
    end

    it "lets TaskerCore.worker_config beat the configuration, but not a keyword argument" do
      TaskerCore.worker_config.concurrency = 9
      TaskerCore.worker_config.poll_interval = 0.1
      TaskerCore.worker_config.recover_leases = false
      worker = described_class.new(client: client, poll_interval: 0.2)
      expect(worker).to have_attributes(concurrency: 9, poll_interval: 0.2, lease_seconds: 12.0)
      expect(worker).not_to be_recover_leases
      expect(described_class.new(client: client, recover_leases: true)).to be_recover_leases
    end

    it "keeps the heartbeat below a lease set above the configuration" do
      expect(described_class.new(client: client, lease_seconds: 3).heartbeat_interval).to eq(1.0)
      expect(described_class.new(client: client, lease_seconds: 30).heartbeat_interval).to eq(2.0)
      expect(described_class.new(client: client, lease_seconds: 3, heartbeat_interval: 2.5).heartbeat_interval).to eq(2.5)
      TaskerCore.worker_config.lease_seconds = 1.5
      expect(described_class.new(client: client).heartbeat_interval).to eq(0.5)
    end
  end

  describe "running", :integration do
    with_tasker_schema(retry_policy: { strategy: "fixed", base_seconds: 0.05, multiplier: 1, cap_seconds: 1, jitter: 0 })

    before(:context) { TaskerCoreSpec::OrchestrationTemplates.register_all }

    let(:namespace) { TaskerCoreSpec::OrchestrationTemplates::NAMESPACE }
    let(:log) { StringIO.new }
    let(:logger) { Logger.new(log, level: Logger::INFO) }
    let(:dir) { Dir.mktmpdir }

    after { FileUtils.remove_entry(dir) }

    def create(name, **context)
      TaskerCore.create_task(name: name, namespace: namespace, client: client, context: { "log_dir" => dir }.merge(context))
    end

    def status(task)
      client.task_execution_context(task.task_id).status
    end

    # Runs the worker in a thread; fails (instead of hanging) if it has not
    # returned within +deadline+ seconds.
    def run_in_thread(worker, deadline: 60, **options)
      thread = Thread.new { worker.run(install_signal_traps: false, **options) }
      thread.report_on_exception = false
      [thread, deadline]
    end

    def join(thread, deadline)
      expect(thread.join(deadline)).not_to be_nil, "the worker did not return within #{deadline}s"
      thread.value
    end

    def done?(*tasks)
      tasks.all? { |t| %w[complete error].include?(status(t)) }
    end

    it "runs the tasks of every registered template until told to stop, and counts what it did" do
      tasks = %w[single linear diamond fan_out].map { |shape| create(shape) }
      worker = described_class.new(client: client, concurrency: 3, logger: logger)
      stats = worker.run(install_signal_traps: false, until: -> { done?(*tasks) })
      expect(tasks.map { |t| status(t) }).to all(eq("complete"))
      expect(stats).to include(claimed: 13, completed: 13)
      expect(stats[:failed]).to eq(0)
      expect(worker).not_to be_running
      expect(log.string).to include("#{worker.worker_id} started", "#{worker.worker_id} stopped")
    end

    # A client that records the limit of every claim (claim_steps and the claim
    # of report_and_claim).
    def limit_recorder(client)
      Class.new(SimpleDelegator) do
        def limits = (@limits ||= [])

        def claim_steps(**kwargs)
          limits << kwargs[:limit]
          __getobj__.claim_steps(**kwargs)
        end

        def report_and_claim(reports, **kwargs)
          limits << kwargs[:limit]
          __getobj__.report_and_claim(reports, **kwargs)
        end
      end.new(client)
    end

    it "claims claim_ahead steps beyond its free threads while its handlers are quick" do
      tasks = Array.new(3) { create("fan_out") }
      recorder = limit_recorder(client)
      worker = described_class.new(client: recorder, concurrency: 1, claim_ahead: 3, logger: logger)
      stats = worker.run(install_signal_traps: false, until: -> { done?(*tasks) })
      expect(tasks.map { |t| status(t) }).to all(eq("complete"))
      expect(stats).to include(claimed: 15, completed: 15)
      expect(recorder.limits.first).to eq(4), "one thread and 3 ahead: #{recorder.limits.inspect}"
      expect(recorder.limits.max).to be <= 4
    end

    it "claims only for free threads behind a handler slower than poll_interval" do
      marker = File.join(dir, "marker")
      slow = create("slow", "marker_file" => marker, "sleep" => { "S" => 0.6 })
      recorder = limit_recorder(client)
      worker = described_class.new(client: recorder, concurrency: 2, claim_ahead: 5, poll_interval: 0.05, logger: logger)
      thread, deadline = run_in_thread(worker, until: -> { done?(slow) })
      sleep 0.01 until File.exist?(marker) || !thread.alive?
      sleep 0.2 # the slow handler is older than poll_interval now
      seen = recorder.limits.size
      quick = create("single")
      sleep 0.25 # still within the slow handler's 0.6 s
      during = recorder.limits.drop(seen)
      join(thread, deadline)
      expect(status(slow)).to eq("complete")
      expect(status(quick)).to eq("complete")
      expect(during).not_to be_empty
      expect(during.max).to be <= 1, "one free thread and nothing ahead behind the slow handler: #{during.inspect}"
      expect(recorder.limits.first).to eq(7) # two threads and 5 ahead while nothing ran
    end

    it "serves only the namespaces it is given" do
      task = create("single")
      other = described_class.new(client: client, concurrency: 1, logger: logger, namespaces: ["elsewhere"])
      checks = 0 # at least two rounds of claims before it stops
      stats = other.run(install_signal_traps: false, until: -> { (checks += 1) > 6 })
      expect(stats[:claimed]).to eq(0)
      expect(status(task)).not_to eq("complete")
      mine = described_class.new(client: client, concurrency: 1, logger: logger, namespaces: namespace)
      expect(mine.namespaces).to eq([namespace])
      stats = mine.run(install_signal_traps: false, until: -> { done?(task) })
      expect(stats[:claimed]).to eq(1)
      expect(status(task)).to eq("complete")
      expect { described_class.new(namespaces: []) }.to raise_error(ArgumentError, /namespaces/)
    end

    it "stops on #stop from another thread, finishing and reporting the running handler" do
      marker = File.join(dir, "marker")
      task = create("slow", "marker_file" => marker, "sleep" => { "S" => 0.5 })
      worker = described_class.new(client: client, concurrency: 1, logger: logger)
      thread, deadline = run_in_thread(worker)
      wait_until(timeout: 30, message: "the handler never started") { File.exist?(marker) }
      expect(worker).to be_running
      worker.stop
      expect(worker).to be_stopping
      join(thread, deadline)
      expect(client.step_transitions(task.step_id("S")).map(&:to_state)).to eq(%w[pending in_progress complete])
      expect(status(task)).to eq("complete")
    end

    it "returns from #run at once when stopped before it ran, and can run again" do
      worker = described_class.new(client: client, logger: logger)
      worker.stop
      thread, deadline = run_in_thread(worker)
      expect(join(thread, deadline)).to eq({})
      expect(worker).not_to be_stopping
      task = create("single")
      worker.run(install_signal_traps: false, until: -> { done?(task) })
      expect(status(task)).to eq("complete")
    end

    it "leaves a handler still running after shutdown_timeout to lease recovery, unreported" do
      marker = File.join(dir, "marker")
      task = create("slow", "marker_file" => marker, "hang" => { "S" => 30 })
      worker = described_class.new(client: client, concurrency: 1, lease_seconds: 0.5, heartbeat_interval: 0.1,
                                   shutdown_timeout: 0.2, logger: logger)
      thread, deadline = run_in_thread(worker)
      wait_until(timeout: 30, message: "the handler never started") { File.exist?(marker) }
      worker.stop
      join(thread, deadline)
      step_id = task.step_id("S")
      expect(client.step_transitions(step_id).last.to_state).to eq("in_progress")
      expect(log.string).to match(/stopped with 1 step\(s\) unreported \(#{step_id}\); lease recovery will retry/)
      expect(Thread.list.map(&:name)).not_to include("tasker-worker-0") # the handler thread was killed

      # Another worker recovers it once the lease is over and runs it again (attempt 2 does not hang).
      rescuer = described_class.new(client: client, concurrency: 1, recovery_interval: 0.1, logger: logger)
      rescuer.run(install_signal_traps: false, until: -> { done?(task) })
      expect(client.step_transitions(step_id).map(&:to_state))
        .to eq(%w[pending in_progress error pending in_progress complete])
      expect(File.readlines(marker).size).to eq(2)
    end

    it "keeps the leases of long handlers alive with heartbeats" do
      marker = File.join(dir, "marker")
      task = create("slow", "marker_file" => marker, "sleep" => { "S" => 1.5 })
      worker = described_class.new(client: client, concurrency: 1, lease_seconds: 0.6, heartbeat_interval: 0.1,
                                   recover_leases: false, logger: logger)
      thread, deadline = run_in_thread(worker, until: -> { done?(task) })
      recovered = []
      until thread.join(0.1)
        recovered.concat(client.recover_expired_steps(worker_id: "rspec-reaper").outcomes.select(&:applied?))
      end
      join(thread, deadline)
      expect(recovered).to be_empty
      expect(client.step_transitions(task.step_id("S")).map(&:to_state)).to eq(%w[pending in_progress complete])
    end

    it "logs a refused report (its lease was lost) and carries on" do
      marker = File.join(dir, "marker")
      task = create("slow", "marker_file" => marker, "hang" => { "S" => 1.0 })
      # No heartbeat before the lease ends: the worker's own recovery fails the step under it.
      worker = described_class.new(client: client, concurrency: 1, lease_seconds: 0.3, heartbeat_interval: 5,
                                   recovery_interval: 0.1, logger: logger)
      stats = worker.run(install_signal_traps: false, until: -> { done?(task) })
      expect(stats).to include(rejected: 1, recovered: 1, completed: 1)
      expect(log.string).to match(/the report of step #{task.step_id('S')} was refused: step \d+ is error, not in_progress/)
      expect(status(task)).to eq("complete")
    end

    it "survives a failing call to the library: logs it, pauses, tries again" do
      flaky = Class.new(SimpleDelegator) do
        attr_reader :failures

        def claim_steps(**kwargs)
          @failures = (@failures || 0) + 1
          raise TaskerCore::DatabaseError.new("connection refused (simulated)", type: "database_error") if @failures == 1

          __getobj__.claim_steps(**kwargs)
        end
      end.new(client)
      task = create("linear")
      worker = described_class.new(client: flaky, concurrency: 2, error_pause: 0.05, logger: logger)
      stats = worker.run(install_signal_traps: false, until: -> { done?(task) })
      expect(status(task)).to eq("complete")
      expect(stats[:errors]).to eq(1)
      expect(log.string).to include("claim steps failed: TaskerCore::DatabaseError: connection refused (simulated)")
    end

    it "claims the next steps in the same call that reports the finished ones" do
      counting = Class.new(SimpleDelegator) do
        attr_reader :claimed_with_reports

        def report_and_claim(reports, **claim)
          result, steps = __getobj__.report_and_claim(reports, **claim)
          (@claimed_with_reports ||= []).concat(steps.map(&:step_name))
          [result, steps]
        end
      end.new(client)
      task = create("linear")
      worker = described_class.new(client: counting, concurrency: 1, logger: logger)
      stats = worker.run(install_signal_traps: false, until: -> { done?(task) })
      expect(status(task)).to eq("complete")
      expect(stats).to include(claimed: 3, completed: 3)
      expect(counting.claimed_with_reports).to eq(%w[s2 s3]) # each readied by the report it came back with
    end

    it "keeps unreported results when reporting fails, and reports them later" do
      flaky = Class.new(SimpleDelegator) do
        # The first report fails, whichever call carries it.
        def report_step_results(reports)
          fail_first
          __getobj__.report_step_results(reports)
        end

        def report_and_claim(reports, **claim)
          fail_first
          __getobj__.report_and_claim(reports, **claim)
        end

        def fail_first
          @calls = (@calls || 0) + 1
          raise TaskerCore::TimeoutError.new("deadline passed (simulated)", type: "timeout_error") if @calls == 1
        end
      end.new(client)
      task = create("single")
      worker = described_class.new(client: flaky, concurrency: 1, error_pause: 0.05, logger: logger)
      stats = worker.run(install_signal_traps: false, until: -> { done?(task) })
      expect(status(task)).to eq("complete")
      expect(stats).to include(errors: 1, completed: 1)
      expect(client.step_transitions(task.step_id("only")).map(&:to_state)).to eq(%w[pending in_progress complete])
    end

    it "ends #run with FFIError when its client is closed" do
      closed = TaskerCore::Client.new(database_url: TaskerCoreSpec::Database.url, schema: tasker_schema)
      closed.close
      worker = described_class.new(client: closed, logger: logger)
      expect { worker.run(install_signal_traps: false) }.to raise_error(TaskerCore::FFIError)
      expect(worker).not_to be_running
    end

    it "hands a step its parent's report made ready to a handler before it settles that report" do
      task = create("linear")
      events = []
      worker = described_class.new(client: client, concurrency: 1, logger: logger,
                                   on_event: ->(event, data) { events << [event, data[:step_name]] })
      worker.run(install_signal_traps: false, until: -> { done?(task) })
      expect(status(task)).to eq("complete")
      # s2 and s3 are claimed by the report_and_claim that completes their
      # parent, and enqueued before that parent's :completed is given
      order = events.select { |e, _| %i[claimed completed].include?(e) }
      expect(order).to eq([[:claimed, "s1"], [:claimed, "s2"], [:completed, "s1"], [:claimed, "s3"],
                           [:completed, "s2"], [:completed, "s3"]])
    end

    it "is not killed by an on_event callback that raises" do
      task = create("single")
      worker = described_class.new(client: client, logger: logger, on_event: ->(*) { raise "observer bug" })
      worker.run(install_signal_traps: false, until: -> { done?(task) })
      expect(status(task)).to eq("complete")
      expect(log.string).to include("on_event raised for claimed: RuntimeError: observer bug")
    end

    it "claiming everything (runnable_only: false), fails the step of a template this process does not know, and carries on" do
      name = unique_name("unknown")
      known = create("single")
      unknown = client.create_task(name: name, namespace: namespace, steps: [{ name: "a", retry_limit: 1 }])
      events = []
      worker = described_class.new(client: client, concurrency: 2, logger: logger, runnable_only: false,
                                   on_event: ->(event, data) { events << [event, data[:task_id]] })
      worker.run(install_signal_traps: false, until: -> { done?(known) && done?(unknown) })
      expect(status(known)).to eq("complete")
      expect(status(unknown)).to eq("error")
      failed = client.step_transitions(unknown.step_id("a")).find { |t| t.to_state == "error" }
      expect(failed.metadata["error"]).to match(%r{no task template is registered for #{namespace}/#{name}@0\.1\.0})
      expect(events).to include([:failed, unknown.task_id], [:task_failed, unknown.task_id],
                                [:task_completed, known.task_id])
    end

    it "refuses to run twice at once" do
      worker = described_class.new(client: client, logger: logger)
      thread, deadline = run_in_thread(worker)
      wait_until(timeout: 30, message: "not running") { worker.running? }
      expect { worker.run(install_signal_traps: false) }.to raise_error(TaskerCore::OrchestrationError, /already running/)
      worker.stop
      join(thread, deadline)
    end

    it "traps TERM and INT while it runs and restores the previous handlers" do
      mine = proc { nil }
      original = Signal.trap("TERM", mine)
      worker = described_class.new(client: client, logger: logger)
      inside = nil
      worker.run(until: lambda {
        inside = Signal.trap("TERM", "DEFAULT")
        Signal.trap("TERM", inside)
        true
      })
      expect(inside).to be_a(Proc)
      expect(inside).not_to equal(mine)
      expect(Signal.trap("TERM", "DEFAULT")).to equal(mine)
    ensure
      Signal.trap("TERM", original || "DEFAULT")
    end

    it "does not touch the signal handlers when asked not to" do
      mine = proc { nil }
      original = Signal.trap("INT", mine)
      inside = nil
      described_class.new(client: client, logger: logger).run(install_signal_traps: false, until: lambda {
        inside = Signal.trap("INT", mine)
        true
      })
      expect(inside).to equal(mine)
    ensure
      Signal.trap("INT", original || "DEFAULT")
    end
  end
end
