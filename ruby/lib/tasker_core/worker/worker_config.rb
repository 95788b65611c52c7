# frozen_string_literal: true

module TaskerCore
  # Process-level overrides of TaskerCore::Worker's settings
  # (TaskerCore.worker_config). It holds no defaults: every attribute starts nil,
  # and a Worker takes what is nil here from its client's configuration, the one
  # place every limit lives (docs/configuration.md, the execution.* keys; set
  # them in config/tasker.yml, TASKER_* variables or Client.new arguments).
  #
  # Precedence, for each setting: a Worker.new keyword argument > the value set
  # here > the client's configuration.
  #
  #   TaskerCore.worker_config.concurrency = 8 # every Worker of this process not given concurrency:
  #
  # recover_leases (whether a worker recovers expired leases; a switch, not a
  # configuration key) is true when set neither here nor on the Worker.
  #
  # The overrides, nil until set (then a Worker takes the client's configuration):
  # @!attribute [rw] concurrency
  #   @return [Integer, nil] handler threads: at most this many steps run at once (overrides execution.max_concurrent_steps)
  # @!attribute [rw] lease_seconds
  #   @return [Float, nil] the lease of each claimed step, in seconds (overrides execution.lease_seconds)
  # @!attribute [rw] heartbeat_interval
  #   @return [Float, nil] seconds between lease extensions (overrides execution.heartbeat_interval_seconds)
  # @!attribute [rw] poll_interval
  #   @return [Float, nil] seconds to wait when nothing is claimable (overrides execution.poll_interval_ms / 1000)
  # @!attribute [rw] recovery_interval
  #   @return [Float, nil] seconds between recover_expired_steps calls (overrides execution.recovery_interval_seconds)
  # @!attribute [rw] shutdown_timeout
  #   @return [Float, nil] seconds a stopping worker waits for running handlers (overrides execution.shutdown_timeout_seconds)
  # @!attribute [rw] error_pause
  #   @return [Float, nil] seconds to wait after a failed call to the library (overrides execution.error_pause_seconds)
  # @!attribute [rw] step_timeout
  #   @return [Float, nil] seconds a handler may run when its step's template gives no timeout_seconds; 0: no limit (overrides execution.step_timeout_seconds)
  # @!attribute [rw] report_isolation_failures
  #   @return [Integer, nil] consecutive non-transient failures of a report before its steps are reported one by one (overrides execution.report_isolation_failures)
  # @!attribute [rw] claim_ahead
  #   @return [Integer, nil] steps claimed beyond the free handler threads, queued for the next free one (overrides execution.claim_ahead)
  # @!attribute [rw] recover_leases
  #   @return [Boolean, nil] whether workers recover expired leases (nil: true)
  class WorkerConfig
    # Each Worker setting taken from the configuration: the key, and how its
    # value becomes the setting's (seconds as Floats).
    CONFIGURATION_KEYS = {
      concurrency: ["execution.max_concurrent_steps", ->(v) { v }],
      lease_seconds: ["execution.lease_seconds", ->(v) { v.to_f }],
      heartbeat_interval: ["execution.heartbeat_interval_seconds", ->(v) { v.to_f }],
      poll_interval: ["execution.poll_interval_ms", ->(ms) { ms / 1000.0 }],
      recovery_interval: ["execution.recovery_interval_seconds", ->(v) { v.to_f }],
      shutdown_timeout: ["execution.shutdown_timeout_seconds", ->(v) { v.to_f }],
      error_pause: ["execution.error_pause_seconds", ->(v) { v.to_f }],
      step_timeout: ["execution.step_timeout_seconds", ->(v) { v.to_f }],
      report_isolation_failures: ["execution.report_isolation_failures", ->(v) { v }],
      claim_ahead: ["execution.claim_ahead", ->(v) { v }]
    }.freeze

    # The settings a Worker takes from the configuration, in CONFIGURATION_KEYS order.
    SETTINGS = CONFIGURATION_KEYS.keys.freeze

    attr_accessor(*SETTINGS, :recover_leases)

    class << self
      # The Worker settings of an effective configuration (Client#effective_config):
      # {concurrency: 4, lease_seconds: 30.0, poll_interval: 0.05, ...}.
      # ConfigurationError when a key is missing (a library older than the gem).
      def from_configuration(effective_config)
        values = Array(effective_config && effective_config["values"]).to_h { |row| [row["key"], row["value"]] }
        CONFIGURATION_KEYS.to_h do |setting, (key, convert)|
          unless values.key?(key) && values[key].is_a?(Numeric)
            raise ConfigurationError.new(
              "the client's effective configuration has no numeric #{key} (got #{values[key].inspect}); " \
              "is libtasker_core.so older than the gem?",
              details: { "key" => key }
            )
          end

          [setting, convert.call(values[key])]
        end
      end
    end

    def initialize
      reset!
    end

    # Forgets every override (all nil again).
    def reset!
      SETTINGS.each { |name| public_send(:"#{name}=", nil) }
      @recover_leases = nil
      self
    end

    # The overrides that are set, as keyword arguments for Worker.new.
    def to_h
      (SETTINGS + [:recover_leases]).to_h { |name| [name, public_send(name)] }.compact
    end
  end
end
