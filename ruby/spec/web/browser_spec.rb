# frozen_string_literal: true

require "puma"
require "puma/server"
require "puma/events"

# The dashboard in a real browser (headless Chromium through chromedriver):
# the task page of a running workflow — one step failed for good, one still
# running — has a node per step and the critical path marked; retrying the
# failed step from the page (reason, dry-run preview, confirm) makes the
# running worker execute it again, and the page's polling shows it complete.
RSpec.describe "TaskerCore::Web in a browser" do
  include TaskerCoreSpec::WebHelpers
  with_tasker_schema

  # charge fails permanently on its first attempt; slow runs until released.
  before(:context) do
    @release = Queue.new
    release = @release
    charges = Queue.new # one failure to hand out (retry_step resets the attempt count)
    charges << :decline
    %w[BrowserSpecCharge BrowserSpecSlow BrowserSpecShip].each { |n| Object.send(:remove_const, n) if Object.const_defined?(n) }
    Object.const_set(:BrowserSpecCharge, Class.new(TaskerCore::StepHandler::Base) do
      define_method(:call) do |_task, _sequence, _step|
        raise TaskerCore::PermanentError.new("card declined", error_code: "declined") if charges.pop(true) == :decline

        { "charged" => true }
      rescue ThreadError # the queue is empty: the failure was handed out
        { "charged" => true }
      end
    end)
    Object.const_set(:BrowserSpecSlow, Class.new(TaskerCore::StepHandler::Base) do
      define_method(:call) do |_t, _s, _st|
        Timeout.timeout(40) { release.pop }
        { "slow" => "done" }
      end
    end)
    Object.const_set(:BrowserSpecShip, Class.new(TaskerCore::StepHandler::Base) { define_method(:call) { |*| { "shipped" => 1 } } })
  end

  after(:context) do
    %w[BrowserSpecCharge BrowserSpecSlow BrowserSpecShip].each { |n| Object.send(:remove_const, n) if Object.const_defined?(n) }
  end

  around do |example|
    Timeout.timeout(60) { example.run }
  end

  it "shows the live DAG and retries a failed step from the page" do
    name = unique_name("browser")
    TaskerCore.register_task(name: name, namespace: "web", steps: [
                               { name: "validate", handler_class: "BrowserSpecShip" },
                               { name: "charge", handler_class: "BrowserSpecCharge", depends_on: ["validate"], retry_limit: 3 },
                               { name: "slow_report", handler_class: "BrowserSpecSlow", depends_on: ["validate"] },
                               { name: "ship", handler_class: "BrowserSpecShip", depends_on: ["charge"] },
                               { name: "notify", handler_class: "BrowserSpecShip", depends_on: ["ship"] }
                             ])
    task = TaskerCore.create_task(name: name, namespace: "web", client: client)
    runner = Thread.new { TaskerCore.run_task(task, timeout: 50, client: client, concurrency: 3, poll_interval: 0.1) }

    wait = ->(what, &cond) { TaskerCoreSpec::WebDriver.allocate.wait_until(20, what, &cond) }
    wait.call("charge to fail and slow_report to run") do
      steps = client.get_task(task.task_id).steps.to_h { |s| [s.name, s.current_state] }
      steps["charge"] == "error" && steps["slow_report"] == "in_progress"
    end

    app = web_app(poll_interval_ms: 300)
    server = Puma::Server.new(app, Puma::Events.new(File.open(File::NULL, "w"), $stderr), min_threads: 0, max_threads: 4)
    port = server.add_tcp_listener("127.0.0.1", 0).addr[1]
    server.run
    browser = TaskerCoreSpec::WebDriver.new
    begin
      browser.visit("http://127.0.0.1:#{port}/tasks/#{task.task_id}")
      expect(browser.fresh { browser.text(browser.find("#task-state")) }).to eq("in_progress")
      shot = browser.screenshot(File.expand_path("../../../tmp/browser_task_page.png", __dir__))
      expect(File.size(shot)).to be > 10_000

      # Read the graph in one script: the page's polling may swap it between calls.
      nodes = browser.execute(<<~JS)
        return Array.from(document.querySelectorAll("svg.dag g.node")).map(function (n) {
          return { name: n.getAttribute("data-step-name"), state: n.getAttribute("data-state"),
                   critical: n.classList.contains("critical") };
        });
      JS
      expect(nodes.map { |n| n["name"] }).to match_array(%w[validate charge slow_report ship notify])
      critical = nodes.select { |n| n["critical"] }.map { |n| n["name"] }
      expect(critical).to eq(client.analyze_dependencies(task.task_id).critical_path_names)
      expect(browser.execute('return document.querySelectorAll("svg.dag path.edge.critical").length')).to eq(critical.size - 1)
      expect(nodes.find { |n| n["name"] == "charge" }["state"]).to eq("error")
      expect(browser.fresh { browser.text(browser.find("tr[data-step-name='charge'] .reason")) }).to include("failed permanently")

      # Retry with a reason: the dry run's preview, then confirm.
      # Once the reason field holds text the polling leaves the form alone.
      browser.fresh { browser.type(browser.find("tr[data-step-name='charge'] form.op-retry input[name='reason']"), "card fixed by support") }
      browser.fresh { browser.click(browser.find("tr[data-step-name='charge'] form.op-retry button")) }
      browser.wait_until(10, "the preview") { browser.find_all("form.confirm-form").any? }
      expect(browser.execute("return document.body.innerText")).to include("Dry run")
      expect(client.get_task(task.task_id).step("charge").current_state).to eq("error")
      browser.click(browser.find("form.confirm-form button.confirm"))
      browser.wait_until(10, "back on the task page") { browser.current_url.include?("/tasks/#{task.task_id}?notice=") }

      # The running worker picks charge up again; the page's polling shows it done.
      browser.wait_until(20, "charge complete on the page") do
        node = browser.find_all("svg.dag g.node[data-step-name='charge']").first
        node && browser.attribute(node, "data-state") == "complete"
      end
      expect(client.get_task(task.task_id).step("charge").attempts).to eq(1)
      @release << true
      result = runner.value
      expect(result.status).to eq("complete")
      browser.wait_until(10, "the task complete on the page") { browser.text(browser.find("#task-state")) == "complete" }
      browser.screenshot(File.expand_path("../../../tmp/browser_task_complete.png", __dir__))
      actions = client.operator_actions(task_id: task.task_id)
      expect(actions.map { |a| [a.operation, a.reason] }).to eq([["retry_step", "card fixed by support"]])
    ensure
      @release << true
      browser.quit
      server.stop(true)
      runner.join(5)
    end
  end
end
