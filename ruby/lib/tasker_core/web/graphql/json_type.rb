# frozen_string_literal: true

module TaskerCore
  class Web
    module GraphQL
      # Any JSON value (contexts, results, metadata, details).
      class JsonType < ::GraphQL::Schema::Scalar
        graphql_name "TaskerJSON"
        description "A JSON value"

        # @return [Object] +value+ unchanged
        def self.coerce_input(value, _context)
          value
        end

        # @return [Object] +value+ as JSON-ready values (Serializer.dump)
        def self.coerce_result(value, _context)
          Serializer.dump(value)
        end
      end
    end
  end
end
