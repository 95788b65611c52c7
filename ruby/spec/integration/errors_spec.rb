# frozen_string_literal: true

# Real errors from the library, raised as the classes of docs/ffi.md with their
# message and details intact.
RSpec.describe "Errors from the library", :integration do
  with_tasker_schema

  it "raises NotFoundError for an unknown task, with details[\"task_id\"]" do
    [:task_execution_context, :viable_steps, :analyze_dependencies, :step_readiness].each do |method|
      expect { client.public_send(method, 2**62) }.to raise_error(TaskerCore::NotFoundError) { |e|
        expect(e.type).to eq("not_found")
        expect(e.details["task_id"]).to eq(2**62)
        expect(e.message).to include((2**62).to_s)
      }
    end
  end

  it "raises NotFoundError for an unknown step's transitions and an unknown task's transition" do
    expect { client.transition_task(2**62, "in_progress") }.to raise_error(TaskerCore::NotFoundError)
  end

  it "raises DependencyCycleError with details[\"cycle\"] from create_task" do
    spec = { name: unique_name("cycle"), namespace: "rspec",
             steps: [{ name: "a", depends_on: ["b"] }, { name: "b", depends_on: ["a"] }] }
    expect { client.create_task(spec) }.to raise_error(TaskerCore::DependencyCycleError) { |e|
      expect(e).to be_a(TaskerCore::ValidationError)
      expect(e.details["cycle"]).to match_array(%w[a b])
      expect(e.message).to include("a").and include("b")
    }
  end

  it "raises StateTransitionError for an illegal task transition" do
    task = client.create_task(linear_spec)
    expect { client.transition_task(task.task_id, "resolved_manually") }
      .to raise_error(TaskerCore::StateTransitionError) { |e|
        expect(e.type).to eq("state_transition_error")
        expect(e.message).to include("resolved_manually")
      }
  end

  it "raises ValidationError naming the field for a bad spec" do
    expect { client.create_task(steps: [{ name: "a" }]) }.to raise_error(TaskerCore::ValidationError) { |e|
      expect(e.class).to eq(TaskerCore::ValidationError)
      expect(e.details["field"]).to eq("name")
    }
    expect { client.create_task(name: unique_name("t"), steps: [{ name: "a", depends_on: ["nope"] }]) }
      .to raise_error(TaskerCore::ValidationError, /nope/)
    expect { client.create_task(name: unique_name("t"), steps: [{ name: "a" }], colour: "red") }
      .to raise_error(TaskerCore::ValidationError, /colour/)
  end

  it "raises ValidationError for a payload Ruby cannot encode, without calling the library" do
    expect(TaskerCore::Native).not_to receive(:call)
    expect { client.create_task(name: "t", steps: [{ name: "a" }], context: { "x" => Float::NAN }) }
      .to raise_error(TaskerCore::ValidationError, /JSON/)
  end

  it "raises ConfigurationError for a bad configuration" do
    expect { TaskerCore::Client.new(database_url: "not a url at all://") }
      .to raise_error(TaskerCore::ConfigurationError) { |e| expect(e.type).to eq("configuration_error") }
    expect { TaskerCore::Client.new(database_url: TaskerCoreSpec::Database.url, max_connections: -1) }
      .to raise_error(TaskerCore::ConfigurationError, /max_connections/)
    expect do
      TaskerCore::Client.new(database_url: TaskerCoreSpec::Database.url,
                             retry_policy: { strategy: "exponential", base_seconds: -5 })
    end.to raise_error(TaskerCore::ConfigurationError)
  end

  it "raises ConfigurationError or ValidationError for an unknown configuration key" do
    expect { TaskerCore::Client.new(database_url: TaskerCoreSpec::Database.url, colour: "red") }
      .to raise_error(TaskerCore::Error) { |e|
        expect([TaskerCore::ConfigurationError, TaskerCore::ValidationError]).to include(e.class)
        expect(e.message).to include("colour")
      }
  end

  it "raises DatabaseError for an unreachable server" do
    url = "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2"
    expect do
      unreachable = TaskerCore::Client.new(database_url: url, acquire_timeout_ms: 2000)
      begin
        unreachable.system_health
      ensure
        unreachable.close
      end
    end.to raise_error(TaskerCore::DatabaseError) { |e| expect(e.type).to eq("database_error") }
  end

  it "raises FFIError for a freed handle" do
    other = TaskerCore::Client.new(database_url: TaskerCoreSpec::Database.url, schema: tasker_schema)
    TaskerCore::Native.client_free(other.handle_id)
    expect { other.system_health }.to raise_error(TaskerCore::FFIError) { |e| expect(e.type).to eq("ffi_error") }
  end

  {
    "a statement timeout" => { statement_timeout_ms: 1 },
    "the call's deadline" => { call_timeout_ms: 1 }
  }.each do |what, config|
    it "raises TimeoutError when #{what} passes" do
      slow = TaskerCore::Client.new(database_url: TaskerCoreSpec::Database.url, schema: tasker_schema, **config)
      task = client.create_task(wide_spec(300))
      expect do
        20.times do
          slow.task_execution_context(task.task_id)
          slow.step_readiness(task.task_id)
        end
      end.to raise_error(TaskerCore::TimeoutError) { |e| expect(e.type).to eq("timeout_error") }
    ensure
      slow&.close
    end
  end
end
