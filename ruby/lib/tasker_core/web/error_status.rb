# frozen_string_literal: true

module TaskerCore
  class Web
    # The HTTP status of each error the client raises, and the JSON body of an
    # error: {"error": {"type", "message", "details"}}.
    module ErrorStatus
      module_function

      # @param error [Exception]
      # @return [Integer] the HTTP status for +error+ (500 for one not listed)
      def for(error)
        case error
        when Web::ForbiddenError then 403
        when Web::UnavailableError then 501
        when NotFoundError then 404
        when StateTransitionError then 409
        when ValidationError then 422 # includes DependencyCycleError
        when TimeoutError then 504
        when DatabaseError then 503
        else
          permission_denied?(error) ? 403 : 500
        end
      end

      # PermissionDeniedError comes with the operator API (issue 12); matched by
      # name so that the web works with a client that has none yet.
      def permission_denied?(error)
        error.class.ancestors.any? { |a| a.name == "TaskerCore::PermissionDeniedError" } ||
          (error.respond_to?(:type) && error.type == "permission_denied")
      end

      # @param error [Exception]
      # @return [Hash] {"error" => {"type", "message", "details"}}; the type is
      #   "internal_error" for an error that has none
      def body(error)
        type = error.respond_to?(:type) && error.type ? error.type : "internal_error"
        details = error.respond_to?(:details) ? error.details : {}
        { "error" => { "type" => type, "message" => error.message, "details" => Serializer.dump(details || {}) } }
      end
    end
  end
end
