# frozen_string_literal: true

begin
  require "graphql"
rescue LoadError => e
  raise LoadError, "TaskerCore::Web::GraphQL needs graphql-ruby (the graphql gem, 1.13 or later; Debian: ruby-graphql), " \
                   "which is not installed: #{e.message}"
end
require "tasker_core/web"

module TaskerCore
  class Web
    # The GraphQL API: TaskerCore::Web::GraphQL::Schema (queries task, tasks,
    # step, readiness, analysis, health; a mutation per operator operation),
    # served by TaskerCore::Web at POST /graphql. The types can be used in an
    # app's own schema; their resolvers read the client, actor and operator
    # gate from the query context (see .context), defaulting to TaskerCore.client
    # and TaskerCore::Web.settings.
    module GraphQL
      # A query context for the types: client (default TaskerCore.client),
      # actor (whom operator mutations are recorded for), settings (whose
      # authorize hook the mutations ask; default TaskerCore::Web.settings).
      def self.context(client: nil, actor: nil, settings: nil)
        settings ||= TaskerCore::Web.settings
        { tasker_client: client, tasker_actor: actor, tasker_gate: OperatorGate.new(settings) }
      end

      # The client of a query context.
      def self.client(context)
        context[:tasker_client] || TaskerCore::Web.settings.resolve_client
      end
    end
  end
end

require_relative "graphql/json_type"
require_relative "graphql/transition_type"
require_relative "graphql/readiness_type"
require_relative "graphql/analysis_type"
require_relative "graphql/health_type"
require_relative "graphql/step_type"
require_relative "graphql/task_type"
require_relative "graphql/page_info_type"
require_relative "graphql/task_connection_type"
require_relative "graphql/operator_result_type"
require_relative "graphql/query_type"
require_relative "graphql/mutation_type"
require_relative "graphql/schema"
require_relative "graphql/endpoint"
