# frozen_string_literal: true

# TaskerCore::Web mounted in a Rails app (config/routes.rb of the spec app):
# its JSON API, its dashboard and its refusals, under the app's routing.
RSpec.describe "TaskerCore::Web mounted in Rails" do
  let(:app) { TaskerCoreSpec::RailsApp.shared }

  it "serves the JSON API and the task page, and refuses operator actions no authorizer allows" do
    result = app.script(<<~'RUBY')
      require "rack/test"
      include Rack::Test::Methods
      def app = Rails.application

      post "/tasks", JSON.generate(context: { name: "Ada" }), "CONTENT_TYPE" => "application/json"
      task_id = JSON.parse(last_response.body).fetch("task_id")
      get "/tasker/api/tasks/#{task_id}"
      puts last_response.status, JSON.parse(last_response.body).dig("task", "task_id") == task_id
      get "/tasker/tasks/#{task_id}"
      puts last_response.status, last_response.content_type.start_with?("text/html"), last_response.body.include?("<svg")
      post "/tasker/api/tasks/#{task_id}/cancel", JSON.generate(reason: "spec"), "CONTENT_TYPE" => "application/json"
      puts last_response.status
      get "/tasker/api/tasks/#{task_id}/cancel"
      puts last_response.status
    RUBY
    expect(result).to be_success, result.describe
    api_status, same_task, page_status, html, svg, post_status, get_status = result.stdout.lines.map(&:strip)
    expect([api_status, same_task]).to eq(%w[200 true])
    expect([page_status, html, svg]).to eq(%w[200 true true])
    expect(post_status).to eq("403") # no authorizer configured: every operator action is refused
    expect(get_status).to eq("405")  # no operator route is reachable with GET
  end
end
