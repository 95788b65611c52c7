# frozen_string_literal: true

module TaskerCore
  # No task template is registered for a task's namespace, name and version
  # (HandlerRegistry#fetch). details: namespace, name, version.
  class TemplateNotFoundError < OrchestrationError
  end
end
