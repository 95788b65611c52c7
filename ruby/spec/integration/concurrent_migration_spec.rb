# frozen_string_literal: true

# Several processes (or threads) starting at once against a new schema, each with
# migrate: true, must all get a working client.
RSpec.describe "Concurrent client creation with migrate: true", :integration do
  it "gives every one of 8 threads a client on one fresh schema (3 schemas in a row)" do
    results = []
    3.times do
      schema = TaskerCoreSpec::Database.new_schema
      ready = Queue.new
      go = Queue.new
      threads = Array.new(8) do
        Thread.new do
          ready << true
          go.pop
          TaskerCore::Client.new(database_url: TaskerCoreSpec::Database.url, schema: schema, migrate: true)
        rescue TaskerCore::Error => e
          e
        end
      end
      8.times { ready.pop }
      8.times { go << true }
      results.concat(threads.map(&:value))
    end
    errors = results.grep(TaskerCore::Error).map { |e| "#{e.class}: #{e.message}" }
    expect(errors).to eq([])
  ensure
    results&.each { |r| r.close if r.is_a?(TaskerCore::Client) }
  end
end
