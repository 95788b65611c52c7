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
require_relative "tasker_core/rack/correlation_middleware"
require_relative "tasker_core/values/value_object"
require_relative "tasker_core/values/migration_result"
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
require_relative "tasker_core/values/operator_step_change"
require_relative "tasker_core/values/operator_transition"
require_relative "tasker_core/values/operator_result"
require_relative "tasker_core/values/operator_action"
require_relative "tasker_core/values/adoption_report"
require_relative "tasker_core/client"
require_relative "tasker_core/client/handle"
require_relative "tasker_core/client/operator_operations"
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

# Tasker Core: workflows (DAGs of steps) kept in PostgreSQL, driven from Ruby
# through the native library libtasker_core.so.
#
# Requiring the gem does not load the library (it is loaded on first use), so
# requiring it before a fork is safe; calling it before a fork is not (ForkError).
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

    # The gem's process-wide Configuration (the operator authorizer, the
    # default actor).
    def configuration
      CLIENT_LOCK.synchronize { @configuration ||= Configuration.new }
    end

    # Yields the Configuration:
    #   TaskerCore.configure { |c| c.authorize = ->(actor, action, target) { ... } }
    def configure
      yield configuration
      configuration
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

    # The process's shared Client, created on first use with +config+ (see
    # Client.new). Later calls return the same client; passing a different
    # configuration then is an ArgumentError. A forked child gets its own client
    # if (and only if) the library was not loaded before the fork; otherwise
    # ForkError.
    def client(**config)
      CLIENT_LOCK.synchronize do
        if @client && @client_pid == Process.pid && !@client.closed?
          if !config.empty? && config != @client_config
            raise ArgumentError, "TaskerCore.client is already configured; call TaskerCore.reset_client! first"
          end

          return @client
        end

        Native.check_pid!
        @client = Client.new(**config)
        @client_config = config
        @client_pid = Process.pid
        @client
      end
    end

    # Closes the shared client (if this process created it) and forgets it.
    def reset_client!
      CLIENT_LOCK.synchronize do
        @client.close if @client && @client_pid == Process.pid
        @client = @client_config = @client_pid = nil
      end
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
