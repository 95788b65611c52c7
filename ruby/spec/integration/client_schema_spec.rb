# frozen_string_literal: true

require "tmpdir"

RSpec.describe "Client#schema", :integration do
  it "is the schema of config/tasker.yml when none is given to new" do
    schema = TaskerCoreSpec::Database.new_schema
    Dir.mktmpdir do |dir|
      path = File.join(dir, "tasker.yml")
      File.write(path, "test:\n  database:\n    schema: #{schema}\n")
      client = TaskerCore::Client.new(database_url: TaskerCoreSpec::Database.url, config_file: path,
                                      environment: "test", migrate: true)
      begin
        expect(client.schema).to eq(schema)
        expect(client.system_health.total_tasks).to eq(0) # it really works there
      ensure
        client.close
      end
    end
  end

  it "is nil for the server's default schema" do
    client = TaskerCore::Client.new(database_url: TaskerCoreSpec::Database.url, lazy: true)
    expect(client).not_to be_opened
    expect(client.schema).to be_nil
    expect(client).to be_opened # reading it from the configuration opened the lazy client
  ensure
    client&.close
  end
end
