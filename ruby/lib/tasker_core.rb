# frozen_string_literal: true

require "logger"

require_relative "tasker_core/version"
require_relative "tasker_core/errors/error"
require_relative "tasker_core/errors/error_mapper"
require_relative "tasker_core/errors/configuration_error"
require_relative "tasker_core/errors/orchestration_error"
require_relative "tasker_core/errors/database_error"
require_relative "tasker_core/errors/state_transition_error"
require_relative "tasker_core/errors/validation_error"
require_relative "tasker_core/errors/not_found_error"
require_relative "tasker_core/errors/dependency_cycle_error"
require_relative "tasker_core/errors/timeout_error"
require_relative "tasker_core/errors/ffi_error"
require_relative "tasker_core/errors/fork_error"
require_relative "tasker_core/errors/internal_error"
require_relative "tasker_core/errors/procedural_error"
require_relative "tasker_core/errors/retryable_error"
require_relative "tasker_core/errors/permanent_error"
require_relative "tasker_core/errors/permission_denied_error"
require_relative "tasker_core/configuration"
require_relative "tasker_core/native"
require_relative "tasker_core/logging/correlation"
require_relative "tasker_core/logging/structured_logger"
require_relative "tasker_core/logging/native_log"
require_relative "tasker_core/rack/correlation_middleware"
require_relative "tasker_core/observability/tracing"
require_relative "tasker_core/observability/metrics_app"
require_relative "tasker_core/observability/health_app"
require_relative "tasker_core/values/value_object"
require_relative "tasker_core/values/migration_result"
require_relative "tasker_core/values/migration_status"
require_relative "tasker_core/values/created_task"
require_relative "tasker_core/values/task_execution_context"
require_relative "tasker_core/values/viable_step"
require_relative "tasker_core/values/step_readiness"
require_relative "tasker_core/values/batch_outcome"
require_relative "tasker_core/values/batch_result"
require_relative "tasker_core/values/dependency_analysis"
require_relative "tasker_core/values/transition"
require_relative "tasker_core/values/system_health"
require_relative "tasker_core/values/analytics_metrics"
require_relative "tasker_core/values/slow_task"
require_relative "tasker_core/values/slow_step"
require_relative "tasker_core/values/claimed_step"
require_relative "tasker_core/values/task_status"
require_relative "tasker_core/values/report_result"
require_relative "tasker_core/values/ready_task"
require_relative "tasker_core/values/event"
require_relative "tasker_core/values/event_collection"
require_relative "tasker_core/values/event_batch"
require_relative "tasker_core/values/live_event_batch"
require_relative "tasker_core/values/task_summary"
require_relative "tasker_core/values/task_page"
require_relative "tasker_core/values/step_detail"
require_relative "tasker_core/values/task_detail"
require_relative "tasker_core/values/task_template_summary"
require_relative "tasker_core/values/operator_step_change"
require_relative "tasker_core/values/operator_transition"
require_relative "tasker_core/values/operator_result"
require_relative "tasker_core/values/operator_action"
require_relative "tasker_core/config_file"
require_relative "tasker_core/values/adoption_report"
require_relative "tasker_core/client"
require_relative "tasker_core/client/task_queries"
require_relative "tasker_core/client/handle"
require_relative "tasker_core/client/operator_operations"
require_relative "tasker_core/client/boot_call"
require_relative "tasker_core/client/adoption"
require_relative "tasker_core/errors/template_not_found_error"
require_relative "tasker_core/errors/handler_not_found_error"
require_relative "tasker_core/step_handler/base"
require_relative "tasker_core/step_handler/task"
require_relative "tasker_core/step_handler/step"
require_relative "tasker_core/step_handler/sequence"
require_relative "tasker_core/task_template"
require_relative "tasker_core/task_template/step_template"
require_relative "tasker_core/worker/handler_registry"
require_relative "tasker_core/worker/worker_config"
require_relative "tasker_core/worker/step_execution"
require_relative "tasker_core/worker/step_executor"
require_relative "tasker_core/worker/worker"
require_relative "tasker_core/worker/async_worker"
require_relative "tasker_core/values/task_run_result"
require_relative "tasker_core/values/task_run_result/step_summary"
require_relative "tasker_core/worker/task_runner"
require_relative "tasker_core/events"
require_relative "tasker_core/events/subscription"
require_relative "tasker_core/events/active_support_bridge"
require_relative "tasker_core/events/dry_events_bridge"
require_relative "tasker_core/events/dispatch_loop"
require_relative "tasker_core/events/listener"
require_relative "tasker_core/events/live_relay"
require_relative "tasker_core/rails"
require_relative "tasker_core/rails/database_url"
require_relative "tasker_core/rails/configuration"
require_relative "tasker_core/rails/handler_wrapper"
require_relative "tasker_core/rails/migrator"
require_relative "tasker_core/rails/schema_load_hook"
# The Railtie only inside a Rails app (Bundler requires rails first); the rest
# of tasker_core/rails/ is plain Ruby that touches Rails only when called.
require_relative "tasker_core/rails/railtie" if defined?(::Rails::Railtie)

