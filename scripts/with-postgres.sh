#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster for the tests:
#
#   scripts/with-postgres.sh COMMAND [ARGS...]
#
# The cluster lives in a temporary folder, listens on a free loopback port
# (and a socket in that folder), is owned by an unprivileged user when run as
# root (initdb refuses root), accepts only scram-sha-256 passwords over TCP,
# and is stopped and deleted when the command ends. The command sees its URL
# in VOXGATE_TEST_POSTGRES (a superuser, database "postgres": the tests make
# their own schemas and databases) and the server's binaries folder in
# VOXGATE_TEST_POSTGRES_BIN.
#
# With VOXGATE_TEST_POSTGRES already set, the command runs against that
# server instead. Without PostgreSQL binaries the command runs without it
# (the PostgreSQL tests then skip), except under CI, where that is an error.
set -euo pipefail

if [ -n "${VOXGATE_TEST_POSTGRES:-}" ]; then
  exec "$@"
fi

bindir=""
if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
  bindir=$(dirname "$(readlink -f "$(command -v initdb)")")
else
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { bindir=$d; break; }
  done
fi
if [ -z "$bindir" ]; then
  if [ -n "${CI:-}" ]; then
    echo "with-postgres: no PostgreSQL server binaries (initdb, pg_ctl) and CI is set" >&2
    exit 1
  fi
  echo "with-postgres: no PostgreSQL server binaries: the PostgreSQL tests will skip" >&2
  exec "$@"
fi

dir=$(mktemp -d /tmp/voxgate-pg.XXXXXX)
owner=""
as_owner() { "$@"; }
if [ "$(id -u)" -eq 0 ]; then
  owner=nobody
  chown "$owner" "$dir"
  as_owner() { runuser -u "$owner" -- "$@"; }
fi
chmod 700 "$dir"

cleanup() {
  as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$password" >"$dir/pw"
[ -n "$owner" ] && chown "$owner" "$dir/pw"
as_owner "$bindir/initdb" -D "$dir/data" -U voxgate --pwfile="$dir/pw" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
rm -f "$dir/pw"

# A random high port; the server refuses to start on one that is taken,
# and the next try picks another.
started=""
for _ in 1 2 3 4 5 6 7 8; do
  port=$((20000 + RANDOM % 30000))
  if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c fsync=off -c full_page_writes=off" start >/dev/null; then
    started=1
    break
  fi
done
if [ -z "$started" ]; then
  cat "$dir/server.log" >&2 || true
  echo "with-postgres: the throwaway cluster did not start" >&2
  exit 1
fi

export VOXGATE_TEST_POSTGRES="postgres://voxgate:${password}@127.0.0.1:${port}/postgres?sslmode=disable"
export VOXGATE_TEST_POSTGRES_BIN="$bindir"
echo "with-postgres: throwaway cluster on 127.0.0.1:$port ($dir)" >&2
set +e
"$@"
rc=$?
set -e
exit $rc
