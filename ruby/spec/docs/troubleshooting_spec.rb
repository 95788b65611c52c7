# frozen_string_literal: true

# docs/troubleshooting.md stays true for the gem: every TaskerCore::Error class
# has a section (a heading naming it), and every ```ruby block runs with
# `client`, `task_id` and `step_id` (a failed step) defined.
RSpec.describe "docs/troubleshooting.md" do
  doc = File.read(File.expand_path("../../../docs/troubleshooting.md", __dir__))
  headings = doc.lines.grep(/\A#/)

  error_classes = ObjectSpace.each_object(Class).select { |k| k <= TaskerCore::Error && k.name&.start_with?("TaskerCore::") }

  it "finds the error classes of the errors/ folder" do
    files = Dir[File.expand_path("../../lib/tasker_core/errors/*_error.rb", __dir__)]
    names = files.map { |f| "TaskerCore::" + File.basename(f, ".rb").split("_").map(&:capitalize).join }
    names = names.map { |n| n.sub("Ffi", "FFI") }
    expect(error_classes.map(&:name)).to include(*names)
  end

  error_classes.sort_by(&:name).each do |klass|
    it "has a section for #{klass.name}" do
      expect(headings.any? { |h| h.match?(/#{Regexp.escape(klass.name)}(?![\w:])/) }).to be(true),
                                                                                    "no heading names #{klass.name}"
    end
  end

  context "its Ruby blocks" do
    with_tasker_schema

    let(:task) do
      client.create_task(name: "troubleshooting", steps: [{ name: "charge", retry_limit: 1 }, { name: "ship", depends_on: ["charge"] }])
    end
    let(:task_id) { task.task_id }
    let(:step_id) do
      claimed = client.claim_steps(worker_id: "w1", task_id: task_id, limit: 1).first
      client.report_step_results([{ step_id: claimed.step_id, worker_id: "w1", attempt: claimed.attempts, success: false,
                                    error: { message: "card declined", retryable: false } }])
      claimed.step_id
    end

    blocks = doc.scan(/^```ruby\n(.*?)^```/m).flatten
    it "are found" do
      expect(blocks.size).to be >= 8
    end

    blocks.each_with_index do |code, i|
      it "block #{i + 1} runs: #{code.lines.first.strip[0, 60]}" do
        step_id # a failed step exists before the block runs
        expect { eval(code, binding, "docs/troubleshooting.md block #{i + 1}") }.not_to raise_error # rubocop:disable Security/Eval
      end
    end
  end
end
