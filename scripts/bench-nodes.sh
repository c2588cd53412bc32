#!/usr/bin/env bash
# Verification throughput of 1 node against several on one PostgreSQL
# database (docs/DEPLOYMENT.md):
#
#   scripts/bench-nodes.sh [NODES...] [-- BENCH FLAGS...]     e.g. scripts/bench-nodes.sh 1 3 -- -n 200 -c 8
#
# Builds bin/voxgate, starts a throwaway cluster (scripts/with-postgres.sh)
# unless VOXGATE_TEST_POSTGRES names a server, and runs `voxgate bench
# verify --nodes N --store ...` once per node count, each on a fresh
# database (the nodes of one run share secrets that the next run's do not).
# bench prints throughput, latency, CPU per request and each stage's share
# of the server's time, "store" being the database's.
set -euo pipefail
cd "$(dirname "$0")/.."

nodes=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do nodes+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#nodes[@]} -eq 0 ] && nodes=(1 3)

go build -o bin/voxgate ./cmd/voxgate
export BENCH_NODES="${nodes[*]}"
exec scripts/with-postgres.sh bash -c '
  set -euo pipefail
  createdb=createdb
  [ -n "${VOXGATE_TEST_POSTGRES_BIN:-}" ] && createdb="$VOXGATE_TEST_POSTGRES_BIN/createdb"
  base=${VOXGATE_TEST_POSTGRES%%\?*}; base=${base%/*}
  query=${VOXGATE_TEST_POSTGRES#*\?}
  for n in $BENCH_NODES; do
    db="voxgate_bench_${n}_$$_$RANDOM"
    "$createdb" --maintenance-db="$VOXGATE_TEST_POSTGRES" "$db"
    echo "== $n node(s), database $db"
    bin/voxgate bench verify --nodes "$n" --store "$base/$db?$query" "$@"
  done
' bench-nodes "$@"
