#!/usr/bin/env bash
# bench/soak.sh [MINUTES] [TABLES]: centinela (release build) against a throw-away
# PostgreSQL of TABLES tables (default 2000), both collectors every second, alerting on with
# the built-in pack, for MINUTES (default 60). Resident memory is sampled every minute and
# its slope fitted over the run after the first 5 minutes (warm-up). Then /metrics is loaded
# by 200 concurrent clients for 60 s with wrk (gzip, as Prometheus asks) while collections
# go on: requests, latency percentiles, errors. Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh
minutes=${1:-60}
tables=${2:-2000}
ensure_packages '/usr/lib/postgresql/*/bin/initdb:postgresql' psql:postgresql-client \
  curl:curl python3:python3 runuser:util-linux wrk:wrk
ensure_rust
scripts/build-release.sh >&2

work=$(mktemp -d /tmp/centinela-soak.XXXXXX)
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
psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
  -c "CREATE DATABASE bench" -c "CREATE ROLE soak LOGIN IN ROLE pg_monitor"
bench/make-fixture.sh "$port" "$tables"

cport=$(free_port)
cat >"$work/soak.toml" <<TOML
[server]
listen = "127.0.0.1:$cport"
# The load phase opens 200 connections from one address.
max_connections_per_client = 256
max_concurrent_scrapes = 256
[postgres]
dsn = "postgres://soak@127.0.0.1:$port/bench?sslmode=disable"
interval = "1s"
slow_interval = "1s"
statement_timeout = "900ms"
max_tables_per_database = 100000
[alerting]
evaluation_interval = "1s"
state_dir = "$work/state"
TOML
RUST_LOG=warn target/release/centinela --config "$work/soak.toml" >"$work/centinela.log" 2>&1 &
pid=$!
url="http://127.0.0.1:$cport"
for _ in $(seq 1 600); do curl -sf -o /dev/null "$url/ready" && break; sleep 0.1; done
curl -sf -o /dev/null "$url/ready" || die "centinela did not become ready"

rss() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status"; }
samples="$work/rss.tsv"
log "soak: $minutes min, $tables tables, RSS every minute"
for m in $(seq 0 "$minutes"); do
  [ "$m" -gt 0 ] && sleep 60
  kill -0 "$pid" 2>/dev/null || die "centinela exited during the soak: $(tail -5 "$work/centinela.log")"
  body=$(curl -sf "$url/metrics")
  runs=$(awk '/^centinela_collector_errors_total\{collector="postgres_tables"\}/ {print $2}' <<<"$body")
  hist=$(awk '/^centinela_alerting_history_series / {print $2}' <<<"$body")
  printf '%s\t%s\t%s\t%s\n' "$m" "$(rss)" "${runs:-0}" "${hist:-0}" >>"$samples"
done
series=$(curl -sf "$url/metrics" | grep -vc '^#')
plain=$(curl -sf -o /dev/null -w '%{size_download}' "$url/metrics")
gz=$(curl -sf -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: gzip' "$url/metrics")
log "exposition: $series series, $plain bytes, $gz gzip"
echo "$plain $gz" >"$work/sizes"

errors() {
  curl -sf "$url/metrics" | awk '/^centinela_collector_errors_total\{collector="postgres(_tables)?"\}/ {n += $2} END {print n + 0}'
}
runs_before=$(curl -sf "$url/metrics" | awk '/^centinela_collector_last_success_timestamp_seconds\{collector="postgres_tables"\}/ {print $2}')
errors_before=$(errors)
log "load: 200 clients for 60 s"
wrk -t2 -c200 -d60s --timeout 10s --latency -H 'Accept-Encoding: gzip' "$url/metrics" >"$work/wrk.txt" 2>&1 || true
after=$(rss)
load_errors=$(( $(errors) - errors_before ))
runs_after=$(curl -sf "$url/metrics" | awk '/^centinela_collector_last_success_timestamp_seconds\{collector="postgres_tables"\}/ {print $2}')
echo "$load_errors $runs_before $runs_after" >"$work/load"

python3 - "$samples" "$work/wrk.txt" "$minutes" "$tables" "$series" "$after" "$(cat "$work/sizes")" "$(cat "$work/load")" <<'PY'
import re, sys
samples, wrk, minutes, tables, series, after, sizes, load = sys.argv[1:]
load_errors, last_before, last_after = load.split()
plain, gz = (int(x) for x in sizes.split())
rows = [l.split("\t") for l in open(samples).read().split("\n") if l]
pts = [(int(m), float(r)) for m, r, _, _ in rows]
warm = [(m, r) for m, r in pts if m >= 5] or pts
n = len(warm)
mx = sum(m for m, _ in warm) / n
my = sum(r for _, r in warm) / n
den = sum((m - mx) ** 2 for m, _ in warm) or 1.0
slope = sum((m - mx) * (r - my) for m, r in warm) / den
print(f"Soak: {minutes} min, {tables} tables, both PostgreSQL collectors and the rules every second, {series} series "
      f"({plain / 1e6:.2f} MB, {gz / 1e6:.2f} MB gzip).")
print()
print("| minute | RSS MiB | tables-collector errors | alerting history series |")
print("|---|---|---|---|")
for m, r, e, h in rows:
    if int(m) % 10 == 0 or int(m) in (1, 5) or int(m) == int(minutes):
        print(f"| {m} | {r} | {e} | {h} |")
print()
print(f"RSS slope after minute 5: {slope * 60:+.2f} MiB per hour (least squares over {n} samples; "
      f"min {min(r for _, r in warm):.1f}, max {max(r for _, r in warm):.1f} MiB).")
print()
text = open(wrk).read()
def grab(pattern, default="?"):
    m = re.search(pattern, text)
    return m.group(1) if m else default
reqs = grab(r"(\d+) requests in")
read = grab(r"requests in [\d.]+\w+, ([\d.]+\w+) read")
non2xx = grab(r"Non-2xx or 3xx responses: (\d+)", "0")
sock = grab(r"Socket errors: (.*)", "none")
p50 = grab(r"\s50%\s+(\S+)")
p90 = grab(r"\s90%\s+(\S+)")
p99 = grab(r"\s99%\s+(\S+)")
rps = grab(r"Requests/sec:\s+(\S+)")
print("Load: 200 concurrent clients on /metrics for 60 s (wrk, gzip), collections running:")
print()
print("| requests | per second | read (gzip) | p50 | p90 | p99 | non-2xx | socket errors | RSS after, MiB |")
print("|---|---|---|---|---|---|---|---|---|")
print(f"| {reqs} | {rps} | {read} | {p50} | {p90} | {p99} | {non2xx} | {sock} | {after} |")
print()
print(f"PostgreSQL collections that failed during the load: {load_errors}; the tables collector's "
      f"last success moved {float(last_after) - float(last_before):.1f} s over the minute of load.")
PY
