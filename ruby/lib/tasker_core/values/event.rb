# frozen_string_literal: true

module TaskerCore
  # One lifecycle event: a task or step transition or an orchestration moment,
  # named as in REFERENCE §7 ("task.completed", "step.completed"...). payload is
  # the event's Hash (string keys, frozen); created_at a UTC Time.
  #
  # durable: true for an event of the library's outbox (Client#fetch_events, and
  # the durable events of the live stream, Client#read_event_stream), whose
  # task_seq numbers the task's events from 1 without gaps; false for one that
  # is never stored: the live stream's live-only events (before_transition,
  # observability timings; event_id and task_seq 0) and what the worker publishes
  # in-process (step.before_handle...). Defaults to true.
  #
  # System events (system.*: workers, the database connection, the pool, the
  # system health; library.warning.* / library.error.*) are not tied to a task:
  # task_id is nil, and a durable one's task_seq numbers the outbox's system
  # stream instead of a task's.
  class Event < ValueObject
    attribute :event_id
    attribute :task_id
    attribute :task_seq
    attribute :step_id
    attribute :name
    attribute :namespace
    attribute :task_name
    attribute :correlation_id
    attribute :payload, :frozen
    attribute :created_at, :time
    attribute(:durable) { |value| value.nil? ? true : value == true }

    def initialize(durable: true, **values)
      super(durable: durable.nil? ? true : durable == true, **values)
    end

    def durable?
      durable
    end

    # The payload with the event's identifiers added (string keys; the payload's
    # own values win): what the ActiveSupport::Notifications bridge instruments.
    def notification_payload
      {
        "event_id" => event_id, "task_id" => task_id, "task_seq" => task_seq, "step_id" => step_id,
        "namespace" => namespace, "task_name" => task_name, "correlation_id" => correlation_id
      }.merge(payload.is_a?(Hash) ? payload : {})
    end

    # The event as the library sent it (for ack_events), without durable: the
    # ack reads the outbox identifiers only.
    def to_library_h
      h = to_h.transform_keys(&:to_s)
      h.delete("durable")
      h["created_at"] = created_at&.getutc&.iso8601(6)
      h
    end
  end
end
