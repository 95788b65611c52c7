# frozen_string_literal: true

# Bad input thrown at every public method of TaskerCore::Client: wrong types,
# nil, U+0000, deep nesting, huge numbers and unknown ids are each a
# TaskerCore::Error subclass whose message names the field (or the unknown id) —
# never a NoMethodError, a SystemStackError, a database_error or a silently cut
# string. A public method without cases here fails the suite.
module TaskerCoreSpec
  # The bad values and the cases of bad_input_spec.rb.
  module BadInput
    HUGE = 2**70
    UNKNOWN = 987_654_321
    NUL = "bad\0value"
    LONG = "x" * 300

    # 10,000 levels of nesting (built without recursion), and a Hash that holds itself.
    def deep
      (1..10_000).reduce({}) { |inner, _| { "a" => inner } }
    end

    def cyclic
      { "me" => nil }.tap { |h| h["me"] = h }
    end

    # method => [[what, ->(client, task) { call }, message pattern]]
    CASES = {
      create_task: [
        ["nil spec", ->(c, _) { c.create_task(nil) }, /spec/],
        ["name of a wrong type", ->(c, _) { c.create_task(name: 5, steps: [{ name: "a" }]) }, /name/],
        ["nil name", ->(c, _) { c.create_task(name: nil, steps: [{ name: "a" }]) }, /name/],
        ["steps not an array", ->(c, _) { c.create_task(name: "x", steps: "a") }, /steps/],
        ["NUL in the name", ->(c, _) { c.create_task(name: NUL, steps: [{ name: "a" }]) }, /name/],
        ["NUL in the context", ->(c, _) { c.create_task(name: "x", steps: [{ name: "a" }], context: { "s" => NUL }) }, /context\.s/],
        ["NUL in a context key", ->(c, _) { c.create_task(name: "x", steps: [{ name: "a" }], context: { NUL => 1 }) }, /context\.bad/],
        ["a deep context", ->(c, _) { c.create_task(name: "x", steps: [{ name: "a" }], context: deep) }, /context\.a/],
        ["a cyclic context", ->(c, _) { c.create_task(name: "x", steps: [{ name: "a" }], context: cyclic) }, /context\.me/],
        ["a huge priority", ->(c, _) { c.create_task(name: "x", steps: [{ name: "a" }], priority: HUGE) }, /priority/],
        ["a name too long", ->(c, _) { c.create_task(name: LONG, steps: [{ name: "a" }]) }, /name/],
        ["NaN in the context", ->(c, _) { c.create_task(name: "x", steps: [{ name: "a" }], context: { "n" => Float::NAN }) }, /context\.n/],
        ["a bad requested_at", ->(c, _) { c.create_task(name: "x", steps: [{ name: "a" }], requested_at: "tomorrow") }, /requested_at/],
        ["a malformed traceparent", ->(c, _) { c.create_task(name: "x", steps: [{ name: "a" }], traceparent: "00-nope") }, /traceparent/]
      ],
      task_execution_context: [
        ["nil id", ->(c, _) { c.task_execution_context(nil) }, /task_id/],
        ["a non-numeric id", ->(c, _) { c.task_execution_context("abc") }, /task_id/],
        ["a huge id", ->(c, _) { c.task_execution_context(HUGE) }, /task_id/],
        ["an unknown id", ->(c, _) { c.task_execution_context(UNKNOWN) }, /#{UNKNOWN}/],
        ["a bad as_of", ->(c, t) { c.task_execution_context(t.task_id, as_of: "noon") }, /as_of/]
      ],
      viable_steps: [
        ["nil id", ->(c, _) { c.viable_steps(nil) }, /task_id/],
        ["a Hash as id", ->(c, _) { c.viable_steps({}) }, /task_id/],
        ["a huge id", ->(c, _) { c.viable_steps(HUGE) }, /task_id/]
      ],
      discover_viable_steps: [
        ["nil id", ->(c, _) { c.discover_viable_steps(nil) }, /task_id/],
        ["an unknown id", ->(c, _) { c.discover_viable_steps(UNKNOWN) }, /#{UNKNOWN}/]
      ],
      step_readiness: [
        ["nil id", ->(c, _) { c.step_readiness(nil) }, /task_id/],
        ["step_ids not an array", ->(c, t) { c.step_readiness(t.task_id, step_ids: "1") }, /step_ids/],
        ["a nil step id", ->(c, t) { c.step_readiness(t.task_id, step_ids: [nil]) }, /step_ids\[0\]/],
        ["a huge step id", ->(c, t) { c.step_readiness(t.task_id, step_ids: [HUGE]) }, /step_ids/]
      ],
      batch_update_step_states: [
        ["nil updates", ->(c, _) { c.batch_update_step_states(nil) }, /updates/],
        ["a nil update", ->(c, _) { c.batch_update_step_states([nil]) }, /updates\[0\]/],
        ["a step id of a wrong type", ->(c, _) { c.batch_update_step_states([{ step_id: "x", state: "complete" }]) }, /step_id/],
        ["a huge backoff", ->(c, t) { c.batch_update_step_states([{ step_id: t.step_id("A"), state: "error", backoff_request_seconds: HUGE }]) }, /backoff_request_seconds/],
        ["a deep result", ->(c, t) { c.batch_update_step_states([[t.step_id("A"), "complete", deep]]) }, /updates\[0\]\[2\]/]
      ],
      analyze_dependencies: [
        ["nil id", ->(c, _) { c.analyze_dependencies(nil) }, /task_id/],
        ["an unknown id", ->(c, _) { c.analyze_dependencies(UNKNOWN) }, /#{UNKNOWN}/]
      ],
      transition_task: [
        ["nil id", ->(c, _) { c.transition_task(nil, "cancelled") }, /task_id/],
        ["an unknown state", ->(c, t) { c.transition_task(t.task_id, "gone") }, /gone/],
        ["metadata of a wrong type", ->(c, t) { c.transition_task(t.task_id, "cancelled", metadata: "x") }, /metadata/],
        ["NUL in the metadata", ->(c, t) { c.transition_task(t.task_id, "cancelled", metadata: { "why" => NUL }) }, /metadata\.why/],
        ["deep metadata", ->(c, t) { c.transition_task(t.task_id, "cancelled", metadata: deep) }, /metadata/],
        ["an unknown id", ->(c, _) { c.transition_task(UNKNOWN, "cancelled") }, /#{UNKNOWN}/]
      ],
      step_transitions: [
        ["nil id", ->(c, _) { c.step_transitions(nil) }, /step_id/],
        ["an unknown id", ->(c, _) { c.step_transitions(UNKNOWN) }, /#{UNKNOWN}/]
      ],
      task_transitions: [
        ["a float id", ->(c, _) { c.task_transitions(1.5) }, /task_id/],
        ["an unknown id", ->(c, _) { c.task_transitions(UNKNOWN) }, /#{UNKNOWN}/]
      ],
      analytics: [
        ["a bad since", ->(c, _) { c.analytics(since: "last week") }, /since/]
      ],
      slowest_tasks: [
        ["a huge limit", ->(c, _) { c.slowest_tasks(limit: HUGE) }, /limit/],
        ["a limit too large", ->(c, _) { c.slowest_tasks(limit: 100_000) }, /limit/],
        ["a namespace of a wrong type", ->(c, _) { c.slowest_tasks(namespace: 5) }, /namespace/],
        ["NUL in the namespace", ->(c, _) { c.slowest_tasks(namespace: NUL) }, /namespace/]
      ],
      slowest_steps: [
        ["a limit of a wrong type", ->(c, _) { c.slowest_steps(limit: "ten") }, /limit/],
        ["a version too long", ->(c, _) { c.slowest_steps(version: LONG) }, /version/]
      ],
      claim_steps: [
        ["nil worker_id", ->(c, _) { c.claim_steps(worker_id: nil) }, /worker_id/],
        ["worker_id of a wrong type", ->(c, _) { c.claim_steps(worker_id: 5) }, /worker_id/],
        ["NUL in worker_id", ->(c, _) { c.claim_steps(worker_id: NUL) }, /worker_id/],
        ["worker_id too long", ->(c, _) { c.claim_steps(worker_id: LONG) }, /worker_id/],
        ["a lease of 1e300", ->(c, _) { c.claim_steps(worker_id: "w", lease_seconds: 1e300) }, /lease_seconds/],
        ["a huge lease", ->(c, _) { c.claim_steps(worker_id: "w", lease_seconds: HUGE) }, /lease_seconds/],
        ["a huge limit", ->(c, _) { c.claim_steps(worker_id: "w", limit: HUGE) }, /limit/],
        ["a bad task id", ->(c, _) { c.claim_steps(worker_id: "w", task_id: "abc") }, /task_id/],
        ["an empty namespace", ->(c, _) { c.claim_steps(worker_id: "w", namespaces: [nil]) }, /namespaces\[0\]/]
      ],
      report_and_claim: [
        ["nil reports", ->(c, _) { c.report_and_claim(nil, worker_id: "w") }, /reports/],
        ["a nil report", ->(c, _) { c.report_and_claim([nil], worker_id: "w") }, /reports\[0\]/],
        ["a bad step id", ->(c, _) { c.report_and_claim([{ step_id: "x", worker_id: "w", success: true }], worker_id: "w") }, /reports\[0\]\.step_id/],
        ["nil worker_id", ->(c, _) { c.report_and_claim([], worker_id: nil) }, /worker_id/],
        ["a lease of 1e300", ->(c, _) { c.report_and_claim([], worker_id: "w", lease_seconds: 1e300) }, /lease_seconds/]
      ],
      report_step_results: [
        ["nil reports", ->(c, _) { c.report_step_results(nil) }, /reports/],
        ["a nil report", ->(c, _) { c.report_step_results([nil]) }, /reports\[0\]/],
        ["a number as report", ->(c, _) { c.report_step_results([5]) }, /reports\[0\]/],
        ["a huge step id", ->(c, _) { c.report_step_results([{ step_id: HUGE, worker_id: "w", success: true }]) }, /step_id/],
        ["a deep result", ->(c, t) { c.report_step_results([{ step_id: t.step_id("A"), worker_id: "w", success: true, results: deep }]) }, /reports\[0\]\.results/],
        ["a huge retry_after", ->(c, t) { c.report_step_results([{ step_id: t.step_id("A"), worker_id: "w", success: false, error: { message: "m", retry_after_seconds: HUGE } }]) }, /retry_after_seconds/]
      ],
      announce_worker: [
        ["nil worker_id", ->(c, _) { c.announce_worker(worker_id: nil, state: "started") }, /worker_id/],
        ["an unknown state", ->(c, _) { c.announce_worker(worker_id: "w", state: "asleep") }, /state/],
        ["details not a Hash", ->(c, _) { c.announce_worker(worker_id: "w", state: "started", details: [1]) }, /details/],
        ["an unknown detail", ->(c, _) { c.announce_worker(worker_id: "w", state: "started", details: { "x" => 1 }) },
         /details\.x/]
      ],
      heartbeat: [
        ["nil worker_id", ->(c, _) { c.heartbeat(worker_id: nil, step_ids: [1]) }, /worker_id/],
        ["a bad step id", ->(c, _) { c.heartbeat(worker_id: "w", step_ids: ["x"]) }, /step_ids\[0\]/],
        ["a lease of 1e300", ->(c, _) { c.heartbeat(worker_id: "w", step_ids: [1], lease_seconds: 1e300) }, /lease_seconds/]
      ],
      recover_expired_steps: [
        ["nil worker_id", ->(c, _) { c.recover_expired_steps(worker_id: nil) }, /worker_id/],
        ["NUL in worker_id", ->(c, _) { c.recover_expired_steps(worker_id: NUL) }, /worker_id/],
        ["a huge limit", ->(c, _) { c.recover_expired_steps(worker_id: "w", limit: HUGE) }, /limit/],
        ["a zero limit", ->(c, _) { c.recover_expired_steps(worker_id: "w", limit: 0) }, /limit/]
      ],
      next_ready_tasks: [
        ["a limit of a wrong type", ->(c, _) { c.next_ready_tasks(limit: "x") }, /limit/],
        ["a limit too large", ->(c, _) { c.next_ready_tasks(limit: 10**9) }, /limit/]
      ],
      fetch_events: [
        ["nil subscriber", ->(c, _) { c.fetch_events(subscriber: nil) }, /subscriber/],
        ["subscriber of a wrong type", ->(c, _) { c.fetch_events(subscriber: []) }, /subscriber/],
        ["subscriber too long", ->(c, _) { c.fetch_events(subscriber: LONG) }, /subscriber/],
        ["a huge limit", ->(c, _) { c.fetch_events(subscriber: "s", limit: HUGE) }, /limit/],
        ["wait_ms of 1e300", ->(c, _) { c.fetch_events(subscriber: "s", wait_ms: 1e300) }, /wait_ms/],
        ["a wait_ms that overflows", ->(c, _) { c.fetch_events(subscriber: "s", wait_ms: 2**62) }, /wait_ms/]
      ],
      ack_events: [
        ["nil batch", ->(c, _) { c.ack_events(subscriber: "s", batch: nil) }, /batch/],
        ["subscriber too long", ->(c, _) { c.ack_events(subscriber: LONG, batch: TaskerCore::EventBatch.from_h("events" => [], "horizon" => "1", "drained" => true)) }, /subscriber/],
        ["a bad horizon", ->(c, _) { c.ack_events(subscriber: "s", batch: TaskerCore::EventBatch.from_h("events" => [], "horizon" => "abc", "drained" => true)) }, /horizon/]
      ],
      publish_event: [
        ["nil task id", ->(c, _) { c.publish_event(task_id: nil, name: "x") }, /task_id/],
        ["nil name", ->(c, t) { c.publish_event(task_id: t.task_id, name: nil) }, /name/],
        ["a payload of a wrong type", ->(c, t) { c.publish_event(task_id: t.task_id, name: "x", payload: "p") }, /payload/],
        ["NUL in the payload", ->(c, t) { c.publish_event(task_id: t.task_id, name: "x", payload: { "p" => NUL }) }, /payload\.p/],
        ["a deep payload", ->(c, t) { c.publish_event(task_id: t.task_id, name: "x", payload: deep) }, /payload/],
        ["an unknown task", ->(c, _) { c.publish_event(task_id: UNKNOWN, name: "x") }, /#{UNKNOWN}/]
      ],
      open_event_stream: [
        ["a malformed pattern", ->(c, _) { c.open_event_stream(patterns: ["**"]) }, /pattern/],
        ["an empty pattern", ->(c, _) { c.open_event_stream(patterns: [nil]) }, /pattern/]
      ],
      read_event_stream: [
        ["wait_ms of a wrong type", ->(c, _) { c.read_event_stream(wait_ms: "x") }, /wait_ms/],
        ["a negative wait_ms", ->(c, _) { c.read_event_stream(wait_ms: -1) }, /wait_ms/],
        ["a huge wait_ms", ->(c, _) { c.read_event_stream(wait_ms: HUGE) }, /wait_ms/]
      ],
      register_templates: [
        ["nothing to register", ->(c, _) { c.register_templates }, /paths|yaml/],
        ["yaml of a wrong type", ->(c, _) { c.register_templates(yaml: 5) }, /yaml/],
        ["NUL in the yaml", ->(c, _) { c.register_templates(yaml: "name: #{NUL}") }, /yaml/],
        ["an unknown path", ->(c, _) { c.register_templates(paths: ["/nonexistent/#{UNKNOWN}"]) }, /#{UNKNOWN}/]
      ],
      create_task_from_template: [
        ["nil name", ->(c, _) { c.create_task_from_template(name: nil) }, /name/],
        ["name of a wrong type", ->(c, _) { c.create_task_from_template(name: 5) }, /name/],
        ["NUL in the context", ->(c, _) { c.create_task_from_template(name: "t", context: { "c" => NUL }) }, /context\.c/],
        ["a huge priority", ->(c, _) { c.create_task_from_template(name: "t", priority: HUGE) }, /priority/],
        ["an unknown template", ->(c, _) { c.create_task_from_template(name: "t#{UNKNOWN}") }, /t#{UNKNOWN}/]
      ],
      health: [
        ["nil check", ->(c, _) { c.health(nil) }, /check/],
        ["an unknown check", ->(c, _) { c.health("sideways") }, /check/],
        ["NUL in the check", ->(c, _) { c.health(NUL) }, /check/],
        ["a check too long", ->(c, _) { c.health(LONG) }, /check/]
      ],
      task_template: [
        ["nil name", ->(c, _) { c.task_template(name: nil) }, /name/],
        ["a version too long", ->(c, _) { c.task_template(name: "t", version: LONG) }, /version/],
        ["an unknown template", ->(c, _) { c.task_template(name: "t#{UNKNOWN}") }, /t#{UNKNOWN}/]
      ]
    }.freeze

    # Public methods that take no input, and why they need no cases.
    NO_INPUT = {
      migrate!: "takes no arguments", migration_status: "takes no arguments", system_health: "takes no arguments", prune_events: "takes no arguments",
      event_metrics: "takes no arguments", event_catalog: "takes no arguments", metrics_text: "takes no arguments",
      close_event_stream: "takes no arguments", effective_config: "takes no arguments",
      close: "takes no arguments", closed?: "a reader", handle_id: "a reader", inspect: "a reader",
      pid: "a reader", schema: "a reader", opened?: "a reader", usable_in_this_process?: "a reader"
    }.freeze

    # Methods the Client gets from modules, whose bad input their own specs cover.
    COVERED_ELSEWHERE = {
      TaskerCore::Client::OperatorOperations => "spec/tasker_core/client/operator_operations_spec.rb",
      TaskerCore::Client::TaskQueries => "spec/tasker_core/client/task_queries_spec.rb",
      TaskerCore::Client::Adoption => "spec/integration/adoption_report_spec.rb (takes no input)"
    }.freeze
  end
end

RSpec.describe "Bad input at every client method", :integration do
  include TaskerCoreSpec::BadInput
  with_tasker_schema

  cases_table = TaskerCoreSpec::BadInput::CASES
  no_input = TaskerCoreSpec::BadInput::NO_INPUT
  nul = TaskerCoreSpec::BadInput::NUL
  unknown = TaskerCoreSpec::BadInput::UNKNOWN

  let(:task) { client.create_task(linear_spec) }

  it "has cases for every public method of TaskerCore::Client" do
    elsewhere = TaskerCoreSpec::BadInput::COVERED_ELSEWHERE.keys.flat_map { |mod| mod.public_instance_methods(false) }
    own = TaskerCore::Client.public_instance_methods - Object.public_instance_methods
    missing = own - cases_table.keys - no_input.keys - elsewhere
    expect(missing).to be_empty, "public methods without bad-input cases: #{missing.inspect} (add them to CASES)"
    no_input.each_key do |name|
      expect(TaskerCore::Client.instance_method(name).arity).to eq(0), "#{name} takes arguments: give it cases"
    end
  end

  cases_table.each do |method, cases|
    describe "##{method}" do
      cases.each do |what, call, pattern|
        it "raises a TaskerCore::Error naming the field for #{what}" do
          ctx = task
          before = TaskerCoreSpec::Database.psql(TaskerCoreSpec::Database.url,
                                                 "SELECT (SELECT count(*) FROM #{tasker_schema}.tasker_tasks) || '/' || " \
                                                 "(SELECT count(*) FROM #{tasker_schema}.tasker_workflow_step_transitions)")
          error = begin
            instance_exec(client, ctx, &call)
            nil
          rescue Exception => e # rubocop:disable Lint/RescueException -- SystemStackError is what this guards against
            e
          end
          expect(error).to be_a(TaskerCore::Error), "#{method} (#{what}) raised #{error.class}: #{error&.message}"
          expect(error).not_to be_a(TaskerCore::DatabaseError), error.message
          expect(error.message).to match(pattern)
          after = TaskerCoreSpec::Database.psql(TaskerCoreSpec::Database.url,
                                                "SELECT (SELECT count(*) FROM #{tasker_schema}.tasker_tasks) || '/' || " \
                                                "(SELECT count(*) FROM #{tasker_schema}.tasker_workflow_step_transitions)")
          expect(after).to eq(before), "#{method} (#{what}) wrote something"
        end
      end
    end
  end

  # In a batch, an item with U+0000 is refused alone: the call returns, the
  # item's outcome names the field, the others are stored.
  it "refuses a batch item with U+0000 alone, naming the field" do
    a = task.step_id("A")
    result = client.batch_update_step_states([{ step_id: a, state: "in_progress" }, [a, "complete", { "note" => nul }]])
    expect(result.outcomes.first).to be_applied
    refused = result.outcomes.last
    expect(refused.to_state).to eq("error")
    expect(refused.error).to be_a(TaskerCore::ValidationError)
    expect(refused.error.details["field"]).to eq("updates[1].results")
    expect(client.step_transitions(a).last.to_state).to eq("error")
  end

  it "answers a report of an unknown step with a rejected outcome naming it" do
    result = client.report_step_results([{ step_id: unknown, worker_id: "w", success: true }])
    expect(result.outcomes.first).to be_rejected
    expect(result.outcomes.first.error).to be_a(TaskerCore::NotFoundError)
    expect(result.outcomes.first.error.message).to include(unknown.to_s)
  end
end
