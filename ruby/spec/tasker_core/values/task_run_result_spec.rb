# frozen_string_literal: true

RSpec.describe TaskerCore::TaskRunResult do
  let(:context) do
    TaskerCore::TaskExecutionContext.from_h("task_id" => 3, "status" => "error", "execution_status" => "blocked_by_failures")
  end
  let(:step) do
    TaskerCore::TaskRunResult::StepSummary.new(step_id: 1, name: "a", state: "error", transitions: [])
  end

  it "answers for the task's final state" do
    result = described_class.new(task_id: 3, execution_context: context, steps: [step], elapsed: 1.5,
                                 started_at: Time.now, finished_at: Time.now)
    expect(result).to be_error
    expect(result).not_to be_complete
    expect(result.status).to eq("error")
    expect(result.execution_status).to eq("blocked_by_failures")
    expect(result.attempts).to eq("a" => 0)
    expect(result.step(:a)).to equal(step)
    expect(result.inspect).to include("task_id=3 status=error (blocked_by_failures)")
  end
end
