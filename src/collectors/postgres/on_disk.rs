//! What is on disk against what the server runs with: the certificate in `ssl_cert_file`
//! against the one the server presents (rotated but not reloaded), configuration files
//! changed since the last reload, and the errors a reload would meet in them
//! (`pg_file_settings`, `pg_hba_file_rules`, readable by a superuser or when granted).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use super::spec::Ctx;
use super::PgError;
use crate::collectors::certs;
use crate::metrics::{labels, Batch};

crate::metrics! {
    CERT_DIFFERS: "pg_ssl_cert_file_differs", Gauge, [],
        "1 when the certificate in ssl_cert_file is not the one the server presents (it was replaced and the server not reloaded), 0 when it is. Absent while ssl is off, or when centinela cannot read the file or reach the server over TCP.";
    CERT_FILE_NOT_AFTER: "pg_ssl_cert_file_not_after_timestamp_seconds", Gauge, [],
        "When the certificate in ssl_cert_file expires (unix seconds); absent when centinela cannot read it.";
    RELOAD_PENDING: "pg_config_reload_pending", Gauge, ["file"],
        "1 when the configuration file (postgresql.conf, postgresql.auto.conf, pg_hba.conf, pg_ident.conf) changed after the server last loaded its configuration (pg_conf_load_time), 0 when not. Absent when centinela can neither see the file nor stat it through the server (pg_stat_file: superuser or pg_read_server_files).";
    FILE_ERRORS: "pg_config_file_errors", Gauge, ["file"],
        "Entries of the configuration file that cannot be applied (pg_file_settings.error), which the next reload would skip. Absent unless the session may read pg_file_settings (a superuser, or granted).";
    HBA_ERRORS: "pg_hba_file_rule_errors", Gauge, [],
        "Lines of pg_hba.conf that do not parse (pg_hba_file_rules.error): a reload keeps the old rules, a restart fails. Absent unless the session may read pg_hba_file_rules.";
}

/// How often the served certificate is read.
const RECHECK: Duration = Duration::from_secs(300);

/// Files, their modification time as the server sees it when it may (NULL otherwise), the
/// last load time, and the TLS settings.
const FILES: &str = "
SELECT f.file, f.path,
       CASE WHEN pg_has_role(current_user, 'pg_read_server_files', 'MEMBER')
            THEN extract(epoch FROM (pg_stat_file(f.path, true)).modification)::float8 END,
       extract(epoch FROM pg_conf_load_time())::float8,
       current_setting('ssl') = 'on', current_setting('ssl_cert_file'),
       current_setting('data_directory')
FROM (VALUES ('postgresql.conf', current_setting('config_file')),
             ('postgresql.auto.conf', current_setting('data_directory') || '/postgresql.auto.conf'),
             ('pg_hba.conf', current_setting('hba_file')),
             ('pg_ident.conf', current_setting('ident_file'))) AS f(file, path)";

/// Whether the session may read the views of what a reload would apply.
const READABLE: &str = "
SELECT has_table_privilege('pg_file_settings', 'SELECT'),
       has_table_privilege('pg_hba_file_rules', 'SELECT')";

/// Errors per configuration file.
const FILE_SETTINGS: &str = "
SELECT coalesce(sourcefile, ''), count(*) FILTER (WHERE error IS NOT NULL)::float8
FROM pg_file_settings GROUP BY 1";

/// Lines of `pg_hba.conf` that do not parse.
const HBA: &str = "SELECT count(*) FILTER (WHERE error IS NOT NULL)::float8 FROM pg_hba_file_rules";

/// Reads the files' state and, where it can, compares the certificates.
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    type Row = (String, String, Option<f64>, f64, bool, String, String);
    let rows: Vec<Row> = cx.rows_as("on_disk", FILES).await?;
    let mut b = Batch::default();
    let Some((_, _, _, _, ssl, cert_file, data_dir)) = rows.first().cloned() else {
        return Ok(None);
    };
    for (file, path, server_mtime, loaded, ..) in &rows {
        let mtime = match local_mtime(Path::new(path)) {
            Some(t) => Some(t),
            None => *server_mtime,
        };
        if let Some(t) = mtime {
            let pending = t > *loaded;
            b.push(&RELOAD_PENDING, labels([("file", file)]), if pending { 1.0 } else { 0.0 });
        }
    }
    let readable: Vec<(bool, bool)> = cx.rows_as("on_disk_readable", READABLE).await?;
    let (settings, hba) = readable.first().copied().unwrap_or_default();
    if settings {
        let errors: Vec<(String, f64)> = cx.rows_as("pg_file_settings", FILE_SETTINGS).await?;
        for (path, n) in &errors {
            let file = Path::new(path)
                .file_name()
                .map_or_else(|| path.clone(), |f| f.to_string_lossy().into_owned());
            b.push(&FILE_ERRORS, labels([("file", &file)]), *n);
        }
    }
    if hba {
        let errors: Vec<(f64,)> = cx.rows_as("pg_hba_file_rules", HBA).await?;
        if let Some((n,)) = errors.first() {
            b.set(&HBA_ERRORS, *n);
        }
    }
    if ssl {
        let path = PathBuf::from(&data_dir).join(&cert_file);
        if let Some(on_disk) = cert_on_disk(&path) {
            // Unix seconds are far below 2^52.
            #[allow(clippy::cast_precision_loss)]
            b.set(&CERT_FILE_NOT_AFTER, on_disk.not_after as f64);
            // The handshake runs at most every 5 minutes, like the certs collector's, and
            // at once when the file changes; in between, the last answer stands.
            let loaded = rows.first().map_or(0.0, |r| r.3);
            let changed = cx.history.last("cert_file_serial_hash") != Some(hash(&on_disk))
                || cx.history.last("conf_load_time") != Some(loaded);
            if let Some(endpoint) = cx.served_tls {
                if changed || cx.history.due("served_cert", RECHECK) {
                    let differs = served(endpoint).await.map(|s| if s == on_disk { 0.0 } else { 1.0 });
                    cx.history.record("served_cert", differs);
                    cx.history.record("cert_file_serial_hash", Some(hash(&on_disk)));
                    cx.history.record("conf_load_time", Some(loaded));
                }
                if let Some(d) = cx.history.last("served_cert") {
                    b.set(&CERT_DIFFERS, d);
                }
            }
        }
    }
    Ok(Some(b))
}

/// A number that changes with the certificate (its serial and end), to notice a new file.
fn hash(c: &certs::CertInfo) -> f64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&c.serial, c.not_after).hash(&mut h);
    #[allow(clippy::cast_precision_loss)]
    let v = (h.finish() >> 12) as f64;
    v
}

/// Modification time of a file centinela can see (unix seconds).
fn local_mtime(path: &Path) -> Option<f64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(modified.duration_since(UNIX_EPOCH).ok()?.as_secs_f64())
}

/// The first certificate of the PEM file at `path` (read when it is small, as certificate
/// files are).
fn cert_on_disk(path: &Path) -> Option<certs::CertInfo> {
    let data = crate::bounded::read(path, 1 << 20).ok()?;
    certs::parse_certs(&data).ok()?.into_iter().next()
}

/// The leaf certificate the server presents, if it offers TLS and answers in time.
async fn served(endpoint: &certs::Endpoint) -> Option<certs::CertInfo> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = tokio::time::timeout(
        Duration::from_secs(5),
        certs::presented(endpoint, provider, None),
    )
    .await
    .ok()?
    .ok()??;
    chain.0.into_iter().next()
}
