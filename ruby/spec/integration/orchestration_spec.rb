# frozen_string_literal: true

# The worker's path: claim_steps -> report_step_results (-> heartbeat,
# recover_expired_steps), next_ready_tasks.
RSpec.describe "Orchestration", :integration do
  with_tasker_schema

  let(:worker) { "rspec-#{SecureRandom.hex(3)}" }

  it "runs a diamond to completion through claims and reports, finalizing the task" do
    task = client.create_task(diamond_spec(context: { "order" => 7 }))
    expect(client.next_ready_tasks(limit: 1000).map(&:task_id)).to include(task.task_id)

    rounds = []
    loop do
      claimed = client.claim_steps(worker_id: worker, task_id: task.task_id)
      break if claimed.empty?

      rounds << claimed.map(&:step_name).sort
      expect(claimed).to all(have_attributes(task_id: task.task_id, task_context: { "order" => 7 },
                                             correlation_id: task.correlation_id))
      expect(claimed.map(&:lease_expires_at)).to all(be > Time.now)
      result = client.report_step_results(claimed.map do |step|
        { step_id: step.step_id, worker_id: worker, success: true, results: { "by" => step.step_name } }
      end)
      expect(result).to be_success
      expect(result.tasks.map(&:task_id)).to eq([task.task_id])
    end
    expect(rounds).to eq([%w[A], %w[B C], %w[D]])
    context = client.task_execution_context(task.task_id)
    expect(context.status).to eq("complete")
    expect(context).to be_complete
  end

  it "reports and claims in one call: the steps a report readied come back with it" do
    task = client.create_task(diamond_spec)
    _, claimed = client.report_and_claim([], worker_id: worker, task_id: task.task_id)
    rounds = [claimed.map(&:step_name).sort]
    until claimed.empty?
      reports = claimed.map { |step| { step_id: step.step_id, worker_id: worker, success: true } }
      result, claimed = client.report_and_claim(reports, worker_id: worker, task_id: task.task_id)
      expect(result).to be_success
      expect(result.outcomes.size).to eq(reports.size)
      rounds << claimed.map(&:step_name).sort unless claimed.empty?
    end
    expect(rounds).to eq([%w[A], %w[B C], %w[D]])
    expect(client.task_execution_context(task.task_id)).to be_complete
    expect { client.report_and_claim([], worker_id: "") }.to raise_error(TaskerCore::ValidationError)
  end

  it "claims only tasks of the given namespaces" do
    mine_ns = "ns_mine_#{SecureRandom.hex(3)}"
    mine = client.create_task(linear_spec(namespace: mine_ns))
    other = client.create_task(linear_spec(namespace: "ns_other_#{SecureRandom.hex(3)}"))
    expect(client.claim_steps(worker_id: worker, task_id: other.task_id, namespaces: [mine_ns])).to be_empty
    got = client.claim_steps(worker_id: worker, namespaces: mine_ns, limit: 10)
    expect(got.map(&:task_id).uniq).to eq([mine.task_id])
  end

  it "hands every step to exactly one of many concurrent workers" do
    task = client.create_task(wide_spec(60))
    claims = Array.new(6) do |i|
      Thread.new do
        mine = []
        loop do
          got = client.claim_steps(worker_id: "#{worker}-#{i}", task_id: task.task_id, limit: 3)
          break if got.empty?

          mine.concat(got.map(&:step_id))
        end
        mine
      end
    end.map(&:value)
    all = claims.flatten
    expect(all.size).to eq(60)
    expect(all.uniq.size).to eq(60)
  end

  it "records a PermanentError as a permanent failure and blocks the task" do
    task = client.create_task(linear_spec)
    step = client.claim_steps(worker_id: worker, task_id: task.task_id).first
    error = TaskerCore::PermanentError.new("card declined", error_code: "DECLINED", context: { "card" => "x" })
    result = client.report_step_results([{ step_id: step.step_id, worker_id: worker, success: false, error: error }])
    expect(result.outcomes.first).to be_applied
    expect(result.outcomes.first.to_state).to eq("error")
    expect(result.tasks.first).to be_error
    expect(result.tasks.first.execution_status).to eq("blocked_by_failures")
    row = client.step_readiness(task.task_id, step_ids: [step.step_id]).first
    expect(row.reason).to eq(:not_retryable)
  end

  it "records a RetryableError with its retry_after as the backoff" do
    task = client.create_task(linear_spec)
    step = client.claim_steps(worker_id: worker, task_id: task.task_id).first
    error = TaskerCore::RetryableError.new("rate limited", retry_after: 600)
    result = client.report_step_results([{ step_id: step.step_id, worker_id: worker, success: false, error: error }])
    expect(result.outcomes.first).to be_applied
    status = result.tasks.first
    expect(status.status).not_to eq("error")
    expect(status.next_retry_at).to be_within(120).of(Time.now + 600)
    row = client.step_readiness(task.task_id, step_ids: [step.step_id]).first
    expect(row).to be_in_backoff
    expect(client.claim_steps(worker_id: worker, task_id: task.task_id)).to eq([])
  end

  it "lets only the lease holder report" do
    task = client.create_task(linear_spec)
    step = client.claim_steps(worker_id: worker, task_id: task.task_id).first
    result = client.report_step_results([{ step_id: step.step_id, worker_id: "someone-else", success: true }])
    expect(result.outcomes.first).to be_rejected
    expect(result.outcomes.first.error).to be_a(TaskerCore::Error)
  end

  it "extends leases on heartbeat and recovers expired ones" do
    task = client.create_task(linear_spec)
    step = client.claim_steps(worker_id: worker, task_id: task.task_id, lease_seconds: 0.2).first
    expect(client.heartbeat(worker_id: worker, step_ids: [step.step_id], lease_seconds: 0.2)).to eq([step.step_id])
    expect(client.heartbeat(worker_id: "someone-else", step_ids: [step.step_id])).to eq([])
    sleep 0.5
    recovered = client.recover_expired_steps(worker_id: "rspec-reaper")
    mine = recovered.outcomes.find { |o| o.step_id == step.step_id }
    expect(mine).not_to be_nil
    expect(mine.to_state).to eq("error")
    expect(client.step_transitions(step.step_id).last.metadata).to include("reason" => "lease_expired")
  end

  it "validates its payloads" do
    expect { client.claim_steps(worker_id: "") }.to raise_error(TaskerCore::ValidationError)
    expect { client.claim_steps(worker_id: worker, limit: 0) }.to raise_error(TaskerCore::ValidationError, /limit/)
    expect { client.next_ready_tasks(limit: 0) }.to raise_error(TaskerCore::ValidationError)
    expect { client.report_step_results([{ step_id: 1, worker_id: worker, success: true, colour: 1 }]) }
      .to raise_error(TaskerCore::ValidationError, /colour/)
  end
end
