# frozen_string_literal: true

RSpec.describe TaskerCore::StepReadiness do
  def row(reason, ready: false, **extra)
    described_class.from_h({ "workflow_step_id" => 9, "reason" => reason, "ready_for_execution" => ready,
                             "reason_detail" => { "unmet_parents" => ["A"] } }.merge(extra.transform_keys(&:to_s)))
  end

  it "exposes reason as a Symbol and reason_detail as a Hash" do
    object = row("dependencies_unmet")
    expect(object.reason).to eq(:dependencies_unmet)
    expect(object.reason_detail).to eq("unmet_parents" => ["A"])
    expect(object.step_id).to eq(9)
  end

  it "is ready only when ready_for_execution" do
    expect(row("ready", ready: true)).to be_ready
    expect(row("claimed")).not_to be_ready
  end

  it "is blocked for not_retryable and retries_exhausted only" do
    expect(row("not_retryable")).to be_blocked
    expect(row("retries_exhausted")).to be_blocked
    expect(row("backoff")).not_to be_blocked
    expect(row("dependencies_unmet")).not_to be_blocked
  end

  it "answers waiting_for_dependencies? and in_backoff?" do
    expect(row("dependencies_unmet")).to be_waiting_for_dependencies
    expect(row("backoff")).not_to be_waiting_for_dependencies
    expect(row("backoff")).to be_in_backoff
    expect(row("ready", ready: true)).not_to be_in_backoff
  end

  it "parses its timestamps" do
    object = row("backoff", next_retry_at: "2030-01-01T00:00:01.5Z", last_failure_at: nil,
                            last_attempted_at: "2030-01-01T00:00:00Z")
    expect(object.next_retry_at).to eq(Time.utc(2030, 1, 1, 0, 0, 1.5r))
    expect(object.last_failure_at).to be_nil
    expect(object.last_attempted_at).to eq(Time.utc(2030))
  end
end
