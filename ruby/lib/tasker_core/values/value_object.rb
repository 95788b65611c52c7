# frozen_string_literal: true

require "time"

module TaskerCore
  # The base of the gem's immutable result objects, built from the JSON objects
  # the library returns. A subclass declares its fields:
  #
  #   class Transition < ValueObject
  #     attribute :id
  #     attribute :created_at, :time
  #   end
  #
  # Conversions: :time (RFC 3339 string → Time in UTC; nil stays nil), :symbol,
  # :frozen (deep-frozen JSON value), or a block. Integers stay Integers (JSON
  # parses big ones exactly). Fields the library sends that are not declared are
  # ignored; declared fields it does not send are nil.
  class ValueObject
    # The default of from_h's Hash#fetch: no field of the Hash is this object.
    MISSING = Object.new.freeze
    private_constant :MISSING

    class << self
      # The declared field names, in order.
      def attribute_names
        @attribute_names ||= (superclass.respond_to?(:attribute_names) ? superclass.attribute_names.dup : [])
      end

      # Declares a field with an optional conversion (see the class comment).
      # Each declaration is a reader in the API reference (the macro below).
      # @param name [Symbol] the field, as the library's JSON names it
      # @param type [Symbol, nil] :time, :symbol or :frozen
      # @return [void]
      #
      # @!macro [attach] value_attribute
      #   @!attribute [r] $1
      #     The "$1" field of the library's answer (the class comment says more).
      def attribute(name, type = nil, &block)
        name = name.to_sym
        attribute_names << name unless attribute_names.include?(name)
        converters[name] = block || type
        @builder = nil # from_h compiles again, with this field
        attr_reader name
      end

      # The conversion of each declared field (a Symbol, a block or nil), by
      # name; inherited from the superclass.
      # @return [Hash{Symbol => Symbol, Proc, nil}]
      def converters
        @converters ||= (superclass.respond_to?(:converters) ? superclass.converters.dup : {})
      end

      # Builds an instance from a Hash with string (or symbol) keys.
      def from_h(hash)
        raise TypeError, "#{name}.from_h expects a Hash, got #{hash.class}" unless hash.is_a?(Hash)

        builder = @builder || compile_builder
        return builder.call(hash) if builder.is_a?(Proc)

        values = attribute_names.to_h do |attr|
          raw = hash.key?(attr.to_s) ? hash[attr.to_s] : hash[attr]
          [attr, convert(converters[attr], raw)]
        end
        new(**values)
      end

      # Parses an RFC 3339 timestamp into a UTC Time; nil stays nil, Times pass.
      def parse_time(value)
        case value
        when nil then nil
        when Time then value.getutc
        else Time.iso8601(value.to_s).utc
        end
      end

      # Deep-freezes a JSON value (Hash, Array, String...).
      def deep_freeze(value)
        case value
        when Hash then value.each_value { |v| deep_freeze(v) }
        when Array then value.each { |v| deep_freeze(v) }
        end
        value.freeze
      end

      private

      # from_h is the gem's hot path (every answer of the library becomes value
      # objects): for a class that keeps ValueObject#initialize, it is compiled
      # once into a method that reads each field from the Hash, converts it and
      # sets its instance variable, without the intermediate Hash, keyword
      # arguments and per-field dispatch of the generic path; the result is the
      # same object (the specs of every value class hold both). A class with its
      # own initialize (Event, TaskRunResult...) keeps the generic path (:generic).
      def compile_builder
        return @builder = :generic unless instance_method(:initialize).owner == ValueObject

        procs = []
        lines = attribute_names.map do |attr|
          key = attr.to_s.dump
          # One lookup in the common case; the symbol key only when the string one is absent.
          read = "v = h.fetch(#{key}, missing)\nv = h[#{attr.inspect}] if missing.equal?(v)"
          value = case (conv = converters[attr])
                  when nil then "case v when String then v.frozen? ? v : v.dup.freeze " \
                                "when Hash, Array then ::TaskerCore::ValueObject.deep_freeze(v) else v.freeze end"
                  when :time then "::TaskerCore::ValueObject.parse_time(v)"
                  when :symbol then "v&.to_sym"
                  when :frozen then "::TaskerCore::ValueObject.deep_freeze(v)"
                  when Proc
                    procs << conv
                    "procs[#{procs.size - 1}].call(v)"
                  else raise ArgumentError, "unknown attribute type #{conv.inspect}"
                  end
          "#{read}\n@#{attr} = #{value}"
        end
        # The magic comment keeps the key literals from allocating a String each.
        class_eval(<<~RUBY, __FILE__, __LINE__ + 1)
          # frozen_string_literal: true
          def __tasker_from_h(h, procs, missing) # private: from_h's compiled body
            #{lines.join("\n")}
            freeze
          end
          private :__tasker_from_h
        RUBY
        procs.freeze
        @builder = ->(h) { allocate.__send__(:__tasker_from_h, h, procs, MISSING) }
      end

      def convert(converter, raw)
        case converter
        when nil then raw.is_a?(String) ? raw.dup.freeze : deep_freeze(raw)
        when :time then parse_time(raw)
        when :symbol then raw&.to_sym
        when :frozen then deep_freeze(raw)
        when Proc then converter.call(raw)
        else raise ArgumentError, "unknown attribute type #{converter.inspect}"
        end
      end
    end

    def initialize(**values)
      unknown = values.keys - self.class.attribute_names
      raise ArgumentError, "unknown attributes for #{self.class}: #{unknown.join(', ')}" unless unknown.empty?

      self.class.attribute_names.each { |name| instance_variable_set(:"@#{name}", values[name]) }
      freeze
    end

    # The fields as a Hash with symbol keys.
    def to_h
      self.class.attribute_names.to_h { |name| [name, public_send(name)] }
    end

    # Equal when of the same class with equal fields.
    # @param other [Object]
    # @return [Boolean]
    def ==(other)
      other.class == self.class && other.to_h == to_h
    end
    alias eql? ==

    # @return [Integer] consistent with #==
    def hash
      [self.class, to_h].hash
    end

    # The class name and every field with its value.
    # @return [String]
    def inspect
      fields = to_h.map { |k, v| "#{k}=#{v.inspect}" }.join(", ")
      "#<#{self.class.name} #{fields}>"
    end
    alias to_s inspect
  end

end
