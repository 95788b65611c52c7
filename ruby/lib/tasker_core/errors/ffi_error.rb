# frozen_string_literal: true

module TaskerCore
  # The library cannot be loaded or used: NULL pointer, invalid or freed handle, closed client (envelope type "ffi_error").
  class FFIError < Error
  end
end
