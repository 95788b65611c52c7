# frozen_string_literal: true

module TaskerCore
  class Client
    # The operator API (docs/operations.md): repairs of running workflows, each
    # one audited transaction. Every method takes
    #   reason: (required) why the operator acts — kept in the audit row and on
    #           every transition written;
    #   actor:  who acts (default TaskerCore.configuration.default_actor);
    #   dry_run: true to get what would change without writing anything;
    #   idempotency_key: a repeated call with the same key returns the first
    #           answer (replayed? true) instead of acting twice.
    # Ids may be Integers or numeric Strings. The authorizer of TaskerCore.configure
    # is asked first (PermissionDeniedError when it refuses). Unknown ids raise
    # NotFoundError, an operation the state does not allow StateTransitionError
    # (details["conflict"] when a worker holds the step), a cycle
    # DependencyCycleError. → OperatorResult
    module OperatorOperations
      # Cancels the task and every unfinished step; steps in flight lose their
      # lease and their late reports are refused.
      def cancel_task(task_id, reason:, actor: nil, dry_run: false, idempotency_key: nil)
        task_operation(:cancel_task, task_id, {}, reason, actor, dry_run, idempotency_key)
      end

      # Sends every failed step that may run again back to pending now.
      def retry_task(task_id, reason:, actor: nil, dry_run: false, idempotency_key: nil)
        task_operation(:retry_task, task_id, {}, reason, actor, dry_run, idempotency_key)
      end

      # Resets the attempt count of the task's failed steps (or of step_ids),
      # optionally with a new retry_limit.
      def reset_attempts(task_id, reason:, step_ids: nil, retry_limit: nil, actor: nil, dry_run: false, idempotency_key: nil)
        args = with_optional({}, step_ids: step_ids && id_list(Array(step_ids), "step_ids"), retry_limit: retry_limit)
        task_operation(:reset_attempts, task_id, args, reason, actor, dry_run, idempotency_key)
      end

      # Completes a pending, running or failed task now: unfinished steps are
      # resolved (in-flight ones through error, losing their lease).
      def force_complete_task(task_id, reason:, actor: nil, dry_run: false, idempotency_key: nil)
        task_operation(:force_complete_task, task_id, {}, reason, actor, dry_run, idempotency_key)
      end

      # Fails a pending or running task now: unfinished steps fail for good.
      def force_fail_task(task_id, reason:, actor: nil, dry_run: false, idempotency_key: nil)
        task_operation(:force_fail_task, task_id, {}, reason, actor, dry_run, idempotency_key)
      end

      # Merges tags (a Hash merges into a Hash), adds annotations ([{type:,
      # annotation:}]) and, only with replace_context: true, replaces the
      # context handlers already saw.
      def update_task_metadata(task_id, reason:, tags: nil, annotations: nil, context: nil, replace_context: false,
                               actor: nil, dry_run: false, idempotency_key: nil)
        args = with_optional({}, tags: tags, annotations: annotations, context: context)
        args[:replace_context] = true if replace_context
        task_operation(:update_task_metadata, task_id, args, reason, actor, dry_run, idempotency_key)
      end

      # Sends a failed step back to pending now, with a fresh attempt budget
      # (also when its retries were exhausted or it failed permanently).
      def retry_step(step_id, reason:, actor: nil, dry_run: false, idempotency_key: nil)
        step_operation(:retry_step, step_id, {}, reason, actor, dry_run, idempotency_key)
      end

      # Puts a step that is not running back to pending with attempts and
      # results cleared; descendants: true rewinds every step below it too.
      def reset_step(step_id, reason:, descendants: false, actor: nil, dry_run: false, idempotency_key: nil)
        args = descendants ? { descendants: true } : {}
        step_operation(:reset_step, step_id, args, reason, actor, dry_run, idempotency_key)
      end

      # Resolves a pending or failed step by hand with +results+, which its
      # children read in their sequence.
      def resolve_step(step_id, reason:, results: nil, actor: nil, dry_run: false, idempotency_key: nil)
        step_operation(:resolve_step, step_id, with_optional({}, results: results), reason, actor, dry_run, idempotency_key)
      end

      # Replaces a complete or resolved step's results; the answer's
      # children_already_run names the steps below that may have read the old ones.
      def update_step_results(step_id, results:, reason:, actor: nil, dry_run: false, idempotency_key: nil)
        step_operation(:update_step_results, step_id, { results: results }, reason, actor, dry_run, idempotency_key)
      end

      # Adds and removes parents (step ids) of a step that has not started.
      def override_dependencies(step_id, reason:, add: nil, remove: nil, actor: nil, dry_run: false, idempotency_key: nil)
        args = with_optional({}, add: add && id_list(Array(add), "add"), remove: remove && id_list(Array(remove), "remove"))
        step_operation(:override_dependencies, step_id, args, reason, actor, dry_run, idempotency_key)
      end

      # The operator actions on the task and its steps, oldest first. → [OperatorAction]
      def operator_actions(task_id:, actor: nil)
        id = id_param(task_id, "task_id")
        actor = operator_actor(actor, required: false)
        authorize_operator!(actor, :operator_actions, { type: :task, task_id: id })
        data = invoke(:operator_actions, with_optional({ task_id: id }, actor: actor))
        Array(data["actions"]).map { |row| OperatorAction.from_h(row) }.freeze
      end

      private

      def task_operation(action, task_id, args, reason, actor, dry_run, key)
        id = id_param(task_id, "task_id")
        operator_call(action, { type: :task, task_id: id }, args.merge(task_id: id), reason, actor, dry_run, key)
      end

      def step_operation(action, step_id, args, reason, actor, dry_run, key)
        id = id_param(step_id, "step_id")
        operator_call(action, { type: :step, step_id: id }, args.merge(step_id: id), reason, actor, dry_run, key)
      end

      def operator_call(action, target, args, reason, actor, dry_run, key)
        actor = operator_actor(actor, required: true)
        if reason.nil? || reason.to_s.strip.empty?
          raise ValidationError.new("reason is required: say why the operator acts", details: { "field" => "reason" })
        end

        authorize_operator!(actor, action, target)
        payload = args.merge(actor: actor, reason: reason.to_s)
        payload[:dry_run] = true if dry_run
        payload[:idempotency_key] = key.to_s unless key.nil?
        request_id = Correlation.id
        payload[:request_id] = request_id.to_s unless request_id.nil? || request_id.to_s.empty?
        OperatorResult.from_h(invoke(action, payload))
      end

      def operator_actor(actor, required:)
        actor = TaskerCore.configuration.default_actor if actor.nil?
        if actor.nil? || actor.to_s.empty?
          return nil unless required

          raise ValidationError.new("actor is required (or set TaskerCore.configure { |c| c.default_actor = ... })",
                                    details: { "field" => "actor" })
        end
        actor.to_s
      end

      # Asks the configured authorizer; a refusal is logged and raised.
      def authorize_operator!(actor, action, target)
        hook = TaskerCore.configuration.authorize
        return if hook.nil?

        target = target.freeze
        refusal = nil
        allowed = begin
          hook.call(actor, action, target)
        rescue PermissionDeniedError => e
          refusal = e
          false
        end
        return if allowed && refusal.nil?

        refusal ||= PermissionDeniedError.new(
          "#{actor.inspect} may not #{action} #{target[:type]} #{target[:task_id] || target[:step_id]}",
          details: { "actor" => actor, "action" => action.to_s, "target_type" => target[:type].to_s,
                     "target_id" => target[:task_id] || target[:step_id] }
        )
        TaskerCore.structured_logger.warn("operator action refused: #{refusal.message}",
                                          task_id: target[:task_id], step_id: target[:step_id], actor: actor,
                                          action: action.to_s)
        raise refusal
      end
    end

    include OperatorOperations
  end
end
