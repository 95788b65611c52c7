# frozen_string_literal: true

module TaskerCore
  class Web
    # One operator operation as the web offers it: the URL segment, the client
    # method (w5's operator API, issue 12), its target and its own parameters
    # (name => :integer, :integer_list, :boolean or :json).
    class Operation
      attr_reader :name, :method_name, :target, :params, :label, :description

      def initialize(name, method_name, target, label:, description:, params: {})
        @name = name
        @method_name = method_name
        @target = target
        @params = params.freeze
        @label = label
        @description = description
        freeze
      end

      # The operations on a task.
      TASK = [
        new("cancel", :cancel_task, :task, label: "Cancel task", description: "cancel the task and every unfinished step"),
        new("retry", :retry_task, :task, label: "Retry failed steps",
                                         description: "every failed step that may run again goes back to pending now"),
        new("reset_attempts", :reset_attempts, :task, label: "Reset attempts",
                                                      description: "failed steps get their attempt count reset",
                                                      params: { "step_ids" => :integer_list, "retry_limit" => :integer }),
        new("force_complete", :force_complete_task, :task, label: "Force complete", description: "complete the task now"),
        new("force_fail", :force_fail_task, :task, label: "Force fail", description: "fail the task now"),
        new("metadata", :update_task_metadata, :task, label: "Update metadata",
                                                      description: "merge tags, add annotations (or replace the context)",
                                                      params: { "tags" => :json, "annotations" => :json, "context" => :json,
                                                                "replace_context" => :boolean })
      ].freeze

      # The operations on a step.
      STEP = [
        new("retry", :retry_step, :step, label: "Retry", description: "an error step back to pending now, with a fresh attempt budget"),
        new("reset", :reset_step, :step, label: "Reset", description: "back to pending with attempts and results cleared",
                                         params: { "descendants" => :boolean }),
        new("resolve", :resolve_step, :step, label: "Resolve manually", description: "resolved_manually with the given results",
                                             params: { "results" => :json }),
        new("results", :update_step_results, :step, label: "Replace results", description: "replace a completed step's results",
                                                    params: { "results" => :json }),
        new("dependencies", :override_dependencies, :step, label: "Override dependencies",
                                                           description: "add or remove parents of a step that has not started",
                                                           params: { "add" => :integer_list, "remove" => :integer_list })
      ].freeze

      # Every operation, on tasks then on steps.
      ALL = (TASK + STEP).freeze

      # The operation of +target+ (:task or :step) named +name+, or nil.
      def self.find(target, name)
        (target.to_sym == :task ? TASK : STEP).find { |op| op.name == name }
      end

      # @return [String] the path parameter naming the target: "task_id" or "step_id"
      def path_param
        target == :task ? "task_id" : "step_id"
      end

      # Converts this operation's own parameters from +raw+ (a Hash from JSON or
      # a form: strings allowed) into keyword arguments; ValidationError names a
      # bad one. Absent and empty values are left out.
      def coerce_params(raw)
        params.each_with_object({}) do |(key, type), out|
          value = raw[key]
          next if value.nil? || value == ""

          out[key.to_sym] = coerce(key, type, value)
        end
      end

      # A boolean parameter ("true", "1", "on", true...); ValidationError otherwise.
      def boolean(key, value)
        case value
        when true, "true", "1", "on" then true
        when false, "false", "0", "off" then false
        else raise invalid(key, "true or false")
        end
      end

      private

      def coerce(key, type, value)
        case type
        when :integer then integer(key, value)
        when :integer_list
          list = value.is_a?(String) ? value.split(/[\s,]+/).reject(&:empty?) : value
          raise invalid(key, "a list of step ids") unless list.is_a?(Array)

          list.map { |v| integer(key, v) }
        when :boolean then boolean(key, value)
        when :json then json(key, value)
        end
      end

      def integer(key, value)
        return value if value.is_a?(Integer)
        return Integer(value, 10) if value.is_a?(String) && value.match?(/\A-?\d{1,19}\z/)

        raise invalid(key, "an integer")
      end

      # Form fields carry JSON as text; a JSON body carries it as a value.
      def json(key, value)
        return value unless value.is_a?(String)

        JSON.parse(value)
      rescue JSON::ParserError
        raise invalid(key, "JSON")
      end

      def invalid(key, what)
        ValidationError.new("#{key} must be #{what}", details: { "field" => key })
      end
    end
  end
end
