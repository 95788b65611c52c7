# frozen_string_literal: true

module TaskerCore
  class Web
    module GraphQL
      # A task: identity, state, context, steps with readiness, execution
      # context, DAG analysis, audit trail and operator actions.
      class TaskType < ::GraphQL::Schema::Object
        graphql_name "TaskerTask"
        field :id, ID, null: false
        field :namespace, String, null: false
        field :name, String, null: false
        field :version, String, null: false
        field :state, String, null: false
        field :complete, Boolean, null: false
        field :priority, Integer, null: false
        field :correlation_id, String, null: false
        field :initiator, String, null: true
        field :reason, String, null: true
        field :tags, JsonType, null: true
        field :created_at, ::GraphQL::Types::ISO8601DateTime, null: false
        field :completed_at, ::GraphQL::Types::ISO8601DateTime, null: true
        field :context, JsonType, null: true, resolver_method: :task_context
        field :steps, [StepType], null: false
        field :execution_context, JsonType, null: false
        field :analysis, AnalysisType, null: false
        field :transitions, [TransitionType], null: false
        field :operator_actions, JsonType, null: true, description: "null when the client has no operator API"

        # @return [Integer] the task id
        def id
          object.task_id
        end

        # @return [Boolean]
        def complete
          object.complete == true
        end

        # @return [Object] the task's context
        def task_context
          detail.context
        end

        # @return [Array<Hash>] each step with its task id and readiness
        def steps
          readiness = client.step_readiness(object.task_id).to_h { |r| [r.workflow_step_id, r] }
          detail.steps.map { |s| { step: s, task_id: object.task_id, readiness: readiness[s.workflow_step_id] } }
        end

        # @return [TaskerCore::TaskExecutionContext]
        def execution_context
          client.task_execution_context(object.task_id)
        end

        # @return [TaskerCore::DependencyAnalysis]
        def analysis
          client.analyze_dependencies(object.task_id)
        end

        # @return [Array<TaskerCore::Transition>] the task's audit trail
        def transitions
          client.task_transitions(object.task_id)
        end

        # @return [Array<TaskerCore::OperatorAction>, nil] the operator actions on the
        #   task and its steps; nil when the
        #   client has no operator API
        def operator_actions
          client.respond_to?(:operator_actions) ? client.operator_actions(task_id: object.task_id) : nil
        end

        private

        def client
          GraphQL.client(context)
        end

        # A list gives summaries; the fields a summary lacks load the task once.
        def detail
          return object if object.is_a?(TaskDetail)

          @detail ||= client.get_task(object.task_id)
        end
      end
    end
  end
end
