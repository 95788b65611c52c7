# frozen_string_literal: true

module TaskerCore
  class Web
    module GraphQL
      # Whether a step can run now and, if not, why.
      class ReadinessType < ::GraphQL::Schema::Object
        graphql_name "TaskerStepReadiness"
        field :step_id, ID, null: false
        field :name, String, null: false
        field :current_state, String, null: false
        field :ready_for_execution, Boolean, null: false
        field :dependencies_satisfied, Boolean, null: false
        field :retry_eligible, Boolean, null: false
        field :reason, String, null: false, description: "ready, wrong_state, already_processed, claimed, " \
                                                         "dependencies_unmet, not_retryable, retries_exhausted or backoff"
        field :reason_text, String, null: false, description: "the reason in words"
        field :reason_detail, JsonType, null: true
        field :attempts, Integer, null: true
        field :retry_limit, Integer, null: true
        field :next_retry_at, ::GraphQL::Types::ISO8601DateTime, null: true

        # @return [Integer] the step's workflow_step_id
        def step_id
          object.workflow_step_id
        end

        # @return [String] the reason as a string ("ready", "backoff"...)
        def reason
          object.reason.to_s
        end

        # @return [String, nil] the reason in words (ReasonText)
        def reason_text
          ReasonText.for(object)
        end

        # @return [Boolean]
        def ready_for_execution
          object.ready_for_execution == true
        end

        # @return [Boolean]
        def dependencies_satisfied
          object.dependencies_satisfied == true
        end

        # @return [Boolean]
        def retry_eligible
          object.retry_eligible == true
        end
      end
    end
  end
end
