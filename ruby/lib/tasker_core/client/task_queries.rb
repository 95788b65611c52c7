# frozen_string_literal: true

module TaskerCore
  class Client
    # The reads behind task lists and task pages (TaskerCore::Web, an app's own
    # admin screens), included into Client (below).
    module TaskQueries
      # The orders #list_tasks accepts as sort: (default "created_desc").
      SORTS = %w[created_desc created_asc].freeze

      # A page of tasks, newest first (sort: "created_asc" for oldest first).
      # Filters: state: (a state or an Array of states), namespace:, name:,
      # version:, created_from: (inclusive), created_to: (exclusive) Times.
      # limit: defaults to api.list_default_limit, at most api.list_max_limit.
      # cursor: the previous page's next_cursor. → TaskPage
      # ValidationError (details["field"]) for a bad filter, limit or cursor.
      def list_tasks(state: nil, namespace: nil, name: nil, version: nil, created_from: nil, created_to: nil,
                     sort: nil, cursor: nil, limit: nil)
        states = state.nil? ? nil : Array(state).map(&:to_s)
        payload = with_optional({}, states: states, namespace: namespace, name: name, version: version,
                                    created_from: created_from, created_to: created_to, sort: sort&.to_s,
                                    cursor: cursor, limit: limit)
        TaskPage.from_h(invoke(:list_tasks, payload))
      end

      # One task with its context and steps (state, attempts, inputs, results
      # and errors, lease, parents). NotFoundError when there is none. → TaskDetail
      def get_task(task_id)
        TaskDetail.from_h(invoke(:get_task, { task_id: id_param(task_id, "task_id") }))
      end

      # The registered task templates (named tasks), of one namespace when
      # given, by namespace, name and version. → [TaskTemplateSummary]
      def task_templates(namespace: nil, limit: nil)
        data = invoke(:list_task_templates, with_optional({}, namespace: namespace, limit: limit))
        Array(data["templates"]).map { |row| TaskTemplateSummary.from_h(row) }.freeze
      end
    end

    include TaskQueries
  end
end
