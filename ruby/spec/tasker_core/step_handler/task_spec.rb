# frozen_string_literal: true

RSpec.describe TaskerCore::StepHandler::Task do
  it "exposes the claimed step's task" do
    task = described_class.from_claimed(claimed_step)
    expect(task).to have_attributes(task_id: 7, name: "order", namespace: "shop", version: "1.0.0",
                                    context: { "cart_id" => 42 }, correlation_id: "0190-abc")
    expect(task).to be_frozen
    expect(task.context).to be_frozen
  end

  it "gives {} as the context of a task created without one" do
    expect(described_class.from_claimed(claimed_step(task_context: nil)).context).to eq({})
  end
end
