# frozen_string_literal: true

require "set"

module TaskerCore
  module Events
    # Re-publishes every event dispatched by Events.publish_locally through a
    # dry-events publisher, when the application loaded dry-events (the gem does
    # not depend on it):
    #
    #   require "dry/events"
    #   TaskerCore::Events::DryEventsBridge.register_catalog(client) # before subscribing
    #   TaskerCore::Events::DryEventsBridge.publisher.subscribe("step.completed") do |event|
    #     Metrics.increment("steps", task: event[:task_id], step: event[:step_id])
    #   end
    #
    # The publisher is one object (built on first use) of a class that includes
    # Dry::Events::Publisher[:tasker_core]. Each event is published under its
    # name with Event#notification_payload — the payload the ActiveSupport bridge
    # instruments: the event's payload plus event_id, task_id, task_seq, step_id,
    # namespace, task_name and correlation_id — with its top-level keys as
    # Symbols (dry-events' convention: event[:step_id], event.payload[:task_id]);
    # nested values (task_context...) keep the library's string keys.
    #
    # dry-events knows only registered events, and some versions refuse a
    # subscription to an unregistered one: call register_catalog(client) at boot,
    # before subscribing, to register every name of client.event_catalog
    # (system, definitions_paths' and templates' custom events). A name not yet
    # registered when it is first published is registered then.
    #
    # dry-events calls its listeners in turn on the publishing thread; one that
    # raises stops that event's delivery to the listeners after it, and is logged
    # by Events.publish_locally, which never lets it reach its caller or the
    # TaskerCore::Events subscribers.
    module DryEventsBridge
      # The publisher id given to Dry::Events::Publisher[].
      PUBLISHER_ID = :tasker_core

      LOCK = Mutex.new
      private_constant :LOCK

      @publisher = nil
      @publisher_class = nil
      @publisher_module = nil
      @registered = Set.new

      class << self
        # True when dry-events is loaded.
        def available?
          defined?(::Dry::Events::Publisher) ? true : false
        end

        # The dry-events publisher (nil without dry-events).
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

        # Publishes +event+ (an Event) to the dry-events publisher, registering
        # its name first when needed. → the publisher (nil without dry-events)
        def publish(event)
          return nil unless available?

          register_event(event.name)
          pub = publisher
          pub.publish(event.name.to_s, event.notification_payload.transform_keys(&:to_sym))
          pub
        end

        # Forgets the publisher and the registered names (tests; reloading). The
        # publisher class is kept while Dry::Events::Publisher is the same module:
        # dry-events registers a publisher id once per process.
        def reset!
          LOCK.synchronize do
            @publisher = nil
            @registered = Set.new
          end
          nil
        end

        private

        # Under LOCK. A new publisher when there is none or dry-events' module
        # changed (reloaded, or a test's stand-in).
        def current_publisher
          mod = ::Dry::Events::Publisher
          unless @publisher && @publisher_module.equal?(mod)
            @publisher_class = publisher_class_for(mod) unless @publisher_module.equal?(mod) && @publisher_class
            @publisher_module = mod
            @publisher = @publisher_class.new
            @registered = Set.new
          end
          @publisher
        end

        def publisher_class_for(mod)
          Class.new do
            include mod[PUBLISHER_ID]

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
