# frozen_string_literal: true

RSpec.describe TaskerCore::WorkerConfig do
  it "has the documented defaults" do
    expect(described_class.new.to_h).to eq(concurrency: 4, lease_seconds: 30.0, heartbeat_interval: nil,
                                           poll_interval: 0.05, recovery_interval: 5.0, recover_leases: true,
                                           shutdown_timeout: 25.0, error_pause: 1.0)
  end

  it "is the process's defaults for workers (TaskerCore.worker_config)" do
    expect(TaskerCore.worker_config).to be_a(described_class)
    expect(TaskerCore.worker_config).to equal(TaskerCore.worker_config)
  end
end
