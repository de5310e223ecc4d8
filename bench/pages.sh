#!/usr/bin/env bash
# bench/pages.sh [ALERTS] [SERIES]: how long centinela (release build) takes to answer each
# page with ALERTS firing alerts (default 500) among SERIES textfile series (default
# 10,000), against a throw-away PostgreSQL, with a Slack receiver that accepts everything.
# 50 sequential requests per page with curl; prints median and p99 in Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh
alerts=${1:-500}
series=${2:-10000}
ensure_packages '/usr/lib/postgresql/*/bin/initdb:postgresql' curl:curl python3:python3 runuser:util-linux
ensure_rust
scripts/build-release.sh >&2

work=$(mktemp -d /tmp/centinela-pages.XXXXXX)
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
mkdir -p "$work/textfile"
python3 - "$alerts" "$series" >"$work/textfile/load.prom" <<'PY'
import sys
alerts, series = int(sys.argv[1]), int(sys.argv[2])
print("# TYPE load_broken gauge")
for i in range(alerts):
    print(f'load_broken{{table="t_{i:05d}",severity="P{i % 4}"}} 1')
print("# TYPE load_filler gauge")
for i in range(series - alerts):
    print(f'load_filler{{i="{i:06d}"}} {i}')
PY
cat >"$work/rules.yaml" <<'YAML'
groups:
  - name: load
    rules:
      - alert: TableBroken
        expr: load_broken > 0
        labels: {component: postgresql}
        annotations:
          summary: "Table {{ $labels.table }} is broken"
          runbook_url: docs/runbooks.md#tablebroken
YAML
# A receiver that accepts every message (Slack's "ok").
hook=$(free_port)
python3 - "$hook" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
pids+=($!)
cport=$(free_port)
cat >"$work/c.toml" <<TOML
[server]
listen = "127.0.0.1:$cport"
[postgres]
dsn = "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
[textfile]
directory = "$work/textfile"
[schedule]
textfile = "5s"
[alerting]
rule_files = ["$work/rules.yaml"]
evaluation_interval = "5s"
group_wait = "1s"
state_dir = "$work/state"
group_by = ["alertname", "table"]
[[alerting.receivers]]
name = "chat"
slack = { url = "http://127.0.0.1:$hook/", min_interval = "0s" }
TOML
RUST_LOG=warn target/release/centinela --config "$work/c.toml" >"$work/centinela.log" 2>&1 &
pids+=($!)
url="http://127.0.0.1:$cport"
for _ in $(seq 1 600); do
  n=$(curl -sf "$url/api/v1/alerts" | python3 -c 'import json,sys; print(sum(a["state"]=="firing" for a in json.load(sys.stdin)["data"]["alerts"]))' 2>/dev/null || echo 0)
  [ "$n" -ge "$alerts" ] && break
  sleep 0.5
done
[ "$n" -ge "$alerts" ] || die "only $n alerts firing"
sleep 6 # the groups are notified

echo "Pages with $alerts firing alerts among $series series (50 requests each, curl, release build):"
echo
echo "| page | bytes | median ms | p99 ms |"
echo "|---|---|---|---|"
for path in / /alerts /silences /notifications /rules /config; do
  for _ in $(seq 1 50); do
    curl -sf -o /dev/null -H 'Accept: text/html' -w '%{time_total} %{size_download}\n' "$url$path"
  done | python3 -c '
import statistics, sys
rows = [l.split() for l in sys.stdin]
t = sorted(float(r[0]) * 1000 for r in rows)
p99 = t[min(len(t) - 1, round(0.99 * (len(t) - 1)))]
print(f"| `{sys.argv[1]}` | {rows[-1][1]} | {statistics.median(t):.2f} | {p99:.2f} |")' "$path"
done
