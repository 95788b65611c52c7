# frozen_string_literal: true

module TaskerCore
  # Process-wide settings of the gem (not of the library: those are
  # docs/configuration.md's), set with TaskerCore.configure:
  #
  #   TaskerCore.configure do |c|
  #     c.authorize = ->(actor, action, target) { OnCall.member?(actor) }
  #     c.default_actor = ENV["USER"]
  #   end
  class Configuration
    # Called before every operator action of every client (and before
    # operator_actions) with the actor (String), the action (a Symbol such as
    # :cancel_task) and the target ({type: :task, task_id: 42} or {type: :step,
    # step_id: 7}). A falsy answer or a raised PermissionDeniedError refuses: the
    # call raises PermissionDeniedError, writes nothing and logs a warning. nil
    # (the default): every actor may act.
    attr_reader :authorize

    # The actor of operator actions called without actor: (nil: actor: is required).
    attr_accessor :default_actor

    def authorize=(callable)
      unless callable.nil? || callable.respond_to?(:call)
        raise ArgumentError, "authorize must respond to call(actor, action, target), got #{callable.class}"
      end

      @authorize = callable
    end
  end
end
