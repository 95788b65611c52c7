# frozen_string_literal: true

module TaskerCore
  class Web
    # "Why is this step not ready", in words, from a StepReadiness row.
    module ReasonText
      module_function

      # @param readiness [TaskerCore::StepReadiness, nil]
      # @return [String, nil] what the step is doing or waiting for, in words
      #   ("done", "running", "ready to run", "waiting for charge"...); nil for nil
      def for(readiness)
        return nil if readiness.nil?

        d = readiness.reason_detail || {}
        case readiness.current_state
        when "complete", "resolved_manually" then return "done"
        when "cancelled" then return "cancelled"
        when "in_progress" then return "running"
        end
        case readiness.reason
        when :ready then "ready to run"
        when :dependencies_unmet
          unmet = Array(d["unmet"])
          unmet.empty? ? "waiting for its parents" : "waiting for #{unmet.join(', ')}"
        when :backoff then "retry backoff: #{d['seconds_remaining']}s left"
        when :retries_exhausted then "retries exhausted (#{d['attempts']}/#{d['retry_limit']})"
        when :not_retryable then "failed permanently (not retryable)"
        when :claimed then "running (claimed by a worker)"
        when :already_processed then "done"
        when :wrong_state then "#{d['state'] || readiness.current_state}: not runnable"
        else readiness.reason.to_s
        end
      end

      # Whether a step with this readiness is waiting (not done, not running, not ready).
      def blocked?(readiness)
        readiness && !%i[ready already_processed claimed].include?(readiness.reason) &&
          !%w[complete resolved_manually cancelled].include?(readiness.current_state)
      end
    end
  end
end
