# frozen_string_literal: true

require "rbconfig"
require "tmpdir"

module TaskerCoreSpec
  # Worker processes for the orchestration specs: spawned (not forked) Ruby
  # processes running a TaskerCore::Worker over the example's schema, with the
  # handlers of orchestration_handlers.rb. Every wait has a deadline that turns a
  # hang into a failure; #kill_workers! (run after each example) removes leftovers.
  module WorkerProcesses
    LIB = File.expand_path("../../lib", __dir__)
    HANDLERS = File.expand_path("orchestration_handlers.rb", __dir__)

    WORKER_SCRIPT = <<~'RUBY'
      $stdout.sync = true
      require ENV.fetch("TASKER_SPEC_HANDLERS")
      TaskerCore.logger = Logger.new($stderr, level: Logger::INFO, progname: "worker #{Process.pid}")
      client = TaskerCore::Client.new(database_url: ENV.fetch("TASKER_TEST_DATABASE_URL"),
                                      schema: ENV.fetch("TASKER_TEST_SCHEMA"))
      TaskerCoreSpec::OrchestrationTemplates.register_all
      options = JSON.parse(ENV.fetch("TASKER_SPEC_WORKER_OPTIONS", "{}"), symbolize_names: true)
      worker = TaskerCore::Worker.new(client: client, **options)
      # "ready" once #run has installed its traps and is polling (the until
      # callable runs between polls): a signal sent on "ready" meets the traps.
      announced = false
      ready = lambda do
        puts "ready #{worker.worker_id}" unless announced
        announced = true
        false
      end
      stats = worker.run(until: ready)
      puts "stopped #{JSON.generate(stats)}"
      client.close
    RUBY

    # A spawned worker: pid, its worker id (once ready) and its output files.
    class WorkerProcess
      attr_reader :pid, :out_path, :err_path
      attr_accessor :status

      def initialize(pid, out_path, err_path)
        @pid = pid
        @out_path = out_path
        @err_path = err_path
      end

      def stdout
        File.exist?(out_path) ? File.read(out_path) : ""
      end

      def stderr
        File.exist?(err_path) ? File.read(err_path) : ""
      end

      def worker_id
        stdout[/^ready (\S+)$/, 1]
      end

      def ready?
        !worker_id.nil?
      end

      # Reaps the process if it exited. → true when it has.
      def exited?
        return true if status

        _, st = Process.wait2(pid, Process::WNOHANG)
        self.status = st if st
        !status.nil?
      rescue Errno::ECHILD
        true
      end

      def signal(name)
        Process.kill(name, pid)
      rescue Errno::ESRCH
        nil
      end

      def describe
        "worker pid #{pid} status=#{status.inspect}\n--- stdout\n#{stdout}\n--- stderr\n#{stderr.lines.last(40).join}"
      end
    end

    # Spawns a worker over +schema+ with Worker.new +options+ (JSON-able).
    def spawn_worker(schema, dir:, **options)
      @worker_processes ||= []
      n = @worker_processes.size
      out_path = File.join(dir, "worker#{n}.out")
      err_path = File.join(dir, "worker#{n}.err")
      env = { "TASKER_TEST_DATABASE_URL" => TaskerCoreSpec::Database.url, "TASKER_TEST_SCHEMA" => schema,
              "TASKER_SPEC_HANDLERS" => HANDLERS, "TASKER_SPEC_WORKER_OPTIONS" => JSON.generate(options) }
      pid = Process.spawn(env, RbConfig.ruby, "-I", LIB, "-r", "json", "-e", WORKER_SCRIPT,
                          out: out_path, err: err_path, pgroup: true)
      WorkerProcess.new(pid, out_path, err_path).tap { |w| @worker_processes << w }
    end

    # Polls the block every +interval+ until it is truthy; fails the example
    # with +message+ (a String or a callable) after +timeout+ seconds.
    def wait_until(timeout:, message:, interval: 0.05)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
      loop do
        value = yield
        return value if value

        if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
          text = message.respond_to?(:call) ? message.call : message
          raise RSpec::Expectations::ExpectationNotMetError, "timed out after #{timeout}s: #{text}"
        end
        sleep interval
      end
    end

    # Waits for the worker to exit (deadline) and returns its Process::Status.
    def wait_for_exit(worker, timeout:)
      wait_until(timeout: timeout, message: -> { "worker did not exit\n#{worker.describe}" }) { worker.exited? }
      worker.status
    end

    # Kills (the process groups of) every worker still running and reaps them.
    def kill_workers!
      Array(@worker_processes).each do |w|
        next if w.exited?

        begin
          Process.kill("KILL", -w.pid)
        rescue Errno::ESRCH
          nil
        end
        begin
          Process.wait(w.pid)
        rescue Errno::ECHILD
          nil
        end
      end
      @worker_processes = []
    end
  end
end

RSpec.configure do |config|
  config.include TaskerCoreSpec::WorkerProcesses
  config.after { kill_workers! }
end
