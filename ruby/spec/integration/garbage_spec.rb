# frozen_string_literal: true

# Garbage through the raw functions never kills the process: each call returns an
# error envelope of the type docs/ffi.md documents. Runs in a subprocess, which
# reports every case's type and then prints OK.
RSpec.describe "Garbage through the raw functions", :integration do
  let(:schema) { TaskerCoreSpec::Database.new_schema }

  expected = {
    "null payload" => "ffi_error",
    "null config" => "ffi_error",
    "empty payload" => "validation_error",
    "not json" => "validation_error",
    "invalid utf-8" => "validation_error",
    "10 MB payload" => "validation_error",
    "100k nested [" => "validation_error",
    "100k nested {" => "validation_error",
    "json array" => "validation_error",
    "json null" => "validation_error",
    "task_id is a string" => "validation_error",
    "task_id is a float" => "validation_error",
    "task_id missing" => "validation_error",
    "unknown field" => "validation_error",
    "negative task_id" => "validation_error",
    "task_id beyond int64" => "validation_error",
    "huge unknown task_id" => "not_found",
    "steps is an object" => "validation_error",
    "updates is a string" => "validation_error",
    "batch item has the wrong arity" => "validation_error",
    "bad config json" => "configuration_error", # the library's choice: a malformed config is a bad configuration
    "handle 0" => "ffi_error",
    "handle 2**63-1" => "ffi_error",
    "handle 2**64-1" => "ffi_error",
    "freed handle" => "ffi_error",
    "double client_free" => "ffi_error",
    "trailing garbage" => "validation_error"
  }.freeze

  it "returns the documented error type for every kind of garbage and keeps the process alive" do
    result = run_ruby(<<~'RUBY', env: { "TASKER_TEST_SCHEMA" => schema }, timeout: 180)
      N = TaskerCore::Native
      client = TaskerCore::Client.new(database_url: ENV.fetch("TASKER_TEST_DATABASE_URL"),
                                      schema: ENV.fetch("TASKER_TEST_SCHEMA"), migrate: true)
      h = client.handle_id
      url = ENV.fetch("TASKER_TEST_DATABASE_URL")
      freed = TaskerCore::Client.new(database_url: url)
      freed_id = freed.handle_id
      freed.close
      doomed = N.client_new("database_url" => url)["data"]["handle"]
      N.client_free(doomed)

      ctx = :get_task_execution_context
      cases = {
        "null payload" => -> { N.call(ctx, h, nil) },
        "null config" => -> { N.client_new(nil) },
        "empty payload" => -> { N.call(ctx, h, "") },
        "not json" => -> { N.call(ctx, h, "hello") },
        "invalid utf-8" => -> { N.call(:create_task, h, "{\"name\": \"bad \xff\xfe\", \"steps\": [{\"name\": \"a\"}]}".b) },
        "10 MB payload" => -> { N.call(:create_task, h, JSON.generate("name" => "big", "context" => { "x" => "y" * 10_000_000 }, "steps" => [{ "name" => "a" }])) },
        "100k nested [" => -> { N.call(ctx, h, "[" * 100_000) },
        "100k nested {" => -> { N.call(ctx, h, "{\"a\":" * 100_000 + "1" + "}" * 100_000) },
        "json array" => -> { N.call(ctx, h, "[]") },
        "json null" => -> { N.call(ctx, h, "null") },
        "task_id is a string" => -> { N.call(ctx, h, '{"task_id": "x"}') },
        "task_id is a float" => -> { N.call(ctx, h, '{"task_id": 1.5}') },
        "task_id missing" => -> { N.call(ctx, h, "{}") },
        "unknown field" => -> { N.call(ctx, h, '{"task_id": 1, "colour": "red"}') },
        "negative task_id" => -> { N.call(ctx, h, '{"task_id": -1}') },
        "task_id beyond int64" => -> { N.call(ctx, h, '{"task_id": 9223372036854775808}') },
        "huge unknown task_id" => -> { N.call(ctx, h, '{"task_id": 9223372036854775807}') },
        "steps is an object" => -> { N.call(:create_task, h, '{"name": "x", "steps": {"a": 1}}') },
        "updates is a string" => -> { N.call(:batch_update_step_states, h, '{"updates": "all"}') },
        "batch item has the wrong arity" => -> { N.call(:batch_update_step_states, h, '{"updates": [[1]]}') },
        "bad config json" => -> { N.client_new("{not json") },
        "handle 0" => -> { N.call(ctx, 0, '{"task_id": 1}') },
        "handle 2**63-1" => -> { N.call(ctx, 2**63 - 1, '{"task_id": 1}') },
        "handle 2**64-1" => -> { N.call(:get_system_health, 2**64 - 1, "{}") },
        "freed handle" => -> { N.call(ctx, freed_id, '{"task_id": 1}') },
        "double client_free" => -> { N.client_free(doomed) },
        "trailing garbage" => -> { N.call(ctx, h, '{"task_id": 1} xyz') }
      }
      report = cases.to_h do |name, call|
        envelope = call.call
        error = envelope["error"] || {}
        [name, { "ok" => envelope["ok"], "type" => error["type"], "message" => error["message"].to_s[0, 160] }]
      end
      # The library and the client still work afterwards.
      task = client.create_task(name: "after_garbage", steps: [{ name: "a" }])
      alive = client.viable_steps(task.task_id).map(&:name) == ["a"] && N.noop("{}")["ok"]
      puts JSON.generate(report)
      puts(alive ? "OK" : "BROKEN")
    RUBY
    expect(result).to be_success, result.describe
    lines = result.stdout.lines.map(&:chomp)
    expect(lines.last).to eq("OK"), result.describe
    report = JSON.parse(lines[-2])
    actual = report.transform_values { |r| r["ok"] == false ? r["type"] : "ok (no error)" }
    mismatches = expected.reject { |name, type| actual[name] == type }
                         .to_h { |name, type| [name, { "expected" => type, "got" => report[name] }] }
    expect(mismatches).to eq({})
    report.each_value { |r| expect(r["message"]).not_to be_empty if r["ok"] == false }
  end
end
