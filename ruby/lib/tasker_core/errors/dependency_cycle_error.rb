# frozen_string_literal: true

module TaskerCore
  # A dependency cycle among the steps of a task (envelope type "cycle_error"; details["cycle"] names the steps).
  class DependencyCycleError < ValidationError
  end
end
