# frozen_string_literal: true

# The dashboard's HTML routes through Rack: task list with counts, filters and
# pages; the task page with the DAG as SVG; the operator forms' dry run then
# confirmation; health, templates and assets.
RSpec.describe "TaskerCore::Web dashboard" do
  include Rack::Test::Methods
  include TaskerCoreSpec::WebHelpers
  with_tasker_schema

  let(:app) { web_app(page_size: 2, poll_interval_ms: 1500) }
  let(:name) { unique_name("dash") }

  def svg
    last_response.body[%r{<svg.*?</svg>}m]
  end

  describe "GET /" do
    it "lists tasks with counts by state, filters and a link to the next page" do
      tasks = Array.new(3) { client.create_task(diamond_spec(name)) }
      get "/", "name" => name
      expect(last_response.status).to eq(200)
      expect(last_response.content_type).to start_with("text/html")
      body = last_response.body
      expect(body).to include(%(class="count state-pending"))
      expect(body.scan(/class="task-row" data-task-id="(\d+)"/).flatten.map(&:to_i)).to eq([tasks[2].task_id, tasks[1].task_id])
      next_link = body[/<a rel="next" href="([^"]+)"/, 1]
      expect(next_link).to include("cursor=")

      get CGI.unescapeHTML(next_link)
      expect(last_response.body.scan(/class="task-row" data-task-id="(\d+)"/).flatten.map(&:to_i)).to eq([tasks[0].task_id])
      expect(last_response.body).not_to include(%(rel="next"))

      client.transition_task(tasks[0].task_id, "in_progress")
      get "/", "name" => name, "state" => "in_progress"
      expect(last_response.body.scan(/class="task-row" data-task-id="(\d+)"/).flatten.map(&:to_i)).to eq([tasks[0].task_id])
      expect(last_response.body).to include(%(<option value="in_progress" selected>))
    end
  end

  describe "GET /tasks/:task_id" do
    it "draws the DAG as SVG: a node per step, levels as columns, state colours, the critical path and reasons" do
      task = client.create_task(tree_spec(name))
      run_steps(client, task.step_id("root"))
      get "/tasks/#{task.task_id}"
      expect(last_response.status).to eq(200)
      nodes = svg.scan(/<g class="node ([^"]*)" id="step-node-(\d+)"/)
      expect(nodes.map { |_, id| id.to_i }).to match_array(task.step_ids.values)
      analysis = client.analyze_dependencies(task.task_id)
      critical = nodes.select { |classes, _| classes.split.include?("critical") }.map { |_, id| id.to_i }
      expect(critical).to eq(analysis.critical_path)
      expect(svg.scan(/<path class="edge critical"/).size).to eq(analysis.critical_path.size - 1)
      expect(svg.scan(/<path class="edge/).size).to eq(analysis.total_edges)
      expect(svg).to match(/id="step-node-#{task.step_id('root')}".*?fill="#cdeccf"/m) # complete is green
      # Columns by level: the three children share an x, right of the root.
      x_of = ->(id) { svg[/id="step-node-#{id}".*?<rect x="(\d+)"/m, 1].to_i }
      expect(%w[c1 c2 c3].map { |n| x_of.call(task.step_id(n)) }.uniq.size).to eq(1)
      expect(x_of.call(task.step_id("c1"))).to be > x_of.call(task.step_id("root"))
      expect(svg).to include("waiting for c1")
      expect(last_response.body).to include("ready to run")
      expect(last_response.body).to include(%(data-live-url="/tasks/#{task.task_id}/live"))
      expect(last_response.body).to include(%(data-poll-ms="1500"))
    end

    it "shows the audit trail, results and errors, and operator forms fitting each step's state" do
      failing = failed_task
      get "/tasks/#{failing.task_id}"
      body = last_response.body
      expect(body).to include("card declined")
      expect(body).to include("step.failed").or include("step.error")
      row_a = body[%r{<tr id="step-#{failing.step_id('A')}".*?</tr>}m]
      expect(row_a).to include(%(action="/steps/#{failing.step_id('A')}/operations/retry"))
      row_b = body[%r{<tr id="step-#{failing.step_id('B')}".*?</tr>}m]
      expect(row_b).not_to include("operations/retry")
      expect(body).to include(%(action="/tasks/#{failing.task_id}/operations/cancel"))
    end

    it "answers an HTML 404 page for an unknown task" do
      get "/tasks/987654321"
      expect(last_response.status).to eq(404)
      expect(last_response.content_type).to start_with("text/html")
      expect(last_response.body).to include("not_found")
    end
  end

  it "GET /tasks/:task_id/live answers the live part alone (what the page polls)" do
    task = client.create_task(diamond_spec(name))
    get "/tasks/#{task.task_id}/live"
    expect(last_response.status).to eq(200)
    expect(last_response.body).not_to include("<html")
    expect(last_response.body).to include("<svg")
    run_steps(client, task.step_id("A"))
    get "/tasks/#{task.task_id}/live"
    expect(svg).to match(/id="step-node-#{task.step_id('A')}"[^>]*data-state="complete"/)
  end

  describe "operator forms" do
    it "runs a dry run first, shown with a confirmation form, then the operation, then back to the task" do
      failing = failed_task
      get "/tasks/#{failing.task_id}"
      token = last_response.body[/name="authenticity_token" value="(\h+)"/, 1]
      step = failing.step_id("A")
      post "/steps/#{step}/operations/retry", "reason" => "gateway is back", "authenticity_token" => token,
                                              "task_id" => failing.task_id.to_s
      expect(last_response.status).to eq(200)
      expect(last_response.body).to include("Dry run")
      expect(last_response.body).to match(/step A.*error.*pending/m)
      expect(last_response.body).to include(%(name="confirm" value="1"))
      expect(client.get_task(failing.task_id).step("A").current_state).to eq("error")

      confirm = last_response.body[%r{<form class="confirm-form".*?</form>}m]
      fields = confirm.scan(/<input type="hidden" name="([^"]+)" value="([^"]*)">/).to_h { |k, v| [k, CGI.unescapeHTML(v)] }
      expect(fields).to include("reason" => "gateway is back", "confirm" => "1")
      post "/steps/#{step}/operations/retry", fields
      expect(last_response.status).to eq(303)
      expect(last_response.headers["location"]).to start_with("/tasks/#{failing.task_id}?notice=")
      expect(client.get_task(failing.task_id).step("A").current_state).to eq("pending")
      follow_redirect!
      expect(last_response.body).to include("Retry done")
    end

    it "shows a refused operation as an error page with the reason (409)" do
      task = client.create_task(diamond_spec(name))
      get "/tasks/#{task.task_id}"
      token = last_response.body[/name="authenticity_token" value="(\h+)"/, 1]
      post "/steps/#{task.step_id('A')}/operations/retry", "reason" => "not failed", "authenticity_token" => token,
                                                           "task_id" => task.task_id.to_s
      expect(last_response.status).to eq(409)
      expect(last_response.body).to include("state_transition_error")
      post "/steps/#{task.step_id('A')}/operations/explode", "reason" => "x", "authenticity_token" => token
      expect(last_response.status).to eq(404)
    end
  end

  it "GET /health shows counts by state and the analytics" do
    client.create_task(diamond_spec(name))
    get "/health"
    expect(last_response.status).to eq(200)
    expect(last_response.body).to include("Tasks and steps by state")
    expect(last_response.body).to include("health score")
  end

  it "GET /templates lists the registered templates" do
    client.register_templates(yaml: "name: #{name}\nnamespace_name: dash\nversion: 1.0.0\ntask_handler_class: X\n" \
                                    "step_templates:\n  - name: s\n    handler_class: S\n", file: "d.yaml")
    get "/templates"
    expect(last_response.status).to eq(200)
    expect(last_response.body).to include(name)
  end

  it "GET /assets/:file serves the CSS and JavaScript, nothing else" do
    get "/assets/dashboard.css"
    expect(last_response.status).to eq(200)
    expect(last_response.content_type).to start_with("text/css")
    get "/assets/dashboard.js"
    expect(last_response.content_type).to start_with("text/javascript")
    expect(last_response.body).to include("data-live-url")
    get "/assets/..%2F..%2Fweb.rb"
    expect(last_response.status).to eq(404)
  end

  it "builds its links under the mount point (SCRIPT_NAME)" do
    task = client.create_task(diamond_spec(name))
    get "/tasks/#{task.task_id}", {}, "SCRIPT_NAME" => "/admin/tasker"
    expect(last_response.body).to include(%(href="/admin/tasker/assets/dashboard.css"))
    expect(last_response.body).to include(%(data-live-url="/admin/tasker/tasks/#{task.task_id}/live"))
    expect(last_response.headers["set-cookie"]).to include("path=/admin/tasker")
  end
end
