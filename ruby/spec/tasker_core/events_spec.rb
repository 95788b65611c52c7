# frozen_string_literal: true

require "open3"
require "rbconfig"
require "stringio"

RSpec.describe TaskerCore::Events do
  def event(name, namespace: "shop", task_name: "order", task_seq: 1)
    TaskerCore::Event.from_h(
      "event_id" => task_seq, "task_id" => 7, "task_seq" => task_seq, "step_id" => nil, "name" => name,
      "namespace" => namespace, "task_name" => task_name, "correlation_id" => "c0ffee",
      "payload" => { "task_id" => 7, "to_state" => "complete" }, "created_at" => "2026-11-25T17:00:00.123456Z"
    )
  end

  # The names of the events each pattern's subscriber received.
  def deliveries(pattern, names, **filters)
    seen = []
    described_class.subscribe(pattern, **filters) { |e| seen << e.name }
    names.each { |name| described_class.publish_locally(event(name)) }
    seen
  end

  let(:names) { %w[step.completed step.failed task.completed step steps.completed step.retry.requested] }

  after { described_class.reset! }

  describe "pattern matching" do
    it "delivers an exact name only to its subscribers" do
      expect(deliveries("step.completed", names)).to eq(["step.completed"])
    end

    it "delivers \"step.*\" for one or more segments after the prefix, not the bare prefix or a longer word" do
      expect(deliveries("step.*", names)).to eq(%w[step.completed step.failed step.retry.requested])
    end

    it "delivers everything to \"*\"" do
      expect(deliveries("*", names)).to eq(names)
    end

    it "delivers nothing for a name that does not match" do
      expect(deliveries("task.failed", names)).to eq([])
      expect(deliveries("task.*", %w[step.completed task])).to eq([])
    end

    it "rejects malformed patterns" do
      ["", "st*ep", "*.completed", ".*", "a.*.b"].each do |pattern|
        expect { described_class.subscribe(pattern) { nil } }.to raise_error(ArgumentError, /invalid event pattern/)
      end
    end
  end

  describe "filters" do
    it "filters by namespace and task name" do
      seen = []
      described_class.subscribe("*", namespace: "shop") { |e| seen << [:ns, e.namespace, e.task_name] }
      described_class.subscribe("*", task_name: "order") { |e| seen << [:name, e.namespace, e.task_name] }
      described_class.subscribe("*", namespace: "shop", task_name: "refund") { |e| seen << [:both, e.namespace, e.task_name] }
      described_class.publish_locally(event("task.completed", namespace: "shop", task_name: "order"))
      described_class.publish_locally(event("task.completed", namespace: "billing", task_name: "order"))
      described_class.publish_locally(event("task.completed", namespace: "shop", task_name: "refund"))
      expect(seen).to eq([[:ns, "shop", "order"], [:name, "shop", "order"],
                          [:name, "billing", "order"],
                          [:ns, "shop", "refund"], [:both, "shop", "refund"]])
    end
  end

  describe "dispatch" do
    it "calls subscribers in registration order and stops after unsubscribe" do
      seen = []
      first = described_class.subscribe("*") { seen << 1 }
      described_class.subscribe("task.*") { seen << 2 }
      described_class.subscribe("task.completed") { seen << 3 }
      expect(described_class.publish_locally(event("task.completed"))).to eq(3)
      expect(first.unsubscribe).to be(true)
      expect(first.unsubscribe).to be(false)
      described_class.publish_locally(event("task.completed"))
      expect(seen).to eq([1, 2, 3, 2, 3])
    end

    it "isolates a raising subscriber, logs it with the event name, and keeps dispatching" do
      io = StringIO.new
      original = TaskerCore.logger
      TaskerCore.logger = Logger.new(io)
      seen = []
      described_class.subscribe("*") { |e| seen << [:first, e.task_seq] }
      described_class.subscribe("*") { |_e| raise KeyError, "boom in subscriber" }
      described_class.subscribe("*") { |e| seen << [:third, e.task_seq] }
      expect(described_class.publish_locally(event("step.completed", task_seq: 1))).to eq(2)
      described_class.publish_locally(event("task.completed", task_seq: 2))
      expect(seen).to eq([[:first, 1], [:third, 1], [:first, 2], [:third, 2]])
      log = io.string
      expect(log.lines.grep(/ERROR/).size).to eq(2)
      expect(log).to include("step.completed").and include("task.completed")
      expect(log).to include("KeyError").and include("boom in subscriber")
    ensure
      TaskerCore.logger = original
    end
  end

  describe ".listening?" do
    it "is false with no subscriber, true for a subscription whose pattern matches the name" do
      hide_const("ActiveSupport") if defined?(ActiveSupport)
      hide_const("Dry") if defined?(Dry)
      expect(described_class.listening?("step.handle")).to be(false)
      sub = described_class.subscribe("step.*", namespace: "elsewhere") { nil }
      expect(described_class.listening?("step.handle")).to be(true) # filters are looked at on delivery
      expect(described_class.listening?("task.completed")).to be(false)
      described_class.unsubscribe(sub)
      expect(described_class.listening?("step.handle")).to be(false)
    end

    it "follows ActiveSupport::Notifications' own subscribers (a real ActiveSupport, in a process of its own)" do
      script = <<~RUBY
        $LOAD_PATH.unshift(#{File.expand_path('../../lib', __dir__).dump})
        require "tasker_core"
        require "active_support"
        require "active_support/notifications"
        out = [TaskerCore::Events.listening?("step.handle")]
        s = ActiveSupport::Notifications.subscribe(/\\Astep\\./) { nil }
        out << TaskerCore::Events.listening?("step.handle") << TaskerCore::Events.listening?("task.completed")
        ActiveSupport::Notifications.unsubscribe(s)
        out << TaskerCore::Events.listening?("step.handle")
        puts out.join(",")
      RUBY
      out, status = Open3.capture2e(RbConfig.ruby, "-e", script)
      expect(status).to be_success, out
      expect(out.lines.last.strip).to eq("false,true,false,false")
    end
  end

  describe "ActiveSupport::Notifications bridge" do
    let(:notifications) do
      Module.new do
        def self.calls
          @calls ||= []
        end

        def self.instrument(name, payload = {})
          calls << [name, payload]
          yield(payload) if block_given?
        end
      end
    end

    it "instruments every dispatched event under its name with the payload and identifiers" do
      stub_const("ActiveSupport::Notifications", notifications)
      seen = []
      described_class.subscribe("task.*") { |e| seen << e.name }
      described_class.publish_locally(event("step.completed", task_seq: 3))
      described_class.publish_locally(event("task.completed", task_seq: 4))
      expect(seen).to eq(["task.completed"])
      expect(notifications.calls.map(&:first)).to eq(%w[step.completed task.completed])
      expect(notifications.calls.last.last).to eq(
        "event_id" => 4, "task_id" => 7, "task_seq" => 4, "step_id" => nil, "namespace" => "shop",
        "task_name" => "order", "correlation_id" => "c0ffee", "to_state" => "complete"
      )
    end

    it "does nothing without ActiveSupport::Notifications" do
      hide_const("ActiveSupport") if defined?(ActiveSupport)
      expect(TaskerCore::Events::ActiveSupportBridge.available?).to be(false)
      expect(described_class.publish_locally(event("task.completed"))).to eq(0)
    end
  end
end
