# frozen_string_literal: true

module TaskerCore
  class Web
    # What a TaskerCore::Web instance is configured with (docs/web.md lists
    # every setting and its default; a spec holds the two equal).
    #
    #   TaskerCore::Web.configure do |c|
    #     c.authenticate = ->(env) { env["warden"]&.user&.email }   # nil → 401
    #     c.authorize = ->(actor, action, target) { Admins.include?(actor) }
    #   end
    #
    # Each setting, readable and writable (DEFAULTS gives its default):
    # @!attribute [rw] client
    #   A TaskerCore::Client, or a callable returning one; nil uses TaskerCore.client (default nil).
    # @!attribute [rw] authenticate
    #   Callable(env) returning the actor (a String or an object whose to_s names it); nil or false answers 401. Unset: every request is let in as default_actor (default nil).
    # @!attribute [rw] default_actor
    #   The actor of requests when no authenticate hook is set (default "web").
    # @!attribute [rw] authorize
    #   Callable(actor, action, target) → true to allow an operator action (action: the client method, e.g. "retry_step"; target: {type: "task" or "step", id:}). Unset: every operator action is refused (403) (default nil).
    # @!attribute [rw] poll_interval_ms
    #   How often an open task page refreshes its live part; 0 turns polling off (default 3000).
    # @!attribute [rw] page_size
    #   Tasks per page of the dashboard's task list (the JSON API takes limit=) (default 50).
    # @!attribute [rw] title
    #   The dashboard's title (default "Tasker Core").
    # @!attribute [rw] csrf_cookie
    #   Name of the cookie holding the dashboard forms' CSRF token (default "tasker_web_csrf").
    # @!attribute [rw] graphql
    #   Serve the GraphQL endpoint at /graphql (needs graphql-ruby) (default true).
    class Settings
      # name => [default, what it is]
      DEFAULTS = {
        client: [nil, "a TaskerCore::Client, or a callable returning one; nil uses TaskerCore.client"],
        authenticate: [nil, "callable(env) returning the actor (a String or an object whose to_s names it); nil or false answers 401. Unset: every request is let in as default_actor"],
        default_actor: ["web", "the actor of requests when no authenticate hook is set"],
        authorize: [nil, "callable(actor, action, target) → true to allow an operator action (action: the client method, e.g. \"retry_step\"; target: {type: \"task\" or \"step\", id:}). Unset: every operator action is refused (403)"],
        poll_interval_ms: [3000, "how often an open task page refreshes its live part; 0 turns polling off"],
        page_size: [50, "tasks per page of the dashboard's task list (the JSON API takes limit=)"],
        title: ["Tasker Core", "the dashboard's title"],
        csrf_cookie: ["tasker_web_csrf", "name of the cookie holding the dashboard forms' CSRF token"],
        graphql: [true, "serve the GraphQL endpoint at /graphql (needs graphql-ruby)"]
      }.freeze

      attr_accessor(*DEFAULTS.keys)

      def initialize(**options)
        unknown = options.keys - DEFAULTS.keys
        raise ArgumentError, "unknown TaskerCore::Web settings: #{unknown.join(', ')}" unless unknown.empty?

        DEFAULTS.each { |name, (default, _)| public_send(:"#{name}=", options.fetch(name, default)) }
      end

      # A copy with +options+ changed.
      def merge(**options)
        self.class.new(**to_h.merge(options))
      end

      # @return [Hash{Symbol => Object}] every setting with its value
      def to_h
        DEFAULTS.keys.to_h { |name| [name, public_send(name)] }
      end

      # The client to use now.
      def resolve_client
        case client
        when nil then TaskerCore.client
        when Proc, Method then client.call
        else client
        end
      end

      # Checks the values; ArgumentError names the first bad one.
      def validate!
        %i[authenticate authorize].each do |name|
          value = public_send(name)
          raise ArgumentError, "TaskerCore::Web #{name} must respond to call" unless value.nil? || value.respond_to?(:call)
        end
        unless poll_interval_ms.is_a?(Integer) && poll_interval_ms >= 0
          raise ArgumentError, "TaskerCore::Web poll_interval_ms must be an Integer >= 0"
        end
        raise ArgumentError, "TaskerCore::Web page_size must be an Integer >= 1" unless page_size.is_a?(Integer) && page_size >= 1

        self
      end
    end
  end
end
