# frozen_string_literal: true

module TaskerCore
  # An illegal transition, an unmet guard or a lost compare-and-swap (details["conflict"]); envelope type "state_transition_error".
  class StateTransitionError < Error
  end
end
