# frozen_string_literal: true

module TaskerCoreSpec
  # A STAND-IN for dry-events' Dry::Events::Publisher, used by
  # spec/tasker_core/events/dry_events_bridge_spec.rb only.
  #
  # The dry-events gem cannot be installed here (no gem registry; Debian has no
  # ruby-dry-events), so the bridge is tested against this minimal model of
  # dry-events' documented public API — not its code:
  # - Dry::Events::Publisher[id] returns a module (a Module subclass) whose
  #   inclusion gives a class's instances register_event(id, payload = {}),
  #   publish(id, payload = {}) and subscribe(id) { |event| ... }; an id can be
  #   given to Publisher[] once (PublisherAlreadyRegisteredError);
  # - publishing or subscribing to an event id that was not registered raises
  #   (as recent dry-events versions do);
  # - listeners get a Dry::Events::Event with #id, #payload and #[] (which
  #   raises KeyError for a missing key, like dry-events' fetch).
  #
  # Nothing is defined at load time: install! defines Dry::Events (and Dry when
  # absent) and uninstall! removes what install! defined, so the other specs see
  # no Dry.
  module DryEventsStandIn
    @created_dry = false
    @installed = false

    class << self
      def installed?
        @installed
      end

      def install!
        raise "Dry::Events is already defined (the real dry-events is loaded?)" if defined?(::Dry::Events)

        @created_dry = !defined?(::Dry)
        Object.const_set(:Dry, Module.new) if @created_dry
        ::Dry.const_set(:Events, build)
        @installed = true
      end

      def uninstall!
        return unless @installed

        ::Dry.send(:remove_const, :Events)
        Object.send(:remove_const, :Dry) if @created_dry
        @installed = false
        @created_dry = false
      end

      private

      def build
        events = Module.new
        event_class = Class.new do
          attr_reader :id, :payload

          def initialize(id, payload)
            @id = id
            @payload = payload.freeze
            freeze
          end

          def [](key)
            @payload.fetch(key)
          end
        end
        unregistered = Class.new(StandardError)
        invalid_subscriber = Class.new(StandardError)
        already_registered = Class.new(StandardError)
        events.const_set(:Event, event_class)
        events.const_set(:UnregisteredEventError, unregistered)
        events.const_set(:InvalidSubscriberError, invalid_subscriber)
        events.const_set(:PublisherAlreadyRegisteredError, already_registered)
        events.const_set(:Publisher, publisher_class(event_class, unregistered, invalid_subscriber,
                                                     already_registered))
        events
      end

      # Publisher: a Module subclass; Publisher[id] is the module to include.
      def publisher_class(event_class, unregistered, invalid_subscriber, already_registered)
        instance_methods = Module.new do
          define_method(:__stand_in_events__) { @__stand_in_events__ ||= {} }
          define_method(:__stand_in_listeners__) { @__stand_in_listeners__ ||= Hash.new { |h, k| h[k] = [] } }

          define_method(:register_event) do |event_id, payload = {}|
            __stand_in_events__[event_id] = payload
            self
          end

          define_method(:publish) do |event_id, payload = {}|
            raise unregistered, "unregistered event #{event_id.inspect}" unless __stand_in_events__.key?(event_id)

            event = event_class.new(event_id, __stand_in_events__[event_id].merge(payload))
            __stand_in_listeners__[event_id].each { |listener| listener.call(event) }
            self
          end

          define_method(:subscribe) do |event_id, &block|
            unless __stand_in_events__.key?(event_id)
              raise invalid_subscriber, "cannot subscribe to unregistered event #{event_id.inspect}"
            end

            __stand_in_listeners__[event_id] << block
            self
          end
        end

        Class.new(Module) do
          attr_reader :id

          define_singleton_method(:registry) { @registry ||= {} }

          define_singleton_method(:[]) do |id|
            raise already_registered, "publisher with id #{id.inspect} already registered" if registry.key?(id)

            new(id)
          end

          define_method(:initialize) do |id|
            super()
            @id = id
          end

          define_method(:included) do |klass|
            klass.include(instance_methods)
            self.class.registry[id] = klass
            super(klass)
          end
        end
      end
    end
  end
end
