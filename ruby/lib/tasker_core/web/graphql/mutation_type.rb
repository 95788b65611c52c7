# frozen_string_literal: true

module TaskerCore
  class Web
    module GraphQL
      # A mutation per operator operation (Web::Operation::ALL), named after
      # the client method (cancelTask, retryStep, ...), each taking the target
      # id, reason, dryRun, idempotencyKey and the operation's own arguments,
      # and going through the same gate as the REST routes (authorizer first).
      class MutationType < ::GraphQL::Schema::Object
        graphql_name "TaskerMutation"

        # The GraphQL type of each Operation parameter type (anything else is TaskerJSON).
        ARGUMENT_TYPES = { integer: Integer, integer_list: [ID], boolean: ::GraphQL::Types::Boolean }.freeze

        # One mutation per Operation, named after its client method, run through the
        # OperatorGate as the request's actor (reason: required; dry_run:,
        # idempotency_key: and the operation's own parameters optional).
        # @!method cancel_task(reason:, dry_run: false, idempotency_key: nil, **args)
        #   Client#cancel_task on the task given as task_id: (in +args+).
        #   @return [Hash] operation, dry_run and result
        # @!method retry_task(reason:, dry_run: false, idempotency_key: nil, **args)
        #   Client#retry_task on the task given as task_id: (in +args+).
        #   @return [Hash] operation, dry_run and result
        # @!method reset_attempts(reason:, dry_run: false, idempotency_key: nil, **args)
        #   Client#reset_attempts on the task given as task_id: (in +args+).
        #   @return [Hash] operation, dry_run and result
        # @!method force_complete_task(reason:, dry_run: false, idempotency_key: nil, **args)
        #   Client#force_complete_task on the task given as task_id: (in +args+).
        #   @return [Hash] operation, dry_run and result
        # @!method force_fail_task(reason:, dry_run: false, idempotency_key: nil, **args)
        #   Client#force_fail_task on the task given as task_id: (in +args+).
        #   @return [Hash] operation, dry_run and result
        # @!method update_task_metadata(reason:, dry_run: false, idempotency_key: nil, **args)
        #   Client#update_task_metadata on the task given as task_id: (in +args+).
        #   @return [Hash] operation, dry_run and result
        # @!method retry_step(reason:, dry_run: false, idempotency_key: nil, **args)
        #   Client#retry_step on the step given as step_id: (in +args+).
        #   @return [Hash] operation, dry_run and result
        # @!method reset_step(reason:, dry_run: false, idempotency_key: nil, **args)
        #   Client#reset_step on the step given as step_id: (in +args+).
        #   @return [Hash] operation, dry_run and result
        # @!method resolve_step(reason:, dry_run: false, idempotency_key: nil, **args)
        #   Client#resolve_step on the step given as step_id: (in +args+).
        #   @return [Hash] operation, dry_run and result
        # @!method update_step_results(reason:, dry_run: false, idempotency_key: nil, **args)
        #   Client#update_step_results on the step given as step_id: (in +args+).
        #   @return [Hash] operation, dry_run and result
        # @!method override_dependencies(reason:, dry_run: false, idempotency_key: nil, **args)
        #   Client#override_dependencies on the step given as step_id: (in +args+).
        #   @return [Hash] operation, dry_run and result
        Operation::ALL.each do |op|
          field op.method_name, OperatorResultType, null: false, description: op.description do
            argument op.target == :task ? :task_id : :step_id, ID, required: true
            argument :reason, String, required: true
            argument :dry_run, ::GraphQL::Types::Boolean, required: false
            argument :idempotency_key, String, required: false
            op.params.each do |name, type|
              argument name.to_sym, ARGUMENT_TYPES.fetch(type, JsonType), required: false
            end
          end

          define_method(op.method_name) do |reason:, dry_run: false, idempotency_key: nil, **args|
            id = args.delete(op.target == :task ? :task_id : :step_id)
            params = op.coerce_params(args.transform_keys(&:to_s))
            gate = context[:tasker_gate] || OperatorGate.new(TaskerCore::Web.settings)
            actor = context[:tasker_actor] || TaskerCore::Web.settings.default_actor
            result = gate.run(GraphQL.client(context), op, id, actor: actor, reason: reason, dry_run: dry_run,
                                                               idempotency_key: idempotency_key, params: params)
            { operation: op.method_name.to_s, dry_run: dry_run ? true : false, result: result }
          end
        end
      end
    end
  end
end
