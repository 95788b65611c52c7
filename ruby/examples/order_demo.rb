# frozen_string_literal: true

# Tasker Core demo: an order workflow run by Ruby step handlers.
#
#   validate_cart → (process_payment ∥ reserve_inventory) → create_order → send_confirmation
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres ruby ruby/examples/order_demo.rb
#
# Works in the schema "tasker_demo" of DATABASE_URL's database (created and
# migrated on first run; TASKER_DEMO_SCHEMA names another). process_payment fails its first attempt with a
# RetryableError(retry_after: 1) and succeeds on the second; the two middle
# steps run at the same time on a 4-thread worker. Prints a line per
# transition, then a summary; exits 0 only if the task completed.

$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
require "tasker_core"
require "securerandom"

$stdout.sync = true

# The order workflow's step handlers: short sleeps stand in for real calls.
module Demo
  # Checks the cart of the task's context.
  class ValidateCart < TaskerCore::StepHandler::Base
    def call(task, _sequence, _step)
      sleep 0.15
      items = task.context.fetch("items")
      raise TaskerCore::PermanentError.new("empty cart", error_code: "empty_cart") if items.empty?

      { "item_count" => items.sum { |i| i["quantity"] },
        "total_cents" => items.sum { |i| i["quantity"] * i["price_cents"] } }
    end
  end

  # Charges the customer: the gateway times out once, then accepts.
  class ProcessPayment < TaskerCore::StepHandler::Base
    def call(task, sequence, step)
      sleep 0.2
      raise TaskerCore::RetryableError.new("payment gateway timed out", retry_after: 1) if step.attempts == 1

      { "payment_id" => "pay_#{SecureRandom.hex(4)}", "amount_cents" => sequence["validate_cart"]["total_cents"],
        "customer" => task.context["customer"] }
    end
  end

  # Holds the items in the warehouse.
  class ReserveInventory < TaskerCore::StepHandler::Base
    def call(task, _sequence, _step)
      sleep 0.3
      { "reservation_id" => "res_#{SecureRandom.hex(4)}", "skus" => task.context["items"].map { |i| i["sku"] } }
    end
  end

  # Records the order, from the payment and the reservation.
  class CreateOrder < TaskerCore::StepHandler::Base
    def call(task, sequence, _step)
      sleep 0.1
      { "order_id" => "ord_#{task.context['order_number']}",
        "payment_id" => sequence.fetch("process_payment").fetch("payment_id"),
        "reservation_id" => sequence.fetch("reserve_inventory").fetch("reservation_id") }
    end
  end

  # Emails the customer.
  class SendConfirmation < TaskerCore::StepHandler::Base
    def call(task, sequence, _step)
      sleep 0.1
      { "sent_to" => task.context["email"], "order_id" => sequence.fetch("create_order").fetch("order_id") }
    end
  end

  SCHEMA = ENV.fetch("TASKER_DEMO_SCHEMA", "tasker_demo")
  # Short backoff for failures that give no retry_after of their own.
  RETRY_POLICY = { strategy: "exponential", base_seconds: 0.5, multiplier: 2, cap_seconds: 5, jitter: 0 }.freeze
  CONCURRENCY = 4
  TIMEOUT_SECONDS = 60
  # The dashboard (TaskerCore::Web, examples/web.ru) of `make demo WEB=1`.
  WEB_PORT = Integer(ENV.fetch("TASKER_DEMO_WEB_PORT", "9292"), 10)
  WEB_SECONDS = Integer(ENV.fetch("TASKER_DEMO_WEB_SECONDS", "300"), 10)
  WEB_START_SECONDS = 30

  # Terminal output, coloured only on a terminal.
  class Printer
    COLORS = { green: 32, red: 31, yellow: 33, cyan: 36, dim: 2, bold: 1 }.freeze
    STATE_COLORS = { "in_progress" => :cyan, "complete" => :green, "error" => :red, "retry" => :yellow }.freeze

    def initialize(io, started)
      @io = io
      @started = started
      @color = io.tty?
    end

    def paint(text, color)
      @color ? "\e[#{COLORS.fetch(color)}m#{text}\e[0m" : text
    end

    def line(text = "")
      @io.puts(text)
    end

    def elapsed
      Process.clock_gettime(Process::CLOCK_MONOTONIC) - @started
    end

    # One line per transition the worker saw.
    def event(event, data)
      case event
      when :claimed
        step_line(data, "in_progress", "")
      when :completed
        step_line(data, "complete", format("(ran %.3fs)", data[:duration]))
      when :retry_scheduled
        retry_at = data[:next_retry_at] ? format(", retry in %.2fs", data[:next_retry_at] - Time.now) : ""
        step_line(data, "error", "#{data[:error].class.name.split('::').last}: #{data[:error].message}#{retry_at}")
      when :failed
        step_line(data, "error", "#{data[:error].class}: #{data[:error].message} (no retry)")
      when :task_completed, :task_failed
        line(format("  %+8.3fs  %-18s %s", elapsed, "task #{data[:task_id]}",
                    paint(data[:status], data[:status] == "complete" ? :green : :red)))
      end
    end

    private

    def step_line(data, state, note)
      color = STATE_COLORS.fetch(state)
      line(format("  %+8.3fs  %-18s %-20s attempt %d/%d  %s", elapsed, data[:step_name],
                  paint(state.ljust(11), color), data[:attempt], data[:retry_limit], note).rstrip)
    end
  end

  module_function

  def register
    TaskerCore.register_task(
      name: "order_fulfillment", namespace: "demo", version: "1.0.0",
      description: "Validate, pay and reserve in parallel, create the order, confirm",
      steps: [
        { name: "validate_cart", handler_class: "Demo::ValidateCart" },
        { name: "process_payment", handler_class: "Demo::ProcessPayment", depends_on: ["validate_cart"],
          dependent_system: "payments", retry_limit: 3 },
        { name: "reserve_inventory", handler_class: "Demo::ReserveInventory", depends_on: ["validate_cart"],
          dependent_system: "inventory" },
        { name: "create_order", handler_class: "Demo::CreateOrder",
          depends_on: %w[process_payment reserve_inventory] },
        { name: "send_confirmation", handler_class: "Demo::SendConfirmation", depends_on: ["create_order"],
          dependent_system: "email" }
      ]
    )
  end

  def overlap(a, b)
    [a.attempts, b.attempts].each { |list| list.each { |x| return nil if x.finished_at.nil? } }
    a.attempts.product(b.attempts).map do |x, y|
      [x.finished_at, y.finished_at].min - [x.started_at, y.started_at].max
    end.max
  end

  def summary(out, client, created, result)
    names = created.step_ids.invert
    out.line
    out.line(out.paint("Steps", :bold))
    result.steps.each do |s|
      durations = s.durations.map { |d| d ? format("%.3fs", d) : "running" }.join(" + ")
      out.line(format("  %-18s %-10s attempts %d   %s", s.name, s.state, s.attempt_count, durations))
    end

    analysis = client.analyze_dependencies(created.task_id)
    out.line
    out.line(out.paint("DAG", :bold))
    analysis.levels.each_with_index do |ids, level|
      out.line(format("  level %d: %s", level, ids.map { |id| names.fetch(id) }.join(" ∥ ")))
    end
    out.line("  critical path: #{analysis.critical_path_names.join(' → ')} (#{analysis.critical_path_length} steps)")
    out.line(format("  parallel branches: %d, parallelization factor: %.2f",
                    analysis.parallel_branches, analysis.parallelization_factor))

    together = overlap(result.step("process_payment"), result.step("reserve_inventory"))
    out.line
    out.line(out.paint("Result", :bold))
    out.line(format("  task %d: %s (%s) in %.3fs", result.task_id,
                    out.paint(result.status, result.complete? ? :green : :red), result.execution_status, result.elapsed))
    if together&.positive?
      out.line(format("  process_payment ∥ reserve_inventory overlapped: yes (%.3fs side by side)", together))
    else
      out.line("  process_payment ∥ reserve_inventory overlapped: no")
    end
  end

  # Serves the dashboard from a puma process of its own (examples/web.ru on
  # this schema, operator actions allowed: it listens on 127.0.0.1 only) for
  # WEB_SECONDS, or until Ctrl-C.
  def serve_dashboard(out, url)
    ru = File.expand_path("web.ru", __dir__)
    env = { "TASKER_WEB_SCHEMA" => SCHEMA, "TASKER_WEB_LOCAL_OPERATORS" => "1" }
    pid = Process.spawn(env, "puma", "-q", "-t", "0:4", "-b", "tcp://127.0.0.1:#{WEB_PORT}", ru,
                        out: File::NULL, err: File::NULL, pgroup: true)
    unless wait_for_web(url)
      warn "order_demo: the dashboard did not start on port #{WEB_PORT} (TASKER_DEMO_WEB_PORT picks another)"
      return
    end
    out.line(out.paint("  dashboard: #{url}", :bold))
    out.line("  serving it for #{WEB_SECONDS}s (Ctrl-C stops; TASKER_DEMO_WEB_SECONDS changes it)")
    begin
      sleep WEB_SECONDS
    rescue Interrupt
      out.line("  stopped")
    end
  ensure
    if pid
      Process.kill("TERM", pid) rescue nil # rubocop:disable Style/RescueModifier -- already gone is fine
      Process.wait(pid) rescue nil # rubocop:disable Style/RescueModifier
    end
  end

  def wait_for_web(url)
    require "net/http"
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + WEB_START_SECONDS
    while Process.clock_gettime(Process::CLOCK_MONOTONIC) < deadline
      begin
        return true if Net::HTTP.get_response(URI(url)).code == "200"
      rescue SystemCallError, IOError
        nil
      end
      sleep 0.2
    end
    false
  end

  def run
    if ENV.fetch("DATABASE_URL", "").empty?
      warn "order_demo: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)"
      return 2
    end
    client = TaskerCore::Client.new(schema: SCHEMA, migrate: true, retry_policy: RETRY_POLICY)
    register
    out = Printer.new($stdout, Process.clock_gettime(Process::CLOCK_MONOTONIC))
    out.line(out.paint("Tasker Core demo: order fulfilment (schema #{SCHEMA}, #{CONCURRENCY} handler threads)", :bold))
    out.line("  validate_cart → (process_payment ∥ reserve_inventory) → create_order → send_confirmation")
    created = TaskerCore.create_task(
      name: "order_fulfillment", namespace: "demo", version: "1.0.0", client: client, initiator: "order_demo",
      context: { "order_number" => SecureRandom.random_number(100_000), "customer" => "Zoë", "email" => "zoe@example.com",
                 "items" => [{ "sku" => "TEA-01", "quantity" => 2, "price_cents" => 1250 },
                             { "sku" => "MUG-07", "quantity" => 1, "price_cents" => 2099 }] }
    )
    out.line("  task #{created.task_id} (correlation id #{created.correlation_id})")
    out.line
    result = TaskerCore.run_task(created, timeout: TIMEOUT_SECONDS, client: client, concurrency: CONCURRENCY,
                                          on_event: out.method(:event))
    summary(out, client, created, result)
    url = "http://127.0.0.1:#{WEB_PORT}/tasks/#{created.task_id}"
    out.line
    if ENV["TASKER_DEMO_WEB"] == "1"
      serve_dashboard(out, url)
    else
      out.line("  dashboard: #{url}  (`make demo WEB=1` serves it)")
    end
    result.complete? ? 0 : 1
  rescue TaskerCore::Error => e
    warn "order_demo: #{e.class}: #{e.message}"
    1
  ensure
    client&.close
  end
end

exit(Demo.run) if $PROGRAM_NAME == __FILE__
