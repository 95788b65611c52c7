# frozen_string_literal: true

module TaskerCore
  # The call's deadline or a statement timeout passed (envelope type "timeout_error").
  class TimeoutError < Error
  end
end
