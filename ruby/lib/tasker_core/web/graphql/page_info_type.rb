# frozen_string_literal: true

module TaskerCore
  class Web
    module GraphQL
      # Where a tasks connection's page ends.
      class PageInfoType < ::GraphQL::Schema::Object
        graphql_name "TaskerPageInfo"
        field :has_next_page, Boolean, null: false
        field :end_cursor, String, null: true, description: "pass as `after` for the next page"
      end
    end
  end
end
