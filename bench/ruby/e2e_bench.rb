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
#   hand-off     measured at the handlers, on the real clock (CLOCK_REALTIME, shared
#                by the processes of one machine): for each step with parents, the
#                start of its handler − the end of its last parent's handler; p50,
#                p99. (Transition timestamps cannot measure it: a report_and_claim
#                writes the parent's complete and the child's in_progress in one
#                transaction, with the same now().)
#   overhead     framework overhead per step, defined as complete − in_progress of
#                the same step with a no-op handler: from the start of the claim to
#                the start of the report (claim transaction, FFI, value objects, queue
#                to a handler thread, the no-op, queue back, report batching); mean,
#                p50, p99
#   slot time    span × workers × threads / steps: the time one handler slot spends
#                per step (another view of the same overhead; it counts idle slots)
#   CPU per step the CPU time phase 1 cost per completed step, from /proc: the worker
#                processes' (Ruby and the Go library, every thread) and every
#                PostgreSQL process's on this machine (backends, autovacuum, WAL
#                writer...; not measured when the server runs elsewhere). On a
#                machine of a few cores the two compete for the same CPUs: their sum
#                bounds steps/s more firmly than any latency
#
# --analyze-every: VACUUM ANALYZE the schema's tables that often while the workers
# run, as an eager autovacuum would. Off by default: the figures are what a fresh,
# fast-growing database gets, where the statistics lag behind (PostgreSQL's
# autovacuum looks every minute and analyzes a table after 10 % of it changed).
#
#   pgbench -N   the commit ceiling of the same machine in the same run: pgbench's
#                simple-update transactions (-N), 4 clients, in a schema of its own,
#                before the workers; steps/s is compared with its tps
#
# --json PATH writes the figures for bench/ruby/write_doc.rb.
#
# Goals (issue 14): 2 worker processes ≥ 1,000 steps/s and ≥ 0.5 × the pgbench -N
# 4-client tps of the same run; hand-off p50 ≤ 3 ms and p99 ≤ 15 ms (1 and 2 workers).

require_relative "bench_support"
require "rbconfig"
require "fileutils"

TEMPLATE = { name: "bench_e2e_chain", namespace: "bench", version: "1.0.0" }.freeze
CHAIN = %w[a b c d e].freeze

# The no-op handler. It notes when it ran (real clock, so processes compare) for
# the hand-off figure: [step_id, start, end] in seconds.
class BenchNoopHandler
  TIMES = Queue.new

  def call(_task, _sequence, step)
    t = Process.clock_gettime(Process::CLOCK_REALTIME)
    TIMES << [step.step_id, t, Process.clock_gettime(Process::CLOCK_REALTIME)]
    nil
  end

  def self.dump(path)
    rows = []
    rows << TIMES.pop until TIMES.empty?
    File.write(path, JSON.generate(rows))
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
  times_path = ARGV[4]
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
  BenchNoopHandler.dump(File.join(times_path, "times-#{Process.pid}.json")) if times_path
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
json_path = nil
ARGV.each_with_index do |arg, i|
  json_path = ARGV[i + 1] if arg == "--json"
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
PGBENCH_SECONDS = FULL ? 15 : 5

# pgbench -N with 4 clients in a schema of its own: this machine's commit ceiling
# now. → tps, or nil (with the reason printed) when pgbench is missing or fails.
def pgbench_ceiling
  pgbench = ENV["PATH"].split(":").map { |d| File.join(d, "pgbench") }.find { |f| File.executable?(f) }
  unless pgbench
    puts "pgbench not found (scripts/ensure-deps.sh ruby-bench installs it): no commit-ceiling baseline"
    return nil
  end
  schema = BenchSupport.schema_name("bench_pgbench")
  pg = PG.connect(BenchSupport.database_url)
  pg.exec("CREATE SCHEMA #{pg.quote_ident(schema)}")
  env = { "PGOPTIONS" => "-c search_path=#{schema}" }
  init = IO.popen(env, [pgbench, "-i", "-q", "-s", "1", BenchSupport.database_url], err: %i[child out], &:read)
  raise "pgbench -i: #{init}" unless $?.success?

  out = IO.popen(env, [pgbench, "-n", "-N", "-c", "4", "-j", "2", "-T", PGBENCH_SECONDS.to_s, BenchSupport.database_url],
                 err: %i[child out], &:read)
  tps = out[/tps = ([\d.]+)/, 1]&.to_f
  puts "pgbench -N -c 4 -T #{PGBENCH_SECONDS}: #{tps ? format('%.0f tps', tps) : "failed: #{out}"}"
  tps
