# frozen_string_literal: true

module TaskerCore
  # The shape of a task's dependency graph (analyze_dependencies): levels,
  # critical path, parallelism, bottlenecks and cycles. Step ids are Integers,
  # also as the keys of dependency_levels.
  class DependencyAnalysis < ValueObject
    attribute :has_cycles
    attribute :cycle, :frozen
    attribute :cycle_names, :frozen
    attribute :total_steps
    attribute :total_edges
    attribute :max_depth
    attribute(:dependency_levels) { |h| h && deep_freeze(h.to_h { |id, level| [Integer(id, 10), level] }) }
    attribute :levels, :frozen
    attribute :roots, :frozen
    attribute :leaves, :frozen
    attribute :critical_path, :frozen
    attribute :critical_path_names, :frozen
    attribute :critical_path_length
    attribute :parallel_branches
    attribute :parallelization_factor
    attribute :bottlenecks, :frozen
    attribute :bottleneck_names, :frozen

    def has_cycles? # rubocop:disable Naming/PredicateName -- the field's own name
      has_cycles == true
    end
    alias cyclic? has_cycles?
  end
end
