#!/usr/bin/env bash
# bench/scrape-bench.sh LABEL URL PID ROLE PGPORT [K]: one first scrape (series, size),
# K sequential scrapes (latency median and p99, CPU and SQL per scrape), then 20 concurrent
# scrapes (wall time) and the resident memory after them. Prints one TSV row.
set -euo pipefail
label=$1 url=$2 pid=$3 role=$4 port=$5 k=${6:-20}
sql() { psql -X -At -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "$1"; }
calls() {
  sql "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
       WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = '$role')"
}
# utime + stime in clock ticks; the command name may hold spaces, so count from ')'.
ticks() { sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'; }
hz=$(getconf CLK_TCK)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

calls0=$(calls); cpu0=$(ticks)
curl -sf -o "$tmp/body" "$url"
for _ in $(seq 1 "$k"); do
  curl -sf -o /dev/null -w '%{time_total}\n' "$url" >>"$tmp/times"
done
cpu1=$(ticks); calls1=$(calls)
start=$(date +%s.%N)
seq 1 20 | xargs -P 20 -I{} curl -sf -o /dev/null "$url"
end=$(date +%s.%N)
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
series=$(grep -vc '^#' "$tmp/body" || true)
bytes=$(wc -c <"$tmp/body")
python3 - "$label" "$tmp/times" "$series" "$bytes" "$cpu0" "$cpu1" "$hz" "$calls0" "$calls1" "$k" "$start" "$end" "$rss" "$hwm" <<'PY'
import statistics, sys
label, times, series, size, cpu0, cpu1, hz, c0, c1, k, start, end, rss, hwm = sys.argv[1:]
t = sorted(float(x) for x in open(times))
k = int(k)
p99 = t[min(len(t) - 1, int(round(0.99 * (len(t) - 1))))]
scrapes = k + 1
print("\t".join([
    label, series, f"{int(size) / 1e6:.2f}",
    f"{statistics.median(t) * 1000:.2f}", f"{p99 * 1000:.2f}",
    f"{(float(end) - float(start)):.3f}",
    f"{int(rss) / 1024:.1f}", f"{int(hwm) / 1024:.1f}",
    f"{(float(cpu1) - float(cpu0)) / float(hz) * 1000 / scrapes:.1f}",
    f"{(float(c1) - float(c0)) / scrapes:.1f}",
]))
PY
