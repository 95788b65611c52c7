# frozen_string_literal: true

require "tmpdir"

# A config_file that is not a regular file must be refused, not read: /dev/zero
# used to kill the process with a Go out-of-memory abort and a FIFO hung it
# forever. Each case runs in a child process with a deadline, so a regression
# fails the example (killed or timed out) instead of taking the suite down.
RSpec.describe "A config_file that is not a regular file", :integration do
  around do |example|
    Dir.mktmpdir("tasker-config") do |dir|
      @dir = dir
      example.run
    end
  end

  # Opens a client with +config_file+ in a child and prints the error's class and
  # message.
  def open_in_child(config_file, env: {})
    script = <<~RUBY
      begin
        TaskerCore::Client.new(database_url: ENV.fetch("TASKER_TEST_DATABASE_URL"), config_file: #{config_file.dump})
        puts "opened"
      rescue TaskerCore::Error => e
        puts e.class.name, e.message
      end
    RUBY
    result = run_ruby(script, timeout: 30, env: env)
    expect(result).to be_success, result.describe
    result.stdout.lines.map(&:chomp)
  end

  it "refuses /dev/zero with a ConfigurationError naming the path" do
    expect(open_in_child("/dev/zero"))
      .to eq(["TaskerCore::ConfigurationError",
              "configuration file /dev/zero is a character device, not a regular file"])
  end

  it "refuses a FIFO with a ConfigurationError naming the path, without blocking" do
    fifo = File.join(@dir, "tasker.yml")
    File.mkfifo(fifo)
    expect(open_in_child(fifo))
      .to eq(["TaskerCore::ConfigurationError", "configuration file #{fifo} is a named pipe (FIFO), not a regular file"])
  end

  it "refuses a file over files.max_bytes" do
    big = File.join(@dir, "big.yml")
    File.write(big, "# #{'x' * 200}\n")
    expect(open_in_child(big, env: { "TASKER_FILES_MAX_BYTES" => "100" }))
      .to eq(["TaskerCore::ConfigurationError", "configuration file #{big} is larger than files.max_bytes (100 bytes)"])
  end
end
