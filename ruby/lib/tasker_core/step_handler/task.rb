# frozen_string_literal: true

module TaskerCore
  module StepHandler
    # The task a step belongs to, as its handler sees it. context is the task's
    # context (a frozen Hash with string keys; {} when the task has none).
    class Task
      attr_reader :task_id, :name, :namespace, :version, :context, :correlation_id

      def initialize(task_id:, name:, namespace:, version:, context:, correlation_id:)
        @task_id = task_id
        @name = name
        @namespace = namespace
        @version = version
        @context = ValueObject.deep_freeze(context || {})
        @correlation_id = correlation_id
        freeze
      end

      # The task of a ClaimedStep.
      def self.from_claimed(claimed)
        new(task_id: claimed.task_id, name: claimed.task_name, namespace: claimed.namespace,
            version: claimed.version, context: claimed.task_context, correlation_id: claimed.correlation_id)
      end

      # The task's id, namespace/name@version and correlation id.
      # @return [String]
      def inspect
        "#<#{self.class.name} task_id=#{task_id} #{namespace}/#{name}@#{version} correlation_id=#{correlation_id}>"
      end
    end
  end
end
