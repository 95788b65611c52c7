# frozen_string_literal: true

# The Go runtime installs signal handlers of its own when the library loads; Ruby's
# trap handlers must keep working, also while threads are inside the library.
RSpec.describe "Signal handling", :integration do
  let(:schema) { TaskerCoreSpec::Database.new_schema }

  it "runs Ruby's TERM handler while threads call into the library, and exits normally" do
    result = run_ruby(<<~RUBY, env: { "TASKER_TEST_SCHEMA" => schema }, timeout: 90)
      client = TaskerCore::Client.new(database_url: ENV.fetch("TASKER_TEST_DATABASE_URL"),
                                      schema: ENV.fetch("TASKER_TEST_SCHEMA"), migrate: true)
      task = client.create_task(name: "signals", namespace: "rspec",
                                steps: [{ name: "a" }, { name: "b", depends_on: ["a"] }])
      20.times { client.viable_steps(task.task_id) }

      received = 0
      trap("TERM") { received += 1 }
      stop = false
      calls = Queue.new
      workers = Array.new(4) do
        Thread.new do
          n = 0
          until stop
            raise "wrong answer" unless client.viable_steps(task.task_id).map(&:name) == ["a"]
            TaskerCore::Native.noop("{}")
            n += 1
          end
          calls << n
        end
      end
      sleep 0.2
      10.times do
        Process.kill("TERM", Process.pid)
        sleep 0.05
      end
      deadline = Time.now + 10
      sleep 0.05 until received >= 1 || Time.now > deadline
      sleep 0.2
      stop = true
      workers.each(&:join)
      total = Array.new(4) { calls.pop }.sum
      # One more call after the signals: the runtime is still fine.
      ok = client.task_execution_context(task.task_id).ready_steps == 1
      client.close
      puts "received=\#{received} calls=\#{total} ok=\#{ok}"
    RUBY
    expect(result).to be_success, result.describe
    line = result.stdout[/received=(\d+) calls=(\d+) ok=(\w+)/]
    expect(line).not_to be_nil, result.describe
    received, calls, ok = Regexp.last_match.captures
    expect(received.to_i).to be_between(1, 10)
    expect(calls.to_i).to be > 0
    expect(ok).to eq("true")
  end

  it "still lets INT interrupt the process with Ruby's default handler (Interrupt)" do
    result = run_ruby(<<~RUBY, timeout: 60)
      TaskerCore::Native.noop("{}")
      begin
        Thread.new { sleep 0.2; Process.kill("INT", Process.pid) }
        loop { TaskerCore::Native.noop("{}") }
      rescue Interrupt
        puts "interrupted"
      end
    RUBY
    expect(result).to be_success, result.describe
    expect(result.stdout).to eq("interrupted\n")
  end
end
