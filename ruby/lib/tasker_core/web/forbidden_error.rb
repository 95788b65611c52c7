# frozen_string_literal: true

module TaskerCore
  class Web
    # The web's authorizer refused an operator action (HTTP 403). Raised before
    # the client is called, so nothing is written.
    class ForbiddenError < TaskerCore::Error
      def initialize(message, details: nil)
        super(message, type: "permission_denied", details: details)
      end
    end
  end
end
