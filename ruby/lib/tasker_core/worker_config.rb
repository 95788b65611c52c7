# frozen_string_literal: true

module TaskerCore
  # The defaults of TaskerCore::Worker's options, one place to change them for
  # the process (TaskerCore.worker_config). Every option of Worker.new falls back
  # to the attribute of the same name here.
  #
  #   TaskerCore.worker_config.concurrency = 8
  #
  # (The full configuration system, YAML and TASKER_* variables, is a later
  # issue; it will fill this object.)
  class WorkerConfig
    # Handler threads per worker.
    DEFAULT_CONCURRENCY = 4
    # Seconds a claimed step stays the worker's without a heartbeat (the
    # library's own default, docs/configuration.md lease_seconds).
    DEFAULT_LEASE_SECONDS = 30.0
    # Heartbeats per lease: the heartbeat interval is lease_seconds / this, so
    # two heartbeats can be missed before a lease expires.
    HEARTBEATS_PER_LEASE = 3
    # Seconds to sleep when there is nothing to claim and no result to report.
    DEFAULT_POLL_INTERVAL = 0.05
    # Seconds between recover_expired_steps calls (a dead worker's steps wait
    # at most their lease plus this before a live worker retries them).
    DEFAULT_RECOVERY_INTERVAL = 5.0
    # Seconds a stopping worker waits for running handlers before leaving their
    # steps to lease recovery (below common container grace periods of 30 s).
    DEFAULT_SHUTDOWN_TIMEOUT = 25.0
    # Seconds to pause after a failed call to the library before trying again.
    DEFAULT_ERROR_PAUSE = 1.0

    attr_accessor :concurrency, :lease_seconds, :heartbeat_interval, :poll_interval, :recovery_interval,
                  :recover_leases, :shutdown_timeout, :error_pause

    def initialize
      @concurrency = DEFAULT_CONCURRENCY
      @lease_seconds = DEFAULT_LEASE_SECONDS
      @heartbeat_interval = nil # nil: lease_seconds / HEARTBEATS_PER_LEASE
      @poll_interval = DEFAULT_POLL_INTERVAL
      @recovery_interval = DEFAULT_RECOVERY_INTERVAL
      @recover_leases = true
      @shutdown_timeout = DEFAULT_SHUTDOWN_TIMEOUT
      @error_pause = DEFAULT_ERROR_PAUSE
    end

    # The options as keyword arguments for Worker.new.
    def to_h
      { concurrency: concurrency, lease_seconds: lease_seconds, heartbeat_interval: heartbeat_interval,
        poll_interval: poll_interval, recovery_interval: recovery_interval, recover_leases: recover_leases,
        shutdown_timeout: shutdown_timeout, error_pause: error_pause }
    end
  end
end
