# frozen_string_literal: true

RSpec.describe TaskerCore::StepHandler::Base do
  it "must be given a #call: the base raises NotImplementedError naming the step and task" do
    task = TaskerCore::StepHandler::Task.from_claimed(claimed_step)
    step = TaskerCore::StepHandler::Step.from_claimed(claimed_step)
    expect { described_class.new.call(task, TaskerCore::StepHandler::Sequence.new({}), step) }
      .to raise_error(NotImplementedError, /TaskerCore::StepHandler::Base#call.*"charge".*"order"/)
  end

  it "keeps its handler_config, frozen" do
    handler = described_class.new(config: { "gateway" => "stripe" })
    expect(handler.config).to eq("gateway" => "stripe")
    expect(handler.config).to be_frozen
    expect(described_class.new.config).to eq({})
  end

  it "lets a subclass compute results from the task, the sequence and the step" do
    klass = Class.new(described_class) do
      def call(task, sequence, step)
        { "cart" => task.context["cart_id"], "total" => sequence["validate_cart"]["total_cents"],
          "attempt" => step.attempts, "currency" => step.inputs["currency"] }
      end
    end
    claimed = claimed_step
    results = klass.new.call(TaskerCore::StepHandler::Task.from_claimed(claimed),
                             TaskerCore::StepHandler::Sequence.new(claimed.sequence),
                             TaskerCore::StepHandler::Step.from_claimed(claimed))
    expect(results).to eq("cart" => 42, "total" => 4599, "attempt" => 1, "currency" => "EUR")
  end
end
