# frozen_string_literal: true

require "securerandom"
require "stringio"

# Against the real dry-events (0.3.0, spec/support/dry_events.rb): loaded for
# this whole rspec process when the shared copy is there.
TaskerCoreSpec::DryEvents.load!

module DryEventsBridgeSpec
  class Ok < TaskerCore::StepHandler::Base
    def call(_task, _sequence, step)
      { "step" => step.name }
    end
  end

  # A dry-events listener object: on_<event id with dots as underscores>.
  class StepListener
    attr_reader :seen

    def initialize
      @seen = []
    end

    def on_step_completed(event)
      @seen << [event.id, event[:task_seq]]
    end
  end
end

RSpec.describe TaskerCore::Events::DryEventsBridge do
  with_tasker_schema

  after do
    TaskerCore::Events.reset!
    described_class.reset!
  end

  def step_event(name = "step.completed", task_seq: 4, namespace: "shop", order_id: 3)
    TaskerCore::Event.from_h(
      "event_id" => 40 + task_seq, "task_id" => 7, "task_seq" => task_seq, "step_id" => 11, "name" => name,
      "namespace" => namespace, "task_name" => "order", "correlation_id" => "01a2141b-1fc7-73ec-9b2d-f87e91e5ea15",
      "payload" => { "task_id" => 7, "step_id" => 11, "step_name" => "charge", "to_state" => "complete",
                     "task_context" => { "order_id" => order_id } },
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

  it "does nothing without dry-events" do
    hide_const("Dry::Events") if defined?(::Dry::Events)
    expect(described_class).not_to be_available
    expect(described_class.publisher).to be_nil
    expect(described_class.register_event("step.completed")).to be(false)
    expect(described_class.register_catalog(client)).to eq([])
    expect(described_class.publish(step_event)).to be_nil
    seen = []
    TaskerCore::Events.subscribe("*") { |event| seen << event.name }
    with_log do |io|
      expect(TaskerCore::Events.publish_locally(step_event)).to eq(1)
      expect(io.string).to eq("")
    end
    expect(seen).to eq(["step.completed"])
  end

  context "with the real dry-events" do
    before do
      reason = TaskerCoreSpec::DryEvents.require!
      skip(reason) if reason
    end

    it "builds one publisher of a class that holds the id :tasker_core in dry-events' registry" do
      expect(described_class).to be_available
      publisher = described_class.publisher
      expect(publisher).to be(described_class.publisher)
      expect(publisher.class.ancestors.grep(::Dry::Events::Publisher)).to eq([::Dry::Events::Publisher.new(:tasker_core)])
      expect(::Dry::Events::Publisher.registry[:tasker_core]).to be(publisher.class)
      expect { ::Dry::Events::Publisher[:tasker_core] }.to raise_error(::Dry::Events::PublisherAlreadyRegisteredError)
      described_class.reset!
      expect(described_class.publisher).not_to be(publisher)
      expect(described_class.publisher.class).to be(publisher.class)
    end

    it "raises a ConfigurationError when the application took the publisher id first" do
      result = run_ruby(<<~RUBY, env: { "TASKER_DRY_EVENTS_LIB" => TaskerCoreSpec::DryEvents.lib_dir })
        $LOAD_PATH.unshift(ENV.fetch("TASKER_DRY_EVENTS_LIB"))
        require "dry/events"
        require "logger"
        require "stringio"
        Class.new { include Dry::Events::Publisher[:tasker_core] }
        begin
          TaskerCore::Events::DryEventsBridge.publisher
        rescue TaskerCore::ConfigurationError => e
          puts "error: \#{e.message}"
        end
        log = StringIO.new
        TaskerCore.logger = Logger.new(log)
        seen = []
        TaskerCore::Events.subscribe("*") { |event| seen << event.name }
        event = TaskerCore::Event.from_h("name" => "task.completed", "task_id" => 1, "created_at" => "2026-11-25T17:00:00Z")
        puts "delivered: \#{TaskerCore::Events.publish_locally(event)} \#{seen.inspect}"
        puts "logged: \#{log.string.include?("dry-events bridge raised TaskerCore::ConfigurationError")}"
      RUBY
      expect(result).to be_success, result.describe
      expect(result.stdout).to include("error: dry-events publisher id :tasker_core is taken by another class")
      expect(result.stdout).to include('delivered: 1 ["task.completed"]').and include("logged: true")
    end

    it "registers the client's event catalog, which subscribing needs" do
      expect { described_class.publisher.subscribe("task.completed") { nil } }
        .to raise_error(::Dry::Events::InvalidSubscriberError)
      names = described_class.register_catalog(client)
      expect(names).to include("step.completed", "task.completed", "step.before_transition", "step.handle",
                               "workflow.steps_execution_started", "observability.task.handle")
      expect(described_class.registered_events).to include(*names)
      expect(described_class.register_event("task.completed")).to be(false)
      expect(described_class.publisher.subscribe("task.completed") { nil }).to be(described_class.publisher)
      # dry-events tells a Symbol id from a String one: the names are Strings.
      expect { described_class.publisher.subscribe(:"task.completed") { nil } }
        .to raise_error(::Dry::Events::InvalidSubscriberError)
    end

    it "delivers events with symbol keys at the top and the library's keys below" do
      described_class.register_catalog(client)
      seen = []
      described_class.publisher.subscribe("step.completed") { |event| seen << event }
      local = []
      TaskerCore::Events.subscribe("step.*") { |event| local << event.name }

      expect(TaskerCore::Events.publish_locally(step_event)).to eq(1)
      expect(local).to eq(["step.completed"])
      expect(seen.size).to eq(1)
      event = seen.first
      expect(event).to be_a(::Dry::Events::Event)
      expect(event.id).to eq("step.completed")
      expect([event[:step_id], event[:task_id], event[:task_seq], event[:step_name], event[:correlation_id]])
        .to eq([11, 7, 4, "charge", "01a2141b-1fc7-73ec-9b2d-f87e91e5ea15"])
      expect(event.to_h).to eq(step_event.notification_payload.transform_keys(&:to_sym))
      expect(event[:task_context]).to eq("order_id" => 3)
      expect { event["step_id"] }.to raise_error(KeyError)
    end

    it "registers an event name the first time it is published" do
      name = "rspec.unregistered_#{SecureRandom.hex(3)}"
      with_log do |io|
        TaskerCore::Events.publish_locally(step_event(name))
        expect(io.string).to eq("")
      end
      expect(described_class.registered_events).to include(name)
      seen = []
      described_class.publisher.subscribe(name) { |event| seen << event[:task_seq] }
      TaskerCore::Events.publish_locally(step_event(name, task_seq: 5))
      expect(seen).to eq([5])
    end

    it "honours dry-events' subscription filters on the symbol keys, nested keys and with predicates" do
      described_class.register_catalog(client)
      pub = described_class.publisher
      seen = Hash.new { |h, k| h[k] = [] }
      pub.subscribe("step.completed", namespace: "shop") { |event| seen[:shop] << event[:task_seq] }
      pub.subscribe("step.completed", task_context: { "order_id" => 9 }) { |event| seen[:order9] << event[:task_seq] }
      pub.subscribe("step.completed", task_seq: ->(seq) { seq.even? }) { |event| seen[:even] << event[:task_seq] }
      pub.subscribe("step.completed", namespace: %w[shop billing]) { |event| seen[:either] << event[:task_seq] }
      TaskerCore::Events.publish_locally(step_event(task_seq: 1, namespace: "shop"))
      TaskerCore::Events.publish_locally(step_event(task_seq: 2, namespace: "billing", order_id: 9))
      TaskerCore::Events.publish_locally(step_event(task_seq: 3, namespace: "other", order_id: 9))
      expect(seen).to eq(shop: [1], order9: [2, 3], even: [2], either: [1, 2])
    end

    it "calls a listener object's on_ methods for the events registered when it subscribes" do
      listener = DryEventsBridgeSpec::StepListener.new
      # Nothing registered yet: dry-events refuses a listener it would never call.
      expect { described_class.publisher.subscribe(listener) }.to raise_error(::Dry::Events::InvalidSubscriberError)
      described_class.register_catalog(client)
      described_class.publisher.subscribe(listener)
      TaskerCore::Events.publish_locally(step_event(task_seq: 1))
      TaskerCore::Events.publish_locally(step_event("task.completed", task_seq: 2))
      expect(listener.seen).to eq([["step.completed", 1]])
    end

    it "logs a raising listener and still calls the listeners after it and the TaskerCore::Events subscribers" do
      described_class.register_event("step.completed")
      after_it = []
      described_class.publisher.subscribe("step.completed") { |_event| raise ArgumentError, "dry listener broke" }
      described_class.publisher.subscribe("step.completed") { |event| after_it << event[:task_seq] }
      local = []
      TaskerCore::Events.subscribe("*") { |event| local << event.task_seq }
      with_log do |io|
        expect(TaskerCore::Events.publish_locally(step_event(task_seq: 1))).to eq(1)
        expect(TaskerCore::Events.publish_locally(step_event(task_seq: 2))).to eq(1)
        expect(io.string.scan("dry-events listener raised ArgumentError: dry listener broke").size).to eq(2)
      end
      expect(after_it).to eq([1, 2])
      expect(local).to eq([1, 2])
    end

    it "leaves the ActiveSupport::Notifications bridge its string-keyed payload" do
      notifications = Module.new do
        def self.calls
          @calls ||= []
        end

        def self.instrument(name, payload = {})
          calls << [name, payload]
        end
      end
      stub_const("ActiveSupport::Notifications", notifications)
      described_class.register_event("step.completed")
      dry = []
      described_class.publisher.subscribe("step.completed") do |event|
        dry << event
        raise "dry listener broke"
      end
      with_log { TaskerCore::Events.publish_locally(step_event) }
      expect(notifications.calls).to eq([["step.completed", step_event.notification_payload]])
      expect(notifications.calls.first.last.keys).to all(be_a(String))
      expect(dry.map(&:to_h)).to eq([step_event.notification_payload.transform_keys(&:to_sym)])
    end

    it "receives a worker's events of a real task" do
      name = "dry_bridge_#{SecureRandom.hex(4)}"
      TaskerCore.register_task(name: name, namespace: "rspec_dry",
                               steps: [{ name: "first", handler_class: "DryEventsBridgeSpec::Ok" },
                                       { name: "second", handler_class: "DryEventsBridgeSpec::Ok",
                                         depends_on: ["first"] }])
      described_class.register_catalog(client)
      handled = []
      lock = Mutex.new
      described_class.publisher.subscribe("step.handle") { |event| lock.synchronize { handled << event } }
      task = TaskerCore.create_task(name: name, namespace: "rspec_dry", client: client)
      expect(TaskerCore.run_task(task, timeout: 30, client: client, concurrency: 2)).to be_complete

      mine = handled.select { |event| event[:task_id] == task.task_id }
      expect(mine.map { |event| event[:step_name] }).to eq(%w[first second])
      expect(mine.map { |event| event[:correlation_id] }.uniq).to eq([task.correlation_id])
      expect(mine.map { |event| event[:namespace] }.uniq).to eq(["rspec_dry"])
    end
  end
end
