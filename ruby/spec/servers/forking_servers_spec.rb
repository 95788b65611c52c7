# frozen_string_literal: true

require "json"
require "net/http"
require "rbconfig"
require "socket"
require "tmpdir"

# Puma in cluster mode and Unicorn, both preloading the app (spec/fixtures/servers/config.ru) whose boot
# calls TaskerCore.client.migrate!, register_task and Listener.new in the master before it forks: every
# worker must serve requests that create tasks (no ForkError), the master must never load the library,
# and with execution.mode async (Puma) the workers' own worker threads run the tasks. Real servers on
# 127.0.0.1 and random ports, stopped at the end; every wait is bounded.
RSpec.describe "Forking servers (Puma cluster, Unicorn) with boot-time calls", :integration do
  SERVER_FIXTURES = File.expand_path("../fixtures/servers", __dir__)
  SERVER_BOOT_SECONDS = 60
  SERVER_REQUEST_ROUNDS = 12
  SERVER_CONCURRENT_REQUESTS = 6

  let(:schema) { TaskerCoreSpec::Database.new_schema }

  before do
    TaskerCoreSpec::Database.psql(TaskerCoreSpec::Database.url, "CREATE SCHEMA #{schema}")
  end

  def free_port
    server = TCPServer.new("127.0.0.1", 0)
    server.addr[1]
  ensure
    server&.close
  end

  def monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # Starts the server (its own process group) and waits until it answers. → [pid, port, log path]
  def start_server(argv, env, log)
    port = free_port
    child_env = {
      "PORT" => port.to_s, "RUBYLIB" => TaskerCoreSpec::Subprocess::LIB,
      "TASKER_TEST_DATABASE_URL" => TaskerCoreSpec::Database.url, "TASKER_TEST_SCHEMA" => schema,
      "TASKER_LOGGING_LEVEL" => "info"
    }.merge(env)
    # stderr (the app's and the library's lines, one write each) apart from the server's buffered stdout.
    pid = Process.spawn(child_env, *argv, chdir: SERVER_FIXTURES, out: "#{log}.out", err: log, pgroup: true)
    deadline = monotonic + SERVER_BOOT_SECONDS
    loop do
      begin
        Net::HTTP.get_response(URI("http://127.0.0.1:#{port}/ping"))
        break
      rescue SystemCallError, IOError, Net::ReadTimeout
        raise "server did not answer within #{SERVER_BOOT_SECONDS}s:\n#{File.read(log)}" if monotonic > deadline
        raise "server exited:\n#{File.read(log)}" if Process.wait(pid, Process::WNOHANG)

        sleep 0.1
      end
    end
    [pid, port]
  end

  # TERM, then KILL the group if it has not exited in time. → the exit status
  def stop_server(pid, seconds: 30)
    Process.kill("TERM", pid)
    deadline = monotonic + seconds
    loop do
      _, status = Process.wait2(pid, Process::WNOHANG)
      return status if status

      if monotonic > deadline
        Process.kill("KILL", -pid)
        Process.wait(pid)
        return nil
      end
      sleep 0.05
    end
  rescue Errno::ESRCH, Errno::ECHILD
    nil
  end

  def request(port, method, path)
    http = Net::HTTP.new("127.0.0.1", port)
    http.open_timeout = 5
    http.read_timeout = 30
    response = method == :post ? http.post(path, "") : http.get(path)
    [response.code.to_i, JSON.parse(response.body)]
  end

  # Creates tasks from parallel connections until two worker processes answered
  # (bounded). → the responses
  def create_tasks(port)
    responses = []
    SERVER_REQUEST_ROUNDS.times do
      SERVER_CONCURRENT_REQUESTS.times.map { Thread.new { request(port, :post, "/tasks") } }.each { |t| responses << t.value }
      break if responses.map { |_, body| body["pid"] }.uniq.size >= 2
    end
    responses
  end

  def expect_every_worker_served(responses, log)
    expect(responses.map(&:first).uniq).to eq([201]), responses.inspect + "\n" + File.read(log)
    pids = responses.map { |_, body| body["pid"] }.uniq
    expect(pids.size).to eq(2), "both workers answered: #{pids.inspect}"
    responses.each do |_, body|
      expect(body["loaded_pid"]).to eq(body["pid"]) # each worker loaded the library itself
      expect(body["listener_running"]).to be(true) # built at boot, started after the fork
    end
    boot = File.read(log)[/booted master=(\d+) migrated=(\S+) native_loaded=(\w+)/]
    expect(boot).not_to be_nil, File.read(log)
    master = Regexp.last_match(1).to_i
    expect(Regexp.last_match(2)).to eq("TaskerCore::MigrationResult") # migrate! at boot worked
    expect(Regexp.last_match(3)).to eq("false") # ... without loading the library in the master
    expect(pids).not_to include(master)
    pids
  end

  def wait_complete(port, task_ids, seconds: 60)
    deadline = monotonic + seconds
    pending = task_ids.dup
    until pending.empty? || monotonic > deadline
      pending.reject! do |id|
        _, body = request(port, :get, "/tasks/#{id}")
        body["status"] == "complete"
      end
      sleep 0.1 unless pending.empty?
    end
    pending
  end

  it "Puma cluster mode (2 workers, preload_app!, async worker threads) serves task creation in every worker" do
    Dir.mktmpdir do |dir|
      log = File.join(dir, "puma.log")
      pid, port = start_server(["puma", "-C", "puma.rb", "config.ru"], { "TASKER_EXECUTION_MODE" => "async" }, log)
      begin
        responses = create_tasks(port)
        expect_every_worker_served(responses, log)
        pending = wait_complete(port, responses.map { |_, body| body["task_id"] })
        expect(pending).to be_empty, "tasks the async workers did not complete: #{pending.inspect}\n#{File.read(log)}"
      ensure
        status = stop_server(pid)
      end
      output = File.read(log)
      expect(status).not_to be_nil, "Puma did not stop within its bound:\n#{output}"
      expect(output).not_to include("ForkError")
      # Each worker's async worker stopped cleanly at shutdown.
      expect(output.scan(/TaskerCore::Worker \S+ stopped/).size).to eq(2), output
      # The library's own lines reached TaskerCore.logger (a Ruby Logger) with their level.
      expect(output).to match(/INFO -- tasker_core: \{.*"message":"client opened"/)
    end
  end

  it "Unicorn (2 workers, preload_app true) serves task creation in every worker" do
    Dir.mktmpdir do |dir|
      log = File.join(dir, "unicorn.log")
      pid, port = start_server(["unicorn", "-c", "unicorn.rb", "config.ru"], {}, log)
      begin
        responses = create_tasks(port)
        expect_every_worker_served(responses, log)
        # execution.mode external (the default): nothing runs the tasks in the web workers.
        _, body = request(port, :get, "/tasks/#{responses.first.last['task_id']}")
        expect(body["status"]).to eq("pending")
      ensure
        status = stop_server(pid)
      end
      output = File.read(log)
      expect(status).not_to be_nil, "Unicorn did not stop within its bound:\n#{output}"
      expect(output).not_to include("ForkError")
    end
  end
end
