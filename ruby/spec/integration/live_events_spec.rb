# frozen_string_literal: true

require "securerandom"
require "stringio"

# The client's live event stream from Ruby: Client#event_metrics, #event_catalog,
# the stream operations and Events::LiveRelay delivering a real task's events.
module LiveEventsSpec
  module_function

  def wait_for(what, seconds = 30)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
    until yield
      raise "timed out waiting for #{what}" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

      sleep 0.02
    end
  end

  # The number of outbox events of +task_id+, read by a throwaway subscriber.
  def outbox_count(client, task_id)
    client.fetch_events(subscriber: "count-#{SecureRandom.hex(6)}", limit: 10_000)
          .events.count { |e| e.task_id == task_id }
  end
end

RSpec.describe "Events: the live stream", :integration do
  with_tasker_schema

  before(:context) { TaskerCoreSpec::OrchestrationTemplates.register_all }

  after do
    TaskerCore::Events.reset!
    client.close_event_stream
  end

  let(:namespace) { TaskerCoreSpec::OrchestrationTemplates::NAMESPACE }
  let(:template_dir) { File.expand_path("../../../core/template/testdata", __dir__) }

  def create_diamond
    TaskerCore.create_task(name: "diamond", namespace: namespace, client: client, context: { "n" => 1 })
  end

  def run(task)
    expect(TaskerCore.run_task(task, timeout: 60, client: client, concurrency: 2)).to be_complete
  end

  # Collects (thread-safely) what TaskerCore::Events dispatches; subscribed
  # before the task is created, so that nothing of it is missed.
  def collect(into:, lock:, pattern: "*")
    TaskerCore::Events.subscribe(pattern) { |event| lock.synchronize { into << event } }
  end

  def of_task(events, lock, task)
    lock.synchronize { events.select { |event| event.task_id == task.task_id } }
  end

  def with_log
    io = StringIO.new
    original = TaskerCore.logger
    TaskerCore.logger = Logger.new(io)
    yield io
  ensure
    TaskerCore.logger = original
  end

  describe "the client's operations" do
    it "lists the catalog: system events and a registered template's custom events" do
      catalog = client.event_catalog
      completed = catalog.find { |d| d["name"] == "step.completed" }
      expect(completed).to include("custom" => false, "delivery" => "durable")
      expect(completed["payload_schema"]["required"]).to include("step_id", "step_name")
      expect(catalog.map { |d| d["name"] }).to include("step.before_transition", "workflow.steps_execution_started",
                                                       "observability.task.handle")
      expect(catalog).to be_frozen
      expect(catalog.map { |d| d["name"] }).not_to include("order.fulfilled")

      client.register_templates(paths: File.join(template_dir, "good/order_fulfillment.yaml"))
      custom = client.event_catalog.find { |d| d["name"] == "order.fulfilled" }
      expect(custom).to include("custom" => true)
    end

    it "opens one stream, reads batches with live-only events, and closes it" do
      expect(client.read_event_stream).to have_attributes(open: false, events: [])
      expect(client.event_metrics).to include("enabled" => true, "stream_open" => false)
      expect(client.open_event_stream(patterns: %w[step.* task.initialize_requested]))
        .to eq(%w[step.* task.initialize_requested])
      expect { client.open_event_stream }.to raise_error(TaskerCore::ValidationError, /already open/)
      expect(client.event_metrics).to include("stream_open" => true, "listening" => true)

      task = client.create_task(name: "live-#{SecureRandom.hex(4)}", steps: [{ name: "a" }])
      client.claim_steps(worker_id: "spec", task_id: task.task_id)
      events = []
      LiveEventsSpec.wait_for("the claim's events") do
        events.concat(client.read_event_stream(wait_ms: 200).events)
        events.any? { |e| e.name == "step.execution_requested" }
      end
      mine = events.select { |e| e.task_id == task.task_id }
      expect(mine.map(&:name)).to eq(%w[task.initialize_requested step.initialize_requested
                                         step.before_transition step.execution_requested])
      expect(mine.map(&:durable?)).to eq([true, true, false, true])
      before = mine[2]
      expect([before.event_id, before.task_seq, before.payload["to_state"]]).to eq([0, 0, "in_progress"])
      expect(mine.map(&:correlation_id).uniq).to eq([task.correlation_id])

      expect(client.close_event_stream).to be(true)
      expect(client.close_event_stream).to be(false)
      expect(client.read_event_stream(wait_ms: 10)).not_to be_open
    end

    it "refuses a bad wait_ms or pattern" do
      expect { client.read_event_stream(wait_ms: 60_001) }.to raise_error(TaskerCore::ValidationError, /wait_ms/)
      expect { client.read_event_stream(wait_ms: -1) }.to raise_error(TaskerCore::ValidationError, /wait_ms/)
      expect { client.open_event_stream(patterns: ["st*ep"]) }.to raise_error(TaskerCore::ValidationError, /pattern/)
      expect(client.event_metrics["stream_open"]).to be(false)
    end
  end

  describe TaskerCore::Events::LiveRelay do
    it "delivers a task's events in order, live-only ones included, and closes the stream on stop" do
      events = []
      lock = Mutex.new
      relay = described_class.new(client: client, wait_ms: 200).start
      expect(relay).to be_running
      expect(client.event_metrics["stream_open"]).to be(true)
      collect(into: events, lock: lock)
      task = create_diamond
      run(task)
      n = LiveEventsSpec.outbox_count(client, task.task_id)
      relayed = -> { of_task(events, lock, task).reject { |e| e.task_seq.nil? } } # not the worker's own
      LiveEventsSpec.wait_for("every durable event") { relayed.call.count(&:durable?) >= n }
      expect(relay.stop(timeout: 10)).to be(true)
      expect(relay).not_to be_running
      expect(client.event_metrics["stream_open"]).to be(false)

      got = relayed.call
      expect(got.select(&:durable?).map(&:task_seq)).to eq((1..n).to_a)
      expect(got.map(&:correlation_id).uniq).to eq([task.correlation_id])
      names = got.map(&:name)
      expect(names).to include("task.before_transition", "observability.task.enqueue", "observability.task.finalize",
                               "observability.step.find_viable", "workflow.orchestration_requested")
      expect(got.reject(&:durable?).map(&:task_seq).uniq).to eq([0])
      task.step_ids.each_value do |step_id|
        before = names.each_index.find do |i|
          got[i].name == "step.before_transition" && got[i].step_id == step_id &&
            got[i].payload["to_state"] == "in_progress"
        end
        requested = names.each_index.find { |i| got[i].name == "step.execution_requested" && got[i].step_id == step_id }
        expect(before).not_to be_nil
        expect(requested).not_to be_nil
        expect(before).to be < requested
      end
      m = relay.metrics
      expect(m[:events]).to be >= got.size
      expect(m[:deliveries]).to be >= got.size
      expect(m[:batches]).to be >= 1
      expect(m[:skipped]).to eq(0)
      expect(m[:max_latency]).to be > 0
    end

    it "passes only the live-only events with only_live: true" do
      events = []
      lock = Mutex.new
      relay = described_class.new(client: client, wait_ms: 200, only_live: true).start
      expect(relay).to be_only_live
      collect(into: events, lock: lock)
      task = create_diamond
      run(task)
      n = LiveEventsSpec.outbox_count(client, task.task_id)
      LiveEventsSpec.wait_for("the durable events to be skipped") { relay.metrics[:skipped] >= n }
      expect(relay.stop(timeout: 10)).to be(true)

      relayed = of_task(events, lock, task).reject { |e| e.task_seq.nil? }
      expect(relayed).not_to be_empty
      expect(relayed).to all(satisfy { |e| !e.durable? })
      expect(relayed.map(&:name)).to include("step.before_transition", "observability.step.find_viable",
                                             "observability.task.enqueue")
      expect(relayed.map(&:name)).not_to include("step.completed", "task.completed")
    end

    it "keeps relaying when a subscriber raises, and logs it" do
      events = []
      lock = Mutex.new
      TaskerCore::Events.subscribe("step.before_transition") { |_e| raise KeyError, "live subscriber broke" }
      with_log do |io|
        relay = described_class.new(client: client, patterns: ["step.*", "task.completed"], wait_ms: 200).start
        collect(into: events, lock: lock, pattern: "task.completed")
        first = create_diamond
        second = create_diamond
        run(first)
        run(second)
        mine = -> { lock.synchronize { events.map(&:task_id) & [first.task_id, second.task_id] } }
        LiveEventsSpec.wait_for("both tasks' task.completed") { mine.call.size >= 2 }
        expect(relay).to be_running
        expect(relay.stop(timeout: 10)).to be(true)
        expect(mine.call).to eq([first.task_id, second.task_id])
        expect(io.string).to include("KeyError").and include("live subscriber broke")
      end
    end

    it "opens the stream again when someone else closed it" do
      events = []
      lock = Mutex.new
      relay = described_class.new(client: client, patterns: "task.*", wait_ms: 200).start
      expect(client.close_event_stream).to be(true)
      LiveEventsSpec.wait_for("the stream to be open again") { client.event_metrics["stream_open"] }
      collect(into: events, lock: lock)
      task = create_diamond
      run(task)
      names = -> { of_task(events, lock, task).map(&:name) }
      LiveEventsSpec.wait_for("task.completed") { names.call.include?("task.completed") }
      expect(relay.stop(timeout: 10)).to be(true)
      expect(names.call).to include("task.initialize_requested", "task.start_requested")
    end

    it "can be stopped by a subscriber, from the relay's own thread" do
      relay = nil
      answers = []
      TaskerCore::Events.subscribe("task.initialize_requested") { |_e| answers << relay.stop }
      relay = described_class.new(client: client, wait_ms: 200).start
      client.create_task(name: "stop-#{SecureRandom.hex(4)}", steps: [{ name: "a" }])
      LiveEventsSpec.wait_for("the relay to end") { !relay.running? }
      expect(answers.first).to be(false) # it does not wait for itself
      expect(client.event_metrics["stream_open"]).to be(false)
      expect(relay.start).to be_running # and it can start again
      expect(client.event_metrics["stream_open"]).to be(true)
      expect(relay.stop(timeout: 10)).to be(true)
    end

    it "raises from start what opening the stream raises" do
      client.open_event_stream
      relay = described_class.new(client: client)
      expect { relay.start }.to raise_error(TaskerCore::ValidationError, /already open/)
      expect(relay).not_to be_running
      expect { described_class.new(client: client, patterns: []) }.to raise_error(ArgumentError)
    end

    it "logs a library error and retries after a pause" do
      broken = instance_double(TaskerCore::Client, open_event_stream: ["*"], close_event_stream: true)
      calls = 0
      allow(broken).to receive(:read_event_stream) do
        calls += 1
        raise TaskerCore::DatabaseError.new("connection refused", type: "database_error")
      end
      with_log do |io|
        relay = described_class.new(client: broken, error_pause: 0.05).start
        LiveEventsSpec.wait_for("three failed reads", 5) { calls >= 3 }
        expect(relay.stop(timeout: 5)).to be(true)
        expect(relay.metrics[:library_errors]).to be >= 3
        expect(io.string).to include("DatabaseError").and include("connection refused")
      end
      expect(broken).to have_received(:close_event_stream).at_least(:once)
    end
  end
end

RSpec.describe "Events: a live stream nobody reads", :integration do
  with_tasker_schema(events: { buffer_size: 2, overflow: "drop_newest", delivery_timeout_ms: 200 })

  after { client.close_event_stream }

  it "drops what overflows the buffer and fails the batches not read in time, and counts both" do
    expect(client.event_metrics).to include("buffer_size" => 2, "overflow" => "drop_newest")
    client.open_event_stream
    3.times { |i| client.create_task(name: "overflow-#{i}", steps: (1..4).map { |j| { name: "s#{j}" } }) }
    LiveEventsSpec.wait_for("drops and failed deliveries", 20) do
      m = client.event_metrics
      m["dropped"].positive? && m["failed"].positive?
    end
    m = client.event_metrics
    expect(m["published"]).to be > m["dropped"]
    expect(m["delivered"]).to eq(0) # the stream was never read
  end
end