ensure
  pg&.exec("DROP SCHEMA IF EXISTS #{pg.quote_ident(schema)} CASCADE") if schema
  pg&.close
end

# Hand-off at the handlers for the steps of task_ids: child handler start − its
# last parent's handler end (seconds), from the handlers' notes. → sorted list
def handler_handoffs(pg, times, task_ids)
  edges = pg.exec_params(<<~SQL, ["{#{task_ids.join(',')}}"]).values
    SELECT e.from_step_id, e.to_step_id FROM tasker_workflow_step_edges e
    JOIN tasker_workflow_steps ws ON ws.workflow_step_id = e.to_step_id
    WHERE ws.task_id = ANY ($1::bigint[])
  SQL
  parents = Hash.new { |h, k| h[k] = [] }
  edges.each { |from, to| parents[to.to_i] << from.to_i }
  parents.filter_map do |child, ps|
    next unless times[child] && ps.all? { |p| times[p] }

    times[child][0] - ps.map { |p| times[p][1] }.max
  end.sort
end

# The handlers' notes of every worker: step_id → [start, end] (the first run).
def read_times(dir)
  Dir[File.join(dir, "times-*.json")].each_with_object({}) do |f, h|
    JSON.parse(File.read(f)).each { |id, a, b| h[id] ||= [a, b] }
  end
end

# Figures of the steps of the tasks in $1 (a PostgreSQL array literal; NULL: all).
METRICS_SQL = <<~SQL
  WITH ws AS (SELECT workflow_step_id FROM tasker_workflow_steps
              WHERE $1::bigint[] IS NULL OR task_id = ANY ($1::bigint[])),
       c AS (SELECT t.workflow_step_id, min(t.created_at) AS at FROM tasker_workflow_step_transitions t
             JOIN ws USING (workflow_step_id) WHERE t.to_state = 'complete' GROUP BY 1),
       s AS (SELECT t.workflow_step_id, min(t.created_at) AS at FROM tasker_workflow_step_transitions t
             JOIN ws USING (workflow_step_id) WHERE t.to_state = 'in_progress' GROUP BY 1),
       o AS (SELECT extract(epoch FROM c.at - s.at)::float8 AS secs FROM c JOIN s USING (workflow_step_id))
  SELECT (SELECT count(*) FROM c) AS completed,
         (SELECT extract(epoch FROM (SELECT max(at) FROM c) - (SELECT min(at) FROM s))::float8) AS span,
         (SELECT avg(secs) FROM o) AS overhead_avg,
         (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY secs) FROM o) AS overhead_p50,
         (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY secs) FROM o) AS overhead_p99
SQL

def ms(secs)
  secs.nil? ? "—" : format("%.1f ms", secs.to_f * 1000)
end

def us(secs)
  secs.nil? ? "—" : format("%.0f µs", secs.to_f * 1e6)
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
require "tmpdir"
ceiling = pgbench_ceiling
results = []
worker_counts.each do |workers|
  times_dir = Dir.mktmpdir("tasker-e2e-times")
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
      pids << Process.spawn(RbConfig.ruby, __FILE__, "--worker", schema, threads.to_s, loop_kind, times_dir, out: w)
      w.close
      readers << r
    end
    readers.each do |r| # "ready": booted, library loaded, client connected
      raise "a worker process failed to start (see its error above)" unless r.gets&.start_with?("ready")
    end
    cpu_before = pids.to_h { |pid| [pid, BenchSupport.proc_cpu_seconds(pid)] }
    pg_before = BenchSupport.postgres_cpu
    wall = wait_complete(pg, pids)
    worker_cpu = pids.sum { |pid| BenchSupport.proc_cpu_seconds(pid).to_f - cpu_before[pid].to_f }
    db_cpu = BenchSupport.postgres_cpu_between(pg_before, BenchSupport.postgres_cpu)
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
    times = read_times(times_dir)
    backlog_ids = pg.exec("SELECT task_id FROM tasker_tasks").map { |row| row["task_id"].to_i } - lat_ids
    hb = handler_handoffs(pg, times, backlog_ids)
    hl = handler_handoffs(pg, times, lat_ids)
    m["handoff_p50"] = BenchSupport.percentile(hb, 0.5)
    m["handoff_p99"] = BenchSupport.percentile(hb, 0.99)
    lat["handoffs"] = hl.size
    lat["handoff_p50"] = BenchSupport.percentile(hl, 0.5)
    lat["handoff_p99"] = BenchSupport.percentile(hl, 0.99)
    lat["handoff_max"] = hl.last

    r = { workers: workers, m: m, lat: lat, steps_per_s: m["completed"] / m["span"], wall: wall,
          slot: m["span"] * workers * threads / m["completed"], per_round: per_round,
          worker_cpu_per_step: worker_cpu / m["completed"], db_cpu_per_step: db_cpu && db_cpu / m["completed"] }
    results << r
    puts format("workers=%d: throughput: %d steps in %.2fs (DB span; %.2fs wall from ready to all complete) = " \
                "%.0f steps/s; hand-off under the backlog p50 %s p99 %s; overhead mean %s p50 %s p99 %s; " \
                "slot time %s/step; CPU per step: workers %s, PostgreSQL %s; created %d tasks in %.2fs",
                workers, m["completed"], m["span"], wall, r[:steps_per_s], ms(m["handoff_p50"]),
                ms(m["handoff_p99"]), ms(m["overhead_avg"]), ms(m["overhead_p50"]), ms(m["overhead_p99"]),
                ms(r[:slot]), us(r[:worker_cpu_per_step]), us(r[:db_cpu_per_step]), TASKS, created_in)
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
    FileUtils.rm_rf(times_dir)
    pg&.close
    client.close
    BenchSupport.drop_schema(schema)
  end
