# frozen_string_literal: true

module TaskerCore
  # A step's handler class cannot be resolved: the template has no such step,
  # or its handler_class names a constant that is not defined (or is not a
  # handler). details: template, step, handler_class.
  class HandlerNotFoundError < OrchestrationError
  end
end
