# frozen_string_literal: true

module TaskerCore
  class Web
    # One request being answered: the Rack request, its route and path
    # parameters, the authenticated actor, the settings and the client.
    class Exchange
      attr_reader :request, :route, :path_params, :actor, :settings, :csrf, :csrf_token

      def initialize(request:, route:, path_params:, actor:, settings:, csrf:)
        @request = request
        @route = route
        @path_params = path_params
        @actor = actor
        @settings = settings
        @csrf = csrf
        @csrf_token = csrf.token(request)
      end

      # @return [TaskerCore::Client] the settings' client, resolved once per request
      def client
        @client ||= settings.resolve_client
      end

      # The actor's name as the operator API records it.
      def actor_name
        actor.to_s
      end

      # Query string parameters (GET).
      def query
        request.GET
      end

      # A path parameter that must be an id (ValidationError otherwise).
      def id_param(name)
        value = path_params.fetch(name)
        return Integer(value, 10) if value.match?(/\A\d{1,19}\z/)

        raise ValidationError.new("#{name} must be an integer id, got #{value[0, 40].inspect}", details: { "field" => name })
      end

      # An id from a form or query Hash (ValidationError when it is not one).
      def id_param_from(hash, name)
        value = hash[name].to_s
        return Integer(value, 10) if value.match?(/\A\d{1,19}\z/)

        raise ValidationError.new("#{name} must be an integer id", details: { "field" => name })
      end

      # A URL under the mount point ("/tasks/1" → "/tasker/tasks/1").
      def url(path, query = nil)
        base = "#{request.script_name}#{path}"
        query = query&.reject { |_, v| v.nil? || v == "" || v == [] }
        query.nil? || query.empty? ? base : "#{base}?#{::Rack::Utils.build_nested_query(query)}"
      end

      # The JSON body of a POST as a Hash (ValidationError when it is not one).
      def json_body
        @json_body ||= begin
          raw = request.body&.read.to_s
          request.body&.rewind
          data = raw.strip.empty? ? {} : JSON.parse(raw)
          raise ValidationError.new("the request body must be a JSON object", details: { "field" => "body" }) unless data.is_a?(Hash)

          data
        rescue JSON::ParserError => e
          raise ValidationError.new("the request body is not JSON: #{e.message[0, 120]}", details: { "field" => "body" })
        end
      end
    end
  end
end
