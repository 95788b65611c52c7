# frozen_string_literal: true

module TaskerCore
  class Web
    # Turns the client's answers (value objects, Hashes, Times, Symbols) into
    # JSON-ready values: objects with string keys, times as RFC 3339 UTC.
    module Serializer
      module_function

      # @param value [Object] value objects, Hashes, Arrays, Times, Symbols...
      # @return [Object] JSON-ready values
      def dump(value)
        case value
        when ValueObject then dump(value.to_h)
        when Hash then value.to_h { |k, v| [k.to_s, dump(v)] }
        when Array then value.map { |v| dump(v) }
        when Time then value.getutc.iso8601(6)
        when Symbol then value.to_s
        when String, Numeric, true, false, nil then value
        else value.respond_to?(:to_h) ? dump(value.to_h) : value.to_s
        end
      end

      # Steps of a TaskDetail, each with its readiness row (or nil) under "readiness".
      def steps_with_readiness(detail, readiness)
        by_id = readiness.to_h { |r| [r.workflow_step_id, r] }
        detail.steps.map { |s| dump(s).merge("readiness" => by_id[s.workflow_step_id] && dump(by_id[s.workflow_step_id])) }
      end
    end
  end
end
