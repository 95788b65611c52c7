# frozen_string_literal: true

module TaskerCoreSpec
  # ClaimedStep values for specs that need no database.
  module ClaimedSteps
    def claimed_step(**overrides)
      TaskerCore::ClaimedStep.from_h({
        "step_id" => 11, "task_id" => 7, "step_name" => "charge", "task_name" => "order", "namespace" => "shop",
        "version" => "1.0.0", "attempts" => 1, "retry_limit" => 3, "retryable" => true,
        "inputs" => { "currency" => "EUR" }, "task_context" => { "cart_id" => 42 },
        "sequence" => { "validate_cart" => { "total_cents" => 4599 } }, "correlation_id" => "0190-abc",
        "lease_expires_at" => "2026-11-25T17:00:00.123456Z"
      }.merge(overrides.transform_keys(&:to_s)))
    end
  end
end

RSpec.configure { |config| config.include TaskerCoreSpec::ClaimedSteps }
