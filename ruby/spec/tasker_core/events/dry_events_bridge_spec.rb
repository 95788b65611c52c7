# frozen_string_literal: true

require "securerandom"
require "stringio"

module DryEventsBridgeSpec
  class Ok < TaskerCore::StepHandler::Base
    def call(_task, _sequence, step)
      { "step" => step.name }
    end
  end
end

# The same expectations, against the stand-in of dry-events' API and, when it
# can be loaded, against the real gem.
RSpec.shared_examples "a dry-events bridge" do
  let(:bridge) { TaskerCore::Events::DryEventsBridge }

  def step_event(name = "step.completed", task_seq: 4)
    TaskerCore::Event.from_h(
      "event_id" => 40 + task_seq, "task_id" => 7, "task_seq" => task_seq, "step_id" => 11, "name" => name,
      "namespace" => "shop", "task_name" => "order", "correlation_id" => "01a2141b-1fc7-73ec-9b2d-f87e91e5ea15",
      "payload" => { "task_id" => 7, "step_id" => 11, "step_name" => "charge", "to_state" => "complete",
                     "task_context" => { "order_id" => 3 } },
      "created_at" => "2026-11-25T17:00:00.123456Z"
    )
  end

  def with_log
    io = StringIO.new
    original = TaskerCore.logger
    TaskerCore.logger = Logger.new(io)
    yield io
  ensure
    TaskerCore.logger = original
  end

  it "builds one publisher of Dry::Events::Publisher[:tasker_core]" do
    expect(bridge).to be_available
    publisher = bridge.publisher
    expect(publisher).to be(bridge.publisher)
    expect(publisher.class.ancestors.map(&:class)).to include(::Dry::Events::Publisher)
    expect(publisher.class.ancestors.find { |m| m.is_a?(::Dry::Events::Publisher) }.id).to eq(:tasker_core)
  end

  it "registers the client's event catalog, then delivers events to subscribers with symbol keys" do
    names = bridge.register_catalog(client)
    expect(names).to include("step.completed", "task.completed", "step.before_transition", "step.handle",
                             "workflow.steps_execution_started", "observability.task.handle")
    expect(bridge.registered_events).to include(*names)
    seen = []
    bridge.publisher.subscribe("step.completed") { |event| seen << event }
    local = []
    TaskerCore::Events.subscribe("step.*") { |event| local << event.name }

    expect(TaskerCore::Events.publish_locally(step_event)).to eq(1)
    expect(local).to eq(["step.completed"])
    expect(seen.size).to eq(1)
    event = seen.first
    expect([event[:step_id], event[:task_id], event[:task_seq], event[:step_name], event[:correlation_id]])
      .to eq([11, 7, 4, "charge", "01a2141b-1fc7-73ec-9b2d-f87e91e5ea15"])
    expect(event.payload).to eq(step_event.notification_payload.transform_keys(&:to_sym))
    expect(event.payload[:task_context]).to eq("order_id" => 3) # nested values as the library sent them
    expect { event["step_id"] }.to raise_error(KeyError)
  end

  it "registers an event name the first time it is published" do
    name = "rspec.unregistered_#{SecureRandom.hex(3)}"
    with_log do |io|
      TaskerCore::Events.publish_locally(step_event(name))
      expect(io.string).to eq("")
    end
    expect(bridge.registered_events).to include(name)
    seen = []
    bridge.publisher.subscribe(name) { |event| seen << event[:task_seq] }
    TaskerCore::Events.publish_locally(step_event(name, task_seq: 5))
    expect(seen).to eq([5])
  end

  it "logs a raising dry-events listener without breaking TaskerCore::Events subscribers" do
    bridge.register_event("step.completed")
    bridge.publisher.subscribe("step.completed") { |_event| raise ArgumentError, "dry listener broke" }
    local = []
    TaskerCore::Events.subscribe("*") { |event| local << event.task_seq }
    with_log do |io|
      expect(TaskerCore::Events.publish_locally(step_event(task_seq: 1))).to eq(1)
      expect(TaskerCore::Events.publish_locally(step_event(task_seq: 2))).to eq(1)
      expect(io.string).to include("dry-events bridge").and include("ArgumentError").and include("dry listener broke")
    end
    expect(local).to eq([1, 2])
  end

  it "receives a worker's events of a real task" do
    name = "dry_bridge_#{SecureRandom.hex(4)}"
    TaskerCore.register_task(name: name, namespace: "rspec_dry",
                             steps: [{ name: "first", handler_class: "DryEventsBridgeSpec::Ok" },
                                     { name: "second", handler_class: "DryEventsBridgeSpec::Ok", depends_on: ["first"] }])
    bridge.register_catalog(client)
    handled = []
    lock = Mutex.new
    bridge.publisher.subscribe("step.handle") { |event| lock.synchronize { handled << event } }
    task = TaskerCore.create_task(name: name, namespace: "rspec_dry", client: client)
    expect(TaskerCore.run_task(task, timeout: 30, client: client, concurrency: 2)).to be_complete

    mine = handled.select { |event| event[:task_id] == task.task_id }
    expect(mine.map { |event| event[:step_name] }).to eq(%w[first second])
    expect(mine.map { |event| event[:correlation_id] }.uniq).to eq([task.correlation_id])
    expect(mine.map { |event| event[:namespace] }.uniq).to eq(["rspec_dry"])
  end
end

RSpec.describe TaskerCore::Events::DryEventsBridge do
  with_tasker_schema

  after do
    TaskerCore::Events.reset!
    described_class.reset!
  end

  context "with a stand-in of dry-events' API (the gem cannot be installed here)" do
    before do
      if defined?(::Dry::Events) && !TaskerCoreSpec::DryEventsStandIn.installed?
        skip "the real dry-events is loaded in this process; its own group covers the bridge"
      end
      TaskerCoreSpec::DryEventsStandIn.install!
    end

    after do
      described_class.reset!
      TaskerCoreSpec::DryEventsStandIn.uninstall!
    end

    it_behaves_like "a dry-events bridge"

    it "needs names registered before subscribing, which register_catalog does" do
      expect { described_class.publisher.subscribe("task.completed") { nil } }
        .to raise_error(::Dry::Events::InvalidSubscriberError)
      described_class.register_catalog(client)
      expect(described_class.publisher.subscribe("task.completed") { nil }).to be(described_class.publisher)
    end

    it "leaves no Dry behind and does nothing once dry-events is gone" do
      described_class.register_event("step.completed")
      TaskerCoreSpec::DryEventsStandIn.uninstall!
      expect(defined?(::Dry::Events)).to be_nil
      expect(described_class).not_to be_available
      expect(described_class.publisher).to be_nil
      expect(described_class.register_catalog(client)).to eq([])
      seen = []
      TaskerCore::Events.subscribe("*") { |event| seen << event.name }
      event = TaskerCore::Event.from_h("name" => "step.completed", "task_id" => 1,
                                       "created_at" => "2026-11-25T17:00:00Z")
      expect(TaskerCore::Events.publish_locally(event)).to eq(1)
      expect(seen).to eq(["step.completed"])
    end
  end

  context "with the real dry-events gem" do
    before do
      begin
        require "dry/events"
      rescue LoadError
        skip "dry-events gem not installed (no gem registry here)"
      end
      if TaskerCoreSpec::DryEventsStandIn.installed?
        skip "the dry-events stand-in is installed in this process"
      end
    end

    it_behaves_like "a dry-events bridge"
  end
end
