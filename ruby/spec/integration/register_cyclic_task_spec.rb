# frozen_string_literal: true

# TaskerCore.register_task refuses a cyclic template with DependencyCycleError
# naming the cycle, and registers nothing: the error used to surface only at
# create_task, inside a request.
RSpec.describe "TaskerCore.register_task with a dependency cycle" do
  around do |example|
    previous = TaskerCore.handler_registry
    TaskerCore.handler_registry = TaskerCore::HandlerRegistry.new
    example.run
  ensure
    TaskerCore.handler_registry = previous
  end

  let(:cyclic_steps) do
    [{ name: "start", handler_class: "Start" },
     { name: "reserve", handler_class: "Reserve", depends_on: %w[start ship] },
     { name: "charge", handler_class: "Charge", depends_on: ["reserve"] },
     { name: "ship", handler_class: "Ship", depends_on: ["charge"] }]
  end

  it "raises DependencyCycleError naming the cycle as the library does, and registers nothing" do
    expect { TaskerCore.register_task(name: "cyclic", namespace: "shop", version: "1.0.0", steps: cyclic_steps) }
      .to raise_error(TaskerCore::DependencyCycleError,
                      "task template shop/cyclic@1.0.0: dependency cycle: reserve -> charge -> ship -> reserve") { |e|
        expect(e.type).to eq("cycle_error")
        expect(e.details).to include("cycle" => %w[reserve charge ship], "template" => "shop/cyclic@1.0.0")
      }
    expect(TaskerCore.handler_registry.registered?(name: "cyclic", namespace: "shop", version: "1.0.0")).to be(false)
    expect(TaskerCore.handler_registry.size).to eq(0)
  end

  it "keeps the template registered before under the same key" do
    good = TaskerCore.register_task(name: "order", steps: [{ name: "a", handler_class: "A" }])
    expect do
      TaskerCore.register_task(name: "order", steps: [{ name: "a", handler_class: "A", depends_on: ["b"] },
                                                      { name: "b", handler_class: "B", depends_on: ["a"] }])
    end.to raise_error(TaskerCore::DependencyCycleError, /dependency cycle: a -> b -> a/)
    expect(TaskerCore.handler_registry.fetch(name: "order")).to equal(good)
  end

  it "calls a step that depends on itself a cycle" do
    expect { TaskerCore.register_task(name: "selfish", steps: [{ name: "a", handler_class: "A", depends_on: ["a"] }]) }
      .to raise_error(TaskerCore::DependencyCycleError, /dependency cycle: a -> a/)
  end

  it "accepts a long chain and a diamond without a false cycle or a deep stack" do
    chain = (0...5000).map { |i| { name: "s#{i}", handler_class: "S", depends_on: i.zero? ? [] : ["s#{i - 1}"] } }
    expect(TaskerCore.register_task(name: "chain", steps: chain).steps.size).to eq(5000)
    diamond = [{ name: "a", handler_class: "A" }, { name: "b", handler_class: "B", depends_on: ["a"] },
               { name: "c", handler_class: "C", depends_on: %w[a a] }, { name: "d", handler_class: "D", depends_on: %w[b c] }]
    expect(TaskerCore.register_task(name: "diamond", steps: diamond).step_names).to eq(%w[a b c d])
  end
end
