# frozen_string_literal: true

begin
  require "rack"
  require "erubi"
rescue LoadError => e
  raise LoadError, "TaskerCore::Web needs the rack and erubi gems (Debian: ruby-rack, ruby-erubi): #{e.message}"
end
require "json"
require "securerandom"
require "tasker_core"

module TaskerCore
  # A Rack application: a JSON REST API, GraphQL at /graphql and a
  # server-rendered dashboard over one TaskerCore::Client. Mount it in Rails
  # (`mount TaskerCore::Web => "/tasker"`, inside an `authenticate` block or a
  # constraint) or run it in a config.ru (`run TaskerCore::Web.new(authenticate: ...)`).
  # It calls the client only, never the native library. docs/web.md.
  class Web
    R = ->(*args, **kw) { Route.new(*args, **kw) }
    private_constant :R

    class << self
      # The settings of TaskerCore::Web used as an app itself (mount TaskerCore::Web).
      def settings
        @settings ||= Settings.new
      end

      # Changes the class-level settings: TaskerCore::Web.configure { |c| c.authorize = ... }.
      def configure
        yield settings
        settings.validate!
        @app = nil
        self
      end

      # Rack entry point of the class itself.
      def call(env)
        (@app ||= new(settings)).call(env)
      end

      # The GraphQL endpoint, loaded on first use; UnavailableError saying
      # what is missing when graphql-ruby is not installed.
      def graphql_endpoint
        require_relative "web/graphql"
        GraphQL::Endpoint
      rescue LoadError => e
        raise UnavailableError.new(e.message, details: { "missing" => "graphql" })
      end

      # Every route, the OpenAPI document's source.
      def routes
        @routes ||= build_routes.freeze
      end

      private

      def build_routes
        json = [
          R.call("GET", "/api/tasks", %i[api tasks], summary: "List tasks (filters, cursor pagination, sort)"),
          R.call("GET", "/api/tasks/:task_id", %i[api task], summary: "A task with its steps, their readiness, execution context and DAG analysis"),
          R.call("GET", "/api/tasks/:task_id/steps", %i[api steps], summary: "The task's steps with their readiness and reason"),
          R.call("GET", "/api/tasks/:task_id/steps/:step_id", %i[api step], summary: "One step with readiness, results, errors and transitions"),
          R.call("GET", "/api/tasks/:task_id/readiness", %i[api readiness], summary: "Readiness of every step, with the reason"),
          R.call("GET", "/api/tasks/:task_id/transitions", %i[api task_transitions], summary: "The task's audit trail and its steps'"),
          R.call("GET", "/api/tasks/:task_id/analysis", %i[api analysis], summary: "DAG analysis: levels, critical path, bottlenecks"),
          R.call("GET", "/api/tasks/:task_id/operator_actions", %i[api operator_actions], summary: "Operator actions on the task"),
          R.call("GET", "/api/steps/:step_id/transitions", %i[api step_transitions], summary: "A step's audit trail"),
          R.call("GET", "/api/templates", %i[api templates], summary: "Registered task templates (named tasks)"),
          R.call("GET", "/api/templates/:namespace/:name/:version", %i[api template], summary: "One registered template"),
          R.call("GET", "/api/health", %i[api health], summary: "System health: task and step counts by state"),
          R.call("GET", "/api/analytics", %i[api analytics], summary: "Throughput, rates, durations; slowest tasks and steps"),
          R.call("GET", "/openapi.json", %i[api openapi], summary: "This API's OpenAPI document")
        ]
        operations = Operation::ALL.map do |op|
          base = op.target == :task ? "/api/tasks/:task_id" : "/api/steps/:step_id"
          R.call("POST", "#{base}/#{op.name}", %i[api operate], summary: "#{op.label}: #{op.description}",
                                                               mutating: true, operation: op)
        end
        graphql = [R.call("POST", "/graphql", %i[api graphql], summary: "GraphQL (queries and operator mutations)", mutating: true)]
        html = [
          R.call("GET", "/", %i[dashboard index], summary: "Task list", format: :html),
          R.call("GET", "/tasks/:task_id", %i[dashboard task], summary: "Task page", format: :html),
          R.call("GET", "/tasks/:task_id/live", %i[dashboard live], summary: "Task page's live part", format: :html),
          R.call("GET", "/health", %i[dashboard health], summary: "Health page", format: :html),
          R.call("GET", "/templates", %i[dashboard templates], summary: "Templates page", format: :html),
          R.call("GET", "/assets/:file", %i[dashboard asset], summary: "CSS and JavaScript", format: :html),
          R.call("POST", "/tasks/:task_id/operations/:operation", %i[dashboard operate_task], summary: "Operator form (task)",
                                                                                               format: :html, mutating: true),
          R.call("POST", "/steps/:step_id/operations/:operation", %i[dashboard operate_step], summary: "Operator form (step)",
                                                                                               format: :html, mutating: true)
        ]
        json + operations + graphql + html
      end
    end

    attr_reader :settings

    # options: see Settings (client:, authenticate:, authorize:, ...); or a Settings.
    def initialize(settings = nil, **options)
      @settings = (settings || Settings.new).then { |s| options.empty? ? s : s.merge(**options) }.validate!
      @csrf = Csrf.new(@settings.csrf_cookie)
      @gate = OperatorGate.new(@settings)
    end

    # Answers a request: finds its route (404, 405), authenticates (401), checks
    # CSRF on form posts and the JSON body on API posts (403), then dispatches to
    # Api or Dashboard.
    # @param env [Hash] the Rack environment
    # @return [Array(Integer, Hash, Array<String>)] the Rack triple
    def call(env)
      request = ::Rack::Request.new(env)
      path = request.path_info.to_s
      path = "/" if path.empty?
      path = path.chomp("/") if path.length > 1
      route, params, allowed = find_route(request.request_method, path)
      return not_found(path) if route.nil? && allowed.empty?
      return method_not_allowed(allowed, json: path.start_with?("/api/") || path == "/graphql") if route.nil?

      actor = authenticate(env)
      return unauthenticated(route) if actor.nil?

      exchange = Exchange.new(request: request, route: route, path_params: params, actor: actor, settings: @settings, csrf: @csrf)
      if route.mutating?
        refusal = route.format == :html ? @csrf.refusal(request) : json_refusal(request)
        return forbidden_csrf(route, refusal) if refusal
      end
      dispatch(route, exchange)
    end

    private

    def find_route(verb, path)
      allowed = []
      verb = "GET" if verb == "HEAD"
      self.class.routes.each do |route|
        params = route.match(path)
        next unless params

        return [route, params, []] if route.verb == verb

        allowed << route.verb
      end
      [nil, nil, allowed.uniq]
    end

    def authenticate(env)
      hook = @settings.authenticate
      return @settings.default_actor if hook.nil?

      actor = hook.call(env)
      actor || nil
    end

    # JSON routes that change things take only a JSON body: a cross-site form
    # (urlencoded, multipart or text/plain) cannot send one without CORS.
    def json_refusal(request)
      return nil if request.media_type == "application/json"

      "a JSON body (Content-Type: application/json) is required"
    end

    def dispatch(route, exchange)
      kind, name = route.handler
      handler = kind == :api ? Api.new(exchange, @gate) : Dashboard.new(exchange, @gate)
      status, headers, body = handler.public_send(name)
      headers = security_headers.merge(headers)
      @csrf.persist(exchange.request, headers, exchange.csrf_token) if route.format == :html
      [status, headers, body]
    rescue TaskerCore::Error => e
      error_response(route, e, exchange)
    end

    def error_response(route, error, exchange)
      status = ErrorStatus.for(error)
      if status >= 500 && !error.is_a?(UnavailableError)
        TaskerCore.logger.error("tasker_core web: #{route.verb} #{route.pattern}: #{error.class}: #{error.message}")
      end
      if route.format == :html
        Dashboard.new(exchange, @gate).error_page(status, error)
      else
        json(status, ErrorStatus.body(error))
      end
    end

    def security_headers
      { "x-content-type-options" => "nosniff", "x-frame-options" => "SAMEORIGIN", "referrer-policy" => "same-origin",
        "content-security-policy" => "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
                                     "frame-ancestors 'self'; form-action 'self'" }
    end

    def json(status, data, headers = {})
      [status, security_headers.merge("content-type" => "application/json; charset=utf-8", "cache-control" => "no-store")
                               .merge(headers), [JSON.generate(data)]]
    end

    def not_found(path)
      body = { "error" => { "type" => "not_found", "message" => "no route #{path}", "details" => {} } }
      json(404, body)
    end

    def method_not_allowed(allowed, json:)
      body = { "error" => { "type" => "method_not_allowed", "message" => "use #{allowed.join(' or ')}",
                            "details" => { "allowed" => allowed } } }
      headers = { "allow" => allowed.join(", ") }
      return json(405, body, headers) if json

      [405, security_headers.merge(headers).merge("content-type" => "text/plain; charset=utf-8"), ["Method Not Allowed: use #{allowed.join(' or ')}\n"]]
    end

    def unauthenticated(route)
      body = { "error" => { "type" => "unauthenticated", "message" => "authentication required", "details" => {} } }
      return json(401, body) unless route.format == :html

      [401, security_headers.merge("content-type" => "text/plain; charset=utf-8"), ["Authentication required\n"]]
    end

    def forbidden_csrf(route, why)
      body = { "error" => { "type" => "csrf_refused", "message" => why, "details" => {} } }
      return json(403, body) unless route.format == :html

      [403, security_headers.merge("content-type" => "text/plain; charset=utf-8"), ["Forbidden: #{why}\n"]]
    end
  end
end

require_relative "web/settings"
require_relative "web/route"
require_relative "web/operation"
require_relative "web/serializer"
require_relative "web/forbidden_error"
require_relative "web/unavailable_error"
require_relative "web/error_status"
require_relative "web/csrf"
require_relative "web/exchange"
require_relative "web/operator_gate"
require_relative "web/open_api"
require_relative "web/reason_text"
require_relative "web/dag_svg"
require_relative "web/view"
require_relative "web/api"
require_relative "web/dashboard"
