#!/usr/bin/env bash
# Runs Tasker Core's benchmarks and keeps what they print.
#
#   bench/run.sh [--full] [--go-only | --ruby-only] [--explain] [--doc]
#
#   (default)    quick: small sizes (a tenth of the issue's), short runs; minutes
#   --full       the issue's sizes (TASKER_BENCH_FULL=1), -benchtime 1s -count 3
#                for Go, 5 s benchmark-ips runs for Ruby; tens of minutes
#   --go-only    only the Go benchmarks (go test -bench ./bench/)
#   --ruby-only  only the Ruby scripts (bench/ruby/ffi_bench.rb, e2e_bench.rb)
#   --explain    also log EXPLAIN (ANALYZE, BUFFERS) of the hot SQL at scale
#                (BenchmarkExplain; long output)
#   --doc        rewrite docs/benchmarks.md from this run (bench/ruby/write_doc.rb):
#                tables, goal verdicts, commit and machine all from this one run
#                (`make bench-doc` = --full --doc; needs both Go and Ruby parts)
#
# Every run also compares the SQL with tasker-engine's own functions
# (BenchmarkEngineSQL; TASKER_ENGINE_SQL_DIR, default ../shared/tasker-engine;
# skipped, saying so, when absent) and writes its files to
# bench/results/<UTC date and time>-<mode>/ (output.txt, go.txt, *.json, meta.env).
#
# Expects what `make bench` provides: DATABASE_URL set (scripts/with-postgres.sh),
# the library built (build/libtasker_core.so, or TASKER_CORE_LIB), Go on PATH and
# Ruby with ffi, pg and benchmark-ips, and pgbouncer (scripts/ensure-deps.sh bench):
# BenchmarkPgBouncer starts PgBouncer on a free local port and stops it.
# Prints machine information first, then the runs, then a summary of the Go
# figures beside their baselines; everything also goes to
# bench/results/<UTC date and time>-<mode>.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

mode=quick go=1 ruby=1 explain=0 doc=0
for arg in "$@"; do
  case $arg in
    --full) mode=full ;;
    --go-only) ruby=0 ;;
    --ruby-only) go=0 ;;
    --explain) explain=1 ;;
    --doc) doc=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "bench/run.sh: unknown argument '$arg' (see --help)" >&2
      exit 2
      ;;
  esac
done

die() {
  echo "bench/run.sh: $*" >&2
  exit 1
}
((!doc || (go && ruby))) || die "--doc needs the Go and the Ruby benchmarks (no --go-only / --ruby-only)"
[[ -n ${DATABASE_URL:-} ]] || die "DATABASE_URL is not set (run \`make bench\`, which finds or starts a PostgreSQL)"
export PATH="/usr/local/go/bin:$PATH"
if ((go)); then
  command -v go >/dev/null || die "go not found (run \`make deps\`)"
fi
if ((ruby)); then
  lib=${TASKER_CORE_LIB:-$ROOT/build/libtasker_core.so}
  [[ -f $lib ]] || die "$lib not found: build it with \`make lib\`"
  ruby -e 'require "ffi"; require "pg"; require "benchmark/ips"' 2>/dev/null ||
    die "Ruby with ffi, pg and benchmark-ips is needed: scripts/ensure-deps.sh ruby-bench"
fi

stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
run_dir=bench/results/$stamp-$mode
mkdir -p "$run_dir"
out=$run_dir/output.txt
go_out=$run_dir/go.txt
export TASKER_BENCH_OUT=$ROOT/$run_dir
exec > >(tee "$out") 2>&1

if [[ $mode == full ]]; then
  export TASKER_BENCH_FULL=1
  go_flags=(-benchtime 1s -count 3 -timeout 90m)
  ruby_flags=(--full)
else
  unset TASKER_BENCH_FULL
  go_flags=(-benchtime 200ms -count 1 -timeout 30m)
  ruby_flags=()
fi

commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
pg_version=$(ruby -rpg -e 'c = PG.connect(ENV["DATABASE_URL"]); puts c.exec("SHOW server_version").getvalue(0, 0); c.close' 2>/dev/null ||
  psql "$DATABASE_URL" -Atc 'SHOW server_version' 2>/dev/null || echo unknown)
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M:%S')"
  echo "mode=$mode"
  echo "commit=$commit"
  echo "host=$(uname -srm)"
  echo "cpus=$(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "memory=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "postgresql=$pg_version ($(sed -E 's#(://[^:/@]*)(:[^@]*)?@#\1@#' <<<"$DATABASE_URL" | sed -E 's#\?.*##'))"
  echo "go=$( ((go)) && go version | cut -d' ' -f3-)"
  echo "ruby=$(ruby -e 'print RUBY_DESCRIPTION' 2>/dev/null || echo none)"
  echo "raw=$run_dir/output.txt"
} >"$run_dir/meta.env"
echo "== Tasker Core benchmarks, $mode mode"
sed 's/=/: /' "$run_dir/meta.env"
echo "(load average 1/5/15 min: other work on the machine skews wall-clock figures)"
echo

if ((go)); then
  echo "== go test -run '^\$' -bench . -benchmem -v ${go_flags[*]} ./bench/"
  rc=0
  go test -run '^$' -bench . -benchmem -v "${go_flags[@]}" ./bench/ | tee "$go_out" || rc=$?
  echo "== SQL beside tasker-engine's functions (BenchmarkEngineSQL)"
  TASKER_BENCH_ENGINE=1 go test -run '^$' -bench '^BenchmarkEngineSQL$' -benchtime 1x -count 1 -timeout 60m -v ./bench/ || rc=$?
  if ((explain)); then
    echo "== EXPLAIN of the hot SQL at scale"
    TASKER_BENCH_EXPLAIN=1 go test -run '^$' -bench '^BenchmarkExplain$' -benchtime 1x -v ./bench/ || rc=$?
  fi
  ((rc == 0)) || die "the Go benchmarks failed (exit $rc)"
  echo
fi

if ((ruby)); then
  echo "== ruby bench/ruby/ffi_bench.rb ${ruby_flags[*]}"
  ruby bench/ruby/ffi_bench.rb "${ruby_flags[@]}" --json "$run_dir/ffi.json"
  echo
  echo "== ruby bench/ruby/e2e_bench.rb ${ruby_flags[*]}"
  ruby bench/ruby/e2e_bench.rb "${ruby_flags[@]}" --json "$run_dir/e2e.json"
  echo
fi

if ((go)); then
  ruby bench/ruby/go_summary.rb "$go_out"
  echo
fi
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$run_dir/meta.env"
if ((doc)); then
  ruby bench/ruby/write_doc.rb "$run_dir" >docs/benchmarks.md.tmp && mv docs/benchmarks.md.tmp docs/benchmarks.md
  echo "== docs/benchmarks.md rewritten from this run"
fi
echo "== written to $run_dir/"
