# frozen_string_literal: true

module TaskerCore
  # What Client#read_event_stream returns: the next batch of the client's live
  # event stream (TaskerCore::Event, in the order the client's transactions
  # committed; durable? false for the live-only ones) and open (false once the
  # stream is closed, or when none was opened). An empty batch of an open stream
  # means nothing came within wait_ms. Nothing is acknowledged: a batch read is
  # gone from the stream.
  class LiveEventBatch < ValueObject
    include EventCollection

    attribute(:events) { |rows| Array(rows).map { |row| Event.from_h(row) }.freeze }
    attribute(:open) { |value| value == true }

    def open?
      open
    end
  end
end
