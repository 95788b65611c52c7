# frozen_string_literal: true

require "rbconfig"
require "tempfile"

module TaskerCoreSpec
  # Runs Ruby scripts in a child process with a deadline, so a hang (a Go runtime
  # called across fork, say) fails the example instead of hanging the suite.
  module Subprocess
    LIB = File.expand_path("../../lib", __dir__)
    SUPPORT = __dir__

    # The head of the fork specs' child scripts: the example's database and
    # schema, and wait_child(pid, seconds), which waits for a grandchild and
    # kills it after +seconds+ (exit code 99 = hung, 98 = killed by a signal).
    FORK_PRELUDE = <<~RUBY
      URL = ENV.fetch("TASKER_TEST_DATABASE_URL")
      SCHEMA = ENV.fetch("TASKER_TEST_SCHEMA")
      def wait_child(pid, seconds)
        deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
        loop do
          _, status = Process.wait2(pid, Process::WNOHANG)
          return status.exitstatus || 98 if status
          if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
            Process.kill("KILL", pid)
            Process.wait(pid)
            return 99
          end
          sleep 0.02
        end
      end
    RUBY

    Result = Struct.new(:stdout, :stderr, :status, :timed_out, keyword_init: true) do
      def success?
        !timed_out && status&.success?
      end

      def exitstatus
        status&.exitstatus
      end

      def describe
        "exit=#{status.inspect} timed_out=#{timed_out}\n--- stdout\n#{stdout}\n--- stderr\n#{stderr}"
      end
    end

    # Runs +script+ with `ruby -I lib -r tasker_core` unless require_gem: false.
    # env adds to the child's environment (TASKER_TEST_DATABASE_URL is always set to
    # the test database). Kills the child's process group after +timeout+ seconds.
    def run_ruby(script, timeout: 60, env: {}, require_gem: true)
      file = Tempfile.new(["tasker_core_spec", ".rb"])
      file.write(script)
      file.close
      args = [RbConfig.ruby, "-I", LIB]
      args += ["-r", "tasker_core"] if require_gem
      args << file.path
      child_env = { "TASKER_TEST_DATABASE_URL" => TaskerCoreSpec::Database.url }.merge(env)
      out_r, out_w = IO.pipe
      err_r, err_w = IO.pipe
      pid = Process.spawn(child_env, *args, out: out_w, err: err_w, pgroup: true)
      out_w.close
      err_w.close
      readers = [Thread.new { out_r.read }, Thread.new { err_r.read }]
      status = nil
      timed_out = false
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
      loop do
        _, status = Process.wait2(pid, Process::WNOHANG)
        break if status

        if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
          timed_out = true
          begin
            Process.kill("KILL", -pid) # the child's own process group: it and its forks
          rescue Errno::ESRCH
            nil
          end
          _, status = Process.wait2(pid)
          break
        end
        sleep 0.02
      end
      Result.new(stdout: readers[0].value, stderr: readers[1].value, status: status, timed_out: timed_out)
    ensure
      [out_r, err_r].each { |io| io&.close unless io&.closed? }
      file&.unlink
    end
  end
end
