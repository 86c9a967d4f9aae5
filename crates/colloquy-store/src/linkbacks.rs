//! Linkbacks: thoughts that come from other sites (Webmention, Pingback), one per source page
//! and post, updated in place when the source changes; the record of what we sent out; and
//! the pages of deleted posts, so they answer `410 Gone`.

use crate::{now, post_scope, record_change, Result, Store, StoreError};
use sqlx::Row;

/// A linkback as verified and judged by the caller.
#[derive(Debug, Clone)]
pub struct NewLinkback {
    pub post_id: i64,
    pub source_url: String,
    /// `webmention`, `pingback`, `reblog` or `reply`.
    pub kind: String,
    pub status: String,
    pub author_name: String,
    pub author_url: String,
    pub body_markdown: String,
    pub body_html: String,
    pub held_reason: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LinkbackSend {
    pub target: String,
    pub status: String,
    pub detail: String,
    pub at: i64,
}

impl Store {
    /// Stores a linkback, or replaces the earlier version from the same source page (an
    /// update keeps the moderator's decision). Returns the thought's id and whether it is new.
    pub async fn upsert_linkback(&self, l: &NewLinkback) -> Result<(i64, bool)> {
        let mut tx = self.begin_write().await?;
        let t = now();
        let existing =
            sqlx::query("SELECT id, status FROM thoughts WHERE post_id = $1 AND source_url = $2")
                .bind(l.post_id)
                .bind(&l.source_url)
                .fetch_optional(&mut *tx)
                .await?;
        let (id, created, visible) = match existing {
            Some(r) => {
                let id: i64 = r.get(0);
                let status: String = r.get(1);
                sqlx::query(
                    "UPDATE thoughts SET kind = $1, author_name = $2, author_url = $3, body_markdown = $4, body_html = $5, \
                     deleted = 0, status = CASE WHEN status = 'trash' THEN $6 ELSE status END, updated_at = $7 WHERE id = $8",
                )
                .bind(&l.kind)
                .bind(&l.author_name)
                .bind(&l.author_url)
                .bind(&l.body_markdown)
                .bind(&l.body_html)
                .bind(&l.status)
                .bind(t)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                (id, false, status == "approved" || l.status == "approved")
            }
            None => {
                let id: i64 = sqlx::query(
                    "INSERT INTO thoughts (post_id, kind, status, author_name, author_url, body_markdown, body_html, body_hash, \
                     source_url, held_reason, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, $9, $10, $10) RETURNING id",
                )
                .bind(l.post_id)
                .bind(&l.kind)
                .bind(&l.status)
                .bind(&l.author_name)
                .bind(&l.author_url)
                .bind(&l.body_markdown)
                .bind(&l.body_html)
                .bind(&l.source_url)
                .bind(&l.held_reason)
                .bind(t)
                .fetch_one(&mut *tx)
                .await?
                .get(0);
                (id, true, l.status == "approved")
            }
        };
        if visible {
            record_change(&mut tx, &post_scope(l.post_id)).await?;
        }
        tx.commit().await?;
        Ok((id, created))
    }

    /// The source no longer links to the post (or is gone): its linkback goes.
    pub async fn remove_linkback(&self, post_id: i64, source_url: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM thoughts WHERE post_id = $1 AND source_url = $2")
            .bind(post_id)
            .bind(source_url)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let liked = sqlx::query("DELETE FROM likes WHERE post_id = $1 AND source_url = $2")
            .bind(post_id)
            .bind(source_url)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n + liked > 0 {
            record_change(&mut tx, &post_scope(post_id)).await?;
        }
        tx.commit().await?;
        Ok(n + liked > 0)
    }

