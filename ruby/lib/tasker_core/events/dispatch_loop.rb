# frozen_string_literal: true

module TaskerCore
  module Events
    # What Listener and LiveRelay share: their thread's state readers, the pause
    # between failed rounds, and the delivery counters. The including class sets
    # @lock, @wakeup, @stopping and @thread, and calls init_metrics.
    module DispatchLoop
      def running?
        @thread&.alive? ? true : false
      end

      def stopping?
        @stopping
      end

      # Counters since start: events received, deliveries to subscribers that did
      # not raise, non-empty batches, library errors retried, and delivery latency
      # in seconds (from the event's created_at to its dispatch), averaged over the
      # events dispatched (received minus :skipped, where the class skips some).
      def metrics
        @metrics_lock.synchronize do
          m = @metrics.dup
          dispatched = m[:events] - m.fetch(:skipped, 0)
          m[:average_latency] = dispatched.zero? ? 0.0 : m[:latency_sum] / dispatched
          m.delete(:latency_sum)
          m
        end
      end

      private

      def init_metrics(*extra)
        @metrics_lock = Mutex.new
        @metrics = { events: 0, deliveries: 0 }
        extra.each { |key| @metrics[key] = 0 }
        @metrics.merge!(batches: 0, library_errors: 0, latency_sum: 0.0, max_latency: 0.0)
      end

      def record(event, delivered)
        latency = event.created_at ? Time.now.utc - event.created_at : 0.0
        @metrics_lock.synchronize do
          @metrics[:events] += 1
          @metrics[:deliveries] += delivered
          @metrics[:latency_sum] += latency
          @metrics[:max_latency] = latency if latency > @metrics[:max_latency]
        end
      end

      def pause(seconds)
        @lock.synchronize { @wakeup.wait(@lock, seconds) unless @stopping }
      end
    end
  end
end
