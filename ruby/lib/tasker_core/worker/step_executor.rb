# frozen_string_literal: true

require "json"

module TaskerCore
  # Runs claimed steps through their handlers: finds the handler (a
  # HandlerRegistry), builds what it sees (StepHandler::Task, Sequence, Step),
  # calls it (inside TaskerCore.handler_wrapper when one is set) and turns what
  # happened into a StepExecution. #execute never raises:
  # whatever the handler raises, including a missing handler class, becomes a
  # failed execution, so one bad handler never takes a worker thread down.
  class StepExecutor
    attr_reader :registry

    def initialize(registry: TaskerCore.handler_registry)
      @registry = registry
    end

    # → StepExecution
    def execute(claimed)
      started_at = Time.now.utc
      started = monotonic
      results = nil
      error = nil
      local_event(claimed, "step.before_handle")
      begin
        results = wrapped do
          handler = registry.handler_for(claimed)
          local_event(claimed, "step.handle")
          Observability::Tracing.step_span(claimed) do
            normalize(handler.call(StepHandler::Task.from_claimed(claimed),
                                   StepHandler::Sequence.new(claimed.sequence),
                                   StepHandler::Step.from_claimed(claimed)))
          end
        end
      rescue Exception => e # rubocop:disable Lint/RescueException -- a handler's failure, whatever it is, is the step's
        error = e
      end
      duration = monotonic - started
      local_event(claimed, "observability.step.handle",
                  "duration_ms" => (duration * 1000).round(3), "success" => error.nil?,
                  "error" => error && { "type" => error.class.name, "message" => error.message })
      StepExecution.new(claimed: claimed, results: results, error: error, started_at: started_at,
                        finished_at: Time.now.utc, duration: duration)
    end

    # The handler-side moments (step.before_handle, step.handle,
    # observability.step.handle) happen in this process only: they go to this
    # process's TaskerCore::Events subscribers (and ActiveSupport::Notifications),
    # not to the durable outbox, which records what the database saw.
    def local_event(claimed, name, extra = {})
      return unless Events.listening?(name)

      payload = { "task_id" => claimed.task_id, "step_id" => claimed.step_id, "step_name" => claimed.step_name,
                  "attempt" => claimed.attempts }.merge(extra.compact)
      Events.publish_locally(
        Event.new(name: name, task_id: claimed.task_id, step_id: claimed.step_id, namespace: claimed.namespace,
                  task_name: claimed.task_name, correlation_id: claimed.correlation_id, payload: payload,
                  created_at: Time.now.utc, durable: false)
      )
    rescue StandardError => e
      TaskerCore.logger.error("tasker_core: local event #{name}: #{e.class}: #{e.message}")
    end

    private

    # The block through TaskerCore.handler_wrapper (Rails' executor), when set.
    def wrapped(&run)
      wrapper = TaskerCore.handler_wrapper
      wrapper ? wrapper.call(&run) : yield
    end

    def monotonic
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    # The results as the library will store them (and later steps will see
    # them): JSON values with string keys, Times as RFC 3339 UTC strings, nil as
    # {}. A value JSON cannot carry is the handler's error (TypeError), caught
    # here rather than failing a whole batch of reports.
    def normalize(results)
      return {} if results.nil?

      JSON.parse(JSON.generate(jsonable(results)))
    rescue JSON::GeneratorError, JSON::NestingError => e
      raise TypeError, "the handler's results cannot be stored as JSON: #{e.message}"
    end

    def jsonable(value)
      case value
      when Hash then value.to_h { |k, v| [k.to_s, jsonable(v)] }
      when Array then value.map { |v| jsonable(v) }
      when Time then value.getutc.iso8601(6)
      when Date then value.iso8601
      when Symbol then value.to_s
      when String, Integer, Float, true, false, nil then value
      else
        raise TypeError, "the handler's results cannot be stored as JSON: #{value.class} #{value.inspect[0, 80]}"
      end
    end
  end
end
