# frozen_string_literal: true

require "securerandom"
require "tmpdir"
require "uri"

# ${VAR} in config/tasker.yml sees the whole environment of the process, also
# variables set after the library loaded, not only TASKER_* and DATABASE_URL;
# only TASKER_* and DATABASE_URL are settings, and no value is echoed unmasked.
RSpec.describe "${VAR} interpolation in the configuration file", :integration do
  with_tasker_schema

  let(:suffix) { SecureRandom.hex(4).upcase }
  let(:password_var) { "SOME_DB_PASSWORD_VAR_#{suffix}" }
  let(:schema_var) { "SOME_SCHEMA_VAR_#{suffix}" }
  let(:password) { "pw-#{SecureRandom.hex(6)}" }

  around do |example|
    TaskerCore.version # the library (and its Go runtime's copy of environ) is loaded before ENV changes
    database_url = ENV.delete("DATABASE_URL") # it would win over the file's url
    example.run
  ensure
    [password_var, schema_var, "LOGGING_LEVEL", "EXECUTION_LEASE_SECONDS"].each { |k| ENV.delete(k) }
    ENV["DATABASE_URL"] = database_url if database_url
  end

  it "opens a client whose URL takes its password from a non-TASKER variable set at runtime" do
    uri = URI.parse(TaskerCoreSpec::Database.url)
    url = "#{uri.scheme}://#{uri.user}:${#{password_var}}@#{uri.host}:#{uri.port}#{uri.path}" \
          "#{uri.query ? "?#{uri.query}" : ''}"
    ENV[password_var] = password
    ENV[schema_var] = tasker_schema
    ENV["LOGGING_LEVEL"] = "debug"           # looks like a setting, but only TASKER_* are
    ENV["EXECUTION_LEASE_SECONDS"] = "7"

    Dir.mktmpdir do |dir|
      file = File.join(dir, "tasker.yml")
      File.write(file, <<~YAML)
        test:
          database:
            url: #{url}
            schema: ${#{schema_var}}
      YAML
      c = TaskerCore::Client.new(config_file: file, environment: "test")
      begin
        values = c.effective_config["values"].to_h { |v| [v["key"], v] }
        expect(values["database.schema"]).to include("value" => tasker_schema, "source" => "file")
        expect(values["database.url"]["value"]).to eq(url.sub("${#{password_var}}", "***"))
        expect(values["logging.level"]).to include("value" => "warn", "source" => "default")
        expect(values["execution.lease_seconds"]).to include("source" => "default")
        expect(JSON.generate(c.effective_config)).not_to include(password)
        expect(c.system_health).to be_a(TaskerCore::SystemHealth)
      ensure
        c.close
      end
    end
  end

  it "still says which variable is missing" do
    Dir.mktmpdir do |dir|
      file = File.join(dir, "tasker.yml")
      File.write(file, "test:\n  database:\n    url: postgres://u:${#{password_var}}@127.0.0.1/db\n")
      expect { TaskerCore::Client.new(config_file: file, environment: "test") }
        .to raise_error(TaskerCore::ConfigurationError, /environment variable #{password_var} is not set/)
    end
  end
end
