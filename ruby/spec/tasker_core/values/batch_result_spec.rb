# frozen_string_literal: true

RSpec.describe TaskerCore::BatchResult do
  let(:result) do
    described_class.from_h(
      "applied" => 1, "rejected" => 1, "duplicates" => 1,
      "outcomes" => [
        { "index" => 0, "step_id" => 1, "status" => "applied", "from_state" => "pending",
          "to_state" => "in_progress", "transition_id" => 2**62 },
        { "index" => 1, "step_id" => 2, "status" => "duplicate", "from_state" => "complete", "to_state" => "complete" },
        { "index" => 2, "step_id" => 3, "status" => "rejected", "to_state" => "complete",
          "error" => { "type" => "state_transition_error", "message" => "illegal", "details" => { "step_id" => 3 } } }
      ]
    )
  end

  it "has the counts and one BatchOutcome per update" do
    expect([result.applied, result.rejected, result.duplicates]).to eq([1, 1, 1])
    expect(result.outcomes.map(&:class).uniq).to eq([TaskerCore::BatchOutcome])
    expect(result).not_to be_success
  end

  it "answers applied?, duplicate? and rejected?" do
    applied, duplicate, rejected = result.outcomes
    expect([applied.applied?, applied.duplicate?, applied.rejected?]).to eq([true, false, false])
    expect([duplicate.applied?, duplicate.duplicate?, duplicate.rejected?]).to eq([false, true, false])
    expect([rejected.applied?, rejected.duplicate?, rejected.rejected?]).to eq([false, false, true])
    expect(applied.transition_id).to eq(2**62)
  end

  it "maps an item's error to an exception instance, not raised" do
    applied, _, rejected = result.outcomes
    expect(applied.error).to be_nil
    expect(rejected.error).to be_a(TaskerCore::StateTransitionError)
    expect(rejected.error.message).to eq("illegal")
    expect(rejected.error.details).to eq("step_id" => 3)
    expect { raise rejected.error }.to raise_error(TaskerCore::StateTransitionError)
  end
end
