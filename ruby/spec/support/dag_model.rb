# frozen_string_literal: true

module TaskerCoreSpec
  # A tiny model of a workflow for the specs: parents by name and the state of
  # each step; #ready is what the library must answer.
  class DagModel
    attr_reader :parents, :states

    def initialize(spec)
      @parents = spec[:steps].to_h { |s| [s[:name], Array(s[:depends_on])] }
      @states = @parents.keys.to_h { |n| [n, "pending"] }
    end

    def ready
      @parents.keys.select do |n|
        @states[n] == "pending" && @parents[n].all? { |p| @states[p] == "complete" }
      end.sort
    end

    def count(state) = @states.values.count(state)

    def total = @states.size
  end
end
