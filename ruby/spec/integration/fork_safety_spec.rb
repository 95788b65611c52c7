# frozen_string_literal: true

# A Go runtime does not survive fork(): the gem must never call into a library
# its process inherited. Everything runs in a subprocess with a deadline, so a
# hang fails the example instead of hanging the suite.
RSpec.describe "Fork safety", :integration do
  let(:schema) { TaskerCoreSpec::Database.new_schema }
  let(:env) { { "TASKER_TEST_SCHEMA" => schema } }

  prelude = TaskerCoreSpec::Subprocess::FORK_PRELUDE

  it "lets a child use the gem when the parent only required it (lazy loading)" do
    # Created here: two children creating one schema at once race in the library
    # (see concurrent_migration_spec.rb); this example is about loading.
    TaskerCoreSpec::Database.psql(TaskerCoreSpec::Database.url, "CREATE SCHEMA #{schema}")
    result = run_ruby(prelude + <<~RUBY, env: env, timeout: 90)
      abort "loaded before fork" if TaskerCore::Native.loaded?
      pids = Array.new(2) do
        fork do
          client = TaskerCore::Client.new(database_url: URL, schema: SCHEMA, migrate: true)
          task = client.create_task(name: "forked_\#{Process.pid}", namespace: "rspec", steps: [{ name: "a" }])
          ok = client.viable_steps(task.task_id).map(&:name) == ["a"] && TaskerCore::Native.loaded_pid == Process.pid
          shared = TaskerCore.client(database_url: URL, schema: SCHEMA)
          ok &&= shared.system_health.total_tasks >= 1
          client.close
          exit!(ok ? 0 : 1)
        rescue StandardError => e
          $stderr.puts "child \#{Process.pid}: \#{e.class}: \#{e.message}"
          exit!(1)
        end
      end
      codes = pids.map { |pid| wait_child(pid, 60) }
      puts "codes=\#{codes.inspect} parent_loaded=\#{TaskerCore::Native.loaded?}"
    RUBY
    expect(result).to be_success, result.describe
    expect(result.stdout).to include("codes=[0, 0] parent_loaded=false"), result.describe
  end

  it "raises ForkError in a child when the parent had loaded the library, promptly and without hanging" do
    result = run_ruby(prelude + <<~RUBY, env: env, timeout: 90)
      client = TaskerCore::Client.new(database_url: URL, schema: SCHEMA, migrate: true)
      client.system_health # the library is loaded and its runtime running
      parent = Process.pid
      pid = fork do
        raised = []
        [
          -> { client.system_health },
          -> { TaskerCore::Native.noop("{}") },
          -> { TaskerCore.version },
          -> { TaskerCore::Client.new(database_url: URL, schema: SCHEMA) },
          -> { TaskerCore.client(database_url: URL) },
          -> { client.close }
        ].each_with_index do |call, i|
          call.call
          $stderr.puts "call \#{i} did not raise"
        rescue TaskerCore::ForkError => e
          raised << i if e.message.include?("process \#{parent}") && e.message.include?(Process.pid.to_s)
        end
        # exit (not exit!): at_exit handlers and finalizers run, and must not call the library either.
        exit(raised.size == 6 ? 42 : 1)
      end
      code = wait_child(pid, 30)
      puts "child=\#{code} parent_ok=\#{client.system_health.total_tasks >= 0}"
    RUBY
    expect(result).to be_success, result.describe
    expect(result.stdout).to include("child=42 parent_ok=true"), result.describe
  end

  it "says what happened and what to do" do
    result = run_ruby(prelude + <<~RUBY, env: env, timeout: 60)
      TaskerCore.version
      reader, writer = IO.pipe
      pid = fork do
        reader.close
        begin
          TaskerCore.version
        rescue TaskerCore::ForkError => e
          writer.write(e.message)
        end
        writer.close
        exit!(0)
      end
      writer.close
      wait_child(pid, 30)
      print reader.read
    RUBY
    expect(result).to be_success, result.describe
    expect(result.stdout).to match(/loaded in process \d+ before this process \(\d+\) was forked/)
    expect(result.stdout).to include("a Go runtime cannot be used across fork")
    expect(result.stdout).to include("requiring it is safe")
    expect(result.stdout).to include("on_worker_boot").and include("after_fork")
  end
end
