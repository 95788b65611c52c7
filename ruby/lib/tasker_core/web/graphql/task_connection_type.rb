# frozen_string_literal: true

module TaskerCore
  class Web
    module GraphQL
      # A page of tasks (list_tasks) with where the next one starts.
      class TaskConnectionType < ::GraphQL::Schema::Object
        graphql_name "TaskerTaskConnection"
        field :nodes, [TaskType], null: false
        field :page_info, PageInfoType, null: false

        # @return [Array<TaskerCore::TaskSummary>] the page's tasks
        def nodes
          object.tasks
        end

        # @return [Hash] has_next_page and end_cursor (the next page's cursor)
        def page_info
          { has_next_page: !object.last_page?, end_cursor: object.next_cursor }
        end
      end
    end
  end
end
