# frozen_string_literal: true

# In development each handler run goes through Rails.application.reloader:
# a handler edited between two runs is reloaded, without restarting.
RSpec.describe "Tasker Core handlers in development" do
  let(:app) { TaskerCoreSpec::RailsApp.shared }

  it "reload when their file changes (the reloader wraps each run)" do
    handler = "app/handlers/example/greet_handler.rb"
    original = app.read(handler)
    result = app.script(<<~RUBY, env: { "RAILS_ENV" => "development" })
      # The greeting the greet step's handler returned in a run of the example workflow.
      def greet
        task = TaskerCore.client.create_task_from_template(name: "greeting", namespace: "example", version: "1.0.0",
                                                           context: { name: "Ada" })
        greeting = nil
        on_event = ->(event, data) { greeting = data[:results]["greeting"] if event == :completed && data[:step_name] == "greet" }
        "\#{TaskerCore.run_task(task, timeout: 60, on_event: on_event).status} \#{greeting}"
      end
      puts TaskerCore.handler_wrapper.reload?
      puts greet
      path = Rails.root.join(#{handler.inspect})
      File.write(path, File.read(path).sub('"Hello, ', '"Welcome, '))
      puts greet
    RUBY
    File.write(app.path(handler), original)
    expect(result).to be_success, result.describe
    expect(result.stdout.lines.map(&:strip)).to eq(["true", "complete Hello, Ada!", "complete Welcome, Ada!"])
  end
end
