# frozen_string_literal: true

module TaskerCore
  module Observability
    # A Rack app (needs no rack gem) answering GET with this process's metrics in
    # the Prometheus text format (Client#metrics_text), for apps that do not
    # mount TaskerCore::Web (which mounts it at /metrics):
    #
    #   map("/metrics") { run TaskerCore::Observability::MetricsApp.new }  # config.ru
    #
    # Every process has its own registry: under a Puma cluster each worker
    # answers for itself (docs/observability.md: per-worker listener ports).
    # +client+ is a Client or a callable returning one (default: the shared
    # TaskerCore.client, created on the first request — after a fork).
    class MetricsApp
      def initialize(client: nil)
        @client = client
      end

      # Answers GET and HEAD with Client#metrics_text; 405 for other methods,
      # 404 when metrics are off (metrics.enabled false), 503 when the client raised.
      # @param env [Hash] the Rack environment
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple
      def call(env)
        method = env["REQUEST_METHOD"]
        return [405, { "content-type" => "text/plain", "allow" => "GET, HEAD" }, ["GET only\n"]] unless %w[GET HEAD].include?(method)

        data = resolve_client.metrics_text
        body = method == "HEAD" ? [] : [data["text"]]
        [200, { "content-type" => data["content_type"], "cache-control" => "no-store" }, body]
      rescue TaskerCore::ConfigurationError => e
        [404, { "content-type" => "text/plain" }, ["#{e.message}\n"]]
      rescue TaskerCore::Error => e
        [503, { "content-type" => "text/plain" }, ["#{e.class}: #{e.message}\n"]]
      end

      private

      def resolve_client
        c = @client
        c = c.call if c.respond_to?(:call) && !c.is_a?(TaskerCore::Client)
        c || TaskerCore.client
      end
    end
  end
end
