# frozen_string_literal: true

# Authentication hook, authorizers (the web's and the client's), CSRF on the
# dashboard's forms, JSON-only mutating API routes, escaping and headers.
RSpec.describe "TaskerCore::Web security" do
  include Rack::Test::Methods
  include TaskerCoreSpec::WebHelpers
  with_tasker_schema

  let(:options) { {} }
  let(:app) { web_app(**options) }
  let!(:failing) { failed_task }
  let(:step_id) { failing.step_id("A") }

  def step_state
    client.get_task(failing.task_id).step("A").current_state
  end

  # The dashboard's CSRF cookie and a form's token, from a GET of the task page.
  def csrf_token
    get "/tasks/#{failing.task_id}"
    expect(last_response.status).to eq(200)
    last_response.body[/name="authenticity_token" value="(\h+)"/, 1]
  end

  describe "authentication hook" do
    let(:options) { { authenticate: ->(env) { env["HTTP_X_USER"] } } }

    it "answers 401 to JSON and HTML routes when the hook returns nil" do
      %w[/api/tasks / /health /openapi.json].each do |path|
        get path
        expect(last_response.status).to eq(401), path
      end
      post_json "/api/steps/#{step_id}/retry", "reason" => "x"
      expect(last_response.status).to eq(401)
      expect(step_state).to eq("error")
    end

    it "lets the actor in and records it on operator actions" do
      header "X-User", "alice@example.com"
      get "/"
      expect(last_response.status).to eq(200)
      expect(last_response.body).to include("signed in as alice@example.com")
      post_json "/api/steps/#{step_id}/retry", "reason" => "on call"
      expect(last_response.status).to eq(200)
      expect(client.operator_actions(task_id: failing.task_id).map(&:actor)).to eq(["alice@example.com"])
    end
  end

  describe "authorizer on every mutating route" do
    let(:asked) { [] }
    let(:options) { { authorize: ->(actor, action, target) { asked << [actor, action, target]; false } } }

    it "answers 403 to every operator route, writes nothing, and tells the hook what was asked" do
      TaskerCore::Web::Operation::ALL.each do |op|
        path = op.target == :task ? "/api/tasks/#{failing.task_id}/#{op.name}" : "/api/steps/#{step_id}/#{op.name}"
        post_json path, "reason" => "try"
        expect(last_response.status).to eq(403), path
        expect(json_response["error"]["type"]).to eq("permission_denied")
      end
      expect(asked.map { |a| a[1] }).to eq(TaskerCore::Web::Operation::ALL.map { |op| op.method_name.to_s })
      expect(asked.first).to eq(["web", "cancel_task", { type: "task", id: failing.task_id }])
      expect(step_state).to eq("error")
      expect(client.operator_actions(task_id: failing.task_id)).to be_empty
    end

    it "refuses the dashboard's forms too (403 page)" do
      token = csrf_token
      post "/steps/#{step_id}/operations/retry", "reason" => "x", "authenticity_token" => token, "confirm" => "1",
                                                 "task_id" => failing.task_id.to_s
      expect(last_response.status).to eq(403)
      expect(last_response.body).to include("may not retry_step")
      expect(step_state).to eq("error")
    end
  end

  it "refuses operator actions when no authorizer is configured" do
    plain = TaskerCore::Web.new(client: client)
    response = Rack::MockRequest.new(plain).post("/api/steps/#{step_id}/retry", "CONTENT_TYPE" => "application/json",
                                                                                 input: JSON.generate("reason" => "x"))
    expect(response.status).to eq(403)
    expect(JSON.parse(response.body)["error"]["message"]).to include("authorize hook")
    expect(step_state).to eq("error")
  end

  it "answers 403 when the client's own authorizer (TaskerCore.configure) refuses" do
    TaskerCore.configure { |c| c.authorize = ->(_actor, action, _target) { action != :retry_step } }
    post_json "/api/steps/#{step_id}/retry", "reason" => "x"
    expect(last_response.status).to eq(403)
    expect(json_response["error"]["type"]).to eq("permission_denied")
    expect(step_state).to eq("error")
  ensure
    TaskerCore.configure { |c| c.authorize = nil }
  end

  describe "CSRF on the dashboard's forms" do
    it "refuses a form without a token, with a wrong one, or from another Origin; accepts the page's own" do
      token = csrf_token
      form = { "reason" => "retry it", "task_id" => failing.task_id.to_s, "confirm" => "1" }
      post "/steps/#{step_id}/operations/retry", form
      expect(last_response.status).to eq(403)
      expect(last_response.body).to include("CSRF")
      post "/steps/#{step_id}/operations/retry", form.merge("authenticity_token" => "0" * 64)
      expect(last_response.status).to eq(403)
      post "/steps/#{step_id}/operations/retry", form.merge("authenticity_token" => token), "HTTP_ORIGIN" => "https://evil.example"
      expect(last_response.status).to eq(403)
      expect(step_state).to eq("error")

      post "/steps/#{step_id}/operations/retry", form.merge("authenticity_token" => token), "HTTP_ORIGIN" => "http://example.org"
      expect(last_response.status).to eq(303)
      expect(step_state).to eq("pending")
    end

    it "sets the token cookie HttpOnly and SameSite=Strict" do
      get "/"
      cookie = last_response.headers["set-cookie"]
      expect(cookie).to include("tasker_web_csrf=")
      expect(cookie).to match(/httponly/i)
      expect(cookie).to match(/samesite=strict/i)
    end

    it "refuses a JSON route's POST that is not JSON (what a cross-site form can send)" do
      %w[application/x-www-form-urlencoded text/plain multipart/form-data].each do |type|
        post "/api/steps/#{step_id}/retry", "reason=x", "CONTENT_TYPE" => type
        expect(last_response.status).to eq(403), type
        expect(json_response["error"]["type"]).to eq("csrf_refused")
      end
      post "/graphql", "query=mutation{retryStep(stepId:\"#{step_id}\",reason:\"x\"){dryRun}}",
           "CONTENT_TYPE" => "application/x-www-form-urlencoded"
      expect(last_response.status).to eq(403)
      expect(step_state).to eq("error")
    end
  end

  it "has no operator route reachable with GET, JSON or HTML" do
    paths = TaskerCore::Web::Operation::ALL.flat_map do |op|
      id = op.target == :task ? failing.task_id : step_id
      base = op.target == :task ? "tasks" : "steps"
      ["/api/#{base}/#{id}/#{op.name}", "/#{base}/#{id}/operations/#{op.name}"]
    end
    (paths + ["/graphql"]).each do |path|
      get path, "reason" => "x", "confirm" => "1"
      expect(last_response.status).to eq(405), path
    end
    expect(TaskerCore::Web.routes.select(&:mutating?).map(&:verb).uniq).to eq(["POST"])
    expect(step_state).to eq("error")
  end

  describe "escaping" do
    let(:evil) { %(<script>alert("x")</script>) }
    let!(:evil_task) do
      t = client.create_task(name: "evil", namespace: "web", context: { "note" => evil },
                             steps: [{ name: evil }, { name: "after", depends_on: [evil] }])
      run_steps(client, t.step_id(evil), results: { "html" => evil, evil => 1 })
      t
    end

    it "shows step names, results and context as text on the task page, its live part and the list" do
      ["/tasks/#{evil_task.task_id}", "/tasks/#{evil_task.task_id}/live", "/?namespace=web",
       "/tasks/#{evil_task.task_id}?notice=#{CGI.escape(evil)}"].each do |path|
        get path
        expect(last_response.status).to eq(200), path
        expect(last_response.body).not_to include("<script>alert"), path
      end
      get "/tasks/#{evil_task.task_id}"
      expect(last_response.body).to include(Rack::Utils.escape_html(evil))
      svg = last_response.body[%r{<svg.*?</svg>}m]
      expect(svg).to include(%(data-step-name="#{Rack::Utils.escape_html(evil)}"))
      expect(svg).not_to include("<script")
    end

    it "keeps it as data in JSON, served as JSON with nosniff" do
      get "/api/tasks/#{evil_task.task_id}"
      expect(last_response.content_type).to start_with("application/json")
      expect(last_response.headers["x-content-type-options"]).to eq("nosniff")
      expect(json_response["task"]["steps"].first["name"]).to eq(evil)
    end

    it "escapes an error's message on the error page" do
      get "/tasks/#{CGI.escape(evil)}"
      expect(last_response.status).to eq(422)
      expect(last_response.body).not_to include("<script>alert")
    end
  end

  it "sends a Content-Security-Policy without inline scripts" do
    get "/"
    csp = last_response.headers["content-security-policy"]
    expect(csp).to include("script-src 'self'")
    expect(csp).not_to include("unsafe-inline")
    expect(last_response.body).not_to match(/<script>(?!<)/)
  end
end
