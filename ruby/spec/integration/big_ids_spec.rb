# frozen_string_literal: true

# Ids are int64 and must stay exact beyond 2**53 (a JSON float would round them):
# the schema's sequences are moved to 2**62 and a workflow is walked.
RSpec.describe "Ids beyond 2**53", :integration do
  with_tasker_schema

  before(:context) do
    sql = %w[tasker_tasks.task_id tasker_workflow_steps.workflow_step_id
             tasker_workflow_step_transitions.id tasker_task_transitions.id].map do |column|
      table, col = column.split(".")
      "SELECT setval(pg_get_serial_sequence('#{@tasker_schema}.#{table}', '#{col}'), #{2**62});"
    end.join("\n")
    TaskerCoreSpec::Database.psql(TaskerCoreSpec::Database.url, sql)
  end

  it "creates, reads, updates and analyses with ids above 2**62" do
    task = client.create_task(diamond_spec)
    expect(task.task_id).to be > 2**62
    expect(task.step_ids.values).to all(be > 2**62)
    a, b, c, d = task.step_ids.values_at("A", "B", "C", "D")

    context = client.task_execution_context(task.task_id)
    expect(context.task_id).to eql(task.task_id)

    expect(client.viable_steps(task.task_id).map(&:workflow_step_id)).to eq([a])
    analysis = client.analyze_dependencies(task.task_id)
    expect(analysis.dependency_levels).to eq(a => 0, b => 1, c => 1, d => 2)
    expect(analysis.critical_path).to eq([a, [b, c].min, d])

    result = client.batch_update_step_states([{ step_id: a, state: "in_progress" }])
    expect(result.outcomes.first.step_id).to eql(a)
    expect(result.outcomes.first.transition_id).to be > 2**62
    expect(client.step_transitions(a).last.owner_id).to eql(a)
    expect(client.step_readiness(task.task_id, step_ids: [d]).first.workflow_step_id).to eql(d)
  end
end
