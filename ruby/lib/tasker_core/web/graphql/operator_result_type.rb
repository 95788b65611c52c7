# frozen_string_literal: true

module TaskerCore
  class Web
    module GraphQL
      # What an operator mutation did (or, as a dry run, would do).
      class OperatorResultType < ::GraphQL::Schema::Object
        graphql_name "TaskerOperatorResult"
        field :operation, String, null: false
        field :dry_run, Boolean, null: false
        field :result, JsonType, null: false, description: "the operator API's answer: steps, transitions, events, ..."
      end
    end
  end
end
