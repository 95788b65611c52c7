# frozen_string_literal: true

RSpec.describe TaskerCore::CreatedTask do
  it "looks step ids up by name" do
    task = described_class.from_h("task_id" => 1, "created" => true, "step_ids" => { "A" => 2**62 })
    expect(task).to be_created
    expect(task.step_id(:A)).to eq(2**62)
    expect { task.step_id("B") }.to raise_error(KeyError)
  end
end
