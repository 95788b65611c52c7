# frozen_string_literal: true

require "net/http"

# TaskerCore::Web as a plain Rack app: ruby/examples/web.ru under Debian's
# puma and under rackup, in processes of their own, answering the dashboard,
# the JSON API and HTTP basic authentication.
RSpec.describe "TaskerCore::Web as a plain Rack app" do
  include TaskerCoreSpec::WebHelpers
  with_tasker_schema

  let(:ru) { File.expand_path("../../examples/web.ru", __dir__) }

  def serve(command, env)
    port = TaskerCoreSpec::WebDriver.free_port
    pid = Process.spawn(env.merge("DATABASE_URL" => TaskerCoreSpec::Database.url, "TASKER_WEB_SCHEMA" => tasker_schema),
                        *command.call(port), out: File::NULL, err: File::NULL, pgroup: true)
    TaskerCoreSpec::WebDriver.allocate.wait_until(30, "#{command.call(port).first} to answer") do
      Net::HTTP.get_response(URI("http://127.0.0.1:#{port}/api/health")).code.to_i.positive?
    end
    yield port
  ensure
    if pid
      begin
        Process.kill("TERM", -pid)
      rescue SystemCallError
        nil
      end
      Process.wait(pid)
    end
  end

  let!(:task) { client.create_task(diamond_spec) }

  {
    "puma" => ->(port) { ["puma", "-q", "-t", "0:2", "-b", "tcp://127.0.0.1:#{port}", File.expand_path("../../examples/web.ru", __dir__)] },
    "rackup" => ->(port) { ["rackup", "-s", "puma", "-o", "127.0.0.1", "-p", port.to_s, File.expand_path("../../examples/web.ru", __dir__)] }
  }.each do |server, command|
    it "serves the dashboard and the API under #{server}" do
      serve(command, {}) do |port|
        page = Net::HTTP.get_response(URI("http://127.0.0.1:#{port}/tasks/#{task.task_id}"))
        expect(page.code).to eq("200")
        expect(page.body.scan(/<g class="node/).size).to eq(4)
        api = Net::HTTP.get_response(URI("http://127.0.0.1:#{port}/api/tasks/#{task.task_id}"))
        expect(JSON.parse(api.body)["task"]["task_id"]).to eq(task.task_id)
        # No authorizer without credentials: read-only.
        http = Net::HTTP.new("127.0.0.1", port)
        refused = http.post("/api/tasks/#{task.task_id}/cancel", JSON.generate("reason" => "x"), "Content-Type" => "application/json")
        expect(refused.code).to eq("403")
      end
    end
  end

  it "asks for HTTP basic credentials when TASKER_WEB_USER/PASSWORD are set, and lets that user act" do
    serve(->(port) { ["puma", "-q", "-t", "0:2", "-b", "tcp://127.0.0.1:#{port}", ru] },
          { "TASKER_WEB_USER" => "ops", "TASKER_WEB_PASSWORD" => "s3cret" }) do |port|
      http = Net::HTTP.new("127.0.0.1", port)
      anonymous = http.get("/")
      expect(anonymous.code).to eq("401")
      expect(anonymous["www-authenticate"]).to include("Basic")
      req = Net::HTTP::Post.new("/api/tasks/#{task.task_id}/cancel", "Content-Type" => "application/json")
      req.basic_auth("ops", "s3cret")
      req.body = JSON.generate("reason" => "from rackup spec")
      expect(http.request(req).code).to eq("200")
      expect(client.get_task(task.task_id).state).to eq("cancelled")
      expect(client.operator_actions(task_id: task.task_id).map(&:actor)).to eq(["ops"])
    end
  end
end
