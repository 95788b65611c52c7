# frozen_string_literal: true

module TaskerCore
  class Web
    # The JSON routes. Each method answers one route of Web.routes with a Rack
    # triple; errors raised here become JSON error bodies (Web#error_response).
    class Api
      LIST_FILTERS = %w[namespace name version sort cursor].freeze

      def initialize(exchange, gate)
        @x = exchange
        @gate = gate
      end

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

      def task
        id = @x.id_param("task_id")
        detail = client.get_task(id)
        readiness = client.step_readiness(id)
        ok("task" => Serializer.dump(detail).merge("steps" => Serializer.steps_with_readiness(detail, readiness)),
           "execution_context" => Serializer.dump(client.task_execution_context(id)),
           "analysis" => Serializer.dump(client.analyze_dependencies(id)))
      end

      def steps
        id = @x.id_param("task_id")
        detail = client.get_task(id)
        ok("task_id" => id, "steps" => Serializer.steps_with_readiness(detail, client.step_readiness(id)))
      end

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

      def readiness
        id = @x.id_param("task_id")
        ok("task_id" => id, "steps" => Serializer.dump(client.step_readiness(id)))
      end

      def task_transitions
        id = @x.id_param("task_id")
        detail = client.get_task(id)
        steps = detail.steps.to_h { |s| [s.workflow_step_id.to_s, Serializer.dump(client.step_transitions(s.workflow_step_id))] }
        ok("task_id" => id, "transitions" => Serializer.dump(client.task_transitions(id)), "steps" => steps)
      end

      def analysis
        ok(Serializer.dump(client.analyze_dependencies(@x.id_param("task_id"))))
      end

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

      def templates
        args = { namespace: @x.query["namespace"], limit: @x.query["limit"] && integer(@x.query["limit"], "limit") }.compact
        ok("templates" => Serializer.dump(client.task_templates(**args)))
      end

      def template
        p = @x.path_params
        ok("template" => Serializer.dump(client.task_template(name: p["name"], namespace: p["namespace"], version: p["version"])))
      end

      def health
        ok("health" => Serializer.dump(client.system_health))
      end

      def analytics
        since = @x.query["since"] && time(@x.query["since"], "since")
        filters = since ? { since: since } : {}
        ok("analytics" => Serializer.dump(client.analytics(**filters)),
           "slowest_tasks" => Serializer.dump(client.slowest_tasks(**filters)),
           "slowest_steps" => Serializer.dump(client.slowest_steps(**filters)))
      end

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
