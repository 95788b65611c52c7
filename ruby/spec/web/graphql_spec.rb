# frozen_string_literal: true

# The GraphQL schema through POST /graphql: every query and every mutation,
# and their errors (typed in extensions, with the REST status).
RSpec.describe "TaskerCore::Web GraphQL" do
  include Rack::Test::Methods
  include TaskerCoreSpec::WebHelpers
  with_tasker_schema

  let(:authorize) { ->(*) { true } }
  let(:app) { web_app(authorize: authorize) }
  let(:name) { unique_name("gql") }

  def gql(query, variables = {})
    post_json "/graphql", "query" => query, "variables" => variables
    expect(last_response.status).to eq(200)
    json_response
  end

  def data(query, variables = {})
    out = gql(query, variables)
    expect(out["errors"]).to be_nil, out["errors"].inspect
    out["data"]
  end

  def error(query, variables = {})
    out = gql(query, variables)
    expect(out["errors"]).not_to be_empty
    out["errors"].first
  end

  describe "queries" do
    let!(:task) { client.create_task(diamond_spec(name, context: { "k" => "v" })) }

    it "task: fields, steps with readiness, execution context, analysis, transitions" do
      run_steps(client, task.step_id("A"), results: { "n" => 1 })
      d = data(<<~GQL, "id" => task.task_id.to_s)
        query($id: ID!) { task(id: $id) {
          id name namespace state context correlationId createdAt
          steps { id name state attempts results dependsOn readiness { reason reasonText readyForExecution } transitions { toState } }
          executionContext
          analysis { totalSteps criticalPathNames maxDepth hasCycles levels }
          transitions { toState event }
          operatorActions
        } }
      GQL
      t = d["task"]
      expect(t).to include("id" => task.task_id.to_s, "name" => name, "state" => "pending", "context" => { "k" => "v" })
      steps = t["steps"].to_h { |s| [s["name"], s] }
      expect(steps["A"]).to include("state" => "complete", "results" => { "n" => 1 }, "attempts" => 1)
      expect(steps["A"]["transitions"].map { |x| x["toState"] }).to eq(%w[pending in_progress complete])
      expect(steps["B"]["readiness"]).to include("reason" => "ready", "readyForExecution" => true)
      expect(steps["D"]["readiness"]["reasonText"]).to eq("waiting for B, C")
      expect(steps["D"]["dependsOn"]).to contain_exactly(task.step_id("B").to_s, task.step_id("C").to_s)
      expect(t["executionContext"]).to include("completed_steps" => 1)
      expect(t["analysis"]).to include("totalSteps" => 4, "maxDepth" => 3, "hasCycles" => false)
      expect(t["analysis"]["criticalPathNames"].first).to eq("A")
      expect(t["transitions"].first).to include("toState" => "pending")
      expect(t["operatorActions"]).to eq([])
    end

    it "tasks: a connection with filters and pageInfo to the next page" do
      more = Array.new(2) { client.create_task(diamond_spec(name)) }
      q = "query($after: String) { tasks(name: \"#{name}\", first: 2, after: $after) { nodes { id state steps { name } } pageInfo { hasNextPage endCursor } } }"
      first = data(q)["tasks"]
      expect(first["nodes"].map { |n| n["id"] }).to eq(more.reverse.map { |t| t.task_id.to_s })
      expect(first["nodes"].first["steps"].size).to eq(4)
      expect(first["pageInfo"]["hasNextPage"]).to be(true)
      rest = data(q, "after" => first["pageInfo"]["endCursor"])["tasks"]
      expect(rest["nodes"].map { |n| n["id"] }).to eq([task.task_id.to_s])
      expect(rest["pageInfo"]).to eq({ "hasNextPage" => false, "endCursor" => nil })
      asc = data("{ tasks(name: \"#{name}\", sort: \"created_asc\", state: [\"pending\"]) { nodes { id } } }")
      expect(asc["tasks"]["nodes"].first["id"]).to eq(task.task_id.to_s)
    end

    it "step, readiness, analysis and health" do
      d = data(<<~GQL, "t" => task.task_id.to_s, "s" => task.step_id("D").to_s)
        query($t: ID!, $s: ID!) {
          step(taskId: $t, id: $s) { id name state readiness { reason reasonDetail } }
          readiness(taskId: $t) { stepId name reason }
          analysis(taskId: $t) { totalEdges criticalPath }
          health { totalTasks pendingTasks maxConnections }
        }
      GQL
      expect(d["step"]).to include("name" => "D", "state" => "pending")
      expect(d["step"]["readiness"]["reasonDetail"]["unmet"]).to contain_exactly("B", "C")
      expect(d["readiness"].map { |r| r["reason"] }).to eq(%w[ready dependencies_unmet dependencies_unmet dependencies_unmet])
      expect(d["analysis"]["totalEdges"]).to eq(4)
      expect(d["analysis"]["criticalPath"].size).to eq(3)
      expect(d["health"]["totalTasks"]).to be >= 1
    end

    it "answers errors typed in extensions: not found, validation, a step of another task" do
      e = error('{ task(id: "987654321") { id } }')
      expect(e["extensions"]).to include("type" => "not_found", "status" => 404)
      e = error('{ task(id: "abc") { id } }')
      expect(e["extensions"]).to include("type" => "validation_error", "status" => 422)
      e = error('{ tasks(first: 0) { nodes { id } } }')
      expect(e["extensions"]["details"]).to eq({ "field" => "limit", "max" => 500 })
      other = client.create_task(diamond_spec)
      e = error("{ step(taskId: \"#{task.task_id}\", id: \"#{other.step_id('A')}\") { id } }")
      expect(e["extensions"]["type"]).to eq("not_found")
      e = error("{ task { id } }")
      expect(e["message"]).to include("id")
      e = error("{ nope }")
      expect(e["message"]).to include("nope")
    end
  end

  describe "mutations" do
    let!(:failing) { failed_task(retry_limit: 3) }
    let(:task_id) { failing.task_id.to_s }
    let(:step_a) { failing.step_id("A").to_s }
    let(:step_b) { failing.step_id("B").to_s }

    def mutate(field, args)
      data("mutation { r: #{field}(#{args}) { operation dryRun result } }")["r"]
    end

    it "has one mutation per operator operation" do
      fields = TaskerCore::Web::GraphQL::MutationType.fields.keys
      expect(fields).to match_array(TaskerCore::Web::Operation::ALL.map { |op| op.method_name.to_s.gsub(/_(\w)/) { Regexp.last_match(1).upcase } })
    end

    it "retryStep: dry run, then for real" do
      r = mutate("retryStep", "stepId: \"#{step_a}\", reason: \"gateway back\", dryRun: true")
      expect(r).to include("operation" => "retry_step", "dryRun" => true)
      expect(r["result"]["steps"].first["after"]["state"]).to eq("pending")
      expect(client.get_task(failing.task_id).step("A").current_state).to eq("error")
      r = mutate("retryStep", "stepId: \"#{step_a}\", reason: \"gateway back\", idempotencyKey: \"gql-#{step_a}\"")
      expect(r["result"]).to include("actor" => "web", "reason" => "gateway back")
      expect(client.get_task(failing.task_id).step("A").current_state).to eq("pending")
    end

    it "retryTask, resetAttempts, forceCompleteTask, forceFailTask (dry), updateTaskMetadata, cancelTask" do
      expect(mutate("retryTask", "taskId: \"#{task_id}\", reason: \"r\", dryRun: true")["result"]["dry_run"]).to be(true)
      r = mutate("resetAttempts", "taskId: \"#{task_id}\", reason: \"r\", retryLimit: 7, stepIds: [\"#{step_a}\"]")
      expect(r["result"]["steps"].first["after"]).to include("attempts" => 0, "retry_limit" => 7)
      expect(mutate("forceCompleteTask", "taskId: \"#{task_id}\", reason: \"r\", dryRun: true")["result"]["task_state_after"]).to eq("complete")
      expect(mutate("forceFailTask", "taskId: \"#{task_id}\", reason: \"r\", dryRun: true")["result"]["dry_run"]).to be(true)
      mutate("updateTaskMetadata", "taskId: \"#{task_id}\", reason: \"r\", tags: {team: \"gql\"}")
      expect(client.get_task(failing.task_id).tags).to include("team" => "gql")
      mutate("cancelTask", "taskId: \"#{task_id}\", reason: \"stop\"")
      expect(client.get_task(failing.task_id).state).to eq("cancelled")
    end

    it "resetStep, resolveStep, updateStepResults, overrideDependencies" do
      expect(mutate("resetStep", "stepId: \"#{step_a}\", reason: \"r\", descendants: true, dryRun: true")["dryRun"]).to be(true)
      mutate("resolveStep", "stepId: \"#{step_a}\", reason: \"by hand\", results: {charge: \"manual\"}")
      expect(client.get_task(failing.task_id).step("A").results).to eq({ "charge" => "manual" })
      mutate("updateStepResults", "stepId: \"#{step_a}\", reason: \"fix\", results: {charge: \"fixed\"}")
      expect(client.get_task(failing.task_id).step("A").results).to eq({ "charge" => "fixed" })
      other = client.create_task(diamond_spec)
      mutate("overrideDependencies", "stepId: \"#{other.step_id('D')}\", reason: \"r\", remove: [\"#{other.step_id('C')}\"]")
      expect(client.get_task(other.task_id).step("D").depends_on).to eq([other.step_id("B")])
    end

    it "answers typed errors: conflict, cycle, missing reason, unknown id" do
      e = error("mutation { retryStep(stepId: \"#{step_b}\", reason: \"pending\") { dryRun } }")
      expect(e["extensions"]).to include("type" => "state_transition_error", "status" => 409)
      other = client.create_task(diamond_spec)
      e = error("mutation { overrideDependencies(stepId: \"#{other.step_id('A')}\", reason: \"c\", add: [\"#{other.step_id('D')}\"]) { dryRun } }")
      expect(e["extensions"]).to include("type" => "cycle_error", "status" => 422)
      e = error("mutation { retryStep(stepId: \"#{step_a}\", reason: \"  \") { dryRun } }")
      expect(e["extensions"]["details"]).to eq({ "field" => "reason" })
      e = error("mutation { retryStep(stepId: \"#{step_a}\") { dryRun } }")
      expect(e["message"]).to include("reason")
      e = error("mutation { retryStep(stepId: \"987654321\", reason: \"x\") { dryRun } }")
      expect(e["extensions"]["status"]).to eq(404)
      expect(client.get_task(failing.task_id).step("A").current_state).to eq("error")
    end

    context "with an authorizer that refuses" do
      let(:authorize) { ->(_actor, action, _target) { action != "retry_step" } }

      it "answers permission_denied (403) and writes nothing" do
        e = error("mutation { retryStep(stepId: \"#{step_a}\", reason: \"x\") { dryRun } }")
        expect(e["extensions"]).to include("type" => "permission_denied", "status" => 403)
        expect(client.get_task(failing.task_id).step("A").current_state).to eq("error")
        expect(client.operator_actions(task_id: failing.task_id)).to be_empty
      end
    end
  end

  it "refuses GET (405) and a body without a query (422)" do
    get "/graphql", "query" => "{ health { totalTasks } }"
    expect(last_response.status).to eq(405)
    post_json "/graphql", "variables" => {}
    expect(last_response.status).to eq(422)
    post_json "/graphql", "query" => "{ health { totalTasks } }", "variables" => "[1]"
    expect(last_response.status).to eq(422)
  end

  it "offers the types to an app's own schema, reading the client from the context" do
    app_query = Class.new(GraphQL::Schema::Object) do
      graphql_name "AppQuery"
      field :tasker_health, TaskerCore::Web::GraphQL::HealthType, null: false
      define_method(:tasker_health) { TaskerCore::Web::GraphQL.client(context).system_health }
    end
    schema = Class.new(GraphQL::Schema) { query app_query }
    result = schema.execute("{ taskerHealth { totalTasks } }", context: TaskerCore::Web::GraphQL.context(client: client))
    expect(result["data"]["taskerHealth"]["totalTasks"]).to eq(client.system_health.total_tasks)
  end
end
