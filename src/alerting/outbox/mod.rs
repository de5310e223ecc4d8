//! The durable part of alerting: an SQLite database in `state_dir` holding the alert
//! state, the notification log and the outbox of messages not yet delivered. One
//! transaction per evaluation writes state and new messages together, so a crash either
//! loses both (the next evaluation redoes them) or keeps both (they are delivered).

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row as _;

use super::model::Outgoing;

/// The database file in `state_dir`.
pub const FILE_NAME: &str = "centinela.db";

/// Why the state database failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The cause is in the text (no `#[source]`), so a chain prints it once.
    #[error("cannot create state_dir {path}: {error}")]
    CreateDir {
        /// The directory.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// The database cannot be opened or set up.
    #[error("cannot open {path}: {error}")]
    Open {
        /// The database file.
        path: String,
        /// Why.
        error: sqlx::Error,
    },
    /// The database opened, but its integrity check failed.
    #[error("{path} is damaged: {detail}")]
    Damaged {
        /// The database file.
        path: String,
        /// What the integrity check said.
        detail: String,
    },
    /// A statement failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// State that cannot be encoded for saving.
    #[error("cannot encode state: {0}")]
    Encode(String),
}

/// Columns added after the first release, for databases created before them.
async fn migrate(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info('outbox')")
        .fetch_all(pool)
        .await?;
    if !columns.iter().any(|c| c == "sending") {
        sqlx::query("ALTER TABLE outbox ADD COLUMN sending INTEGER NOT NULL DEFAULT 0")
            .execute(pool)
            .await?;
    }
    Ok(())
}

impl StoreError {
    /// Whether the database file is not a database or is damaged (as opposed to a
    /// directory that cannot be written or a full disk).
    pub fn is_corrupt(&self) -> bool {
        let (Self::Open { error, .. } | Self::Db(error)) = self else {
            return matches!(self, Self::Damaged { .. });
        };
        // SQLITE_CORRUPT (11) and SQLITE_NOTADB (26), extended codes included.
        error
            .as_database_error()
            .and_then(sqlx::error::DatabaseError::code)
            .and_then(|c| c.parse::<u32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 11 | 26))
    }
}

const SAVE_STATE: &str = "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)";

/// The state database (cheap to clone: a pool of one connection).
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

/// A queued message.
#[derive(Clone, Debug)]
pub struct Message {
    /// Its row id.
    pub id: i64,
    /// The payload, as JSON text.
    pub body: String,
    /// When it was queued (Unix milliseconds).
    pub created_ms: i64,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_attempt_ms: i64,
}

/// Depth and oldest message of one receiver's queue.
#[derive(Clone, Debug)]
pub struct Depth {
    /// The receiver.
    pub receiver: String,
    /// The integration.
    pub integration: String,
    /// Messages queued.
    pub count: i64,
    /// When the oldest was queued.
    pub oldest_ms: i64,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        receiver TEXT NOT NULL,
        integration TEXT NOT NULL,
        body TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        last_error TEXT)",
    "CREATE INDEX IF NOT EXISTS outbox_queue ON outbox (receiver, integration, id)",
];

