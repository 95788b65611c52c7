# frozen_string_literal: true

require "ffi"
require "json"

module TaskerCore
  # The only file that knows about FFI and the C signatures of libtasker_core.so
  # (docs/ffi.md). Everything above it speaks Ruby objects and exceptions.
  #
  # The library is loaded lazily, on the first call, never at require time: a Go
  # runtime does not survive fork(), so a process that requires the gem and then
  # forks (Puma, Unicorn, Resque...) must not have started it. Native remembers the
  # pid that loaded the library and refuses (ForkError) to call into it from any
  # other process.
  #
  # Every function returns a library-allocated JSON string; Native reads it,
  # frees it with tasker_free_string (always, in an ensure) and returns the parsed
  # envelope: {"ok" => true, "data" => ...} or {"ok" => false, "error" => {...}}.
  module Native
    extend FFI::Library

    # The file name of the shared library the gem loads.
    LIBRARY_NAME = "libtasker_core.so"

    # char *fn(uint64_t handle, const char *payload_json), exported under these
    # names (no tasker_ prefix, as in docs/ffi.md). They touch the database or
    # wait (fetch_events and read_event_stream wait up to wait_ms for events),
    # so they are attached with blocking: true (the GVL is released during the call).
    OPERATIONS = %i[
      run_migrations
      create_task
      get_task_execution_context
      discover_viable_steps
      get_step_readiness
      batch_update_step_states
      analyze_dependencies
      transition_task
      get_step_transitions
      get_task_transitions
      get_system_health
      get_analytics_metrics
      get_slowest_tasks
      get_slowest_steps
      claim_steps
      report_step_results
      report_and_claim
      heartbeat
      recover_expired_steps
      next_ready_tasks
      get_effective_config
      register_task_templates
      create_task_from_template
      get_task_template
      fetch_events
      ack_events
      prune_events
      publish_event
      event_metrics
      event_catalog
      open_event_stream
      read_event_stream
      close_event_stream
      list_tasks
      get_task
      list_task_templates
      cancel_task
      retry_task
      reset_attempts
      force_complete_task
      force_fail_task
      update_task_metadata
      retry_step
      reset_step
      resolve_step
      update_step_results
      override_dependencies
      operator_actions
      announce_worker
      metrics_text
      health_check
      adoption_report
    ].freeze

    LOAD_LOCK = Mutex.new
    private_constant :LOAD_LOCK
    # lib/: frames under it are the gem's own (ForkError names the first other).
    GEM_DIR = File.expand_path("..", __dir__)
    private_constant :GEM_DIR

    @loaded = false
    @loaded_pid = nil
    @loaded_path = nil

    class << self
      # True once the library is loaded in this process or in a parent we were
      # forked from.
      def loaded?
        @loaded
      end

      # The pid of the process that loaded the library (nil before loading).
      attr_reader :loaded_pid

      # The first caller outside the gem of the call that loaded the library
      # ("config/initializers/tasker.rb:3:in `<main>'"), for ForkError.
      attr_reader :loaded_by

      # "It was loaded by ... . " for error messages ("" when unknown).
      def loaded_by_note
        @loaded_by ? "It was loaded by #{@loaded_by}. " : ""
      end

      # The path the library was loaded from (nil before loading).
      attr_reader :loaded_path

      # Where the library would be loaded from: ENV["TASKER_CORE_LIB"] (must
      # exist), else the repository's build/ folder, else lib/tasker_core/native/.
      # Raises FFIError, saying what was tried, when none exists.
      def library_path
        return @loaded_path if @loaded
        candidates = library_candidates
        found = candidates.find { |path| File.file?(path) }
        return found if found

        env = ENV.fetch("TASKER_CORE_LIB", nil)
        hint = if env && !env.empty?
                 "TASKER_CORE_LIB is set to #{env.inspect}, which is not a file"
               else
                 "build it with `make lib` in the repository (or `rake compile` in ruby/), " \
                   "or set TASKER_CORE_LIB to the library's path"
               end
        raise FFIError.new("Tasker Core native library #{LIBRARY_NAME} not found (looked in: " \
                           "#{candidates.join(', ')}); #{hint}", type: "ffi_error")
      end

      # Loads the library (once per process tree; idempotent). Called by every
      # function below, so users never need to.
      def load!
        if @loaded
          check_pid!
          return true
        end

        LOAD_LOCK.synchronize do
          unless @loaded
            path = library_path
            begin
              ffi_lib path
            rescue LoadError => e
              raise FFIError.new("cannot load the Tasker Core native library #{path}: #{e.message}",
                                 type: "ffi_error")
            end
            attach_all(path)
            @loaded_path = path
            @loaded_pid = Process.pid
            @loaded_by = first_caller_outside_gem
            @loaded = true
            TaskerCore.logger.debug { "tasker_core: loaded #{path} in process #{@loaded_pid}" }
          end
        end
        check_pid!
        true
      end

      # Raises ForkError if the library was loaded by another process (we are a
      # forked child of it): calling into the parent's Go runtime could hang.
      def check_pid!
        return if !@loaded || Process.pid == @loaded_pid

        raise ForkError.new(
          "the Tasker Core native library was loaded in process #{@loaded_pid} before this process " \
          "(#{Process.pid}) was forked; a Go runtime cannot be used across fork. #{loaded_by_note}" \
          "#{ForkError::ADVICE}",
          type: "ffi_error", details: { "loaded_pid" => @loaded_pid, "pid" => Process.pid, "loaded_by" => @loaded_by }
        )
      end

      # tasker_version() → envelope.
      def version
        load!
        take_string(tasker_version)
      end

      # tasker_client_new(config_json) → envelope; config is a Hash or a JSON
      # String (passed as is).
      def client_new(config)
        load!
        with_payload(config) { |ptr| take_string(tasker_client_new(ptr)) }
      end

      # tasker_client_free(handle) → envelope.
      def client_free(handle)
        load!
        take_string(tasker_client_free(handle))
      end

      # tasker_noop(payload) → envelope: the bare cost of a call.
      def noop(payload = "{}")
        load!
        with_payload(payload) { |ptr| take_string(tasker_noop(ptr)) }
      end

      # Calls the operation +name+ (one of OPERATIONS) with a handle and a payload
      # (Hash, JSON String passed as is, or nil for a NULL pointer) → envelope.
      # frozen: true parses the answer frozen throughout (its Strings, Arrays and
      # Hashes), for a caller that builds value objects from it: they keep frozen
      # values as they are instead of copying each String.
      def call(name, handle, payload = {}, frozen: false)
        name = name.to_sym
        raise ArgumentError, "unknown Tasker Core operation #{name.inspect}" unless OPERATIONS.include?(name)

        load!
        with_payload(payload) { |ptr| take_string(send(name, handle, ptr), frozen) }
      end

      # Frees a handle from a finalizer: never raises, and never calls into the
      # library from a process that did not load it. Returns true when freed.
      def release_handle(handle)
        return false unless @loaded && Process.pid == @loaded_pid

        envelope = client_free(handle)
        envelope["ok"] == true
      rescue StandardError
        false
      end

      private

      def first_caller_outside_gem
        loc = caller_locations.find { |l| !l.absolute_path.to_s.start_with?(GEM_DIR) && !l.path.to_s.start_with?("<internal:") }
        loc&.to_s
      end

      def library_candidates
        env = ENV.fetch("TASKER_CORE_LIB", nil)
        return [File.expand_path(env)] if env && !env.empty?

        [
          File.expand_path("../../../build/#{LIBRARY_NAME}", __dir__), # the repository's build/ folder
          File.expand_path("native/#{LIBRARY_NAME}", __dir__) # vendored next to this file
        ]
      end

      # Attaches every function as a private singleton method, so that no caller
      # can skip the fork check, the payload copy or the tasker_free_string.
      def attach_all(path)
        # Lifecycle. tasker_client_new may connect and migrate: blocking as well.
        attach_function :tasker_version, [], :pointer
        attach_function :tasker_client_new, [:pointer], :pointer, blocking: true
        attach_function :tasker_client_free, [:uint64], :pointer, blocking: true
        attach_function :tasker_free_string, [:pointer], :void
        attach_function :tasker_noop, [:pointer], :pointer
        OPERATIONS.each do |name|
          attach_function name, %i[uint64 pointer], :pointer, blocking: true
        rescue FFI::NotFoundError
          # Attach what exists; calling a missing function says so clearly.
          define_singleton_method(name) do |*|
            raise FFIError.new("the Tasker Core native library #{path} has no function #{name}",
                               type: "ffi_error")
          end
        end
        private_class_method(:tasker_version, :tasker_client_new, :tasker_client_free, :tasker_free_string,
                             :tasker_noop, *OPERATIONS)
      end

      # Yields a pointer to a NUL-terminated copy of the payload in native memory
      # (nil → NULL). The copy lives outside Ruby's heap, so the library may read
      # it while the GVL is released; it is freed right after the call.
      def with_payload(payload)
        return yield(FFI::Pointer::NULL) if payload.nil?

        json = payload_json(payload)
        ptr = FFI::MemoryPointer.new(:char, json.bytesize + 1, false)
        begin
          ptr.put_bytes(0, json)
          ptr.put_uint8(json.bytesize, 0)
          yield ptr
        ensure
          ptr.free
        end
      end

      # The payload as JSON text for C. A NUL byte would end the C string early
      # (the library would read only what precedes it), so a String payload holding
      # one is refused, and so is a Hash JSON cannot encode (too deep, NaN...).
      def payload_json(payload)
        json = payload.is_a?(String) ? payload : JSON.generate(payload)
        if json.include?("\0")
          raise ValidationError.new("the payload holds a NUL byte at offset #{json.index("\0")}: a C string would end " \
                                    "there; send U+0000 escaped in JSON (\\u0000) if at all",
                                    details: { "field" => "(payload)", "offset" => json.index("\0") })
        end
        json
      rescue JSON::GeneratorError, JSON::NestingError, SystemStackError => e
        raise ValidationError.new("cannot encode the payload as JSON: #{e.message}", details: { "field" => "(payload)" })
      end

      # Reads, frees and parses a string the library returned.
      def take_string(ptr, frozen = false)
        raise FFIError.new("the Tasker Core native library returned NULL", type: "ffi_error") if ptr.null?

        json = begin
          ptr.read_string.force_encoding(Encoding::UTF_8)
        ensure
          tasker_free_string(ptr)
        end
        parse_envelope(json, frozen)
      end

      def parse_envelope(json, frozen = false)
        envelope = frozen ? JSON.parse(json, max_nesting: false, freeze: true) : JSON.parse(json, max_nesting: false)
        if envelope.is_a?(Hash) && [true, false].include?(envelope["ok"])
          if envelope.key?("logs") || envelope.key?("logs_dropped")
            envelope = envelope.dup if envelope.frozen? # the top level only: its logs are taken out
            NativeLog.deliver(envelope.delete("logs"), envelope.delete("logs_dropped"))
          end
          return envelope
        end

        raise FFIError.new("malformed envelope from the Tasker Core native library: #{json[0, 200].inspect}",
                           type: "ffi_error")
      rescue JSON::ParserError => e
        raise FFIError.new("invalid JSON from the Tasker Core native library (#{e.message[0, 100]}): " \
                           "#{json[0, 200].inspect}", type: "ffi_error")
      end
    end
  end
end
