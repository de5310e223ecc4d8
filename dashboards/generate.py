#!/usr/bin/env python3
"""Generates the Grafana dashboards in dashboards/*.json.

    python3 dashboards/generate.py           # writes the JSON files
    python3 dashboards/generate.py --check   # exits 1 if a file is out of date

Every panel names the seed check it replaces in its description. Every query filters on
the `instance` variable; the data source is the `datasource` variable (no hard-coded uid).
`ALLOWED_EMPTY` lists panels that may legitimately return nothing, with the reason; the
end-to-end test runs every other query through a real Prometheus and expects data.
"""
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
I = '{instance=~"$instance"}'
IL = 'instance=~"$instance"'

# (title, type, unit, description, [(expr, legend)], extra)
DASHBOARDS = {
    "postgresql-maintenance": {
        "title": "centinela / PostgreSQL maintenance",
        "panels": [
            ("PostgreSQL up", "stat", "none", "pg_up: 1 while PostgreSQL answers. Replaces curl -f /health/db.",
             [(f"pg_up{I}", "{{instance}}")], {"thresholds": [(None, "red"), (1, "green")]}),
            ("Connections against the usable maximum", "timeseries", "percentunit",
             "Backends over max_connections minus superuser_reserved_connections. Replaces the seed's pg_stat_activity count > 50; the default rule pages above 80 %.",
             [(f"sum by (instance) (pg_stat_activity_count{I}) / on (instance) (pg_settings_max_connections{I} - pg_settings_superuser_reserved_connections{I})", "{{instance}}")],
             {"thresholds": [(None, "green"), (0.8, "orange"), (0.9, "red")]}),
            ("Connections by state", "timeseries", "none", "pg_stat_activity_count by state (active, idle, idle in transaction, ...).",
             [(f"sum by (instance, state) (pg_stat_activity_count{I})", "{{instance}} {{state}}")], {}),
            ("Tables by dead rows", "table", "none", "Top 20 tables by n_dead_tup, every database. Replaces the weekly n_dead_tup > n_live_tup * 0.1 query.",
             [(f"topk(20, pg_stat_user_tables_n_dead_tup{I})", "")], {"instant": True}),
            ("Tables by dead ratio", "table", "percentunit", "Dead rows over live rows, top 20; the seed's threshold is 10 %.",
             [(f"topk(20, pg_stat_user_tables_n_dead_tup{I} / clamp_min(pg_stat_user_tables_n_live_tup{I}, 1))", "")],
             {"instant": True, "thresholds": [(None, "green"), (0.1, "orange")]}),
            ("Time since last analyze", "table", "s", "The longest-unanalyzed tables (manual or auto). Replaces the daily ANALYZE; the default rule warns after 7 days. Tables never analyzed have no sample.",
             [(f"topk(20, time() - (pg_stat_user_tables_last_autoanalyze{I} > pg_stat_user_tables_last_analyze{I} or pg_stat_user_tables_last_autoanalyze{I} or pg_stat_user_tables_last_analyze{I}))", "")],
             {"instant": True}),
            ("Time since last vacuum", "table", "s", "The longest-unvacuumed tables (manual or auto). Replaces the monthly VACUUM ANALYZE. Tables never vacuumed have no sample.",
             [(f"topk(20, time() - (pg_stat_user_tables_last_autovacuum{I} > pg_stat_user_tables_last_vacuum{I} or pg_stat_user_tables_last_autovacuum{I} or pg_stat_user_tables_last_vacuum{I}))", "")],
             {"instant": True}),
            ("Unused indexes", "table", "bytes", "Non-unique, non-primary indexes with fewer than unused_index_max_scans scans and larger than unused_index_min_size. Replaces the weekly idx_scan < 100 AND size > 10 MB query.",
             [(f"sort_desc(pg_unused_index_size_bytes{I})", "")], {"instant": True}),
            ("Reindex candidates", "table", "bytes", "Indexes scanned more than 1000 times, larger than 100 MB, on tables with more than 10 % dead rows (the seed's reindex check).",
             [(f"pg_stat_user_indexes_size_bytes{I} > 100e6 and on (instance, datname, schemaname, relname, indexrelname) pg_stat_user_indexes_idx_scan{I} > 1000 and on (instance, datname, schemaname, relname) (pg_stat_user_tables_n_dead_tup{I} / clamp_min(pg_stat_user_tables_n_live_tup{I}, 1) > 0.1)", "")],
             {"instant": True}),
            ("Database sizes", "timeseries", "bytes", "pg_database_size_bytes per database.",
             [(f"pg_database_size_bytes{I}", "{{instance}} {{datname}}")], {}),
            ("Database growth", "timeseries", "Bps", "Growth rate of each database over the last hour (deriv).",
             [(f"deriv(pg_database_size_bytes{I}[1h])", "{{instance}} {{datname}}")], {}),
            ("Transaction-ID age", "timeseries", "percentunit", "age(datfrozenxid) over autovacuum_freeze_max_age: above 1, autovacuum is forcing freezes; wraparound is near 2^31.",
             [(f"pg_database_xid_age{I} / on (instance) group_left pg_settings_autovacuum_freeze_max_age{I}", "{{instance}} {{datname}}")],
             {"thresholds": [(None, "green"), (1, "orange")]}),
            ("Wraparound: time left", "timeseries", "s",
             "At the current consumption rate, until the oldest database reaches autovacuum_freeze_max_age (forced vacuums) and the stop limit (2^31 - 3M), for transaction IDs and multixacts. Shown at most a year (none consumed: no end). The default rules page under 7 days.",
             [(f"clamp_max(pg_xid_wraparound_eta_seconds{I}, 31536000)", "{{instance}} xid {{limit}}"),
              (f"clamp_max(pg_multixact_wraparound_eta_seconds{I}, 31536000)", "{{instance}} multixact {{limit}}")],
             {"thresholds": [(None, "red"), (86400, "orange"), (604800, "green")]}),
            ("Transaction IDs used", "timeseries", "none", "Transaction IDs and multixacts assigned per second over the last hour of samples.",
             [(f"pg_xid_consumption_per_second{I}", "{{instance}} xid"),
              (f"pg_multixact_consumption_per_second{I}", "{{instance}} multixact")], {}),
            ("Who holds the xmin horizon", "table", "none",
             "The oldest xmin each kind of holder keeps (a backend, a prepared transaction, a slot, a standby), in transactions: VACUUM cannot clean or freeze past the oldest.",
             [(f"sort_desc(pg_xmin_horizon_age{I})", "")], {"instant": True}),
            ("WAL runway", "timeseries", "s",
             "Time until the filesystem holding pg_wal is full at the rate it filled over the last hour, by cause: a slot (named), archiving, or write volume. Shown at most a week (not filling: no end). The default rules page under 24 hours.",
             [(f"clamp_max(pg_wal_runway_seconds{I}, 604800)", "{{instance}} {{cause}} {{slot}}")],
             {"thresholds": [(None, "red"), (7200, "orange"), (86400, "green")]}),
            ("WAL retained", "timeseries", "bytes",
             "WAL kept in pg_wal for a consumer: the slot that retains most, and segments waiting to be archived; against the size of pg_wal.",
             [(f"pg_wal_retained_bytes{I}", "{{instance}} {{cause}} {{slot}}"),
              (f"pg_wal_directory_bytes{I}", "{{instance}} pg_wal")], {}),
            ("Server log events", "timeseries", "none",
             "Messages of the server's own log by class in the last hour (postgres.server_log): crashes, corruption, refused connections, timeouts, deadlocks, autovacuum cancellations, standby conflicts, temporary files.",
             [(f"sum by (instance, class) (increase(pg_log_events_total{I}[1h])) > 0", "{{instance}} {{class}}")], {}),
            ("On disk, not in force", "table", "none",
             "Configuration files changed since the last reload, entries a reload would skip, and a certificate file the server does not present yet (replaced, not reloaded).",
             [(f"pg_config_reload_pending{I} == 1 or pg_config_file_errors{I} > 0 or pg_hba_file_rule_errors{I} > 0 or pg_ssl_cert_file_differs{I} == 1", "")],
             {"instant": True}),
            ("WAL archiving failures", "timeseries", "none", "Failed archive_command attempts per second; the default rule pages when archiving keeps failing.",
             [(f"rate(pg_stat_archiver_failed_count{I}[5m])", "{{instance}}")], {}),
            ("Time since last WAL archive", "timeseries", "s", "Age of the last archived WAL file.",
             [(f"pg_stat_archiver_last_archive_age{I}", "{{instance}}")], {}),
            ("Replication lag", "timeseries", "s", "On replicas: seconds since the last replayed transaction.",
             [(f"pg_replication_lag_seconds{I}", "{{instance}}")], {}),
            ("Slow statements", "table", "s", "Statements with a mean time above slow_statement_threshold (1 s), by queryid. Replaces the seed's pg_stat_statements mean_time > 1000 query.",
             [(f"sort_desc(pg_stat_statements_mean_seconds{I})", "")], {"instant": True}),
            ("Transactions per second", "timeseries", "ops", "Commits and rollbacks per second in each database (pg_stat_database).",
             [(f"sum by (instance, datname) (rate(pg_stat_database_xact_commit{I}[5m]) + rate(pg_stat_database_xact_rollback{I}[5m]))", "{{instance}} {{datname}}")], {}),
            ("Cache hit ratio", "timeseries", "percentunit", "Blocks found in shared_buffers over blocks asked for, per database; the default rule warns below 90 % under load.",
             [(f"sum by (instance, datname) (rate(pg_stat_database_blks_hit{I}[5m])) / (sum by (instance, datname) (rate(pg_stat_database_blks_hit{I}[5m])) + sum by (instance, datname) (rate(pg_stat_database_blks_read{I}[5m])))", "{{instance}} {{datname}}")],
             {"thresholds": [(None, "red"), (0.9, "green")]}),
            ("Checkpoints", "timeseries", "ops", "Timed and requested checkpoints per second (pg_stat_checkpointer on PostgreSQL 17 and later, under the old names). Requested ones outnumbering timed ones mean max_wal_size is too small.",
             [(f"rate(pg_stat_bgwriter_checkpoints_timed_total{I}[5m])", "{{instance}} timed"),
              (f"rate(pg_stat_bgwriter_checkpoints_req_total{I}[5m])", "{{instance}} requested")], {}),
            ("WAL written", "timeseries", "Bps", "WAL bytes per second: the rate of the WAL position (replayed WAL on a replica).",
             [(f"rate(pg_wal_position_bytes_total{I}[5m])", "{{instance}}")], {}),
            ("Standbys: bytes behind", "timeseries", "bytes", "On a primary, per standby: WAL not yet replayed (pg_stat_replication).",
             [(f"pg_stat_replication_pg_wal_lsn_diff{I}", "{{instance}} {{application_name}} {{client_addr}}")], {}),
            ("Standbys: replay lag", "timeseries", "s", "On a primary, per standby: the replay lag the primary measured.",
             [(f"pg_stat_replication_replay_lag_seconds{I}", "{{instance}} {{application_name}} {{client_addr}}")], {}),
            ("Heartbeat age", "timeseries", "s",
             "Age of the heartbeat row each server sees (postgres.heartbeat_table): on a replica, its delay behind the primary, idle or not.",
             [(f"pg_heartbeat_age_seconds{I}", "{{instance}}")], {"thresholds": [(None, "green"), (120, "red")]}),
            ("Replica receiving WAL", "stat", "none", "On a replica: 1 while its WAL receiver streams from the primary; at 0 the lag above keeps growing.",
             [(f"pg_stat_wal_receiver_streaming{I}", "{{instance}}")], {"thresholds": [(None, "red"), (1, "green")]}),
            ("Archive backlog", "timeseries", "none", "WAL segments waiting to be archived (.ready files); the default rule warns when the oldest waits 30 minutes and the queue grows.",
             [(f"pg_archive_ready_files{I}", "{{instance}}")], {}),
            ("I/O by backend type", "timeseries", "Bps", "Bytes read and written per second by each kind of process (pg_stat_io, PostgreSQL 16 and later).",
             [(f"sum by (instance, backend_type) (rate(pg_stat_io_read_bytes_total{I}[5m]))", "{{instance}} {{backend_type}} read"),
              (f"sum by (instance, backend_type) (rate(pg_stat_io_write_bytes_total{I}[5m]))", "{{instance}} {{backend_type}} write")], {}),
            ("Buffer evictions", "timeseries", "ops", "Buffers evicted per second to make room (pg_stat_io, PostgreSQL 16 and later): memory pressure a good hit ratio can hide.",
             [(f"sum by (instance, backend_type) (rate(pg_stat_io_evictions_total{I}[5m]))", "{{instance}} {{backend_type}}")], {}),
            ("Sessions waiting for a lock", "timeseries", "none", "Sessions blocked behind another session's lock, and the longest wait.",
             [(f"sum by (instance) (pg_blocked_sessions{I})", "{{instance}} blocked"),
              (f"max by (instance) (pg_lock_wait_max_seconds{I})", "{{instance}} longest wait (s)")], {}),
        ],
    },
    "host-certificates-backups": {
        "title": "centinela / Host, certificates and backups",
        "panels": [
            ("Disk used", "timeseries", "percentunit", "Used share of each filesystem (df). The default rules warn at 80 % and page at 90 %.",
             [(f"1 - centinela_filesystem_avail_bytes{I} / centinela_filesystem_size_bytes{I}", "{{instance}} {{mountpoint}}")],
             {"thresholds": [(None, "green"), (0.8, "orange"), (0.9, "red")]}),
            ("Disk available", "timeseries", "bytes", "Bytes available per filesystem.",
             [(f"centinela_filesystem_avail_bytes{I}", "{{instance}} {{mountpoint}}")], {}),
            ("Memory available", "timeseries", "bytes", "MemAvailable (free -m's available). The seed warns below 1 GB.",
             [(f"centinela_memory_available_bytes{I}", "{{instance}}")], {"thresholds": [(None, "red"), (1073741824, "green")]}),
            ("Container memory against its limit", "timeseries", "percentunit", "cgroup v2 memory.current over memory.max: what the container is killed by.",
             [(f"centinela_cgroup_memory_current_bytes{I} / centinela_cgroup_memory_max_bytes{I}", "{{instance}}")],
             {"thresholds": [(None, "green"), (0.85, "orange")]}),
            ("CPU utilisation", "timeseries", "percentunit", "Share of CPU time not idle. The seed warns above 80 % for 5 minutes.",
             [(f"centinela_cpu_utilization_ratio{I}", "{{instance}}")], {"thresholds": [(None, "green"), (0.8, "orange")]}),
            ("Load", "timeseries", "none", "Load averages.",
             [(f"centinela_load1{I}", "{{instance}} 1m"), (f"centinela_load15{I}", "{{instance}} 15m")], {}),
            ("Certificates by days left", "table", "d", "Days until each certificate expires, soonest first. Replaces the weekly openssl x509 -enddate loop; coloured at 30, 7 and 0 days.",
             [(f"sort((centinela_cert_not_after_timestamp_seconds{I} - time()) / 86400)", "")],
             {"instant": True, "thresholds": [(None, "red"), (0, "orange"), (7, "yellow"), (30, "green")]}),
            ("Certificates that do not verify", "table", "none", "TLS endpoints whose chain would not verify, with the reason.",
             [(f"centinela_cert_verify_ok{I} == 0", "")], {"instant": True}),
            ("Certificate sources in error", "table", "none", "Certificate files or endpoints that could not be read.",
             [(f"centinela_cert_source_errors{I}", "")], {"instant": True}),
            ("Newest backup age", "timeseries", "s", "Age of the newest file of each backup set. Replaces ls -t /backups/daily | head -n1; the default rule pages after 26 h.",
             [(f"time() - centinela_backup_newest_timestamp_seconds{I}", "{{instance}} {{name}}")],
             {"thresholds": [(None, "green"), (93600, "red")]}),
            ("Newest backup valid", "stat", "none", "1 when the newest backup is non-empty with the right header.",
             [(f"centinela_backup_newest_valid{I}", "{{name}}")], {"thresholds": [(None, "red"), (1, "green")]}),
            ("pgBackRest: time since last backup", "table", "s", "Per stanza and type (full, diff, incr), from pgbackrest info.",
             [(f"time() - centinela_pgbackrest_last_backup_timestamp_seconds{I}", "")], {"instant": True}),
            ("Stale temp files", "timeseries", "none", "Files older than older_than matching the pattern. Replaces find /tmp -name dtem_* -mtime +1.",
             [(f"centinela_stale_files{I}", "{{instance}} {{name}}")], {}),
            ("Log errors today", "timeseries", "none", "Matching lines in today's log. Replaces grep -c ERROR app.log.$(date); the default rule warns above 10.",
             [(f"centinela_log_matches{I}", "{{instance}} {{name}}")], {"thresholds": [(None, "green"), (10, "orange")]}),
            ("Health URLs", "stat", "none", "1 while each probe answers below 400. Replaces curl -f http://localhost:3000/health.",
             [(f"centinela_probe_success{I}", "{{name}}")], {"thresholds": [(None, "red"), (1, "green")]}),
        ],
    },
    "redis": {
        "title": "centinela / Redis",
        "panels": [
            ("Redis up", "stat", "none", "redis_up: 1 while Redis answers PING. Replaces redis-cli ping and curl -f /health/redis.",
             [(f"redis_up{I}", "{{instance}}")], {"thresholds": [(None, "red"), (1, "green")]}),
            ("Memory against maxmemory", "timeseries", "percentunit", "used_memory over maxmemory (absent when no maxmemory is set). The default rule warns above 90 %.",
             [(f"redis_memory_used_bytes{I} / (redis_memory_max_bytes{I} > 0)", "{{instance}}")],
             {"thresholds": [(None, "green"), (0.9, "red")]}),
            ("Memory used", "timeseries", "bytes", "used_memory.", [(f"redis_memory_used_bytes{I}", "{{instance}}")], {}),
            ("Clients", "timeseries", "none", "Connected clients.", [(f"redis_connected_clients{I}", "{{instance}}")], {}),
            ("Evictions", "timeseries", "ops", "Keys evicted per second because of maxmemory.",
             [(f"rate(redis_evicted_keys_total{I}[5m])", "{{instance}}")], {}),
            ("Keys matching each pattern", "timeseries", "none", "SCAN-counted keys per pattern and database. Replaces redis-cli --scan --pattern temp:*.",
             [(f"redis_keys_count{I}", "{{instance}} {{db}} {{pattern}}")], {}),
            ("Partial key counts", "table", "none", "Patterns whose SCAN ran out of scan_budget: their counts are lower bounds.",
             [(f"centinela_redis_key_scan_complete{I} == 0", "")], {"instant": True}),
        ],
    },
    "centinela": {
        "title": "centinela / centinela itself",
        "panels": [
            ("Collectors up", "stat", "none", "1 when the collector's last run succeeded.",
             [(f"centinela_collector_up{I}", "{{instance}} {{collector}}")], {"thresholds": [(None, "red"), (1, "green")]}),
            ("Collector run time", "timeseries", "s", "How long each collector's last run took.",
             [(f"centinela_collector_duration_seconds{I}", "{{instance}} {{collector}}")], {}),
            ("Collector failures", "timeseries", "ops", "Failed runs per second, per collector.",
             [(f"rate(centinela_collector_errors_total{I}[5m])", "{{instance}} {{collector}}")], {}),
            ("Age of the last good data", "timeseries", "s", "Seconds since each collector last succeeded.",
             [(f"time() - centinela_collector_last_success_timestamp_seconds{I}", "{{instance}} {{collector}}")], {}),
            ("Series exported", "timeseries", "none", "Series of each collector's last run.",
             [(f"centinela_collector_series{I}", "{{instance}} {{collector}}")], {}),
            ("Share of database time", "timeseries", "percentunit",
             "centinela's share of the database's statement time (pg_stat_statements, its role) over the last hour, against its budget (postgres.cost_budget).",
             [(f"centinela_db_time_share{I}", "{{instance}} centinela"),
              (f"centinela_db_time_budget_ratio{I}", "{{instance}} budget")], {}),
            ("Custom queries up", "stat", "none",
             "1 when the custom query's last run in that database succeeded (postgres.query_files, [[postgres.queries]]); its reason for failing is in centinela's log.",
             [(f"centinela_custom_query_up{I}", "{{instance}} {{query}} {{datname}}")], {"thresholds": [(None, "red"), (1, "green")]}),
            ("Custom query run time", "timeseries", "s", "How long each custom query's last run took, against its timeout.",
             [(f"centinela_custom_query_duration_seconds{I}", "{{instance}} {{query}} {{datname}}")], {}),
            ("Databases skipped", "table", "none", "Databases whose tables could not be read in the last run.",
             [(f"centinela_pg_database_collect_success{I} == 0", "")], {"instant": True}),
            ("Tables summed into __other__", "timeseries", "none", "Tables beyond max_tables_per_database, per database.",
             [(f"centinela_pg_tables_aggregated{I}", "{{instance}} {{datname}}")], {}),
            ("Alerts by state and severity", "timeseries", "none",
             "Pending and firing alerts of the built-in engine by severity. Replaces the seeds' incident table (P0-P3).",
             [(f"sum by (instance, state, severity) (centinela_alerts{I})", "{{instance}} {{state}} {{severity}}")], {}),
            ("Firing alerts", "table", "none",
             "Alerts firing now as Prometheus evaluates the same rule pack (alert-rules/); the seeds' daily report, live.",
             [(f'ALERTS{{alertstate="firing",{IL}}}', "")], {"instant": True}),
            ("Notifications by receiver and outcome", "timeseries", "none",
             "Deliveries in the last hour: sent, failed (retried) or rejected (dropped). Replaces the seeds' mail to the team, which nobody checked.",
             [(f"sum by (instance, receiver, outcome) (increase(centinela_notifications_total{I}[1h]))", "{{instance}} {{receiver}} {{outcome}}")],
             {}),
            ("Notification queue", "timeseries", "none",
             "Notifications queued and not yet delivered, per receiver and integration; grows while Slack or PagerDuty is unreachable.",
             [(f"centinela_notification_queue_depth{I}", "{{instance}} {{receiver}} {{integration}}")],
             {"thresholds": [(None, "green"), (10, "orange")]}),
            ("Oldest queued notification", "timeseries", "s",
             "Age of the oldest undelivered notification; 0 when the queue is empty.",
             [(f"centinela_notification_queue_oldest_age_seconds{I}", "{{instance}} {{receiver}} {{integration}}")],
             {"thresholds": [(None, "green"), (300, "red")]}),
            ("Alerts held back", "timeseries", "none",
             "Firing alerts not notified because of maintenance mode, a silence or an inhibition rule.",
             [(f"centinela_alerts_held_back{I}", "{{instance}} {{reason}}")], {}),
            ("Rule group evaluation time", "timeseries", "s", "How long each rule group's last evaluation took.",
             [(f"centinela_rule_group_duration_seconds{I}", "{{instance}} {{group}}")], {}),
            ("Alerting history", "timeseries", "none", "Points held for range functions (capped by history_max_points).",
             [(f"centinela_alerting_history_points{I}", "{{instance}}")], {}),
        ],
    },
}

