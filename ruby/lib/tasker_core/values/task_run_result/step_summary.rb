# frozen_string_literal: true

module TaskerCore
  class TaskRunResult
    # One step of a finished run, from its audit trail: its final state, how
    # many attempts it took, and when each attempt ran. Every attempt is an
    # interval [started_at, finished_at] (finished_at nil while in progress)
    # with its outcome ("complete", "error"; nil while running).
    class StepSummary
      # One attempt of the step: its number, when it started and finished (Times;
      # finished_at nil while running), its outcome and the worker that ran it.
      Attempt = Struct.new(:number, :started_at, :finished_at, :outcome, :worker_id, keyword_init: true) do
        # Seconds, or nil while running.
        def duration
          finished_at && (finished_at - started_at)
        end
      end

      attr_reader :step_id, :name, :state, :attempts, :transitions

      def initialize(step_id:, name:, state:, transitions:)
        @step_id = step_id
        @name = name
        @state = state
        @transitions = transitions.freeze
        @attempts = build_attempts(transitions).freeze
        freeze
      end

      # @return [Integer] how many attempts the step took
      def attempt_count
        attempts.size
      end

      # Seconds of each attempt.
      def durations
        attempts.map(&:duration)
      end

      # Seconds of the last attempt (nil when it never ran).
      def duration
        attempts.last&.duration
      end

      # The first attempt's start and the last attempt's end.
      def started_at
        attempts.first&.started_at
      end

      # @return [Time, nil] when the last attempt finished (nil while it runs or
      #   when there was none)
      def finished_at
        attempts.last&.finished_at
      end

      def complete?
        state == "complete"
      end

      # The step's name, id, state and the duration of each attempt.
      # @return [String]
      def inspect
        "#<#{self.class.name} #{name}##{step_id} #{state} attempts=#{attempt_count} " \
          "durations=#{durations.map { |d| d && d.round(3) }.inspect}>"
      end

      private

      def build_attempts(transitions)
        attempts = []
        transitions.each do |t|
          if t.to_state == "in_progress"
            attempts << { number: attempts.size + 1, started_at: t.created_at, worker_id: t.metadata&.dig("worker_id") }
          elsif t.from_state == "in_progress" && attempts.last && !attempts.last.key?(:outcome)
            attempts.last.merge!(finished_at: t.created_at, outcome: t.to_state)
          end
        end
        attempts.map { |a| Attempt.new(**a).freeze }
      end
    end
  end
end
