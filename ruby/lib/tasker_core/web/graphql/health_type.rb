# frozen_string_literal: true

module TaskerCore
  class Web
    module GraphQL
      # Task and step counts by state, and the database's connections.
      class HealthType < ::GraphQL::Schema::Object
        graphql_name "TaskerSystemHealth"
        SystemHealth.attribute_names.each { |name| field name, Integer, null: true }
      end
    end
  end
end
