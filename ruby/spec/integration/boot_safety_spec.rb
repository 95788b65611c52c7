# frozen_string_literal: true

require "tmpdir"

# What a Rails (or any preloading) app does at boot must leave the native library unloaded, so that
# the processes forked after it can load their own. Each example runs in a subprocess with a deadline.
RSpec.describe "Boot-time calls before a fork", :integration do
  let(:schema) { TaskerCoreSpec::Database.new_schema }
  let(:env) { { "TASKER_TEST_SCHEMA" => schema } }

  prelude = TaskerCoreSpec::Subprocess::FORK_PRELUDE

  it "configures, migrates, registers templates and builds a Listener, LiveRelay and Worker without loading the library" do
    TaskerCoreSpec::Database.psql(TaskerCoreSpec::Database.url, "CREATE SCHEMA #{schema}")
    result = run_ruby(prelude + <<~'RUBY', env: env, timeout: 120)
      TaskerCore.configure { |c| c.client_options = { database_url: URL, schema: SCHEMA } }
      migrated = TaskerCore.client.migrate!
      registered = TaskerCore.client.register_templates(yaml: <<~YAML, file: "boot.yml")
        name: boot_template
        namespace_name: boot
        version: 1.0.0
        steps:
          - name: only
            handler:
              callable: BootHandler
      YAML
      TaskerCore.register_task(name: "booted", namespace: "boot", steps: [{ name: "a", handler_class: "BootHandler" }])
      listener = TaskerCore::Events::Listener.new(subscriber: "boot-audit", wait_ms: 100)
      TaskerCore::Events::LiveRelay.new
      TaskerCore::Worker.new(concurrency: 1)
      puts "migrated=#{migrated.class.name} registered=#{registered.map { |t| t['name'] }.inspect} " \
           "parent_loaded=#{TaskerCore::Native.loaded?}"
      pids = Array.new(2) do
        fork do
          task = TaskerCore.create_task(name: "booted", namespace: "boot")
          from_db = TaskerCore.client.create_task_from_template(name: "boot_template", namespace: "boot", version: "1.0.0")
          listener.start
          ok = TaskerCore::Native.loaded_pid == Process.pid && task.task_id.positive? && from_db.task_id.positive?
          ok &&= TaskerCore.client.schema == SCHEMA
          ok &&= listener.stop(timeout: 10)
          exit!(ok ? 0 : 1)
        rescue StandardError => e
          $stderr.puts "child #{Process.pid}: #{e.class}: #{e.message}"
          exit!(1)
        end
      end
      codes = pids.map { |pid| wait_child(pid, 60) }
      puts "codes=#{codes.inspect} parent_still_unloaded=#{!TaskerCore::Native.loaded?}"
    RUBY
    expect(result).to be_success, result.describe
    expect(result.stdout).to include('migrated=TaskerCore::MigrationResult registered=["boot_template"] ' \
                                     "parent_loaded=false"), result.describe
    expect(result.stdout).to include("codes=[0, 0] parent_still_unloaded=true"), result.describe
  end

  it "runs an async worker thread (execution mode :async) started by the shared client's first call, stopped cleanly" do
    result = run_ruby(prelude + <<~'RUBY', env: env, timeout: 90)
      class AsyncEcho < TaskerCore::StepHandler::Base
        def call(_task, _sequence, step) = { "thread" => Thread.current.name }
      end
      TaskerCore.configure do |c|
        c.client_options = { database_url: URL, schema: SCHEMA, migrate: true }
        c.execution_mode = :async
        c.async_worker_options = { concurrency: 1, poll_interval: 0.02 }
      end
      TaskerCore.register_task(name: "async", namespace: "boot", steps: [{ name: "a", handler_class: "AsyncEcho" }])
      before = TaskerCore::AsyncWorker.current.nil?
      task = TaskerCore.create_task(name: "async", namespace: "boot") # the first call: opens, starts the worker
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 30
      sleep 0.05 until TaskerCore.client.task_execution_context(task.task_id).status == "complete" ||
                       Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
      status = TaskerCore.client.task_execution_context(task.task_id).status
      running = TaskerCore::AsyncWorker.current&.running?
      stopped = TaskerCore.stop_async_worker(timeout: 10)
      puts "before=#{before} status=#{status} running=#{running} stopped=#{stopped} " \
           "after=#{TaskerCore::AsyncWorker.current.inspect}"
    RUBY
    expect(result).to be_success, result.describe
    expect(result.stdout).to include("before=true status=complete running=true stopped=true after=nil"),
                             result.describe
  end

  it "starts no async worker by default (execution.mode external)" do
    result = run_ruby(prelude + <<~'RUBY', env: env, timeout: 60)
      TaskerCore.configure { |c| c.client_options = { database_url: URL, schema: SCHEMA, migrate: true } }
      TaskerCore.client.system_health
      puts "mode=#{TaskerCore::AsyncWorker.mode} current=#{TaskerCore::AsyncWorker.current.inspect} " \
           "started=#{TaskerCore.start_async_worker.inspect}"
    RUBY
    expect(result).to be_success, result.describe
    expect(result.stdout).to include("mode=external current=nil started=nil")
  end

  it "reports a boot-time call's error from the child process as the usual typed exception" do
    result = run_ruby(prelude + <<~'RUBY', env: env, timeout: 60)
      TaskerCore.configure { |c| c.client_options = { database_url: URL, schema: SCHEMA } }
      begin
        TaskerCore.client.register_templates(yaml: "name: [broken", file: "broken.yml")
      rescue TaskerCore::ValidationError => e
        puts "validation_error file=#{e.message.include?('broken.yml')}"
      end
      puts "parent_loaded=#{TaskerCore::Native.loaded?}"
    RUBY
    expect(result).to be_success, result.describe
    expect(result.stdout).to include("validation_error file=true"), result.describe
    expect(result.stdout).to include("parent_loaded=false")
  end

  it "raises a ForkError in a child that names the call that loaded the library and says what to do" do
    result = run_ruby(prelude + <<~'RUBY', env: env, timeout: 60)
      TaskerCore.configure { |c| c.client_options = { database_url: URL, schema: SCHEMA, migrate: true } }
      TaskerCore.client.system_health # loads the library in this (the parent) process
      reader, writer = IO.pipe
      pid = fork do
        reader.close
        begin
          TaskerCore.client.system_health
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
    message = result.stdout
    expect(message).to match(/It was loaded by \S+tasker_core_spec\S+\.rb:\d+/) # the script's line
    expect(message).to include("requiring it is safe")
    expect(message).to include("migrate! and register_templates run in a short-lived child process")
    expect(message).to include("on_worker_boot").and include("after_fork")
  end
end
