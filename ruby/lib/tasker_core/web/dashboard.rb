# frozen_string_literal: true

module TaskerCore
  class Web
    # The server-rendered dashboard: task list, task page (live DAG, steps,
    # audit trail, operator forms), health and templates pages. Templates are
    # views/*.erb (escaping by default, see View).
    class Dashboard
      # The files GET /assets/:file serves (from ASSET_DIR), with their content types.
      ASSETS = { "dashboard.css" => "text/css; charset=utf-8", "dashboard.js" => "text/javascript; charset=utf-8" }.freeze
      # Where the dashboard's CSS and JavaScript live.
      ASSET_DIR = File.join(__dir__, "assets")
      # The task and step states, in the order the pages list them (the health
      # table, the task list filter, the legend).
      STATES = %w[pending in_progress complete error cancelled resolved_manually].freeze
      # Which step operations the task page offers for a step in each state.
      STEP_OPERATIONS = {
        "error" => %w[retry resolve reset], "pending" => %w[resolve dependencies], "complete" => %w[results reset],
        "resolved_manually" => %w[results reset], "cancelled" => %w[reset], "in_progress" => []
      }.freeze

      attr_reader :x

      def initialize(exchange, gate)
        @x = exchange
        @gate = gate
      end

      # --- routes -------------------------------------------------------------

      def index
        q = x.query
        @filters = { "state" => q["state"].to_s, "namespace" => q["namespace"].to_s, "name" => q["name"].to_s }
        args = { limit: x.settings.page_size, cursor: blank(q["cursor"]), namespace: blank(q["namespace"]), name: blank(q["name"]),
                 state: blank(q["state"]) }.compact
        @page = client.list_tasks(**args)
        @health = client.system_health
        page("Tasks", "index")
      end

      # GET /tasks/:task_id: the task page.
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      def task
        load_task
        page("Task #{@detail.task_id} · #{@detail.name}", "task")
      end

      # GET /tasks/:task_id/live: the part of the task page that its script
      # refreshes.
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      def live
        load_task
        html(View.render("task_live", self))
      end

      # GET /health: system health, analytics and the slowest tasks.
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      def health
        @health = client.system_health
        @analytics = client.analytics
        @slowest = client.slowest_tasks(limit: 10)
        page("Health", "health")
      end

      # GET /templates: the registered task templates.
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      def templates
        @templates = client.task_templates(limit: 500)
        page("Templates", "templates")
      end

      # GET /assets/:file: one of ASSETS; 404 for any other name.
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      def asset
        file = x.path_params["file"]
        type = ASSETS[file]
        return [404, { "content-type" => "text/plain" }, ["no such asset\n"]] unless type

        [200, { "content-type" => type, "cache-control" => "public, max-age=300" }, [File.read(File.join(ASSET_DIR, file))]]
      end

      # POST /tasks/:task_id/operations/:operation: an operator form on a task.
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      def operate_task
        operate(:task, x.id_param("task_id"))
      end

      # POST /steps/:step_id/operations/:operation: an operator form on a step.
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      def operate_step
        operate(:step, x.id_param("step_id"))
      end

      # The HTML page of an error.
      # @param status [Integer] the HTTP status
      # @param error [Exception]
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      def error_page(status, error)
        @error = error
        @status = status
        [status, { "content-type" => "text/html; charset=utf-8", "cache-control" => "no-store" },
         [layout("Error #{status}") { View.render("error", self) }]]
      end

      # --- helpers for the templates --------------------------------------------

      def settings
        x.settings
      end

      # @return [Hash] the locals of the template being rendered ({} outside one)
      def locals
        @_locals || {}
      end

      # A URL under the dashboard's mount point (Exchange#url).
      # @param path [String]
      # @param query [Hash, nil]
      # @return [String]
      def url(path, query = nil)
        x.url(path, query)
      end

      # @return [String] the hidden form field carrying the request's CSRF token
      def csrf_field
        %(<input type="hidden" name="#{Csrf::FIELD}" value="#{h(x.csrf_token)}">)
      end

      # @param text [Object]
      # @return [String] +text+ HTML-escaped
      def h(text)
        ::Rack::Utils.escape_html(text.to_s)
      end

      # +value+ as pretty-printed JSON (its #inspect when it cannot be).
      # @param value [Object]
      # @return [String]
      def json_text(value)
        JSON.pretty_generate(Serializer.dump(value))
      rescue JSON::GeneratorError
        value.inspect
      end

      # @param time [Time, nil]
      # @return [String] +time+ in UTC to the second, or "—" for nil
      def time_text(time)
        time ? time.getutc.strftime("%Y-%m-%d %H:%M:%S UTC") : "—"
      end

      # @param readiness [TaskerCore::StepReadiness, nil]
      # @return [String, nil] why the step is not ready, in words (ReasonText)
      def reason_text(readiness)
        ReasonText.for(readiness)
      end

      # @return [String] the SVG of the task's DAG, each node linking to its step
      def dag_svg
        DagSvg.new(@detail, @analysis, @readiness, link: ->(s) { "#step-#{s.workflow_step_id}" }).to_s
      end

      # @param step [TaskerCore::StepDetail]
      # @return [Array<Operation>] the operations the task page offers for the
      #   step in its state (STEP_OPERATIONS)
      def step_operations(step)
        STEP_OPERATIONS.fetch(step.current_state.to_s, []).map { |name| Operation.find(:step, name) }
      end

      def operator_api?
        client.respond_to?(:retry_step)
      end

      # The audit trail: task and step transitions, oldest first.
      def audit_trail
        rows = @task_transitions.map { |t| [t, "task"] }
        @step_transitions.each { |name, list| list.each { |t| rows << [t, name] } }
        rows.sort_by { |t, _| [t.created_at || Time.at(0), t.id] }
      end

      private

      def client
        x.client
      end

      def blank(value)
        value.nil? || value.to_s.strip.empty? ? nil : value.to_s.strip
      end

      def load_task
        id = x.id_param("task_id")
        @detail = client.get_task(id)
        @readiness = client.step_readiness(id)
        @readiness_by_id = @readiness.to_h { |r| [r.workflow_step_id, r] }
        @context = client.task_execution_context(id)
        @analysis = client.analyze_dependencies(id)
        @task_transitions = client.task_transitions(id)
        @step_transitions = @detail.steps.to_h { |s| [s.name, client.step_transitions(s.workflow_step_id)] }
        @actions = client.respond_to?(:operator_actions) ? client.operator_actions(task_id: id) : nil
        @notice = x.query["notice"]
      end

      # The operator form's flow: without confirm=1 a dry run, shown with a
      # confirmation form; with it, the operation itself, then back to the task.
      def operate(target, id)
        form = x.request.POST
        op = Operation.find(target, x.path_params["operation"])
        raise NotFoundError.new("no #{target} operation #{x.path_params['operation'].inspect}", details: {}) unless op

        params = op.coerce_params(form)
        confirm = form["confirm"] == "1"
        result = @gate.run(client, op, id, actor: x.actor_name, reason: form["reason"], dry_run: !confirm,
                                           idempotency_key: form["idempotency_key"], params: params)
        task_id = result_task_id(result) || (target == :task ? id : x.id_param_from(form, "task_id"))
        if confirm
          notice = "#{op.label} done"
          return [303, { "location" => url("/tasks/#{task_id}", "notice" => notice) }, []]
        end

        @op = op
        @target_id = id
        @task_id = task_id
        @form = form.slice("reason", "idempotency_key", *op.params.keys)
        @result = result
        page("Confirm: #{op.label}", "operation_preview")
      end

      def result_task_id(result)
        value = result.respond_to?(:task_id) ? result.task_id : (result.is_a?(Hash) && (result["task_id"] || result[:task_id]))
        value.is_a?(Integer) && value.positive? ? value : nil
      end

      def page(title, view)
        html(layout(title) { View.render(view, self) })
      end

      def layout(title)
        content = yield
        View.render("layout", self, title: title, content: content)
      end

      def html(body)
        [200, { "content-type" => "text/html; charset=utf-8", "cache-control" => "no-store" }, [body]]
      end
    end
  end
end
