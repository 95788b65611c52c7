#!/usr/bin/env bash
# Run a command with DATABASE_URL exported to a working PostgreSQL, then exit
# with the command's exit status.
#
# Usage: scripts/with-postgres.sh CMD [ARGS...]
#        scripts/with-postgres.sh --stop   (stop and remove a kept throwaway cluster)
#
# Which server is used:
#   1. $DATABASE_URL when it is set. It must answer `select 1`; if it does not,
#      the script fails (it never falls back to another server).
#   2. Otherwise the first of these that answers within a few seconds
#      (PGCONNECT_TIMEOUT=3):
#        postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
#        the default unix socket /var/run/postgresql as user postgres
#        the default unix socket as the current OS user
#   3. Otherwise a throwaway cluster in <project>/tmp/pgcluster: initdb
#      --auth=trust -U postgres, listening on 127.0.0.1 only (port 54329 or the
#      next free one), its unix socket inside that directory, fsync=off. As root
#      it runs as the `postgres` OS user (created if missing). It is stopped and
#      removed when the command ends, on Ctrl-C and on TERM; a cluster left by a
#      killed run is stopped and wiped first. The PostgreSQL server is
#      installed (`scripts/ensure-deps.sh postgres`) only on this path, and
#      only when initdb is missing. (Without psql, only the client is
#      installed, and only when it is needed to check DATABASE_URL or a
#      server that listens on 127.0.0.1:5432 or /var/run/postgresql.)
#
# Exactly one line on stderr says which server is used (passwords masked).
#
# Environment knobs:
#   DATABASE_URL            use this server (step 1).
#   TASKER_PG_SKIP_PROBE=1  skip the probes of step 2: go straight to the
#                           throwaway cluster unless DATABASE_URL is set.
#   TASKER_KEEP_PG=1        leave the throwaway cluster running on exit; a later
#                           run with TASKER_KEEP_PG=1 reuses it, a run without
#                           it wipes it. `--stop` (or `make clean`) removes it.
#   TASKER_PG_PORT          first port tried for the throwaway cluster (54329).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_DIR=$(dirname "$SCRIPT_DIR")

log() { printf 'with-postgres: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# mask_url URL: hide passwords (URL userinfo, password=... parameters).
mask_url() {
  sed -E \
    -e 's#^([A-Za-z][A-Za-z0-9+.-]*://[^:/@]*):[^/]*@#\1:***@#' \
    -e "s#(password[[:space:]]*=[[:space:]]*)('[^']*'|[^[:space:]&]*)#\\1***#gI" \
    <<<"$1"
}

PROBE_OUT=''
# pg_answers URL: true when the server answers a query; sets PROBE_OUT to the
# server version on success, to the client's error on failure.
pg_answers() {
  local url=$1
  if command -v psql >/dev/null 2>&1; then
    if PROBE_OUT=$(PGCONNECT_TIMEOUT=3 timeout 15 psql -X -w -Atq -d "$url" \
      -c 'select 1' -c 'show server_version' </dev/null 2>&1); then
      PROBE_OUT=$(tail -n 1 <<<"$PROBE_OUT")
      return 0
    fi
    return 1
  elif command -v pg_isready >/dev/null 2>&1; then
    PROBE_OUT=$(PGCONNECT_TIMEOUT=3 timeout 15 pg_isready -d "$url" 2>&1) && return 0
    return 1
  fi
  PROBE_OUT='no psql or pg_isready to check with'
  return 2
}

have_client() { command -v psql >/dev/null 2>&1 || command -v pg_isready >/dev/null 2>&1; }

# probe_local: print the first well-known local server URL that answers.
probe_local() {
  local me urls=(postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)
  me=$(id -un)
  if [[ -d /var/run/postgresql ]]; then
    urls+=("postgres://postgres@/postgres?host=/var/run/postgresql")
    [[ $me == postgres ]] || urls+=("postgres://$me@/postgres?host=/var/run/postgresql")
  fi
  local url
  for url in "${urls[@]}"; do
    if pg_answers "$url"; then
      printf '%s\n%s\n' "$url" "$PROBE_OUT"
      return 0
    fi
  done
  return 1
}

# ---------------------------------------------------------------- throwaway --

IS_ROOT=0
[[ $(id -u) -ne 0 ]] || IS_ROOT=1
PG_BINDIR=''
CLUSTER_DIR=''
LOCK_FILE=''
OWN_CLUSTER=0 # 1 once this run created (part of) the cluster
CHILD=''
GOT_SIGNAL=''

find_pg_bindir() {
  local d
  d=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null |
    sort -V | tail -n 1)
  if [[ -n $d ]]; then
    dirname "$d"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v initdb)")"
  fi
}

