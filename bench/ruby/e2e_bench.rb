# frozen_string_literal: true

# End to end (issue item 5): step completions per second with no-op Ruby
# handlers under 1, 2 and 4 worker processes, the hand-off latency from a
# parent's completion to its child's claim, and the framework overhead per step.
#
#   DATABASE_URL=postgres://… ruby bench/ruby/e2e_bench.rb [--full] [--workers 1,2,4] [--threads 4]
#                                                        [--loop worker|minimal] [--analyze-every SECONDS]
#
# For each worker count, in a fresh schema: create the tasks (quick: 200, full:
# 2,000; each a chain of 5 steps a → b → c → d → e, so 4 hand-offs per task),
# VACUUM ANALYZE (as autovacuum would), then spawn the worker processes — each
# `ruby e2e_bench.rb --worker SCHEMA THREADS LOOP`, by default a TaskerCore::Worker
# with THREADS handler threads (default 4, execution.max_concurrent_steps' default)
# running a no-op handler, or with --loop minimal the bare claim/report loop below —
# wait until every task is complete, stop them (SIGTERM: graceful) and read the
# figures from the database's audit trail. Every figure comes from transition
# timestamps, which are the start of the transaction that wrote them
# (PostgreSQL now()): the claim's transaction for in_progress, the report's for
# complete.
#
#   steps/s      completed steps / (last complete − first in_progress): worker boot
#                and task creation excluded
#   hand-off     for each step with parents: its first in_progress − its parents'
#                last complete, i.e. from the start of the report that completed the
#                parent to the start of the claim that took the child; p50, p99
#   overhead     framework overhead per step, defined as complete − in_progress of
#                the same step with a no-op handler: from the start of the claim to
#                the start of the report (claim transaction, FFI, value objects, queue
#                to a handler thread, the no-op, queue back, report batching); mean,
#                p50, p99
#   slot time    span × workers × threads / steps: the time one handler slot spends
#                per step (another view of the same overhead; it counts idle slots)
#
# --analyze-every: VACUUM ANALYZE the schema's tables that often while the workers
# run, as an eager autovacuum would. Off by default: the figures are what a fresh,
# fast-growing database gets, where the statistics lag behind (PostgreSQL's
# autovacuum looks every minute and analyzes a table after 10 % of it changed).
#
# Goals (issue): ≥ 1,000 steps/s on a 2-core machine with PostgreSQL on the same
# box; hand-off p50 ≤ 5 ms and p99 ≤ 25 ms; overhead ≤ 2 ms per step.

require_relative "bench_support"
require "rbconfig"

TEMPLATE = { name: "bench_e2e_chain", namespace: "bench", version: "1.0.0" }.freeze
CHAIN = %w[a b c d e].freeze

# The no-op handler.
class BenchNoopHandler
  def call(_task, _sequence, _step)
    nil
  end
end

def register_template
  steps = CHAIN.each_with_index.map do |name, i|
    { name: name, handler_class: "BenchNoopHandler", depends_on: i.zero? ? [] : [CHAIN[i - 1]] }
  end
  TaskerCore.register_task(**TEMPLATE, steps: steps)
end

# The loop a worker process runs when --loop minimal (or when TaskerCore::Worker
# is missing): one thread claims up to +threads+ steps of any task, runs the
# no-op handler on each, reports them all in one call, and sleeps poll_interval
# (0.05 s, the Worker's default) when there was nothing to claim. No heartbeats,
# no lease recovery, no events: the least a worker can do.
def minimal_loop(client, threads, stop)
  worker_id = "bench-minimal-#{Process.pid}"
  handler = BenchNoopHandler.new
  stats = Hash.new(0)
  until stop.call
    steps = client.claim_steps(worker_id: worker_id, limit: threads)
    if steps.empty?
      sleep 0.05
      next
    end
    stats[:claimed] += steps.size
    reports = steps.map do |st|
      handler.call(nil, nil, st)
      { step_id: st.step_id, worker_id: worker_id, success: true, results: {} }
    end
    client.report_step_results(reports)
    stats[:completed] += reports.size
  end
  stats
end

# --- a worker process ---
if ARGV.first == "--worker"
  schema = ARGV[1]
  threads = Integer(ARGV[2])
  loop_kind = ARGV[3]
  TaskerCore.logger.level = Logger::WARN
  register_template
  client = TaskerCore::Client.new(database_url: BenchSupport.database_url, schema: schema,
                                  max_connections: threads + 2)
  $stdout.sync = true
  if loop_kind == "worker"
    worker = TaskerCore::Worker.new(client: client, concurrency: threads)
    puts "ready"
    stats = worker.run(install_signal_traps: true)
  else
    stopping = false
    %w[TERM INT].each { |sig| trap(sig) { stopping = true } }
    puts "ready"
    stats = minimal_loop(client, threads, -> { stopping })
  end
  puts JSON.generate(stats)
  client.close
  exit 0
end

