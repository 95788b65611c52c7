# frozen_string_literal: true

# A worker runs independent steps at the same time.
RSpec.describe "Orchestration: concurrent execution", :integration do
  with_tasker_schema

  before(:context) { TaskerCoreSpec::OrchestrationTemplates.register_all }

  let(:namespace) { TaskerCoreSpec::OrchestrationTemplates::NAMESPACE }

  it "runs the two branches of a diamond side by side with concurrency 2" do
    Dir.mktmpdir do |dir|
      task = TaskerCore.create_task(name: "diamond", namespace: namespace, client: client,
                                    context: { "log_dir" => dir, "sleep" => { "B" => 0.3, "C" => 0.3 } })
      result = TaskerCore.run_task(task, timeout: 60, client: client, concurrency: 2)
      expect(result).to be_complete

      runs = TaskerCoreSpec::Handlers.read_runs(dir).to_h { |r| [r[:step], r] }
      expect(runs.keys).to contain_exactly("A", "B", "C", "D")
      b = runs.fetch("B")
      c = runs.fetch("C")
      # The intervals [start, finish] overlap: each began before the other ended.
      expect(b[:start]).to be < c[:finish]
      expect(c[:start]).to be < b[:finish]
      # And the dependencies were respected (ordering, not timing).
      expect([b[:start], c[:start]]).to all(be > runs.fetch("A")[:finish])
      expect(runs.fetch("D")[:start]).to be > [b[:finish], c[:finish]].max
    end
  end

  it "runs them one after the other with concurrency 1" do
    Dir.mktmpdir do |dir|
      task = TaskerCore.create_task(name: "diamond", namespace: namespace, client: client,
                                    context: { "log_dir" => dir, "sleep" => { "B" => 0.05, "C" => 0.05 } })
      expect(TaskerCore.run_task(task, timeout: 60, client: client, concurrency: 1)).to be_complete

      runs = TaskerCoreSpec::Handlers.read_runs(dir).to_h { |r| [r[:step], r] }
      b, c = runs.values_at("B", "C").sort_by { |r| r[:start] }
      expect(c[:start]).to be >= b[:finish]
    end
  end
end
