# frozen_string_literal: true

module TaskerCore
  module Events
    # A background thread that delivers this process's own events to its
    # subscribers (Events.subscribe) as they happen, from the client's live
    # event stream:
    #
    #   relay = TaskerCore::Events::LiveRelay.new(patterns: ["step.*", "observability.*"]).start
    #   ...
    #   relay.stop
    #
    # #start opens the client's event stream (Client#open_event_stream; one per
    # client) for +patterns+; the thread reads it (Client#read_event_stream,
    # waiting up to wait_ms, GVL released) and dispatches each event in order
    # with Events.publish_locally; #stop closes the stream. A library error is
    # logged and retried after error_pause (a stream closed by someone else is
    # opened again); a closed client (FFIError) ends the thread.
    #
    # LiveRelay or Listener?
    # - LiveRelay: the events of THIS process's client only — those its own
    #   committed transactions wrote to the outbox (durable? true) and the
    #   live-only ones that are never stored (task.before_transition,
    #   step.before_transition, observability.task.enqueue,
    #   observability.task.finalize, observability.step.find_viable,
    #   observability.step.skip: durable? false) — right after they happen,
    #   without a database round trip. Best effort: the library buffers them in
    #   memory (events.buffer_size); a full buffer drops events per
    #   events.overflow, a batch not read within events.delivery_timeout_ms is
    #   dropped, nothing survives a restart. Drops are visible in
    #   client.event_metrics ("dropped", "failed").
    # - Listener: the durable events of EVERY process, from the outbox, exactly
    #   once per subscriber name (an acknowledged cursor), each task's in order,
    #   across restarts; no live-only events.
    # Running both for the same subscribers delivers durable events twice (once
    # from each). To have both the durable guarantees and the live-only events,
    # run a Listener and a LiveRelay with only_live: true, which skips durable
    # events. #metrics (DispatchLoop) adds :skipped (durable events, with
    # only_live); what the library dropped before the relay read it is in
    # client.event_metrics.
    class LiveRelay
      include DispatchLoop

      # How long one read waits for a batch, in milliseconds (also about the
      # longest a stopping relay's read takes to return: #stop closes the stream,
      # which ends the wait at once).
      DEFAULT_WAIT_MS = 1000
      # Seconds between a failed round and the next.
      DEFAULT_ERROR_PAUSE = 1.0

      attr_reader :client, :patterns, :wait_ms, :error_pause

      # client: a TaskerCore::Client (default TaskerCore.client).
      # patterns: the event names to relay ("*", "step.*", "task.completed"; a
      # String or an Array; default "*"): the stream's filter, in the library.
      # only_live: skip durable events (for a process that also runs a Listener).
      # wait_ms: DEFAULT_WAIT_MS; error_pause: DEFAULT_ERROR_PAUSE seconds.
      # dispatcher: what receives each event (responds to publish_locally; default Events).
      def initialize(client: TaskerCore.client, patterns: "*", only_live: false, wait_ms: DEFAULT_WAIT_MS,
                     error_pause: DEFAULT_ERROR_PAUSE, dispatcher: Events)
        @patterns = Array(patterns).map(&:to_s).freeze
        raise ArgumentError, "patterns must name at least one pattern" if @patterns.empty?

        @client = client
        @only_live = only_live ? true : false
        @wait_ms = Integer(wait_ms)
        @error_pause = Float(error_pause)
        @dispatcher = dispatcher
        @lock = Mutex.new
        @wakeup = ConditionVariable.new
        @stopping = false
        @thread = nil
        init_metrics(:skipped)
      end

      def only_live?
        @only_live
      end

      # Opens the client's event stream and starts the thread (no-op when
      # running). Raises what opening raises: ValidationError (the client's
      # stream is already open, a malformed pattern), ConfigurationError
      # (events.enabled is false). → self
      def start
        # A relay being stopped finishes first (its thread closes the stream on its way out).
        previous = @lock.synchronize { @stopping ? @thread : nil }
        previous.join if previous && !previous.equal?(Thread.current)
        @lock.synchronize do
          return self if @thread&.alive?

          @client.open_event_stream(patterns: @patterns)
          @stopping = false
          @thread = Thread.new { run }
          @thread.name = "tasker-live-relay"
          @thread.report_on_exception = false
        end
        self
      end

      # Stops: closes the stream (a waiting read returns at once), lets the
      # thread finish dispatching the batch it holds, and waits for it (up to
      # +timeout+ seconds when given) unless called from the relay's own thread
      # (e.g. by a subscriber). Events still buffered in the library are dropped
      # with the stream. → true when the thread has ended
      def stop(timeout: nil)
        thread = @lock.synchronize do
          @stopping = true
          @wakeup.broadcast
          @thread
        end
        return true if thread.nil?

        close_stream
        return false if thread.equal?(Thread.current)

        !thread.join(timeout).nil?
      end

      # The patterns, the only_live flag, the wait and whether the thread runs.
      # @return [String]
      def inspect
        "#<#{self.class.name} patterns=#{@patterns.inspect} only_live=#{@only_live} wait_ms=#{@wait_ms} " \
          "#{running? ? 'running' : 'stopped'}>"
      end

      private

      def run
        until @stopping
          begin
            relay_batch
          rescue FFIError => e
            TaskerCore.logger.error("tasker_core: live event relay: #{e.class}: #{e.message}; stopping")
            break
          rescue StandardError => e
            @metrics_lock.synchronize { @metrics[:library_errors] += 1 }
            TaskerCore.logger.error("tasker_core: live event relay: #{e.class}: #{e.message}; " \
                                    "retrying in #{@error_pause}s")
            pause(@error_pause)
          end
        end
      ensure
        # #stop closed it already; closing again here could close the stream of
        # a relay started on the same client meanwhile.
        close_stream unless @stopping
      end

      # One round: read a batch and dispatch its events in order. A stream found
      # closed while not stopping (someone called close_event_stream) is opened
      # again.
      def relay_batch
        batch = @client.read_event_stream(wait_ms: @wait_ms)
        unless batch.open?
          # Under the lock: a #stop that has begun skips this, one that comes
          # after closes what this opens.
          @lock.synchronize { @client.open_event_stream(patterns: @patterns) unless @stopping }
          return
        end

        batch.each do |event|
          if @only_live && event.durable?
            @metrics_lock.synchronize do
              @metrics[:events] += 1
              @metrics[:skipped] += 1
            end
            next
          end
          delivered = @dispatcher.publish_locally(event)
          record(event, delivered)
        end
        @metrics_lock.synchronize { @metrics[:batches] += 1 unless batch.empty? }
      end

      def close_stream
        @client.close_event_stream
      rescue StandardError => e
        TaskerCore.logger.debug { "tasker_core: live event relay: closing the stream: #{e.class}: #{e.message}" }
      end

    end
  end
end
