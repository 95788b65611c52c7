# frozen_string_literal: true

# A worker under the Rails app (rake tasker_core:worker) runs handlers that use
# ActiveRecord: 8 handler threads, a pool of 5 connections, checkout_timeout 1
# (spec/rails_app/config/database.yml). Each handler run is wrapped in the
# app's executor, which returns its connection to the pool.
RSpec.describe "a Tasker Core worker in a Rails app" do
  let(:app) { TaskerCoreSpec::RailsApp.shared }
  let(:test_url) { TaskerCoreSpec::Database.with_database(TaskerCoreSpec::Database.server_url, "#{app.database}_test") }

  def sql(query)
    TaskerCoreSpec::Database.psql(test_url, query).strip
  end

  def create_audit_task
    result = app.script(<<~RUBY)
      puts TaskerCore.client.create_task_from_template(name: "audit", namespace: "audit", version: "1.0.0").task_id
    RUBY
    raise result.describe unless result.success?

    Integer(result.stdout.strip)
  end

  def log_size
    File.size?(app.path("log/test.log")).to_i
  end

  def log_since(offset)
    File.open(app.path("log/test.log")) do |f|
      f.seek(offset)
      f.read
    end
  end

  # Waits (up to +timeout+ seconds) for the block to be true; → whether it was.
  def eventually(timeout: 60)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
    loop do
      return true if yield
      return false if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

      sleep 0.25
    end
  end

  def start_worker(name, env = {})
    app.spawn([RbConfig.ruby, "bin/rails", "tasker_core:worker"], name: name,
              env: { "RAILS_ENV" => "test", "TASKER_EXECUTION_MAX_CONCURRENT_STEPS" => "8" }.merge(env))
  end

  it "runs every step at concurrency 8 with a pool of 5 (no ConnectionTimeoutError), logging to Rails.logger and ActiveSupport::Notifications" do
    task_id = create_audit_task
    offset = log_size
    events = app.path("tmp", "notifications.log")
    pid = start_worker("worker", "SPEC_NOTIFICATIONS_LOG" => events, "TASKER_LOGGING_LEVEL" => "debug")
    begin
      finished = eventually { sql("SELECT complete FROM tasker.tasker_tasks WHERE task_id = #{task_id}") == "t" }
      status = app.stop(pid)
      pid = nil
      output = "#{File.read(app.path('tmp/worker.out'))}\n#{File.read(app.path('tmp/worker.err'))}"
      expect(finished).to be(true), "the task did not complete\n#{output}\n#{log_since(offset)[-4000..]}"
      expect(status&.success?).to be(true), "the worker did not stop cleanly on TERM: #{status.inspect}\n#{output}"
      expect(output).to include("Tasker Core worker stopped")
    ensure
      app.stop(pid, signal: "KILL") if pid
    end
    expect(sql("SELECT count(*) FROM visits WHERE task_id = #{task_id}")).to eq("16")
    expect(sql("SELECT count(*) FROM tasker.tasker_workflow_step_transitions t JOIN tasker.tasker_workflow_steps s " \
               "ON s.workflow_step_id = t.workflow_step_id WHERE s.task_id = #{task_id} AND t.to_state = 'error'"))
      .to eq("0")
    log = log_since(offset)
    expect(log).not_to include("ConnectionTimeoutError")
    expect(log).to include("TaskerCore::Worker").and include("step completed") # Rails.logger has the gem's lines
    names = File.readlines(events).map(&:split).select { |_, id| id == task_id.to_s }.map(&:first)
    expect(names).to include("step.handle", "observability.step.handle", "workflow.steps_execution_completed")
  end

  it "without the executor wrapping (the control), the same handlers exhaust the pool" do
    task_id = create_audit_task
    offset = log_size
    pid = start_worker("worker_unwrapped", "SPEC_UNWRAPPED_HANDLERS" => "1")
    begin
      timed_out = eventually(timeout: 45) { log_since(offset).include?("ConnectionTimeoutError") }
      expect(timed_out).to be(true), "no ConnectionTimeoutError: #{log_since(offset)[-3000..]}"
    ensure
      app.stop(pid, signal: "KILL") if pid
      sql("UPDATE tasker.tasker_tasks SET complete = true WHERE task_id = #{task_id}") # out of the other workers' way
    end
  end
end
