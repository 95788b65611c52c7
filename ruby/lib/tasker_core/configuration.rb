# frozen_string_literal: true

module TaskerCore
  # Process-wide settings of the gem (not of the library: those are
  # docs/configuration.md's), recorded by TaskerCore.configure. Nothing here
  # loads the library: the values are applied in each process when it first
  # uses the shared client.
  #
  #   TaskerCore.configure do |c|
  #     c.client_options = { schema: "tasker" }
  #     c.execution_mode = :async
  #     c.authorize = ->(actor, action, target) { OnCall.member?(actor) }
  #     c.default_actor = ENV["USER"]
  #   end
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

    # The execution mode set here, or nil: then the client's configuration
    # (execution.mode: "external" by default) decides.
    attr_reader :execution_mode

    # Called before every operator action of every client (and before
    # operator_actions) with the actor (String), the action (a Symbol such as
    # :cancel_task) and the target ({type: :task, task_id: 42} or {type: :step,
    # step_id: 7}). A falsy answer or a raised PermissionDeniedError refuses: the
    # call raises PermissionDeniedError, writes nothing and logs a warning. nil
    # (the default): every actor may act.
    attr_reader :authorize

    # The actor of operator actions called without actor: (nil: actor: is required).
    attr_accessor :default_actor

    def initialize
      @client_options = {}.freeze
      @async_worker_options = {}.freeze
      @execution_mode = nil
      @authorize = nil
      @default_actor = nil
    end

    def client_options=(options)
      raise ArgumentError, "client_options must be a Hash, got #{options.class}" unless options.is_a?(Hash)

      @client_options = options.transform_keys(&:to_sym).freeze
    end

    def async_worker_options=(options)
      raise ArgumentError, "async_worker_options must be a Hash, got #{options.class}" unless options.is_a?(Hash)

      @async_worker_options = options.transform_keys(&:to_sym).freeze
    end

    # Sets #execution_mode (nil: the client's configuration decides).
    # @param mode [Symbol, String, nil] one of EXECUTION_MODES
    # @raise [ArgumentError] for any other mode
    def execution_mode=(mode)
      unless mode.nil? || EXECUTION_MODES.include?(mode.to_s.to_sym)
        raise ArgumentError, "execution_mode must be one of #{EXECUTION_MODES.map(&:inspect).join(', ')}, " \
                             "got #{mode.inspect}"
      end

      @execution_mode = mode&.to_s&.to_sym
    end

    # Sets #authorize.
    # @param callable [#call, nil] call(actor, action, target)
    # @raise [ArgumentError] when it does not respond to call
    def authorize=(callable)
      unless callable.nil? || callable.respond_to?(:call)
        raise ArgumentError, "authorize must respond to call(actor, action, target), got #{callable.class}"
      end

      @authorize = callable
    end
  end
end
