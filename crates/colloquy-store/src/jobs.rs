//! The durable job queue: background work that survives restarts, is claimed by exactly one
//! node at a time, retries with exponential backoff and jitter, and ends in a dead-letter
//! list (status `dead`) after its last try.

use crate::{now, opt_str, Backend, Result, Store, Tx};
use rand::Rng;
use sqlx::Row;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct JobStats {
    pub queued: i64,
    pub running: i64,
    pub dead: i64,
}

/// How long a claimed job stays locked before another node may assume its worker died.
const LEASE_SECS: i64 = 300;

pub(crate) async fn enqueue_in(
    tx: &mut Tx<'_>,
    kind: &str,
    payload: &str,
    run_at: i64,
    max_attempts: i64,
) -> Result<i64> {
    let t = now();
    Ok(sqlx::query(
        "INSERT INTO jobs (kind, payload, status, run_at, attempts, max_attempts, created_at, updated_at) \
         VALUES ($1, $2, 'queued', $3, 0, $4, $5, $5) RETURNING id",
    )
    .bind(kind)
    .bind(payload)
    .bind(run_at)
    .bind(max_attempts)
    .bind(t)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

fn job(r: &sqlx::any::AnyRow) -> Job {
    Job {
        id: r.get("id"),
        kind: r.get("kind"),
        payload: r.get("payload"),
        status: r.get("status"),
        attempts: r.get("attempts"),
        max_attempts: r.get("max_attempts"),
        run_at: r.get("run_at"),
        last_error: opt_str(r, "last_error"),
    }
}

impl Store {
    pub async fn enqueue_job(
        &self,
        kind: &str,
        payload: &str,
        run_at: i64,
        max_attempts: i64,
    ) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let id = enqueue_in(&mut tx, kind, payload, run_at, max_attempts).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Claims the next due job of one of `kinds` (those this node can run), or such a job
    /// whose lease ran out (its node died). Jobs of other kinds wait, untouched, for a
    /// version of Colloquy that handles them.
    pub async fn claim_job(&self, kinds: &[&str]) -> Result<Option<Job>> {
        let t = now();
        let kinds_sql: Vec<String> = kinds
            .iter()
            .filter(|k| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .map(|k| format!("'{k}'"))
            .collect();
        if kinds_sql.is_empty() {
            return Ok(None);
        }
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            // SQLite has one writer at a time: the UPDATE below is atomic by itself.
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_until = $1, updated_at = $2 \
             WHERE id = (SELECT id FROM jobs WHERE kind IN ({kinds}) AND ((status = 'queued' AND run_at <= $2) \
                         OR (status = 'running' AND locked_until < $2)) ORDER BY run_at, id LIMIT 1{lock}) \
             RETURNING id, kind, payload, status, attempts, max_attempts, run_at, last_error",
            kinds = kinds_sql.join(", ")
        );
        let r = sqlx::query(&sql)
            .bind(t + LEASE_SECS)
            .bind(t)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(job))
    }

    pub async fn complete_job(&self, id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET status = 'done', locked_until = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a failure: the job runs again after an exponential backoff with jitter, or
    /// goes to the dead-letter list when it has used all its tries.
    pub async fn fail_job(&self, job: &Job, error: &str) -> Result<()> {
        let t = now();
        let dead = job.attempts >= job.max_attempts;
        let base = 2i64
            .saturating_pow(job.attempts.clamp(0, 16) as u32)
            .min(3600);
        let jitter = rand::thread_rng().gen_range(0..=base / 2 + 1);
        sqlx::query("UPDATE jobs SET status = $1, run_at = $2, locked_until = NULL, last_error = $3, updated_at = $4 WHERE id = $5")
            .bind(if dead { "dead" } else { "queued" })
            .bind(t + base + jitter)
            .bind(error.chars().take(2000).collect::<String>())
            .bind(t)
            .bind(job.id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Jobs of `kind` still waiting whose payload contains `needle` (e.g. one source host's
    /// linkbacks), so one sender cannot fill the queue.
    pub async fn waiting_jobs_with(&self, kind: &str, needle: &str) -> Result<i64> {
        Ok(sqlx::query(
            "SELECT COUNT(*) FROM jobs WHERE kind = $1 AND status IN ('queued', 'running') AND payload LIKE $2 ESCAPE '\\'",
        )
        .bind(kind)
        .bind(crate::like_containing(needle))
        .fetch_one(&self.pool)
        .await?
        .get(0))
    }

    pub async fn job_stats(&self) -> Result<JobStats> {
        let rows = sqlx::query("SELECT status, COUNT(*) FROM jobs WHERE status IN ('queued', 'running', 'dead') GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        let mut s = JobStats::default();
        for r in rows {
            let n: i64 = r.get(1);
            match r.get::<String, _>(0).as_str() {
                "queued" => s.queued = n,
                "running" => s.running = n,
                _ => s.dead = n,
            }
        }
        Ok(s)
    }

    pub async fn dead_jobs(&self) -> Result<Vec<Job>> {
        let rows = sqlx::query("SELECT id, kind, payload, status, attempts, max_attempts, run_at, last_error FROM jobs WHERE status = 'dead' ORDER BY updated_at DESC LIMIT 200")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(job).collect())
    }

    pub async fn job_by_id(&self, id: i64) -> Result<Job> {
        let r = sqlx::query("SELECT id, kind, payload, status, attempts, max_attempts, run_at, last_error FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(job).ok_or(crate::StoreError::NotFound)
    }
}