# as_pg CMD...: run as the postgres OS user when we are root, from /.
as_pg() {
  if [[ $IS_ROOT -eq 1 ]]; then
    (cd / && LC_ALL=C runuser -u postgres -- "$@")
  else
    (cd / && LC_ALL=C "$@")
  fi
}

ensure_pg_user() {
  [[ $IS_ROOT -eq 1 ]] || return 0
  id -u postgres >/dev/null 2>&1 && return 0
  useradd --system --user-group --no-create-home --home-dir /var/lib/postgresql \
    --shell /bin/bash --comment 'PostgreSQL administrator' postgres ||
    die "could not create the postgres OS user"
}

# choose_cluster_dir: <project>/tmp/pgcluster, unless the postgres user cannot
# reach it (project under a private home) or the socket path would be too
# long; then a fixed per-project directory under /tmp.
choose_cluster_dir() {
  mkdir -p "$PROJECT_DIR/tmp"
  CLUSTER_DIR=$PROJECT_DIR/tmp/pgcluster
  local sock_path="$CLUSTER_DIR/sock/.s.PGSQL.65535"
  if ((${#sock_path} > 100)) ||
    { [[ $IS_ROOT -eq 1 ]] && ! runuser -u postgres -- test -x "$PROJECT_DIR/tmp" 2>/dev/null; }; then
    CLUSTER_DIR=/tmp/tasker-pgcluster-$(printf '%s' "$PROJECT_DIR" | cksum | cut -d' ' -f1)
  fi
  LOCK_FILE=$CLUSTER_DIR.lock
}

# stop_and_wipe: stop a cluster in $CLUSTER_DIR (if running) and remove it.
stop_and_wipe() {
  local data=$CLUSTER_DIR/data pid=''
  if [[ -f $data/postmaster.pid ]]; then
    pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
    if [[ -n $PG_BINDIR ]]; then
      as_pg "$PG_BINDIR/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 </dev/null ||
        as_pg "$PG_BINDIR/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1 </dev/null ||
        true
    fi
    # Last resort: the postmaster is still alive (no pg_ctl, or it failed).
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
      grep -qs postgres "/proc/$pid/comm"; then
      kill -KILL "$pid" 2>/dev/null || true
      local i
      for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  rm -rf "$CLUSTER_DIR" || die "could not remove $CLUSTER_DIR"
}

cleanup() {
  [[ $OWN_CLUSTER -eq 1 ]] || return 0
  OWN_CLUSTER=0
  if [[ ${TASKER_KEEP_PG:-} == 1 ]]; then
    log "TASKER_KEEP_PG=1: throwaway cluster left running in $CLUSTER_DIR (stop it with scripts/with-postgres.sh --stop)"
    return 0
  fi
  stop_and_wipe
}

# shellcheck disable=SC2317  # invoked from traps
on_signal() {
  local sig=$1
  if [[ -n $CHILD ]] && kill -0 "$CHILD" 2>/dev/null; then
    # Pass it on and let the main flow wait for the command, then clean up.
    GOT_SIGNAL=$sig
    kill -s "$sig" "$CHILD" 2>/dev/null || true
    return 0
  fi
  cleanup
  trap - EXIT "$sig"
  kill -s "$sig" "$$"
}

take_lock() {
  exec 9>"$LOCK_FILE"
  if ! flock -n 9; then
    log "waiting for another with-postgres run that uses $CLUSTER_DIR"
    flock 9
  fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_throwaway: sets DB_URL and DB_DESC.
start_throwaway() {
  PG_BINDIR=$(find_pg_bindir)
  if [[ -z $PG_BINDIR ]]; then
    "$SCRIPT_DIR/ensure-deps.sh" postgres || die "PostgreSQL is not installed and could not be installed"
    PG_BINDIR=$(find_pg_bindir)
    [[ -n $PG_BINDIR ]] || die "initdb not found after installing PostgreSQL"
  fi
  ensure_pg_user
  choose_cluster_dir
  take_lock

  local data=$CLUSTER_DIR/data url
  if [[ -e $CLUSTER_DIR ]]; then
    local kept_port
    kept_port=$(cat "$CLUSTER_DIR/port" 2>/dev/null || true)
    url="postgres://postgres@127.0.0.1:$kept_port/postgres?sslmode=disable"
    if [[ ${TASKER_KEEP_PG:-} == 1 && $kept_port =~ ^[0-9]+$ && -f $data/postmaster.pid ]] &&
      pg_answers "$url"; then
      DB_URL=$url
      DB_DESC="kept throwaway PostgreSQL $PROBE_OUT in ${CLUSTER_DIR#"$PROJECT_DIR"/} at $url (TASKER_KEEP_PG=1: left running)"
      return 0
    fi
    log "stopping and removing a cluster left by an earlier run in $CLUSTER_DIR"
    stop_and_wipe
  fi

  OWN_CLUSTER=1
  if [[ $IS_ROOT -eq 1 ]]; then
    install -d -m 700 -o postgres -g postgres "$CLUSTER_DIR" "$CLUSTER_DIR/sock"
  else
    install -d -m 700 "$CLUSTER_DIR" "$CLUSTER_DIR/sock"
  fi

  if ! as_pg "$PG_BINDIR/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C \
    --no-sync >"$CLUSTER_DIR/initdb.log" 2>&1 </dev/null 9>&-; then
    tail -n 20 "$CLUSTER_DIR/initdb.log" >&2
    die "initdb failed (log above)"
  fi
  local sockdir=${CLUSTER_DIR//\'/\'\'}/sock
  cat >>"$data/postgresql.conf" <<EOF

# --- added by scripts/with-postgres.sh: throwaway test cluster ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sockdir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF

  local port=${TASKER_PG_PORT:-54329} last=$((${TASKER_PG_PORT:-54329} + 200)) started=0
  for (( ; port <= last; port++)); do
    port_in_use "$port" && continue
    if as_pg "$PG_BINDIR/pg_ctl" -D "$data" -l "$CLUSTER_DIR/postgres.log" -w -t 60 \
      -o "-p $port" start >/dev/null 2>&1 </dev/null 9>&-; then
      started=1
      break
    fi
    # Lost a race for the port: try the next one; anything else is fatal.
    if ! grep -qs -e 'could not bind' -e 'Address already in use' -e 'could not create any TCP/IP sockets' \
      "$CLUSTER_DIR/postgres.log"; then
      tail -n 20 "$CLUSTER_DIR/postgres.log" >&2 || true
      die "could not start the throwaway PostgreSQL (log above)"
    fi
    : >"$CLUSTER_DIR/postgres.log"
  done
  [[ $started -eq 1 ]] || die "no free port in ${TASKER_PG_PORT:-54329}..$last"
  printf '%s\n' "$port" >"$CLUSTER_DIR/port"

  url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  local version=''
  if have_client; then
    pg_answers "$url" || die "the throwaway PostgreSQL started but does not answer: $PROBE_OUT"
    version=$PROBE_OUT
  fi
  DB_URL=$url
  local where=${CLUSTER_DIR#"$PROJECT_DIR"/}
  if [[ ${TASKER_KEEP_PG:-} == 1 ]]; then
    DB_DESC="throwaway PostgreSQL $version in $where at $url (TASKER_KEEP_PG=1: left running)"
  else
    DB_DESC="throwaway PostgreSQL $version in $where at $url (removed on exit)"
  fi
}

stop_command() {
  PG_BINDIR=$(find_pg_bindir)
  choose_cluster_dir
  if [[ ! -e $CLUSTER_DIR ]]; then
    log "no throwaway cluster in $CLUSTER_DIR"
    return 0
  fi
  take_lock
  stop_and_wipe
  log "stopped and removed $CLUSTER_DIR"
}

# --------------------------------------------------------------------- main --

main() {
  if [[ $# -eq 0 || $1 == -h || $1 == --help ]]; then
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    [[ $# -gt 0 ]] || exit 2
    exit 0
  fi
  if [[ $1 == --stop ]]; then
    stop_command
    exit 0
  fi

  trap cleanup EXIT
  trap 'on_signal INT' INT
  trap 'on_signal TERM' TERM
  trap 'on_signal HUP' HUP

  DB_URL=''
  DB_DESC=''
  if [[ -n ${DATABASE_URL:-} ]]; then
    local masked
    masked=$(mask_url "$DATABASE_URL")
    have_client || "$SCRIPT_DIR/ensure-deps.sh" postgres-client || true
    local rc=0
    pg_answers "$DATABASE_URL" || rc=$?
    if [[ $rc -eq 1 ]]; then
      die "DATABASE_URL=$masked does not answer: $(mask_url "$(head -n 3 <<<"$PROBE_OUT" | tr -s '\n\t' '  ')")"
    elif [[ $rc -eq 2 ]]; then
      DB_DESC="DATABASE_URL=$masked (not checked: no psql installed)"
    else
      DB_DESC="DATABASE_URL=$masked (PostgreSQL $PROBE_OUT)"
    fi
    DB_URL=$DATABASE_URL
  elif [[ ${TASKER_PG_SKIP_PROBE:-} != 1 ]]; then
    local found=''
    local can_probe=1
    if ! have_client; then
      # No client to probe with. If something listens where a local server
      # would, install just the client (not the server) to check it; if
      # nothing does, no server can answer: go on to the throwaway cluster.
      if [[ -S /var/run/postgresql/.s.PGSQL.5432 ]] || port_in_use 5432; then
        "$SCRIPT_DIR/ensure-deps.sh" postgres-client ||
          die "psql is not installed and could not be installed"
      else
        can_probe=0
      fi
    fi
    if [[ $can_probe -eq 1 ]] && found=$(probe_local); then
      DB_URL=$(head -n 1 <<<"$found")
      DB_DESC="PostgreSQL $(tail -n 1 <<<"$found") at $(mask_url "$DB_URL")"
    fi
  fi
  if [[ -z $DB_URL ]]; then
    start_throwaway
  fi

  export DATABASE_URL=$DB_URL
  log "using $DB_DESC"

  # Run the command in the background and wait, so that INT/TERM sent to this
  # script are handled (and passed on) at once. `trap -` gives the command
  # back the default INT/QUIT handling that background jobs otherwise lose.
  (
    trap - INT QUIT
    exec "$@"
  ) <&0 9>&- &
  CHILD=$!
  local status=0
  while :; do
    status=0
    wait "$CHILD" || status=$?
    kill -0 "$CHILD" 2>/dev/null || break # else wait was cut short by a signal
  done
  CHILD=''
  if [[ -n $GOT_SIGNAL ]]; then
    cleanup
    trap - EXIT "$GOT_SIGNAL"
    kill -s "$GOT_SIGNAL" "$$"
  fi
  exit "$status"
}

main "$@"
