# frozen_string_literal: true

# Every string the library returns is freed: 100,000 calls leave RSS flat.
RSpec.describe "Memory", :integration do
  let(:schema) { TaskerCoreSpec::Database.new_schema }

  it "does not grow over 100,000 calls after a warm-up" do
    result = run_ruby(<<~'RUBY', env: { "TASKER_TEST_SCHEMA" => schema }, timeout: 300)
      def rss_kb = File.read("/proc/self/status")[/^VmRSS:\s+(\d+)/, 1].to_i
      client = TaskerCore::Client.new(database_url: ENV.fetch("TASKER_TEST_DATABASE_URL"),
                                      schema: ENV.fetch("TASKER_TEST_SCHEMA"), migrate: true)
      task = client.create_task(name: "memory", steps: [{ name: "a" }, { name: "b", depends_on: ["a"] }])
      payload = JSON.generate("padding" => "x" * 1000)
      run = lambda do |n|
        n.times do |i|
          if (i % 50).zero?
            client.task_execution_context(task.task_id)
          elsif (i % 50) == 1
            begin
              client.task_execution_context(2**62) # an error envelope
            rescue TaskerCore::NotFoundError
              nil
            end
          else
            TaskerCore::Native.noop(payload)
          end
        end
      end
      run.call(10_000)
      GC.start(full_mark: true, immediate_sweep: true)
      before = rss_kb
      run.call(100_000)
      GC.start(full_mark: true, immediate_sweep: true)
      after = rss_kb
      puts "before_kb=#{before} after_kb=#{after}"
    RUBY
    expect(result).to be_success, result.describe
    before, after = result.stdout.scan(/before_kb=(\d+) after_kb=(\d+)/).first.map(&:to_i)
    growth_mb = (after - before) / 1024.0
    expect(growth_mb).to be < 50, "RSS grew by #{growth_mb.round(1)} MB (#{before} -> #{after} kB)"
    TaskerCore.logger.info("memory: RSS #{before} -> #{after} kB over 100,000 calls")
  end
end
