#!/usr/bin/env bash
# A local Postgres for development and tests, kept in the project's ignored data folder.
#
#   scripts/postgres.sh [start]   start it (initdb the first time); the URL is the last line
#   scripts/postgres.sh stop      stop it (its data stays)
#   scripts/postgres.sh url       print the URL of the running server
#
# AGENTLAB_PG_DIR moves the folder (default .data/postgres). Debian's postgresql package is
# installed when missing (as root). Postgres refuses to run as root, so as root the server runs
# as the `postgres` user, which then owns the folder. It listens on 127.0.0.1 only, on a free
# port chosen at initdb (kept in the folder), with its unix socket inside the folder; the
# superuser `agentlab` has a random password kept in the folder too.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${AGENTLAB_PG_DIR:-$root/.data/postgres}"
[[ -L "$dir" ]] && dir="$(readlink -f "$dir")"  # see place()
data="$dir/data"
user=agentlab
database=agentlab

say() { echo "postgres: $*" >&2; }
die() { say "$*"; exit 1; }

bindir() {
  local found
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [[ -z "$found" ]] && command -v pg_config >/dev/null; then found="$(pg_config --bindir)"; fi
  echo "$found"
}

install_postgres() {
  [[ -n "$(bindir)" && -x "$(bindir)/initdb" ]] && return
  [[ "$(id -u)" == 0 ]] || die "Postgres is not installed; install Debian's postgresql package"
  say "installing Debian's postgresql package"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
}

# Runs a Postgres program as the user that owns the cluster (never root).
as_owner() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

url() {
  local password port
  password="$(cat "$dir/password")"
  port="$(cat "$dir/port")"
  echo "postgresql://$user:$password@127.0.0.1:$port/$database"
}

running() {
  [[ -f "$data/PG_VERSION" ]] && as_owner "$(bindir)/pg_ctl" -D "$data" status >/dev/null 2>&1
}

# A new folder: when the postgres user cannot reach it (a project under /root), or its socket
# path would be too long for a unix socket, the folder is a link to one under /tmp.
place() {
  mkdir -p "$(dirname "$dir")"
  if [[ "$(id -u)" == 0 ]] && { ((${#dir} > 80)) || ! as_owner test -x "$(dirname "$dir")"; }; then
    local real
    real="/tmp/agentlab-postgres-$(printf %s "$dir" | sha1sum | cut -c1-12)"
    mkdir -p "$real"
    ln -s "$real" "$dir"
    say "$dir links to $real (a folder the postgres user can reach)"
    dir="$real"
    data="$dir/data"
  fi
}

init() {
  [[ -e "$dir" ]] || place
  mkdir -p "$dir/run"
  chmod 700 "$dir"
  if [[ "$(id -u)" == 0 ]]; then
    chown -R postgres:postgres "$dir"
    as_owner test -x "$dir" || die "the postgres user cannot reach $dir; choose a folder it can \
reach with AGENTLAB_PG_DIR"
  fi
  python3 -c 'import secrets; print(secrets.token_hex(16))' >"$dir/password"
  free_port >"$dir/port"
  [[ "$(id -u)" == 0 ]] && chown postgres:postgres "$dir/password" "$dir/port"
  chmod 600 "$dir/password"
  say "initdb in $data"
  as_owner "$(bindir)/initdb" -D "$data" -U "$user" --pwfile="$dir/password" \
    --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    die "initdb failed; see $dir/initdb.log"
}

# The port (kept in the folder) and the socket folder, as the server's own settings.
configure() {
  local port
  port="$(cat "$dir/port")"
  # SO_REUSEADDR as the server binds: its own closed connections (TIME_WAIT) do not count.
  if ! python3 -c 'import socket, sys; s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' \
    "$port" 2>/dev/null; then
    port="$(free_port)"
    say "port $(cat "$dir/port") is taken; using $port"
    echo "$port" | as_owner tee "$dir/port" >/dev/null
  fi
  as_owner tee "$data/postgresql.auto.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/run'
EOF
}

start() {
  install_postgres
  if running; then
    say "already running"
  else
    [[ -f "$data/PG_VERSION" ]] || init
    configure
    as_owner "$(bindir)/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 start >&2 ||
      die "the server did not start; see $dir/postgres.log"
  fi
  local exists
  exists="$(PGPASSWORD="$(cat "$dir/password")" "$(bindir)/psql" -h 127.0.0.1 \
    -p "$(cat "$dir/port")" -U "$user" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$database'")"
  if [[ "$exists" != 1 ]]; then
    PGPASSWORD="$(cat "$dir/password")" "$(bindir)/psql" -h 127.0.0.1 -p "$(cat "$dir/port")" \
      -U "$user" -d postgres -qc "CREATE DATABASE $database" >&2
  fi
  url
}

stop() {
  if running; then
    as_owner "$(bindir)/pg_ctl" -D "$data" -m fast -w stop >&2
  else
    say "not running"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  url) running || die "not running; start it with make postgres"; url ;;
  *) die "usage: $0 [start|stop|url]" ;;
esac
