# frozen_string_literal: true

require "json"
require "net/http"
require "socket"

# Forking servers that preload the app, with a boot-time call into Tasker Core
# (config/initializers/spec_boot_call.rb: TaskerCore.client.migrate!), serve
# requests that create tasks from every worker (issue 13, point 6). A Go
# runtime does not survive fork: this needs the gem's fork-safe boot (the
# library never left loaded in the preloading master).
# SPEC_BOOT_CALL=0 runs the same servers without the boot-time call: the
# baseline, which passes without that mechanism.
RSpec.describe "Tasker Core under forking servers that preload the app" do
  let(:app) { TaskerCoreSpec::RailsApp.shared }

  def free_port
    server = TCPServer.new("127.0.0.1", 0)
    server.addr[1]
  ensure
    server&.close
  end

  def wait_for_port(port, pid, timeout: 90)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
    loop do
      TCPSocket.new("127.0.0.1", port).close
      return true
    rescue SystemCallError
      return false if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
      return false if Process.wait2(pid, Process::WNOHANG)

      sleep 0.2
    end
  end

  # POSTs /tasks, two at a time, until both workers answered and at least
  # six tasks were created, or +timeout+ seconds passed (a worker still booting
  # under load answers later; requests one at a time can all land on the
  # worker that accepts first). → [[status, body], ...]
  def create_tasks(port, timeout: 60, max: 400)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
    responses = []
    pids = []
    while responses.size < max && Process.clock_gettime(Process::CLOCK_MONOTONIC) < deadline
      responses.concat(Array.new(2) { Thread.new { post_task(port) } }.map(&:value))
      pids = responses.map { |_, body| (JSON.parse(body)["pid"] rescue nil) }.compact.uniq # rubocop:disable Style/RescueModifier
      break if pids.size >= 2 && responses.size >= 6
    end
    responses
  end

  def post_task(port)
    http = Net::HTTP.new("127.0.0.1", port)
    http.read_timeout = 30
    request = Net::HTTP::Post.new("/tasks", "Content-Type" => "application/json", "Connection" => "close")
    request.body = JSON.generate(context: { name: "Fork" })
    response = http.request(request)
    [response.code, response.body]
  end

  def serve(name, argv)
    port = free_port
    pid = app.spawn(argv, name: name, env: { "RAILS_ENV" => "test", "RACK_ENV" => "test", "SPEC_PORT" => port.to_s,
                                             "SPEC_BOOT_CALL" => ENV.fetch("SPEC_BOOT_CALL", "1") })
    begin
      up = wait_for_port(port, pid)
      logs = -> { "#{File.read(app.path("tmp/#{name}.out"))}\n#{File.read(app.path("tmp/#{name}.err"))}"[-6000..] }
      expect(up).to be(true), "#{name} did not start\n#{logs.call}"
      responses = create_tasks(port)
      failed = responses.reject { |code, _| code == "201" }
      errors = failed.first(2).map { |code, body| [code, ((JSON.parse(body)["exception"] rescue body) || body).to_s[0, 500]] } # rubocop:disable Style/RescueModifier
      expect(failed).to be_empty, "#{failed.size} of #{responses.size} requests failed: #{errors.inspect}\n#{logs.call}"
      pids = responses.map { |_, body| JSON.parse(body)["pid"] }.uniq
      expect(pids.size).to eq(2), "requests were served by #{pids.inspect} (not both workers)"
      expect(pids).not_to include(pid)
    ensure
      app.stop(pid, signal: "TERM", timeout: 30)
    end
  end

  it "Puma in cluster mode (2 workers, preload_app!) serves task creation from both workers" do
    serve("puma", ["puma", "-C", "config/puma_cluster.rb", "config.ru"])
  end

  it "Unicorn (2 workers, preload_app true) serves task creation from both workers" do
    serve("unicorn", ["unicorn", "-c", "config/unicorn.rb", "-E", "test", "config.ru"])
  end
end
