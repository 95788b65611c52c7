# frozen_string_literal: true

module TaskerCore
  # One task as a list shows it (Client#list_tasks): identity, template,
  # current state, priority, who asked for it and when.
  class TaskSummary < ValueObject
    attribute :task_id
    attribute :named_task_id
    attribute :namespace
    attribute :name
    attribute :version
    attribute :state
    attribute :complete
    attribute :priority
    attribute :correlation_id
    attribute :initiator
    attribute :source_system
    attribute :reason
    attribute :tags, :frozen
    attribute :requested_at, :time
    attribute :created_at, :time
    attribute :updated_at, :time
    attribute :completed_at, :time

    def complete?
      complete == true
    end

    # "namespace/name@version"
    def key
      "#{namespace}/#{name}@#{version}"
    end
  end
end
