# frozen_string_literal: true

require "io/wait"
require "json"

module TaskerCore
  class Client
    # Runs one library call in a short-lived child process, for the calls an
    # application makes at boot (Client#migrate!, #register_templates) before
    # a forking server (Puma cluster mode, Unicorn) forks its workers: the
    # child loads the library, opens a client, makes the call, sends the
    # envelope back through a pipe and exits without running at_exit handlers
    # (exit!), so the parent never starts a Go runtime and stays safe to fork.
    #
    # The child's own log lines go to its copy of TaskerCore.logger (the same
    # file descriptors as the parent's). Its work is bounded by the library's
    # timeouts (database.pool.acquire_timeout_ms, api.call_timeout_ms);
    # DEADLINE_SECONDS only stops a child that hangs nevertheless.
    module BootCall
      # Longest wait for the child's answer before it is killed (TimeoutError).
      DEADLINE_SECONDS = 600

      class << self
        # Opens a client with +config_json+, calls +operation+ with
        # +payload_json+ in a child process. → the call's envelope (a Hash)
        def run(config_json, operation, payload_json)
          unless Process.respond_to?(:fork)
            raise FFIError.new("#{operation} at boot needs fork(), which this Ruby lacks", type: "ffi_error")
          end

          reader, writer = IO.pipe
          pid = fork { child(reader, writer, config_json, operation, payload_json) }
          writer.close
          answer(pid, reader, operation)
        ensure
          reader&.close unless reader&.closed?
          writer&.close unless writer&.closed?
        end

        private

        def child(reader, writer, config_json, operation, payload_json)
          reader.close
          envelope = begin
            opened = Native.client_new(config_json)
            if opened["ok"]
              handle = opened["data"]["handle"]
              begin
                Native.call(operation, handle, payload_json)
              ensure
                Native.client_free(handle)
              end
            else
              opened
            end
          rescue Exception => e # rubocop:disable Lint/RescueException -- the parent must get an answer
            { "ok" => false, "error" => { "type" => e.respond_to?(:type) ? e.type : "ffi_error",
                                          "message" => "#{e.class}: #{e.message}", "details" => {} } }
          end
          writer.write(JSON.generate(envelope))
          writer.close
        ensure
          exit!(0)
        end

        def answer(pid, reader, operation)
          deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + DEADLINE_SECONDS
          out = +""
          loop do
            left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
            if left <= 0 || !reader.wait_readable(left)
              kill(pid)
              raise TimeoutError.new("#{operation} in a boot-time child process (#{pid}) did not answer within " \
                                     "#{DEADLINE_SECONDS}s; it was killed", type: "timeout_error")
            end
            chunk = reader.read_nonblock(65_536, exception: false)
            break if chunk.nil?

            out << chunk unless chunk == :wait_readable
          end
          _, status = Process.wait2(pid)
          parse(out, status, operation, pid)
        end

        def parse(out, status, operation, pid)
          envelope = out.empty? ? nil : JSON.parse(out, max_nesting: false)
          return envelope if envelope.is_a?(Hash) && [true, false].include?(envelope["ok"])

          raise FFIError.new("#{operation} in a boot-time child process (#{pid}) gave no answer (#{status.inspect})",
                             type: "ffi_error")
        rescue JSON::ParserError => e
          raise FFIError.new("#{operation} in a boot-time child process (#{pid}) answered garbage: #{e.message[0, 100]}",
                             type: "ffi_error")
        end

        def kill(pid)
          Process.kill("KILL", pid)
          Process.wait(pid)
        rescue Errno::ESRCH, Errno::ECHILD
          nil
        end
      end
    end
  end
end
