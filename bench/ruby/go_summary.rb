# frozen_string_literal: true

# Reads `go test -bench` output (bench/run.sh feeds it the Go part of a run) and
# prints each benchmark beside its baseline: ratios the issue's goals are about.
# Medians over -count repetitions.
#
#   ruby bench/ruby/go_summary.rb go-output.txt

lines = ARGF.each_line.grep(/^Benchmark\S+\s+\d+\s+[\d.]+ ns\/op/)
values = Hash.new { |h, k| h[k] = Hash.new { |hh, kk| hh[kk] = [] } }
lines.each do |line|
  fields = line.split
  name = fields[0].sub(/-\d+$/, "")
  fields[2..].each_slice(2) { |v, unit| values[name][unit] << v.to_f if unit }
end

def median(list)
  return nil if list.nil? || list.empty?

  s = list.sort
  s.size.odd? ? s[s.size / 2] : (s[s.size / 2 - 1] + s[s.size / 2]) / 2.0
end

ns = ->(name) { median(values.dig(name, "ns/op")) }
metric = ->(name, unit) { median(values.dig(name, unit)) }

def dur(nanos)
  return "—" if nanos.nil?

  if nanos >= 1e9 then format("%.2f s", nanos / 1e9)
  elsif nanos >= 1e6 then format("%.2f ms", nanos / 1e6)
  elsif nanos >= 1e3 then format("%.1f µs", nanos / 1e3)
  else format("%.0f ns", nanos)
  end
end

def ratio(a, b)
  a && b ? format("%.1f×", a / b) : "—"
end

puts "== Go summary (medians of ns/op)"

scale = values.keys.grep(%r{^BenchmarkSQLAtScale/tasks_[^/]+/select1$}).map { |k| k.split("/")[1] }
unless scale.empty?
  puts
  puts "SQL at scale (× = time / SELECT 1 on the same pool, same run)"
  subs = %w[readiness_one_task readiness_one_task_store context_one_task readiness_batch_50 context_batch_50]
  puts format("%-10s %11s %22s %22s %22s %22s %22s %22s", "tasks", "select1", *subs, "next_ready_tasks")
  scale.each do |pop|
    base = ns.call("BenchmarkSQLAtScale/#{pop}/select1")
    nrt = values.keys.find { |k| k.start_with?("BenchmarkSQLAtScale/#{pop}/next_ready_tasks") }
    cells = (subs.map { |s| "BenchmarkSQLAtScale/#{pop}/#{s}" } + [nrt]).map do |k|
      t = k && ns.call(k)
      t ? "#{dur(t)} (#{ratio(t, base)})" : "—"
    end
    puts format("%-10s %11s %22s %22s %22s %22s %22s %22s", pop.delete_prefix("tasks_"), dur(base), *cells)
  end
end

batch = ns.call("BenchmarkBatchUpdate/batch_1000")
single = ns.call("BenchmarkBatchUpdate/single_1000")
if batch && single
  puts
  puts "Batch update, 1,000 updates: batch #{dur(batch)} (#{dur(batch / 1000)}/update), " \
       "batch via JSON API #{dur(ns.call('BenchmarkBatchUpdate/batch_1000_json'))}, " \
       "single #{dur(single)} (#{dur(single / 1000)}/update): batch is #{ratio(single, batch)} faster " \
       "(goal ≥ 20×: #{single / batch >= 20 ? 'met' : 'NOT met'})"
end

levels = values.keys.grep(%r{^BenchmarkLevels/sql_}).map { |k| k.split("/").last.delete_prefix("sql_") }
unless levels.empty?
  puts
  puts "Dependency levels (sql ÷ go: how many times slower SQL is)"
  puts format("%-16s %12s %12s %12s %12s %14s %14s", "graph", "go (store)", "go dag", "go levels", "sql",
              "sql÷go store", "sql÷go levels")
  levels.each do |g|
    go = ns.call("BenchmarkLevels/go_#{g}")
    dag = ns.call("BenchmarkLevels/go_dag_#{g}")
    lv = ns.call("BenchmarkLevels/go_levels_#{g}")
    sql = ns.call("BenchmarkLevels/sql_#{g}")
    puts format("%-16s %12s %12s %12s %12s %14s %14s", g, dur(go), dur(dag), dur(lv), dur(sql), ratio(sql, go),
                ratio(sql, lv))
  end
end

api = values.keys.grep(%r{^BenchmarkAPI/.+_json$}).map { |k| k.split("/").last.delete_suffix("_json") }
unless api.empty?
  puts
  puts "JSON API in Go (api.Client.CallJSON vs the store call; JSON cost = json ÷ store − 1)"
  api.each do |op|
    j = ns.call("BenchmarkAPI/#{op}_json")
    s = ns.call("BenchmarkAPI/#{op}_store")
    puts format("  %-20s store %10s  json %10s  %+.1f%%", op, dur(s), dur(j), s && j ? (j / s - 1) * 100 : 0)
  end
end

heap = values.keys.grep(%r{^BenchmarkWorkflowHeap/})
unless heap.empty?
  puts
  puts "Go heap after walking workflows (claim/report, one client)"
  heap.each do |k|
    puts format("  %-32s heap in use %6.2f MB (growth %+.2f MB), %8.0f B allocated/step, %6.0f steps/s",
                k.delete_prefix("BenchmarkWorkflowHeap/"), metric.call(k, "heap-inuse-MB").to_f,
                metric.call(k, "heap-growth-MB").to_f, metric.call(k, "alloc-B/step").to_f,
                metric.call(k, "steps/s").to_f)
  end
end

bouncer = values.keys.grep(%r{^BenchmarkPgBouncer/})
unless bouncer.empty?
  base = metric.call("BenchmarkPgBouncer/direct_cache_statement", "steps/s")
  puts
  puts "Claim/report walk, 4 walkers over 2 server connections: direct vs PgBouncer (transaction pooling)"
  bouncer.each do |k|
    rate = metric.call(k, "steps/s")
    puts format("  %-26s %6.0f steps/s (%s direct_cache_statement), %.2f statements/step, CPU µs/step: " \
                "PostgreSQL %.0f, PgBouncer %.0f, Go %.0f",
                k.delete_prefix("BenchmarkPgBouncer/"), rate.to_f, ratio(rate, base), metric.call(k, "stmts/step").to_f,
                metric.call(k, "server-cpu-µs/step").to_f, metric.call(k, "bouncer-cpu-µs/step").to_f,
                metric.call(k, "client-cpu-µs/step").to_f)
  end
end