# Panels that may return nothing, with the reason (checked by tests/it/dashboards.rs).
ALLOWED_EMPTY = {
    "Reindex candidates": "needs an index over 100 MB with more than 1000 scans on a bloated table",
    "Time since last WAL archive": "absent while archiving is off or nothing was archived yet",
    "Replication lag": "exported on replicas only",
    "Standbys: bytes behind": "needs a primary with a standby",
    "Standbys: replay lag": "needs a primary with a standby",
    "Replica receiving WAL": "exported on replicas only",
    "Container memory against its limit": "absent outside a memory-limited cgroup v2 container",
    "pgBackRest: time since last backup": "needs a pgBackRest stanza",
    "Memory against maxmemory": "absent while Redis has no maxmemory",
    "Partial key counts": "empty while every SCAN finishes within its budget",
    "Databases skipped": "empty while every database is read",
    "On disk, not in force": "empty while every file on disk is what the server runs",
    "Server log events": "needs postgres.server_log and a classified message in the last hour",
    "Heartbeat age": "needs postgres.heartbeat_table",
    "Who holds the xmin horizon": "empty while no session, prepared transaction, slot or standby holds an xmin",
    "Certificate sources in error": "empty while every certificate source is readable",
}


def thresholds(steps):
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def panel(pid, x, y, title, kind, unit, description, targets, extra):
    defaults = {"unit": unit}
    if "thresholds" in extra:
        defaults["thresholds"] = thresholds(extra["thresholds"])
        if kind == "timeseries":
            defaults["custom"] = {"thresholdsStyle": {"mode": "line"}}
        else:
            defaults["color"] = {"mode": "thresholds"}
    p = {
        "id": pid,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {},
        "targets": [],
    }
    for i, (expr, legend) in enumerate(targets):
        t = {"refId": chr(ord("A") + i), "datasource": {"type": "prometheus", "uid": "${datasource}"}, "expr": expr}
        if extra.get("instant"):
            t.update({"instant": True, "range": False, "format": "table"})
        else:
            t["legendFormat"] = legend
        p["targets"].append(t)
    if kind == "table":
        p["transformations"] = [{"id": "organize", "options": {"excludeByName": {"Time": True, "__name__": True, "job": True}}}]
    return p


