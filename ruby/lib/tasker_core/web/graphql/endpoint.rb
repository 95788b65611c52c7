# frozen_string_literal: true

module TaskerCore
  class Web
    module GraphQL
      # Answers POST /graphql: {"query", "variables"?, "operationName"?} → the
      # GraphQL result (status 200, errors inside it, as GraphQL has it).
      module Endpoint
        module_function

        # Runs the body's query with its variables and operation name.
        # @param exchange [TaskerCore::Web::Exchange]
        # @param gate [TaskerCore::Web::OperatorGate] checks mutations
        # @return [Array(Integer, Hash, Array<String>)] the Rack triple (status 200)
        # @raise [TaskerCore::ValidationError] when the query is missing or the
        #   variables are not an object
        def call(exchange, gate)
          body = exchange.json_body
          query = body["query"]
          raise ValidationError.new("query is required", details: { "field" => "query" }) unless query.is_a?(String) && !query.empty?

          variables = body["variables"]
          variables = JSON.parse(variables) if variables.is_a?(String) && !variables.empty?
          variables = {} if variables.nil? || variables == ""
          raise ValidationError.new("variables must be an object", details: { "field" => "variables" }) unless variables.is_a?(Hash)

          context = { tasker_client: exchange.client, tasker_actor: exchange.actor_name, tasker_gate: gate }
          result = Schema.execute(query, variables: variables, operation_name: body["operationName"], context: context)
          [200, { "content-type" => "application/json; charset=utf-8", "cache-control" => "no-store" }, [JSON.generate(result.to_h)]]
        rescue JSON::ParserError
          raise ValidationError.new("variables is not JSON", details: { "field" => "variables" })
        end
      end
    end
  end
end
