# frozen_string_literal: true

module TaskerCoreSpec
  # Task specs of the shapes the specs walk, and helpers to move their steps.
  module Workflows
    NAMESPACE = "rspec"

    def unique_name(prefix)
      "#{prefix}_#{SecureRandom.hex(4)}"
    end

    # A -> B -> C -> D
    def linear_spec(name = unique_name("linear"), **extra)
      { name: name, namespace: NAMESPACE,
        steps: [{ name: "A" }, { name: "B", depends_on: ["A"] }, { name: "C", depends_on: ["B"] },
                { name: "D", depends_on: ["C"] }] }.merge(extra)
    end

    # A -> (B, C) -> D
    def diamond_spec(name = unique_name("diamond"), **extra)
      { name: name, namespace: NAMESPACE,
        steps: [{ name: "A" }, { name: "B", depends_on: ["A"] }, { name: "C", depends_on: ["A"] },
                { name: "D", depends_on: %w[B C] }] }.merge(extra)
    end

    # root -> c1, c2, c3; each ci -> ci_1, ci_2 (10 steps)
    def tree_spec(name = unique_name("tree"), **extra)
      steps = [{ name: "root" }]
      (1..3).each do |i|
        steps << { name: "c#{i}", depends_on: ["root"] }
        (1..2).each { |j| steps << { name: "c#{i}_#{j}", depends_on: ["c#{i}"] } }
      end
      { name: name, namespace: NAMESPACE, steps: steps }.merge(extra)
    end

    # A wide task: +n+ independent steps.
    def wide_spec(n, name = unique_name("wide"))
      { name: name, namespace: NAMESPACE, steps: (1..n).map { |i| { name: "s#{i}" } } }
    end

    # Moves the steps pending -> in_progress -> complete, in one batch per state,
    # and checks every item was applied.
    def run_steps(client, step_ids, results: nil)
      step_ids = Array(step_ids)
      started = client.batch_update_step_states(step_ids.map { |id| { step_id: id, state: "in_progress" } })
      raise "start failed: #{started.outcomes.map(&:error).compact.map(&:message)}" unless started.success?

      done = client.batch_update_step_states(step_ids.map do |id|
        { step_id: id, state: "complete", results: results }.compact
      end)
      raise "complete failed: #{done.outcomes.map(&:error).compact.map(&:message)}" unless done.success?

      done
    end

    # Names of the viable steps of a task, sorted.
    def viable_names(client, task_id)
      client.viable_steps(task_id).map(&:name).sort
    end
  end
end
