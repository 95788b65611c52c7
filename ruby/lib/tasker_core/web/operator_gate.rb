# frozen_string_literal: true

module TaskerCore
  class Web
    # The one way the web (REST, dashboard forms, GraphQL mutations) runs an
    # operator operation: a reason is required, the configured authorizer is
    # asked first (ForbiddenError when it refuses or when none is configured),
    # then the client's operator method runs (its own authorizer, audit, dry
    # run and idempotency apply).
    class OperatorGate
      def initialize(settings)
        @settings = settings
      end

      # → the client's answer. +params+: the operation's own keyword arguments.
      def run(client, operation, id, actor:, reason:, dry_run: false, idempotency_key: nil, params: {})
        reason = reason.to_s.strip
        raise ValidationError.new("reason is required", details: { "field" => "reason" }) if reason.empty?

        authorize!(actor, operation, id)
        unless client.respond_to?(operation.method_name)
          raise UnavailableError.new("this client has no operator API (#{operation.method_name}); it comes with " \
                                     "TaskerCore's operator operations", details: { "operation" => operation.method_name.to_s })
        end

        options = { reason: reason, actor: actor.to_s, dry_run: dry_run ? true : false }
        options[:idempotency_key] = idempotency_key.to_s unless idempotency_key.nil? || idempotency_key.to_s.empty?
        client.public_send(operation.method_name, id, **options, **params)
      end

      def authorize!(actor, operation, id)
        target = { type: operation.target.to_s, id: id }
        hook = @settings.authorize
        if hook.nil?
          raise ForbiddenError.new("operator actions are off: configure TaskerCore::Web's authorize hook to allow them",
                                   details: { "action" => operation.method_name.to_s })
        end
        return if hook.call(actor, operation.method_name.to_s, target)

        TaskerCore.logger.warn("tasker_core web: #{actor} refused #{operation.method_name} on #{target[:type]} #{id}")
        raise ForbiddenError.new("#{actor} may not #{operation.method_name} #{target[:type]} #{id}",
                                 details: { "action" => operation.method_name.to_s, "target" => Serializer.dump(target),
                                            "actor" => actor.to_s })
      end
    end
  end
end
