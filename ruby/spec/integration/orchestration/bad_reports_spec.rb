# frozen_string_literal: true

# A report the database cannot store never stalls a worker: the other steps'
# results are stored, the step whose report is refused fails saying why, nothing
# stays in_progress, and a transient error is still retried until it passes.
RSpec.describe "Orchestration: reports the database refuses", :integration do
  with_tasker_schema(retry_policy: { strategy: "fixed", base_seconds: 0.05, multiplier: 1, cap_seconds: 1, jitter: 0 })

  before(:context) { TaskerCoreSpec::OrchestrationTemplates.register_all }

  let(:namespace) { TaskerCoreSpec::OrchestrationTemplates::NAMESPACE }
  let(:leaves) { %w[leaf1 leaf2 leaf3 leaf4] }

  def sql(statement)
    TaskerCoreSpec::Database.psql(TaskerCoreSpec::Database.url, "SET search_path TO #{tasker_schema}; #{statement}")
  end

  def step_row(task, name)
    row = sql("SELECT t.to_state || '|' || COALESCE(ws.results->'error'->>'message', '') || '|' || ws.retryable " \
              "FROM tasker_workflow_steps ws JOIN tasker_workflow_step_transitions t " \
              "ON t.workflow_step_id = ws.workflow_step_id AND t.most_recent " \
              "WHERE ws.workflow_step_id = #{Integer(task.step_id(name))}").strip.lines.last.to_s.strip
    state, message, retryable = row.split("|")
    { state: state, message: message, retryable: retryable == "true" }
  end

  def in_progress(task)
    leaves.push("root").select { |name| step_row(task, name)[:state] == "in_progress" }
  end

  def settled?(task)
    %w[complete error].include?(client.task_execution_context(task.task_id).status)
  end

  # Runs an in-process worker over +task+ until it settles (or 60 s pass).
  def run_worker(task, **options)
    worker = TaskerCore::Worker.new(client: client, concurrency: 4, task_id: task.task_id, error_pause: 0.05,
                                    poll_interval: 0.02, **options)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 60
    worker.run(install_signal_traps: false,
               until: -> { settled?(task) || Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline })
  end

  it "fails the step whose handler returned U+0000 and stores the others (a worker process)" do
    Dir.mktmpdir do |dir|
      task = TaskerCore.create_task(name: "fan_out", namespace: namespace, client: client,
                                    context: { "nul_result" => ["leaf2"] })
      worker = spawn_worker(tasker_schema, dir: dir, concurrency: 4, task_id: task.task_id, error_pause: 0.05)
      wait_until(timeout: 60, message: -> { "the task never settled: #{in_progress(task)} in progress\n#{worker.describe}" }) do
        settled?(task)
      end
      expect(in_progress(task)).to be_empty
      (leaves - ["leaf2"] + ["root"]).each { |name| expect(step_row(task, name)[:state]).to eq("complete"), name }
      bad = step_row(task, "leaf2")
      expect(bad[:state]).to eq("error")
      expect(bad[:message]).to include("result refused: contains U+0000 at results.note")
      expect(bad[:retryable]).to be(false)
      expect(client.task_execution_context(task.task_id).status).to eq("error")

      worker.signal("TERM")
      expect(wait_for_exit(worker, timeout: 30).exitstatus).to eq(0), worker.describe
      stats = JSON.parse(worker.stdout[/^stopped (.*)$/, 1])
      expect(stats["completed"]).to eq(4)
      expect(stats["failed"]).to eq(1)
      expect(stats.fetch("errors", 0)).to eq(0), "the worker retried a report: #{worker.stderr}"
    end
  end

  context "when the database refuses one step's result every time" do
    before do
      sql(<<~SQL)
        CREATE FUNCTION spec_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.results ? 'poison' THEN RAISE EXCEPTION 'poisoned result' USING ERRCODE = 'P0001'; END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER spec_poison BEFORE UPDATE ON tasker_workflow_steps FOR EACH ROW EXECUTE FUNCTION spec_poison();
      SQL
    end

    after { sql("DROP TRIGGER spec_poison ON tasker_workflow_steps; DROP FUNCTION spec_poison()") }

    it "isolates that report after report_isolation_failures tries: the others complete, that step fails" do
      task = TaskerCore.create_task(name: "fan_out", namespace: namespace, client: client,
                                    context: { "extra_results" => { "leaf3" => { "poison" => true } } })
      stats = run_worker(task, report_isolation_failures: 2)
      expect(settled?(task)).to be(true), "still in progress: #{in_progress(task)}"
      expect(in_progress(task)).to be_empty
      (leaves - ["leaf3"]).each { |name| expect(step_row(task, name)[:state]).to eq("complete"), name }
      bad = step_row(task, "leaf3")
      expect(bad).to include(state: "error", retryable: false)
      expect(bad[:message]).to include("the step's report was refused").and include("poisoned result")
      expect(stats[:errors]).to be_between(1, 3)
      expect(stats[:failed]).to eq(1)
    end
  end

  context "when reports fail with a connection error for a while" do
    before do
      sql(<<~SQL)
        CREATE SEQUENCE spec_flaky;
        CREATE FUNCTION spec_flaky() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.results ? 'flaky' THEN
            IF nextval('spec_flaky') <= 4 THEN
              RAISE EXCEPTION 'connection failure (simulated)' USING ERRCODE = '08006';
            END IF;
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER spec_flaky BEFORE UPDATE ON tasker_workflow_steps FOR EACH ROW EXECUTE FUNCTION spec_flaky();
      SQL
    end

    after { sql("DROP TRIGGER spec_flaky ON tasker_workflow_steps; DROP FUNCTION spec_flaky(); DROP SEQUENCE spec_flaky") }

    it "keeps retrying the whole report (transient) and stores it once the error passes" do
      task = TaskerCore.create_task(name: "fan_out", namespace: namespace, client: client,
                                    context: { "extra_results" => { "leaf1" => { "flaky" => true } } })
      stats = run_worker(task, report_isolation_failures: 2)
      expect(client.task_execution_context(task.task_id).status).to eq("complete")
      expect(step_row(task, "leaf1")[:state]).to eq("complete")
      expect(stats[:errors]).to be >= 4
      expect(stats[:failed]).to eq(0)
    end
  end
end
