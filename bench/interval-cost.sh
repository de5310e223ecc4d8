#!/usr/bin/env bash
# bench/interval-cost.sh BIN PGPORT ROLE: what one run of each PostgreSQL collector costs
# the database, from pg_stat_statements rows of ROLE (centinela's own role, a pg_monitor
# member) against database `bench` on 127.0.0.1:PGPORT. Prints a Markdown table.
#
# For each collector, centinela runs with that collector every few seconds and the other
# once an hour. After the first runs, ROLE's statement statistics are reset; then the runs
# that finish in the window are counted from centinela_collector_last_success_timestamp_seconds
# and the statements and their execution time are divided by them. A run cut by the window's
# edges counts wholly or not at all, so figures are within one run of the truth.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh
bin=$1 port=$2 role=$3
runs_wanted=${BENCH_COST_RUNS:-12}
work=$(mktemp -d /tmp/centinela-cost.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
sql() { psql -X -At -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "$1"; }

last_success() {
  curl -sf "$1/metrics" | awk -v c="collector=\"$2\"" \
    '/^centinela_collector_last_success_timestamp_seconds\{/ && index($0, c) {print $2}'
}
duration() {
  curl -sf "$1/metrics" | awk -v c="collector=\"$2\"" \
    '/^centinela_collector_duration_seconds\{/ && index($0, c) {print $2}'
}

# measure COLLECTOR FAST SLOW TIMEOUT: prints one table row.
measure() {
  local collector=$1 fast=$2 slow=$3 timeout=$4 cport url
  cport=$(free_port)
  url="http://127.0.0.1:$cport"
  cat >"$work/cost.toml" <<TOML
[postgres]
interval = "$fast"
slow_interval = "$slow"
statement_timeout = "$timeout"
max_tables_per_database = 1000000
TOML
  CENTINELA__POSTGRES__DSN="postgres://$role@127.0.0.1:$port/bench?sslmode=disable" \
  CENTINELA__SERVER__LISTEN="127.0.0.1:$cport" RUST_LOG=warn \
    "$bin" --config "$work/cost.toml" >"$work/$collector.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do curl -sf -o /dev/null "$url/ready" && break; sleep 0.1; done
  curl -sf -o /dev/null "$url/ready" || die "centinela did not become ready (see $work/$collector.log)"
  # Start the window at a run boundary of the measured collector.
  local seen; seen=$(last_success "$url" "$collector")
  while [ "$(last_success "$url" "$collector")" = "$seen" ]; do sleep 0.05; done
  sql "SELECT pg_stat_statements_reset((SELECT oid FROM pg_roles WHERE rolname = '$role'))" >/dev/null
  seen=$(last_success "$url" "$collector")
  local runs=0 walls=0 now d
  while [ "$runs" -lt "$runs_wanted" ]; do
    now=$(last_success "$url" "$collector")
    if [ "$now" != "$seen" ]; then
      seen=$now; runs=$((runs + 1))
      d=$(duration "$url" "$collector"); walls=$(awk -v a="$walls" -v b="$d" 'BEGIN {print a + b}')
    fi
    sleep 0.05
  done
  local row
  row=$(sql "SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0)
             FROM pg_stat_statements
             WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = '$role')")
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=
  awk -F'|' -v c="$collector" -v n="$runs" -v w="$walls" \
    '{printf "| %s | %d | %.1f | %.1f | %.0f |\n", c, n, $1 / n, $2 / n, w / n * 1000}' <<<"$row"
}

tables=$(psql -X -At -h 127.0.0.1 -p "$port" -U postgres -d bench \
  -c "SELECT count(*) FROM pg_stat_user_tables")
echo "Database cost per run, $tables tables in database \`bench\` (pg_stat_statements rows of \`$role\`):"
echo
echo "| collector | runs measured | statements / run | database time ms / run | run wall time ms |"
echo "|---|---|---|---|---|"
measure postgres 1s 1h 900ms
measure postgres_tables 1h 5s 60s
