# frozen_string_literal: true

# TaskerCore::Web and its GraphQL part are separate requires (the gem works
# without rack, erubi and graphql); the suite loads them so that the module
# structure spec sees their files. scripts/ensure-deps.sh web installs them.
begin
  require "tasker_core/web"
  require "tasker_core/web/graphql"
  require "rack/test"
rescue LoadError => e
  raise LoadError, "the web specs need rack, rack-test, erubi and graphql (scripts/ensure-deps.sh web): #{e.message}"
end

module TaskerCoreSpec
  # Helpers of the web specs: a TaskerCore::Web over the group's client.
  module WebHelpers
    # Every operator action is allowed unless the spec says otherwise.
    def web_app(**options)
      TaskerCore::Web.new(client: client, authorize: ->(*) { true }, **options)
    end

    def json_response
      JSON.parse(last_response.body)
    end

    def post_json(path, data)
      post path, JSON.generate(data), "CONTENT_TYPE" => "application/json"
    end

    # A task whose step A failed (by default for good: its only attempt), B waits on it.
    def failed_task(name = unique_name("failing"), retry_limit: 1)
      task = client.create_task(name: name, namespace: "web",
                                steps: [{ name: "A", retry_limit: retry_limit }, { name: "B", depends_on: ["A"] }])
      client.batch_update_step_states([{ step_id: task.step_id("A"), state: "in_progress" }])
      client.batch_update_step_states([{ step_id: task.step_id("A"), state: "error",
                                         results: { "error" => { "message" => "card declined", "type" => "Gateway" } } }])
      task
    end
  end
end
