//! Thoughts (comments and, later, linkbacks), likes, the moderation log, bans, readers who
//! asked to be told of new thoughts, and the spam filter's token counts.
//!
//! A change to what a post's thoughts show is recorded with the post's scope, so nodes drop
//! only that post's page and feeds (and the site-wide thoughts feed), not the whole cache.

use crate::{
    jobs, now, opt_str, post_scope, record_change, Backend, Result, Store, StoreError, Tx,
};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, serde::Serialize)]
pub struct ThoughtRow {
    pub id: i64,
    pub post_id: i64,
    pub parent_id: Option<i64>,
    pub kind: String,
    pub status: String,
    pub user_id: Option<i64>,
    pub author_name: String,
    #[serde(skip)]
    pub author_email: String,
    pub author_url: String,
    #[serde(skip)]
    pub author_ip: String,
    pub body_markdown: String,
    pub body_html: String,
    pub source_url: Option<String>,
    pub held_reason: String,
    pub spam_score: Option<f64>,
    pub trained: Option<String>,
    pub deleted: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// The post's title, for moderation lists.
    pub post_title: String,
}

pub(crate) const COLS: &str = "t.id, t.post_id, t.parent_id, t.kind, t.status, t.user_id, t.author_name, t.author_email, \
    t.author_url, t.author_ip, t.body_markdown, t.body_html, t.source_url, t.held_reason, t.spam_permille, t.trained, \
    t.deleted, t.created_at, t.updated_at, p.title AS post_title";

pub(crate) fn thought(r: &AnyRow) -> ThoughtRow {
    ThoughtRow {
        id: r.get("id"),
        post_id: r.get("post_id"),
        parent_id: r.try_get::<Option<i64>, _>("parent_id").ok().flatten(),
        kind: r.get("kind"),
        status: r.get("status"),
        user_id: r.try_get::<Option<i64>, _>("user_id").ok().flatten(),
        author_name: r.get("author_name"),
        author_email: r.get("author_email"),
        author_url: r.get("author_url"),
        author_ip: r.get("author_ip"),
        body_markdown: r.get("body_markdown"),
        body_html: r.get("body_html"),
        source_url: opt_str(r, "source_url"),
        held_reason: r.get("held_reason"),
        spam_score: r
            .try_get::<Option<i64>, _>("spam_permille")
            .ok()
            .flatten()
            .map(|p| p as f64 / 1000.0),
        trained: opt_str(r, "trained"),
        deleted: r.try_get::<i64, _>("deleted").unwrap_or(0) != 0,
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        post_title: r.try_get("post_title").unwrap_or_default(),
    }
}

