# frozen_string_literal: true

# Rails params are Strings: every id a client method takes may be an Integer or a
# numeric String; anything else is a ValidationError naming the field, raised
# before the library is called.
RSpec.describe TaskerCore::Client, "ids" do
  with_tasker_schema

  let(:task) { client.create_task(linear_spec) }
  let(:step_id) { task.step_ids.values.first }

  it "accepts numeric Strings for task and step ids" do
    expect(client.task_execution_context(task.task_id.to_s).task_id).to eq(task.task_id)
    expect(client.viable_steps(task.task_id.to_s).map(&:step_id)).to eq(client.viable_steps(task.task_id).map(&:step_id))
    expect(client.step_readiness(task.task_id.to_s, step_ids: [step_id.to_s]).map(&:step_id)).to eq([step_id])
    expect(client.analyze_dependencies(task.task_id.to_s).total_steps).to eq(task.step_ids.size)
    expect(client.task_transitions(task.task_id.to_s)).to eq(client.task_transitions(task.task_id))
    expect(client.step_transitions(step_id.to_s)).to eq(client.step_transitions(step_id))
  end

  [["12abc", /task_id must be an integer id/], ["", /task_id must be an integer id/], [nil, /task_id .*NilClass/],
   [1.5, /task_id .*Float/], ["-3", /task_id must be an integer id/]].each do |bad, message|
    it "refuses #{bad.inspect} as a task id with a ValidationError naming the field" do
      expect(TaskerCore::Native).not_to receive(:call)
      expect { client.task_execution_context(bad) }.to raise_error(TaskerCore::ValidationError, message) { |e|
        expect(e.details["field"]).to eq("task_id")
      }
    end
  end

  it "names the item of a list of ids" do
    expect { client.step_readiness(task.task_id, step_ids: [step_id, "x"]) }
      .to raise_error(TaskerCore::ValidationError, /step_ids\[1\]/)
  end
end
