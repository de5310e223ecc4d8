#!/usr/bin/env bash
# See centinela at work in a minute: starts a throw-away PostgreSQL (TLS on) with a small
# schema that has dead tuples, an unused index and a slow statement, a throw-away Redis with
# temp:* keys, a real pg_dump backup, stale temp files, a log with errors and a textfile;
# runs centinela against them with examples/centinela.toml (paths and ports pointed at the
# throw-away parts), and prints where to look. Ctrl-C stops and removes everything.
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
  curl:curl runuser:util-linux python3:python3 redis-server:redis-server redis-cli:redis-tools \
  openssl:openssl
bin=${CENTINELA_BIN:-}
if [ -z "$bin" ]; then
  ensure_rust
  log "building centinela (release)"
  scripts/build-release.sh
  bin=target/release/centinela
fi

work=$(mktemp -d /tmp/centinela-demo.XXXXXX)
chmod 755 "$work"
centinela_pid=
redis_pid=
cleanup() {
  [ -n "$centinela_pid" ] && kill "$centinela_pid" 2>/dev/null && wait "$centinela_pid" 2>/dev/null
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  pg_cluster_stop "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_port=$(free_port)
log "starting a throw-away PostgreSQL on 127.0.0.1:$pg_port"
pg_cluster_start "$work/pg" "$pg_port"
psql_() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }

log "turning TLS on with a certificate that expires in 20 days"
mkdir -p "$work/certs"
openssl req -x509 -newkey rsa:2048 -nodes -days 20 -subj "/CN=db.demo.internal" \
  -keyout "$work/certs/server.key" -out "$work/certs/server.crt" 2>/dev/null
cp "$work/certs/server.crt" "$work/certs/server.key" "$work/pg/data/"
chmod 600 "$work/pg/data/server.key"
[ "$(id -u)" -eq 0 ] && chown postgres: "$work/pg/data/server.crt" "$work/pg/data/server.key"
psql_ -d postgres -c "ALTER SYSTEM SET ssl = 'on'" -c "SELECT pg_reload_conf()" >/dev/null

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

redis_port=$(free_port)
log "starting a throw-away Redis on 127.0.0.1:$redis_port with 2,500 temp:* keys"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
redis_pid=$!
for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
for i in $(seq 1 2500); do echo "SET temp:$i x"; done | redis-cli -p "$redis_port" >/dev/null

log "files around the database: a pg_dump backup, stale temp files, a log, a textfile"
mkdir -p "$work/backups/daily" "$work/tmp" "$work/log" "$work/textfile"
pg_dump -Fc -h 127.0.0.1 -p "$pg_port" -U postgres -d shop -f "$work/backups/daily/shop.dump"
for f in dtem_1 dtem_2 dtem_3; do echo data >"$work/tmp/$f"; touch -d '2 days ago' "$work/tmp/$f"; done
echo fresh >"$work/tmp/dtem_new"
for i in $(seq 1 12); do echo "$(date -Is) ERROR payment $i failed"; done >"$work/log/app.log.$(date +%Y-%m-%d)"
printf '# HELP apt_upgrades_pending Upgrades pending, by origin.\n# TYPE apt_upgrades_pending gauge\napt_upgrades_pending{origin="security"} 3\n' \
  >"$work/textfile/apt.prom"

port=${CENTINELA_DEMO_PORT:-9432}
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then port=$(free_port); fi
# examples/centinela.toml, with its paths and ports pointed at the throw-away parts.
sed -e "s|127.0.0.1:5432|127.0.0.1:$pg_port|" \
    -e "s|/var/backups/postgresql/daily|$work/backups/daily|" \
    -e "s|http://localhost:3000/health|http://127.0.0.1:$port/health|" \
    -e "s|\"/etc/centinela/certs/\*.crt\", \"/etc/ssl/private/\*\*/\*.pem\"|\"$work/certs/*.crt\"|" \
    -e "s|redis://127.0.0.1:6379|redis://127.0.0.1:$redis_port|" \
    -e "s|path = \"/tmp\"|path = \"$work/tmp\"|" \
    -e "s|/var/log/dtem/|$work/log/|" \
    -e "s|/var/lib/centinela/textfile|$work/textfile|" \
    examples/centinela.toml >"$work/centinela.toml"
log "starting centinela on 127.0.0.1:$port with examples/centinela.toml (pgBackRest off: no stanza here)"
CENTINELA__POSTGRES__DSN="postgres://centinela:demo@127.0.0.1:$pg_port/postgres?sslmode=prefer" \
CENTINELA__SERVER__LISTEN="127.0.0.1:$port" \
CENTINELA__PGBACKREST__ENABLED=false \
CENTINELA__ALERTING__STATE_DIR="$work/state" \
  "$bin" --config "$work/centinela.toml" &
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
echo "certificates (seed: openssl x509 -enddate, < 30 days), PostgreSQL's own included:"
show '^centinela_cert_not_after_timestamp_seconds'
echo "backups (seed: ls -t /backups/daily/ | head -n1):"
show '^centinela_backup_newest_(timestamp_seconds|valid)'
echo "Redis (seed: redis-cli --scan --pattern temp:*):"
show '^redis_up |^redis_keys_count'
echo "stale temp files and today's errors (seed: find -mtime +1, grep -c ERROR):"
show '^centinela_stale_files\{|^centinela_log_matches\{'
echo "disk and memory (seed: df, free -m):"
show '^centinela_filesystem_avail_bytes\{mountpoint="/"|^centinela_memory_available_bytes'
echo "health URL and textfile:"
show '^centinela_probe_success|^apt_upgrades_pending'
echo "centinela itself:"
show '^centinela_collector_up'
echo

if $once; then
  for want in '^pg_up 1$' \
    'pg_stat_user_tables_n_dead_tup\{datname="shop",schemaname="public",relname="orders"\} 1[0-9]{5}$' \
    'pg_unused_index_size_bytes\{datname="shop",schemaname="public",relname="orders",indexrelname="orders_customer"\}' \
    '^pg_stat_statements_mean_seconds\{datname="postgres"' \
    '^centinela_collector_up\{collector="postgres_tables"\} 1$' \
    "centinela_cert_not_after_timestamp_seconds\\{source=\"127.0.0.1:$pg_port\",subject_cn=\"db.demo.internal\"" \
    '^centinela_backup_newest_valid\{name="daily"\} 1$' \
    '^redis_keys_count\{db="db0",pattern="temp:\*"\} 2500$' \
    '^centinela_stale_files\{name="tmp"\} 3$' \
    '^centinela_log_matches\{name="app"\} 12$' \
    '^apt_upgrades_pending\{origin="security"\} 3$' \
    '^centinela_collector_up\{collector="(host|certs|backups|redis|files|textfile)"\} 1$'; do
    grep -Eq "$want" <<<"$metrics" || die "demo check failed: no line matches $want"
  done
  if command -v promtool >/dev/null 2>&1; then
    promtool check metrics <<<"$metrics" || die "promtool check metrics found problems"
  fi
  log "demo checks passed (promtool check metrics too)"
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
