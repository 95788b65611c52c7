# frozen_string_literal: true

module TaskerCore
  # Metrics, health checks and tracing for the host process: Rack apps for
  # /metrics and /health, and W3C trace context across the FFI boundary.
  module Observability
    # W3C trace context (traceparent) across the Ruby/Go boundary, with or
    # without the opentelemetry-ruby SDK:
    #
    # - Tasks take the current trace context: Client#create_task (and
    #   #create_task_from_template) send Tracing.current_traceparent, which the
    #   library stores with the task (its creation span's, when the library
    #   traces). The current context is OpenTelemetry's current span when the SDK
    #   is loaded, else the traceparent set by Tracing.with — which
    #   Rack::CorrelationMiddleware does with the request's traceparent header.
    # - Each claimed step carries a traceparent (ClaimedStep#traceparent): the
    #   step's execution span in Go, or the task's stored context. The worker runs
    #   the handler inside Tracing.step_span: with the SDK, a
    #   "tasker.step.handler" span, a child of that context; without it, the
    #   context is current (Tracing.current_traceparent, for outgoing requests),
    #   and the library's own step span (claim to report) records the execution.
    module Tracing
      KEY = :tasker_core_traceparent
      # A version-00 traceparent; captures the trace id, the span id and the flags.
      FORMAT = /\A00-(\h{32})-(\h{16})-(\h{2})\z/
      # The all-zero trace id, which W3C trace context declares invalid.
      ZERO_TRACE = "0" * 32
      # The all-zero span (parent) id, which W3C trace context declares invalid.
      ZERO_SPAN = "0" * 16
      # The W3C trace context header name.
      HEADER = "traceparent"
      private_constant :KEY

      class << self
        # Whether +value+ is a version-00 W3C traceparent with non-zero ids
        # (lower-case hex, as the specification requires).
        def valid?(value)
          return false unless value.is_a?(String) && value == value.downcase

          m = FORMAT.match(value)
          !m.nil? && m[1] != ZERO_TRACE && m[2] != ZERO_SPAN
        end

        # The current trace context as a traceparent, or nil: OpenTelemetry's
        # current span when the SDK is loaded and a span is active, else the one
        # set by #with.
        def current_traceparent
          from_sdk = sdk_traceparent
          return from_sdk if from_sdk

          Thread.current[KEY]
        end

        # Runs the block with +traceparent+ (when valid; else none) as the current
        # context and restores the previous one afterwards. → the block's value
        def with(traceparent)
          previous = Thread.current[KEY]
          Thread.current[KEY] = valid?(traceparent) ? traceparent.dup.freeze : nil
          begin
            yield
          ensure
            Thread.current[KEY] = previous
          end
        end

        # Headers for an outgoing HTTP request: {"traceparent" => ...} or {}.
        def headers
          tp = current_traceparent
          tp ? { HEADER => tp } : {}
        end

        # Runs a step's handler in its trace: a "tasker.step.handler" span (a
        # child of the claimed step's traceparent) with the SDK, else the
        # traceparent made current. → the block's value
        def step_span(claimed, &block)
          tp = claimed.respond_to?(:traceparent) ? claimed.traceparent : nil
          return with(tp, &block) unless sdk?

          sdk_span(claimed, tp, &block)
        end

        # Whether the opentelemetry-ruby SDK (or API) is loaded.
        def sdk?
          defined?(::OpenTelemetry) && ::OpenTelemetry.respond_to?(:tracer_provider) ? true : false
        end

        private

        def sdk_traceparent
          return nil unless sdk?

          ctx = ::OpenTelemetry::Trace.current_span.context
          return nil unless ctx.valid?

          flags = ctx.trace_flags.sampled? ? "01" : "00"
          "00-#{ctx.hex_trace_id}-#{ctx.hex_span_id}-#{flags}"
        rescue StandardError
          nil
        end

        def sdk_span(claimed, traceparent, &block)
          parent = if valid?(traceparent)
                     ::OpenTelemetry.propagation.extract({ HEADER => traceparent })
                   else
                     ::OpenTelemetry::Context.current
                   end
          attributes = { "tasker.task_id" => claimed.task_id, "tasker.step_id" => claimed.step_id,
                         "tasker.step_name" => claimed.step_name.to_s, "tasker.namespace" => claimed.namespace.to_s,
                         "tasker.correlation_id" => claimed.correlation_id.to_s }
          ::OpenTelemetry::Context.with_current(parent) do
            tracer = ::OpenTelemetry.tracer_provider.tracer("tasker_core", TaskerCore::VERSION)
            tracer.in_span("tasker.step.handler", attributes: attributes, kind: :consumer, &block)
          end
        end
      end
    end
  end
end
