# frozen_string_literal: true

# SIGTERM stops a worker process gracefully: it finishes the step it is running,
# reports it, and exits 0.
RSpec.describe "Orchestration: graceful shutdown", :integration do
  with_tasker_schema

  before(:context) { TaskerCoreSpec::OrchestrationTemplates.register_all }

  it "finishes and reports the running step on SIGTERM, then exits 0" do
    Dir.mktmpdir do |dir|
      marker = File.join(dir, "marker.log")
      task = TaskerCore.create_task(name: "slow", namespace: TaskerCoreSpec::OrchestrationTemplates::NAMESPACE,
                                    client: client, context: { "marker_file" => marker, "sleep" => { "S" => 1.0 } })
      worker = spawn_worker(tasker_schema, dir: dir, concurrency: 2)
      wait_until(timeout: 60, message: -> { "the handler never started\n#{worker.describe}" }) do
        File.exist?(marker) && !File.read(marker).empty?
      end
      step_id = task.step_id("S")
      expect(client.step_transitions(step_id).last.to_state).to eq("in_progress") # mid-step

      worker.signal("TERM")
      status = wait_for_exit(worker, timeout: 60)
      expect(status.exitstatus).to eq(0), worker.describe
      expect(worker.stdout).to match(/^stopped /)

      trail = client.step_transitions(step_id)
      expect(trail.map(&:to_state)).to eq(%w[pending in_progress complete])
      expect(trail.last.metadata["worker_id"]).to eq(worker.worker_id)
      expect(client.task_execution_context(task.task_id).status).to eq("complete")
      expect(File.readlines(marker).size).to eq(1)
    end
  end

  it "also stops an idle worker on SIGINT with exit 0" do
    Dir.mktmpdir do |dir|
      worker = spawn_worker(tasker_schema, dir: dir, concurrency: 1)
      wait_until(timeout: 60, message: -> { "the worker never got ready\n#{worker.describe}" }) { worker.ready? }
      worker.signal("INT")
      expect(wait_for_exit(worker, timeout: 60).exitstatus).to eq(0), worker.describe
      expect(worker.stdout).to match(/^stopped /)
    end
  end
end
