# frozen_string_literal: true

module TaskerCore
  # What EventBatch and LiveEventBatch share: a value object whose +events+
  # attribute is an Array of TaskerCore::Event, enumerable over them.
  module EventCollection
    include Enumerable

    # Yields each event in order; an Enumerator without a block.
    # @yieldparam event [TaskerCore::Event]
    # @return [self, Enumerator]
    def each(&block)
      return enum_for(:each) unless block

      events.each(&block)
      self
    end

    # @return [Integer] the number of events
    def size
      events.size
    end

    def empty?
      events.empty?
    end

    # The fields (ValueObject#to_h, not Enumerable's), so that inspect and ==
    # see them.
    def to_h
      ValueObject.instance_method(:to_h).bind_call(self)
    end
  end
end