    /// A like from another site (a Webmention with `u-like-of`), counted with members' likes.
    pub async fn upsert_remote_like(
        &self,
        post_id: i64,
        source_url: &str,
        author_name: &str,
        author_url: &str,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO likes (post_id, source_url, author_name, author_url, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (post_id, source_url) DO UPDATE SET author_name = excluded.author_name, author_url = excluded.author_url",
        )
        .bind(post_id)
        .bind(source_url)
        .bind(author_name)
        .bind(author_url)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        record_change(&mut tx, &post_scope(post_id)).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn linkback_exists(&self, post_id: i64, source_url: &str) -> Result<bool> {
        Ok(sqlx::query(
            "SELECT 1 FROM thoughts WHERE post_id = $1 AND source_url = $2 AND deleted = 0",
        )
        .bind(post_id)
        .bind(source_url)
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    /// Whether a site (by host) has had a linkback approved before.
    pub async fn site_known(&self, host: &str) -> Result<bool> {
        Ok(sqlx::query(
            "SELECT 1 FROM thoughts WHERE status = 'approved' AND (source_url LIKE $1 OR source_url LIKE $2) LIMIT 1",
        )
        .bind(format!("http://{host}/%"))
        .bind(format!("https://{host}/%"))
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    /// Linkbacks (of any kind) received from one host since `since`: for the per-host limit.
    pub async fn linkbacks_from_host_since(&self, host: &str, since: i64) -> Result<i64> {
        Ok(sqlx::query(
            "SELECT COUNT(*) FROM thoughts WHERE (source_url LIKE $1 OR source_url LIKE $2) AND created_at >= $3",
        )
        .bind(format!("http://{host}/%"))
        .bind(format!("https://{host}/%"))
        .bind(since)
        .fetch_one(&self.pool)
        .await?
        .get(0))
    }

    // --- what we send --------------------------------------------------------------------

    /// Claims the sending of a linkback to `target` for this version of a post; false when
    /// it was sent (or is being sent) already.
    pub async fn claim_send(&self, post_id: i64, target: &str, version: i64) -> Result<bool> {
        let n = sqlx::query(
            "INSERT INTO linkback_sends (post_id, target, version, status, at) VALUES ($1, $2, $3, 'sending', $4) \
             ON CONFLICT (post_id, target, version) DO NOTHING",
        )
        .bind(post_id)
        .bind(target)
        .bind(version)
        .bind(now())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn finish_send(
        &self,
        post_id: i64,
        target: &str,
        version: i64,
        status: &str,
        detail: &str,
    ) -> Result<()> {
        let detail: String = detail.chars().take(500).collect();
        sqlx::query(
            "UPDATE linkback_sends SET status = $1, detail = $2, at = $3 WHERE post_id = $4 AND target = $5 AND version = $6",
        )
        .bind(status)
        .bind(&detail)
        .bind(now())
        .bind(post_id)
        .bind(target)
        .bind(version)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest state of each link of a post, for the editor.
    pub async fn sends_of(&self, post_id: i64) -> Result<Vec<LinkbackSend>> {
        let rows = sqlx::query(
            "SELECT target, status, detail, at FROM linkback_sends WHERE post_id = $1 ORDER BY at DESC, id DESC",
        )
        .bind(post_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<LinkbackSend> = vec![];
        for r in rows {
            let target: String = r.get(0);
            if out.iter().any(|s| s.target == target) {
                continue;
            }
            out.push(LinkbackSend {
                target,
                status: r.get(1),
                detail: r.get(2),
                at: r.get(3),
            });
        }
        Ok(out)
    }

    // --- deleted posts ---------------------------------------------------------------------

    /// Deletes a post and remembers its address (it answers 410 from now on) and its links
    /// (so receivers can be told). Returns the body it had.
    pub async fn delete_post_leaving_gone(&self, id: i64, path: &str) -> Result<String> {
        let mut tx = self.begin_write().await?;
        let body: String = sqlx::query("SELECT body_html FROM posts WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?
            .get(0);
        sqlx::query(
            "INSERT INTO gone_posts (path, post_id, body_html, deleted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (path) DO UPDATE SET post_id = excluded.post_id, body_html = excluded.body_html, deleted_at = excluded.deleted_at",
        )
        .bind(path)
        .bind(id)
        .bind(&body)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM posts WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        crate::bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(body)
    }

    /// Whether a path belonged to a post that was deleted.
    pub async fn gone(&self, path: &str) -> Result<bool> {
        Ok(sqlx::query("SELECT 1 FROM gone_posts WHERE path = $1")
            .bind(path)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// A published post by its path parts (for incoming linkbacks naming one of our URLs).
    pub async fn published_post_id(&self, kind: &str, slug: &str) -> Result<crate::PostRow> {
        let p = self.post_by_slug(kind, slug).await?;
        if p.status != "published" {
            return Err(StoreError::NotFound);
        }
        Ok(p)
    }
}
