# frozen_string_literal: true

module ExecutorSpecHandlers
  class Echo < TaskerCore::StepHandler::Base
    def call(task, sequence, step)
      { total: sequence["validate_cart"]["total_cents"], cart: task.context["cart_id"], at: Time.utc(2026, 1, 2),
        step: step.name, tags: [:a, "b"] }
    end
  end

  class Nothing < TaskerCore::StepHandler::Base
    def call(*) = nil
  end

  class Retry < TaskerCore::StepHandler::Base
    def call(*) = raise(TaskerCore::RetryableError.new("later", retry_after: 2))
  end

  class Permanent < TaskerCore::StepHandler::Base
    def call(*) = raise(TaskerCore::PermanentError.new("never", error_code: "declined"))
  end

  class Broken < TaskerCore::StepHandler::Base
    def call(*) = raise(ArgumentError, "bad cart")
  end

  class Unfinished < TaskerCore::StepHandler::Base; end

  class Weird < TaskerCore::StepHandler::Base
    def call(*) = { "object" => Object.new }
  end

  class NotANumber < TaskerCore::StepHandler::Base
    def call(*) = { "x" => Float::NAN }
  end
end

RSpec.describe TaskerCore::StepExecutor do
  let(:registry) { TaskerCore::HandlerRegistry.new }
  let(:executor) { described_class.new(registry: registry) }

  before do
    registry.register(TaskerCore::TaskTemplate.new(
                        name: "order", namespace: "shop", version: "1.0.0",
                        steps: %w[Echo Nothing Retry Permanent Broken Unfinished Weird NotANumber Missing].map do |n|
                          { name: n.downcase, handler_class: "ExecutorSpecHandlers::#{n}" }
                        end
                      ))
  end

  def execute(step_name, **overrides)
    executor.execute(claimed_step(step_name: step_name, **overrides))
  end

  it "runs the handler and keeps its results as the library will store them" do
    execution = execute("echo")
    expect(execution).to be_success
    expect(execution.results).to eq("total" => 4599, "cart" => 42, "at" => "2026-01-02T00:00:00.000000Z",
                                     "step" => "echo", "tags" => %w[a b])
    expect(execution.error).to be_nil
    expect(execution.duration).to be >= 0
    expect(execution.finished_at).to be >= execution.started_at
  end

  it "turns nil results into {}" do
    expect(execute("nothing").results).to eq({})
  end

  it "captures a RetryableError as a failure that will be retried" do
    execution = execute("retry")
    expect(execution).to be_failure
    expect(execution.error).to be_a(TaskerCore::RetryableError)
    expect(execution).to be_will_retry
    expect(execute("retry", attempts: 3)).not_to be_will_retry # out of attempts
    expect(execute("retry", retryable: false)).not_to be_will_retry
  end

  it "captures a PermanentError as a failure that will not be retried" do
    execution = execute("permanent")
    expect(execution.error).to be_a(TaskerCore::PermanentError)
    expect(execution).not_to be_will_retry
  end

  it "captures any other exception (and NotImplementedError) as a retryable failure" do
    expect(execute("broken").error).to be_a(ArgumentError).and(have_attributes(message: "bad cart"))
    expect(execute("broken")).to be_will_retry
    expect(execute("unfinished").error).to be_a(NotImplementedError)
  end

  it "fails a step whose results JSON cannot carry, instead of raising" do
    expect(execute("weird").error).to be_a(TypeError).and(have_attributes(message: /cannot be stored as JSON: Object/))
    expect(execute("notanumber").error).to be_a(TypeError).and(have_attributes(message: /NaN/))
  end

  it "fails a step whose handler class or template is missing, naming them" do
    expect(execute("missing").error).to be_a(TaskerCore::HandlerNotFoundError)
      .and(have_attributes(message: %r{ExecutorSpecHandlers::Missing of step "missing" in task template shop/order@1\.0\.0}))
    expect(execute("echo", task_name: "unknown").error).to be_a(TaskerCore::TemplateNotFoundError)
  end
end

RSpec.describe TaskerCore::StepExecutor, "with TaskerCore.handler_wrapper" do
  let(:registry) { TaskerCore::HandlerRegistry.new }
  let(:executor) { described_class.new(registry: registry) }

  before do
    registry.register(TaskerCore::TaskTemplate.new(
                        name: "order", namespace: "shop", version: "1.0.0",
                        steps: [{ name: "echo", handler_class: "ExecutorSpecHandlers::Echo" },
                                { name: "broken", handler_class: "ExecutorSpecHandlers::Broken" },
                                { name: "missing", handler_class: "ExecutorSpecHandlers::Missing" }]
                      ))
  end

  after { TaskerCore.handler_wrapper = nil }

  it "runs the handler's lookup and call inside the wrapper, on the handler's thread, and keeps its value" do
    seen = []
    TaskerCore.handler_wrapper = lambda do |&run|
      seen << [:enter, Thread.current]
      value = run.call
      seen << [:leave, value.keys.sort]
      value
    end
    execution = executor.execute(claimed_step(step_name: "echo"))
    expect(execution).to be_success
    expect(seen).to eq([[:enter, Thread.current], [:leave, %w[at cart step tags total]]])
  end

  it "lets the handler's exception (and a missing handler class) pass through the wrapper to the execution" do
    left = []
    TaskerCore.handler_wrapper = lambda do |&run|
      run.call
    ensure
      left << true
    end
    expect(executor.execute(claimed_step(step_name: "broken")).error).to be_a(ArgumentError)
    expect(executor.execute(claimed_step(step_name: "missing")).error).to be_a(TaskerCore::HandlerNotFoundError)
    expect(left).to eq([true, true])
  end

  it "turns a wrapper that raises into the step's failure, not the worker's" do
    TaskerCore.handler_wrapper = ->(&_run) { raise IOError, "executor broke" }
    execution = executor.execute(claimed_step(step_name: "echo"))
    expect(execution.error).to be_a(IOError)
  end
end
