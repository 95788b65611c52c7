# frozen_string_literal: true

module TaskerCore
  class Web
    module GraphQL
      # One row of a task's or step's audit trail.
      class TransitionType < ::GraphQL::Schema::Object
        graphql_name "TaskerTransition"
        field :id, ID, null: false
        field :from_state, String, null: true
        field :to_state, String, null: false
        field :sort_key, Integer, null: false
        field :event, String, null: true
        field :metadata, JsonType, null: true
        field :created_at, ::GraphQL::Types::ISO8601DateTime, null: true
      end
    end
  end
end
