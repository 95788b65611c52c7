# frozen_string_literal: true

# What a claim by task id does to a task that cannot run any more.
RSpec.describe "Orchestration: claims on a blocked task", :integration do
  with_tasker_schema

  it "leaves a task that is in error (blocked by failures) in error when it claims nothing" do
    task = client.create_task(linear_spec)
    step = client.claim_steps(worker_id: "w", task_id: task.task_id).first
    report = client.report_step_results([{ step_id: step.step_id, worker_id: "w", success: false,
                                           error: { message: "no", retryable: false } }])
    expect(report.tasks.first.status).to eq("error")

    expect(client.claim_steps(worker_id: "w", task_id: task.task_id)).to eq([])
    expect(client.task_execution_context(task.task_id).status).to eq("error")
    expect(client.task_transitions(task.task_id).map(&:to_state)).to eq(%w[pending in_progress error])
  end
end
