# frozen_string_literal: true

module TaskerCore
  # One lifecycle event of the library's durable outbox (Client#fetch_events):
  # a task or step transition, named as in REFERENCE §7 ("task.completed",
  # "step.completed"...). task_seq numbers the task's events from 1 without gaps;
  # payload is the event's Hash (string keys, frozen); created_at a UTC Time.
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

    # The payload with the event's identifiers added (string keys; the payload's
    # own values win): what the ActiveSupport::Notifications bridge instruments.
    def notification_payload
      {
        "event_id" => event_id, "task_id" => task_id, "task_seq" => task_seq, "step_id" => step_id,
        "namespace" => namespace, "task_name" => task_name, "correlation_id" => correlation_id
      }.merge(payload.is_a?(Hash) ? payload : {})
    end

    # The event as the library sent it (for ack_events).
    def to_library_h
      h = to_h.transform_keys(&:to_s)
      h["created_at"] = created_at&.getutc&.iso8601(6)
      h
    end
  end
end