# --- the driver ---
FULL = BenchSupport.full?
TASKS = FULL ? 2_000 : 200
TIMEOUT = FULL ? 900 : 180
worker_counts = [1, 2, 4]
threads = 4 # execution.max_concurrent_steps' default: the Worker's handler threads
loop_kind = defined?(TaskerCore::Worker) ? "worker" : "minimal"
analyze_every = nil
ARGV.each_with_index do |arg, i|
  worker_counts = ARGV[i + 1].split(",").map { |s| Integer(s) } if arg == "--workers"
  threads = Integer(ARGV[i + 1]) if arg == "--threads"
  loop_kind = ARGV[i + 1] if arg == "--loop"
  analyze_every = Float(ARGV[i + 1]) if arg == "--analyze-every"
end
ANALYZE_EVERY = analyze_every
abort "--loop is worker or minimal" unless %w[worker minimal].include?(loop_kind)

STEPS = TASKS * CHAIN.size
puts "== e2e_bench (#{BenchSupport.mode}: #{TASKS} tasks × #{CHAIN.size}-step chains = #{STEPS} steps; " \
     "workers #{worker_counts.join('/')}, #{threads} handler threads each; no-op handlers; " \
     "#{loop_kind == 'worker' ? 'TaskerCore::Worker' : 'the minimal claim/report loop of this script'}" \
     "#{ANALYZE_EVERY ? "; VACUUM ANALYZE every #{ANALYZE_EVERY}s" : ''})"
puts "library: #{TaskerCore.library_path}"

LATENCY_ROUNDS = FULL ? 40 : 8

# Figures of the steps of the tasks in $1 (a PostgreSQL array literal; NULL: all).
METRICS_SQL = <<~SQL
  WITH ws AS (SELECT workflow_step_id FROM tasker_workflow_steps
              WHERE $1::bigint[] IS NULL OR task_id = ANY ($1::bigint[])),
       c AS (SELECT t.workflow_step_id, min(t.created_at) AS at FROM tasker_workflow_step_transitions t
             JOIN ws USING (workflow_step_id) WHERE t.to_state = 'complete' GROUP BY 1),
       s AS (SELECT t.workflow_step_id, min(t.created_at) AS at FROM tasker_workflow_step_transitions t
             JOIN ws USING (workflow_step_id) WHERE t.to_state = 'in_progress' GROUP BY 1),
       h AS (SELECT e.to_step_id, extract(epoch FROM s.at - max(c.at))::float8 AS secs
             FROM tasker_workflow_step_edges e
             JOIN c ON c.workflow_step_id = e.from_step_id
             JOIN s ON s.workflow_step_id = e.to_step_id
             GROUP BY e.to_step_id, s.at),
       o AS (SELECT extract(epoch FROM c.at - s.at)::float8 AS secs FROM c JOIN s USING (workflow_step_id))
  SELECT (SELECT count(*) FROM c) AS completed,
         (SELECT extract(epoch FROM (SELECT max(at) FROM c) - (SELECT min(at) FROM s))::float8) AS span,
         (SELECT count(*) FROM h) AS handoffs,
         (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY secs) FROM h) AS handoff_p50,
         (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY secs) FROM h) AS handoff_p99,
         (SELECT max(secs) FROM h) AS handoff_max,
         (SELECT avg(secs) FROM o) AS overhead_avg,
         (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY secs) FROM o) AS overhead_p50,
         (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY secs) FROM o) AS overhead_p99
SQL

def ms(secs)
  secs.nil? ? "—" : format("%.1f ms", secs.to_f * 1000)
end

def monotonic
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

def metrics(pg, task_ids = nil)
  ids = task_ids && "{#{task_ids.join(',')}}"
  pg.exec_params(METRICS_SQL, [ids]).first.transform_values { |v| v&.to_f }
end

# Waits until none of the tasks (all when nil) is left incomplete, failing if a
# worker process died or the timeout passed. → seconds waited
def wait_complete(pg, pids, task_ids: nil, timeout: TIMEOUT, poll: 0.05)
  started = monotonic
  analyzed = started
  sql = "SELECT count(*) FROM tasker_tasks WHERE complete IS NOT TRUE"
  sql += " AND task_id = ANY ('{#{task_ids.join(',')}}'::bigint[])" if task_ids
  loop do
    left = pg.exec(sql).getvalue(0, 0).to_i
    return monotonic - started if left.zero?
    raise "#{left} tasks still not complete after #{timeout}s" if monotonic - started > timeout

    dead = pids.find { |pid| Process.wait(pid, Process::WNOHANG) }
    raise "worker process #{dead} exited early (see its error above)" if dead

    if ANALYZE_EVERY && monotonic - analyzed >= ANALYZE_EVERY
      BenchSupport.vacuum_analyze(pg)
      analyzed = monotonic
    end
    sleep poll
  end
end

def create_chains(client, count)
  Array.new(count) { |i| TaskerCore.create_task(**TEMPLATE, context: { "n" => i }, client: client).task_id }
end

