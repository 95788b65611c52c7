# frozen_string_literal: true

require "logger"

require_relative "tasker_core/version"
require_relative "tasker_core/error"
require_relative "tasker_core/error_mapper"
require_relative "tasker_core/configuration_error"
require_relative "tasker_core/orchestration_error"
require_relative "tasker_core/database_error"
require_relative "tasker_core/state_transition_error"
require_relative "tasker_core/validation_error"
require_relative "tasker_core/not_found_error"
require_relative "tasker_core/dependency_cycle_error"
require_relative "tasker_core/timeout_error"
require_relative "tasker_core/ffi_error"
require_relative "tasker_core/fork_error"
require_relative "tasker_core/internal_error"
require_relative "tasker_core/procedural_error"
require_relative "tasker_core/retryable_error"
require_relative "tasker_core/permanent_error"
require_relative "tasker_core/native"
require_relative "tasker_core/value_object"
require_relative "tasker_core/migration_result"
require_relative "tasker_core/created_task"
require_relative "tasker_core/task_execution_context"
require_relative "tasker_core/viable_step"
require_relative "tasker_core/step_readiness"
require_relative "tasker_core/batch_outcome"
require_relative "tasker_core/batch_result"
require_relative "tasker_core/dependency_analysis"
require_relative "tasker_core/transition"
require_relative "tasker_core/system_health"
require_relative "tasker_core/analytics_metrics"
require_relative "tasker_core/slow_task"
require_relative "tasker_core/slow_step"
require_relative "tasker_core/claimed_step"
require_relative "tasker_core/task_status"
require_relative "tasker_core/report_result"
require_relative "tasker_core/ready_task"
require_relative "tasker_core/client"
require_relative "tasker_core/client/handle"

# Tasker Core: workflows (DAGs of steps) kept in PostgreSQL, driven from Ruby
# through the native library libtasker_core.so.
#
# Requiring the gem does not load the library (it is loaded on first use), so
# requiring it before a fork is safe; calling it before a fork is not (ForkError).
module TaskerCore
  CLIENT_LOCK = Mutex.new
  private_constant :CLIENT_LOCK

  class << self
    attr_writer :logger

    # The gem's logger: Rails.logger inside Rails, else a Logger on $stderr at WARN.
    def logger
      @logger ||= if defined?(::Rails) && ::Rails.respond_to?(:logger) && ::Rails.logger
                    ::Rails.logger
                  else
                    Logger.new($stderr, level: Logger::WARN, progname: "tasker_core")
                  end
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
  end
end
