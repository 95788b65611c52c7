# frozen_string_literal: true

# Many worker processes over many tasks: every step runs exactly once, in
# dependency order, and every task completes.
RSpec.describe "Orchestration: load", :integration do
  with_tasker_schema

  before(:context) { TaskerCoreSpec::OrchestrationTemplates.register_all }

  processes = 4
  threads = 2
  task_count = 200
  deadline = 120 # seconds: only turns a hang into a failure

  it "runs #{task_count} tasks of mixed shapes on #{processes} processes × #{threads} threads, each step once" do
    shapes = TaskerCoreSpec::OrchestrationTemplates::SHAPES
    Dir.mktmpdir do |dir|
      log_dir = File.join(dir, "runs")
      Dir.mkdir(log_dir)
      names = shapes.keys
      shape_of = {}
      tasks = Array.new(task_count) do |i|
        shape = names[i % names.size]
        TaskerCore.create_task(name: shape, namespace: TaskerCoreSpec::OrchestrationTemplates::NAMESPACE,
                               client: client, context: { "log_dir" => log_dir, "sleep" => { "*" => 0.005 } })
                  .tap { |t| shape_of[t.task_id] = shape }
      end
      expected = tasks.flat_map { |t| t.step_ids.keys.map { |name| [t.task_id, name] } }

      workers = Array.new(processes) { spawn_worker(tasker_schema, dir: dir, concurrency: threads) }
      wait_until(timeout: deadline, interval: 0.25, message: lambda {
        "#{client.system_health.complete_tasks}/#{task_count} tasks complete\n#{workers.map(&:describe).join("\n")}"
      }) do
        dead = workers.find(&:exited?)
        raise "a worker exited early\n#{dead.describe}" if dead

        client.system_health.complete_tasks == task_count
      end
      workers.each { |w| w.signal("TERM") }
      workers.each { |w| expect(wait_for_exit(w, timeout: 60).exitstatus).to eq(0), w.describe }

      statuses = tasks.map { |t| client.task_execution_context(t.task_id).status }
      expect(statuses.tally).to eq("complete" => task_count)

      runs = TaskerCoreSpec::Handlers.read_runs(log_dir)
      expect(runs.size).to eq(expected.size) # handlers never fail: one line per step
      by_step = runs.group_by { |r| [r[:task_id], r[:step]] }
      expect(by_step.keys).to match_array(expected)
      duplicates = by_step.select { |_, list| list.size > 1 }
      expect(duplicates).to be_empty, "steps that ran more than once: #{duplicates.keys.first(5).inspect}"
      expect(runs.map { |r| r[:attempt] }.uniq).to eq([1])
      by_step.each_value do |list|
        list.combination(2).each do |a, b|
          expect(a[:finish] <= b[:start] || b[:finish] <= a[:start]).to be(true), "overlapping runs #{[a, b].inspect}"
        end
      end

      # Dependencies were respected: every child started after each parent finished.
      tasks.each do |t|
        shapes.fetch(shape_of.fetch(t.task_id)).each do |step|
          Array(step[:depends_on]).each do |parent|
            child_run = by_step.fetch([t.task_id, step[:name]]).first
            parent_run = by_step.fetch([t.task_id, parent]).first
            expect(child_run[:start]).to be > parent_run[:finish]
          end
        end
      end
      expect(runs.map { |r| r[:pid] }.uniq - workers.map(&:pid)).to be_empty
    end
  end
end
