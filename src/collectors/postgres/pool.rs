//! The sessions centinela opens to PostgreSQL: never more than `max_connections`.
//!
//! Sessions to the home database (the DSN's) are kept open between runs and reused; when
//! both collectors ran at once, both stay open (within the cap). Sessions to other
//! databases are opened for one visit. Every session is closed politely (Terminate), so
//! the server logs no lost client; only one whose connection broke is dropped. Every
//! session carries
//! `application_name`, `statement_timeout` and `lock_timeout` in its startup packet, so they
//! are in force before the first query runs. sqlx's pool is per database, so it cannot
//! enforce one cap across databases; this small set can.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection as _;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::PgError;
use crate::sync::lock;

/// Shortest and longest wait before connecting again after a failure.
const BACKOFF_MIN: Duration = Duration::from_secs(1);

/// At most `max_connections` sessions over every database, with one kept open.
#[derive(Debug)]
pub struct PgConnections {
    options: PgConnectOptions,
    permits: Arc<Semaphore>,
    /// Healthy home sessions not in use, newest last.
    idle: Mutex<Vec<(PgConnection, OwnedSemaphorePermit)>>,
    /// Signalled when a session goes idle, so a waiter can use it (an idle session keeps
    /// its permit, so waiting on the semaphore alone would never see it).
    returned: Notify,
    /// Per database, so one database refusing connections does not hold back the others.
    backoff: Mutex<HashMap<String, Backoff>>,
    backoff_max: Duration,
    connect_timeout: Duration,
}

#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<String>,
}

/// A session in use. `release` returns a healthy home session for reuse; dropping it closes
/// the session (a run that timed out may have left it mid-query).
#[derive(Debug)]
pub struct PgSession<'a> {
    /// The connection.
    pub conn: PgConnection,
    permit: OwnedSemaphorePermit,
    home: bool,
    owner: &'a PgConnections,
}

impl PgSession<'_> {
    /// After a run whose session is healthy: a home session is kept for the next run; a
    /// session to another database is closed politely (Terminate), so the server does not
    /// log a lost client.
    pub async fn release(self) {
        if self.home {
            lock(&self.owner.idle).push((self.conn, self.permit));
            self.owner.returned.notify_one();
        } else {
            close(self.conn).await;
        }
    }
}

impl PgConnections {
    /// `backoff_max` is kept below the collector interval, so a server that comes back is
    /// reconnected to at the next run.
    pub fn new(options: PgConnectOptions, max_connections: u32, backoff_max: Duration) -> Self {
        Self {
            options,
            permits: Arc::new(Semaphore::new(max_connections as usize)),
            idle: Mutex::new(Vec::new()),
            returned: Notify::new(),
            backoff: Mutex::new(HashMap::new()),
            backoff_max: backoff_max.max(BACKOFF_MIN),
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// The connection settings.
    pub fn options(&self) -> &PgConnectOptions {
        &self.options
    }

    /// A session to the home database, reusing an idle one if it still answers.
    pub async fn home(&self) -> Result<PgSession<'_>, PgError> {
        let (conn, permit) = match self.slot(true).await? {
            Slot::Idle(mut conn, permit) => {
                if conn.ping().await.is_ok() {
                    (conn, permit)
                } else {
                    // The server restarted or dropped us: connect afresh with the same permit.
                    drop(conn);
                    (self.connect(self.options.clone(), "").await?, permit)
                }
            }
            Slot::Free(permit) => (self.connect(self.options.clone(), "").await?, permit),
        };
        Ok(PgSession {
            conn,
            permit,
            home: true,
            owner: self,
        })
    }

    /// A session to another database, closed when dropped.
    pub async fn database(&self, datname: &str) -> Result<PgSession<'_>, PgError> {
        let permit = match self.slot(false).await? {
            Slot::Free(permit) => permit,
            Slot::Idle(conn, permit) => {
                close(conn).await;
                permit
            }
        };
        let conn = self
            .connect(self.options.clone().database(datname), datname)
            .await?;
        Ok(PgSession {
            conn,
            permit,
            home: false,
            owner: self,
        })
    }

    /// Waits for a place: an idle home session (the newest, if `reuse`), or a free slot. A
    /// caller that cannot reuse one closes the oldest idle session for its slot (with
    /// `max_connections` = 1 the runs share it). Sessions going idle wake the waiters.
    async fn slot(&self, reuse: bool) -> Result<Slot, PgError> {
        loop {
            let returned = self.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            if reuse {
                if let Some((conn, permit)) = lock(&self.idle).pop() {
                    return Ok(Slot::Idle(conn, permit));
                }
            }
            if let Ok(p) = Arc::clone(&self.permits).try_acquire_owned() {
                return Ok(Slot::Free(p));
            }
            if !reuse {
                let idle = {
                    let mut idle = lock(&self.idle);
                    (!idle.is_empty()).then(|| idle.remove(0))
                };
                if let Some((conn, permit)) = idle {
                    close(conn).await;
                    return Ok(Slot::Free(permit));
                }
            }
            tokio::select! {
                p = Arc::clone(&self.permits).acquire_owned() => {
                    return p.map(Slot::Free).map_err(|_| PgError::Closed);
                }
                () = &mut returned => {}
            }
        }
    }

    /// `key` names the database for the backoff ("" for the home database).
    async fn connect(&self, options: PgConnectOptions, key: &str) -> Result<PgConnection, PgError> {
        if let Some((wait, last)) = self.backoff_remaining(key) {
            return Err(PgError::Backoff { wait, last });
        }
        let result =
            tokio::time::timeout(self.connect_timeout, PgConnection::connect_with(&options))
                .await
                .map_err(|_| PgError::ConnectTimeout(self.connect_timeout))
                .and_then(|r| r.map_err(|e| PgError::connect(&e)));
        let mut all = lock(&self.backoff);
        match &result {
            Ok(_) => {
                all.remove(key);
            }
            Err(e) => {
                let backoff = all.entry(key.to_owned()).or_default();
                backoff.failures += 1;
                let exp = BACKOFF_MIN.saturating_mul(1 << backoff.failures.min(10));
                backoff.retry_at = Some(Instant::now() + exp.min(self.backoff_max));
                backoff.last_error = Some(e.to_string());
            }
        }
        result
    }

    /// Closes the idle sessions politely (at shutdown).
    pub async fn close_idle(&self) {
        let idle = std::mem::take(&mut *lock(&self.idle));
        for (conn, _permit) in idle {
            close(conn).await;
        }
    }

    fn backoff_remaining(&self, key: &str) -> Option<(Duration, String)> {
        let all = lock(&self.backoff);
        let b = all.get(key)?;
        let wait = b.retry_at?.checked_duration_since(Instant::now())?;
        Some((wait, b.last_error.clone().unwrap_or_default()))
    }
}

/// Where a new session goes.
enum Slot {
    /// An idle home session, with its permit.
    Idle(PgConnection, OwnedSemaphorePermit),
    /// A permit for a new session.
    Free(OwnedSemaphorePermit),
}

/// Ends a session with Terminate; the outcome does not matter, the slot is free either way.
async fn close(conn: PgConnection) {
    let _closed = tokio::time::timeout(Duration::from_secs(1), conn.close()).await;
}
