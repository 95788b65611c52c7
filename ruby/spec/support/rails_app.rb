# frozen_string_literal: true

require "fileutils"
require "rbconfig"
require "securerandom"
require "tmpdir"
require "uri"

module TaskerCoreSpec
  # The Rails app of the Rails specs (spec/rails/): spec/rails_app copied to a
  # scratch directory, with throwaway databases tasker_rails_test_<pid>_<hex>_dev
  # and _test on the test server (created by db:create, dropped after the
  # suite). Rails is never loaded into the rspec process: every command is a
  # child process (bin/rails, puma, unicorn, ruby scripts) with a deadline, and
  # sees no DATABASE_URL and no TASKER_* variables — the app's database.yml
  # is all Tasker Core is given.
  class RailsApp
    SOURCE = File.expand_path("../rails_app", __dir__)
    GEM_LIB = File.expand_path("../../lib", __dir__)
    # Variables of the rspec process the app must not see.
    HIDDEN_ENV = /\A(TASKER_|DATABASE_URL\z|RAILS_ENV\z|RACK_ENV\z|BUNDLE_)/.freeze

    @lock = Mutex.new
    @apps = []

    class << self
      # The app shared by the Rails specs, installed (generator, db:create,
      # db:migrate) on first use.
      def shared
        @lock.synchronize { @shared ||= track(new).tap(&:install!) }
      end

      # A fresh copy with databases of its own (not installed).
      def fresh
        @lock.synchronize { track(new) }
      end

      def cleanup!
        apps = @lock.synchronize { @apps.dup.tap { @apps.clear; @shared = nil } }
        apps.each(&:destroy!)
      end

      private

      def track(app)
        @apps << app
        app
      end
    end

    attr_reader :dir, :database

    def initialize
      @dir = Dir.mktmpdir("tasker_rails_app")
      FileUtils.cp_r(File.join(SOURCE, "."), @dir)
      @database = "tasker_rails_test_#{Process.pid}_#{SecureRandom.hex(3)}"
      @memo = {}
      @memo_lock = Mutex.new
    end

    # Runs the generator, db:create and db:migrate (development), then
    # db:test:prepare; raises with the output when one fails.
    def install!
      rails!("generate", "tasker_core:install")
      rails!("db:create", "db:migrate", "db:test:prepare")
      self
    end

    # Runs a block once per app (say, a setup several specs share).
    def once(key)
      @memo_lock.synchronize { @memo.key?(key) ? @memo[key] : (@memo[key] = yield) }
    end

    def path(*parts)
      File.join(dir, *parts)
    end

    def read(*parts)
      File.read(path(*parts))
    end

    # The child's environment: the test server's host, port and user for
    # database.yml, the gem under test, nothing of the rspec process's Tasker
    # Core or Rails variables.
    def env(extra = {})
      server = URI.parse(Database.server_url)
      hidden = ENV.keys.grep(HIDDEN_ENV).to_h { |key| [key, nil] }
      hidden.merge("TASKER_CORE_GEM_LIB" => GEM_LIB, "TASKER_RAILS_DB" => database,
                   "TASKER_RAILS_DB_HOST" => server.host || "127.0.0.1",
                   "TASKER_RAILS_DB_PORT" => (server.port || 5432).to_s,
                   "TASKER_RAILS_DB_USER" => URI.decode_www_form_component(server.user || "postgres"),
                   "TASKER_RAILS_DB_PASSWORD" => URI.decode_www_form_component(server.password.to_s))
            .merge(extra)
    end

    # bin/rails +args+ in the app. → Subprocess::Result
    def rails(*args, env: {}, timeout: 120)
      run([RbConfig.ruby, "bin/rails", *args], env: env, timeout: timeout)
    end

    # As #rails; raises with the output unless it succeeds.
    def rails!(*args, **options)
      result = rails(*args, **options)
      raise "bin/rails #{args.join(' ')} failed in #{dir}\n#{result.describe}" unless result.success?

      result
    end

    # Runs a Ruby script in the app's test environment (config/environment
    # loaded first). → Subprocess::Result
    def script(code, env: {}, timeout: 120)
      file = path("tmp", "spec_script_#{SecureRandom.hex(4)}.rb")
      FileUtils.mkdir_p(File.dirname(file))
      File.write(file, "require_relative \"../config/environment\"\n#{code}")
      run([RbConfig.ruby, file], env: { "RAILS_ENV" => "test" }.merge(env), timeout: timeout)
    end

    # Runs +argv+ in the app's directory with a deadline (the child's process
    # group is killed after +timeout+ seconds). → Subprocess::Result
    def run(argv, env: {}, timeout: 120)
      out_r, out_w = IO.pipe
      err_r, err_w = IO.pipe
      pid = Process.spawn(self.env(env), *argv, chdir: dir, out: out_w, err: err_w, in: File::NULL, pgroup: true)
      out_w.close
      err_w.close
      readers = [Thread.new { out_r.read }, Thread.new { err_r.read }]
      status = wait(pid, timeout)
      Subprocess::Result.new(stdout: readers[0].value, stderr: readers[1].value, status: status, timed_out: status.nil?)
    ensure
      [out_r, err_r].each { |io| io&.close unless io&.closed? }
    end

    # Starts +argv+ in the background (a server, a worker) with its output in
    # files under tmp/. → pid (the leader of its own process group)
    def spawn(argv, env: {}, name: "process")
      FileUtils.mkdir_p(path("tmp"))
      out = path("tmp", "#{name}.out")
      err = path("tmp", "#{name}.err")
      Process.spawn(self.env(env), *argv, chdir: dir, out: out, err: err, in: File::NULL, pgroup: true)
    end

    # Sends +signal+ to +pid+'s process group and waits up to +timeout+
    # seconds. → the Process::Status, or nil when it had to be KILLed
    def stop(pid, signal: "TERM", timeout: 30)
      begin
        Process.kill(signal, -pid)
      rescue Errno::ESRCH
        nil
      end
      wait(pid, timeout)
    end

    # Drops the app's databases and removes its directory.
    def destroy!
      %w[dev test].each do |suffix|
        Database.psql(Database.server_url, "DROP DATABASE IF EXISTS #{database}_#{suffix} WITH (FORCE)")
      end
      FileUtils.rm_rf(dir)
    rescue StandardError => e
      warn "tasker_core spec: could not remove the Rails app #{dir} (#{database}_*): #{e.message}"
    end

    private

    # → the Process::Status, or nil (after KILLing the group) when +pid+ did
    # not exit within +timeout+ seconds.
    def wait(pid, timeout)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
      loop do
        _, status = Process.wait2(pid, Process::WNOHANG)
        return status if status

        if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
          begin
            Process.kill("KILL", -pid)
          rescue Errno::ESRCH
            nil
          end
          Process.wait2(pid)
          return nil
        end
        sleep 0.05
      end
    end
  end
end

RSpec.configure do |config|
  config.after(:suite) { TaskerCoreSpec::RailsApp.cleanup! }
end
