# frozen_string_literal: true

require "securerandom"

# The durable event outbox from Ruby: Client#fetch_events / #ack_events and an
# Events::Listener delivering a real task's lifecycle to TaskerCore::Events subscribers.
RSpec.describe "Events: durable outbox delivered to subscribers", :integration do
  with_tasker_schema

  before(:context) { TaskerCoreSpec::OrchestrationTemplates.register_all }

  after { TaskerCore::Events.reset! }

  let(:namespace) { TaskerCoreSpec::OrchestrationTemplates::NAMESPACE }

  def run_diamond
    task = TaskerCore.create_task(name: "diamond", namespace: namespace, client: client, context: { "n" => 1 })
    expect(TaskerCore.run_task(task, timeout: 60, client: client, concurrency: 2)).to be_complete
    task
  end

  # The number of events the task wrote (its transitions' and orchestration's), read
  # by a throwaway subscriber that never acknowledges.
  def event_count(task)
    batch = client.fetch_events(subscriber: "count-#{SecureRandom.hex(6)}", limit: 10_000)
    batch.events.count { |e| e.task_id == task.task_id }
  end

  # Collects the task's events (thread-safe) from TaskerCore::Events.
  def collect(task, into:, lock:)
    TaskerCore::Events.subscribe("*") do |event|
      lock.synchronize { into << event } if event.task_id == task.task_id
    end
  end

  def wait_for(seconds = 30)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
    until yield
      raise "timed out" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

      sleep 0.02
    end
  end

  def fresh_name
    "spec-#{SecureRandom.hex(6)}"
  end

  it "returns the same events until acknowledged, and never after" do
    task = client.create_task(name: "ack", steps: [{ name: "a" }])
    name = fresh_name
    first = client.fetch_events(subscriber: name, limit: 1)
    expect(first).to be_a(TaskerCore::EventBatch)
    expect(first.size).to eq(1)
    expect(first).not_to be_drained
    again = client.fetch_events(subscriber: name, limit: 1)
    expect(again.events).to eq(first.events)
    expect(client.ack_events(subscriber: name, batch: first)).to be(true)
    rest = client.fetch_events(subscriber: name, limit: 100)
    mine = ->(batch) { batch.events.select { |e| e.task_id == task.task_id }.map(&:task_seq) }
    # task.initialize_requested, step.initialize_requested, workflow.orchestration_requested
    expect(mine.call(first) + mine.call(rest)).to eq([1, 2, 3])
    expect(rest.events).not_to include(first.events.first)
    expect { client.ack_events(subscriber: name, batch: {}) }.to raise_error(TaskerCore::ValidationError, /batch/)
    expect { client.fetch_events(subscriber: name, wait_ms: 60_001) }
      .to raise_error(TaskerCore::ValidationError, /wait_ms/)
    expect(client.prune_events).to eq(0) # nothing is older than events.retention_hours
  end

  it "delivers every event of a diamond task exactly once, in task_seq order, with its correlation id" do
    task = run_diamond
    n = event_count(task)
    events = []
    lock = Mutex.new
    collect(task, into: events, lock: lock)
    listener = TaskerCore::Events::Listener.new(client: client, subscriber: fresh_name, wait_ms: 200,
                                                from: :beginning)
    expect(listener.limit).to be_nil # read when it starts: building a listener loads nothing
    listener.start
    wait_for { listener.limit }
    expect(listener.limit).to eq(100) # events.batch_size
    wait_for { lock.synchronize { events.size >= n } }
    sleep 0.5 # a repeat would show up here
    expect(listener.stop(timeout: 10)).to be(true)
    expect(listener).not_to be_running

    expect(events.map(&:task_seq)).to eq((1..n).to_a)
    lifecycle = events.map(&:name).select { |name| name.start_with?("task.", "step.") }
    expect(lifecycle.size).to eq(3 + 4 * 3) # the transitions' events; the rest are workflow.* / observability.*
    expect(lifecycle.last).to eq("task.completed")
    expect(events.map(&:name)).to include("workflow.task_completed", "workflow.viable_steps_discovered")
    expect(events.last.name).to eq("workflow.task_finalization_completed")
    completed = events.select { |e| e.name == "step.completed" }
    expect(completed.map(&:step_id)).to match_array(task.step_ids.values)
    expect(completed.map { |e| e.payload["step_name"] }).to match_array(%w[A B C D])
    expect(events.map(&:correlation_id).uniq).to eq([task.correlation_id])
    expect(task.correlation_id).to match(/\A\h{8}-\h{4}-\h{4}-\h{4}-\h{12}\z/)
    expect(events.map(&:namespace).uniq).to eq([namespace])
    expect(events.map(&:task_name).uniq).to eq(["diamond"])
    expect(events.map(&:created_at)).to all(be_a(Time).and(be_utc))
    m = listener.metrics
    expect(m[:events]).to be >= n # other tasks of the schema may be in the outbox too
    expect(m[:deliveries]).to be >= n
    expect(m[:batches]).to be >= 1
    expect(m[:max_latency]).to be > 0
    expect(m[:average_latency]).to be_between(0, m[:max_latency])
  end

  it "resumes after a stop under the same subscriber name without repeats or gaps" do
    task = run_diamond
    n = event_count(task)
    name = fresh_name
    first_run = []
    second_run = []
    lock = Mutex.new
    listener = nil
    TaskerCore::Events.subscribe("*") do |event|
      next unless event.task_id == task.task_id

      lock.synchronize { (listener.equal?(@first_listener) ? first_run : second_run) << event.task_seq }
      listener.stop if listener.equal?(@first_listener) # from the listener's thread: ends after this batch
    end
    @first_listener = listener = TaskerCore::Events::Listener.new(client: client, subscriber: name, limit: 3,
                                                                  wait_ms: 200, from: :beginning)
    listener.start
    wait_for { !listener.running? }
    # The first listener stopped after its first batch with events of the task.
    expect(first_run.size).to be_between(1, 3)

    # The name's cursor wins over from: (the default :now would skip the task's events otherwise).
    listener = TaskerCore::Events::Listener.new(client: client, subscriber: name, limit: 3, wait_ms: 200).start
    wait_for { lock.synchronize { first_run.size + second_run.size >= n } }
    sleep 0.5
    listener.stop(timeout: 10)
    expect(first_run + second_run).to eq((1..n).to_a)
  end

  describe "where a new listener starts (from:)" do
    # Starts a listener, waits until its first round is done (its cursor
    # exists), then creates a task: the listener's task ids, after the new one's
    # events arrived.
    def subscriber_exists?(name)
      TaskerCoreSpec::Database.psql(TaskerCoreSpec::Database.url,
                                    "SELECT count(*) FROM #{client.schema}.tasker_event_subscribers " \
                                    "WHERE subscriber = '#{name}'").strip == "1"
    end

    def seen_tasks(listener, old_task)
      seen = []
      lock = Mutex.new
      TaskerCore::Events.subscribe("task.*") { |e| lock.synchronize { seen << e.task_id } }
      listener.start
      wait_for { subscriber_exists?(listener.subscriber) } # its first fetch created the cursor
      fresh = client.create_task(name: "fresh", steps: [{ name: "a" }])
      wait_for { lock.synchronize { seen.include?(fresh.task_id) } }
      listener.stop(timeout: 10)
      [lock.synchronize { seen.dup }, fresh, old_task]
    end

    it "defaults to :now: the outbox's past is not replayed, what comes after is delivered" do
      old = client.create_task(name: "old", steps: [{ name: "a" }])
      listener = TaskerCore::Events::Listener.new(client: client, subscriber: fresh_name, wait_ms: 100)
      expect(listener.from).to eq(:now)
      seen, fresh, = seen_tasks(listener, old)
      expect(seen).to include(fresh.task_id)
      expect(seen).not_to include(old.task_id)
    end

    it "replays everything with :beginning, and the events since a Time with a Time" do
      old = client.create_task(name: "old", steps: [{ name: "a" }])
      cut = Time.now
      sleep 0.05
      mid = client.create_task(name: "mid", steps: [{ name: "a" }])
      seen, = seen_tasks(TaskerCore::Events::Listener.new(client: client, subscriber: fresh_name, wait_ms: 100,
                                                           from: :beginning), old)
      expect(seen).to include(old.task_id, mid.task_id)
      TaskerCore::Events.reset!
      seen, = seen_tasks(TaskerCore::Events::Listener.new(client: client, subscriber: fresh_name, wait_ms: 100,
                                                           from: cut), old)
      expect(seen).to include(mid.task_id)
      expect(seen).not_to include(old.task_id)
    end

    it "lets an existing durable cursor win over from:" do
      name = fresh_name
      client.fetch_events(subscriber: name, limit: 1) # the name exists, at the beginning, nothing acknowledged
      old = client.create_task(name: "old", steps: [{ name: "a" }])
      seen, = seen_tasks(TaskerCore::Events::Listener.new(client: client, subscriber: name, wait_ms: 100), old)
      expect(seen).to include(old.task_id)
    end

    it "refuses anything else" do
      expect { TaskerCore::Events::Listener.new(client: client, subscriber: "x", from: :yesterday) }
        .to raise_error(ArgumentError, /from must be :now, :beginning or a Time/)
      expect { client.fetch_events(subscriber: "x", from: 3) }.to raise_error(ArgumentError, /from must be/)
    end
  end

  it "logs a library error and retries after a pause" do
    io = StringIO.new
    original = TaskerCore.logger
    TaskerCore.logger = Logger.new(io)
    broken = instance_double(TaskerCore::Client, effective_config: { "values" => [] })
    calls = 0
    allow(broken).to receive(:fetch_events) do
      calls += 1
      raise TaskerCore::DatabaseError.new("connection refused", type: "database_error")
    end
    listener = TaskerCore::Events::Listener.new(client: broken, subscriber: fresh_name, error_pause: 0.05).start
    wait_for(5) { calls >= 3 }
    expect(listener.stop(timeout: 5)).to be(true)
    expect(io.string).to include("DatabaseError").and include("connection refused")
    expect(listener.limit).to be_nil # no events.batch_size: the library's default
  ensure
    TaskerCore.logger = original
  end
end
