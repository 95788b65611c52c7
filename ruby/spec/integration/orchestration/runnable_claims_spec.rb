# frozen_string_literal: true

module RunnableClaimsSpecHandlers
  # Returns the step's name.
  class Echo < TaskerCore::StepHandler::Base
    def call(_task, _sequence, step)
      { "ran" => step.name }
    end
  end
end

# A general worker claims only the tasks it can run: those of its registry's templates and those whose
# template in the database names handler classes. A task of any other template is left alone (its
# retries are not burned with TemplateNotFoundError), for the workers that have its handlers.
RSpec.describe "Orchestration: a worker claims only what it can run", :integration do
  with_tasker_schema

  let(:namespace) { "rspec_runnable_#{SecureRandom.hex(3)}" }
  let(:registry) do
    TaskerCore::HandlerRegistry.new.tap do |r|
      r.register(TaskerCore::TaskTemplate.new(name: "mine", namespace: namespace, version: "1.0.0",
                                              steps: [{ name: "a", handler_class: "RunnableClaimsSpecHandlers::Echo" }]))
    end
  end


  def run_worker(runnable_only:, until_done:)
    worker = TaskerCore::Worker.new(client: client, registry: registry, namespaces: [namespace], concurrency: 2,
                                    poll_interval: 0.02, runnable_only: runnable_only, logger: Logger.new(File::NULL))
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 30
    worker.run(install_signal_traps: false,
               until: -> { until_done.call || Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline })
    worker
  end

  it "runs its registry's and the database's templates and leaves a task it has no handlers for untouched" do
    mine_spec = registry.fetch(name: "mine", namespace: namespace, version: "1.0.0")
    client.register_templates(yaml: <<~YAML, file: "from_db.yaml")
      name: from_db
      namespace_name: #{namespace}
      version: 1.0.0
      steps:
        - name: a
          handler:
            callable: RunnableClaimsSpecHandlers::Echo
    YAML
    mine = client.create_task(mine_spec.to_task_spec(context: {}))
    from_db = client.create_task_from_template(name: "from_db", namespace: namespace, version: "1.0.0")
    stranger = client.create_task(name: "stranger", namespace: namespace, version: "1.0.0",
                                  steps: [{ name: "a", retry_limit: 1 }])
    done = -> { [mine, from_db].all? { |t| client.task_execution_context(t.task_id).status == "complete" } }
    worker = run_worker(runnable_only: true, until_done: done)
    expect(done.call).to be(true)
    expect(worker.stats[:claimed]).to eq(2)
    sleep 0.2
    left = client.step_readiness(stranger.task_id).first
    expect(left.current_state).to eq("pending")
    expect(left.attempts).to eq(0) # no retry burned

    # Claiming everything (the old default) burns the stranger's attempts with TemplateNotFoundError.
    failed = -> { client.task_execution_context(stranger.task_id).status == "error" }
    run_worker(runnable_only: false, until_done: failed)
    expect(failed.call).to be(true)
    error = client.step_transitions(stranger.step_id("a")).find { |t| t.to_state == "error" }
    expect(error.metadata["error"]).to include("no task template is registered")
  end
end
