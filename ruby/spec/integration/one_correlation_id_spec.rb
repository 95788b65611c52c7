# frozen_string_literal: true

require "json"
require "logger"
require "securerandom"
require "stringio"
require "tmpdir"

module OneCorrelationIdSpecHandlers
  class Logs < TaskerCore::StepHandler::Base
    def call(task, _sequence, step)
      TaskerCore.structured_logger.info("probe ran", task_id: task.task_id, step_name: step.name)
      { "ok" => true }
    end
  end
end

# One correlation id joins a task's Ruby log lines, the Go library's log lines and
# its events.
RSpec.describe "one correlation id end to end", :integration do
  it "appears in a Ruby log line, a Go log line and an event of the same task" do
    TaskerCoreSpec::Database.prepare!
    schema = TaskerCoreSpec::Database.new_schema
    Dir.mktmpdir do |dir|
      go_log = File.join(dir, "go.log")
      client = TaskerCore::Client.new(database_url: TaskerCoreSpec::Database.url, schema: schema, migrate: true,
                                      logging: { level: "debug", output: go_log })
      ruby_io = StringIO.new
      original = TaskerCore.logger
      TaskerCore.logger = Logger.new(ruby_io).tap { |l| l.formatter = ->(_s, _t, _p, msg) { "#{msg}\n" } }
      begin
        name = "one_id_#{SecureRandom.hex(4)}"
        TaskerCore.register_task(name: name, namespace: "rspec_one_id",
                                 steps: [{ name: "only", handler_class: "OneCorrelationIdSpecHandlers::Logs" }])
        task = TaskerCore.create_task(name: name, namespace: "rspec_one_id", client: client)
        expect(TaskerCore.run_task(task, timeout: 30, client: client, concurrency: 1)).to be_complete
        id = task.correlation_id

        ruby_lines = ruby_io.string.lines.filter_map { |l| JSON.parse(l) rescue nil } # rubocop:disable Style/RescueModifier
        expect(ruby_lines.select { |l| l["message"] == "probe ran" }.map { |l| l["correlation_id"] }).to eq([id])

        go_lines = File.readlines(go_log).map { |l| JSON.parse(l) }
        go_task_lines = go_lines.select { |l| l["task_id"] == task.task_id }
        expect(go_task_lines.map { |l| l["message"] }).to include("task created", "step claimed", "step reported")
        expect(go_task_lines.map { |l| l["correlation_id"] }.uniq).to eq([id])

        batch = client.fetch_events(subscriber: "one-id-#{SecureRandom.hex(4)}", limit: 1000)
        events = batch.events.select { |e| e.task_id == task.task_id }
        expect(events.map(&:name)).to include("task.completed", "step.completed")
        expect(events.map(&:correlation_id).uniq).to eq([id])
      ensure
        TaskerCore.logger = original
        client.close
      end
    end
  end
end
