# frozen_string_literal: true

module TaskerCore
  module Events
    # A background thread that delivers the library's durable events to this
    # process's subscribers (Events.subscribe) under a durable subscriber name:
    #
    #   listener = TaskerCore::Events::Listener.new(client: client, subscriber: "billing").start
    #   ...
    #   listener.stop
    #
    # Each round fetches a batch (Client#fetch_events, waiting up to wait_ms for
    # a notification when there is nothing), dispatches its events in order with
    # Events.publish_locally, and acknowledges it (Client#ack_events). Events of
    # an acknowledged batch never come back for that name; a batch interrupted
    # before its ack (crash, kill) is delivered again: at least once, exactly
    # once per acknowledged batch. The fetch releases the GVL, so the thread does
    # not block others. A library error is logged and retried after error_pause.
    class Listener
      # How long one fetch waits for a notification when there is nothing, in
      # milliseconds (also the longest #stop waits for an idle fetch to return).
      DEFAULT_WAIT_MS = 1000
      # Seconds between a failed round and the next.
      DEFAULT_ERROR_PAUSE = 1.0

      attr_reader :client, :subscriber, :limit, :wait_ms, :error_pause

      # client: a TaskerCore::Client (default TaskerCore.client).
      # subscriber: the durable subscriber name (1..128 characters).
      # limit: events per batch (default: the configuration's events.batch_size).
      # wait_ms: DEFAULT_WAIT_MS; error_pause: DEFAULT_ERROR_PAUSE seconds.
      # dispatcher: what receives each event (responds to publish_locally; default Events).
      def initialize(subscriber:, client: TaskerCore.client, limit: nil, wait_ms: DEFAULT_WAIT_MS,
                     error_pause: DEFAULT_ERROR_PAUSE, dispatcher: Events)
        raise ArgumentError, "subscriber must be a non-empty String" if subscriber.to_s.empty?

        @client = client
        @subscriber = subscriber.to_s
        @limit = limit || configured_batch_size
        @wait_ms = Integer(wait_ms)
        @error_pause = Float(error_pause)
        @dispatcher = dispatcher
        @lock = Mutex.new
        @wakeup = ConditionVariable.new
        @stopping = false
        @thread = nil
        @metrics_lock = Mutex.new
        @metrics = { events: 0, deliveries: 0, batches: 0, library_errors: 0, latency_sum: 0.0, max_latency: 0.0 }
      end

      # Starts the thread (no-op when running). → self
      def start
        @lock.synchronize do
          return self if @thread&.alive?

          @stopping = false
          @thread = Thread.new { run }
          @thread.name = "tasker-events-#{@subscriber}"[0, 63]
          @thread.report_on_exception = false
        end
        self
      end

      # Stops gracefully: the batch being processed is finished and acknowledged,
      # then the thread ends. Waits for it (up to +timeout+ seconds when given)
      # unless called from the listener's own thread (e.g. by a subscriber).
      # → true when the thread has ended
      def stop(timeout: nil)
        thread = @lock.synchronize do
          @stopping = true
          @wakeup.broadcast
          @thread
        end
        return true if thread.nil?
        return false if thread.equal?(Thread.current)

        !thread.join(timeout).nil?
      end

      # Counters since start: events received, deliveries to subscribers that did
      # not raise, non-empty batches, library errors retried, and delivery latency
      # (seconds from the event's commit to its dispatch). The outbox is the buffer:
      # a listener that falls behind never drops an event, it only lags.
      def metrics
        @metrics_lock.synchronize do
          m = @metrics.dup
          m[:average_latency] = m[:events].zero? ? 0.0 : m[:latency_sum] / m[:events]
          m.delete(:latency_sum)
          m
        end
      end

      def running?
        @thread&.alive? ? true : false
      end

      def stopping?
        @stopping
      end

      def inspect
        "#<#{self.class.name} subscriber=#{@subscriber.inspect} limit=#{@limit.inspect} wait_ms=#{@wait_ms} " \
          "#{running? ? 'running' : 'stopped'}>"
      end

      private

      def run
        until @stopping
          begin
            process_batch
          rescue StandardError => e
            @metrics_lock.synchronize { @metrics[:library_errors] += 1 }
            TaskerCore.logger.error("tasker_core: event listener #{@subscriber.inspect}: #{e.class}: #{e.message}; " \
                                    "retrying in #{@error_pause}s")
            pause(@error_pause)
          end
        end
      end

      # One round: fetch, dispatch in order, acknowledge (an empty drained batch
      # too: it moves the subscriber's horizon forward).
      def process_batch
        batch = @client.fetch_events(subscriber: @subscriber, limit: @limit, wait_ms: @wait_ms)

        batch.each do |event|
          delivered = @dispatcher.publish_locally(event)
          record(event, delivered)
        end
        @client.ack_events(subscriber: @subscriber, batch: batch)
        @metrics_lock.synchronize { @metrics[:batches] += 1 unless batch.events.empty? }
      end

      # Delivery latency is from the event's commit-time created_at to its dispatch.
      def record(event, delivered)
        latency = Time.now.utc - event.created_at
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

      def configured_batch_size
        values = Array(@client.effective_config["values"])
        row = values.find { |r| r["key"] == "events.batch_size" }
        row && row["value"].is_a?(Integer) ? row["value"] : nil
      rescue StandardError
        nil # the library's default (events.batch_size) applies
      end
    end
  end
end
