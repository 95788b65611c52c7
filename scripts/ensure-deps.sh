#!/usr/bin/env bash
# Install what the build and tests need, if it is missing. Idempotent and
# silent when everything is already there.
#
# Usage: scripts/ensure-deps.sh [WHAT ...]      (default: go)
#   go          Go toolchain (on PATH or in /usr/local/go/bin), a C compiler
#               for cgo (-race, -buildmode=c-shared), and the module cache
#               (`go mod download` runs only when a module is missing).
#   postgres    PostgreSQL server binaries (initdb, pg_ctl) and psql.
#   postgres-client  psql and pg_isready only.
#   ruby        ruby, ruby-dev, ruby-ffi, ruby-rspec, and ruby-dry-core and
#               ruby-concurrent: dry-events' dependencies, for the specs of the
#               dry-events bridge (dry-events itself is not in Debian; those
#               specs use the copy at ../shared/vendor/dry-events when present);
#               and yard, for the API reference (`make doc-ruby`) and the spec
#               that holds every public method of the gem documented.
#   ruby-bench  everything from `ruby`, plus ruby-pg and ruby-benchmark-ips.
#   web         TaskerCore::Web's specs: ruby-rack, ruby-erubi, ruby-rack-test,
#               ruby-graphql, puma (rackup), chromium and chromium-driver (the
#               browser spec).
#   servers     Puma and Unicorn (the forking-server specs, spec/servers/).
#   rails       Rails 6.1 and what the gem's Rails specs run (ruby-rails,
#               ruby-pg, ruby-rack-test, puma, unicorn, and ruby-byebug, which
#               the Gemfile of the README's `rails new --api` names: its quick
#               start bundles Debian's gems), and what docs/guides/rails.md
#               runs: curl, systemd-analyze (systemd), pgbouncer, pg_isready
#               (postgresql-client).
#   bench       what `make bench` / bench/run.sh needs: ruby-bench, pgbench
#               (Debian ships it with the PostgreSQL server package) and
#               pgbouncer (BenchmarkPgBouncer starts one).
#   make        GNU make (for machines that do not even have that).
#   observability  prometheus and promtool (Debian's prometheus package), for
#               the scrape test and `promtool check/test rules` of dashboards/.
#
# Everything is installed from Debian's packages with apt-get (no gem or other
# registry). `apt-get update` runs at most once per invocation, and only when
# something has to be installed. Not running as root: prints what to install
# and exits non-zero.
#
# The script is meant to be executed, not sourced. Callers get Go on PATH from
# the Makefile (`export PATH := /usr/local/go/bin:$(PATH)`) or set it themselves.
set -euo pipefail

PROJECT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive

log() { printf 'ensure-deps: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

APT_UPDATED=0
# apt_install PKG...: install Debian packages (apt-get update once per run).
apt_install() {
  if [[ $(id -u) -ne 0 ]]; then
    log "missing packages; as root run:"
    log "  apt-get update && apt-get install -y $*"
    exit 1
  fi
  command -v apt-get >/dev/null 2>&1 ||
    die "apt-get not found; install these packages by hand: $*"
  local apt_opts=(-q -y -o DPkg::Lock::Timeout=300)
  if [[ $APT_UPDATED -eq 0 ]]; then
    log "apt-get update"
    # A failed update is not fatal: the install may still work from the
    # package lists already there.
    apt-get "${apt_opts[@]}" update >/dev/null || log "warning: apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  apt-get "${apt_opts[@]}" install "$@" >/dev/null ||
    die "apt-get install $* failed"
}

ensure_make() {
  command -v make >/dev/null 2>&1 || apt_install make
}

ensure_go() {
  if ! command -v go >/dev/null 2>&1; then
    if [[ -x /usr/local/go/bin/go ]]; then
      export PATH="/usr/local/go/bin:$PATH"
    else
      die "Go not found on PATH nor in /usr/local/go/bin; install the Go version named in go.mod to /usr/local/go"
    fi
  fi
  # cgo needs a C compiler: `go test -race` and `-buildmode=c-shared` use it.
  if ! command -v gcc >/dev/null 2>&1 || [[ ! -e /usr/include/stdlib.h ]]; then
    apt_install gcc libc6-dev
  fi
  if [[ -f $PROJECT_DIR/go.mod ]]; then
    # With the proxy off, `go mod download` succeeds only when every module
    # is already in the cache; download for real only when it does not.
    if ! (cd "$PROJECT_DIR" && GOPROXY=off go mod download >/dev/null 2>&1); then
      # The module proxy is HTTPS: a minimal Debian has no CA bundle.
      [[ -s /etc/ssl/certs/ca-certificates.crt ]] || apt_install ca-certificates
      log "go mod download"
      (cd "$PROJECT_DIR" && go mod download) || die "go mod download failed"
    fi
  fi
}

# find_pg_bindir: print the newest /usr/lib/postgresql/*/bin that has initdb,
# or the directory of `initdb` on PATH.
find_pg_bindir() {
  local d
  d=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null |
    sort -V | tail -n 1)
  if [[ -n $d ]]; then
    dirname "$d"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
  fi
}

ensure_postgres() {
  local bindir
  bindir=$(find_pg_bindir)
  # Both are needed: initdb/pg_ctl for a throwaway cluster, psql for probing.
  if [[ -z $bindir ]] || ! command -v psql >/dev/null 2>&1; then
    apt_install postgresql postgresql-client
  fi
}

