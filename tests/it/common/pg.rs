//! Throw-away PostgreSQL clusters from the installed server binaries.
//!
//! `initdb` runs once per machine into a template under the test temp directory; each
//! cluster is a copy of it on a free port, owned by the test and removed on drop. As root
//! (CI), the server binaries run as the `postgres` user, since PostgreSQL refuses root.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use sqlx::Connection as _;

/// Password of the `postgres` superuser over TCP (scram-sha-256), so tests can check that
/// it never leaks.
pub const SUPERUSER_PASSWORD: &str = "s3cret-Pw-4-tests";

pub struct PgCluster {
    dir: tempfile::TempDir,
    pub port: u16,
}

struct Installation {
    bin: PathBuf,
    /// `Some(user)` when running as root.
    run_as: Option<(String, u32, u32)>,
    template: PathBuf,
}

fn installation() -> &'static Installation {
    static INSTALL: OnceLock<Installation> = OnceLock::new();
    INSTALL.get_or_init(|| {
        let bin = find_bin_dir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in \
                 /usr/lib/postgresql/*/bin or PATH: run scripts/test.sh, which installs them"
            )
        });
        let run_as = if std::fs::metadata("/proc/self").map_or(1, |m| m.uid()) == 0 {
            let out = Command::new("id")
                .args(["-u", "postgres"])
                .output()
                .expect("run id");
            let uid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().expect(
                "running as root needs a 'postgres' user (installed with the postgresql package)",
            );
            let out = Command::new("id")
                .args(["-g", "postgres"])
                .output()
                .expect("run id");
            let gid: u32 = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("gid of postgres");
            Some(("postgres".to_owned(), uid, gid))
        } else {
            None
        };
        let version = String::from_utf8_lossy(
            &Command::new(bin.join("postgres"))
                .arg("--version")
                .output()
                .expect("postgres --version")
                .stdout,
        )
        .split_whitespace()
        .last()
        .unwrap_or("unknown")
        .to_owned();
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let template = base.join(format!("pg-template-{version}"));
        let inst = Installation {
            bin,
            run_as,
            template: template.clone(),
        };
        if !template.join("PG_VERSION").exists() {
            let staging = base.join(format!("pg-template-{version}.{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&staging);
            std::fs::create_dir_all(&staging).unwrap();
            inst.own(&staging);
            let pwfile = staging.join("pw");
            std::fs::write(&pwfile, SUPERUSER_PASSWORD).unwrap();
            inst.own(&pwfile);
            let data = staging.join("data");
            let out = inst.run(
                "initdb",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    &format!("--pwfile={}", pwfile.display()),
                ],
            );
            assert!(
                out.status.success(),
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let mut conf = std::fs::OpenOptions::new()
                .append(true)
                .open(data.join("postgresql.conf"))
                .unwrap();
            use std::io::Write as _;
            writeln!(
                conf,
                "listen_addresses = '127.0.0.1'\nfsync = off\nsynchronous_commit = off\n\
                 full_page_writes = off\nshared_preload_libraries = 'pg_stat_statements'\n\
                 max_connections = 60\nshared_buffers = 16MB\nlog_min_messages = warning"
            )
            .unwrap();
            // Another test process may have won the race; either template is fine.
            if std::fs::rename(&data, &template).is_err() {
                let _ = std::fs::remove_dir_all(&data);
            }
            let _ = std::fs::remove_dir_all(&staging);
        }
        inst
    })
}

fn find_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b).or_else(|| {
        let out = Command::new("sh")
            .args(["-c", "command -v initdb"])
            .output()
            .ok()?;
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        p.parent()
            .map(Path::to_path_buf)
            .filter(|_| out.status.success())
    })
}

impl Installation {
    fn own(&self, path: &Path) {
        if let Some((_, uid, gid)) = &self.run_as {
            std::os::unix::fs::chown(path, Some(*uid), Some(*gid)).unwrap();
        }
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(tool);
        let mut cmd = match &self.run_as {
            Some((user, _, _)) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()))
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh directory owned by the server's user, holding a copy of the data directory
/// `from` as `data`.
fn copy_of(from: &Path, prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    installation().own(dir.path());
    let out = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "copying {} failed: {}",
        from.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

impl PgCluster {
    /// A new running cluster with the superuser `postgres`.
    pub fn start() -> Self {
        let dir = copy_of(&installation().template, "centinela-pg");
        let cluster = Self {
            dir,
            port: free_port(),
        };
        cluster.start_server();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start_server(&self) {
        let inst = installation();
        let opts = format!("-p {} -k {}", self.port, self.dir.path().display());
        let log = self.dir.path().join("server.log");
        let out = inst.run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "-o",
                &opts,
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops the server (fast shutdown: sessions are disconnected).
    pub fn stop(&self) {
        let out = installation().run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server again on the same port.
    pub fn restart(&self) {
        self.start_server();
    }

    /// A streaming replica of this cluster, on its own port, through a physical slot. Without
    /// `pg_basebackup` (not every server build has it) the replica is a copy of this
    /// cluster's cleanly stopped data directory with `standby.signal` and the primary's
    /// address; this cluster is restarted.
    pub async fn replica(&self) -> PgCluster {
        self.replica_with("").await
    }

    /// [`PgCluster::replica`] with extra settings for the replica's own configuration.
    pub async fn replica_with(&self, settings: &str) -> PgCluster {
        self.exec(
            "postgres",
            "SELECT pg_create_physical_replication_slot('centinela_test')",
        )
        .await;
        self.stop();
        let inst = installation();
        let dir = copy_of(&self.data(), "centinela-pg-replica");
        let data = dir.path().join("data");
        for stale in ["postmaster.pid", "postmaster.opts"] {
            let _ = std::fs::remove_file(data.join(stale));
        }
        let signal = data.join("standby.signal");
        std::fs::write(&signal, "").unwrap();
        inst.own(&signal);
        let mut auto = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.auto.conf"))
            .unwrap();
        use std::io::Write as _;
        writeln!(
            auto,
            "primary_conninfo = 'host={} port={} user=postgres application_name=replica'\n\
             primary_slot_name = 'centinela_test'\n{settings}",
            self.dir.path().display(),
            self.port
        )
        .unwrap();
        self.start_server();
        let replica = PgCluster {
            dir,
            port: free_port(),
        };
        replica.start_server();
        replica
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data()
    }

    /// What the server has logged so far.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The cluster's private directory (its Unix socket lives here).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs a program as the cluster's owner (the `postgres` user when the tests run as root).
    pub fn run_as_owner(&self, program: &str, args: &[&str]) -> Output {
        let mut cmd = match &installation().run_as {
            Some((user, _, _)) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", program]);
                c
            }
            None => Command::new(program),
        };
        cmd.args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
    }

    /// Makes `path` belong to the cluster's owner.
    pub fn give(&self, path: &Path) {
        installation().own(path);
    }

    /// Turns TLS on with the given certificate and key (PEM), as server.crt / server.key.
    pub async fn enable_ssl(&self, cert_pem: &str, key_pem: &str) {
        use std::os::unix::fs::PermissionsExt as _;
        for (name, data) in [("server.crt", cert_pem), ("server.key", key_pem)] {
            let path = self.data().join(name);
            std::fs::write(&path, data).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            installation().own(&path);
        }
        self.exec(
            "postgres",
            "ALTER SYSTEM SET ssl = 'on'; SELECT pg_reload_conf()",
        )
        .await;
    }

    /// Superuser URL with the password, for `database`.
    pub fn dsn(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }

    pub fn dsn_as(&self, user: &str, password: &str, database: &str) -> String {
        format!(
            "postgres://{user}:{password}@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }

    pub async fn connect(&self, database: &str) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(&self.dsn(database))
            .await
            .expect("connect to test cluster")
    }

    /// Runs `;`-separated statements one by one in one session (each in its own
    /// transaction, so VACUUM and CREATE DATABASE work), then closes it, which flushes the
    /// session's statistics.
    pub async fn exec(&self, database: &str, sql: &str) {
        let mut c = self.connect(database).await;
        for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            sqlx::raw_sql(stmt)
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| panic!("{stmt}: {e}"));
        }
        c.close().await.unwrap();
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = installation().run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}
