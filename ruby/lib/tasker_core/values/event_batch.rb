# frozen_string_literal: true

module TaskerCore
  # What Client#fetch_events returns: the events (TaskerCore::Event, in order per
  # task), the snapshot horizon they were read at, and drained (true when every
  # visible unacknowledged event is in the batch). Hand it back to
  # Client#ack_events once its events are processed; until then the same events
  # come back.
  class EventBatch < ValueObject
    include EventCollection

    # Outbox events are durable whatever the row says.
    attribute(:events) do |rows|
      Array(rows).map { |row| Event.from_h(row.is_a?(Hash) ? row.merge("durable" => true) : row) }.freeze
    end
    attribute :horizon
    attribute :drained

    def drained?
      drained == true
    end

    # The batch as the library returned it (the ack_events payload, without the subscriber).
    def to_library_h
      { "events" => events.map(&:to_library_h), "horizon" => horizon, "drained" => drained? }
    end
  end
end
