#!/usr/bin/env bash
# See centinela at work in a minute: starts a throw-away PostgreSQL with a small schema that
# has dead tuples, an unused index and a slow statement, runs centinela against it with
# examples/centinela.toml, and prints where to look. Ctrl-C stops and removes everything.
#
#   scripts/demo.sh          # runs until Ctrl-C
#   scripts/demo.sh --once   # prints the key metrics, checks them, and exits (CI smoke test)
#
# CENTINELA_BIN=path uses that binary instead of building a release one.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

once=false
[ "${1:-}" = "--once" ] && once=true

ensure_packages '/usr/lib/postgresql/*/bin/initdb:postgresql' psql:postgresql-client \
  curl:curl runuser:util-linux python3:python3
bin=${CENTINELA_BIN:-}
if [ -z "$bin" ]; then
  ensure_rust
  log "building centinela (release)"
  cargo build --release --quiet
  bin=target/release/centinela
fi

work=$(mktemp -d /tmp/centinela-demo.XXXXXX)
chmod 755 "$work"
centinela_pid=
cleanup() {
  [ -n "$centinela_pid" ] && kill "$centinela_pid" 2>/dev/null && wait "$centinela_pid" 2>/dev/null
  pg_cluster_stop "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_port=$(free_port)
log "starting a throw-away PostgreSQL on 127.0.0.1:$pg_port"
pg_cluster_start "$work/pg" "$pg_port"
psql_() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }

log "creating database shop: 600,000 orders, 20 % of them dead rows, an unused 25 MB index"
psql_ -d postgres -c "CREATE DATABASE shop" \
  -c "CREATE ROLE centinela LOGIN PASSWORD 'demo' IN ROLE pg_monitor" \
  -c "CREATE EXTENSION pg_stat_statements"
psql_ -d shop <<'SQL'
CREATE TABLE orders (id bigint PRIMARY KEY, customer int, status text, note text)
  WITH (autovacuum_enabled = off);
INSERT INTO orders SELECT g, (g * 31) % 600001, 'new', md5(g::text) FROM generate_series(1, 600000) g;
CREATE INDEX orders_customer ON orders (customer);
ANALYZE orders;
SQL
psql_ -d shop -c "UPDATE orders SET status = 'shipped' WHERE id % 5 = 0"
log "running a slow statement (1.2 s) for the slow-query check"
psql_ -d postgres -c "SELECT pg_sleep(1.2)" >/dev/null

port=${CENTINELA_DEMO_PORT:-9432}
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then port=$(free_port); fi
log "starting centinela on 127.0.0.1:$port with examples/centinela.toml"
CENTINELA__POSTGRES__DSN="postgres://centinela:demo@127.0.0.1:$pg_port/postgres?sslmode=disable" \
CENTINELA__SERVER__LISTEN="127.0.0.1:$port" \
  "$bin" --config examples/centinela.toml &
centinela_pid=$!

for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$port/ready" >/dev/null || die "centinela did not become ready"

metrics=$(curl -sf "http://127.0.0.1:$port/metrics")
show() { grep -E "$1" <<<"$metrics" | grep -v '^#' || true; }
echo
echo "pg_up and connections:"
show '^pg_up |^pg_stat_activity_count\{datname="shop",state="(active|idle)"\}'
echo "dead rows (seed: n_dead_tup > n_live_tup * 0.1):"
show '^pg_stat_user_tables_n_(dead|live)_tup\{datname="shop"'
echo "unused indexes (seed: idx_scan < 100 and larger than 10 MB):"
show '^pg_unused_index_size_bytes'
echo "slow statements (seed: mean_time > 1000 ms):"
show '^pg_stat_statements_mean_seconds'
echo "centinela itself:"
show '^centinela_collector_up'
echo

if $once; then
  for want in '^pg_up 1$' \
    'pg_stat_user_tables_n_dead_tup\{datname="shop",schemaname="public",relname="orders"\} 1[0-9]{5}$' \
    'pg_unused_index_size_bytes\{datname="shop",schemaname="public",relname="orders",indexrelname="orders_customer"\}' \
    '^pg_stat_statements_mean_seconds\{datname="postgres"' \
    '^centinela_collector_up\{collector="postgres_tables"\} 1$'; do
    grep -Eq "$want" <<<"$metrics" || die "demo check failed: no line matches $want"
  done
  log "demo checks passed"
  exit 0
fi

cat <<MSG
centinela is running against the throw-away PostgreSQL. Look at:
  curl -s http://127.0.0.1:$port/metrics | grep -E 'n_dead_tup|unused_index'
  curl -s http://127.0.0.1:$port/health/db
  curl -s http://127.0.0.1:$port/ready
  psql -h 127.0.0.1 -p $pg_port -U postgres shop      # change things, watch the metrics
Tables are read every 5 minutes (slow_interval); connections every 15 s.
Ctrl-C stops centinela and removes the database.
MSG
wait "$centinela_pid"
