# frozen_string_literal: true

require "json"

# The native library's log lines reach TaskerCore.logger (a Ruby Logger here; Rails.logger under Rails)
# with their level and fields, and not stderr (logging.output "host", the default).
RSpec.describe "Native log lines in the Ruby logger", :integration do
  let(:schema) { TaskerCoreSpec::Database.new_schema }

  it "writes the library's lines to TaskerCore.logger at their level, as JSON with their fields, and nothing to stderr" do
    result = run_ruby(<<~'RUBY', env: { "TASKER_TEST_SCHEMA" => schema }, timeout: 60)
      require "stringio"
      io = StringIO.new
      TaskerCore.logger = Logger.new(io, level: Logger::DEBUG)
      client = TaskerCore::Client.new(database_url: ENV.fetch("TASKER_TEST_DATABASE_URL"),
                                      schema: ENV.fetch("TASKER_TEST_SCHEMA"), migrate: true,
                                      logging: { level: "debug" })
      client.system_health
      client.close
      TaskerCore.version # lines logged after the last call come with the next one
      print io.string
    RUBY
    expect(result).to be_success, result.describe
    lines = result.stdout.lines.map do |line|
      m = /\A(\w), \[[^\]]+\] +(\w+) -- tasker_core: (\{.*\})\s*\z/.match(line)
      m && { severity: m[2], fields: JSON.parse(m[3]) }
    end.compact
    by_message = lines.group_by { |l| l[:fields]["message"] }
    opened = by_message.fetch("client opened").first
    expect(opened[:severity]).to eq("INFO")
    expect(opened[:fields]).to include("level" => "info", "component" => "api", "schema" => schema, "migrate" => true)
    expect(opened[:fields]["database_url"]).not_to be_nil
    call = by_message.fetch("call").find { |l| l[:fields]["method"] == "get_system_health" }
    expect(call[:severity]).to eq("DEBUG")
    expect(call[:fields]).to include("duration_ms")
    closed = by_message.fetch("client closed").first
    expect(closed[:severity]).to eq("DEBUG") # not info: it is logged at every exit
    expect(result.stderr).not_to include("client opened")
    expect(result.stderr).not_to include("\"level\"")
  end

  it "maps the library's levels to Logger severities" do
    expect(TaskerCore::NativeLog::SEVERITIES.values_at("trace", "debug", "info", "warn", "error", "fatal"))
      .to eq([Logger::DEBUG, Logger::DEBUG, Logger::INFO, Logger::WARN, Logger::ERROR, Logger::ERROR])
  end

  it "reports dropped lines and never raises from a broken logger" do
    io = StringIO.new
    saved = TaskerCore.instance_variable_get(:@logger)
    TaskerCore.logger = Logger.new(io)
    TaskerCore::NativeLog.deliver([{ "level" => "warn", "message" => "x" }], 3)
    expect(io.string).to include('WARN -- tasker_core: {"level":"warn","message":"x"}')
    expect(io.string).to include("dropped 3 log line(s)")
    TaskerCore.logger = Object.new # no #add
    expect(TaskerCore::NativeLog.deliver([{ "level" => "info" }], 0)).to be_nil
  ensure
    TaskerCore.logger = saved
  end
end
