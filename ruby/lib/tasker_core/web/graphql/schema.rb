# frozen_string_literal: true

module TaskerCore
  class Web
    module GraphQL
      # The Tasker Core GraphQL schema. Errors of the client come back as
      # GraphQL errors whose extensions carry the error type, its details and
      # the HTTP status the REST API would answer.
      class Schema < ::GraphQL::Schema
        query QueryType
        mutation MutationType
        max_depth 12
        max_complexity 2000

        rescue_from(TaskerCore::Error) do |err, _obj, _args, _ctx, _field|
          body = ErrorStatus.body(err)["error"]
          raise ::GraphQL::ExecutionError.new(err.message, extensions: { "type" => body["type"], "details" => body["details"],
                                                                         "status" => ErrorStatus.for(err) })
        end
      end
    end
  end
end