end

puts
puts "End to end: #{BenchSupport.mode} mode, #{STEPS} steps (#{TASKS} chains of #{CHAIN.size}), no-op handlers, " \
     "#{threads} threads per worker, #{loop_kind == 'worker' ? 'TaskerCore::Worker' : 'minimal loop'}"
header = format("%-8s %9s %11s %11s %11s %11s %11s %13s %13s %11s %11s", "workers", "steps/s", "overhead", "ovh p50",
                "ovh p99", "slot/step", "backlog p50", "hand-off p50", "hand-off p99", "worker CPU", "DB CPU")
puts header
puts "-" * header.size
results.each do |r|
  m = r[:m]
  l = r[:lat]
  puts format("%-8d %9.0f %11s %11s %11s %11s %11s %13s %13s %11s %11s", r[:workers], r[:steps_per_s], ms(m["overhead_avg"]),
              ms(m["overhead_p50"]), ms(m["overhead_p99"]), ms(r[:slot]), ms(m["handoff_p50"]),
              ms(l["handoff_p50"]), ms(l["handoff_p99"]), us(r[:worker_cpu_per_step]), us(r[:db_cpu_per_step]))
end
puts "steps/s, overhead (= complete − in_progress of a step) and backlog hand-off: phase 1, #{TASKS} chains queued; " \
     "hand-off p50/p99: phase 2, #{LATENCY_ROUNDS} rounds of workers × threads / 2 chains (no queueing)."
puts "CPU per step (phase 1, /proc): worker CPU = the worker processes' (Ruby and the Go library, every thread); " \
     "DB CPU = every PostgreSQL process on this machine (backends, autovacuum, WAL writer...)"
puts format("pgbench -N 4 clients, same run: %s", ceiling ? format("%.0f tps", ceiling) : "not measured")
puts "hand-off: at the handlers (child handler start − last parent handler end, real clock)"
puts "goals: 2 workers ≥ 1,000 steps/s and ≥ 0.5 × pgbench -N tps; hand-off p50 ≤ 3 ms, p99 ≤ 15 ms (1 and 2 workers)"
if json_path
  File.write(json_path, JSON.pretty_generate({
    mode: BenchSupport.mode, tasks: TASKS, chain: CHAIN.size, threads: threads, loop: loop_kind, cores: Etc.nprocessors,
    latency_rounds: LATENCY_ROUNDS, pgbench_n_tps: ceiling, pgbench_seconds: PGBENCH_SECONDS,
    runs: results.map do |r|
      { workers: r[:workers], steps_per_s: r[:steps_per_s], completed: r[:m]["completed"], span_s: r[:m]["span"],
        overhead_p50_ms: r[:m]["overhead_p50"]&.*(1000), overhead_p99_ms: r[:m]["overhead_p99"]&.*(1000),
        backlog_handoff_p50_ms: r[:m]["handoff_p50"]&.*(1000),
        handoff_p50_ms: r[:lat]["handoff_p50"]&.*(1000), handoff_p99_ms: r[:lat]["handoff_p99"]&.*(1000),
        handoffs: r[:lat]["handoffs"],
        worker_cpu_per_step_us: r[:worker_cpu_per_step] * 1e6, db_cpu_per_step_us: r[:db_cpu_per_step]&.*(1e6) }
    end
  }))
end
