# frozen_string_literal: true

require "stringio"

module CorrelationSpecHandlers
  SEEN = Queue.new

  class Probe < TaskerCore::StepHandler::Base
    def call(task, _sequence, step)
      SEEN << { task_id: task.task_id, step: step.name, task_correlation_id: task.correlation_id,
                correlation_id: TaskerCore::Correlation.id }
      TaskerCore.structured_logger.info("probe ran", task_id: task.task_id, step_name: step.name)
      { "ok" => true }
    end
  end
end

RSpec.describe "correlation ids", :integration do
  with_tasker_schema

  let(:name) { "correlation_probe_#{SecureRandom.hex(4)}" }
  let(:namespace) { "rspec_correlation" }

  before do
    TaskerCore.register_task(name: name, namespace: namespace,
                             steps: [{ name: "a", handler_class: "CorrelationSpecHandlers::Probe" },
                                     { name: "b", handler_class: "CorrelationSpecHandlers::Probe",
                                       depends_on: ["a"] }])
  end

  def spec_for(**options)
    TaskerCore.handler_registry.fetch(name: name, namespace: namespace, version: TaskerCore::TaskTemplate::DEFAULT_VERSION)
              .to_task_spec(context: {}, **options)
  end

  it "gives a task created inside Correlation.with the current id" do
    id = TaskerCore::Correlation.generate
    created = TaskerCore::Correlation.with(id) do
      [client.create_task(spec_for),
       client.create_task(JSON.parse(JSON.generate(spec_for))), # string keys
       TaskerCore.create_task(name: name, namespace: namespace, client: client)]
    end
    expect(created.map(&:correlation_id)).to eq([id, id, id])
  end

  it "keeps a correlation_id given in the spec" do
    own = TaskerCore::Correlation.generate
    task = TaskerCore::Correlation.with(TaskerCore::Correlation.generate) do
      client.create_task(spec_for(correlation_id: own))
    end
    expect(task.correlation_id).to eq(own)
  end

  it "lets the library choose outside Correlation.with, or under an id that is not a UUID" do
    outside = client.create_task(spec_for)
    token = TaskerCore::Correlation.with("req-42") { client.create_task(spec_for) }
    expect([outside.correlation_id, token.correlation_id]).to all(match(/\A\h{8}-\h{4}-\h{4}-\h{4}-\h{12}\z/))
    expect(token.correlation_id).not_to eq("req-42")
  end

  it "gives a task created from a database template the current id" do
    template = <<~YAML
      name: #{name}_db
      namespace_name: #{namespace}
      version: 1.0.0
      steps:
        - name: only
          handler:
            callable: CorrelationSpecHandlers::Probe
    YAML
    client.register_templates(yaml: template)
    id = TaskerCore::Correlation.generate
    task = TaskerCore::Correlation.with(id) do
      client.create_task_from_template(name: "#{name}_db", namespace: namespace, version: "1.0.0", context: {})
    end
    expect(task.correlation_id).to eq(id)
  end

  describe "running a task" do
    around do |example|
      saved = TaskerCore.instance_variable_get(:@logger)
      example.run
    ensure
      TaskerCore.logger = saved
    end

    it "runs each handler under its task's correlation id, which its log lines and the worker's carry" do
      io = StringIO.new
      TaskerCore.logger = Logger.new(io, level: Logger::DEBUG, formatter: ->(_s, _t, _p, msg) { "#{msg}\n" })
      CorrelationSpecHandlers::SEEN.clear
      task = TaskerCore.create_task(name: name, namespace: namespace, client: client)
      other = TaskerCore::Correlation.generate

      result = TaskerCore::Correlation.with(other) { TaskerCore.run_task(task, timeout: 60, client: client) }
      expect(result).to be_complete

      seen = Array.new(CorrelationSpecHandlers::SEEN.size) { CorrelationSpecHandlers::SEEN.pop }
      expect(seen.map { |s| s[:step] }).to eq(%w[a b])
      expect(seen.map { |s| s[:correlation_id] }).to eq([task.correlation_id] * 2)
      expect(seen.map { |s| s[:task_correlation_id] }).to eq([task.correlation_id] * 2)

      json = io.string.lines.filter_map do |line|
        JSON.parse(line)
      rescue JSON::ParserError
        nil
      end
      probes = json.select { |l| l["message"] == "probe ran" }
      expect(probes.size).to eq(2)
      expect(probes).to all(include("correlation_id" => task.correlation_id, "task_id" => task.task_id,
                                    "component" => "ruby", "level" => "info"))

      completed = json.select { |l| l["message"] == "step completed" }
      expect(completed.map { |l| l["step_name"] }).to eq(%w[a b])
      expect(completed).to all(include("correlation_id" => task.correlation_id, "task_id" => task.task_id,
                                       "namespace" => namespace, "attempt" => 1))
      expect(completed.map { |l| l["step_id"] }).to eq([task.step_id("a"), task.step_id("b")])
      expect(completed).to all(include("duration_ms" => a_kind_of(Numeric)))
      expect(TaskerCore::Correlation.id).to be_nil
    end
  end
end
