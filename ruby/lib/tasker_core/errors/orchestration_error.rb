# frozen_string_literal: true

module TaskerCore
  # A failure of the orchestration around the library (no envelope type of its own).
  class OrchestrationError < Error
  end
end
