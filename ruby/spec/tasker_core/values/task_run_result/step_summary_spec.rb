# frozen_string_literal: true

RSpec.describe TaskerCore::TaskRunResult::StepSummary do
  let(:t0) { Time.utc(2026, 1, 1, 12, 0, 0) }

  def transition(from, to, at, metadata = {})
    TaskerCore::Transition.from_h("from_state" => from, "to_state" => to, "created_at" => at, "metadata" => metadata)
  end

  it "makes one attempt of each run in the audit trail, with its interval and outcome" do
    trail = [transition("", "pending", t0), transition("pending", "in_progress", t0 + 1, "worker_id" => "w1"),
             transition("in_progress", "error", t0 + 1.5), transition("error", "pending", t0 + 3),
             transition("pending", "in_progress", t0 + 3, "worker_id" => "w2"),
             transition("in_progress", "complete", t0 + 3.25)]
    summary = described_class.new(step_id: 5, name: "pay", state: "complete", transitions: trail)
    expect(summary.attempt_count).to eq(2)
    expect(summary.attempts.map(&:outcome)).to eq(%w[error complete])
    expect(summary.attempts.map(&:worker_id)).to eq(%w[w1 w2])
    expect(summary.durations).to eq([0.5, 0.25])
    expect(summary.duration).to eq(0.25)
    expect([summary.started_at, summary.finished_at]).to eq([t0 + 1, t0 + 3.25])
    expect(summary).to be_complete
  end

  it "leaves a running attempt open and a never-run step empty" do
    running = described_class.new(step_id: 1, name: "x", state: "in_progress",
                                  transitions: [transition("", "pending", t0), transition("pending", "in_progress", t0)])
    expect(running.attempts.first.finished_at).to be_nil
    expect(running.durations).to eq([nil])
    idle = described_class.new(step_id: 2, name: "y", state: "pending", transitions: [transition("", "pending", t0)])
    expect(idle.attempt_count).to eq(0)
    expect(idle.duration).to be_nil
  end
end
