# frozen_string_literal: true

module TaskerCore
  class Web
    module GraphQL
      # One step of a task: state, attempts, results and error, readiness, audit trail.
      class StepType < ::GraphQL::Schema::Object
        graphql_name "TaskerStep"
        field :id, ID, null: false
        field :task_id, ID, null: false
        field :name, String, null: false
        field :state, String, null: false
        field :attempts, Integer, null: false
        field :retry_limit, Integer, null: false
        field :retryable, Boolean, null: false
        field :depends_on, [ID], null: false
        field :results, JsonType, null: true
        field :error, JsonType, null: true, description: "the last failed attempt's error"
        field :inputs, JsonType, null: true
        field :claimed_by, String, null: true
        field :last_attempted_at, ::GraphQL::Types::ISO8601DateTime, null: true
        field :readiness, ReadinessType, null: true
        field :transitions, [TransitionType], null: false

        # object: {step: StepDetail, task_id:, readiness: StepReadiness or nil}
        def id
          step.workflow_step_id
        end

        # @return [Integer]
        def task_id
          object[:task_id]
        end

        # @return [String] the step's current state
        def state
          step.current_state
        end

        # @!method name
        #   @return [String] the step's name (StepDetail#name)
        # @!method attempts
        #   @return [Integer] the step's attempts (StepDetail#attempts)
        # @!method retry_limit
        #   @return [Integer] the step's retry_limit (StepDetail#retry_limit)
        # @!method retryable
        #   @return [Boolean] the step's retryable (StepDetail#retryable)
        # @!method depends_on
        #   @return [Array<String>] the step's depends_on (StepDetail#depends_on)
        # @!method results
        #   @return [Object] the step's results (StepDetail#results)
        # @!method error
        #   @return [Hash, nil] the step's error (StepDetail#error)
        # @!method inputs
        #   @return [Object] the step's inputs (StepDetail#inputs)
        # @!method claimed_by
        #   @return [String, nil] the step's claimed_by (StepDetail#claimed_by)
        # @!method last_attempted_at
        #   @return [Time, nil] the step's last_attempted_at (StepDetail#last_attempted_at)
        %i[name attempts retry_limit retryable depends_on results error inputs claimed_by last_attempted_at].each do |name|
          define_method(name) { step.public_send(name) }
        end

        # @return [TaskerCore::StepReadiness, nil]
        def readiness
          object[:readiness]
        end

        # @return [Array<TaskerCore::Transition>] the step's audit trail
        def transitions
          GraphQL.client(context).step_transitions(step.workflow_step_id)
        end

        private

        def step
          object[:step]
        end
      end
    end
  end
end
