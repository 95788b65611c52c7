# frozen_string_literal: true

# batch_update_step_states: per-item outcomes and one transaction per call.
RSpec.describe "batch_update_step_states", :integration do
  with_tasker_schema

  let(:task) { client.create_task(linear_spec) }
  let(:a) { task.step_id("A") }
  let(:b) { task.step_id("B") }

  def states
    client.step_readiness(task.task_id).to_h { |r| [r.name, r.current_state] }
  end

  def trail_size(step_id)
    client.step_transitions(step_id).size
  end

  it "applies an update and reports it" do
    result = client.batch_update_step_states([{ step_id: a, state: "in_progress" }])
    expect(result).to be_a(TaskerCore::BatchResult)
    expect([result.applied, result.rejected, result.duplicates]).to eq([1, 0, 0])
    outcome = result.outcomes.first
    expect(outcome).to be_applied
    expect(outcome.index).to eq(0)
    expect(outcome.step_id).to eq(a)
    expect(outcome.from_state).to eq("pending")
    expect(outcome.to_state).to eq("in_progress")
    expect(outcome.transition_id).to be_a(Integer)
    expect(outcome.error).to be_nil
    expect(client.step_transitions(a).last.id).to eq(outcome.transition_id)
    expect(states["A"]).to eq("in_progress")
  end

  it "reports a repeated completion as a duplicate and writes nothing" do
    run_steps(client, a)
    before = trail_size(a)
    result = client.batch_update_step_states([{ step_id: a, state: "complete" }])
    expect([result.applied, result.rejected, result.duplicates]).to eq([0, 0, 1])
    outcome = result.outcomes.first
    expect(outcome).to be_duplicate
    expect(outcome).not_to be_applied
    expect(outcome.error).to be_nil
    expect(trail_size(a)).to eq(before)
  end

  it "rejects an illegal transition with a StateTransitionError and writes nothing for it" do
    result = client.batch_update_step_states([{ step_id: a, state: "complete" }]) # pending -> complete
    expect([result.applied, result.rejected, result.duplicates]).to eq([0, 1, 0])
    outcome = result.outcomes.first
    expect(outcome).to be_rejected
    expect(outcome.error).to be_a(TaskerCore::StateTransitionError)
    expect(outcome.error.message).not_to be_empty
    expect(states["A"]).to eq("pending")
  end

  it "rejects starting a step whose parent is not complete (the guard)" do
    result = client.batch_update_step_states([{ step_id: b, state: "in_progress" }])
    expect(result.outcomes.first).to be_rejected
    expect(result.outcomes.first.error).to be_a(TaskerCore::StateTransitionError)
    expect(states["B"]).to eq("pending")
  end

  it "rejects an unknown step id with a NotFoundError" do
    result = client.batch_update_step_states([{ step_id: 2**62, state: "in_progress" }])
    outcome = result.outcomes.first
    expect(outcome).to be_rejected
    expect(outcome.step_id).to eq(2**62)
    expect(outcome.error).to be_a(TaskerCore::NotFoundError)
  end

  it "rejects an unknown state as a bad value" do
    result = client.batch_update_step_states([{ step_id: a, state: "flying" }])
    expect(result.outcomes.first).to be_rejected
    expect(result.outcomes.first.error).to be_a(TaskerCore::ValidationError)
  end

  it "reports mixed outcomes in order, applying the valid items only" do
    run_steps(client, a)
    result = client.batch_update_step_states([
                                               { step_id: a, state: "complete" },          # duplicate
                                               { step_id: b, state: "in_progress" },       # applied
                                               { step_id: task.step_id("D"), state: "in_progress" }, # rejected: guard
                                               { step_id: 2**62, state: "complete" },      # rejected: unknown
                                               { step_id: b, state: "complete", results: { "n" => 1 } } # applied
                                             ])
    expect(result.outcomes.map(&:index)).to eq([0, 1, 2, 3, 4])
    expect(result.outcomes.map(&:status)).to eq(%w[duplicate applied rejected rejected applied])
    expect([result.applied, result.rejected, result.duplicates]).to eq([2, 2, 1])
    expect(result).not_to be_success
    expect(states).to eq("A" => "complete", "B" => "complete", "C" => "pending", "D" => "pending")
  end

  it "counts earlier updates of the same call: complete a parent and start its child at once" do
    client.batch_update_step_states([{ step_id: a, state: "in_progress" }])
    result = client.batch_update_step_states([{ step_id: a, state: "complete" }, { step_id: b, state: "in_progress" }])
    expect(result.outcomes.map(&:status)).to eq(%w[applied applied])
    expect(result.outcomes.last.from_state).to eq("pending")
    expect(states.values_at("A", "B")).to eq(%w[complete in_progress])
  end

  it "walks one step through several states in one call" do
    result = client.batch_update_step_states([[a, "in_progress", nil], [a, "complete", { "x" => 1 }],
                                              [b, "in_progress", nil]])
    expect(result.outcomes.map(&:status)).to eq(%w[applied applied applied])
    expect(client.step_transitions(a).map(&:to_state).last(2)).to eq(%w[in_progress complete])
  end

  it "accepts the successor's array form" do
    result = client.batch_update_step_states([[a, "in_progress", nil]])
    expect(result.outcomes.first).to be_applied
  end

  it "checks from_state (compare-and-swap)" do
    result = client.batch_update_step_states([{ step_id: a, state: "in_progress", from_state: "error" }])
    expect(result.outcomes.first).to be_rejected
    expect(result.outcomes.first.error).to be_a(TaskerCore::StateTransitionError)
    expect(states["A"]).to eq("pending")
  end

  it "writes nothing at all when the payload is malformed" do
    before = trail_size(a)
    expect do
      client.batch_update_step_states([{ step_id: a, state: "in_progress" }, { step_id: "x", state: "complete" }])
    end.to raise_error(TaskerCore::ValidationError)
    expect do
      client.batch_update_step_states([{ step_id: a, state: "in_progress" }, { step_id: b, state: "complete", bogus: 1 }])
    end.to raise_error(TaskerCore::ValidationError, /bogus/)
    expect(trail_size(a)).to eq(before)
    expect(states["A"]).to eq("pending")
  end

  it "returns an empty result for no updates" do
    result = client.batch_update_step_states([])
    expect([result.applied, result.rejected, result.duplicates, result.outcomes]).to eq([0, 0, 0, []])
  end

  it "records metadata and the lifecycle event on the step's transition" do
    client.batch_update_step_states([{ step_id: a, state: "in_progress", metadata: { "worker" => "w1" } }])
    transition = client.step_transitions(a).last
    expect(transition.metadata).to include("worker" => "w1")
    expect(transition.event).to eq("step.execution_requested")
    expect(transition.owner_id).to eq(a)
  end
end
