# frozen_string_literal: true

# The audit trail a worker leaves: every transition of every step and of the task.
RSpec.describe "Orchestration: state transitions end to end", :integration do
  with_tasker_schema

  before(:context) { TaskerCoreSpec::OrchestrationTemplates.register_all }

  it "records pending → in_progress → complete with their events for every step and the task" do
    task = TaskerCore.create_task(name: "diamond", namespace: TaskerCoreSpec::OrchestrationTemplates::NAMESPACE,
                                  client: client, context: { "order" => 1 })
    events = []
    result = TaskerCore.run_task(task, timeout: 60, client: client, concurrency: 2,
                                       on_event: ->(event, data) { events << [event, data[:step_name]] })
    expect(result).to be_complete
    worker_ids = []

    task.step_ids.each do |name, step_id|
      trail = client.step_transitions(step_id)
      rows = trail.map { |t| [t.from_state, t.to_state, t.event, t.sort_key] }
      expect(rows).to eq([["", "pending", "step.initialize_requested", 1],
                          ["pending", "in_progress", "step.execution_requested", 2],
                          ["in_progress", "complete", "step.completed", 3]]), "step #{name}: #{rows.inspect}"
      expect(trail.map { |t| t.metadata["event"] }).to eq(trail.map(&:event))
      expect(trail.map(&:owner_id)).to all(eq(step_id))
      holder = trail[1].metadata["worker_id"]
      expect(holder).to be_a(String).and(satisfy { |id| !id.empty? })
      expect(trail[2].metadata["worker_id"]).to eq(holder) # only the lease holder reports
      expect(trail[2].metadata).to include("attempt" => 1) # the worker's own metadata
      expect(trail.map(&:created_at)).to eq(trail.map(&:created_at).sort)
      worker_ids << holder
    end
    expect(worker_ids.uniq.size).to eq(1)

    task_rows = client.task_transitions(task.task_id).map { |t| [t.from_state, t.to_state, t.event] }
    expect(task_rows).to eq([["", "pending", "task.initialize_requested"],
                             ["pending", "in_progress", "task.start_requested"],
                             ["in_progress", "complete", "task.completed"]])

    # The parents' transitions precede the children's.
    started = task.step_ids.to_h { |name, id| [name, client.step_transitions(id)[1].created_at] }
    finished = task.step_ids.to_h { |name, id| [name, client.step_transitions(id)[2].created_at] }
    expect(started["B"]).to be >= finished["A"]
    expect(started["C"]).to be >= finished["A"]
    expect(started["D"]).to be >= [finished["B"], finished["C"]].max

    # One event per transition the worker caused, and the task's end.
    expect(events.count { |e, _| e == :claimed }).to eq(4)
    expect(events.count { |e, _| e == :completed }).to eq(4)
    expect(events.last).to eq([:task_completed, nil])
    expect(result.attempts).to eq("A" => 1, "B" => 1, "C" => 1, "D" => 1)
  end
end
