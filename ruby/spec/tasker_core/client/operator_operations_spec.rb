# frozen_string_literal: true

require "stringio"

RSpec.describe TaskerCore::Client::OperatorOperations do
  with_tasker_schema

  after do
    TaskerCore.configure do |c|
      c.authorize = nil
      c.default_actor = nil
    end
  end

  def chain
    client.create_task(name: unique_name("ops"), steps: [{ name: "a" }, { name: "b", depends_on: ["a"] },
                                                         { name: "c", depends_on: ["b"] }])
  end

  def state_of(task, name)
    client.step_readiness(task.task_id, step_ids: [task.step_id(name)]).first.current_state
  end

  it "gives the Client every operation with reason:, actor:, dry_run: and idempotency_key:" do
    %i[cancel_task retry_task reset_attempts force_complete_task force_fail_task update_task_metadata retry_step
       reset_step resolve_step update_step_results override_dependencies].each do |name|
      keywords = TaskerCore::Client.instance_method(name).parameters.select { |kind, _| %i[key keyreq].include?(kind) }.map(&:last)
      expect(keywords).to include(:reason, :actor, :dry_run, :idempotency_key), name.to_s
      expect(TaskerCore::Client.instance_method(name).parameters).to include(%i[keyreq reason]), name.to_s
    end
    expect(TaskerCore::Client.instance_method(:operator_actions).parameters).to include(%i[keyreq task_id])
  end

  it "returns what changed as value objects, with ids as Integers or numeric Strings" do
    task = chain
    result = client.cancel_task(task.task_id.to_s, reason: "duplicate order", actor: "ops")
    expect(result).to be_a(TaskerCore::OperatorResult).and be_frozen
    expect(result.operation).to eq("cancel_task")
    expect(result.task_id).to eq(task.task_id)
    expect(result.task_state_after).to eq("cancelled")
    expect(result.steps.map(&:name)).to eq(%w[a b c])
    expect(result.steps).to all(be_a(TaskerCore::OperatorStepChange))
    expect(result.transitions.map(&:to_state)).to eq(%w[cancelled cancelled cancelled cancelled])
    expect(result.transitions.last).to have_attributes(kind: "task", id: task.task_id, event: "task.cancelled")
    expect(result.events.last["payload"]).to include("actor" => "ops", "reason" => "duplicate order")
    actions = client.operator_actions(task_id: task.task_id.to_s)
    expect(actions.map(&:class)).to eq([TaskerCore::OperatorAction])
    expect(actions.first).to have_attributes(action_id: result.action_id, actor: "ops", reason: "duplicate order",
                                             operation: "cancel_task", target_type: "task")
    expect(actions.first.after_state["task"]).to eq("cancelled")
  end

  it "raises typed errors: unknown ids, bad ids, missing reason or actor, illegal states, cycles" do
    task = chain
    expect { client.retry_task(987_654_321, reason: "r", actor: "a") }.to raise_error(TaskerCore::NotFoundError)
    expect { client.retry_step("12x", reason: "r", actor: "a") }
      .to raise_error(TaskerCore::ValidationError) { |e| expect(e.details["field"]).to eq("step_id") }
    expect { client.cancel_task(task.task_id, reason: " ", actor: "a") }
      .to raise_error(TaskerCore::ValidationError) { |e| expect(e.details["field"]).to eq("reason") }
    expect { client.cancel_task(task.task_id, reason: "r") }
      .to raise_error(TaskerCore::ValidationError) { |e| expect(e.details["field"]).to eq("actor") }
    expect { client.retry_task(task.task_id, reason: "r", actor: "a") }.to raise_error(TaskerCore::StateTransitionError)
    expect do
      client.override_dependencies(task.step_id("a"), add: [task.step_id("c")], reason: "r", actor: "a")
    end.to raise_error(TaskerCore::DependencyCycleError) { |e| expect(e.details["cycle"]).to eq(%w[a b c]) }

    client.claim_steps(worker_id: "w1", task_id: task.task_id)
    expect { client.resolve_step(task.step_id("a"), reason: "r", actor: "a") }
      .to raise_error(TaskerCore::StateTransitionError) { |e| expect(e.details).to include("conflict" => true, "claimed_by" => "w1") }
    expect(client.operator_actions(task_id: task.task_id)).to be_empty
  end

  it "takes the default actor of TaskerCore.configure" do
    TaskerCore.configure { |c| c.default_actor = "cron" }
    task = chain
    expect(client.update_task_metadata(task.task_id, tags: { "sev" => 2 }, reason: "triage").actor).to eq("cron")
  end

  describe "the authorize hook" do
    it "is asked before each operation and a refusal raises PermissionDeniedError, writes nothing and is logged" do
      task = chain
      asked = []
      TaskerCore.configure do |c|
        c.authorize = lambda do |actor, action, target|
          asked << [actor, action, target]
          actor == "lead"
        end
      end
      log = StringIO.new
      saved = TaskerCore.logger
      TaskerCore.logger = Logger.new(log)
      begin
        expect { client.force_complete_task(task.task_id, reason: "r", actor: "intern") }
          .to raise_error(TaskerCore::PermissionDeniedError) { |e|
            expect(e.details).to include("actor" => "intern", "action" => "force_complete_task", "target_id" => task.task_id)
            expect(e.type).to eq("permission_denied")
          }
        expect { client.reset_step(task.step_id("a"), reason: "r", actor: "intern", dry_run: true) }
          .to raise_error(TaskerCore::PermissionDeniedError)
      ensure
        TaskerCore.logger = saved
      end
      expect(log.string).to include("operator action refused").and include("intern")
      expect(state_of(task, "a")).to eq("pending")
      expect(asked).to eq([["intern", :force_complete_task, { type: :task, task_id: task.task_id }],
                           ["intern", :reset_step, { type: :step, step_id: task.step_id("a") }]])

      expect(client.force_complete_task(task.task_id, reason: "r", actor: "lead").task_state_after).to eq("complete")
      expect(client.operator_actions(task_id: task.task_id, actor: "lead").map(&:actor)).to eq(["lead"])
      expect { client.operator_actions(task_id: task.task_id, actor: "intern") }.to raise_error(TaskerCore::PermissionDeniedError)
    end

    it "may refuse by raising PermissionDeniedError with its own message" do
      TaskerCore.configure do |c|
        c.authorize = ->(_actor, _action, _target) { raise TaskerCore::PermissionDeniedError, "change freeze until Monday" }
      end
      task = chain
      expect { client.cancel_task(task.task_id, reason: "r", actor: "lead") }
        .to raise_error(TaskerCore::PermissionDeniedError, "change freeze until Monday")
      expect(state_of(task, "a")).to eq("pending")
    end

    it "must be callable" do
      expect { TaskerCore.configure { |c| c.authorize = "yes" } }.to raise_error(ArgumentError, /call/)
    end
  end
end
