# frozen_string_literal: true

module TaskerCore
  class Web
    module GraphQL
      # The shape of a task's dependency graph.
      class AnalysisType < ::GraphQL::Schema::Object
        graphql_name "TaskerDependencyAnalysis"
        field :total_steps, Integer, null: false
        field :total_edges, Integer, null: false
        field :max_depth, Integer, null: false
        field :has_cycles, Boolean, null: false
        field :critical_path, [ID], null: false
        field :critical_path_names, [String], null: false
        field :critical_path_length, Integer, null: true
        field :parallel_branches, Integer, null: true
        field :parallelization_factor, Float, null: true
        field :bottleneck_names, [String], null: false
        field :levels, JsonType, null: true, description: "step ids by level"
        field :dependency_levels, JsonType, null: true, description: "step id → level"

        # @!method critical_path
        #   @return [Array<Integer>] the step ids of the critical path ([] when none)
        # @!method critical_path_names
        #   @return [Array<String>] the step names of the critical path ([] when none)
        # @!method bottleneck_names
        #   @return [Array<String>] the names of the bottleneck steps ([] when none)
        %i[critical_path critical_path_names bottleneck_names].each do |name|
          define_method(name) { Array(object.public_send(name)) }
        end

        def has_cycles # rubocop:disable Naming/PredicateName -- the field's name
          object.has_cycles == true
        end
      end
    end
  end
end
