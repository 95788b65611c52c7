# frozen_string_literal: true

RSpec.describe TaskerCore::Client do
  with_tasker_schema

  describe ".new" do
    it "creates a handle in its own schema" do
      expect(client.handle_id).to be_a(Integer)
      expect(client.schema).to eq(tasker_schema)
      expect(client.pid).to eq(Process.pid)
      expect(client).not_to be_closed
      found = TaskerCoreSpec::Database.psql(TaskerCoreSpec::Database.url,
                                            "SELECT count(*) FROM pg_tables WHERE schemaname = '#{tasker_schema}' " \
                                            "AND tablename = 'tasker_tasks'")
      expect(found.strip).to eq("1")
    end

    it "works in the schema it was given, not in another client's" do
      other_schema = TaskerCoreSpec::Database.new_schema
      other = described_class.new(database_url: TaskerCoreSpec::Database.url, schema: other_schema, migrate: true)
      task = other.create_task(linear_spec)
      expect(other.task_execution_context(task.task_id).correlation_id).to eq(task.correlation_id)
      # Ids are per schema (each has its own sequences): the same id may exist here, as another task.
      seen_here = begin
        client.task_execution_context(task.task_id).correlation_id
      rescue TaskerCore::NotFoundError
        nil
      end
      expect(seen_here).not_to eq(task.correlation_id)
    ensure
      other&.close
    end
  end

  describe "#migrate!" do
    it "is idempotent and reports the schema version" do
      result = client.migrate!
      expect(result).to be_a(TaskerCore::MigrationResult)
      expect(result.applied).to eq([])
      expect(result.schema_version).to eq(TaskerCore.version[:schema_version])
    end
  end

  describe "#close" do
    let(:own) { described_class.new(database_url: TaskerCoreSpec::Database.url, schema: tasker_schema) }

    it "frees the handle, once" do
      handle = own.handle_id
      expect(own.close).to be_nil
      expect(own).to be_closed
      expect(own.close).to be_nil
      envelope = TaskerCore::Native.client_free(handle)
      expect(envelope["ok"]).to be(false)
      expect(envelope["error"]["type"]).to eq("ffi_error")
    end

    it "makes every later call raise FFIError without calling the library" do
      own.close
      expect(TaskerCore::Native).not_to receive(:call)
      expect { own.system_health }.to raise_error(TaskerCore::FFIError, /closed/)
      expect { own.task_execution_context(1) }.to raise_error(TaskerCore::FFIError, /closed/)
    end

    it "raises the library's FFIError when the handle was freed behind the client's back" do
      TaskerCore::Native.client_free(own.handle_id)
      expect { own.system_health }.to raise_error(TaskerCore::FFIError) { |e| expect(e.type).to eq("ffi_error") }
    end
  end

  describe "fork safety of a client" do
    it "raises ForkError in a process that did not create it, without calling the library" do
      creator = client.pid
      allow(Process).to receive(:pid).and_return(creator + 1)
      expect(TaskerCore::Native).not_to receive(:call)
      expect { client.system_health }.to raise_error(TaskerCore::ForkError, /created in process #{creator}/)
    end
  end

  describe "finalizer" do
    it "frees the handles of clients nobody closed, and does not keep them alive" do
      result = run_ruby(<<~RUBY, timeout: 120)
        url = ENV.fetch("TASKER_TEST_DATABASE_URL")
        handles = Array.new(20) { TaskerCore::Client.new(database_url: url).handle_id }
        5.times { GC.start(full_mark: true, immediate_sweep: true) }
        alive = ObjectSpace.each_object(TaskerCore::Client).count
        # A handle freed by the finalizer is unknown to the library now.
        freed = handles.count { |h| TaskerCore::Native.client_free(h)["ok"] == false }
        puts JSON.generate(alive: alive, freed: freed)
      RUBY
      expect(result).to be_success, result.describe
      counts = JSON.parse(result.stdout.lines.last)
      expect(counts["freed"]).to be >= 15 # conservative GC may keep one or two alive
      expect(counts["alive"]).to be <= 5
    end

    it "does not call into the library from a forked child" do
      handle = TaskerCore::Client::Handle.new(123, pid: Process.pid + 1)
      expect(TaskerCore::Native).not_to receive(:release_handle)
      TaskerCore::Client::Handle.finalizer(handle).call(0)
      expect(handle).not_to be_released
    end

    it "frees in the creating process" do
      handle = TaskerCore::Client::Handle.new(456)
      expect(TaskerCore::Native).to receive(:release_handle).with(456).and_return(true)
      TaskerCore::Client::Handle.finalizer(handle).call(0)
      expect(handle).to be_released
    end
  end

  describe "#transition_task and #task_transitions" do
    it "moves the task through its states and keeps the audit trail" do
      task = client.create_task(linear_spec)
      started = client.transition_task(task.task_id, :in_progress, metadata: { "by" => "rspec" })
      expect(started).to be_a(TaskerCore::Transition)
      expect(started.to_state).to eq("in_progress")
      expect(started.from_state).to eq("pending")
      expect(started.owner_id).to eq(task.task_id)
      expect(started.created_at).to be_a(Time).and be_utc
      expect(started.created_at).to be_within(60).of(Time.now)

      expect { client.transition_task(task.task_id, "complete") }
        .to raise_error(TaskerCore::StateTransitionError) # guard: steps are not complete
      expect { client.transition_task(task.task_id, "cancelled", from_state: "pending") }
        .to raise_error(TaskerCore::StateTransitionError)

      run_steps(client, task.step_ids.values_at("A"))
      run_steps(client, task.step_ids.values_at("B"))
      run_steps(client, task.step_ids.values_at("C"))
      run_steps(client, task.step_ids.values_at("D"))
      client.transition_task(task.task_id, "complete", from_state: "in_progress")

      trail = client.task_transitions(task.task_id)
      expect(trail.map(&:to_state).last(2)).to eq(%w[in_progress complete])
      expect(trail.map(&:sort_key)).to eq(trail.map(&:sort_key).sort)
      expect(trail.find { |t| t.to_state == "in_progress" }.metadata).to include("by" => "rspec")
      expect(client.task_execution_context(task.task_id).status).to eq("complete")
    end
  end

  describe "#step_readiness" do
    it "reports every step, or the requested ones, with reasons" do
      task = client.create_task(diamond_spec)
      rows = client.step_readiness(task.task_id)
      expect(rows.map(&:name)).to match_array(%w[A B C D])
      by_name = rows.to_h { |r| [r.name, r] }
      expect(by_name["A"]).to be_ready
      expect(by_name["A"].reason).to eq(:ready)
      expect(by_name["D"]).to be_waiting_for_dependencies
      expect(by_name["D"].total_parents).to eq(2)
      expect(by_name["D"].completed_parents).to eq(0)

      some = client.step_readiness(task.task_id, step_ids: [task.step_id("B")])
      expect(some.map(&:name)).to eq(["B"])
    end

    it "answers as_of a time" do
      task = client.create_task(linear_spec)
      rows = client.step_readiness(task.task_id, as_of: Time.now + 3600)
      expect(rows.count(&:ready?)).to eq(1)
    end
  end

  describe "#system_health, #analytics, #slowest_tasks, #slowest_steps" do
    before(:context) do
      @done = @tasker_client.create_task(linear_spec(unique_name("metrics")))
      %w[A B C D].each { |n| run_steps(@tasker_client, @done.step_id(n)) }
    end

    it "counts tasks and steps" do
      health = client.system_health
      expect(health).to be_a(TaskerCore::SystemHealth)
      expect(health.total_tasks).to be >= 1
      expect(health.complete_steps).to be >= 4
      expect(health.max_connections).to be > 0
    end

    it "reports analytics since a time" do
      since = Time.utc(2020, 1, 1)
      metrics = client.analytics(since: since)
      expect(metrics).to be_a(TaskerCore::AnalyticsMetrics)
      expect(metrics.analysis_period_start).to eq(since)
      expect(metrics.step_throughput).to be >= 4
      expect(client.analytics.analysis_period_start).to be_a(Time)
    end

    it "lists the slowest tasks and steps" do
      tasks = client.slowest_tasks(limit: 50, namespace: TaskerCoreSpec::Workflows::NAMESPACE)
      expect(tasks).to all(be_a(TaskerCore::SlowTask))
      mine = tasks.find { |t| t.task_id == @done.task_id }
      expect(mine).not_to be_nil
      expect(mine.step_count).to eq(4)
      expect(mine.created_at).to be_a(Time)

      steps = client.slowest_steps(limit: 100, task_name: mine.task_name)
      expect(steps.map(&:step_name)).to match_array(%w[A B C D])
      expect(steps.map(&:completed_at)).to all(be_a(Time))
    end

    it "validates the filters" do
      expect { client.slowest_tasks(limit: 0 - 1) }.to raise_error(TaskerCore::ValidationError)
      expect { client.slowest_steps(bogus: 1) }.to raise_error(TaskerCore::ValidationError, /bogus/)
    end
  end
end
