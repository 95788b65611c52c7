# frozen_string_literal: true

module TaskerCore
  # One registered task template version (Client#task_templates).
  class TaskTemplateSummary < ValueObject
    attribute :named_task_id
    attribute :namespace
    attribute :name
    attribute :version
    attribute :description
    attribute :step_count
    attribute :created_at, :time

    # "namespace/name@version"
    def key
      "#{namespace}/#{name}@#{version}"
    end
  end
end
