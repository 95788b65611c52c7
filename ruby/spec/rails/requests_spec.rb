# frozen_string_literal: true

# A controller creates a task and reads it back, with the ids Rails params
# carry (Strings) — rack-test against the app in its test environment.
RSpec.describe "Tasker Core from a Rails controller" do
  let(:app) { TaskerCoreSpec::RailsApp.shared }

  it "creates a task from the generated template on POST and shows its execution context on GET" do
    result = app.script(<<~'RUBY')
      require "rack/test"
      include Rack::Test::Methods
      def app = Rails.application

      post "/tasks", JSON.generate(context: { name: "Ada" }), "CONTENT_TYPE" => "application/json"
      puts last_response.status
      created = JSON.parse(last_response.body)
      get "/tasks/#{created.fetch('task_id')}"
      puts last_response.status
      shown = JSON.parse(last_response.body)
      puts shown["task_id"] == created["task_id"], shown["status"]
      post "/tasks", JSON.generate(context: { nom: "Ada" }), "CONTENT_TYPE" => "application/json"
      puts last_response.status, JSON.parse(last_response.body)["error"]
    RUBY
    expect(result).to be_success, result.describe
    created, shown, same, status, rejected, error = result.stdout.lines.map(&:strip)
    expect([created, shown, same]).to eq(%w[201 200 true])
    expect(status).to eq("has_ready_steps")
    expect(rejected).to eq("422")
    expect(error).to include("name")
  end
end