# Tasker Core: workflows (DAGs of steps) kept in PostgreSQL, driven from Ruby
# through the native library libtasker_core.so.
#
# Requiring the gem does not load the library (it is loaded on first use), so
# requiring it before a fork is safe, and so is everything an application does
# at boot (configure, register_task, build Listeners and Workers, and
# TaskerCore.client.migrate! / register_templates, which run in a short-lived
# child process while the library is not loaded); a call that loads the
# library before a fork makes the children raise ForkError (README "Fork safety").
module TaskerCore
  # Folders under lib/tasker_core/ that group files without adding a namespace
  # (what Zeitwerk calls collapsed directories): errors/validation_error.rb
  # defines TaskerCore::ValidationError, values/ the client's value objects,
  # worker/ the worker and what runs handlers, logging/ correlation and logs.
  COLLAPSED_DIRS = %w[errors values worker logging].freeze

  CLIENT_LOCK = Mutex.new
  private_constant :CLIENT_LOCK

  class << self
    attr_writer :logger

    # Called by a Client when it opens in a process (Client#open_handle).
    def client_opened(client)
      return unless client.equal?(@client)

      AsyncWorker.start_if_configured
    rescue StandardError => e
      logger.error("tasker_core: starting the async worker: #{e.class}: #{e.message}")
    end
    private :client_opened

    # Called around every handler run (the handler's lookup and #call, on the
    # handler's thread) with the run as a block; it must call the block once
    # and return its value. nil: the handler runs as is. Under Rails the
    # Railtie sets Rails.application.executor.wrap (and reloader.wrap in
    # development), so each run gets and returns its ActiveRecord connection
    # and sees reloaded code.
    attr_accessor :handler_wrapper

    # Client.new options for TaskerCore.client, over configuration.client_options
    # and under the call's own arguments: a Hash, or a callable returning one,
    # called when the client is created (under Rails, the Railtie's TaskerCore::Rails::Configuration;
    # nothing is read at boot).
    attr_writer :client_options

    # The options the next TaskerCore.client will be created with.
    def client_options
      options = @client_options
      options = options.call if options.respond_to?(:call)
      options || {}
    end

    # The gem's logger: Rails.logger inside Rails, else a Logger on $stderr at WARN.
    def logger
      @logger ||= if defined?(::Rails) && ::Rails.respond_to?(:logger) && ::Rails.logger
                    ::Rails.logger
                  else
                    Logger.new($stderr, level: Logger::WARN, progname: "tasker_core")
                  end
    end

    # A StructuredLogger (JSON lines with correlation_id, task_id, ...) writing
    # to #logger; a new one after TaskerCore.logger= changes the logger.
    def structured_logger
      target = logger
      current = @structured_logger
      return current if current&.target.equal?(target)

      @structured_logger = StructuredLogger.new(target)
    end

    # The process's Configuration (TaskerCore.configure).
    def configuration
      CLIENT_LOCK.synchronize { @configuration ||= Configuration.new }
    end

    # Configures the gem; records only (loads nothing, safe at boot):
    #
    #   TaskerCore.configure do |c|
    #     c.client_options = { database_url: ENV["DATABASE_URL"], schema: "tasker" }
    #     c.execution_mode = :async # a worker thread in each (web) process
    #   end
    #
    # → the Configuration
    def configure
      config = configuration
      yield config if block_given?
      config
    end

    # The process's shared Client: lazy (see Client.new), so getting it loads
    # nothing and is safe at boot; the library is loaded, and the client
    # opened, by its first call in each process. +config+ (Client.new
    # arguments) is merged over configuration.client_options. Later calls
    # return the same client; passing a different configuration then is an
    # ArgumentError. A forked child uses it too when the parent never opened
    # it; when the parent had loaded the library, ForkError (saying which call
    # loaded it and what to do).
    def client(**config)
      CLIENT_LOCK.synchronize do
        if @client && !@client.closed? && @client.usable_in_this_process?
          if !config.empty? && config != @client_config
            raise ArgumentError, "TaskerCore.client is already configured; call TaskerCore.reset_client! first"
          end

          return @client
        end

        Native.check_pid!
        # Lowest first: configuration.client_options (TaskerCore.configure),
        # TaskerCore.client_options (the Railtie's, read now), then +config+.
        options = (@configuration&.client_options || {}).merge(client_options.transform_keys(&:to_sym)).merge(config)
        @client = Client.new(**options, lazy: true)
        @client_config = config
        @client
      end
    end

    # Closes the shared client (if this process created it) and forgets it.
    def reset_client!
      CLIENT_LOCK.synchronize do
        @client.close if @client&.usable_in_this_process?
        @client = @client_config = nil
      end
    end

    # Starts the async worker (a TaskerCore::Worker on a thread of this
    # process, AsyncWorker) when the execution mode is :async; a no-op
    # otherwise or when it runs in this process already. Called by the shared
    # client's first call in each process; call it from Puma's on_worker_boot
    # or Unicorn's after_fork to start at once. → the AsyncWorker or nil
    def start_async_worker
      AsyncWorker.start_if_configured
    end

    # Stops this process's async worker gracefully (running handlers get
    # execution.shutdown_timeout_seconds). → true when one was stopped
    def stop_async_worker(timeout: nil)
      AsyncWorker.stop(timeout: timeout)
    end

    # Versions: the gem's, the library's, the database schema's it expects, its
    # ABI and Go versions. Loads the library.
    # → {gem_version:, library_version:, schema_version:, abi_version:, go_version:}
    def version
      envelope = Native.version
      raise ErrorMapper.exception_for(envelope["error"]) unless envelope["ok"]

      data = envelope["data"].transform_keys(&:to_sym)
      { gem_version: VERSION }.merge(data).freeze
    end

    # The path of the native library (loaded or to be loaded). FFIError when it
    # cannot be found.
    def library_path
      Native.library_path
    end

    # The process's HandlerRegistry: task templates by namespace, name and
    # version (register_task adds to it; workers read it).
    def handler_registry
      CLIENT_LOCK.synchronize { @handler_registry ||= HandlerRegistry.new }
    end

    # Replaces the process's registry (tests, or templates loaded elsewhere).
    def handler_registry=(registry)
      raise ArgumentError, "expected a TaskerCore::HandlerRegistry, got #{registry.class}" unless registry.is_a?(HandlerRegistry)

      CLIENT_LOCK.synchronize { @handler_registry = registry }
    end

    # Process-level overrides of Worker's settings (WorkerConfig): every
    # attribute starts nil, and a Worker takes what is nil here (and not given
    # to Worker.new) from its client's configuration (docs/configuration.md).
    def worker_config
      CLIENT_LOCK.synchronize { @worker_config ||= WorkerConfig.new }
    end

    # Registers a task template in handler_registry and returns it:
    #
    #   TaskerCore.register_task(
    #     name: "order", namespace: "shop", version: "1.0.0",
    #     steps: [{ name: "validate_cart", handler_class: "Shop::ValidateCart" },
    #             { name: "charge", handler_class: "Shop::Charge", depends_on: ["validate_cart"],
    #               retry_limit: 5, retryable: true }])
    #
    # Each step: name:, handler_class: (a class name, resolved when the step
    # runs), depends_on: [...], and optionally retry_limit:, retryable:,
    # skippable:, dependent_system:, inputs:, handler_config: (given to the
    # handler's initialize as config:). → TaskTemplate
    def register_task(name:, steps:, namespace: TaskTemplate::DEFAULT_NAMESPACE,
                      version: TaskTemplate::DEFAULT_VERSION, description: nil)
      template = TaskTemplate.new(name: name, namespace: namespace, version: version, steps: steps,
                                  description: description)
      handler_registry.register(template)
    end

    # Creates a task of a registered template with +context+ (TemplateNotFoundError
    # when none is registered). options: other task spec fields (initiator:,
    # reason:, priority:, correlation_id:, tags:, ...). → CreatedTask
    def create_task(name:, namespace: TaskTemplate::DEFAULT_NAMESPACE, version: TaskTemplate::DEFAULT_VERSION,
                    context: {}, client: self.client, **options)
      template = handler_registry.fetch(name: name, namespace: namespace, version: version)
      client.create_task(template.to_task_spec(context: context, **options))
    end

    # Runs one task to its end in this process with +concurrency+ handler
    # threads, claiming only its steps, and returns a TaskRunResult (final
    # status, execution context, attempts and durations per step).
    # TimeoutError when it has not finished after +timeout+ seconds.
    # task_or_task_id: a CreatedTask or a task id. worker_options: more options
    # of Worker.new, e.g. on_event: ->(event, data) { ... }.
    def run_task(task_or_task_id, timeout:, client: self.client, concurrency: 4, **worker_options)
      TaskRunner.new(task_or_task_id, timeout: timeout, client: client, concurrency: concurrency,
                                      **worker_options).run
    end
  end
end