register_template
results = []
worker_counts.each do |workers|
  schema = BenchSupport.schema_name("bench_e2e")
  client = TaskerCore::Client.new(database_url: BenchSupport.database_url, schema: schema, migrate: true,
                                  max_connections: 4)
  pg = nil
  pids = []
  readers = []
  begin
    # Phase 1, throughput: a backlog of TASKS chains, then the workers.
    t0 = monotonic
    create_chains(client, TASKS)
    created_in = monotonic - t0
    pg = BenchSupport.pg_connect(schema)
    BenchSupport.vacuum_analyze(pg)

    workers.times do
      r, w = IO.pipe
      pids << Process.spawn(RbConfig.ruby, __FILE__, "--worker", schema, threads.to_s, loop_kind, out: w)
      w.close
      readers << r
    end
    readers.each do |r| # "ready": booted, library loaded, client connected
      raise "a worker process failed to start (see its error above)" unless r.gets&.start_with?("ready")
    end
    wall = wait_complete(pg, pids)
    m = metrics(pg)
    raise "no step was completed" if m["span"].nil? || m["completed"].zero?

    # Phase 2, hand-off with capacity to spare: rounds of (slots / 2) chains, each
    # round created once the previous one is complete, so no chain waits behind
    # another for a free handler slot.
    per_round = [workers * threads / 2, 1].max
    lat_ids = []
    LATENCY_ROUNDS.times do
      ids = create_chains(client, per_round)
      lat_ids.concat(ids)
      wait_complete(pg, pids, task_ids: ids, poll: 0.01)
    end
    lat = metrics(pg, lat_ids)

    pids.each { |pid| Process.kill("TERM", pid) }
    pids.each { |pid| Process.wait(pid) }
    pids.clear
    stats = readers.map { |r| JSON.parse(r.read.lines.last || "{}") rescue {} } # rubocop:disable Style/RescueModifier

    r = { workers: workers, m: m, lat: lat, steps_per_s: m["completed"] / m["span"], wall: wall,
          slot: m["span"] * workers * threads / m["completed"], per_round: per_round }
    results << r
    puts format("workers=%d: throughput: %d steps in %.2fs (DB span; %.2fs wall from ready to all complete) = " \
                "%.0f steps/s; hand-off under the backlog p50 %s p99 %s; overhead mean %s p50 %s p99 %s; " \
                "slot time %s/step; created %d tasks in %.2fs",
                workers, m["completed"], m["span"], wall, r[:steps_per_s], ms(m["handoff_p50"]),
                ms(m["handoff_p99"]), ms(m["overhead_avg"]), ms(m["overhead_p50"]), ms(m["overhead_p99"]),
                ms(r[:slot]), TASKS, created_in)
    puts format("           hand-off: %d rounds of %d chains, %d hand-offs: p50 %s p99 %s max %s; " \
                "overhead mean %s p50 %s p99 %s; worker stats %s",
                LATENCY_ROUNDS, per_round, lat["handoffs"], ms(lat["handoff_p50"]), ms(lat["handoff_p99"]),
                ms(lat["handoff_max"]), ms(lat["overhead_avg"]), ms(lat["overhead_p50"]), ms(lat["overhead_p99"]),
                stats.map { |st| st.slice("claimed", "completed", "errors") })
  ensure
    pids.each do |pid|
      Process.kill("KILL", pid)
      Process.wait(pid)
    rescue Errno::ESRCH, Errno::ECHILD
      nil
    end
    readers.each(&:close)
    pg&.close
    client.close
    BenchSupport.drop_schema(schema)
  end
end

puts
puts "End to end: #{BenchSupport.mode} mode, #{STEPS} steps (#{TASKS} chains of #{CHAIN.size}), no-op handlers, " \
     "#{threads} threads per worker, #{loop_kind == 'worker' ? 'TaskerCore::Worker' : 'minimal loop'}"
header = format("%-8s %9s %11s %11s %11s %11s %11s %13s %13s", "workers", "steps/s", "overhead", "ovh p50",
                "ovh p99", "slot/step", "backlog p50", "hand-off p50", "hand-off p99")
puts header
puts "-" * header.size
results.each do |r|
  m = r[:m]
  l = r[:lat]
  puts format("%-8d %9.0f %11s %11s %11s %11s %11s %13s %13s", r[:workers], r[:steps_per_s], ms(m["overhead_avg"]),
              ms(m["overhead_p50"]), ms(m["overhead_p99"]), ms(r[:slot]), ms(m["handoff_p50"]),
              ms(l["handoff_p50"]), ms(l["handoff_p99"]))
end
puts "steps/s, overhead (= complete − in_progress of a step) and backlog hand-off: phase 1, #{TASKS} chains queued; " \
     "hand-off p50/p99: phase 2, #{LATENCY_ROUNDS} rounds of workers × threads / 2 chains (no queueing)."
puts "goals: ≥ 1,000 steps/s (2 cores, PostgreSQL on the box); hand-off p50 ≤ 5 ms, p99 ≤ 25 ms; overhead ≤ 2 ms/step"