/// A thought ready to store: validated, rendered and judged by the caller.
#[derive(Debug, Clone)]
pub struct NewThought {
    pub post_id: i64,
    pub parent_id: Option<i64>,
    pub kind: String,
    pub status: String,
    pub user_id: Option<i64>,
    pub author_name: String,
    pub author_email: String,
    pub author_url: String,
    pub author_ip: String,
    pub body_markdown: String,
    pub body_html: String,
    pub body_hash: String,
    pub source_url: Option<String>,
    pub held_reason: String,
    pub spam_score: Option<f64>,
    /// The writer asked to be told of new thoughts on this post.
    pub notify: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LikeRow {
    pub user_id: Option<i64>,
    pub author_name: String,
    pub author_url: String,
    pub source_url: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ModerationEntry {
    pub actor_name: String,
    pub action: String,
    pub thought_id: Option<i64>,
    pub detail: String,
    pub at: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BanRow {
    pub id: i64,
    pub kind: String,
    pub value: String,
    pub reason: String,
    pub created_at: i64,
}

/// Filters for the moderation list.
#[derive(Debug, Clone, Default)]
pub struct ThoughtQuery {
    pub status: String,
    pub post_id: Option<i64>,
    /// Matches the author's name or email, or the text.
    pub search: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// Job kinds the mail issue delivers: queued now so nothing is lost, sent when mail lands.
pub const JOB_THOUGHT_PENDING: &str = "notify_thought_pending";
pub const JOB_THOUGHT_APPROVED: &str = "notify_thought_approved";

async fn enqueue_notice(tx: &mut Tx<'_>, status: &str, id: i64) -> Result<()> {
    let kind = match status {
        "pending" => JOB_THOUGHT_PENDING,
        "approved" => JOB_THOUGHT_APPROVED,
        _ => return Ok(()),
    };
    jobs::enqueue_in(tx, kind, &format!("{{\"thought_id\":{id}}}"), now(), 10).await?;
    Ok(())
}

async fn log(
    tx: &mut Tx<'_>,
    actor: Option<(i64, &str)>,
    action: &str,
    thought_id: Option<i64>,
    detail: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO moderation_log (actor_id, actor_name, action, thought_id, detail, at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(actor.map(|a| a.0))
    .bind(actor.map(|a| a.1).unwrap_or("system"))
    .bind(action)
    .bind(thought_id)
    .bind(detail)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    pub async fn create_thought(&self, t: NewThought) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        if let Some(parent) = t.parent_id {
            let ok = sqlx::query("SELECT 1 FROM thoughts WHERE id = $1 AND post_id = $2 AND status = 'approved' AND deleted = 0")
                .bind(parent)
                .bind(t.post_id)
                .fetch_optional(&mut *tx)
                .await?;
            if ok.is_none() {
                return Err(StoreError::NotFound);
            }
        }
        let at = now();
        let id: i64 = sqlx::query(
            "INSERT INTO thoughts (post_id, parent_id, kind, status, user_id, author_name, author_email, author_url, author_ip, \
             body_markdown, body_html, body_hash, source_url, held_reason, spam_permille, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) RETURNING id",
        )
        .bind(t.post_id)
        .bind(t.parent_id)
        .bind(&t.kind)
        .bind(&t.status)
        .bind(t.user_id)
        .bind(&t.author_name)
        .bind(&t.author_email)
        .bind(&t.author_url)
        .bind(&t.author_ip)
        .bind(&t.body_markdown)
        .bind(&t.body_html)
        .bind(&t.body_hash)
        .bind(t.source_url.as_deref())
        .bind(&t.held_reason)
        .bind(t.spam_score.map(|p| (p * 1000.0).round() as i64))
        .bind(at)
        .fetch_one(&mut *tx)
        .await?
        .get(0);
        if t.notify && !t.author_email.is_empty() {
            sqlx::query(
                "INSERT INTO thought_watchers (post_id, email, user_id, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (post_id, email) DO NOTHING",
            )
            .bind(t.post_id)
            .bind(t.author_email.to_lowercase())
            .bind(t.user_id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        if t.status != "approved" {
            log(
                &mut tx,
                None,
                &format!("held as {}", t.status),
                Some(id),
                &t.held_reason,
            )
            .await?;
        }
        enqueue_notice(&mut tx, &t.status, id).await?;
        if t.status == "approved" {
            record_change(&mut tx, &post_scope(t.post_id)).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    pub async fn thought_by_id(&self, id: i64) -> Result<ThoughtRow> {
        let sql = format!(
            "SELECT {COLS} FROM thoughts t JOIN posts p ON p.id = t.post_id WHERE t.id = $1"
        );
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(thought)
            .ok_or(StoreError::NotFound)
    }

    /// A post's approved thoughts (with tombstones of removed ones), oldest first.
    pub async fn approved_thoughts(&self, post_id: i64) -> Result<Vec<ThoughtRow>> {
        let sql = format!(
            "SELECT {COLS} FROM thoughts t JOIN posts p ON p.id = t.post_id \
             WHERE t.post_id = $1 AND t.status = 'approved' ORDER BY t.id"
        );
        let rows = sqlx::query(&sql)
            .bind(post_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(thought).collect())
    }

    /// The newest approved thoughts on published posts, for the site-wide feed.
    pub async fn recent_thoughts(&self, limit: i64) -> Result<Vec<ThoughtRow>> {
        let sql = format!(
            "SELECT {COLS} FROM thoughts t JOIN posts p ON p.id = t.post_id \
             WHERE t.status = 'approved' AND t.deleted = 0 AND p.status = 'published' ORDER BY t.id DESC LIMIT $1"
        );
        let rows = sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(thought).collect())
    }

    /// Thoughts for moderators, newest first, with the total for paging.
    pub async fn thoughts_for_moderation(
        &self,
        q: &ThoughtQuery,
    ) -> Result<(Vec<ThoughtRow>, i64)> {
        let mut cond = String::from("t.status = $1");
        let mut n = 2;
        if q.post_id.is_some() {
            cond.push_str(&format!(" AND t.post_id = ${n}"));
            n += 1;
        }
        let pattern = q
            .search
            .as_ref()
            .map(|s| crate::like_containing(&s.to_lowercase()));
        if pattern.is_some() {
            cond.push_str(&format!(
                " AND (LOWER(t.author_name) LIKE ${n} ESCAPE '\\' OR LOWER(t.author_email) LIKE ${n} ESCAPE '\\' OR LOWER(t.body_markdown) LIKE ${n} ESCAPE '\\')"
            ));
            n += 1;
        }
        let sql = format!(
            "SELECT {COLS} FROM thoughts t JOIN posts p ON p.id = t.post_id WHERE {cond} ORDER BY t.id DESC LIMIT ${n} OFFSET ${}",
            n + 1
        );
        let count_sql = format!("SELECT COUNT(*) FROM thoughts t WHERE {cond}");
        let mut a = sqlx::query(&sql).bind(&q.status);
        let mut c = sqlx::query(&count_sql).bind(&q.status);
        if let Some(p) = q.post_id {
            a = a.bind(p);
            c = c.bind(p);
        }
        if let Some(p) = &pattern {
            a = a.bind(p.clone());
            c = c.bind(p.clone());
        }
        let rows = a.bind(q.limit).bind(q.offset).fetch_all(&self.pool).await?;
        let total: i64 = c.fetch_one(&self.pool).await?.get(0);
        Ok((rows.iter().map(thought).collect(), total))
    }

    /// How many thoughts wait in each moderation list.
    pub async fn thought_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) FROM thoughts GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Moves a thought to another list, with an entry in the moderation log. Returns the
    /// thought as it was before.
    pub async fn set_thought_status(
        &self,
        id: i64,
        status: &str,
        actor: (i64, &str),
    ) -> Result<ThoughtRow> {
        let before = self.thought_by_id(id).await?;
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE thoughts SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status)
            .bind(now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        log(
            &mut tx,
            Some(actor),
            &format!("{} → {status}", before.status),
            Some(id),
            "",
        )
        .await?;
        if status == "approved" && before.status != "approved" {
            enqueue_notice(&mut tx, "approved", id).await?;
        }
        if status == "approved" || before.status == "approved" {
            record_change(&mut tx, &post_scope(before.post_id)).await?;
        }
        tx.commit().await?;
        Ok(before)
    }

    /// Replaces a thought's text (its writer within the edit window, or a moderator).
    pub async fn edit_thought(
        &self,
        id: i64,
        markdown: &str,
        html: &str,
        body_hash: &str,
        actor: (i64, &str),
    ) -> Result<()> {
        let before = self.thought_by_id(id).await?;
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE thoughts SET body_markdown = $1, body_html = $2, body_hash = $3, updated_at = $4 WHERE id = $5")
            .bind(markdown)
            .bind(html)
            .bind(body_hash)
            .bind(now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        log(&mut tx, Some(actor), "edited", Some(id), "").await?;
        if before.status == "approved" {
            record_change(&mut tx, &post_scope(before.post_id)).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes a thought. Where approved replies hang from it, a tombstone keeps the thread
    /// together ("this thought was removed"); otherwise it goes to the trash.
    pub async fn remove_thought(&self, id: i64, actor: (i64, &str)) -> Result<()> {
        let before = self.thought_by_id(id).await?;
        let mut tx = self.begin_write().await?;
        let has_replies = sqlx::query(
            "SELECT 1 FROM thoughts WHERE parent_id = $1 AND status = 'approved' LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        if has_replies {
            sqlx::query("UPDATE thoughts SET deleted = 1, body_markdown = '', body_html = '', updated_at = $1 WHERE id = $2")
                .bind(now())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "UPDATE thoughts SET status = 'trash', deleted = 1, updated_at = $1 WHERE id = $2",
            )
            .bind(now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        log(&mut tx, Some(actor), "removed by its writer", Some(id), "").await?;
        if before.status == "approved" {
            record_change(&mut tx, &post_scope(before.post_id)).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Whether a guest with this email has had a thought approved before.
    pub async fn guest_known(&self, email: &str) -> Result<bool> {
        Ok(sqlx::query(
            "SELECT 1 FROM thoughts WHERE author_email = $1 AND status = 'approved' AND user_id IS NULL LIMIT 1",
        )
        .bind(email.to_lowercase())
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    /// Creation times of thoughts from one address or email since `since`, oldest first.
    pub async fn recent_thought_times(
        &self,
        column_is_ip: bool,
        value: &str,
        since: i64,
    ) -> Result<Vec<i64>> {
        let col = if column_is_ip {
            "author_ip"
        } else {
            "author_email"
        };
        let rows = sqlx::query(&format!(
            "SELECT created_at FROM thoughts WHERE {col} = $1 AND created_at >= $2 ORDER BY created_at"
        ))
        .bind(value)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Whether the same text was already sent to this post by the same person.
    pub async fn duplicate_thought(
        &self,
        post_id: i64,
        body_hash: &str,
        author_email: &str,
        user_id: Option<i64>,
    ) -> Result<bool> {
        Ok(sqlx::query(
            "SELECT 1 FROM thoughts WHERE post_id = $1 AND body_hash = $2 AND deleted = 0 \
             AND (author_email = $3 OR user_id = $4) LIMIT 1",
        )
        .bind(post_id)
        .bind(body_hash)
        .bind(author_email.to_lowercase())
        .bind(user_id.unwrap_or(-1))
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    pub async fn moderation_log(&self, limit: i64) -> Result<Vec<ModerationEntry>> {
        let rows = sqlx::query(
            "SELECT actor_name, action, thought_id, detail, at FROM moderation_log ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| ModerationEntry {
                actor_name: r.get(0),
                action: r.get(1),
                thought_id: r.try_get::<Option<i64>, _>(2).ok().flatten(),
                detail: r.get(3),
                at: r.get(4),
            })
            .collect())
    }

    // --- Likes -------------------------------------------------------------------------

    /// Likes a post as a member, or takes the like back; returns whether it is liked now.
    pub async fn set_like(
        &self,
        post_id: i64,
        user_id: i64,
        name: &str,
        liked: bool,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let changed = if liked {
            sqlx::query(
                "INSERT INTO likes (post_id, user_id, author_name, author_url, created_at) VALUES ($1, $2, $3, '', $4) \
                 ON CONFLICT (post_id, user_id) DO NOTHING",
            )
            .bind(post_id)
            .bind(user_id)
            .bind(name)
            .bind(now())
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            sqlx::query("DELETE FROM likes WHERE post_id = $1 AND user_id = $2")
                .bind(post_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        };
        if changed > 0 {
            record_change(&mut tx, &post_scope(post_id)).await?;
        }
        tx.commit().await?;
        Ok(liked)
    }

    pub async fn likes_of(&self, post_id: i64) -> Result<Vec<LikeRow>> {
        let rows = sqlx::query(
            "SELECT l.user_id, COALESCE(u.name, l.author_name) AS name, l.author_url, l.source_url, l.created_at \
             FROM likes l LEFT JOIN users u ON u.id = l.user_id WHERE l.post_id = $1 ORDER BY l.id",
        )
        .bind(post_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| LikeRow {
                user_id: r.try_get::<Option<i64>, _>(0).ok().flatten(),
                author_name: r.get(1),
                author_url: r.get(2),
                source_url: r.try_get::<Option<String>, _>(3).ok().flatten(),
                created_at: r.get(4),
            })
            .collect())
    }

    // --- Bans --------------------------------------------------------------------------

    pub async fn add_ban(
        &self,
        kind: &str,
        value: &str,
        reason: &str,
        by: (i64, &str),
    ) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO thought_bans (kind, value, reason, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(kind)
        .bind(value)
        .bind(reason)
        .bind(by.0)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if crate::is_unique_violation(&e) {
                StoreError::Conflict(format!("{value} is already banned"))
            } else {
                e.into()
            }
        })?
        .get(0);
        log(&mut tx, Some(by), &format!("banned {kind}"), None, value).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn bans(&self) -> Result<Vec<BanRow>> {
        let rows =
            sqlx::query("SELECT id, kind, value, reason, created_at FROM thought_bans ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|r| BanRow {
                id: r.get(0),
                kind: r.get(1),
                value: r.get(2),
                reason: r.get(3),
                created_at: r.get(4),
            })
            .collect())
    }

    pub async fn delete_ban(&self, id: i64, by: (i64, &str)) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query("DELETE FROM thought_bans WHERE id = $1 RETURNING kind, value")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let (kind, value): (String, String) = (r.get(0), r.get(1));
        log(
            &mut tx,
            Some(by),
            &format!("lifted the ban on {kind}"),
            None,
            &value,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // --- The learning spam filter ------------------------------------------------------

    /// Trained document counts and, for each token, (spam, good) counts where known.
    pub async fn spam_evidence(&self, tokens: &[String]) -> Result<colloquy_core::spam::Evidence> {
        let docs = sqlx::query("SELECT spam, ham FROM spam_tokens WHERE token = $1")
            .bind(DOCS_TOKEN)
            .fetch_optional(&self.pool)
            .await?;
        let (spam_docs, ham_docs) = docs.map(|r| (r.get(0), r.get(1))).unwrap_or((0, 0));
        let mut counts = Vec::new();
        for chunk in tokens.chunks(200) {
            let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT spam, ham FROM spam_tokens WHERE token IN ({})",
                list.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for t in chunk {
                q = q.bind(t);
            }
            for r in q.fetch_all(&self.pool).await? {
                counts.push((r.get(0), r.get(1)));
            }
        }
        Ok(colloquy_core::spam::Evidence {
            spam_docs,
            ham_docs,
            counts,
        })
    }

    /// Teaches the filter a moderator's judgement of one thought. A thought trained before
    /// the other way is untrained first, so changing one's mind does not count twice.
    pub async fn train_spam_filter(
        &self,
        thought_id: i64,
        tokens: &[String],
        spam: bool,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let prev: Option<String> = sqlx::query("SELECT trained FROM thoughts WHERE id = $1")
            .bind(thought_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?
            .try_get::<Option<String>, _>(0)
            .ok()
            .flatten();
        let want = if spam { "spam" } else { "ham" };
        if prev.as_deref() == Some(want) {
            return Ok(());
        }
        let mut all: Vec<&str> = tokens.iter().map(String::as_str).collect();
        all.push(DOCS_TOKEN);
        let (ds, dh): (i64, i64) = match (prev.as_deref(), spam) {
            (Some("ham"), true) => (1, -1),
            (Some("spam"), false) => (-1, 1),
            (_, true) => (1, 0),
            (_, false) => (0, 1),
        };
        for t in all {
            sqlx::query("INSERT INTO spam_tokens (token, spam, ham) VALUES ($1, 0, 0) ON CONFLICT (token) DO NOTHING")
                .bind(t)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE spam_tokens SET spam = CASE WHEN spam + $2 < 0 THEN 0 ELSE spam + $2 END, \
                 ham = CASE WHEN ham + $3 < 0 THEN 0 ELSE ham + $3 END WHERE token = $1",
            )
            .bind(t)
            .bind(ds)
            .bind(dh)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE thoughts SET trained = $1 WHERE id = $2")
            .bind(want)
            .bind(thought_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether thoughts are open on a post (the per-post switch), and sets it.
    pub async fn set_thoughts_open(&self, post_id: i64, open: bool) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE posts SET thoughts_open = $1 WHERE id = $2")
            .bind(i64::from(open))
            .bind(post_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        record_change(&mut tx, &post_scope(post_id)).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The row of `spam_tokens` that counts trained documents rather than a token.
const DOCS_TOKEN: &str = "\u{1}docs";

/// The post's approved thoughts as one JSON array, for a `SELECT` column (`post` is the SQL
/// expression of the post's id).
pub(crate) fn thoughts_json_sql(backend: Backend, post: &str) -> String {
    let fields = "'id', t.id, 'parent_id', t.parent_id, 'kind', t.kind, 'user_id', t.user_id, \
        'author_name', t.author_name, 'author_email', t.author_email, 'author_url', t.author_url, \
        'body_html', t.body_html, 'source_url', t.source_url, 'deleted', t.deleted, \
        'created_at', t.created_at, 'updated_at', t.updated_at";
    match backend {
        Backend::Sqlite => format!(
            "(SELECT json_group_array(json_object({fields}) ORDER BY t.id) FROM thoughts t \
             WHERE t.post_id = {post} AND t.status = 'approved')"
        ),
        Backend::Postgres => format!(
            "(SELECT CAST(COALESCE(json_agg(json_build_object({fields}) ORDER BY t.id), '[]') AS TEXT) \
             FROM thoughts t WHERE t.post_id = {post} AND t.status = 'approved')"
        ),
    }
}

/// The post's likes as one JSON array, for a `SELECT` column.
pub(crate) fn likes_json_sql(backend: Backend, post: &str) -> String {
    let fields = "'user_id', l.user_id, 'author_name', COALESCE(u.name, l.author_name), \
        'author_url', l.author_url, 'source_url', l.source_url, 'created_at', l.created_at";
    match backend {
        Backend::Sqlite => format!(
            "(SELECT json_group_array(json_object({fields}) ORDER BY l.id) FROM likes l \
             LEFT JOIN users u ON u.id = l.user_id WHERE l.post_id = {post})"
        ),
        Backend::Postgres => format!(
            "(SELECT CAST(COALESCE(json_agg(json_build_object({fields}) ORDER BY l.id), '[]') AS TEXT) \
             FROM likes l LEFT JOIN users u ON u.id = l.user_id WHERE l.post_id = {post})"
        ),
    }
}

/// Reads the `thoughts` and `likes` JSON columns of a row. Both are one JSON array each, so
/// a post with hundreds of thoughts still costs one row from SQLite's worker thread; fields
/// a page does not show are left empty.
pub(crate) fn decode_discussion(
    post_id: i64,
    r: &AnyRow,
) -> Result<(Vec<ThoughtRow>, Vec<LikeRow>)> {
    #[derive(serde::Deserialize)]
    struct T {
        id: i64,
        parent_id: Option<i64>,
        kind: String,
        user_id: Option<i64>,
        author_name: String,
        author_email: String,
        author_url: String,
        body_html: String,
        source_url: Option<String>,
        deleted: i64,
        created_at: i64,
        updated_at: i64,
    }
    #[derive(serde::Deserialize)]
    struct L {
        user_id: Option<i64>,
        author_name: String,
        author_url: String,
        source_url: Option<String>,
        created_at: i64,
    }
    let decode = |what: &str, e: serde_json::Error| {
        StoreError::Db(sqlx::Error::Decode(format!("{what} of a post: {e}").into()))
    };
    let ts: Vec<T> =
        serde_json::from_str(&r.get::<String, _>("thoughts")).map_err(|e| decode("thoughts", e))?;
    let ls: Vec<L> =
        serde_json::from_str(&r.get::<String, _>("likes")).map_err(|e| decode("likes", e))?;
    let thoughts = ts
        .into_iter()
        .map(|t| ThoughtRow {
            id: t.id,
            post_id,
            parent_id: t.parent_id,
            kind: t.kind,
            status: "approved".into(),
            user_id: t.user_id,
            author_name: t.author_name,
            author_email: t.author_email,
            author_url: t.author_url,
            author_ip: String::new(),
            body_markdown: String::new(),
            body_html: t.body_html,
            source_url: t.source_url,
            held_reason: String::new(),
            spam_score: None,
            trained: None,
            deleted: t.deleted != 0,
            created_at: t.created_at,
            updated_at: t.updated_at,
            post_title: String::new(),
        })
        .collect();
    let likes = ls
        .into_iter()
        .map(|l| LikeRow {
            user_id: l.user_id,
            author_name: l.author_name,
            author_url: l.author_url,
            source_url: l.source_url,
            created_at: l.created_at,
        })
        .collect();
    Ok((thoughts, likes))
}
