//! Throw-away PostgreSQL clusters from the installed server binaries.
//!
//! `initdb` runs once per machine and server build into a template under the test temp
//! directory; each cluster is a copy of it on a free port, owned by the test and removed on
//! drop. As root (CI), the server binaries run as the `postgres` user, since PostgreSQL
//! refuses root. [`PgCluster::start`] uses the newest Debian server; [`PgCluster::start_major`]
//! a build of the version matrix (`scripts/pg-versions.txt`).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

use sqlx::Connection as _;

/// Password of the `postgres` superuser over TCP (scram-sha-256), so tests can check that
/// it never leaks.
pub const SUPERUSER_PASSWORD: &str = "s3cret-Pw-4-tests";

pub struct PgCluster {
    dir: tempfile::TempDir,
    pub port: u16,
    inst: &'static Installation,
}

pub struct Installation {
    bin: PathBuf,
    /// `Some(user)` when running as root.
    run_as: Option<(String, u32, u32)>,
    template: PathBuf,
    version: String,
}

/// The newest Debian server (or the one on PATH).
fn installation() -> &'static Installation {
    static DEFAULT: OnceLock<&'static Installation> = OnceLock::new();
    DEFAULT.get_or_init(|| {
        let bin = find_bin_dir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in \
                 /usr/lib/postgresql/*/bin or PATH: run scripts/test.sh, which installs them"
            )
        });
        installation_at(&bin)
    })
}

/// The server build of major version `major` from `scripts/pg-versions.txt`, installed by
/// `scripts/pg-builds.sh` (which this runs: it returns at once when the build is there).
pub fn installation_of(major: u32) -> &'static Installation {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target directory")
        .to_path_buf();
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg-builds.sh"))
        .arg(major.to_string())
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("run scripts/pg-builds.sh");
    assert!(
        out.status.success(),
        "scripts/pg-builds.sh {major} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let bin = stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{major} ")))
        .unwrap_or_else(|| panic!("PostgreSQL {major} is not in scripts/pg-versions.txt"));
    installation_at(Path::new(bin))
}

/// The installation in `bin`, its template made once per process and version.
fn installation_at(bin: &Path) -> &'static Installation {
    static ALL: OnceLock<Mutex<HashMap<PathBuf, &'static Installation>>> = OnceLock::new();
    let mut all = ALL.get_or_init(Default::default).lock().unwrap();
    if let Some(inst) = all.get(bin) {
        return inst;
    }
    let inst: &'static Installation = Box::leak(Box::new(Installation::new(bin.to_path_buf())));
    all.insert(bin.to_path_buf(), inst);
    inst
}

impl Installation {
    fn new(bin: PathBuf) -> Self {
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
        // "postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)": the word after the name.
        let version = String::from_utf8_lossy(
            &Command::new(bin.join("postgres"))
                .arg("--version")
                .output()
                .expect("postgres --version")
                .stdout,
        )
        .split_whitespace()
        .skip_while(|w| *w != "(PostgreSQL)")
        .nth(1)
        .unwrap_or("unknown")
        .to_owned();
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let template = base.join(format!("pg-template-{version}"));
        let inst = Installation {
            bin,
            run_as,
            template: template.clone(),
            version,
        };
        if !template.join("PG_VERSION").exists() {
            let staging = base.join(format!(
                "pg-template-{}.{}",
                inst.version,
                std::process::id()
            ));
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
    }

    /// The server's version, as `postgres --version` prints it (`17.10`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The server's version as `server_version_num` gives it (`170010`).
    pub fn version_num(&self) -> i32 {
        let mut parts = self
            .version
            .split(['.', 'b', 'r'])
            .map(|p| p.parse::<i32>().unwrap_or(0));
        let major = parts.next().unwrap_or(0);
        major * 10_000 + parts.next().unwrap_or(0)
    }
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
fn copy_of(inst: &Installation, from: &Path, prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    inst.own(dir.path());
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
    /// A new running cluster of the newest Debian server, with the superuser `postgres`.
    pub fn start() -> Self {
        Self::start_with(installation(), "")
    }

    /// A new running cluster of the newest Debian server with `settings` added to its
    /// configuration.
    pub fn start_configured(settings: &str) -> Self {
        Self::start_with(installation(), settings)
    }

    /// A new running cluster of the newest major of the version matrix.
    pub fn start_newest() -> Self {
        let newest = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/pg-versions.txt"
        ))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next()?.parse::<u32>().ok())
        .max()
        .expect("scripts/pg-versions.txt lists a version");
        Self::start_major(newest, "")
    }

    /// A new running cluster of the matrix's `major` build, with `settings` added to its
    /// configuration.
    pub fn start_major(major: u32, settings: &str) -> Self {
        Self::start_with(installation_of(major), settings)
    }

    fn start_with(inst: &'static Installation, settings: &str) -> Self {
        let dir = copy_of(inst, &inst.template, "centinela-pg");
        let cluster = Self {
            dir,
            port: free_port(),
            inst,
        };
        if !settings.is_empty() {
            use std::io::Write as _;
            let mut conf = std::fs::OpenOptions::new()
                .append(true)
                .open(cluster.data().join("postgresql.conf"))
                .unwrap();
            writeln!(conf, "{settings}").unwrap();
        }
        cluster.start_server();
        cluster
    }

    /// The server build this cluster runs.
    pub fn installation(&self) -> &'static Installation {
        self.inst
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start_server(&self) {
        let inst = self.inst;
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
        let out = self.inst.run(
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
        let inst = self.inst;
        let dir = copy_of(inst, &self.data(), "centinela-pg-replica");
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
            inst,
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
        let mut cmd = match &self.inst.run_as {
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
        self.inst.own(path);
    }

    /// Turns TLS on with the given certificate and key (PEM), as server.crt / server.key.
    pub async fn enable_ssl(&self, cert_pem: &str, key_pem: &str) {
        use std::os::unix::fs::PermissionsExt as _;
        for (name, data) in [("server.crt", cert_pem), ("server.key", key_pem)] {
            let path = self.data().join(name);
            std::fs::write(&path, data).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            self.inst.own(&path);
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
        let _ = self.inst.run(
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
