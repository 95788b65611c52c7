# frozen_string_literal: true

module TaskerCore
  # In-process dispatch of lifecycle events (TaskerCore::Event):
  #
  #   sub = TaskerCore::Events.subscribe("step.*", namespace: "shop") { |event| ... }
  #   TaskerCore::Events.publish_locally(event) # what Events::Listener does for each fetched event
  #   sub.unsubscribe
  #
  # Patterns: an exact name ("step.completed"), a prefix wildcard ("step.*": one
  # or more segments after "step.") or "*" (every event). Subscribers run in
  # registration order on the publishing thread; one that raises is logged
  # (TaskerCore.logger) and skipped, and the others still get the event.
  # When ActiveSupport::Notifications is defined, every published event is also
  # instrumented under its name (Events::ActiveSupportBridge), and when
  # dry-events is loaded, published to Events::DryEventsBridge.publisher; a
  # bridge that raises is logged like a subscriber.
  #
  # Where events come from: Events::Listener (every process's durable events,
  # once per subscriber name), Events::LiveRelay (this process's own events as
  # they happen, including the live-only ones) and the worker (the handler-side
  # moments, StepExecutor and Worker).
  module Events
    LOCK = Mutex.new
    private_constant :LOCK

    @subscriptions = [].freeze

    class << self
      # Registers +block+ for the events matching +pattern+ and, when given, of
      # that namespace / task name. → Events::Subscription (#unsubscribe)
      def subscribe(pattern, namespace: nil, task_name: nil, &block)
        raise ArgumentError, "TaskerCore::Events.subscribe needs a block" unless block

        subscription = Subscription.new(pattern, namespace: namespace, task_name: task_name, handler: block)
        LOCK.synchronize { @subscriptions = (@subscriptions + [subscription]).freeze }
        subscription
      end

      # Removes a subscription (idempotent). → true when it was registered
      def unsubscribe(subscription)
        LOCK.synchronize do
          before = @subscriptions.size
          @subscriptions = @subscriptions.reject { |s| s.equal?(subscription) }.freeze
          @subscriptions.size != before
        end
      end

      # The current subscriptions, in registration order.
      def subscriptions
        @subscriptions
      end

      # Removes every subscription (tests, reloading).
      def reset!
        LOCK.synchronize { @subscriptions = [].freeze }
        nil
      end

      # True when an event named +name+, published locally now, could reach
      # anyone: a subscription whose pattern matches the name (its namespace and
      # task filters are looked at on delivery), an ActiveSupport::Notifications
      # subscriber to the name, or dry-events (loaded). The worker asks before
      # it builds a handler-side event, so that a process nobody listens to
      # builds none (an event, its payload and its time cost about a tenth of
      # the worker's Ruby CPU per step). Ask per event: a subscriber can come
      # at any moment.
      def listening?(name)
        name = name.to_s
        return true if @subscriptions.any? { |s| s.name_matches?(name) }

        ActiveSupportBridge.listening?(name) || DryEventsBridge.available?
      end

      # Calls every matching subscriber with +event+ (an Event), in registration
      # order, isolating failures, then the ActiveSupport and dry-events bridges
      # when available (each isolated the same way).
      # → the number of subscribers that handled it without raising
      def publish_locally(event)
        delivered = 0
        @subscriptions.each do |subscription|
          next unless subscription.matches?(event)

          begin
            subscription.call(event)
            delivered += 1
          rescue StandardError => e
            log_failure("subscriber #{subscription.pattern.inspect}", event, e)
          end
        end
        begin
          ActiveSupportBridge.instrument(event) if ActiveSupportBridge.available?
        rescue StandardError => e
          log_failure("ActiveSupport::Notifications bridge", event, e)
        end
        begin
          DryEventsBridge.publish(event) if DryEventsBridge.available?
        rescue StandardError => e
          log_failure("dry-events bridge", event, e)
        end
        delivered
      end

      # Logs +error+, raised by +who+ (a subscriber, a bridge, a dry-events
      # listener) for +event+. Internal: the bridges log their listeners' failures
      # in the same shape.
      def log_failure(who, event, error)
        TaskerCore.logger.error(
          "tasker_core: event #{event.name} (task #{event.task_id}, seq #{event.task_seq}): #{who} raised " \
          "#{error.class}: #{error.message}#{error.backtrace ? "\n  #{error.backtrace.first(5).join("\n  ")}" : ''}"
        )
      end
    end
  end
end
