#!/usr/bin/env bash
# bench/own-cost.sh [N] [SECONDS]: the share of database time centinela measures for itself
# (centinela_db_time_share) on the benchmark fixture of N tables (default 1000), while
# pgbench runs a steady load (BENCH_TPS transactions/s, default 50, 2 clients) for SECONDS
# (default 360: one slow interval and more). centinela runs on its defaults (15 s / 5 min) as its own
# pg_monitor role. Prints the figures centinela exported, and the same share computed
# here from pg_stat_statements, side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh
n=${1:-1000} seconds=${2:-360} tps=${BENCH_TPS:-50}
ensure_packages '/usr/lib/postgresql/*/bin/initdb:postgresql' psql:postgresql-client \
  curl:curl python3:python3 runuser:util-linux
ensure_rust
scripts/build-release.sh
work=$(mktemp -d /tmp/centinela-own-cost.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pg_cluster_stop "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT
port=$(free_port)
pg_cluster_start "$work/pg" "$port"
psql_() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }
psql_ -d postgres -c "CREATE DATABASE bench"
psql_ -d bench -c "CREATE EXTENSION pg_stat_statements" \
  -c "CREATE ROLE bench_centinela LOGIN IN ROLE pg_monitor"
log "fixture: $n tables"
bench/make-fixture.sh "$port" "$n"
"$(pg_bindir)/pgbench" -i -q -s 1 -h 127.0.0.1 -p "$port" -U postgres bench >/dev/null 2>&1
psql_ -d bench -c "SELECT pg_stat_statements_reset()" >/dev/null
cport=$(free_port)
CENTINELA__SERVER__LISTEN="127.0.0.1:$cport" RUST_LOG=warn \
  CENTINELA__POSTGRES__DSN="postgres://bench_centinela@127.0.0.1:$port/bench?sslmode=disable" \
  target/release/centinela >"$work/centinela.log" 2>&1 &
pids+=($!)
log "pgbench at $tps tps for ${seconds}s, centinela on its defaults"
"$(pg_bindir)/pgbench" -n -c 2 -R "$tps" -T "$seconds" -h 127.0.0.1 -p "$port" -U postgres bench \
  >"$work/pgbench.log" 2>&1
metric() { curl -sf "http://127.0.0.1:$cport/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
share=$(metric centinela_db_time_share)
ours=$(metric centinela_db_time_seconds_total)
all=$(metric pg_stat_statements_time_seconds_total)
direct=$(psql -X -At -h 127.0.0.1 -p "$port" -U postgres -d bench -c "
  SELECT round((100 * sum(total_exec_time + total_plan_time) FILTER (WHERE userid = 'bench_centinela'::regrole)
               / sum(total_exec_time + total_plan_time))::numeric, 3)
  FROM pg_stat_statements WHERE toplevel")
achieved=$(awk '/^tps/ {print $3; exit}' "$work/pgbench.log")
printf '| tables | seconds | pgbench tps | centinela_db_time_share | centinela s | all statements s | share from pg_stat_statements here |\n'
printf '|---|---|---|---|---|---|---|\n'
printf '| %s | %s | %s | %s | %s | %s | %s %% |\n' "$n" "$seconds" "$achieved" "$share" "$ours" "$all" "$direct"
