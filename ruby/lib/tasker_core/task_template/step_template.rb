# frozen_string_literal: true

module TaskerCore
  class TaskTemplate
    # One step of a task template: its name, the handler class that runs it (a
    # class name, resolved when the step runs), the steps it depends on, and its
    # retry settings. nil settings are left to the library's defaults
    # (retryable true, retry_limit 3).
    #
    # @!attribute [r] name
    #   @return [String] the step's name, unique in the template
    # @!attribute [r] handler_class
    #   @return [String, Class] the handler class that runs the step, or its name (resolved when it runs)
    # @!attribute [r] depends_on
    #   @return [Array<String>] the names of the steps it depends on
    # @!attribute [r] retry_limit
    #   @return [Integer, nil] attempts before the step fails for good (nil: the library's default, 3)
    # @!attribute [r] retryable
    #   @return [Boolean, nil] whether a failure is retried (nil: the library's default, true)
    # @!attribute [r] skippable
    #   @return [Boolean, nil] whether the step may be skipped (nil: the library's default)
    # @!attribute [r] dependent_system
    #   @return [String, nil] the name of the system the step depends on (the engine's dependent_system)
    # @!attribute [r] inputs
    #   @return [Object, nil] the step's inputs (a frozen JSON value)
    # @!attribute [r] handler_config
    #   @return [Hash] the handler's configuration (frozen; {} when none)
    # @!attribute [r] description
    #   @return [String, nil] what the step does
    class StepTemplate
      # The keys a step of a template may have, each also a reader.
      KEYS = %i[name handler_class depends_on retry_limit retryable skippable dependent_system inputs
                handler_config description].freeze

      attr_reader(*KEYS)

      # handler_class: a class name ("Demo::ValidateCart") or a Class.
      def initialize(name:, handler_class:, depends_on: [], retry_limit: nil, retryable: nil, skippable: nil,
                     dependent_system: nil, inputs: nil, handler_config: {}, description: nil)
        @name = name.to_s
        raise ArgumentError, "a step template needs a name" if @name.empty?

        @handler_class = handler_class.is_a?(Module) ? handler_class : handler_class.to_s
        raise ArgumentError, "step #{@name.inspect} needs a handler_class" if @handler_class.to_s.empty?

        @depends_on = Array(depends_on).map(&:to_s).freeze
        unless retry_limit.nil? || (retry_limit.is_a?(Integer) && retry_limit >= 0)
          raise ArgumentError, "step #{@name.inspect}: retry_limit must be a non-negative Integer, got #{retry_limit.inspect}"
        end

        @retry_limit = retry_limit
        @retryable = retryable
        @skippable = skippable
        @dependent_system = dependent_system&.to_s
        @inputs = ValueObject.deep_freeze(inputs)
        @handler_config = ValueObject.deep_freeze(handler_config || {})
        @description = description
        freeze
      end

      # Builds a StepTemplate from a Hash with symbol or string keys.
      def self.from_h(hash)
        return hash if hash.is_a?(StepTemplate)
        raise ArgumentError, "a step template must be a Hash, got #{hash.class}" unless hash.is_a?(Hash)

        args = hash.transform_keys(&:to_sym)
        unknown = args.keys - KEYS
        raise ArgumentError, "unknown step template keys: #{unknown.join(', ')}" unless unknown.empty?

        new(**args)
      end

      # The name of the handler class (also when given as a Class).
      def handler_class_name
        handler_class.is_a?(Module) ? handler_class.name : handler_class
      end

      # The step's part of a task spec (docs/ffi.md "Task spec").
      def to_step_spec
        { name: name, depends_on: depends_on, retry_limit: retry_limit, retryable: retryable, skippable: skippable,
          dependent_system: dependent_system, inputs: inputs }.compact
      end

      # @return [Hash{Symbol => Object}] every key of KEYS with its value (nil included)
      def to_h
        KEYS.to_h { |key| [key, public_send(key)] }
      end

      # Equal when every key of KEYS is.
      # @param other [Object]
      # @return [Boolean]
      def ==(other)
        other.is_a?(StepTemplate) && other.to_h == to_h
      end
      alias eql? ==

      # @return [Integer] consistent with #==
      def hash
        to_h.hash
      end
    end
  end
end
