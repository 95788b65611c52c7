# frozen_string_literal: true

module TaskerCore
  # The root of every exception the gem raises.
  #
  # #type is the error type of the library's envelope ("validation_error", ...;
  # see docs/ffi.md) and #details the structured details it sent (string keys),
  # e.g. details["task_id"] for a NotFoundError.
  class Error < StandardError
    attr_reader :type, :details

    def initialize(message = nil, type: nil, details: nil)
      super(message)
      @type = type || ErrorMapper.type_for(self.class)
      @details = (details || {}).freeze
    end
  end
end
