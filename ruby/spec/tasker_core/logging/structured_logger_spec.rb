# frozen_string_literal: true

require "stringio"

RSpec.describe TaskerCore::StructuredLogger do
  let(:io) { StringIO.new }
  let(:target) { Logger.new(io, level: Logger::DEBUG, formatter: ->(_s, _t, _p, msg) { "#{msg}\n" }) }
  let(:logger) { described_class.new(target) }

  def lines
    io.string.lines.map { |line| JSON.parse(line) }
  end

  it "writes one JSON line per call with the Go library's fields" do
    error = TaskerCore::RetryableError.new("card service down")
    TaskerCore::Correlation.with("0190b6a4-0000-7000-8000-000000000001") do
      logger.info("step completed", task_id: 7, step_id: 70, step_name: "charge", namespace: "shop",
                                    attempt: 2, duration_ms: 12.5)
      logger.error("step failed", task_id: 7, error: error)
    end
    logger.warn("no correlation")
    logger.debug("explicit", correlation_id: "given")

    expect(io.string.lines.size).to eq(4)
    first, second, third, fourth = lines
    expect(first).to eq(
      "time" => first["time"], "level" => "info", "message" => "step completed", "component" => "ruby",
      "correlation_id" => "0190b6a4-0000-7000-8000-000000000001", "task_id" => 7, "step_id" => 70,
      "step_name" => "charge", "namespace" => "shop", "attempt" => 2, "duration_ms" => 12.5
    )
    expect(first["time"]).to match(/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\z/)
    expect(Time.iso8601(first["time"])).to be_within(5).of(Time.now)
    expect(second).to include("level" => "error", "task_id" => 7,
                              "error" => { "type" => "TaskerCore::RetryableError", "message" => "card service down" })
    expect(third).to include("level" => "warn", "message" => "no correlation")
    expect(third).not_to have_key("correlation_id")
    expect(fourth).to include("level" => "debug", "correlation_id" => "given")
  end

  it "leaves filtering to the target's level" do
    target.level = Logger::WARN
    logger.info("hidden")
    logger.warn("shown")
    expect(lines.map { |l| l["message"] }).to eq(["shown"])
  end

  it "masks passwords of postgres URLs in every string field" do
    url = "postgres://tasker:s3cr3t-pa55@db.example:5432/tasker?sslmode=disable"
    logger.error("cannot connect to #{url}", step_name: "postgresql://u:s3cr3t-pa55@h/d",
                                              error: RuntimeError.new("dial #{url}: refused"),
                                              extra: "host=db password=s3cr3t-pa55 user=x")
    expect(io.string).not_to include("s3cr3t-pa55")
    line = lines.first
    expect(line["message"]).to eq("cannot connect to postgres://tasker:***@db.example:5432/tasker?sslmode=disable")
    expect(line["step_name"]).to eq("postgresql://u:***@h/d")
    expect(line["error"]["message"]).to include("postgres://tasker:***@db.example")
    expect(line["extra"]).to eq("host=db password=*** user=x")
  end

  describe "TaskerCore.structured_logger" do
    around do |example|
      saved = TaskerCore.instance_variable_get(:@logger)
      example.run
    ensure
      TaskerCore.logger = saved
    end

    it "writes to TaskerCore.logger, memoized until the logger changes" do
      TaskerCore.logger = target
      first = TaskerCore.structured_logger
      expect(TaskerCore.structured_logger).to equal(first)
      expect(first.target).to equal(target)

      other = Logger.new(StringIO.new)
      TaskerCore.logger = other
      expect(TaskerCore.structured_logger).not_to equal(first)
      expect(TaskerCore.structured_logger.target).to equal(other)
    end
  end
end