def dashboard(uid, spec):
    panels = []
    for i, args in enumerate(spec["panels"]):
        panels.append(panel(i + 1, (i % 2) * 12, (i // 2) * 8, *args))
    return {
        "uid": f"centinela-{uid}",
        "title": spec["title"],
        "tags": ["centinela", "postgresql"],
        "timezone": "",
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
                 "current": {}, "hide": 0, "refresh": 1},
                {"name": "instance", "label": "Instance", "type": "query",
                 "datasource": {"type": "prometheus", "uid": "${datasource}"},
                 "definition": "label_values(centinela_build_info, instance)",
                 "query": {"query": "label_values(centinela_build_info, instance)", "refId": "instance"},
                 "includeAll": True, "multi": True, "allValue": ".+", "current": {}, "refresh": 2, "sort": 1},
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


def main():
    check = "--check" in sys.argv
    stale = []
    titles = set()
    for uid, spec in DASHBOARDS.items():
        for p in spec["panels"]:
            assert p[0] not in titles, f"duplicate panel title {p[0]}"
            titles.add(p[0])
            assert all(IL in e for e, _ in p[4]), f"{p[0]}: every query must filter on $instance"
        text = json.dumps(dashboard(uid, spec), indent=2) + "\n"
        path = HERE / f"{uid}.json"
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    unknown = set(ALLOWED_EMPTY) - titles
    assert not unknown, f"ALLOWED_EMPTY names unknown panels: {unknown}"
    allowed = HERE / "allowed-empty.json"
    allowed_text = json.dumps(ALLOWED_EMPTY, indent=2, sort_keys=True) + "\n"
    if check:
        if not allowed.exists() or allowed.read_text() != allowed_text:
            stale.append(allowed.name)
    else:
        allowed.write_text(allowed_text)
    if check and stale:
        print("out of date (run python3 dashboards/generate.py): " + ", ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
