# frozen_string_literal: true

# Every JSON route of TaskerCore::Web through Rack (rack-test): statuses, JSON
# shapes, pagination and errors, against a real database.
RSpec.describe "TaskerCore::Web REST API" do
  include Rack::Test::Methods
  include TaskerCoreSpec::WebHelpers
  with_tasker_schema

  let(:app) { web_app }
  let(:name) { unique_name("rest") }
  let!(:task) { client.create_task(diamond_spec(name, context: { "order" => 7 })) }

  describe "GET /api/tasks" do
    it "lists tasks newest first with a cursor, next_url and filters" do
      older = client.create_task(diamond_spec(name))
      newest = client.create_task(diamond_spec(name))
      get "/api/tasks", "name" => name, "limit" => "2"
      expect(last_response.status).to eq(200)
      expect(last_response.content_type).to start_with("application/json")
      body = json_response
      expect(body.keys).to include("tasks", "next_cursor", "limit", "sort", "next_url")
      expect(body["tasks"].map { |t| t["task_id"] }).to eq([newest.task_id, older.task_id])
      expect(body["tasks"].first.keys).to include("task_id", "namespace", "name", "version", "state", "created_at", "correlation_id")
      expect(body["next_url"]).to include("cursor=")

      get "/api/tasks", "name" => name, "limit" => "2", "cursor" => body["next_cursor"]
      expect(json_response["tasks"].map { |t| t["task_id"] }).to eq([task.task_id])
      expect(json_response["next_cursor"]).to be_nil
      expect(json_response["next_url"]).to be_nil

      client.transition_task(older.task_id, "in_progress")
      get "/api/tasks", "name" => name, "state" => "in_progress,error"
      expect(json_response["tasks"].map { |t| t["task_id"] }).to eq([older.task_id])
      get "/api/tasks", "name" => name, "sort" => "created_asc", "created_from" => (Time.now - 3600).utc.iso8601
      expect(json_response["tasks"].map { |t| t["task_id"] }).to eq([task.task_id, older.task_id, newest.task_id])
    end

    it "answers 422 with the field for a bad limit, state, time or cursor" do
      { { "limit" => "abc" } => "limit", { "limit" => "0" } => "limit", { "state" => "running" } => "states",
        { "created_from" => "yesterday" } => "created_from", { "cursor" => "nope!" } => "cursor" }.each do |query, field|
        get "/api/tasks", query
        expect(last_response.status).to eq(422), query.inspect
        expect(json_response["error"]).to include("type" => "validation_error")
        expect(json_response["error"]["details"]["field"]).to eq(field)
      end
    end
  end

  describe "GET /api/tasks/:task_id" do
    it "answers the task with its steps, each with readiness and reason, the execution context and the analysis" do
      run_steps(client, task.step_id("A"), results: { "total" => 3 })
      get "/api/tasks/#{task.task_id}"
      expect(last_response.status).to eq(200)
      body = json_response
      expect(body["task"]).to include("task_id" => task.task_id, "name" => name, "context" => { "order" => 7 })
      steps = body["task"]["steps"].to_h { |s| [s["name"], s] }
      expect(steps.keys).to eq(%w[A B C D])
      expect(steps["A"]["results"]).to eq({ "total" => 3 })
      expect(steps["B"]["readiness"]).to include("reason" => "ready")
      expect(steps["D"]["readiness"]).to include("reason" => "dependencies_unmet")
      expect(steps["D"]["readiness"]["reason_detail"]["unmet"]).to contain_exactly("B", "C")
      expect(body["execution_context"]).to include("task_id" => task.task_id, "completed_steps" => 1)
      expect(body["analysis"]["critical_path"].size).to eq(3)
    end

    it "answers 404 for an unknown task and 422 for an id that is not one" do
      get "/api/tasks/987654321"
      expect(last_response.status).to eq(404)
      expect(json_response["error"]).to include("type" => "not_found")
      get "/api/tasks/abc"
      expect(last_response.status).to eq(422)
      expect(json_response["error"]["details"]).to eq({ "field" => "task_id" })
    end
  end

  it "GET /api/tasks/:task_id/steps answers every step with readiness" do
    get "/api/tasks/#{task.task_id}/steps"
    expect(last_response.status).to eq(200)
    expect(json_response["steps"].map { |s| [s["name"], s["readiness"]["reason"]] })
      .to eq([%w[A ready], %w[B dependencies_unmet], %w[C dependencies_unmet], %w[D dependencies_unmet]])
  end

  it "GET /api/tasks/:task_id/steps/:step_id answers the step with its error and transitions; 404 for another task's step" do
    failing = failed_task
    step_id = failing.step_id("A")
    get "/api/tasks/#{failing.task_id}/steps/#{step_id}"
    expect(last_response.status).to eq(200)
    step = json_response["step"]
    expect(step).to include("name" => "A", "current_state" => "error")
    expect(step["error"]).to include("message" => "card declined")
    expect(step["readiness"]["reason"]).to eq("retries_exhausted")
    expect(step["transitions"].map { |t| t["to_state"] }).to eq(%w[pending in_progress error])

    get "/api/tasks/#{task.task_id}/steps/#{step_id}"
    expect(last_response.status).to eq(404)
  end

  it "GET /api/tasks/:task_id/readiness answers the readiness rows" do
    get "/api/tasks/#{task.task_id}/readiness"
    expect(last_response.status).to eq(200)
    expect(json_response["steps"].map { |r| r["reason"] }).to eq(%w[ready dependencies_unmet dependencies_unmet dependencies_unmet])
  end

  it "GET /api/tasks/:task_id/transitions answers the task's audit trail and each step's" do
    get "/api/tasks/#{task.task_id}/transitions"
    expect(last_response.status).to eq(200)
    expect(json_response["transitions"].first).to include("to_state" => "pending", "event" => "task.initialize_requested")
    expect(json_response["steps"].keys).to contain_exactly(*%w[A B C D].map { |n| task.step_id(n).to_s })
  end

  it "GET /api/tasks/:task_id/analysis answers the DAG analysis" do
    get "/api/tasks/#{task.task_id}/analysis"
    expect(last_response.status).to eq(200)
    expect(json_response).to include("total_steps" => 4, "total_edges" => 4, "max_depth" => 3, "has_cycles" => false)
    expect(json_response["critical_path_names"].first).to eq("A")
  end

  it "GET /api/tasks/:task_id/operator_actions answers the operator actions" do
    post_json "/api/tasks/#{task.task_id}/metadata", "reason" => "annotate", "tags" => { "team" => "web" }
    get "/api/tasks/#{task.task_id}/operator_actions"
    expect(last_response.status).to eq(200)
    expect(json_response["actions"].map { |a| a["operation"] }).to eq(["update_task_metadata"])
    expect(json_response["actions"].first).to include("actor" => "web", "reason" => "annotate")
  end

  it "GET /api/steps/:step_id/transitions answers the step's audit trail; 404 for an unknown step" do
    get "/api/steps/#{task.step_id('A')}/transitions"
    expect(last_response.status).to eq(200)
    expect(json_response["transitions"].map { |t| t["to_state"] }).to eq(["pending"])
    get "/api/steps/987654321/transitions"
    expect(last_response.status).to eq(404)
    expect(json_response["error"]["type"]).to eq("not_found")
  end

  describe "templates" do
    before(:context) do
      @tpl_name = "web_tpl_#{SecureRandom.hex(3)}"
      @tasker_client.register_templates(yaml: <<~YAML, file: "web.yaml")
        name: #{@tpl_name}
        namespace_name: webtpl
        version: 2.0.0
        task_handler_class: WebTpl
        step_templates:
          - name: only
            handler_class: Only
      YAML
    end

    it "GET /api/templates lists them (of a namespace)" do
      get "/api/templates", "namespace" => "webtpl"
      expect(last_response.status).to eq(200)
      expect(json_response["templates"].map { |t| t["name"] }).to include(@tpl_name)
      get "/api/templates", "limit" => "x"
      expect(last_response.status).to eq(422)
    end

    it "GET /api/templates/:namespace/:name/:version answers one, 404 for an unknown one" do
      get "/api/templates/webtpl/#{@tpl_name}/2.0.0"
      expect(last_response.status).to eq(200)
      expect(json_response["template"]).to include("name" => @tpl_name)
      get "/api/templates/webtpl/#{@tpl_name}/9.9.9"
      expect(last_response.status).to eq(404)
    end
  end

  it "GET /api/health answers the counts by state" do
    get "/api/health"
    expect(last_response.status).to eq(200)
    expect(json_response["health"]).to include("total_tasks", "pending_tasks", "error_steps", "max_connections")
    expect(json_response["health"]["total_tasks"]).to be >= 1
  end

  it "GET /api/analytics answers metrics and the slowest tasks and steps; 422 for a bad since" do
    get "/api/analytics", "since" => (Time.now - 3600).utc.iso8601
    expect(last_response.status).to eq(200)
    expect(json_response.keys).to contain_exactly("analytics", "slowest_tasks", "slowest_steps")
    expect(json_response["analytics"]).to include("completion_rate", "analysis_period_start")
    get "/api/analytics", "since" => "last week"
    expect(last_response.status).to eq(422)
  end

  it "answers 404 JSON for an unknown route" do
    get "/api/nothing"
    expect(last_response.status).to eq(404)
    expect(json_response["error"]["type"]).to eq("not_found")
  end

  describe "operator routes (POST)" do
    it "POST /api/steps/:step_id/retry retries a failed step; a dry run writes nothing" do
      failing = failed_task
      step = failing.step_id("A")
      post_json "/api/steps/#{step}/retry", "reason" => "gateway back", "dry_run" => true
      expect(last_response.status).to eq(200)
      expect(json_response).to include("operation" => "retry_step", "dry_run" => true)
      expect(json_response["result"]["steps"].first["after"]["state"]).to eq("pending")
      expect(client.get_task(failing.task_id).step("A").current_state).to eq("error")

      post_json "/api/steps/#{step}/retry", "reason" => "gateway back", "idempotency_key" => "k-#{step}"
      expect(last_response.status).to eq(200)
      expect(json_response["result"]).to include("operation" => "retry_step", "actor" => "web", "reason" => "gateway back")
      expect(client.get_task(failing.task_id).step("A").current_state).to eq("pending")
    end

    it "answers 422 without a reason, 409 for an illegal transition, 404 for an unknown id, 422 for unknown fields" do
      post_json "/api/steps/#{task.step_id('A')}/retry", {}
      expect(last_response.status).to eq(422)
      expect(json_response["error"]["details"]["field"]).to eq("reason")

      post_json "/api/steps/#{task.step_id('A')}/retry", "reason" => "not failed"
      expect(last_response.status).to eq(409)
      expect(json_response["error"]["type"]).to eq("state_transition_error")

      post_json "/api/steps/987654321/retry", "reason" => "x"
      expect(last_response.status).to eq(404)

      post_json "/api/steps/#{task.step_id('A')}/retry", "reason" => "x", "force" => true
      expect(last_response.status).to eq(422)
      expect(json_response["error"]["details"]["field"]).to eq("force")

      post "/api/steps/#{task.step_id('A')}/retry", "[1]", "CONTENT_TYPE" => "application/json"
      expect(last_response.status).to eq(422)
    end

    it "POST /api/tasks/:task_id/cancel cancels the task and its steps (409 the second time)" do
      post_json "/api/tasks/#{task.task_id}/cancel", "reason" => "duplicate order"
      expect(last_response.status).to eq(200)
      expect(json_response["result"]["task_state_after"]).to eq("cancelled")
      expect(client.get_task(task.task_id).steps.map(&:current_state).uniq).to eq(["cancelled"])
      post_json "/api/tasks/#{task.task_id}/cancel", "reason" => "again"
      expect(last_response.status).to eq(409)
    end

    it "POST /api/tasks/:task_id/retry sends the failed steps that may run again back to pending" do
      failing = failed_task(retry_limit: 3)
      post_json "/api/tasks/#{failing.task_id}/retry", "reason" => "all again"
      expect(last_response.status).to eq(200)
      expect(client.get_task(failing.task_id).step("A").current_state).to eq("pending")
    end

    it "POST /api/tasks/:task_id/reset_attempts takes step_ids and retry_limit" do
      failing = failed_task
      post_json "/api/tasks/#{failing.task_id}/reset_attempts", "reason" => "more budget", "retry_limit" => 5,
                                                                 "step_ids" => [failing.step_id("A")]
      expect(last_response.status).to eq(200)
      a = client.get_task(failing.task_id).step("A")
      expect([a.attempts, a.retry_limit]).to eq([0, 5])
      post_json "/api/tasks/#{failing.task_id}/reset_attempts", "reason" => "x", "retry_limit" => "many"
      expect(last_response.status).to eq(422)
      expect(json_response["error"]["details"]["field"]).to eq("retry_limit")
    end

    it "POST /api/tasks/:task_id/force_complete and /force_fail (dry runs) answer what would change" do
      post_json "/api/tasks/#{task.task_id}/force_complete", "reason" => "done by hand", "dry_run" => true
      expect(last_response.status).to eq(200)
      expect(json_response["result"]).to include("dry_run" => true, "task_state_after" => "complete")
      post_json "/api/tasks/#{task.task_id}/force_fail", "reason" => "give up", "dry_run" => "true"
      expect(last_response.status).to eq(200)
      expect(json_response["result"]).to include("dry_run" => true, "task_state_after" => "error")
      expect(client.get_task(task.task_id).state).to eq("pending")
    end

    it "POST /api/tasks/:task_id/metadata merges tags" do
      post_json "/api/tasks/#{task.task_id}/metadata", "reason" => "tag it", "tags" => { "priority" => "vip" }
      expect(last_response.status).to eq(200)
      expect(client.get_task(task.task_id).tags).to include("priority" => "vip")
    end

    it "POST /api/steps/:step_id/reset (with descendants), /resolve, /results and /dependencies" do
      failing = failed_task
      post_json "/api/steps/#{failing.step_id('A')}/reset", "reason" => "rewind", "descendants" => true, "dry_run" => true
      expect(last_response.status).to eq(200)
      expect(json_response["result"]["dry_run"]).to be(true)

      post_json "/api/steps/#{failing.step_id('A')}/resolve", "reason" => "charged by phone", "results" => { "charge" => "manual" }
      expect(last_response.status).to eq(200)
      expect(client.get_task(failing.task_id).step("A").current_state).to eq("resolved_manually")

      post_json "/api/steps/#{failing.step_id('A')}/results", "reason" => "fix", "results" => { "charge" => "fixed" }
      expect(last_response.status).to eq(200)
      expect(client.get_task(failing.task_id).step("A").results).to eq({ "charge" => "fixed" })

      post_json "/api/steps/#{task.step_id('D')}/dependencies", "reason" => "C is not needed", "remove" => [task.step_id("C")]
      expect(last_response.status).to eq(200)
      expect(client.get_task(task.task_id).step("D").depends_on).to eq([task.step_id("B")])
      post_json "/api/steps/#{task.step_id('A')}/dependencies", "reason" => "cycle", "add" => [task.step_id("D")]
      expect(last_response.status).to eq(422)
      expect(json_response["error"]["type"]).to eq("cycle_error")
    end

    it "are not reachable with GET (405, Allow: POST), for every operation" do
      TaskerCore::Web::Operation::ALL.each do |op|
        path = op.target == :task ? "/api/tasks/#{task.task_id}/#{op.name}" : "/api/steps/#{task.step_id('A')}/#{op.name}"
        get path
        expect(last_response.status).to eq(405), path
        expect(last_response.headers["allow"]).to eq("POST")
      end
      expect(client.get_task(task.task_id).state).to eq("pending")
    end
  end
end
