//! Who the server is, read first on every run: version, role, start time, and what this
//! session may read. Also the collector's own figures (`pg_up`, one `up` per view).

use sqlx::postgres::PgConnection;

use super::spec::Server;
use super::PgError;
use crate::metrics::{labels, Batch};

crate::metrics! {
    PG_UP: "pg_up", Gauge, [],
        "1 if PostgreSQL answered the last collection, 0 if it could not be reached.";
    PG_STATIC: "pg_static", Gauge, ["version", "short_version"],
        "Always 1; labels carry the server version (postgres_exporter compatible).";
    PG_START_TIME: "pg_postmaster_start_time_seconds", Gauge, [],
        "When the PostgreSQL server started (unix seconds).";
    PG_IS_REPLICA: "pg_replication_is_replica", Gauge, [],
        "1 if the server is in recovery (a replica), 0 on a primary.";
    PG_LAST_SCRAPE_ERROR: "pg_exporter_last_scrape_error", Gauge, [],
        "1 if the last collection, or one of its views, failed; 0 if every view was read (postgres_exporter's name).";
    VIEW_UP: "centinela_pg_view_up", Gauge, ["view"],
        "1 if the view was read in the last collection, 0 if reading it failed (its series are missing until it is read again; the error is logged once). Views the server's version or role lacks are not listed.";
}

/// Version, role, start time and privileges in one round trip. The privilege checks look
/// the function up first, so a server without it answers false instead of an error.
const IDENTITY: &str = "
SELECT current_setting('server_version_num')::int4,
       current_setting('server_version'),
       extract(epoch FROM pg_postmaster_start_time())::float8,
       pg_is_in_recovery(),
       coalesce(CASE WHEN current_setting('server_version_num')::int4 >= 150000
         THEN has_function_privilege(
                to_regprocedure('pg_catalog.pg_ls_archive_statusdir()')::oid, 'EXECUTE')
         ELSE has_function_privilege(
                to_regprocedure('pg_catalog.pg_ls_dir(text,boolean,boolean)')::oid, 'EXECUTE')
          AND has_function_privilege(
                to_regprocedure('pg_catalog.pg_stat_file(text,boolean)')::oid, 'EXECUTE')
       END, false),
       to_regclass('pg_stat_statements') IS NOT NULL,
       current_setting('shared_preload_libraries')";

/// Reads the server's identity; the batch holds `pg_up 1` and the identity series.
pub async fn identity(conn: &mut PgConnection) -> Result<(Server, Batch), PgError> {
    type Row = (i32, String, f64, bool, bool, bool, String);
    let (version_num, version, started, replica, reads_archive_status, pgss, preload): Row =
        sqlx::query_as(IDENTITY)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| PgError::query("identity", &e))?;
    let mut b = Batch::default();
    b.set(&PG_UP, 1.0);
    let short = version.split_whitespace().next().unwrap_or(&version);
    b.push(
        &PG_STATIC,
        labels([("version", &version), ("short_version", short)]),
        1.0,
    );
    b.set(&PG_START_TIME, started);
    b.set(&PG_IS_REPLICA, if replica { 1.0 } else { 0.0 });
    let server = Server {
        version: version_num,
        replica,
        started,
        reads_archive_status,
        reads_statements: pgss && super::tables::preloaded(&preload),
    };
    Ok((server, b))
}
