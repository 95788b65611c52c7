# frozen_string_literal: true

module TaskerCore
  # What TaskerCore.configure records. Nothing here loads the library: the
  # values are applied in each process when it first uses the shared client.
  class Configuration
    # :external — steps run in worker processes (TaskerCore::Worker#run,
    # bin/tasker_worker); :async — also in a thread of every process that
    # uses the shared client (a web process, after its fork), like GoodJob's
    # async mode.
    EXECUTION_MODES = %i[external async].freeze

    # Client.new arguments for TaskerCore.client (database_url:, schema:,
    # migrate:, any configuration key...). Default {}.
    attr_reader :client_options

    # Worker.new arguments for the async worker (concurrency:, namespaces:,
    # ...). Default {}.
    attr_reader :async_worker_options

    def initialize
      @client_options = {}.freeze
      @async_worker_options = {}.freeze
      @execution_mode = nil
    end

    def client_options=(options)
      raise ArgumentError, "client_options must be a Hash, got #{options.class}" unless options.is_a?(Hash)

      @client_options = options.transform_keys(&:to_sym).freeze
    end

    def async_worker_options=(options)
      raise ArgumentError, "async_worker_options must be a Hash, got #{options.class}" unless options.is_a?(Hash)

      @async_worker_options = options.transform_keys(&:to_sym).freeze
    end

    # The execution mode set here, or nil: then the client's configuration
    # (execution.mode: "external" by default) decides.
    attr_reader :execution_mode

    def execution_mode=(mode)
      unless mode.nil? || EXECUTION_MODES.include?(mode.to_s.to_sym)
        raise ArgumentError, "execution_mode must be one of #{EXECUTION_MODES.map(&:inspect).join(', ')}, " \
                             "got #{mode.inspect}"
      end

      @execution_mode = mode&.to_s&.to_sym
    end
  end
end
