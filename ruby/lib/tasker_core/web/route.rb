# frozen_string_literal: true

module TaskerCore
  class Web
    # One route of the app: verb, path pattern ("/api/tasks/:task_id"), the
    # handler method, whether it changes anything (operator routes) and what it
    # answers (:json or :html). Routes are matched by Web::ROUTES in order.
    class Route
      attr_reader :verb, :pattern, :handler, :summary, :format, :operation

      def initialize(verb, pattern, handler, summary:, format: :json, mutating: false, operation: nil)
        @verb = verb
        @pattern = pattern
        @handler = handler
        @summary = summary
        @format = format
        @mutating = mutating
        @operation = operation
        @names = pattern.scan(/:(\w+)/).flatten
        @regexp = Regexp.new("\\A#{pattern.gsub(/:(\w+)/, '([^/]+)')}\\z")
        freeze
      end

      def mutating?
        @mutating
      end

      # The path parameters when +path+ matches, else nil.
      def match(path)
        m = @regexp.match(path)
        m && @names.zip(m.captures.map { |c| ::Rack::Utils.unescape_path(c) }).to_h
      end

      # The names of the path parameters.
      def param_names
        @names
      end

      # "/api/tasks/{task_id}" (OpenAPI's form).
      def openapi_path
        pattern.gsub(/:(\w+)/, '{\1}')
      end
    end
  end
end
