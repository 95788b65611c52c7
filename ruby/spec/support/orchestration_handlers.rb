# frozen_string_literal: true

# Step handlers and task templates of the orchestration specs. Loaded by the
# suite (spec_helper requires spec/support) and by the worker processes the
# specs spawn (`require ".../orchestration_handlers"`), so both sides resolve the
# same handler classes. Handlers take their instructions from the task context:
#
#   "log_dir"     Recorder appends "task_id,step_name,attempt,start,finish,pid"
#                 to <log_dir>/<pid>.log when a run ends (one write per line);
#   "sleep"       {step name => seconds} (default 0; "*" for every step);
#   "nul_result"  [step names]: Recorder returns a result with U+0000 in it for them;
#   "extra_results" {step name => Hash}: Recorder merges it into its result;
#   "marker_file" Marker appends "task_id,step_name,attempt,pid" when a run starts;
#   "hang"        {step name => seconds}: Marker sleeps that long on attempt 1 only;
#   "fail"        {step name => {"mode" => "raise"|"retryable"|"permanent",
#                  "until_attempt" => n (fails while attempt < n; absent: always),
#                  "retry_after" => s, "message" => "...", "delay" => s}} for Failing.
require "tasker_core"

module TaskerCoreSpec
  module Handlers
    module_function

    # The CLOCK_MONOTONIC time (system-wide on Linux, so comparable across processes).
    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def sleep_for(task, step)
      sleeps = task.context["sleep"] || {}
      seconds = sleeps[step.name] || sleeps["*"] || 0
      sleep(seconds) if seconds.positive?
    end

    # Appends one line with one write (O_APPEND: whole lines, even from many threads and processes).
    def append(path, line)
      File.open(path, "a") { |f| f.write("#{line}\n") }
    end

    # Parses Recorder lines of every file in +dir+ into Hashes.
    def read_runs(dir)
      Dir[File.join(dir, "*.log")].flat_map do |file|
        File.readlines(file, chomp: true).map do |line|
          task_id, step, attempt, start, finish, pid = line.split(",")
          { task_id: Integer(task_id), step: step, attempt: Integer(attempt), start: Float(start),
            finish: Float(finish), pid: Integer(pid) }
        end
      end
    end

    # Sleeps as told, records the run, returns what it saw.
    class Recorder < TaskerCore::StepHandler::Base
      def call(task, sequence, step)
        start = Handlers.now
        Handlers.sleep_for(task, step)
        finish = Handlers.now
        if (dir = task.context["log_dir"])
          Handlers.append(File.join(dir, "#{Process.pid}.log"),
                          [task.task_id, step.name, step.attempts, format("%.6f", start), format("%.6f", finish),
                           Process.pid].join(","))
        end
        result = { "step" => step.name, "attempt" => step.attempts, "parents_seen" => sequence.names.sort }
        result["note"] = "made with U+0000: \0" if Array(task.context["nul_result"]).include?(step.name)
        result.merge((task.context["extra_results"] || {}).fetch(step.name, {}))
      end
    end

    # Marks that it started, then sleeps (long on the first attempt when told to hang).
    class Marker < TaskerCore::StepHandler::Base
      def call(task, _sequence, step)
        Handlers.append(task.context.fetch("marker_file"), [task.task_id, step.name, step.attempts, Process.pid].join(","))
        hang = (task.context["hang"] || {})[step.name]
        sleep(hang) if hang && step.attempts == 1
        Handlers.sleep_for(task, step)
        { "step" => step.name, "pid" => Process.pid }
      end
    end

    # Fails as the task context says, then succeeds like Recorder.
    class Failing < Recorder
      class ExampleFailure < StandardError; end

      def call(task, sequence, step)
        plan = (task.context["fail"] || {})[step.name]
        if plan && (plan["until_attempt"].nil? || step.attempts < plan["until_attempt"])
          sleep(plan["delay"]) if plan["delay"]
          message = plan["message"] || "#{step.name} failed on attempt #{step.attempts}"
          case plan.fetch("mode")
          when "retryable" then raise TaskerCore::RetryableError.new(message, retry_after: plan["retry_after"])
          when "permanent" then raise TaskerCore::PermanentError.new(message, error_code: "spec_permanent")
          else raise ExampleFailure, message
          end
        end
        super
      end
    end
  end

  # The templates the orchestration specs register (in the suite and in worker processes).
  module OrchestrationTemplates
    NAMESPACE = "rspec_orchestration"
    RECORDER = "TaskerCoreSpec::Handlers::Recorder"
    MARKER = "TaskerCoreSpec::Handlers::Marker"
    FAILING = "TaskerCoreSpec::Handlers::Failing"

    SHAPES = {
      "single" => [{ name: "only" }],
      "linear" => [{ name: "s1" }, { name: "s2", depends_on: ["s1"] }, { name: "s3", depends_on: ["s2"] }],
      "diamond" => [{ name: "A" }, { name: "B", depends_on: ["A"] }, { name: "C", depends_on: ["A"] },
                    { name: "D", depends_on: %w[B C] }],
      "fan_out" => [{ name: "root" }] + (1..4).map { |i| { name: "leaf#{i}", depends_on: ["root"] } }
    }.freeze

    module_function

    # Registers every template in TaskerCore.handler_registry.
    def register_all
      SHAPES.each do |shape, steps|
        TaskerCore.register_task(name: shape, namespace: NAMESPACE,
                                 steps: steps.map { |s| s.merge(handler_class: RECORDER) })
      end
      TaskerCore.register_task(name: "failing_diamond", namespace: NAMESPACE,
                               steps: SHAPES["diamond"].map { |s| s.merge(handler_class: FAILING) })
      TaskerCore.register_task(name: "crash", namespace: NAMESPACE,
                               steps: [{ name: "A", handler_class: RECORDER },
                                       { name: "X", handler_class: MARKER, depends_on: ["A"] },
                                       { name: "C", handler_class: RECORDER, depends_on: ["X"] }])
      TaskerCore.register_task(name: "slow", namespace: NAMESPACE, steps: [{ name: "S", handler_class: MARKER }])
    end

    # The failing diamond with step B's retry settings.
    def register_failing(name, retry_limit:, retryable: nil)
      steps = SHAPES["diamond"].map do |s|
        s = s.merge(handler_class: FAILING)
        s[:name] == "B" ? s.merge(retry_limit: retry_limit, retryable: retryable).compact : s
      end
      TaskerCore.register_task(name: name, namespace: NAMESPACE, steps: steps)
    end
  end
end
