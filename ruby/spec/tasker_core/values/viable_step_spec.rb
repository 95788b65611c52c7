# frozen_string_literal: true

RSpec.describe TaskerCore::ViableStep do
  it "is always ready and keeps its fields" do
    step = described_class.from_h("workflow_step_id" => 2**62 + 1, "name" => "A", "reason" => "ready",
                                  "reason_detail" => {}, "attempts" => 0)
    expect(step).to be_ready
    expect(step.step_id).to eq(2**62 + 1)
    expect(step.name).to eq("A")
    expect(step.reason).to eq(:ready)
    expect(step.attempts).to eq(0)
  end
end
