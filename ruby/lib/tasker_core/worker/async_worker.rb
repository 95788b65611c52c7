# frozen_string_literal: true

module TaskerCore
  # The worker of execution mode :async: a TaskerCore::Worker on a thread of
  # the process (a Puma or Unicorn worker, after its fork), serving the
  # shared client, with the handlers of TaskerCore.handler_registry (and the
  # database's templates). Off by default. Started by the shared client's
  # first call in each process, or at once by TaskerCore.start_async_worker
  # (Puma's on_worker_boot, Unicorn's after_fork); stopped gracefully by
  # TaskerCore.stop_async_worker (Puma's on_worker_shutdown) or, else, at
  # process exit. It never traps signals: the server owns them.
  class AsyncWorker
    LOCK = Mutex.new
    private_constant :LOCK

    attr_reader :worker, :thread, :pid

    class << self
      # The async worker running in this process, or nil.
      def current
        LOCK.synchronize { @current if @current&.pid == Process.pid }
      end

      # Starts it when the execution mode (TaskerCore.configuration, else the
      # client's execution.mode) is async and none runs in this process.
      # → the AsyncWorker or nil
      def start_if_configured
        return nil if Thread.current[:tasker_async_starting]

        Thread.current[:tasker_async_starting] = true
        begin
          return current if current
          return nil unless async_mode?

          LOCK.synchronize do
            return @current if @current&.pid == Process.pid

            @current = new(**TaskerCore.configuration.async_worker_options).start
            register_at_exit
            @current
          end
        ensure
          Thread.current[:tasker_async_starting] = nil
        end
      end

      # Stops this process's async worker. → true when one was stopped
      def stop(timeout: nil)
        running = LOCK.synchronize do
          mine = @current if @current&.pid == Process.pid
          @current = nil if mine
          mine
        end
        return false unless running

        running.stop(timeout: timeout)
        true
      end

      # :async or :external for this process.
      def mode
        configured = TaskerCore.configuration.execution_mode
        return configured if configured

        row = Array(TaskerCore.client.effective_config["values"]).find { |r| r["key"] == "execution.mode" }
        row && row["value"] == "async" ? :async : :external
      end

      private

      def async_mode?
        mode == :async
      end

      # at_exit handlers are inherited by forked children: registered once,
      # each process stops its own worker.
      def register_at_exit
        return if @at_exit_registered

        @at_exit_registered = true
        at_exit { stop }
      end
    end

    def initialize(**worker_options)
      @worker = Worker.new(client: TaskerCore.client, **worker_options)
      @pid = Process.pid
      @thread = nil
    end

    # Runs the worker on a thread of its own (named tasker-async-worker). An
    # error that ends the worker is logged, not raised: the web process goes on.
    # @return [self]
    def start
      @thread = Thread.new do
        Thread.current.name = "tasker-async-worker"
        @worker.run(install_signal_traps: false)
      rescue Exception => e # rubocop:disable Lint/RescueException -- logged: the web process goes on
        TaskerCore.logger.error("tasker_core: async worker #{@worker.worker_id} ended: #{e.class}: #{e.message}")
      end
      @thread.report_on_exception = false
      self
    end

    # Stops the worker gracefully and waits for it (up to +timeout+, default
    # its shutdown_timeout plus a second). → true when its thread ended
    def stop(timeout: nil)
      @worker.stop
      limit = timeout || (@worker.settings[:shutdown_timeout] + 1)
      !@thread&.join(limit).nil?
    rescue StandardError => e
      TaskerCore.logger.error("tasker_core: stopping the async worker: #{e.class}: #{e.message}")
      false
    end

    def running?
      @thread&.alive? ? true : false
    end
  end
end
