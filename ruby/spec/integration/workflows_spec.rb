# frozen_string_literal: true

# The four performance functions (get_task_execution_context, discover_viable_steps,
# batch_update_step_states, analyze_dependencies) on real workflows, walked to
# completion against PostgreSQL. At every stage the answers are compared with a
# model of the DAG kept in Ruby.
RSpec.describe "Workflows", :integration do
  with_tasker_schema

  def expect_stage(task, model)
    id = task.task_id
    viable = client.viable_steps(id)
    expect(viable.map(&:name).sort).to eq(model.ready)
    expect(viable).to all(be_ready)
    expect(viable.map(&:reason).uniq - [:ready]).to eq([])
    expect(viable.map(&:workflow_step_id).sort).to eq(model.ready.map { |n| task.step_id(n) }.sort)
    expect(viable.map(&:task_id).uniq - [id]).to eq([])

    readiness = client.step_readiness(id)
    expect(readiness.select(&:ready?).map(&:name).sort).to eq(model.ready)
    readiness.each do |row|
      expect(row.current_state).to eq(model.states[row.name]), row.name
      parents_done = model.parents[row.name].count { |p| model.states[p] == "complete" }
      expect(row.completed_parents).to eq(parents_done), row.name
      expect(row.total_parents).to eq(model.parents[row.name].size), row.name
      expect(row.dependencies_satisfied).to eq(parents_done == model.parents[row.name].size), row.name
      if row.current_state == "pending" && !row.dependencies_satisfied
        expect(row.reason).to eq(:dependencies_unmet), row.name
        expect(row).to be_waiting_for_dependencies
      end
    end

    context = client.task_execution_context(id)
    completed = model.count("complete")
    expect(context.task_id).to eq(id)
    expect(context.named_task_id).to eq(task.named_task_id)
    expect(context.total_steps).to eq(model.total)
    expect(context.pending_steps).to eq(model.count("pending"))
    expect(context.in_progress_steps).to eq(model.count("in_progress"))
    expect(context.completed_steps).to eq(completed)
    expect(context.failed_steps).to eq(0)
    expect(context.ready_steps).to eq(model.ready.size)
    expect(context.completion_percentage).to eq((100.0 * completed / model.total).round(2))
    expect(context.health_status).to eq("healthy")
    expect(context).to be_healthy
    expect(context.correlation_id).to eq(task.correlation_id)
    expected_status =
      if model.ready.any? then "has_ready_steps"
      elsif model.count("in_progress").positive? then "processing"
      elsif completed == model.total then "all_complete"
      else "waiting_for_dependencies"
      end
    expected_action = { "has_ready_steps" => "execute_ready_steps", "processing" => "wait_for_completion",
                        "all_complete" => "finalize_task", "waiting_for_dependencies" => "wait_for_dependencies" }
    expect(context.execution_status).to eq(expected_status)
    expect(context.recommended_action).to eq(expected_action.fetch(expected_status))
    context
  end

  # Runs +names+ through in_progress (checking the processing stage) and complete.
  def run_stage(task, model, names)
    ids = names.map { |n| task.step_id(n) }
    started = client.batch_update_step_states(ids.map { |i| { step_id: i, state: "in_progress" } })
    expect(started.applied).to eq(ids.size)
    expect(started.outcomes.map(&:step_id)).to eq(ids)
    expect(started.outcomes.map(&:from_state).uniq).to eq(["pending"])
    names.each { |n| model.states[n] = "in_progress" }
    expect_stage(task, model)

    done = client.batch_update_step_states(ids.map { |i| [i, "complete", { "ok" => true }] })
    expect(done.applied).to eq(ids.size)
    expect(done.outcomes.map(&:to_state).uniq).to eq(["complete"])
    names.each { |n| model.states[n] = "complete" }
    expect_stage(task, model)
  end

  def ids(task, *names) = names.map { |n| task.step_id(n) }

  describe "linear A -> B -> C -> D" do
    let(:spec) { linear_spec }
    let(:task) { client.create_task(spec) }

    it "analyses the chain" do
      analysis = client.analyze_dependencies(task.task_id)
      expect(analysis).to be_a(TaskerCore::DependencyAnalysis)
      expect(analysis).not_to have_cycles
      expect(analysis.total_steps).to eq(4)
      expect(analysis.total_edges).to eq(3)
      expect(analysis.max_depth).to eq(4)
      expect(analysis.dependency_levels).to eq(ids(task, "A", "B", "C", "D").zip([0, 1, 2, 3]).to_h)
      expect(analysis.levels).to eq(ids(task, "A", "B", "C", "D").map { |i| [i] })
      expect(analysis.roots).to eq(ids(task, "A"))
      expect(analysis.leaves).to eq(ids(task, "D"))
      expect(analysis.critical_path).to eq(ids(task, "A", "B", "C", "D"))
      expect(analysis.critical_path_names).to eq(%w[A B C D])
      expect(analysis.critical_path_length).to eq(4)
      expect(analysis.parallel_branches).to eq(1)
      expect(analysis.parallelization_factor).to eq(1.0)
      expect(analysis.bottlenecks).to eq([])
    end

    it "walks to completion one step at a time" do
      model = TaskerCoreSpec::DagModel.new(spec)
      first = expect_stage(task, model)
      expect(first.status).to eq("pending")
      expect(first.completion_percentage).to eq(0)
      %w[A B C D].each { |name| run_stage(task, model, [name]) }
      final = client.task_execution_context(task.task_id)
      expect(final).to be_complete
      expect(final.completion_percentage).to eq(100.0)
      expect(client.viable_steps(task.task_id)).to eq([])
    end

    it "names the unmet parent of a waiting step" do
      row = client.step_readiness(task.task_id, step_ids: ids(task, "C")).first
      expect(row.reason).to eq(:dependencies_unmet)
      expect(row.reason_detail.to_s).to include("B")
    end
  end

  describe "diamond A -> (B, C) -> D" do
    let(:spec) { diamond_spec }
    let(:task) { client.create_task(spec) }

    it "analyses the diamond" do
      analysis = client.analyze_dependencies(task.task_id)
      a, b, c, d = ids(task, "A", "B", "C", "D")
      expect(analysis.total_steps).to eq(4)
      expect(analysis.total_edges).to eq(4)
      expect(analysis.max_depth).to eq(3)
      expect(analysis.dependency_levels).to eq(a => 0, b => 1, c => 1, d => 2)
      expect(analysis.levels).to eq([[a], [b, c].sort, [d]])
      expect(analysis.roots).to eq([a])
      expect(analysis.leaves).to eq([d])
      expect(analysis.critical_path_length).to eq(3)
      expect(analysis.critical_path).to eq([a, [b, c].min, d])
      expect(analysis.critical_path_names.values_at(0, 2)).to eq(%w[A D])
      expect(analysis.parallel_branches).to eq(2)
      expect(analysis.parallelization_factor).to eq(1.33)
      expect(analysis.bottlenecks).to eq([a, d].sort)
      expect(analysis.bottleneck_names).to match_array(%w[A D])
    end

    it "walks to completion, one branch at a time" do
      model = TaskerCoreSpec::DagModel.new(spec)
      expect_stage(task, model)
      run_stage(task, model, ["A"])
      expect(viable_names(client, task.task_id)).to eq(%w[B C])
      run_stage(task, model, ["B"])
      expect(viable_names(client, task.task_id)).to eq(%w[C])
      d = client.step_readiness(task.task_id, step_ids: ids(task, "D")).first
      expect(d.completed_parents).to eq(1)
      expect(d.reason_detail.to_s).to include("C")
      expect(d.reason_detail.to_s).not_to include('"B"')
      run_stage(task, model, ["C"])
      expect(viable_names(client, task.task_id)).to eq(%w[D])
      run_stage(task, model, ["D"])
      expect(client.task_execution_context(task.task_id)).to be_complete
    end

    it "walks to completion running the parallel branches together" do
      model = TaskerCoreSpec::DagModel.new(spec)
      run_stage(task, model, ["A"])
      run_stage(task, model, %w[B C])
      run_stage(task, model, ["D"])
      expect(client.task_execution_context(task.task_id).execution_status).to eq("all_complete")
    end
  end

  describe "tree root -> 3 children -> 2 each" do
    let(:spec) { tree_spec }
    let(:task) { client.create_task(spec) }
    let(:children) { %w[c1 c2 c3] }
    let(:leaves) { children.flat_map { |c| ["#{c}_1", "#{c}_2"] } }

    it "analyses the tree" do
      analysis = client.analyze_dependencies(task.task_id)
      expect(analysis.total_steps).to eq(10)
      expect(analysis.total_edges).to eq(9)
      expect(analysis.max_depth).to eq(3)
      expect(analysis.levels.map(&:size)).to eq([1, 3, 6])
      expect(analysis.levels[1]).to eq(ids(task, *children).sort)
      expect(analysis.levels[2]).to eq(ids(task, *leaves).sort)
      expect(analysis.dependency_levels.values.tally).to eq(0 => 1, 1 => 3, 2 => 6)
      expect(analysis.roots).to eq(ids(task, "root"))
      expect(analysis.leaves).to eq(ids(task, *leaves).sort)
      expect(analysis.critical_path_length).to eq(3)
      expect(analysis.critical_path.first).to eq(task.step_id("root"))
      expect(analysis.parallel_branches).to eq(6)
      expect(analysis.parallelization_factor).to eq(3.33)
      expect(analysis.bottlenecks).to eq(ids(task, "root"))
    end

    it "walks to completion, subtree by subtree" do
      model = TaskerCoreSpec::DagModel.new(spec)
      expect_stage(task, model)
      run_stage(task, model, ["root"])
      expect(viable_names(client, task.task_id)).to eq(children)
      run_stage(task, model, ["c1"])
      expect(viable_names(client, task.task_id)).to eq(%w[c1_1 c1_2 c2 c3])
      run_stage(task, model, %w[c1_1 c2])
      expect(viable_names(client, task.task_id)).to eq(%w[c1_2 c2_1 c2_2 c3])
      run_stage(task, model, %w[c1_2 c2_1 c2_2 c3])
      expect(viable_names(client, task.task_id)).to eq(%w[c3_1 c3_2])
      run_stage(task, model, %w[c3_1 c3_2])
      expect(client.task_execution_context(task.task_id)).to be_complete
    end
  end

  describe "a cycle" do
    it "is refused at creation, naming the steps" do
      spec = { name: unique_name("cyclic"), namespace: "rspec",
               steps: [{ name: "x", depends_on: ["z"] }, { name: "y", depends_on: ["x"] },
                       { name: "z", depends_on: ["y"] }, { name: "free" }] }
      expect { client.create_task(spec) }.to raise_error(TaskerCore::DependencyCycleError) { |e|
        expect(e.details["cycle"]).to match_array(%w[x y z])
        expect(e.type).to eq("cycle_error")
      }
    end
  end

  describe "processing, blocked and waiting" do
    it "reports a permanently failed step as blocked_by_failures" do
      task = client.create_task(linear_spec)
      a = task.step_id("A")
      client.batch_update_step_states([{ step_id: a, state: "in_progress" }])
      result = client.batch_update_step_states([{ step_id: a, state: "error", permanent: true,
                                                  results: { "error" => "boom" } }])
      expect(result.applied).to eq(1)
      context = client.task_execution_context(task.task_id)
      expect(context.failed_steps).to eq(1)
      expect(context).to be_blocked
      expect(context.recommended_action).to eq("handle_failures")
      expect(context.health_status).to eq("blocked")
      expect(context.permanently_blocked_steps).to eq(1)
      row = client.step_readiness(task.task_id, step_ids: [a]).first
      expect(row).to be_blocked
      expect(row.reason).to eq(:not_retryable)
      expect(client.viable_steps(task.task_id)).to eq([])
    end

    it "reports a retryable failure as recovering, in backoff" do
      task = client.create_task(linear_spec)
      a = task.step_id("A")
      client.batch_update_step_states([{ step_id: a, state: "in_progress" }])
      client.batch_update_step_states([{ step_id: a, state: "error", backoff_request_seconds: 600 }])
      context = client.task_execution_context(task.task_id)
      expect(context.health_status).to eq("recovering")
      expect(context).to be_waiting
      expect(context.next_retry_at).to be_a(Time).and be > Time.now
      row = client.step_readiness(task.task_id, step_ids: [a]).first
      expect(row).to be_in_backoff
      expect(row.next_retry_at).to be_within(120).of(Time.now + 600)
      expect(client.viable_steps(task.task_id, as_of: Time.now + 3600).map(&:name)).to eq(["A"])
    end
  end
end
