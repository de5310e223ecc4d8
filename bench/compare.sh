#!/usr/bin/env bash
# bench/compare.sh [N ...]: centinela and the Go postgres_exporter side by side, in one run,
# against a throw-away PostgreSQL with fixtures of N tables (default: 1000 10000).
#
# Cases per N:
#   go-default      postgres_exporter 0.11 with no flags (server-level series only)
#   go-queries      postgres_exporter with bench/queries-tables.yaml: per-table and per-index
#                   series, i.e. what centinela exports
#   centinela-all   centinela with the table cap raised, every table and index exported,
#                   intervals of 1 h so no collection falls inside the measurement
#   centinela-default  centinela on its built-in defaults, no --config (15 s / 5 min
#                   intervals, 1,000-table cap, host metrics on)
# Columns: see bench/scrape-bench.sh. BENCH_K sets the sequential scrapes (default 20).
# BENCH_BASELINE=PATH also runs both centinela cases with the binary at PATH (an earlier
# build), labelled "-baseline", so a change is measured beside what it replaces.
# After the cases, on the largest fixture: the SQL statements and database time centinela
# spends per fast and per slow interval (bench/interval-cost.sh). BENCH_MANY_DATABASES=0
# skips the last part: 500 databases of 20 tables each (bench/many-databases.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

ensure_packages '/usr/lib/postgresql/*/bin/initdb:postgresql' psql:postgresql-client \
  prometheus-postgres-exporter:prometheus-postgres-exporter curl:curl python3:python3 \
  runuser:util-linux
ensure_rust
log "building centinela (release)"
scripts/build-release.sh
k=${BENCH_K:-20}
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(1000 10000)

work=$(mktemp -d /tmp/centinela-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pg_cluster_stop "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT

port=$(free_port)
log "throw-away PostgreSQL on 127.0.0.1:$port"
pg_cluster_start "$work/pg" "$port"
psql_() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }
psql_ -d postgres -c "CREATE DATABASE bench" -c "CREATE EXTENSION pg_stat_statements" \
  -c "CREATE ROLE bench_go LOGIN IN ROLE pg_monitor" \
  -c "CREATE ROLE bench_centinela LOGIN IN ROLE pg_monitor"

wait_url() {
  for _ in $(seq 1 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done
  die "$1 did not answer"
}
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null || true; }
calls() {
  psql_ -At -d postgres -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
    WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = '$1')"
}

results="$work/results.tsv"
printf 'case\tseries\tbody_MB\tmedian_ms\tp99_ms\tconcurrent20_s\trss_MiB\tpeak_MiB\tcpu_ms_per_scrape\tsql_per_scrape\n' >"$results"
notes="$work/notes"
: >"$notes"

go_case() {
  local label=$1; shift
  local gport; gport=$(free_port)
  DATA_SOURCE_NAME="postgresql://bench_go@127.0.0.1:$port/bench?sslmode=disable" \
    prometheus-postgres-exporter --web.listen-address="127.0.0.1:$gport" "$@" \
    >"$work/$label.log" 2>&1 &
  local pid=$!; pids+=("$pid")
  wait_url "http://127.0.0.1:$gport/metrics"
  bench/scrape-bench.sh "$label" "http://127.0.0.1:$gport/metrics" "$pid" bench_go "$port" "$k" >>"$results"
  stop_pid "$pid"
}

centinela_case() {
  local label=$1 config=$2 bin=${3:-target/release/centinela}
  local cport; cport=$(free_port)
  local before; before=$(calls bench_centinela)
  local t0; t0=$(date +%s.%N)
  local args=()
  [ -n "$config" ] && args=(--config "$config")
  CENTINELA__POSTGRES__DSN="postgres://bench_centinela@127.0.0.1:$port/bench?sslmode=disable" \
  CENTINELA__SERVER__LISTEN="127.0.0.1:$cport" RUST_LOG=warn \
    "$bin" "${args[@]}" >"$work/$label.log" 2>&1 &
  local pid=$!; pids+=("$pid")
  local url="http://127.0.0.1:$cport"
  for _ in $(seq 1 1200); do curl -sf -o /dev/null "$url/ready" && break; sleep 0.1; done
  curl -sf -o /dev/null "$url/ready" || die "centinela ($label) did not become ready"
  local t1; t1=$(date +%s.%N)
  local after; after=$(calls bench_centinela)
  local took; took=$(curl -sf "$url/metrics" | awk '/^centinela_collector_duration_seconds\{collector="postgres_tables"\}/ {print $2}')
  printf '%s: first collection of both collectors: %s SQL statements; postgres_tables run %.2f s; ready after %.2f s\n' \
    "$label" "$((after - before))" "$took" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" >>"$notes"
  bench/scrape-bench.sh "$label" "$url/metrics" "$pid" bench_centinela "$port" "$k" >>"$results"
  stop_pid "$pid"
}

cat >"$work/all.toml" <<'TOML'
[postgres]
interval = "1h"
slow_interval = "1h"
statement_timeout = "60s"
max_tables_per_database = 1000000
TOML

for n in "${sizes[@]}"; do
  log "fixture: $n tables"
  t0=$(date +%s)
  bench/make-fixture.sh "$port" "$n"
  log "fixture ready in $(( $(date +%s) - t0 )) s"
  psql_ -d postgres -c "SELECT pg_stat_statements_reset()" >/dev/null
  log "N=$n: go-default";       go_case "go-default-$n"
  log "N=$n: go-queries";       go_case "go-queries-$n" --extend.query-path=bench/queries-tables.yaml
  log "N=$n: centinela-all";    centinela_case "centinela-all-$n" "$work/all.toml"
  log "N=$n: centinela-default"; centinela_case "centinela-default-$n" ""
  if [ -n "${BENCH_BASELINE:-}" ]; then
    log "N=$n: centinela-all (baseline)"
    centinela_case "centinela-all-$n-baseline" "$work/all.toml" "$BENCH_BASELINE"
    log "N=$n: centinela-default (baseline)"
    centinela_case "centinela-default-$n-baseline" "" "$BENCH_BASELINE"
  fi
done

log "database cost per interval, ${sizes[-1]} tables"
bench/interval-cost.sh target/release/centinela "$port" bench_centinela >"$work/cost.md"
if [ "${BENCH_MANY_DATABASES:-1}" != 0 ]; then
  log "500 databases of 20 tables"
  bench/many-databases.sh target/release/centinela 500 20 >"$work/many.md"
fi

echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(psql_ -At -d postgres -c 'SHOW server_version'); $(prometheus-postgres-exporter --version 2>&1 | head -1); $(target/release/centinela --version)"
echo
python3 - "$results" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
print("| " + " | ".join(rows[0]) + " |")
print("|" + "---|" * len(rows[0]))
for r in rows[1:]:
    print("| " + " | ".join(r) + " |")
PY
echo
cat "$notes"
echo
cat "$work/cost.md"
[ -f "$work/many.md" ] && { echo; cat "$work/many.md"; }
true
