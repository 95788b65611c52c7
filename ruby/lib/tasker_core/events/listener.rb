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
    # #metrics (DispatchLoop): the outbox is the buffer, so a listener that falls
    # behind never drops an event, it only lags.
    #
    # Where a new subscriber starts (+from+): a name the database has not seen
    # yet begins at :now (DEFAULT_FROM: the events committed from then on),
    # :beginning (everything still in the outbox) or a Time (the events created
    # since then). A name that exists continues from its durable cursor,
    # whatever +from+ says.
    #
    # Building a listener loads nothing (safe before a fork); #start does.
    class Listener
      include DispatchLoop

      # How long one fetch waits for a notification when there is nothing, in
      # milliseconds (also the longest #stop waits for an idle fetch to return).
      DEFAULT_WAIT_MS = 1000
      # Seconds between a failed round and the next.
      DEFAULT_ERROR_PAUSE = 1.0
      # Where a subscriber name the database has not seen starts.
      DEFAULT_FROM = :now
      # The symbolic start positions (besides a Time).
      FROM_POSITIONS = %i[now beginning].freeze

      attr_reader :client, :subscriber, :wait_ms, :error_pause, :from

      # client: a TaskerCore::Client (default TaskerCore.client).
      # subscriber: the durable subscriber name (1..128 characters).
      # limit: events per batch (default: the configuration's events.batch_size,
      # read when the listener starts).
      # from: where a new subscriber starts (see the class comment): :now
      # (DEFAULT_FROM), :beginning or a Time.
      # wait_ms: DEFAULT_WAIT_MS; error_pause: DEFAULT_ERROR_PAUSE seconds.
      # dispatcher: what receives each event (responds to publish_locally; default Events).
      def initialize(subscriber:, client: TaskerCore.client, limit: nil, from: DEFAULT_FROM, wait_ms: DEFAULT_WAIT_MS,
                     error_pause: DEFAULT_ERROR_PAUSE, dispatcher: Events)
        raise ArgumentError, "subscriber must be a non-empty String" if subscriber.to_s.empty?
        unless from.is_a?(Time) || FROM_POSITIONS.include?(from)
          raise ArgumentError, "from must be :now, :beginning or a Time, got #{from.inspect}"
        end

        @client = client
        @subscriber = subscriber.to_s
        @from = from
        @started_cursor = false
        @limit = limit
        @wait_ms = Integer(wait_ms)
        @error_pause = Float(error_pause)
        @dispatcher = dispatcher
        @lock = Mutex.new
        @wakeup = ConditionVariable.new
        @stopping = false
        @thread = nil
        init_metrics
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

      # The subscriber, the batch limit, the wait and whether the thread runs.
      # @return [String]
      def inspect
        "#<#{self.class.name} subscriber=#{@subscriber.inspect} limit=#{@limit.inspect} wait_ms=#{@wait_ms} " \
          "#{running? ? 'running' : 'stopped'}>"
      end

      # Events per batch: as given, else (once started) events.batch_size.
      def limit
        @limit
      end

      private

      def run
        @limit ||= configured_batch_size
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
        # The start position counts for a name the database has not seen; sent
        # until a fetch succeeded.
        from = @started_cursor ? nil : @from
        batch = @client.fetch_events(subscriber: @subscriber, limit: @limit, wait_ms: @wait_ms, from: from)
        @started_cursor = true

        batch.each do |event|
          delivered = @dispatcher.publish_locally(event)
          record(event, delivered)
        end
        @client.ack_events(subscriber: @subscriber, batch: batch)
        @metrics_lock.synchronize { @metrics[:batches] += 1 unless batch.events.empty? }
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
