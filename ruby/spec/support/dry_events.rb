# frozen_string_literal: true

module TaskerCoreSpec
  # The real dry-events, for spec/tasker_core/events/dry_events_bridge_spec.rb.
  #
  # dry-events is not a dependency of the gem, no gem registry is reachable here
  # and Debian does not package it; a copy of its lib/ (0.3.0) is shared beside
  # the repository at ../shared/vendor/dry-events/lib (also in CI), and the
  # project does not copy it. TASKER_DRY_EVENTS_LIB names another lib/ directory.
  # Its dependencies come from Debian (scripts/ensure-deps.sh ruby installs
  # ruby-dry-core and ruby-concurrent).
  module DryEvents
    REPO_ROOT = File.expand_path("../../..", __dir__)
    DEFAULT_LIB = File.expand_path("../shared/vendor/dry-events/lib", REPO_ROOT)

    @tried = false
    @skip_reason = nil
    @error = nil

    class << self
      def lib_dir
        ENV.fetch("TASKER_DRY_EVENTS_LIB", DEFAULT_LIB)
      end

      # Puts lib_dir on the load path and requires dry-events, once per process.
      # Without the shared copy (and no TASKER_DRY_EVENTS_LIB) the specs that need
      # it are pending (skip_reason); with a lib_dir that does not load they fail
      # (error): that is a broken setup, not a missing optional library.
      def load!
        return if @tried

        @tried = true
        dir = lib_dir
        unless File.file?(File.join(dir, "dry", "events.rb"))
          if ENV.key?("TASKER_DRY_EVENTS_LIB")
            @error = "TASKER_DRY_EVENTS_LIB=#{dir} has no dry/events.rb"
          else
            @skip_reason = "dry-events not found at #{dir} (the shared copy beside the repository; " \
                           "TASKER_DRY_EVENTS_LIB names another lib/)"
          end
          return
        end
        $LOAD_PATH.unshift(dir) unless $LOAD_PATH.include?(dir)
        begin
          require "dry/events"
          require "dry/events/listener"
        rescue LoadError => e
          @error = "dry-events at #{dir} does not load: #{e.message} " \
                   "(scripts/ensure-deps.sh ruby installs ruby-dry-core and ruby-concurrent)"
        end
      end

      # For a before hook: → nil when dry-events is loaded, the reason to skip
      # when it is absent; raises when it is present but does not load.
      def require!
        load!
        raise @error if @error

        @skip_reason
      end
    end
  end
end
