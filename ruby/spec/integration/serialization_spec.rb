# frozen_string_literal: true

# What goes in as JSON comes back equal. The contract reads stored caller JSON back
# through transition metadata (get_step_transitions / get_task_transitions,
# transition_task) and through claim_steps (a task's context, a step's inputs, and
# the results of completed steps in "sequence").
#
# Integers must come back as the same Integers (also beyond 2**53). A float may
# come back as an Integer literal of the same decimal value: PostgreSQL's jsonb
# prints 1.5e300 as 15 followed by 299 zeros, which is the same JSON number.
RSpec.describe "JSON round trips", :integration do
  with_tasker_schema

  values = {
    "emoji" => "🚀✨ done 👍🏽",
    "name" => "Zoë Ångström",
    "rtl" => "שלום עולם مرحبا",
    "escapes" => "quote \" backslash \\ newline \n tab \t nul-free \u0001",
    "nested" => { "a" => [1, [2, [3, { "b" => nil }]]], "c" => { "d" => { "e" => true } } },
    "nil" => nil,
    "empty" => { "h" => {}, "a" => [] },
    "big" => 2**62,
    "big_plus_one" => 2**62 + 1,
    "beyond_double" => 2**53 + 1,
    "min_int64" => -2**63,
    "max_int64" => 2**63 - 1,
    "small_float" => 0.1,
    "tiny_float" => 1e-300,
    "huge_float" => 1.5e300,
    "negative_zero_ish" => -0.5,
    "bool" => false
  }.freeze

  def expect_same(actual, expected, path = "metadata")
    case expected
    when Hash
      expect(actual).to be_a(Hash), path
      expected.each { |k, v| expect_same(actual[k], v, "#{path}[#{k.inspect}]") }
      expect(actual.keys).to include(*expected.keys)
    when Array
      expect(actual).to be_a(Array), path
      expect(actual.size).to eq(expected.size), path
      expected.each_with_index { |v, i| expect_same(actual[i], v, "#{path}[#{i}]") }
    when Float
      expect(actual).to be_a(Numeric), "#{path}: #{actual.inspect} is not a number"
      expect(Float(actual)).to eq(expected), "#{path}: #{actual.inspect} != #{expected.inspect}"
    else
      expect(actual.class).to eq(expected.class), "#{path}: #{actual.inspect} (#{actual.class}) != #{expected.inspect}"
      expect(actual).to eq(expected), "#{path}: #{actual.inspect} != #{expected.inspect}"
    end
  end

  values.each do |key, value|
    it "keeps #{key} through step transition metadata" do
      task = client.create_task(linear_spec)
      a = task.step_id("A")
      client.batch_update_step_states([{ step_id: a, state: "in_progress", metadata: { key => value } }])
      expect_same(client.step_transitions(a).last.metadata, { key => value })
    end
  end

  it "keeps everything at once through task transition metadata" do
    task = client.create_task(linear_spec)
    transition = client.transition_task(task.task_id, "in_progress", metadata: values)
    expect_same(transition.metadata, values)
    expect_same(client.task_transitions(task.task_id).last.metadata, values)
  end

  it "accepts the same values as task context, and hashes them stably for idempotent requests" do
    spec = linear_spec(context: values, identity_strategy: "hash", initiator: "rspec")
    first = client.create_task(spec)
    again = client.create_task(spec)
    expect(first).to be_created
    expect(again).not_to be_created
    expect(again.task_id).to eq(first.task_id)
    other = client.create_task(spec.merge(context: values.merge("big_plus_one" => 2**62 + 2)))
    expect(other.task_id).not_to eq(first.task_id)
  end

  it "keeps a task's context and a step's inputs through create_task -> claim_steps" do
    spec = { name: unique_name("ctx"), namespace: "rspec", context: values,
             steps: [{ name: "a", inputs: values }, { name: "b", depends_on: ["a"] }] }
    task = client.create_task(spec)
    claimed = client.claim_steps(worker_id: "rspec-ser", task_id: task.task_id)
    expect(claimed.map(&:step_name)).to eq(["a"])
    expect_same(claimed.first.task_context, values)
    expect_same(claimed.first.inputs, values)
  end

  it "keeps a step's results through report_step_results -> claim_steps (the sequence)" do
    task = client.create_task(name: unique_name("seq"), namespace: "rspec",
                              steps: [{ name: "a" }, { name: "b", depends_on: ["a"] }])
    a = client.claim_steps(worker_id: "rspec-ser", task_id: task.task_id).first
    client.report_step_results([{ step_id: a.step_id, worker_id: "rspec-ser", success: true, results: values }])
    b = client.claim_steps(worker_id: "rspec-ser", task_id: task.task_id).first
    expect(b.step_name).to eq("b")
    expect_same(b.sequence["a"], values)
  end

  it "keeps a step's results written by batch_update_step_states" do
    task = client.create_task(name: unique_name("res"), namespace: "rspec",
                              steps: [{ name: "a" }, { name: "b", depends_on: ["a"] }])
    a = task.step_id("a")
    client.batch_update_step_states([[a, "in_progress", nil], [a, "complete", values]])
    b = client.claim_steps(worker_id: "rspec-ser", task_id: task.task_id).first
    expect_same(b.sequence["a"], values)
  end
end
