# frozen_string_literal: true

RSpec.describe TaskerCore::StepHandler::Step do
  it "exposes the claimed step" do
    step = described_class.from_claimed(claimed_step(attempts: 2))
    expect(step).to have_attributes(name: "charge", step_id: 11, attempts: 2, attempt: 2, retry_limit: 3,
                                    retryable: true, inputs: { "currency" => "EUR" })
    expect(step.lease_expires_at).to eq(Time.utc(2026, 11, 25, 17, 0, Rational(123_456, 1_000_000)))
    expect(step).not_to be_last_attempt
    expect(described_class.from_claimed(claimed_step(attempts: 3))).to be_last_attempt
  end

  it "gives {} as the inputs of a step created without any" do
    expect(described_class.from_claimed(claimed_step(inputs: nil)).inputs).to eq({})
  end
end
