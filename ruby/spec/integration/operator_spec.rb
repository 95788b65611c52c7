# frozen_string_literal: true

# The operator API end to end, with real handlers run by the worker: an
# exhausted step repaired by retry_step, a failed step fixed by resolve_step
# whose results its children read, and a task cancelled while a handler runs,
# whose late report is refused.
module OperatorSpecHandlers
  # Whether the payment gateway is up (the specs flip it).
  @gateway_up = false
  # The cancellation spec's handler announces itself here and waits for a release.
  STARTED = Queue.new
  RELEASE = Queue.new

  class << self
    attr_accessor :gateway_up
  end

  class Validate < TaskerCore::StepHandler::Base
    def call(task, _sequence, _step)
      { "total_cents" => task.context["total_cents"] }
    end
  end

  class Charge < TaskerCore::StepHandler::Base
    def call(_task, sequence, _step)
      raise TaskerCore::PermanentError.new("card declined", error_code: "DECLINED") if sequence["validate"]["total_cents"].zero?
      raise "gateway down" unless OperatorSpecHandlers.gateway_up

      { "charge_id" => "ch_#{sequence['validate']['total_cents']}" }
    end
  end

  class Ship < TaskerCore::StepHandler::Base
    def call(_task, sequence, _step)
      { "shipped_with" => sequence["charge"]["charge_id"] }
    end
  end

  class Slow < TaskerCore::StepHandler::Base
    def call(_task, _sequence, step)
      STARTED << step.step_id
      RELEASE.pop
      { "late" => true }
    end
  end
end

RSpec.describe "Operator API", :integration do
  with_tasker_schema(retry_policy: { strategy: "exponential", base_seconds: 0.05, multiplier: 2, cap_seconds: 1,
                                     jitter: 0 })

  let(:namespace) { "operator_spec" }
  let(:name) { unique_name("checkout") }

  before do
    OperatorSpecHandlers.gateway_up = false
    TaskerCore.register_task(name: name, namespace: namespace, version: "1.0.0", steps: [
                               { name: "validate", handler_class: "OperatorSpecHandlers::Validate" },
                               { name: "charge", handler_class: "OperatorSpecHandlers::Charge", depends_on: ["validate"],
                                 retry_limit: 1 },
                               { name: "ship", handler_class: "OperatorSpecHandlers::Ship", depends_on: ["charge"] }
                             ])
  end

  def checkout(total_cents)
    TaskerCore.create_task(name: name, namespace: namespace, version: "1.0.0", client: client,
                           context: { "total_cents" => total_cents })
  end

  def run(task)
    TaskerCore.run_task(task, timeout: 30, client: client, concurrency: 2)
  end

  it "repairs an exhausted step with retry_step, and the workflow completes" do
    task = checkout(4599)
    expect(run(task).status).to eq("error")
    charge = task.step_id("charge")
    expect(client.step_readiness(task.task_id, step_ids: [charge]).first.reason).to eq(:retries_exhausted)

    OperatorSpecHandlers.gateway_up = true
    result = client.retry_step(charge.to_s, reason: "gateway is back (INC-7)", actor: "oncall")
    expect(result).to be_a(TaskerCore::OperatorResult)
    expect(result.task_state_before).to eq("error")
    expect(result.task_state_after).to eq("pending")
    expect(result.step(charge).before["attempts"]).to eq(1)
    expect(result.step(charge).after).to include("state" => "pending", "attempts" => 0)
    expect(result.event_names).to include("step.retry_requested", "task.retry_requested", "operator.step_retried")

    final = run(task)
    expect(final).to be_complete
    expect(final.step("ship").state).to eq("complete")
    trail = client.step_transitions(charge)
    retry_row = trail.find { |t| t.from_state == "error" && t.to_state == "pending" }
    expect(retry_row.metadata).to include("actor" => "oncall", "reason" => "gateway is back (INC-7)",
                                          "action_id" => result.action_id, "operation" => "retry_step")
    expect(client.operator_actions(task_id: task.task_id).map(&:operation)).to eq(["retry_step"])
  end

  it "fixes a failed step with resolve_step; its children read the operator's results" do
    task = checkout(0) # charge fails permanently
    expect(run(task).status).to eq("error")
    charge = task.step_id("charge")

    preview = client.resolve_step(charge, results: { "charge_id" => "manual-42" }, reason: "charged by phone",
                                          actor: "support", dry_run: true)
    expect(preview).to be_dry_run
    expect(preview.step(charge).after["state"]).to eq("resolved_manually")
    expect(client.step_readiness(task.task_id, step_ids: [charge]).first.current_state).to eq("error")
    expect(client.operator_actions(task_id: task.task_id)).to be_empty

    result = client.resolve_step(charge, results: { "charge_id" => "manual-42" }, reason: "charged by phone",
                                         actor: "support", idempotency_key: "INC-8-resolve")
    expect(result.step(charge).after["results"]).to eq("charge_id" => "manual-42")
    again = client.resolve_step(charge, results: { "charge_id" => "other" }, reason: "charged by phone",
                                        actor: "support", idempotency_key: "INC-8-resolve")
    expect(again).to be_replayed
    expect(again.action_id).to eq(result.action_id)

    final = run(task)
    expect(final).to be_complete
    ship_results = step_results(task.step_id("ship"))
    expect(ship_results).to eq("shipped_with" => "manual-42")
  end

  it "cancels a task mid-flight: the running handler's late report is refused" do
    slow_name = unique_name("slow")
    TaskerCore.register_task(name: slow_name, namespace: namespace, version: "1.0.0", steps: [
                               { name: "slow", handler_class: "OperatorSpecHandlers::Slow" },
                               { name: "after", handler_class: "OperatorSpecHandlers::Validate", depends_on: ["slow"] }
                             ])
    task = TaskerCore.create_task(name: slow_name, namespace: namespace, version: "1.0.0", client: client,
                                  context: { "total_cents" => 1 })
    worker = TaskerCore::Worker.new(client: client, task_id: task.task_id, concurrency: 1, poll_interval: 0.02,
                                    shutdown_timeout: 10)
    thread = Thread.new { worker.run(until: -> { worker.stats[:rejected].positive? }, install_signal_traps: false) }
    step_id = Timeout.timeout(15) { OperatorSpecHandlers::STARTED.pop }
    expect(step_id).to eq(task.step_id("slow"))

    result = client.cancel_task(task.task_id, reason: "customer cancelled the order", actor: "support")
    expect(result.task_state_after).to eq("cancelled")
    expect(result.step(step_id).before).to include("state" => "in_progress")
    expect(result.step(step_id).after).to include("state" => "cancelled")
    expect(result.event_names).to eq(%w[step.cancelled step.cancelled task.cancelled operator.task_cancelled])

    OperatorSpecHandlers::RELEASE << :go
    stats = Timeout.timeout(20) { thread.value }
    expect(stats[:rejected]).to eq(1)
    expect(stats[:completed]).to eq(0)
    expect(client.step_transitions(step_id).map(&:to_state)).to eq(%w[pending in_progress cancelled])
    expect(step_results(step_id)).to be_nil
    expect(client.task_execution_context(task.task_id).status).to eq("cancelled")
  end

  def step_results(step_id)
    json = TaskerCoreSpec::Database.psql(TaskerCoreSpec::Database.url,
                                         "SELECT COALESCE(results::text, 'null') FROM #{tasker_schema}.tasker_workflow_steps " \
                                         "WHERE workflow_step_id = #{Integer(step_id)}")
    JSON.parse(json)
  end
end
