//! Storage for Colloquy: one interface, two backends (embedded SQLite, PostgreSQL).
//!
//! Only this crate writes SQL. Queries are written once with `$n` placeholders, which both
//! SQLite and PostgreSQL understand; the few places where the dialects differ (full-text
//! search, row locking for the job queue, schema) branch on [`Backend`].
//! Times are Unix seconds (UTC) in `BIGINT` columns so both backends agree on them.

mod accounts;
mod debates;
mod imports;
mod jobs;
mod linkbacks;
mod mail;
mod migrations;
mod posts;
mod thoughts;
mod users;

pub use accounts::{
    AccountLink, DeviceSession, Identity, LinkOutcome, MemberWriting, NewMember, OidcFlow,
    WrittenMessage, WrittenThought, SEEN_EVERY,
};
pub use debates::{
    DebateEvent, DebateFigures, DebatePatch, DebateRow, MessageRow, NewDebate, NewMessage, Refusal,
    Registered, RegistrationRow, DEBATE_CHANNEL,
};
pub use imports::{ImportCounts, ImportedPost, ImportedThought, OldLink};
pub use jobs::{Job, JobStats};
pub use linkbacks::{LinkbackSend, NewLinkback};
pub use mail::{
    Delivery, DeliveryStats, FollowOutcome, FollowRequest, NewDelivery, SubscriberRow,
    MAX_MAIL_ATTEMPTS,
};
pub use posts::{ListFilter, NewPost, PostPage, PostPatch, PostRow, TermInput, TermRow};
pub use thoughts::{
    BanRow, LikeRow, ModerationEntry, NewThought, ThoughtQuery, ThoughtRow, JOB_THOUGHT_APPROVED,
    JOB_THOUGHT_PENDING,
};
pub use users::{NewUser, SessionRow, UserRow};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the string names what already exists.
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Seconds a node's claim on a mail delivery lasts before another node may take it over.
    mail_lease: i64,
    /// The connection URL, for the PostgreSQL `LISTEN` connection (debate events).
    url: std::sync::Arc<str>,
    /// SQLite has one writer at a time. Writers of this process wait their turn here, in
    /// order, instead of in SQLite's busy handler, which sleeps and retries (up to 100 ms a
    /// time) and lets a burst of writers starve each other.
    write_turn: std::sync::Arc<tokio::sync::Mutex<()>>,
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::Migration(format!(
                "unsupported database URL {url:?}: use sqlite://PATH or postgres://…"
            )));
        };
        let opts = AnyPoolOptions::new()
            // SQLite too: each connection has its own thread, so with fewer connections
            // than requests in flight, requests wait for a connection while the processor
            // idles (8 connections served the uncached post page ~25 % slower than 16;
            // connections open as needed, so idle memory does not grow).
            .max_connections(16)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            // A local SQLite file cannot drop a connection; pinging it before every use cost
            // one round trip to its worker thread per query. PostgreSQL keeps the check.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; \
                             PRAGMA busy_timeout=10000; PRAGMA synchronous=FULL;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            });
        let url = if backend == Backend::Sqlite && !url.contains("mode=") {
            if url.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            }
        } else {
            url.to_owned()
        };
        let pool = opts.connect(&url).await?;
        let store = Self {
            pool,
            backend,
            mail_lease: 120,
            url: url.as_str().into(),
            write_turn: Default::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// How long a claimed mail stays claimed (default 120 s): after a node dies, its mails
    /// wait this long before another node sends them.
    pub fn with_mail_lease(mut self, seconds: i64) -> Self {
        self.mail_lease = seconds.max(1);
        self
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`, waiting out other writers with the busy timeout): a transaction
    /// that reads first and writes later fails at once if another connection wrote in between,
    /// which with background workers writing is often.
    pub(crate) async fn begin_write(&self) -> Result<Tx<'static>> {
        Ok(match self.backend {
            Backend::Sqlite => {
                let turn = self.write_turn.clone().lock_owned().await;
                WriteTx {
                    tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _turn: Some(turn),
                }
            }
            Backend::Postgres => WriteTx {
                tx: self.pool.begin().await?,
                _turn: None,
            },
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool_size(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Applies every migration not yet recorded. Safe with several nodes starting at once
    /// (PostgreSQL advisory lock; SQLite serialises writers by itself).
    pub async fn migrate(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        if self.backend == Backend::Postgres {
            conn.execute("SELECT pg_advisory_lock(7364021)").await?;
        }
        let result = async {
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            )
            .await?;
            let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| r.get::<i64, _>(0))
                .collect();
            for m in migrations::MIGRATIONS {
                if applied.contains(&m.version) {
                    continue;
                }
                let sql = match self.backend {
                    Backend::Sqlite => m.sqlite,
                    Backend::Postgres => m.postgres,
                };
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(|e| {
                    StoreError::Migration(format!("migration {} ({}): {e}", m.version, m.name))
                })?;
                sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                    .bind(m.version)
                    .bind(m.name)
                    .bind(now())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                tracing::info!(version = m.version, name = m.name, "applied migration");
            }
            Ok::<_, StoreError>(())
        }
        .await;
        if self.backend == Backend::Postgres {
            conn.execute("SELECT pg_advisory_unlock(7364021)").await?;
        }
        result
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }

    /// The site's change counter: bumped by every write that changes what a page shows.
    /// Each node compares it with the version its page cache was built from.
    pub async fn site_version(&self) -> Result<i64> {
        let row = sqlx::query("SELECT version FROM site_version WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get(0))
    }

    /// The scopes of the changes after version `seen` up to `upto`, oldest first. Fewer rows
    /// than versions means some were pruned: the caller should then assume the whole site.
    pub async fn changes_between(&self, seen: i64, upto: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT scope FROM changes WHERE version > $1 AND version <= $2 ORDER BY version",
        )
        .bind(seen)
        .bind(upto)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Forgets change records older than a day; nodes that far behind clear everything.
    pub async fn prune_changes(&self) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM changes WHERE at < $1")
            .bind(now() - 86_400)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    pub async fn settings(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT key, value FROM settings")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The value of `key`, storing `value` first if there is none yet (several nodes racing
    /// agree on whichever was stored first).
    pub async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        let r = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_one(&self.pool)
            .await?;
        Ok(r.get(0))
    }

    pub async fn set_settings(&self, pairs: &[(&str, String)]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (k, v) in pairs {
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(*k)
            .bind(v.as_str())
            .execute(&mut *tx)
            .await?;
        }
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A write transaction; on SQLite it also holds this process's write turn until it ends.
pub(crate) struct WriteTx<'a> {
    // Declared first so it is dropped (rolled back) before the turn passes on.
    tx: sqlx::Transaction<'a, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx<'_> {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx<'_> {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

pub(crate) type Tx<'a> = WriteTx<'a>;

/// Records that something every page may show changed (a post, a setting, a user).
pub(crate) async fn bump_version(tx: &mut Tx<'_>) -> Result<()> {
    record_change(tx, SITE_SCOPE).await
}

/// What a change touched: the whole site, or only what shows one post's thoughts.
pub const SITE_SCOPE: &str = "site";

pub fn post_scope(post_id: i64) -> String {
    format!("post:{post_id}")
}

/// Bumps the change counter and records the change's scope under the new version, in the
/// caller's transaction. The counter's row lock orders writers, so when a node reads version
/// `v`, every change up to `v` has committed and can be read.
pub(crate) async fn record_change(tx: &mut Tx<'_>, scope: &str) -> Result<()> {
    let v: i64 =
        sqlx::query("UPDATE site_version SET version = version + 1 WHERE id = 1 RETURNING version")
            .fetch_one(&mut **tx)
            .await?
            .get(0);
    sqlx::query("INSERT INTO changes (version, scope, at) VALUES ($1, $2, $3)")
        .bind(v)
        .bind(scope)
        .bind(now())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.is_unique_violation()
                || d.code().as_deref() == Some("23505")
                || d.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}

/// A `LIKE … ESCAPE '\'` pattern matching any text that contains `s` literally.
pub(crate) fn like_containing(s: &str) -> String {
    let esc = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{esc}%")
}

pub(crate) fn opt_str(r: &AnyRow, col: &str) -> Option<String> {
    r.try_get::<Option<String>, _>(col).ok().flatten()
}
