# frozen_string_literal: true

module TaskerCore
  # What Client#fetch_events returns: the events (TaskerCore::Event, in order per
  # task), the snapshot horizon they were read at, and drained (true when every
  # visible unacknowledged event is in the batch). Hand it back to
  # Client#ack_events once its events are processed; until then the same events
  # come back.
  class EventBatch < ValueObject
    include Enumerable

    attribute(:events) { |rows| Array(rows).map { |row| Event.from_h(row) }.freeze }
    attribute :horizon
    attribute :drained

    def drained?
      drained == true
    end

    def each(&block)
      return enum_for(:each) unless block

      events.each(&block)
      self
    end

    def size
      events.size
    end

    def empty?
      events.empty?
    end

    # The batch as the library returned it (the ack_events payload, without the subscriber).
    def to_library_h
      { "events" => events.map(&:to_library_h), "horizon" => horizon, "drained" => drained? }
    end
  end
end
