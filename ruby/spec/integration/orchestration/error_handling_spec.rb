# frozen_string_literal: true

# Retries, exhaustion, permanent failures and retry_after, through a real worker.
RSpec.describe "Orchestration: error handling", :integration do
  # A fast policy so that retries come quickly.
  with_tasker_schema(retry_policy: { strategy: "exponential", base_seconds: 0.05, multiplier: 2, cap_seconds: 1,
                                     jitter: 0 })

  before(:context) { TaskerCoreSpec::OrchestrationTemplates.register_all }

  let(:namespace) { TaskerCoreSpec::OrchestrationTemplates::NAMESPACE }
  let(:dir) { Dir.mktmpdir }

  after { FileUtils.remove_entry(dir) }

  def failing_task(fail_plan, retry_limit: 3, retryable: nil)
    name = unique_name("failing")
    TaskerCoreSpec::OrchestrationTemplates.register_failing(name, retry_limit: retry_limit, retryable: retryable)
    TaskerCore.create_task(name: name, namespace: namespace, client: client,
                           context: { "log_dir" => dir, "fail" => { "B" => fail_plan } })
  end

  def run(task, events = [])
    TaskerCore.run_task(task, timeout: 60, client: client, concurrency: 2,
                              on_event: ->(event, data) { events << [event, data[:step_name], data[:attempt]] })
  end

  def step_results(step_id)
    json = TaskerCoreSpec::Database.psql(TaskerCoreSpec::Database.url,
                                         "SELECT results FROM #{tasker_schema}.tasker_workflow_steps " \
                                         "WHERE workflow_step_id = #{Integer(step_id)}")
    JSON.parse(json)
  end

  it "retries a step that fails twice and completes it on the third attempt (retry_limit 3)" do
    task = failing_task({ "mode" => "raise", "until_attempt" => 3 }, retry_limit: 3)
    events = []
    result = run(task, events)
    expect(result).to be_complete
    expect(result.step("B").attempt_count).to eq(3)
    expect(result.step("B").attempts.map(&:outcome)).to eq(%w[error error complete])
    expect(client.step_readiness(task.task_id, step_ids: [task.step_id("B")]).first.attempts).to eq(3)
    expect(events.select { |_, step, _| step == "B" }.map { |e, _, a| [e, a] })
      .to eq([[:claimed, 1], [:retry_scheduled, 1], [:claimed, 2], [:retry_scheduled, 2], [:claimed, 3],
              [:completed, 3]])
    trail = client.step_transitions(task.step_id("B")).map(&:to_state)
    expect(trail).to eq(%w[pending in_progress error pending in_progress error pending in_progress complete])
  end

  it "stops when retries are exhausted: the task is in error, blocked by failures" do
    task = failing_task({ "mode" => "raise" }, retry_limit: 2)
    events = []
    result = run(task, events)
    expect(result.status).to eq("error")
    expect(result.execution_status).to eq("blocked_by_failures")
    expect(result.step("B").attempt_count).to eq(2)
    expect(result.step("B").state).to eq("error")
    expect(result.step("D").attempt_count).to eq(0)
    row = client.step_readiness(task.task_id, step_ids: [task.step_id("B")]).first
    expect(row.reason).to eq(:retries_exhausted)
    expect(events).to include([:retry_scheduled, "B", 1], [:failed, "B", 2], [:task_failed, nil, nil])
    expect(client.task_transitions(task.task_id).last.to_state).to eq("error")
  end

  it "does not retry a PermanentError: one attempt, then the task is blocked" do
    task = failing_task({ "mode" => "permanent", "message" => "card declined" }, retry_limit: 3)
    events = []
    result = run(task, events)
    expect(result.status).to eq("error")
    expect(result.execution_status).to eq("blocked_by_failures")
    expect(result.step("B").attempt_count).to eq(1)
    row = client.step_readiness(task.task_id, step_ids: [task.step_id("B")]).first
    expect(row.reason).to eq(:not_retryable)
    expect(row.retryable).to eq(false)
    expect(step_results(task.step_id("B"))["error"])
      .to include("message" => "card declined", "type" => "TaskerCore::PermanentError", "retryable" => false,
                  "code" => "spec_permanent")
    expect(events).to include([:failed, "B", 1])
    expect(events).not_to include(a_collection_including(:retry_scheduled))
  end

  it "records a handler's non-Tasker exception as a retryable failure with its class and message" do
    task = failing_task({ "mode" => "raise", "message" => "inventory service said no" }, retry_limit: 1)
    result = run(task)
    expect(result.status).to eq("error")
    error = step_results(task.step_id("B"))["error"]
    expect(error).to include("message" => "inventory service said no",
                             "type" => "TaskerCoreSpec::Handlers::Failing::ExampleFailure")
    expect(error).not_to include("retryable" => false)
    row = client.step_readiness(task.task_id, step_ids: [task.step_id("B")]).first
    expect(row.retryable).to eq(true)
    expect(row.reason).to eq(:retries_exhausted) # retryable, out of attempts (not :not_retryable)
    failed = client.step_transitions(task.step_id("B")).find { |t| t.to_state == "error" }
    expect(failed.metadata).to include("error" => "inventory service said no", "event" => "step.failed")
  end

  it "retries a handler's non-Tasker exception under the retry policy" do
    task = failing_task({ "mode" => "raise", "until_attempt" => 2 }, retry_limit: 3)
    result = run(task)
    expect(result).to be_complete
    expect(result.step("B").attempt_count).to eq(2)
  end

  context "with RetryableError(retry_after: 1)" do
    # The handler works 0.3 s before it fails, so "1 s after the failure" and
    # "1 s after the attempt started" differ by more than the worker's polling.
    let(:plan) { { "mode" => "retryable", "until_attempt" => 2, "retry_after" => 1, "delay" => 0.3 } }

    def attempt_times(task)
      trail = client.step_transitions(task.step_id("B"))
      starts = trail.select { |t| t.to_state == "in_progress" }.map(&:created_at)
      error = trail.find { |t| t.to_state == "error" }.created_at
      [starts, error]
    end

    it "starts the second attempt no earlier than retry_after after the first attempt started" do
      task = failing_task(plan)
      expect(run(task)).to be_complete
      starts, = attempt_times(task)
      expect(starts.size).to eq(2)
      expect(starts[1] - starts[0]).to be >= 1.0
    end

    it "starts the second attempt no earlier than retry_after after the first attempt failed" do
      task = failing_task(plan)
      expect(run(task)).to be_complete
      starts, error = attempt_times(task)
      expect(starts[1] - error).to be >= 1.0
    end
  end
end
