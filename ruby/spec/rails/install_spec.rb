# frozen_string_literal: true

# rails g tasker_core:install, db:migrate, the schema dump and load, and the
# configuration a Rails app gives Tasker Core (issue 13, points 1-4).
RSpec.describe "Tasker Core in a Rails app: install, migrate, schema, configuration" do
  let(:app) { TaskerCoreSpec::RailsApp.shared }

  def sql(environment, query)
    url = TaskerCoreSpec::Database.with_database(TaskerCoreSpec::Database.server_url, "#{app.database}_#{environment}")
    TaskerCoreSpec::Database.psql(url, query).strip
  end

  it "generates config/tasker.yml (ERB, per environment), the initializer, a migration, bin/tasker_worker and an example" do
    yml = app.read("config/tasker.yml")
    expect(yml).to include('<%= ENV.fetch("TASKER_DB_POOL", 10) %>').and include("development:").and include("test:")
      .and include("production:").and include("schema: tasker")
    expect(app.read("config/initializers/tasker_core.rb")).to include("config.tasker_core")
    migration = Dir[app.path("db/migrate/*_install_tasker_core.rb")]
    expect(migration.size).to eq(1)
    expect(File.read(migration.first)).to include("class InstallTaskerCore < ActiveRecord::Migration[6.1]")
      .and include("TaskerCore::Rails::Migrator")
    expect(File.executable?(app.path("bin/tasker_worker"))).to be(true)
    expect(app.read("app/handlers/example/greet_handler.rb")).to include("class GreetHandler < TaskerCore::StepHandler::Base")
    expect(app.read("config/tasker/templates/example.yml")).to include("callable: Example::GreetHandler")
  end

  it "installs Tasker Core through db:migrate in a schema of its own, so db/schema.rb holds only the app's tables" do
    expect(sql("dev", "SELECT to_regclass('tasker.tasker_tasks') IS NOT NULL, to_regclass('public.tasker_tasks') IS NULL"))
      .to eq("t|t")
    expect(sql("dev", "SELECT count(*) > 0 FROM pg_proc WHERE pronamespace = 'tasker'::regnamespace " \
                      "AND proname = 'tasker_uuid_v7'")).to eq("t")
    schema = app.read("db/schema.rb")
    expect(schema).to include('create_table "visits"')
    expect(schema).not_to include("tasker_")
    expect(schema).not_to include("Could not dump")
  end

  it "db:test:prepare and RAILS_ENV=test db:schema:load give the test database Tasker Core's schema, and a client works there" do
    drop = "DROP SCHEMA tasker CASCADE"
    present = "SELECT count(*) = 1 FROM pg_proc WHERE proname = 'tasker_uuid_v7' AND pronamespace = to_regnamespace('tasker')"
    sql("test", drop)
    expect(sql("test", present)).to eq("f")
    app.rails!("db:test:prepare")
    expect(sql("test", present)).to eq("t")

    sql("test", drop)
    app.rails!("db:schema:load", env: { "RAILS_ENV" => "test" })
    expect(sql("test", present)).to eq("t")

    result = app.script(<<~RUBY)
      task = TaskerCore.client.create_task_from_template(name: "greeting", namespace: "example", version: "1.0.0",
                                                         context: { name: "Ada" })
      puts TaskerCore.run_task(task, timeout: 60).status
    RUBY
    expect(result).to be_success, result.describe
    expect(result.stdout.strip).to eq("complete")
  end

  it "takes the database from ActiveRecord's configuration (no DATABASE_URL) without opening an ActiveRecord connection" do
    result = app.script(<<~RUBY)
      values = TaskerCore.client.effective_config["values"].to_h { |v| [v["key"], v] }
      puts values["database.url"]["value"], values["database.url"]["origin"], values["database.schema"]["value"]
      puts ENV.key?("DATABASE_URL"), ActiveRecord::Base.connected?
    RUBY
    expect(result).to be_success, result.describe
    url, origin, schema, env_url, connected = result.stdout.lines.map(&:strip)
    expect(url).to end_with("/#{app.database}_test")
    expect(origin).to eq("Rails (ActiveRecord test/primary)")
    expect(schema).to eq("tasker")
    expect([env_url, connected]).to eq(%w[false false])
  end

  it "evaluates ERB in config/tasker.yml and takes config.tasker_core over the file" do
    result = app.script(<<~RUBY, env: { "TASKER_DB_POOL" => "3" })
      values = TaskerCore.client.effective_config["values"].to_h { |v| [v["key"], v] }
      puts values["database.pool.max_connections"].values_at("value", "source").join(" ")
      TaskerCore.reset_client!
      Rails.application.config.tasker_core.max_connections = 4
      values = TaskerCore.client.effective_config["values"].to_h { |v| [v["key"], v] }
      puts values["database.pool.max_connections"].values_at("value", "source").join(" ")
    RUBY
    expect(result).to be_success, result.describe
    expect(result.stdout.lines.map(&:strip)).to eq(["3 file", "4 explicit"])
  end

  it "rake tasker_core:migrate and tasker_core:status report the schema, pending migrations and system health" do
    status = app.rails!("tasker_core:migrate", "tasker_core:status", env: { "RAILS_ENV" => "test" })
    expect(status.stdout).to match(/Tasker Core schema version \d+: nothing to apply/)
    expect(status.stdout).to include("(test): database postgres://").and include("_test, schema tasker")
      .and include("pending migrations: none").and include("SQL functions: current").and match(/system health: tasks \d+/)
    listed = app.rails!("-T", "tasker_core")
    expect(listed.stdout).to include("tasker_core:migrate").and include("tasker_core:status").and include("tasker_core:worker")
      .and include("tasker_core:doctor")
    doctor = app.rails!("tasker_core:doctor", env: { "RAILS_ENV" => "test" })
    expect(doctor.stdout).to include("nothing to change")
  end

  it "tasker_core:upgrade adds a migration that brings an outdated schema up through db:migrate" do
    app.rails!("generate", "tasker_core:upgrade")
    migration = Dir[app.path("db/migrate/*_upgrade_tasker_core_to_*.rb")]
    expect(migration.size).to eq(1)
    # As if an older gem had installed other SQL functions.
    sql("dev", "UPDATE tasker.tasker_core_schema_migrations SET checksum = 'older' WHERE version = 0")
    expect(app.rails!("tasker_core:status").stdout).to include("SQL functions: to be installed")
    migrated = app.rails!("db:migrate", "tasker_core:status")
    expect(migrated.stdout).to match(/UpgradeTaskerCoreTo\w+: migrat/).and include("SQL functions installed")
      .and include("SQL functions: current")
    expect(app.read("db/schema.rb")).not_to include("tasker_")
  end
end
