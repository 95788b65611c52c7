# frozen_string_literal: true

module TaskerCore
  class Web
    module GraphQL
      # A page of tasks (list_tasks) with where the next one starts.
      class TaskConnectionType < ::GraphQL::Schema::Object
        graphql_name "TaskerTaskConnection"
        field :nodes, [TaskType], null: false
        field :page_info, PageInfoType, null: false

        def nodes
          object.tasks
        end

        def page_info
          { has_next_page: !object.last_page?, end_cursor: object.next_cursor }
        end
      end
    end
  end
end
