# frozen_string_literal: true

require "securerandom"

module TaskerCore
  # The correlation id of the work in progress, kept per fiber (Thread#[] is
  # fiber-local), so that tasks created, handlers run and log lines written on
  # behalf of one request or task share it:
  #
  #   TaskerCore::Correlation.with(TaskerCore::Correlation.generate) do
  #     TaskerCore.create_task(name: "order", context: {...}) # takes the id
  #   end
  #
  # The Worker runs each handler inside Correlation.with(its task's
  # correlation_id); Rack::CorrelationMiddleware sets it per HTTP request.
  # Threads (and fibers) started inside do not inherit it.
  module Correlation
    KEY = :tasker_core_correlation_id
    # The HTTP header that carries a correlation id in and out of a request.
    HEADER_NAME = "X-Correlation-ID"
    # A UUID in its canonical 8-4-4-4-12 hexadecimal form.
    UUID_FORMAT = /\A\h{8}-\h{4}-\h{4}-\h{4}-\h{12}\z/
    private_constant :KEY

    class << self
      # The current correlation id (a String), or nil.
      def id
        Thread.current[KEY]
      end

      # Runs the block with +id+ (to_s; nil clears it) as the current id and
      # restores the previous one afterwards, also when the block raises.
      # → the block's value
      def with(id)
        previous = Thread.current[KEY]
        Thread.current[KEY] = id.nil? ? nil : id.to_s.dup.freeze
        begin
          yield
        ensure
          Thread.current[KEY] = previous
        end
      end

      # A new UUIDv7 (RFC 9562): 48 bits of Unix time in milliseconds, the
      # version (7), 12 random bits, the variant (0b10) and 62 random bits.
      # Ids of different milliseconds sort in time order.
      def generate(time_ms = Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond))
        bytes = [time_ms & 0xFFFF_FFFF_FFFF].pack("Q>")[2, 6].b + SecureRandom.random_bytes(10)
        bytes.setbyte(6, (bytes.getbyte(6) & 0x0F) | 0x70)
        bytes.setbyte(8, (bytes.getbyte(8) & 0x3F) | 0x80)
        hex = bytes.unpack1("H*")
        "#{hex[0, 8]}-#{hex[8, 4]}-#{hex[12, 4]}-#{hex[16, 4]}-#{hex[20, 12]}"
      end

      # Whether +value+ is a UUID string (8-4-4-4-12 hex digits), the only
      # correlation ids the library stores.
      def uuid?(value)
        value.is_a?(String) && UUID_FORMAT.match?(value)
      end

      # The HTTP header carrying the id: "X-Correlation-ID".
      def header_name
        HEADER_NAME
      end

      # Headers for an outgoing HTTP request: {"X-Correlation-ID" => id}, or {}
      # when there is no current id.
      def headers
        current = id
        current.nil? || current.empty? ? {} : { HEADER_NAME => current }
      end
    end
  end
end