# pgbench ships with the server package on Debian (postgresql-NN).
ensure_pgbench() {
  command -v pgbench >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1 ||
    apt_install postgresql postgresql-client
}

ensure_pgbouncer() {
  command -v pgbouncer >/dev/null 2>&1 || [[ -x /usr/sbin/pgbouncer ]] || apt_install pgbouncer
}

ensure_postgres_client() {
  command -v psql >/dev/null 2>&1 || apt_install postgresql-client
}

ruby_ok() {
  command -v ruby >/dev/null 2>&1 || return 1
  command -v rspec >/dev/null 2>&1 || return 1
  command -v yard >/dev/null 2>&1 || return 1
  ruby -e 'require "ffi"' >/dev/null 2>&1 || return 1
  ruby -e 'require "dry/core"; require "concurrent/map"' >/dev/null 2>&1 || return 1
  # ruby-dev: the headers needed to build C extensions.
  ruby -rrbconfig -e 'exit File.exist?(File.join(RbConfig::CONFIG["rubyhdrdir"], "ruby.h"))' \
    >/dev/null 2>&1 || return 1
  if [[ $1 == bench ]]; then
    ruby -e 'require "pg"; require "benchmark/ips"' >/dev/null 2>&1 || return 1
  fi
  return 0
}

rails_ok() {
  ruby -e 'require "rails"; require "active_record"; require "pg"; require "rack/test"; require "byebug"' \
    >/dev/null 2>&1 || return 1
  command -v puma >/dev/null 2>&1 || return 1
  command -v unicorn >/dev/null 2>&1 || return 1
  command -v curl >/dev/null 2>&1 || return 1
  command -v systemd-analyze >/dev/null 2>&1 || return 1
  command -v pgbouncer >/dev/null 2>&1 || [[ -x /usr/sbin/pgbouncer ]] || return 1
  command -v pg_isready >/dev/null 2>&1 || return 1
  return 0
}

ensure_rails() {
  rails_ok || apt_install ruby-rails ruby-pg ruby-rack-test puma unicorn ruby-byebug curl systemd pgbouncer postgresql-client
}

ensure_ruby() {
  local pkgs=(ruby ruby-dev ruby-ffi ruby-rspec ruby-dry-core ruby-concurrent yard)
  if [[ $1 == bench ]]; then
    pkgs+=(ruby-pg ruby-benchmark-ips)
  fi
  ruby_ok "$1" || apt_install "${pkgs[@]}"
}

web_ok() {
  ruby -e 'require "rack"; require "erubi"; require "rack/test"; require "graphql"' >/dev/null 2>&1 || return 1
  command -v puma >/dev/null 2>&1 || return 1
  command -v chromium >/dev/null 2>&1 || return 1
  command -v chromedriver >/dev/null 2>&1 || return 1
  return 0
}

ensure_web() {
  web_ok || apt_install ruby-rack ruby-erubi ruby-rack-test ruby-graphql puma chromium chromium-driver
}

servers_ok() {
  command -v puma >/dev/null 2>&1 && command -v unicorn >/dev/null 2>&1 &&
    ruby -e 'require "puma"; require "unicorn"' >/dev/null 2>&1
}

ensure_servers() {
  servers_ok || apt_install puma unicorn
}

ensure_observability() {
  if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
    # The package ships a service; no init system starts it here, and the
    # tests run their own server on a port of their own.
    apt_install prometheus
  fi
}

main() {
  local want_obs=0 want_servers=0 want_go=0 want_web=0 want_pg=0 want_pgc=0 want_make=0 want_ruby='' want_rails=0 want_bench=0
  [[ $# -gt 0 ]] || set -- go
  local arg
  for arg in "$@"; do
    case $arg in
      go) want_go=1 ;;
      postgres | postgresql) want_pg=1 ;;
      postgres-client) want_pgc=1 ;;
      make) want_make=1 ;;
      observability) want_obs=1 ;;
      ruby) [[ $want_ruby == bench ]] || want_ruby=plain ;;
      ruby-bench) want_ruby=bench ;;
      web) want_web=1 ;;
      servers) want_servers=1 ;;
      rails) want_rails=1 ;;
      bench)
        want_ruby=bench
        want_bench=1
        ;;
      -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        return 0
        ;;
      *) die "unknown dependency '$arg' (want: go, postgres, postgres-client, ruby, ruby-bench, web, servers, rails, observability, bench, make)" ;;
    esac
  done
  [[ $want_make -eq 0 ]] || ensure_make
  [[ $want_go -eq 0 ]] || ensure_go
  [[ $want_pg -eq 0 ]] || ensure_postgres
  [[ $want_pgc -eq 0 ]] || ensure_postgres_client
  [[ -z $want_ruby ]] || ensure_ruby "$want_ruby"
  [[ $want_web -eq 0 ]] || ensure_web
  [[ $want_servers -eq 0 ]] || ensure_servers
  [[ $want_rails -eq 0 ]] || ensure_rails
  [[ $want_obs -eq 0 ]] || ensure_observability
  if [[ $want_bench -eq 1 ]]; then
    ensure_pgbench
    ensure_pgbouncer
  fi
}

main "$@"
