# frozen_string_literal: true

module TaskerCore
  class Web
    # A part of the web that needs something this installation lacks (the
    # operator API in the client, graphql-ruby): HTTP 501, saying what is missing.
    class UnavailableError < TaskerCore::Error
      def initialize(message, details: nil)
        super(message, type: "not_implemented", details: details)
      end
    end
  end
end
