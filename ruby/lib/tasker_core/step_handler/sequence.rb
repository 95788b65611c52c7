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

      # The results of step +name+, or nil when it has not completed.
      # @param name [String, Symbol]
      # @return [Object, nil] the step's (frozen) results
      def [](name)
        @results[name.to_s]
      end

      # The results of step +name+, like Hash#fetch.
      # @param name [String, Symbol]
      # @return [Object] the step's (frozen) results, or the default
      # @raise [KeyError] when the step has no results and no default was given
      #   (the message lists the completed steps)
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

      # Yields each completed step's name and results.
      # @yieldparam name [String]
      # @yieldparam results [Object]
      def each(&block)
        @results.each(&block)
      end

      # @return [Integer] the number of completed steps
      def size
        @results.size
      end

      def empty?
        @results.empty?
      end

      # @return [Hash{String => Object}] the results by step name (frozen)
      def to_h
        @results
      end

      # The names of the completed steps.
      # @return [String]
      def inspect
        "#<#{self.class.name} #{names.join(', ')}>"
      end
    end
  end
end
