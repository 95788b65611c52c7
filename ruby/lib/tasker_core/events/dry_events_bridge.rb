# frozen_string_literal: true

require "set"

module TaskerCore
  module Events
    # Re-publishes every event dispatched by Events.publish_locally through a
    # dry-events publisher, when the application loaded dry-events (the gem does
    # not depend on it; tested against dry-events 0.3.0):
    #
    #   require "dry/events"
    #   TaskerCore::Events::DryEventsBridge.register_catalog(client) # before subscribing
    #   publisher = TaskerCore::Events::DryEventsBridge.publisher
    #   publisher.subscribe("step.completed") { |event| Metrics.increment("steps", step: event[:step_id]) }
    #   publisher.subscribe("step.completed", namespace: "shop") { |event| ... } # a dry-events filter
    #   publisher.subscribe(listener) # calls listener.on_step_completed(event)... for registered events
    #
    # The publisher is one object (built on first use) of a class that includes
    # Dry::Events::Publisher[:tasker_core]; that id is then taken in the process
    # (Dry::Events::Publisher.registry[:tasker_core] is the bridge's class). An
    # application that took it first gets a ConfigurationError from the bridge.
    # Subscribe on the publisher object: dry-events copies class-level
    # subscriptions (Dry::Events::Listener[:tasker_core], the class's subscribe)
    # into a publisher when it is built, and one made later reaches it only for
    # an event that already had a class-level listener then.
    #
    # Each event is published under its name (a String) with
    # Event#notification_payload — the payload the ActiveSupport bridge
    # instruments: the event's payload plus event_id, task_id, task_seq, step_id,
    # namespace, task_name and correlation_id — with its top-level keys as
    # Symbols (dry-events' convention: event[:step_id], and the keys of a
    # subscription's filter); nested values (task_context...) keep the library's
    # string keys.
    #
    # dry-events knows only registered events: subscribing to an unregistered
    # name raises Dry::Events::InvalidSubscriberError, and a listener object is
    # attached only to the events registered when it subscribes. Call
    # register_catalog(client) at boot, before subscribing, to register every
    # name of client.event_catalog (system, definitions_paths' and templates'
    # custom events). A name not yet registered when it is first published is
    # registered then. Names are Strings: dry-events tells :"step.completed" from
    # "step.completed".
    #
    # Listeners run in turn on the publishing thread; one that raises is logged
    # (TaskerCore.logger) and skipped, like a TaskerCore::Events subscriber, and
    # the listeners after it still get the event (dry-events' own publish would
    # stop at it).
    module DryEventsBridge
      # The publisher id given to Dry::Events::Publisher[].
      PUBLISHER_ID = :tasker_core

      LOCK = Mutex.new
      private_constant :LOCK

      @publisher = nil
      @publisher_class = nil
      @registered = Set.new

      class << self
        # True when dry-events is loaded.
        def available?
          defined?(::Dry::Events::Publisher) ? true : false
        end

        # The dry-events publisher (nil without dry-events). Raises
        # ConfigurationError when the publisher id is taken by another class.
        def publisher
          return nil unless available?

          LOCK.synchronize { current_publisher }
        end

        # Registers +name+ on the publisher unless it already is. → true when
        # registered now (false without dry-events or when it already was)
        def register_event(name)
          return false unless available?

          name = name.to_s
          LOCK.synchronize do
            pub = current_publisher
            next false if @registered.include?(name)

            pub.register_event(name)
            @registered << name
            true
          end
        end

        # Registers every event of client.event_catalog, so that subscribing to
        # any of them works. → the names registered (all of the catalog's; [] without dry-events)
        def register_catalog(client = TaskerCore.client)
          return [] unless available?

          names = client.event_catalog.map { |definition| definition["name"].to_s }
          names.each { |name| register_event(name) }
          names
        end

        # The names registered through the bridge.
        def registered_events
          LOCK.synchronize { @registered.to_a.sort }
        end

        # Publishes +event+ (an Event) to the dry-events publisher's listeners
        # (those whose filter matches), registering its name first when needed.
        # → the publisher (nil without dry-events)
        def publish(event)
          return nil unless available?

          register_event(event.name)
          pub = publisher
          # Publisher#process yields each matching listener instead of calling
          # it, so that one raising does not keep the event from the others.
          pub.process(event.name.to_s, event.notification_payload.transform_keys(&:to_sym)) do |dry_event, listener|
            listener.call(dry_event)
          rescue StandardError => e
            Events.log_failure("dry-events listener", event, e)
          end
          pub
        end

        # Forgets the publisher and the registered names (tests; reloading). The
        # publisher class is kept: dry-events gives a publisher id out once per
        # process.
        def reset!
          LOCK.synchronize do
            @publisher = nil
            @registered = Set.new
          end
          nil
        end

        private

        # Under LOCK.
        def current_publisher
          @publisher ||= (@publisher_class ||= build_publisher_class).new
        end

        def build_publisher_class
          publisher_module = begin
            ::Dry::Events::Publisher[PUBLISHER_ID]
          rescue ::Dry::Events::PublisherAlreadyRegisteredError => e
            raise ConfigurationError,
                  "dry-events publisher id #{PUBLISHER_ID.inspect} is taken by another class, and " \
                  "TaskerCore::Events::DryEventsBridge needs it (#{e.message})"
          end
          Class.new do
            include publisher_module

            def self.name
              "TaskerCore::Events::DryEventsBridge::Publisher"
            end

            def inspect
              "#<#{self.class.name}>"
            end
          end
        end
      end
    end
  end
end
