# frozen_string_literal: true

RSpec.describe TaskerCore::StepExecution do
  let(:now) { Time.utc(2026, 1, 1) }

  def execution(error: nil, results: nil, **step)
    described_class.new(claimed: claimed_step(**step), started_at: now, finished_at: now + 0.25, duration: 0.25,
                        results: results, error: error)
  end

  it "reports a success with its results and the attempt's metadata" do
    x = execution(results: { "ok" => 1 })
    expect(x.report("w1")).to eq(step_id: 11, worker_id: "w1", attempt: 1, success: true, results: { "ok" => 1 },
                                 metadata: { "duration_ms" => 250.0, "attempt" => 1 })
    expect(x).to have_attributes(step_id: 11, task_id: 7, step_name: "charge", attempt: 1)
    expect(x).not_to be_will_retry
  end

  it "reports a failure with the exception, for the client to translate" do
    error = TaskerCore::RetryableError.new("later", retry_after: 3)
    report = execution(error: error).report("w1")
    expect(report).to include(step_id: 11, worker_id: "w1", attempt: 1, success: false, error: error)
    expect(report).not_to have_key(:results)
  end

  it "knows whether the library will retry a failure" do
    expect(execution(error: RuntimeError.new("x"))).to be_will_retry
    expect(execution(error: RuntimeError.new("x"), attempts: 3, retry_limit: 3)).not_to be_will_retry
    expect(execution(error: RuntimeError.new("x"), retryable: false)).not_to be_will_retry
    expect(execution(error: TaskerCore::PermanentError.new("x"))).not_to be_will_retry
  end
end
