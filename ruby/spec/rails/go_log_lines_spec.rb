# frozen_string_literal: true

# The Go library's log lines reach Rails.logger (the Railtie sets
# TaskerCore.logger to it) instead of stderr (issue 13, point 7). This needs
# the gem's hook that hands the library's lines to TaskerCore.logger.
RSpec.describe "the library's log lines in a Rails app" do
  let(:app) { TaskerCoreSpec::RailsApp.shared }

  it "go to Rails.logger (log/test.log), not to stderr" do
    log = app.path("log/test.log")
    offset = File.size?(log).to_i
    result = app.script(<<~RUBY, env: { "TASKER_LOGGING_LEVEL" => "debug" })
      TaskerCore.client.system_health
      TaskerCore.reset_client!
      Rails.logger.flush if Rails.logger.respond_to?(:flush)
      puts TaskerCore.logger.equal?(Rails.logger)
    RUBY
    expect(result).to be_success, result.describe
    expect(result.stdout.strip).to eq("true")
    written = File.open(log) { |f| f.seek(offset) && f.read }
    expect(written).to include("client opened"), "log/test.log got:\n#{written[-2000..] || written}\nstderr:\n#{result.stderr[-2000..]}"
    expect(result.stderr).not_to include("client opened")
  end
end
