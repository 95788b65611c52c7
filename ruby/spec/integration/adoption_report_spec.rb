# frozen_string_literal: true

require "open3"
require "rbconfig"

# The adoption pre-flight on a tasker-engine-shaped database
# (migrations/testdata/tasker_engine_v1.sql): Client#adoption_report and the
# tasker_core_doctor command list what adoption will change, write nothing, and
# report nothing left once the migrations ran. The examples run in order: the
# last one migrates the schema.
RSpec.describe "adoption report", order: :defined do
  root = File.expand_path("../../..", __dir__)
  engine_sql = File.read(File.join(root, "migrations/testdata/tasker_engine_v1.sql"))
  let(:doctor) { File.join(root, "ruby/exe/tasker_core_doctor") }

  before(:context) do
    TaskerCoreSpec::Database.prepare!
    @schema = TaskerCoreSpec::Database.new_schema
    TaskerCoreSpec::Database.psql(TaskerCoreSpec::Database.url,
                                  "CREATE SCHEMA #{@schema}; SET search_path TO #{@schema};\n#{engine_sql}")
    @client = TaskerCore::Client.new(database_url: TaskerCoreSpec::Database.url, schema: @schema, migrate: false)
  end
  after(:context) { @client&.close }

  def column_type(table, column)
    TaskerCoreSpec::Database.psql(TaskerCoreSpec::Database.url, <<~SQL).strip
      SELECT data_type FROM information_schema.columns
      WHERE table_schema = '#{@schema}' AND table_name = '#{table}' AND column_name = '#{column}'
    SQL
  end

  def run_doctor(*args)
    env = { "DATABASE_URL" => TaskerCoreSpec::Database.url }
    Open3.capture3(env, RbConfig.ruby, doctor, "--schema", @schema, *args)
  end

  it "lists what adopting the engine's database changes, and writes nothing" do
    report = @client.adoption_report
    expect(report).to be_a(TaskerCore::AdoptionReport)
    expect(report).to be_engine_database
    expect(report).to be_ready_to_adopt
    expect(report).not_to be_up_to_date
    expect(report.blockers).to eq([])
    expect(report.steps_without_transitions).to eq(1)
    expect(report.changes_of(:convert_timestamp).map { |c| "#{c['table']}.#{c['column']}" })
      .to include("tasker_tasks.requested_at", "tasker_workflow_step_transitions.created_at")
    expect(report.changes_of(:add_column).map { |c| c["column"] })
      .to include("correlation_id", "priority", "completed_at", "lease_expires_at", "lease_seconds")
    expect(report.changes_of(:replace_function).size).to eq(3)
    # Every migration file is pending (their numbers may have gaps: the version is the highest).
    files = Dir[File.expand_path("../../../migrations/[0-9]*.sql", __dir__)]
    expect(report.changes_of(:apply_migration).size).to eq(files.size)
    expect(report.target_version).to eq(files.map { |f| File.basename(f).to_i }.max)
    expect(report.to_text).to include("ready to adopt").and include("convert_timestamp tasker_tasks.requested_at")
    expect(column_type("tasker_tasks", "requested_at")).to eq("timestamp without time zone")
  end

  it "is a command that prints the report and exits 0 when nothing blocks" do
    out, err, status = run_doctor
    expect(status.exitstatus).to eq(0), err
    expect(out).to include("a tasker-engine database, not yet adopted").and include("Blockers (0):")

    json, err, status = run_doctor("--json")
    expect(status.exitstatus).to eq(0), err
    expect(JSON.parse(json)).to include("engine_database" => true, "ready_to_adopt" => true)
    expect(column_type("tasker_tasks", "created_at")).to eq("timestamp without time zone")
  end

  it "exits 1 and names the blocker when one stands in the way" do
    TaskerCoreSpec::Database.psql(TaskerCoreSpec::Database.url,
                                  "CREATE VIEW #{@schema}.recent_tasks AS SELECT created_at FROM #{@schema}.tasker_tasks")
    out, _err, status = run_doctor
    expect(status.exitstatus).to eq(1)
    expect(out).to include("NOT ready").and include("dependent_object").and include("recent_tasks")
  ensure
    TaskerCoreSpec::Database.psql(TaskerCoreSpec::Database.url, "DROP VIEW IF EXISTS #{@schema}.recent_tasks")
  end

  it "exits 2 with the error when it cannot connect" do
    _out, err, status = Open3.capture3({ "DATABASE_URL" => "" }, RbConfig.ruby, doctor,
                                       "--database-url", "postgres://nobody:secret@127.0.0.1:1/none?connect_timeout=1")
    expect(status.exitstatus).to eq(2)
    expect(err).to include("TaskerCore::DatabaseError")
    expect(err).not_to include("secret")
  end

  it "reports nothing left to change after the migrations ran" do
    @client.migrate!
    report = @client.adoption_report
    expect(report).to be_up_to_date
    expect(report.changes).to eq([])
    expect(report).not_to be_engine_database
    expect(report.to_text).to include("up to date: nothing to change")
  end
end
