#!/usr/bin/env bash
# bench/make-fixture.sh PGPORT N: grows database `bench` to N tables public.t_000001..N
# (id primary key, k int, payload text, index on k: two indexes each), 100 rows each.
# Every 10th table has autovacuum off and 1000 rows, all updated (non-HOT) and half deleted,
# so n_dead_tup is about 1500. The primary key is scanned on 2/3 of the tables and the k
# index on the other 1/3, which leaves half of the indexes never scanned. Tables that exist
# are kept, so 1000 -> 10000 only adds the new ones.
set -euo pipefail
port=$1 n=$2
psql_() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d bench "$@"; }
have=$(psql_ -At -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 't\_%'")
[ "$have" -ge "$n" ] && exit 0
python3 - "$((have + 1))" "$n" <<'PY' | psql_ -f - >/dev/null
import sys
first, last = int(sys.argv[1]), int(sys.argv[2])
batch = 250
for start in range(first, last + 1, batch):
    print("BEGIN;")
    for i in range(start, min(start + batch, last + 1)):
        t = f"t_{i:06d}"
        bloated = i % 10 == 0
        opts = " WITH (autovacuum_enabled = off)" if bloated else ""
        rows = 1000 if bloated else 100
        print(f"CREATE TABLE {t} (id int PRIMARY KEY, k int, payload text){opts};")
        print(f"CREATE INDEX {t}_k ON {t} (k);")
        print(f"INSERT INTO {t} SELECT g, g, 'payload' FROM generate_series(1, {rows}) g;")
        if bloated:
            print(f"UPDATE {t} SET k = k + 1;")
            print(f"DELETE FROM {t} WHERE id % 2 = 0;")
    print("COMMIT;")
print("SET enable_seqscan = off; SET enable_bitmapscan = off;")
for i in range(first, last + 1):
    col = "k" if i % 3 == 0 else "id"
    print(f"SELECT 1 FROM t_{i:06d} WHERE {col} = 1;")
PY
psql_ -c "ANALYZE" >/dev/null
