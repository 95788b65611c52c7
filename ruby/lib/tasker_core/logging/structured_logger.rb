# frozen_string_literal: true

require "json"
require "time"

module TaskerCore
  # Writes one JSON line per call to a Logger-like target (Rails.logger, a
  # stdlib Logger: anything with #debug/#info/#warn/#error), with the fields of
  # the Go library's log lines: time (UTC, ISO 8601 with microseconds), level,
  # message, component ("ruby"), correlation_id (default Correlation.id), and
  # any of task_id, step_id, step_name, namespace, attempt, duration_ms, error
  # given as keywords. An exception given as error: becomes {"type", "message"}.
  # Passwords of postgres:// URLs in string values are masked as "***".
  # The target's level filters as usual.
  #
  #   TaskerCore.structured_logger.info("charged", task_id: 42, step_name: "charge")
  class StructuredLogger
    # The "component" field of every line this logger writes (the library's own
    # lines name their Go component, e.g. "api").
    COMPONENT = "ruby"
    # The context fields a line may carry besides its message.
    FIELDS = %i[task_id step_id step_name namespace attempt duration_ms error].freeze
    # The levels, each also a method (#debug, #info, #warn, #error).
    LEVELS = %i[debug info warn error].freeze
    # user:password@ in a postgres:// or postgresql:// URL, and password=... in a DSN.
    URL_PASSWORD = %r{(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*(@)}i
    # password=... (quoted or not) in a key=value DSN.
    DSN_PASSWORD = /(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]+)/i

    attr_reader :target

    def initialize(target)
      @target = target
    end

    # @!method debug(message, **fields)
    #   Writes a debug line (see #format).
    #   @param message [String]
    #   @param fields [Hash] FIELDS, and correlation_id: to override Correlation.id
    #   @return [void]
    # @!method info(message, **fields)
    #   Writes an info line (see #format).
    #   @param message [String]
    #   @param fields [Hash] FIELDS, and correlation_id: to override Correlation.id
    #   @return [void]
    # @!method warn(message, **fields)
    #   Writes a warn line (see #format).
    #   @param message [String]
    #   @param fields [Hash] FIELDS, and correlation_id: to override Correlation.id
    #   @return [void]
    # @!method error(message, **fields)
    #   Writes an error line (see #format).
    #   @param message [String]
    #   @param fields [Hash] FIELDS, and correlation_id: to override Correlation.id
    #   @return [void]
    LEVELS.each do |level|
      define_method(level) do |message, **fields|
        log(level, message, **fields)
      end
    end

    # The JSON line (without a newline) for +level+, +message+ and +fields+.
    def format(level, message, **fields)
      correlation_id = fields.key?(:correlation_id) ? fields.delete(:correlation_id) : Correlation.id
      entry = { "time" => Time.now.utc.iso8601(6), "level" => level.to_s, "message" => message.to_s,
                "component" => COMPONENT }
      entry["correlation_id"] = correlation_id unless correlation_id.nil?
      FIELDS.each do |name|
        next unless fields.key?(name)

        value = fields.delete(name)
        entry[name.to_s] = name == :error ? error_value(value) : value unless value.nil?
      end
      fields.each { |name, value| entry[name.to_s] = value unless value.nil? || entry.key?(name.to_s) }
      JSON.generate(mask(entry))
    end

    # Masks passwords in postgres URLs and DSNs in +value+ (strings, hashes and
    # arrays of them).
    def self.mask(value)
      case value
      when String then value.gsub(URL_PASSWORD, '\1***\2').gsub(DSN_PASSWORD, '\1***')
      when Hash then value.to_h { |k, v| [k, mask(v)] }
      when Array then value.map { |v| mask(v) }
      else value
      end
    end

    private

    # A line below the target's level is not built at all (a worker logs every
    # step at debug and info: formatting those for a logger at warn cost more
    # than the step's own bookkeeping).
    def log(level, message, **fields)
      return nil unless enabled?(level)

      @target.public_send(level, format(level, message, **fields))
      nil
    end

    def enabled?(level)
      predicate = :"#{level}?"
      !@target.respond_to?(predicate) || @target.public_send(predicate)
    end

    def mask(value)
      self.class.mask(value)
    end

    def error_value(error)
      case error
      when Exception then { "type" => error.class.name, "message" => error.message }
      when Hash then error.transform_keys(&:to_s)
      else { "type" => "error", "message" => error.to_s }
      end
    end
  end
end
