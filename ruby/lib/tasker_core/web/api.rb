# frozen_string_literal: true

module TaskerCore
  class Web
    # The JSON routes. Each method answers one route of Web.routes with a Rack
    # triple; errors raised here become JSON error bodies (Web#error_response).
    class Api
      # The query parameters of GET /api/tasks passed to Client#list_tasks as
      # they are (state, limit and the times are parsed first).
      LIST_FILTERS = %w[namespace name version sort cursor].freeze

      def initialize(exchange, gate)
        @x = exchange
        @gate = gate
      end

      # GET /api/tasks: a page of tasks and the URL of the next page (nil on the
      # last one).
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      # @raise [TaskerCore::ValidationError] for a malformed limit or time (the
      #   library checks the states)
      def tasks
        q = @x.query
        args = LIST_FILTERS.to_h { |k| [k.to_sym, q[k]] }.compact
        args[:state] = states(q["state"]) if q["state"]
        args[:limit] = integer(q["limit"], "limit") if q["limit"]
        args[:created_from] = time(q["created_from"], "created_from") if q["created_from"]
        args[:created_to] = time(q["created_to"], "created_to") if q["created_to"]
        page = client.list_tasks(**args)
        ok(Serializer.dump(page).merge("next_url" => page.last_page? ? nil : @x.url("/api/tasks", q.merge("cursor" => page.next_cursor))))
      end

      # GET /api/tasks/:task_id: the task with its steps and their readiness,
      # its execution context and its DAG analysis.
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      # @raise [TaskerCore::NotFoundError] when there is no such task
      def task
        id = @x.id_param("task_id")
        detail = client.get_task(id)
        readiness = client.step_readiness(id)
        ok("task" => Serializer.dump(detail).merge("steps" => Serializer.steps_with_readiness(detail, readiness)),
           "execution_context" => Serializer.dump(client.task_execution_context(id)),
           "analysis" => Serializer.dump(client.analyze_dependencies(id)))
      end

      # GET /api/tasks/:task_id/steps: the task's steps with their readiness.
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      # @raise [TaskerCore::NotFoundError] when there is no such task
      def steps
        id = @x.id_param("task_id")
        detail = client.get_task(id)
        ok("task_id" => id, "steps" => Serializer.steps_with_readiness(detail, client.step_readiness(id)))
      end

      # GET /api/tasks/:task_id/steps/:step_id: one step with its readiness and
      # transitions.
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      # @raise [TaskerCore::NotFoundError] when the task has no such step
      def step
        task_id = @x.id_param("task_id")
        step_id = @x.id_param("step_id")
        detail = client.get_task(task_id)
        found = detail.steps.find { |s| s.workflow_step_id == step_id }
        unless found
          raise NotFoundError.new("step #{step_id} is not a step of task #{task_id}",
                                  details: { "task_id" => task_id, "step_id" => step_id })
        end
        readiness = client.step_readiness(task_id, step_ids: [step_id]).first
        ok("step" => Serializer.dump(found).merge("readiness" => readiness && Serializer.dump(readiness),
                                                  "error" => Serializer.dump(found.error),
                                                  "transitions" => Serializer.dump(client.step_transitions(step_id))))
      end

      # GET /api/tasks/:task_id/readiness: every step's readiness and reason.
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      def readiness
        id = @x.id_param("task_id")
        ok("task_id" => id, "steps" => Serializer.dump(client.step_readiness(id)))
      end

      # GET /api/tasks/:task_id/transitions: the task's audit trail and each of
      # its steps'.
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      # @raise [TaskerCore::NotFoundError] when there is no such task
      def task_transitions
        id = @x.id_param("task_id")
        detail = client.get_task(id)
        steps = detail.steps.to_h { |s| [s.workflow_step_id.to_s, Serializer.dump(client.step_transitions(s.workflow_step_id))] }
        ok("task_id" => id, "transitions" => Serializer.dump(client.task_transitions(id)), "steps" => steps)
      end

      # GET /api/tasks/:task_id/analysis: levels, critical path, bottlenecks.
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      def analysis
        ok(Serializer.dump(client.analyze_dependencies(@x.id_param("task_id"))))
      end

      # GET /api/tasks/:task_id/operator_actions: the operator actions taken on
      # the task.
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      # @raise [TaskerCore::Web::UnavailableError] when the client has no
      #   operator API
      def operator_actions
        id = @x.id_param("task_id")
        unless client.respond_to?(:operator_actions)
          raise UnavailableError.new("this client has no operator API (operator_actions)", details: { "operation" => "operator_actions" })
        end

        ok("task_id" => id, "actions" => Serializer.dump(client.operator_actions(task_id: id)))
      end

      def step_transitions
        id = @x.id_param("step_id")
        transitions = client.step_transitions(id)
        # Every step is created with its first transition: none means no such step.
        raise NotFoundError.new("step #{id} not found", details: { "step_id" => id }) if transitions.empty?

        ok("step_id" => id, "transitions" => Serializer.dump(transitions))
      end

      # GET /api/templates: the registered task templates (namespace=, limit=).
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      def templates
        args = { namespace: @x.query["namespace"], limit: @x.query["limit"] && integer(@x.query["limit"], "limit") }.compact
        ok("templates" => Serializer.dump(client.task_templates(**args)))
      end

      # GET /api/templates/:namespace/:name/:version: one registered template.
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      def template
        p = @x.path_params
        ok("template" => Serializer.dump(client.task_template(name: p["name"], namespace: p["namespace"], version: p["version"])))
      end

      # GET /api/health: task and step counts by state.
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      def health
        ok("health" => Serializer.dump(client.system_health))
      end

      # GET /api/analytics (since= an RFC 3339 time): throughput, rates and
      # durations, with the slowest tasks and steps.
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      def analytics
        since = @x.query["since"] && time(@x.query["since"], "since")
        filters = since ? { since: since } : {}
        ok("analytics" => Serializer.dump(client.analytics(**filters)),
           "slowest_tasks" => Serializer.dump(client.slowest_tasks(**filters)),
           "slowest_steps" => Serializer.dump(client.slowest_steps(**filters)))
      end

      # GET /openapi.json: the OpenAPI document of these routes (OpenApi).
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      def openapi
        ok(OpenApi.document(Web.routes, base_path: @x.request.script_name.to_s))
      end

      # POST /api/{tasks,steps}/:id/<operation>: {"reason", "dry_run"?,
      # "idempotency_key"?, ...the operation's own parameters}.
      def operate
        op = @x.route.operation
        body = @x.json_body
        known = %w[reason dry_run idempotency_key] + op.params.keys
        unknown = body.keys - known
        unless unknown.empty?
          raise ValidationError.new("unknown field #{unknown.first} (#{op.name} takes #{known.join(', ')})",
                                    details: { "field" => unknown.first })
        end

        dry_run = body.key?("dry_run") ? op.boolean("dry_run", body["dry_run"]) : false
        result = @gate.run(client, op, @x.id_param(op.path_param), actor: @x.actor_name, reason: body["reason"],
                                                                   dry_run: dry_run, idempotency_key: body["idempotency_key"],
                                                                   params: op.coerce_params(body))
        ok("operation" => op.method_name.to_s, "dry_run" => dry_run, "result" => Serializer.dump(result))
      end

      # POST /graphql: a GraphQL query or operator mutation (GraphQL::Endpoint).
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      # @raise [TaskerCore::Web::UnavailableError] when the graphql setting is off
      def graphql
        unless @x.settings.graphql
          raise UnavailableError.new("GraphQL is turned off (TaskerCore::Web graphql: false)", details: {})
        end

        Web.graphql_endpoint.call(@x, @gate)
      end

      private

      def client
        @x.client
      end

      def ok(data)
        [200, { "content-type" => "application/json; charset=utf-8", "cache-control" => "no-store" }, [JSON.generate(data)]]
      end

      def states(value)
        list = value.is_a?(Array) ? value : value.to_s.split(",")
        list.map(&:strip).reject(&:empty?)
      end

      def integer(value, field)
        return Integer(value, 10) if value.is_a?(String) && value.match?(/\A\d{1,9}\z/)

        raise ValidationError.new("#{field} must be a positive integer", details: { "field" => field })
      end

      def time(value, field)
        Time.iso8601(value.to_s)
      rescue ArgumentError
        raise ValidationError.new("#{field} must be an RFC 3339 time (2026-01-31T12:00:00Z)", details: { "field" => field })
      end
    end
  end
end
