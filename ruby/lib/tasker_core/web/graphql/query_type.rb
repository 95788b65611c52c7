# frozen_string_literal: true

module TaskerCore
  class Web
    module GraphQL
      # The queries: task, tasks (a connection with filters), step, readiness,
      # analysis, health.
      class QueryType < ::GraphQL::Schema::Object
        graphql_name "TaskerQuery"

        field :task, TaskType, null: false do
          argument :id, ID, required: true
        end

        field :tasks, TaskConnectionType, null: false, connection: false do
          argument :first, Integer, required: false, description: "page size (api.list_default_limit)"
          argument :after, String, required: false, description: "pageInfo.endCursor of the previous page"
          argument :state, [String], required: false
          argument :namespace, String, required: false
          argument :name, String, required: false
          argument :version, String, required: false
          argument :created_from, ::GraphQL::Types::ISO8601DateTime, required: false
          argument :created_to, ::GraphQL::Types::ISO8601DateTime, required: false
          argument :sort, String, required: false, description: "created_desc (default) or created_asc"
        end

        field :step, StepType, null: false do
          argument :task_id, ID, required: true
          argument :id, ID, required: true
        end

        field :readiness, [ReadinessType], null: false do
          argument :task_id, ID, required: true
        end

        field :analysis, AnalysisType, null: false do
          argument :task_id, ID, required: true
        end

        field :health, HealthType, null: false

        # @return [TaskerCore::TaskDetail]
        # @raise [TaskerCore::NotFoundError]
        def task(id:)
          client.get_task(id)
        end

        # @return [TaskerCore::TaskPage] a page of Client#list_tasks
        def tasks(first: nil, after: nil, state: nil, **filters)
          client.list_tasks(limit: first, cursor: after, state: state, **filters)
        end

        def step(task_id:, id:)
          detail = client.get_task(task_id)
          found = detail.steps.find { |s| s.workflow_step_id.to_s == id.to_s }
          raise NotFoundError.new("step #{id} is not a step of task #{task_id}", details: { "step_id" => id }) unless found

          { step: found, task_id: detail.task_id, readiness: client.step_readiness(detail.task_id, step_ids: [found.workflow_step_id]).first }
        end

        # @return [Array<TaskerCore::StepReadiness>]
        def readiness(task_id:)
          client.step_readiness(task_id)
        end

        # @return [TaskerCore::DependencyAnalysis]
        def analysis(task_id:)
          client.analyze_dependencies(task_id)
        end

        # @return [TaskerCore::SystemHealth]
        def health
          client.system_health
        end

        private

        def client
          GraphQL.client(context)
        end
      end
    end
  end
end
