# frozen_string_literal: true

module TaskerCore
  # The one table from the library's envelope error types (docs/ffi.md) to
  # exception classes. An unknown type maps to TaskerCore::Error, so a newer
  # library never makes the gem crash on an error it does not know.
  module ErrorMapper
    # The library's error types (the "type" of an error envelope) → the name of
    # the TaskerCore exception class raised for each.
    TYPES = {
      "validation_error" => "ValidationError",
      "not_found" => "NotFoundError",
      "cycle_error" => "DependencyCycleError",
      "state_transition_error" => "StateTransitionError",
      "database_error" => "DatabaseError",
      "timeout_error" => "TimeoutError",
      "configuration_error" => "ConfigurationError",
      "ffi_error" => "FFIError",
      "permission_denied" => "PermissionDeniedError",
      "internal_error" => "InternalError"
    }.freeze

    module_function

    # The exception class for an envelope error type.
    def class_for(type)
      name = TYPES[type.to_s]
      name ? TaskerCore.const_get(name) : Error
    end

    # The envelope type of an exception class: its own, else its nearest
    # ancestor's (nil for Error and classes outside the table).
    def type_for(klass)
      klass.ancestors.each do |ancestor|
        break if ancestor == Error

        type = TYPES.key(ancestor.name&.delete_prefix("TaskerCore::"))
        return type if type
      end
      nil
    end

    # An exception instance for an envelope's "error" object
    # ({"type", "message", "details"}), or nil for nil.
    def exception_for(error)
      return nil if error.nil?

      unless error.is_a?(Hash)
        return InternalError.new("malformed error from the library: #{error.inspect}", type: "internal_error")
      end

      type = error["type"]
      details = error["details"].is_a?(Hash) ? error["details"] : {}
      message = error["message"] || type || "unknown error"
      class_for(type).new(message, type: type, details: details)
    end
  end
end