impl Store {
    /// Opens (creating) `dir/centinela.db`. The error names the path.
    pub async fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|error| StoreError::CreateDir {
            path: dir.display().to_string(),
            error,
        })?;
        let path = dir.join(FILE_NAME);
        let open_error = |error| StoreError::Open {
            path: path.display().to_string(),
            error,
        };
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(open_error)?
            .filename(&path)
            .create_if_missing(true)
            // WAL with NORMAL sync survives a killed process (not a power cut) and keeps
            // each evaluation's commit cheap.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        for stmt in SCHEMA {
            sqlx::query(stmt).execute(&pool).await.map_err(open_error)?;
        }
        migrate(&pool).await.map_err(open_error)?;
        // Damage that opening does not notice shows here, before any state is trusted.
        let check: String = sqlx::query_scalar("PRAGMA quick_check")
            .fetch_one(&pool)
            .await
            .map_err(open_error)?;
        if check != "ok" {
            pool.close().await;
            return Err(StoreError::Damaged {
                path: path.display().to_string(),
                detail: check,
            });
        }
        Ok(Self { pool })
    }

    /// A database in memory: what alerting runs on when `state_dir` cannot be used, so
    /// notifications still go out (and are lost on restart).
    pub async fn in_memory() -> Result<Self, StoreError> {
        let open_error = |error| StoreError::Open {
            path: ":memory:".into(),
            error,
        };
        let options = SqliteConnectOptions::from_str("sqlite::memory:").map_err(open_error)?;
        // One connection, never closed: the database lives as long as it does.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        for stmt in SCHEMA {
            sqlx::query(stmt).execute(&pool).await.map_err(open_error)?;
        }
        migrate(&pool).await.map_err(open_error)?;
        Ok(Self { pool })
    }

    /// A saved state value.
    pub async fn load(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM state WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Saves a state value.
    pub async fn save(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(SAVE_STATE)
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Writes `state` and queues `messages` in one transaction.
    pub async fn commit(
        &self,
        state: &[(&str, String)],
        messages: &[Outgoing],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (k, v) in state {
            sqlx::query(SAVE_STATE)
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        for m in messages {
            if m.supersedes {
                sqlx::query("DELETE FROM outbox WHERE receiver = ? AND integration = ?")
                    .bind(&m.receiver)
                    .bind(m.integration.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO outbox (receiver, integration, body, created_ms, next_attempt_ms)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&m.receiver)
            .bind(m.integration.as_str())
            .bind(m.body.to_string())
            .bind(now_ms)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        Ok(tx.commit().await?)
    }

    /// The oldest queued message of one receiver's integration: delivery is in order, so
    /// a resolve never overtakes its trigger.
    pub async fn head(
        &self,
        receiver: &str,
        integration: &str,
    ) -> Result<Option<Message>, StoreError> {
        let row = sqlx::query(
            "SELECT id, body, created_ms, attempts, next_attempt_ms FROM outbox
             WHERE receiver = ? AND integration = ? ORDER BY id LIMIT 1",
        )
        .bind(receiver)
        .bind(integration)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Message {
            id: r.get(0),
            body: r.get(1),
            created_ms: r.get(2),
            attempts: r.get(3),
            next_attempt_ms: r.get(4),
        }))
    }

    /// Removes a delivered or refused message.
    pub async fn delete(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM outbox WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks a message as being sent: if the process stops before its answer is recorded,
    /// the next start knows it may have been delivered.
    pub async fn mark_sending(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET sending = 1 WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The messages whose sending was interrupted by a stop (per queue), cleared: they
    /// are sent again, and may reach the receiver twice.
    pub async fn take_interrupted(&self) -> Result<Vec<Depth>, StoreError> {
        let rows = sqlx::query(
            "SELECT receiver, integration, COUNT(*), MIN(created_ms) FROM outbox
             WHERE sending = 1 GROUP BY receiver, integration",
        )
        .fetch_all(&self.pool)
        .await?;
        sqlx::query("UPDATE outbox SET sending = 0 WHERE sending = 1")
            .execute(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| Depth {
                receiver: r.get(0),
                integration: r.get(1),
                count: r.get(2),
                oldest_ms: r.get(3),
            })
            .collect())
    }

    /// Records a failed attempt and when to try again.
    pub async fn reschedule(
        &self,
        id: i64,
        attempts: i64,
        next_attempt_ms: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET attempts = ?, next_attempt_ms = ?, last_error = ?, sending = 0
             WHERE id = ?",
        )
        .bind(attempts)
        .bind(next_attempt_ms)
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Drops the queued messages of every (receiver, integration) not in `keep`: a
    /// receiver removed from the configuration has nobody to deliver them. Returns the
    /// count dropped per queue.
    pub async fn purge_except(
        &self,
        keep: &[(String, &'static str)],
    ) -> Result<Vec<Depth>, StoreError> {
        let gone: Vec<Depth> = self
            .depths()
            .await?
            .into_iter()
            .filter(|d| {
                !keep
                    .iter()
                    .any(|(r, i)| *r == d.receiver && *i == d.integration)
            })
            .collect();
        for d in &gone {
            sqlx::query("DELETE FROM outbox WHERE receiver = ? AND integration = ?")
                .bind(&d.receiver)
                .bind(&d.integration)
                .execute(&self.pool)
                .await?;
        }
        Ok(gone)
    }

    /// Depth and oldest message of every queue.
    pub async fn depths(&self) -> Result<Vec<Depth>, StoreError> {
        let rows = sqlx::query(
            "SELECT receiver, integration, COUNT(*), MIN(created_ms) FROM outbox
             GROUP BY receiver, integration",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Depth {
                receiver: r.get(0),
                integration: r.get(1),
                count: r.get(2),
                oldest_ms: r.get(3),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::model::Integration;
    use serde_json::json;

    fn message(receiver: &str, integration: Integration, n: i64, supersedes: bool) -> Outgoing {
        Outgoing {
            receiver: receiver.into(),
            integration,
            body: json!({ "n": n }),
            supersedes,
        }
    }

    #[tokio::test]
    async fn queues_are_fifo_per_receiver_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        store
            .commit(
                &[("alerts", "[1]".into())],
                &[
                    message("chat", Integration::Slack, 1, false),
                    message("pager", Integration::PagerDuty, 2, false),
                    message("chat", Integration::Slack, 3, false),
                ],
                1_000,
            )
            .await
            .unwrap();
        let head = store.head("chat", "slack").await.unwrap().unwrap();
        assert_eq!(head.body, r#"{"n":1}"#);
        assert_eq!(
            (head.attempts, head.next_attempt_ms, head.created_ms),
            (0, 1_000, 1_000)
        );

        // A failed attempt keeps the message at the head, with its next time.
        store
            .reschedule(head.id, 1, 5_000, "HTTP 500")
            .await
            .unwrap();
        let again = store.head("chat", "slack").await.unwrap().unwrap();
        assert_eq!(
            (again.id, again.attempts, again.next_attempt_ms),
            (head.id, 1, 5_000)
        );

        store.delete(head.id).await.unwrap();
        drop(store);
        let store = Store::open(dir.path()).await.unwrap();
        assert_eq!(store.load("alerts").await.unwrap().as_deref(), Some("[1]"));
        let next = store.head("chat", "slack").await.unwrap().unwrap();
        assert_eq!(
            next.body, r#"{"n":3}"#,
            "the second message is next after a restart"
        );
        let mut depths = store.depths().await.unwrap();
        depths.sort_by(|a, b| a.receiver.cmp(&b.receiver));
        let got: Vec<_> = depths
            .iter()
            .map(|d| {
                (
                    d.receiver.as_str(),
                    d.integration.as_str(),
                    d.count,
                    d.oldest_ms,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("chat", "slack", 1, 1_000),
                ("pager", "pagerduty", 1, 1_000)
            ]
        );
    }

    #[tokio::test]
    async fn a_superseding_message_replaces_the_queued_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let am = Integration::Alertmanager;
        store
            .commit(
                &[],
                &[message("am", am, 1, true), message("am", am, 2, true)],
                0,
            )
            .await
            .unwrap();
        store
            .commit(&[], &[message("am", am, 3, true)], 10)
            .await
            .unwrap();
        let head = store.head("am", "alertmanager").await.unwrap().unwrap();
        assert_eq!(head.body, r#"{"n":3}"#);
        assert_eq!(store.depths().await.unwrap()[0].count, 1);
    }

    #[tokio::test]
    async fn an_unusable_state_dir_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x").unwrap();
        let e = Store::open(&file).await.unwrap_err().to_string();
        assert!(e.contains("not-a-dir"), "{e}");
    }
}
