# frozen_string_literal: true

require "json"

module TaskerCore
  module Observability
    # A Rack app (needs no rack gem) serving the health checks as JSON with
    # their status codes (200, or 503 when failing), usable as Kubernetes
    # probes; each is one call (one database round trip at most):
    #
    #   .../live    the process answers (no database)
    #   .../ready   database reachable, schema at this library's version, pool not exhausted
    #   .../status  system health counts, backlog, oldest ready age, active workers
    #
    #   map("/health") { run TaskerCore::Observability::HealthApp.new }  # config.ru
    #
    # The check is the last segment of the path (PATH_INFO under a mount, else
    # the request path). +client+ as for MetricsApp.
    class HealthApp
      # The checks answered, by the last segment of the path.
      CHECKS = %w[live ready status].freeze
      # The headers of every answer.
      JSON_HEADERS = { "content-type" => "application/json", "cache-control" => "no-store" }.freeze

      def initialize(client: nil)
        @client = client
      end

      # Answers the check named by the path with Client#health's report, under its
      # http_status; 404 for an unknown check, 503 when the client raised.
      # @param env [Hash] the Rack environment
      # @return [Array(Integer, Hash, Array<String>)] the Rack triple (a JSON body)
      def call(env)
        check = env["PATH_INFO"].to_s.split("/").reject(&:empty?).last
        return respond(404, { "status" => "fail", "error" => "unknown check; one of #{CHECKS.join(', ')}" }) unless CHECKS.include?(check)

        report = resolve_client.health(check)
        respond(report["http_status"] || 200, report)
      rescue TaskerCore::Error => e
        respond(503, { "status" => "fail", "check" => check, "error" => { "type" => e.class.name, "message" => e.message } })
      end

      private

      def respond(code, body)
        [code, JSON_HEADERS.dup, [JSON.generate(body)]]
      end

      def resolve_client
        c = @client
        c = c.call if c.respond_to?(:call) && !c.is_a?(TaskerCore::Client)
        c || TaskerCore.client
      end
    end
  end
end
