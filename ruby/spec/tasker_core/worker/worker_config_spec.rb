# frozen_string_literal: true

RSpec.describe TaskerCore::WorkerConfig do
  def effective(values)
    { "environment" => "test", "values" => values.map { |k, v| { "key" => k, "value" => v, "source" => "default" } } }
  end

  let(:documented) do
    { "execution.max_concurrent_steps" => 4, "execution.lease_seconds" => 30, "execution.heartbeat_interval_seconds" => 10,
      "execution.poll_interval_ms" => 50, "execution.recovery_interval_seconds" => 5,
      "execution.shutdown_timeout_seconds" => 25, "execution.error_pause_seconds" => 1,
      "execution.step_timeout_seconds" => 300, "execution.claim_batch_size" => 10,
      "execution.report_isolation_failures" => 3, "execution.claim_ahead" => 4 }
  end

  it "holds no defaults of its own: every override starts nil" do
    config = described_class.new
    expect(config.to_h).to eq({})
    (described_class::SETTINGS + [:recover_leases]).each { |name| expect(config.public_send(name)).to be_nil }
    expect(described_class.constants.grep(/DEFAULT/)).to be_empty
  end

  it "gives the overrides that are set, and forgets them on reset!" do
    config = described_class.new
    config.concurrency = 8
    config.recover_leases = false
    expect(config.to_h).to eq(concurrency: 8, recover_leases: false)
    expect(config.reset!.to_h).to eq({})
  end

  it "maps the execution.* keys of an effective configuration to the worker's settings" do
    expect(described_class.from_configuration(effective(documented)))
      .to eq(concurrency: 4, lease_seconds: 30.0, heartbeat_interval: 10.0, poll_interval: 0.05, recovery_interval: 5.0,
             shutdown_timeout: 25.0, error_pause: 1.0, step_timeout: 300.0, report_isolation_failures: 3,
             claim_ahead: 4)
  end

  it "raises ConfigurationError naming a key the configuration lacks" do
    expect { described_class.from_configuration(effective(documented.except("execution.step_timeout_seconds"))) }
      .to raise_error(TaskerCore::ConfigurationError, /execution\.step_timeout_seconds/)
  end

  it "is the process's overrides for workers (TaskerCore.worker_config)" do
    expect(TaskerCore.worker_config).to be_a(described_class)
    expect(TaskerCore.worker_config).to equal(TaskerCore.worker_config)
  end

  it "matches the library's effective configuration and its documented defaults", :integration do
    client = TaskerCore::Client.new(database_url: TaskerCoreSpec::Database.url)
    begin
      expect(described_class.from_configuration(client.effective_config))
        .to eq(concurrency: 4, lease_seconds: 30.0, heartbeat_interval: 10.0, poll_interval: 0.05,
               recovery_interval: 5.0, shutdown_timeout: 25.0, error_pause: 1.0, step_timeout: 300.0,
               report_isolation_failures: 3, claim_ahead: 4)
    ensure
      client.close
    end
  end
end
