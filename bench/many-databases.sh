#!/usr/bin/env bash
# bench/many-databases.sh BIN [DATABASES] [TABLES]: centinela at its defaults against a
# throw-away PostgreSQL holding DATABASES databases (default 500) of TABLES tables each
# (default 20). Measures the first run of the tables collector: how long it took, whether
# every database was read, the most sessions centinela held at once (sampled every 50 ms
# from pg_stat_activity) against its max_connections, and resident memory. Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh
bin=$1 ndb=${2:-500} ntables=${3:-20}
work=$(mktemp -d /tmp/centinela-many.XXXXXX)
chmod 755 "$work"
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  pg_cluster_stop "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT

port=$(free_port)
pg_cluster_start "$work/pg" "$port"
psql_() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }
psql_ -d postgres -c "CREATE ROLE many_centinela LOGIN IN ROLE pg_monitor" -c "CREATE DATABASE tmpl"
python3 - "$ntables" <<'PY' | psql_ -d tmpl -f - >/dev/null
import sys
for i in range(1, int(sys.argv[1]) + 1):
    print(f"CREATE TABLE t_{i:03d} (id int PRIMARY KEY, k int);")
    print(f"INSERT INTO t_{i:03d} SELECT g, g FROM generate_series(1, 100) g;")
print("ANALYZE;")
PY
t0=$(date +%s)
for i in $(seq -w 1 "$ndb"); do echo "CREATE DATABASE d_$i TEMPLATE tmpl;"; done | psql_ -d postgres -f - >/dev/null
log "$ndb databases of $ntables tables ready in $(( $(date +%s) - t0 )) s"
expected=$(psql_ -At -d postgres -c "SELECT count(*) FROM pg_database WHERE datallowconn AND datname NOT IN ('template0', 'template1')")

cport=$(free_port)
url="http://127.0.0.1:$cport"
CENTINELA__POSTGRES__DSN="postgres://many_centinela@127.0.0.1:$port/postgres?sslmode=disable" \
CENTINELA__SERVER__LISTEN="127.0.0.1:$cport" RUST_LOG=warn \
  "$bin" >"$work/centinela.log" 2>&1 &
pid=$!
start=$(date +%s.%N)
most=0
while ! curl -sf -o /dev/null "$url/ready"; do
  n=$(psql_ -At -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'many_centinela'")
  [ "$n" -gt "$most" ] && most=$n
  kill -0 "$pid" 2>/dev/null || { cat "$work/centinela.log" >&2; die "centinela exited"; }
  awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN {exit !(n - s > 600)}' && die "not ready after 600 s"
  sleep 0.05
done
ready=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN {printf "%.1f", n - s}')
body=$(curl -sf "$url/metrics")
took=$(awk '/^centinela_collector_duration_seconds\{collector="postgres_tables"\}/ {printf "%.1f", $2}' <<<"$body")
up=$(awk '/^centinela_collector_up\{collector="postgres_tables"\}/ {print $2}' <<<"$body")
sized=$(grep -c '^pg_database_size_bytes{' <<<"$body" || true)
with_tables=$(grep '^pg_stat_user_tables_n_live_tup{' <<<"$body" | grep -o 'datname="[^"]*"' | sort -u | wc -l)
cap=$("$bin" defaults | awk -F' = ' '/^max_connections/ {print $2; exit}')
rss=$(awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
hwm=$(awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")

echo "$ndb databases of $ntables tables, centinela at its defaults (slow_interval 5 min):"
echo
echo "| figure | value |"
echo "|---|---|"
echo "| databases that allow connections (template1 excluded) | $expected |"
echo "| databases read (pg_database_size_bytes) | $sized |"
echo "| databases with table series | $with_tables |"
echo "| postgres_tables up | $up |"
echo "| first postgres_tables run | $took s |"
echo "| start to /ready | $ready s |"
echo "| most sessions of centinela's role at once | $most (max_connections = $cap) |"
echo "| resident memory after the run (peak) | $rss MiB ($hwm MiB) |"
