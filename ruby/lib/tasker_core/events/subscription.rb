# frozen_string_literal: true

module TaskerCore
  module Events
    # A subscriber registered with Events.subscribe: a name pattern, optional
    # namespace / task name filters and the block to call.
    class Subscription
      attr_reader :pattern, :namespace, :task_name

      # pattern: "name.exact", "prefix.*" (one or more segments after "prefix.") or "*".
      def initialize(pattern, handler:, namespace: nil, task_name: nil)
        @pattern = pattern.to_s
        @matcher = self.class.matcher_for(@pattern)
        @namespace = namespace&.to_s
        @task_name = task_name&.to_s
        @handler = handler
        freeze
      end

      # A Proc name → boolean for a pattern; ArgumentError for a malformed one.
      def self.matcher_for(pattern)
        if pattern == "*"
          ->(_name) { true }
        elsif pattern.end_with?(".*") && pattern.length > 2 && !pattern[0..-3].include?("*")
          prefix = pattern[0..-2] # keeps the dot: "step."
          ->(name) { name.length > prefix.length && name.start_with?(prefix) }
        elsif !pattern.empty? && !pattern.include?("*")
          ->(name) { name == pattern }
        else
          raise ArgumentError, "invalid event pattern #{pattern.inspect}: use an exact name, \"prefix.*\" or \"*\""
        end
      end

      # True when +name+ matches the pattern (the filters are not looked at).
      def name_matches?(name)
        @matcher.call(name)
      end

      # True when the event's name matches and it passes the filters.
      def matches?(event)
        return false unless @matcher.call(event.name.to_s)
        return false if @namespace && event.namespace.to_s != @namespace
        return false if @task_name && event.task_name.to_s != @task_name

        true
      end

      # Calls the subscription's block with +event+ (the caller checked #matches?).
      # @param event [TaskerCore::Event]
      # @return [Object] what the block returned
      def call(event)
        @handler.call(event)
      end

      # Stops delivery to this subscription. → true when it was registered
      def unsubscribe
        Events.unsubscribe(self)
      end

      def active?
        Events.subscriptions.any? { |s| s.equal?(self) }
      end

      # The pattern and the namespace / task name filters.
      # @return [String]
      def inspect
        "#<#{self.class.name} pattern=#{@pattern.inspect} namespace=#{@namespace.inspect} " \
          "task_name=#{@task_name.inspect}>"
      end
    end
  end
end
