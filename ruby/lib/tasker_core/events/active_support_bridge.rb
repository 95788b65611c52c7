# frozen_string_literal: true

module TaskerCore
  module Events
    # Re-publishes every event dispatched by Events.publish_locally through
    # ActiveSupport::Notifications (when it is loaded), under the event's name
    # ("step.completed"...) with Event#notification_payload: the event's payload
    # plus "event_id", "task_id", "task_seq", "step_id", "namespace", "task_name"
    # and "correlation_id". Events::DryEventsBridge does the same for a
    # dry-events publisher.
    module ActiveSupportBridge
      module_function

      def available?
        defined?(::ActiveSupport::Notifications) && ::ActiveSupport::Notifications.respond_to?(:instrument) ? true : false
      end

      # True when ActiveSupport::Notifications is loaded and something is
      # subscribed to +name+ (a notifier that cannot tell counts as listening).
      def listening?(name)
        return false unless available?

        notifications = ::ActiveSupport::Notifications
        notifier = notifications.respond_to?(:notifier) ? notifications.notifier : nil
        notifier.respond_to?(:listening?) ? notifier.listening?(name) : true
      end

      # Publishes +event+ through ActiveSupport::Notifications under its name.
      # @param event [TaskerCore::Event]
      # @return [void]
      def instrument(event)
        ::ActiveSupport::Notifications.instrument(event.name, event.notification_payload)
      end
    end
  end
end
