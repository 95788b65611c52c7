# frozen_string_literal: true

module TaskerCore
  # Rack middleware of the gem (needs no rack gem).
  module Rack
    # Rack middleware (needs no rack gem) giving each request a correlation id:
    # the request's X-Correlation-ID header when it looks safe (a UUID, or 1 to
    # 128 of A-Z a-z 0-9 . _ -), else a new UUIDv7. The app runs inside
    # Correlation.with(id), so tasks it creates and lines it logs through
    # TaskerCore.structured_logger carry it; the id is also in
    # env["tasker_core.correlation_id"] and in the response's X-Correlation-ID
    # header. (Tasks created under a non-UUID id get their own: the library
    # stores only UUIDs as correlation ids.)
    #
    # The request's W3C traceparent header, when valid, becomes the current trace
    # context (Observability::Tracing.with) for the app, so tasks it creates join
    # the request's trace (with opentelemetry-ruby's Rack instrumentation, its
    # request span is current instead and wins).
    #
    #   use TaskerCore::Rack::CorrelationMiddleware   # config.ru
    class CorrelationMiddleware
      # The Rack env key under which the request's correlation id is stored.
      ENV_KEY = "tasker_core.correlation_id"
      # The Rack env name of the incoming X-Correlation-ID header.
      REQUEST_HEADER = "HTTP_X_CORRELATION_ID"
      # The Rack env name of the incoming W3C traceparent header.
      TRACEPARENT_HEADER = "HTTP_TRACEPARENT"
      # An incoming id accepted as it is when it is not a UUID: 1 to 128 of
      # A-Z a-z 0-9 . _ - (anything else gets a new id instead).
      TOKEN = /\A[A-Za-z0-9._-]{1,128}\z/

      def initialize(app)
        @app = app
      end

      # Runs the app inside Correlation.with(id) and the request's trace context,
      # and echoes the id in the X-Correlation-ID response header.
      # @param env [Hash] the Rack environment
      # @return [Array(Integer, Hash, #each)] the app's Rack triple
      def call(env)
        id = accepted(env[REQUEST_HEADER]) || Correlation.generate
        env[ENV_KEY] = id
        status, headers, body = Correlation.with(id) do
          Observability::Tracing.with(env[TRACEPARENT_HEADER]) { @app.call(env) }
        end
        headers = headers.frozen? ? headers.dup : headers
        headers = {} if headers.nil?
        headers[Correlation.header_name] = id
        [status, headers, body]
      end

      private

      def accepted(value)
        return nil unless value.is_a?(String)

        Correlation.uuid?(value) || TOKEN.match?(value) ? value : nil
      end
    end
  end
end
