# frozen_string_literal: true

module TaskerCore
  module StepHandler
    # The results of the task's completed steps, by step name:
    #
    #   sequence["validate_cart"]          # => {"total_cents" => 4599}, or nil if not complete
    #   sequence.fetch("validate_cart")    # KeyError when that step has not completed
    #
    # The values are frozen; names may be Strings or Symbols.
    class Sequence
      include Enumerable

      def initialize(results_by_name)
        @results = ValueObject.deep_freeze((results_by_name || {}).to_h { |name, results| [name.to_s, results] })
        freeze
      end

      def [](name)
        @results[name.to_s]
      end

      def fetch(name, *default, &block)
        @results.fetch(name.to_s, *default, &block)
      rescue KeyError
        raise KeyError.new("step #{name.to_s.inspect} has no results in this sequence " \
                           "(completed: #{names.join(', ')})", receiver: self, key: name.to_s)
      end

      def key?(name)
        @results.key?(name.to_s)
      end
      alias include? key?
      alias completed? key?

      # The names of the completed steps.
      def names
        @results.keys
      end

      def each(&block)
        @results.each(&block)
      end

      def size
        @results.size
      end

      def empty?
        @results.empty?
      end

      def to_h
        @results
      end

      def inspect
        "#<#{self.class.name} #{names.join(', ')}>"
      end
    end
  end
end
