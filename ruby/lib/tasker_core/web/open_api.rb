# frozen_string_literal: true

module TaskerCore
  class Web
    # The OpenAPI 3.0 document of the JSON routes, built from Web.routes (so a
    # route cannot be missing from it) and served at /openapi.json.
    module OpenApi
      # The error response every operation may answer.
      ERROR = { "$ref" => "#/components/responses/Error" }.freeze
      # The query parameters of GET /api/tasks: name => [type, description].
      LIST_QUERY = {
        "state" => ["string", "task states, comma-separated (pending,in_progress,complete,error,cancelled,resolved_manually)"],
        "namespace" => ["string", "namespace of the task's template"],
        "name" => ["string", "name of the task's template"],
        "version" => ["string", "version of the task's template"],
        "created_from" => ["string", "RFC 3339 time, inclusive"],
        "created_to" => ["string", "RFC 3339 time, exclusive"],
        "sort" => ["string", "created_desc (default) or created_asc"],
        "cursor" => ["string", "next_cursor of the previous page"],
        "limit" => ["integer", "tasks per page (api.list_default_limit; at most api.list_max_limit)"]
      }.freeze

      module_function

      # @param routes [Array<TaskerCore::Web::Route>] Web.routes (only the JSON ones count)
      # @param base_path [String] the mount point, the document's server URL
      # @return [Hash] the OpenAPI 3.0 document
      def document(routes, base_path: "")
        paths = {}
        routes.select { |r| r.format == :json }.each do |route|
          (paths[route.openapi_path] ||= {})[route.verb.downcase] = operation(route)
        end
        {
          "openapi" => "3.0.3",
          "info" => { "title" => "Tasker Core", "version" => TaskerCore::VERSION,
                      "description" => "Tasks, steps, readiness, DAG analysis, health and operator operations." },
          "servers" => [{ "url" => base_path.empty? ? "/" : base_path }],
          "paths" => paths,
          "components" => components
        }
      end

      # @param route [TaskerCore::Web::Route]
      # @return [Hash] the OpenAPI operation object of +route+
      def operation(route)
        op = { "summary" => route.summary, "operationId" => operation_id(route),
               "parameters" => parameters(route),
               "responses" => responses(route) }
        op["requestBody"] = request_body(route) if route.verb == "POST"
        op
      end

      # @param route [TaskerCore::Web::Route]
      # @return [String] "task_cancel" for an operator route, else the handler's name
      def operation_id(route)
        return "#{route.operation.target}_#{route.operation.name}" if route.operation

        route.handler.last.to_s
      end

      # @param route [TaskerCore::Web::Route]
      # @return [Array<Hash>] the path parameters, then the query parameters of the
      #   task list (LIST_QUERY), the template list and analytics
      def parameters(route)
        path = route.param_names.map do |name|
          schema = name.end_with?("_id") ? { "type" => "integer", "format" => "int64" } : { "type" => "string" }
          { "name" => name, "in" => "path", "required" => true, "schema" => schema }
        end
        query = case route.handler.last
                when :tasks then LIST_QUERY
                when :templates then { "namespace" => ["string", "only this namespace"], "limit" => ["integer", "at most this many"] }
                when :analytics then { "since" => ["string", "RFC 3339 time; default: the library's window"] }
                else {}
                end
        path + query.map { |name, (type, desc)| { "name" => name, "in" => "query", "required" => false, "schema" => { "type" => type }, "description" => desc } }
      end

      # @param route [TaskerCore::Web::Route]
      # @return [Hash] the responses by status code
      def responses(route)
        out = { "200" => { "description" => "OK", "content" => { "application/json" => { "schema" => { "type" => "object" } } } },
                "401" => ERROR, "404" => ERROR, "422" => ERROR }
        out.merge!("403" => ERROR, "409" => ERROR) if route.mutating?
        out
      end

      # @param route [TaskerCore::Web::Route]
      # @return [Hash] the JSON request body of a POST route: an operator
      #   operation's (reason, dry_run, idempotency_key and its own parameters)
      #   or GraphQL's (query, variables, operationName)
      def request_body(route)
        if route.operation
          props = { "reason" => { "type" => "string", "description" => "why (required; audited)" },
                    "dry_run" => { "type" => "boolean", "description" => "answer what would change, write nothing" },
                    "idempotency_key" => { "type" => "string", "description" => "the same key does the work once" } }
          route.operation.params.each { |name, type| props[name] = param_schema(type) }
          schema = { "type" => "object", "required" => ["reason"], "properties" => props, "additionalProperties" => false }
        else
          schema = { "type" => "object", "required" => ["query"],
                     "properties" => { "query" => { "type" => "string" }, "variables" => { "type" => "object" },
                                       "operationName" => { "type" => "string" } } }
        end
        { "required" => true, "content" => { "application/json" => { "schema" => schema } } }
      end

      # @param type [Symbol] an Operation parameter type
      # @return [Hash] its JSON schema
      def param_schema(type)
        case type
        when :integer then { "type" => "integer" }
        when :integer_list then { "type" => "array", "items" => { "type" => "integer", "format" => "int64" } }
        when :boolean then { "type" => "boolean" }
        else {}
        end
      end

      # @return [Hash] the document's components (the Error response)
      def components
        { "responses" => { "Error" => {
          "description" => "An error: 401 unauthenticated, 403 refused (authorizer, CSRF), 404 unknown id, " \
                           "409 state conflict, 422 validation, 501 unavailable",
          "content" => { "application/json" => { "schema" => {
            "type" => "object", "required" => ["error"],
            "properties" => { "error" => { "type" => "object", "required" => %w[type message details],
                                           "properties" => { "type" => { "type" => "string" }, "message" => { "type" => "string" },
                                                             "details" => { "type" => "object" } } } }
          } } }
        } } }
      end
    end
  end
end
