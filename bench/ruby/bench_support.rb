# frozen_string_literal: true

# Shared by the Ruby benchmarks: loads the gem from the repository, reads the
# mode, gives each script its own PostgreSQL schema (dropped at exit) and a pg
# connection to it.
#
# Environment: DATABASE_URL (required), TASKER_BENCH_FULL=1 or --full (full
# sizes), TASKER_CORE_LIB (the library; default build/libtasker_core.so).

$LOAD_PATH.unshift(File.expand_path("../../ruby/lib", __dir__))
require "tasker_core"
require "pg"
require "json"
require "securerandom"
require "etc"

module BenchSupport
  module_function

  def full?
    ARGV.include?("--full") || ENV["TASKER_BENCH_FULL"] == "1"
  end

  def mode
    full? ? "full" : "quick"
  end

  def database_url
    url = ENV.fetch("DATABASE_URL", "")
    abort "DATABASE_URL is not set (run through `make bench` or bench/run.sh, or export it)" if url.empty?
    url
  end

  # A fresh schema name for this process.
  def schema_name(prefix)
    "#{prefix}_#{Process.pid}_#{SecureRandom.hex(3)}"
  end

  # A pg connection whose search_path is +schema+.
  def pg_connect(schema)
    conn = PG.connect(database_url)
    conn.exec("SET client_min_messages = warning")
    conn.exec("SET search_path TO #{conn.quote_ident(schema)}")
    conn
  end

  # VACUUM ANALYZE of the tables in the connection's schema (only those: the
  # database may hold other schemas).
  def vacuum_analyze(conn)
    tables = conn.exec("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").map { |r| r["tablename"] }
    tables.each { |t| conn.exec("VACUUM (ANALYZE) #{conn.quote_ident(t)}") }
  end

  # Drops +schema+ (and everything in it).
  def drop_schema(schema)
    conn = PG.connect(database_url)
    conn.exec("SET client_min_messages = warning")
    conn.exec("DROP SCHEMA IF EXISTS #{conn.quote_ident(schema)} CASCADE")
  rescue PG::Error => e
    warn "drop schema #{schema}: #{e.message}"
  ensure
    conn&.close
  end

  # Resident set size of this process in kB (Linux /proc).
  def rss_kb
    File.read("/proc/self/status")[/^VmRSS:\s+(\d+)\s+kB/, 1].to_i
  end

  CLK_TCK = Etc.sysconf(Etc::SC_CLK_TCK)

  # CPU seconds (user + system, every thread) a process has used so far, from
  # /proc/PID/stat; nil when it is gone or /proc is missing.
  def proc_cpu_seconds(pid)
    stat = File.read("/proc/#{pid}/stat")
    fields = stat[(stat.rindex(")") + 2)..].split # after "pid (comm) ": state is field 3
    (fields[11].to_i + fields[12].to_i).to_f / CLK_TCK # utime, stime: fields 14 and 15
  rescue SystemCallError
    nil
  end

  # pid → CPU seconds of every PostgreSQL server process on this machine (the
  # postmaster, backends, autovacuum, WAL writer...): the database's whole cost,
  # when it runs here. {} when none is visible (a server elsewhere).
  def postgres_cpu
    Dir["/proc/[0-9]*/comm"].each_with_object({}) do |f, h|
      next unless (File.read(f).strip rescue nil) == "postgres" # rubocop:disable Style/RescueModifier

      pid = f.split("/")[2].to_i
      cpu = proc_cpu_seconds(pid)
      h[pid] = cpu if cpu
    end
  end

  # CPU seconds the PostgreSQL processes used between two postgres_cpu readings:
  # a process that started in between counts from zero; one that ended in
  # between is lost (its last seconds with it). nil when no server was visible.
  def postgres_cpu_between(before, after)
    return nil if after.empty?

    after.sum { |pid, cpu| cpu - before.fetch(pid, 0.0) }
  end

  # The 10×10 lattice of the FFI figures (same as bench/api_test.go): step k at
  # (k / 10, k % 10) depends on the steps above and to its left.
  def lattice_steps(n = 100)
    w = Math.sqrt(n).to_i
    Array.new(n) do |k|
      r, c = k.divmod(w)
      deps = []
      deps << "s#{k - w}" if r.positive?
      deps << "s#{k - 1}" if c.positive?
      { name: "s#{k}", depends_on: deps }
    end
  end

  def lattice_diagonal(k, n = 100)
    w = Math.sqrt(n).to_i
    r, c = k.divmod(w)
    r + c
  end

  def percentile(sorted, q)
    return nil if sorted.empty?

    sorted[[(q * (sorted.size - 1)).round, sorted.size - 1].min]
  end

  def fmt_ips(ips)
    return "—" if ips.nil?

    if ips >= 10_000 then format("%.0fk", ips / 1000.0)
    elsif ips >= 100 then format("%.0f", ips)
    else format("%.1f", ips)
    end
  end

  def fmt_us(seconds)
    format("%.1f µs", seconds * 1e6)
  end
end
