# frozen_string_literal: true

require "json"
require "logger"

module TaskerCore
  # Writes the native library's log lines to TaskerCore.logger (Rails.logger
  # under Rails, else a Logger on $stderr at WARN; set TaskerCore.logger= for
  # another). The library's default logging.output "host" keeps its lines for
  # the gem, which finds them in the envelope of its next call (Native), so no
  # thread is needed and nothing is spent when the library logs nothing
  # (logging.level, default warn, filters in the library first).
  #
  # Each line goes to the logger at its level (trace and debug → DEBUG, info
  # → INFO, warn → WARN, error, fatal and panic → ERROR) as the library's JSON
  # text: {"level", "component", "message", "time", and its fields such as
  # correlation_id, task_id, step_name, error}, the format StructuredLogger
  # writes for the gem's own lines. Lines the library dropped (a full buffer,
  # logging.buffer_lines) are counted in one WARN line.
  module NativeLog
    # The library's log levels → Logger severities (trace is logged as DEBUG;
    # fatal and panic as ERROR).
    SEVERITIES = {
      "trace" => Logger::DEBUG, "debug" => Logger::DEBUG, "info" => Logger::INFO, "warn" => Logger::WARN,
      "error" => Logger::ERROR, "fatal" => Logger::ERROR, "panic" => Logger::ERROR
    }.freeze
    # The progname of the lines written for the library.
    PROGNAME = "tasker_core"

    class << self
      # Writes +lines+ (Hashes, as parsed from an envelope) and reports
      # +dropped+. Never raises: a failing logger must not fail the call.
      def deliver(lines, dropped)
        logger = TaskerCore.logger
        Array(lines).each do |line|
          next unless line.is_a?(Hash)

          logger.add(SEVERITIES.fetch(line["level"].to_s, Logger::INFO), JSON.generate(line), PROGNAME)
        end
        if dropped.is_a?(Integer) && dropped.positive?
          logger.add(Logger::WARN, "tasker_core: the native library dropped #{dropped} log line(s) " \
                                   "(its buffer, logging.buffer_lines, was full between two calls)", PROGNAME)
        end
        nil
      rescue StandardError
        nil
      end
    end
  end
end
