# frozen_string_literal: true

module TaskerCore
  # The gem's version. The library's and the schema's versions are reported by
  # TaskerCore.version.
  VERSION = "0.1.0"
end
