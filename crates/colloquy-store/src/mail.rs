//! Followers and the mail they get: subscribers with double opt-in, and the durable queue of
//! mail deliveries.
//!
//! Every mail is one row in `mail_deliveries` with a `dedupe_key` that names what it is and
//! for whom ("post:12:sub:7"). Inserting is idempotent, so announcing a post twice (two
//! nodes, a restart) queues each follower's mail once. A delivery is claimed under a lease,
//! sent, and marked sent at once; only a crash in the instant between the SMTP server's
//! acceptance and that mark sends it again, with the same `Message-ID`.

use crate::{now, opt_str, Backend, Result, Store, StoreError};
use rand::Rng;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, serde::Serialize)]
pub struct SubscriberRow {
    pub id: i64,
    pub email: String,
    pub status: String,
    pub frequency: String,
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub authors: Vec<String>,
    pub source: String,
    pub confirmed_at: Option<i64>,
    pub created_at: i64,
}

const SUB_COLS: &str =
    "id, email, status, frequency, categories, tags, authors, source, confirmed_at, created_at";

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

fn subscriber(r: &AnyRow) -> SubscriberRow {
    SubscriberRow {
        id: r.get("id"),
        email: r.get("email"),
        status: r.get("status"),
        frequency: r.get("frequency"),
        categories: split_list(&r.get::<String, _>("categories")),
        tags: split_list(&r.get::<String, _>("tags")),
        authors: split_list(&r.get::<String, _>("authors")),
        source: r.get("source"),
        confirmed_at: r.try_get::<Option<i64>, _>("confirmed_at").ok().flatten(),
        created_at: r.get("created_at"),
    }
}

/// What a follower wants: already validated by the caller.
#[derive(Debug, Clone, Default)]
pub struct FollowRequest {
    pub email: String,
    pub frequency: String,
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub authors: Vec<String>,
    pub source: String,
}

/// What `follow` found, so the caller knows which mail to queue (never shown to the asker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowOutcome {
    /// A confirmation mail should go out with this token.
    Confirm { subscriber_id: i64 },
    /// The address already follows: tell its owner so, by mail.
    AlreadyFollowing { subscriber_id: i64 },
    /// A confirmation went out moments ago: send nothing (a flood guard).
    TooSoon,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub dedupe_key: String,
    pub kind: String,
    pub to_email: String,
    pub subscriber_id: Option<i64>,
    pub post_id: Option<i64>,
    pub payload: String,
    pub attempts: i64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DeliveryStats {
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    pub rejected: i64,
    pub failed: i64,
}

/// A mail to queue: its key makes queuing it twice a no-op.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub dedupe_key: String,
    pub kind: String,
    pub to_email: String,
    pub subscriber_id: Option<i64>,
    pub post_id: Option<i64>,
    pub payload: String,
}

/// Confirmation links stop working after this long.
pub const CONFIRM_TTL: i64 = 7 * 86_400;
/// At most one confirmation mail per address in this many seconds.
const CONFIRM_GAP: i64 = 60;
/// Tries before a delivery is given up as failed.
pub const MAX_MAIL_ATTEMPTS: i64 = 8;

impl Store {
    /// Records a wish to follow and says which mail should answer it. The confirmation
    /// token (already hashed by the caller) is stored only when one is to be sent.
    pub async fn follow(&self, f: &FollowRequest, token_hash: &str) -> Result<FollowOutcome> {
        let mut tx = self.begin_write().await?;
        let t = now();
        let existing =
            sqlx::query("SELECT id, status, confirm_sent_at FROM subscribers WHERE email = $1")
                .bind(&f.email)
                .fetch_optional(&mut *tx)
                .await?;
        let outcome = match existing {
            Some(r) => {
                let id: i64 = r.get(0);
                let status: String = r.get(1);
                let sent: Option<i64> = r.try_get::<Option<i64>, _>(2).ok().flatten();
                if sent.is_some_and(|s| t - s < CONFIRM_GAP) {
                    FollowOutcome::TooSoon
                } else if status == "confirmed" {
                    sqlx::query("UPDATE subscribers SET confirm_sent_at = $1 WHERE id = $2")
                        .bind(t)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    FollowOutcome::AlreadyFollowing { subscriber_id: id }
                } else {
                    // Pending, unsubscribed or bounced: ask again, with the new choices.
                    sqlx::query(
                        "UPDATE subscribers SET status = 'pending', frequency = $1, categories = $2, tags = $3, authors = $4, \
                         confirm_token_hash = $5, confirm_expires_at = $6, confirm_sent_at = $7, updated_at = $7 WHERE id = $8",
                    )
                    .bind(&f.frequency)
                    .bind(f.categories.join(","))
                    .bind(f.tags.join(","))
                    .bind(f.authors.join(","))
                    .bind(token_hash)
                    .bind(t + CONFIRM_TTL)
                    .bind(t)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    FollowOutcome::Confirm { subscriber_id: id }
                }
            }
            None => {
                let id: i64 = sqlx::query(
                    "INSERT INTO subscribers (email, status, frequency, categories, tags, authors, source, confirm_token_hash, \
                     confirm_expires_at, confirm_sent_at, created_at, updated_at) \
                     VALUES ($1, 'pending', $2, $3, $4, $5, $6, $7, $8, $9, $9, $9) RETURNING id",
                )
                .bind(&f.email)
                .bind(&f.frequency)
                .bind(f.categories.join(","))
                .bind(f.tags.join(","))
                .bind(f.authors.join(","))
                .bind(&f.source)
                .bind(token_hash)
                .bind(t + CONFIRM_TTL)
                .bind(t)
                .fetch_one(&mut *tx)
                .await?
                .get(0);
                FollowOutcome::Confirm { subscriber_id: id }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Confirms the subscription whose token hashes to `token_hash`, once, before it expires.
    pub async fn confirm_follow(&self, token_hash: &str) -> Result<SubscriberRow> {
        let t = now();
        let sql = format!(
            "UPDATE subscribers SET status = 'confirmed', confirmed_at = $1, confirm_token_hash = NULL, updated_at = $1 \
             WHERE confirm_token_hash = $2 AND confirm_expires_at >= $1 RETURNING {SUB_COLS}"
        );
        sqlx::query(&sql)
            .bind(t)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(subscriber)
            .ok_or(StoreError::NotFound)
    }

    pub async fn subscriber_by_email(&self, email: &str) -> Result<SubscriberRow> {
        sqlx::query(&format!(
            "SELECT {SUB_COLS} FROM subscribers WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(subscriber)
        .ok_or(StoreError::NotFound)
    }

    pub async fn subscriber_by_id(&self, id: i64) -> Result<SubscriberRow> {
        sqlx::query(&format!("SELECT {SUB_COLS} FROM subscribers WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(subscriber)
            .ok_or(StoreError::NotFound)
    }

    /// Changes what a follower gets (from the signed "manage" link in their mails).
    pub async fn update_follow(&self, id: i64, f: &FollowRequest) -> Result<SubscriberRow> {
        let sql = format!(
            "UPDATE subscribers SET frequency = $1, categories = $2, tags = $3, authors = $4, updated_at = $5 \
             WHERE id = $6 RETURNING {SUB_COLS}"
        );
        sqlx::query(&sql)
            .bind(&f.frequency)
            .bind(f.categories.join(","))
            .bind(f.tags.join(","))
            .bind(f.authors.join(","))
            .bind(now())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(subscriber)
            .ok_or(StoreError::NotFound)
    }

    /// Stops all mail to a subscriber (one click, from any mail). Idempotent.
    pub async fn unsubscribe(&self, id: i64) -> Result<()> {
        let n = sqlx::query("UPDATE subscribers SET status = 'unsubscribed', updated_at = $1 WHERE id = $2 AND status <> 'bounced'")
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            // Unknown ids are not found; bounced ones stay bounced (and get nothing anyway).
            self.subscriber_by_id(id).await?;
        }
        Ok(())
    }

    /// A permanent refusal (5xx) of a delivery by the receiving server: the delivery is
    /// rejected and its address marked bounced (no more mail to it), in one transaction, so
    /// the two are never seen apart.
    pub async fn mail_refused(&self, d: &Delivery, error: &str) -> Result<()> {
        let error = clip_error(error);
        let mut tx = self.begin_write().await?;
        delivery_ended(d.id, "rejected", &error)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE subscribers SET status = 'bounced', updated_at = $1 WHERE email = $2")
            .bind(now())
            .bind(&d.to_email)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Subscribers for the admin list, newest first, with an optional search.
    pub async fn subscribers(
        &self,
        search: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<SubscriberRow>, i64)> {
        let pattern = search.map(|s| crate::like_containing(&s.to_lowercase()));
        let cond = if pattern.is_some() {
            "WHERE email LIKE $1 ESCAPE '\\'"
        } else {
            "WHERE $1 = $1"
        };
        let p = pattern.unwrap_or_default();
        let rows = sqlx::query(&format!(
            "SELECT {SUB_COLS} FROM subscribers {cond} ORDER BY id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(&p)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM subscribers {cond}"))
            .bind(&p)
            .fetch_one(&self.pool)
            .await?
            .get(0);
        Ok((rows.iter().map(subscriber).collect(), total))
    }

    /// Imports one follower from a list the site already had (CSV). An address that is
    /// already confirmed is left alone; a new one marked confirmed is trusted as such.
    /// Returns whether a confirmation mail should be sent.
    pub async fn import_follower(
        &self,
        email: &str,
        confirmed: bool,
        frequency: &str,
        token_hash: &str,
    ) -> Result<bool> {
        let t = now();
        let existing = sqlx::query("SELECT 1 FROM subscribers WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        if existing.is_some() {
            // Already known (confirmed or not): an import changes nothing and sends nothing.
            return Ok(false);
        }
        let status = if confirmed { "confirmed" } else { "pending" };
        sqlx::query(
            "INSERT INTO subscribers (email, status, frequency, source, confirm_token_hash, confirm_expires_at, confirm_sent_at, \
             confirmed_at, created_at, updated_at) VALUES ($1, $2, $3, 'import', $4, $5, $6, $7, $8, $8)",
        )
        .bind(email)
        .bind(status)
        .bind(frequency)
        .bind((!confirmed).then_some(token_hash))
        .bind((!confirmed).then_some(t + CONFIRM_TTL))
        .bind((!confirmed).then_some(t))
        .bind(confirmed.then_some(t))
        .bind(t)
        .execute(&self.pool)
        .await?;
        Ok(!confirmed)
    }

    // --- deliveries -------------------------------------------------------------------

    /// Queues mails; any whose key is already queued (or sent) is skipped.
    pub async fn queue_mail(&self, items: &[NewDelivery]) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let n = queue_in(&mut tx, items).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Announces every published post not announced yet: marks it and queues one mail per
    /// matching confirmed follower, in one transaction (so each follower gets it once, even
    /// when several nodes do this at the same moment). Returns the posts announced.
    pub async fn announce_due(&self) -> Result<Vec<i64>> {
        let mut tx = self.begin_write().await?;
        let t = now();
        let posts: Vec<(i64, i64, String)> = sqlx::query(
            "UPDATE posts SET announced_at = $1 WHERE kind = 'post' AND status = 'published' AND announced_at IS NULL \
             RETURNING id, author_id, (SELECT slug FROM users WHERE users.id = posts.author_id)",
        )
        .bind(t)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
        if posts.is_empty() {
            tx.commit().await?;
            return Ok(vec![]);
        }
        let followers: Vec<SubscriberRow> = sqlx::query(&format!(
            "SELECT {SUB_COLS} FROM subscribers WHERE status = 'confirmed' AND frequency = 'immediate'"
        ))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(subscriber)
        .collect();
        for (post_id, _, author_slug) in &posts {
            let terms: Vec<(String, String)> = sqlx::query(
                "SELECT t.taxonomy, t.slug FROM post_terms pt JOIN terms t ON t.id = pt.term_id WHERE pt.post_id = $1",
            )
            .bind(*post_id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
            let items: Vec<NewDelivery> = followers
                .iter()
                .filter(|s| follows(s, &terms, author_slug))
                .map(|s| NewDelivery {
                    dedupe_key: format!("post:{post_id}:sub:{}", s.id),
                    kind: "post".into(),
                    to_email: s.email.clone(),
                    subscriber_id: Some(s.id),
                    post_id: Some(*post_id),
                    payload: String::new(),
                })
                .collect();
            queue_in(&mut tx, &items).await?;
        }
        tx.commit().await?;
        Ok(posts.into_iter().map(|p| p.0).collect())
    }

    /// Queues one digest mail per confirmed follower of `frequency` ("daily" or "weekly")
    /// for whom posts matching their choices were announced since their last digest.
    /// `period` names the digest ("2026-12-01", "2026-W49"): a period is queued once, by
    /// whichever node gets there first, however often this runs. Returns the mails queued.
    pub async fn queue_digests(&self, frequency: &str, period: &str) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let t = now();
        let key = format!("digest_{frequency}_period");
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, '') ON CONFLICT (key) DO NOTHING",
        )
        .bind(&key)
        .execute(&mut *tx)
        .await?;
        let claimed = sqlx::query("UPDATE settings SET value = $1 WHERE key = $2 AND value <> $1")
            .bind(period)
            .bind(&key)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if claimed == 0 {
            tx.commit().await?;
            return Ok(0);
        }
        let followers: Vec<(SubscriberRow, i64)> = sqlx::query(&format!(
            "SELECT {SUB_COLS}, COALESCE(last_digest_at, confirmed_at, created_at) AS since FROM subscribers \
             WHERE status = 'confirmed' AND frequency = $1"
        ))
        .bind(frequency)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| (subscriber(r), r.get::<i64, _>("since")))
        .collect();
        let oldest = followers.iter().map(|f| f.1).min().unwrap_or(t);
        // Posts announced since the oldest follower's last digest, with what they are filed under.
        let posts: Vec<(i64, i64, String)> = sqlx::query(
            "SELECT p.id, p.announced_at, u.slug FROM posts p JOIN users u ON u.id = p.author_id \
             WHERE p.kind = 'post' AND p.status = 'published' AND p.announced_at >= $1 ORDER BY p.announced_at, p.id",
        )
        .bind(oldest)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
        let mut terms_of: std::collections::HashMap<i64, Vec<(String, String)>> =
            Default::default();
        for (id, _, _) in &posts {
            let terms = sqlx::query(
                "SELECT t.taxonomy, t.slug FROM post_terms pt JOIN terms t ON t.id = pt.term_id WHERE pt.post_id = $1",
            )
            .bind(*id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
            terms_of.insert(*id, terms);
        }
        let mut items = vec![];
        for (s, since) in &followers {
            let ids: Vec<i64> = posts
                .iter()
                // Same-second ties count in: a post may then appear in two digests, never in none.
                .filter(|(id, at, author)| {
                    *at >= *since
                        && follows(
                            s,
                            terms_of.get(id).map(Vec::as_slice).unwrap_or(&[]),
                            author,
                        )
                })
                .map(|p| p.0)
                .collect();
            if ids.is_empty() {
                continue;
            }
            items.push(NewDelivery {
                dedupe_key: format!("digest:{frequency}:{period}:{}", s.id),
                kind: "digest".into(),
                to_email: s.email.clone(),
                subscriber_id: Some(s.id),
                post_id: None,
                payload: serde_json::json!({ "post_ids": ids, "frequency": frequency }).to_string(),
            });
        }
        let n = queue_in(&mut tx, &items).await?;
        sqlx::query("UPDATE subscribers SET last_digest_at = $1 WHERE status = 'confirmed' AND frequency = $2")
            .bind(t)
            .bind(frequency)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Claims up to `limit` due deliveries for this node (or ones whose node died mid-send).
    pub async fn claim_mail(&self, limit: i64) -> Result<Vec<Delivery>> {
        let t = now();
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE mail_deliveries SET status = 'sending', attempts = attempts + 1, locked_until = $1 \
             WHERE id IN (SELECT id FROM mail_deliveries WHERE (status = 'queued' AND run_at <= $2) \
                          OR (status = 'sending' AND locked_until < $2) ORDER BY id LIMIT $3{lock}) \
             RETURNING id, dedupe_key, kind, to_email, subscriber_id, post_id, payload, attempts"
        );
        let rows = sqlx::query(&sql)
            .bind(t + self.mail_lease)
            .bind(t)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| Delivery {
                id: r.get("id"),
                dedupe_key: r.get("dedupe_key"),
                kind: r.get("kind"),
                to_email: r.get("to_email"),
                subscriber_id: r.try_get::<Option<i64>, _>("subscriber_id").ok().flatten(),
                post_id: r.try_get::<Option<i64>, _>("post_id").ok().flatten(),
                payload: opt_str(r, "payload").unwrap_or_default(),
                attempts: r.get("attempts"),
            })
            .collect())
    }

    /// Marks many deliveries sent in one write (one fsync instead of one per mail).
    pub async fn mails_sent(&self, ids: &[i64]) -> Result<()> {
        for chunk in ids.chunks(500) {
            let list: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
            let sql = format!(
                "UPDATE mail_deliveries SET status = 'sent', sent_at = $1, locked_until = NULL WHERE id IN ({})",
                list.join(", ")
            );
            let mut q = sqlx::query(&sql).bind(now());
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// The status of each of these subscribers.
    pub async fn subscriber_statuses(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, String>> {
        let mut out = std::collections::HashMap::new();
        for chunk in ids.chunks(500) {
            let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, status FROM subscribers WHERE id IN ({})",
                list.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.insert(r.get::<i64, _>(0), r.get::<String, _>(1));
            }
        }
        Ok(out)
    }

    pub async fn mail_sent(&self, id: i64) -> Result<()> {
        sqlx::query("UPDATE mail_deliveries SET status = 'sent', sent_at = $1, locked_until = NULL WHERE id = $2")
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A delivery that could not go out: retried with backoff, given up after the last try,
    /// or (`permanent`) refused for good.
    pub async fn mail_failed(&self, d: &Delivery, error: &str, permanent: bool) -> Result<()> {
        let error = clip_error(error);
        if permanent || d.attempts >= MAX_MAIL_ATTEMPTS {
            let status = if permanent { "rejected" } else { "failed" };
            delivery_ended(d.id, status, &error)
                .execute(&self.pool)
                .await?;
            return Ok(());
        }
        // 2, 4, 8 … 256 seconds: an SMTP outage of minutes costs minutes, not hours.
        let backoff = 2i64.pow(d.attempts.clamp(1, 12) as u32);
        let jitter = rand::thread_rng().gen_range(0..=backoff / 4 + 1);
        sqlx::query("UPDATE mail_deliveries SET status = 'queued', run_at = $1, last_error = $2, locked_until = NULL WHERE id = $3")
            .bind(now() + backoff + jitter)
            .bind(&error)
            .bind(d.id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn mail_stats(&self) -> Result<DeliveryStats> {
        let rows = sqlx::query("SELECT status, COUNT(*) FROM mail_deliveries GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        let mut s = DeliveryStats::default();
        for r in rows {
            let n: i64 = r.get(1);
            match r.get::<String, _>(0).as_str() {
                "queued" => s.queued = n,
                "sending" => s.sending = n,
                "sent" => s.sent = n,
                "rejected" => s.rejected = n,
                "failed" => s.failed = n,
                _ => {}
            }
        }
        Ok(s)
    }

    /// Who should hear of a new thought waiting for moderation: the post's author and every
    /// moderator, editor and admin.
    pub async fn moderation_recipients(&self, post_id: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT email FROM users WHERE role IN ('moderator', 'editor', 'admin') \
             OR id = (SELECT author_id FROM posts WHERE id = $1) ORDER BY id",
        )
        .bind(post_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Readers who asked to hear of new thoughts on a post: (watcher id, email).
    pub async fn thought_watchers(&self, post_id: i64) -> Result<Vec<(i64, String)>> {
        let rows =
            sqlx::query("SELECT id, email FROM thought_watchers WHERE post_id = $1 ORDER BY id")
                .bind(post_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub async fn stop_watching(&self, watcher_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM thought_watchers WHERE id = $1")
            .bind(watcher_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Whether a follower's choices include this post: everything when they chose nothing, else
/// any chosen category, tag or author.
fn follows(s: &SubscriberRow, terms: &[(String, String)], author_slug: &str) -> bool {
    if s.categories.is_empty() && s.tags.is_empty() && s.authors.is_empty() {
        return true;
    }
    s.authors.iter().any(|a| a == author_slug)
        || terms.iter().any(|(tax, slug)| {
            (tax == "category" && s.categories.contains(slug))
                || (tax == "tag" && s.tags.contains(slug))
        })
}

async fn queue_in(tx: &mut crate::Tx<'_>, items: &[NewDelivery]) -> Result<u64> {
    let t = now();
    let mut n = 0;
    for chunk in items.chunks(200) {
        let mut sql = String::from(
            "INSERT INTO mail_deliveries (dedupe_key, kind, to_email, subscriber_id, post_id, payload, status, run_at, created_at) VALUES ",
        );
        for (i, _) in chunk.iter().enumerate() {
            let b = i * 6;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, 'queued', ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                chunk.len() * 6 + 1,
                chunk.len() * 6 + 1
            ));
        }
        sql.push_str(" ON CONFLICT (dedupe_key) DO NOTHING");
        let mut q = sqlx::query(&sql);
        for d in chunk {
            q = q
                .bind(&d.dedupe_key)
                .bind(&d.kind)
                .bind(&d.to_email)
                .bind(d.subscriber_id)
                .bind(d.post_id)
                .bind(&d.payload);
        }
        n += q.bind(t).execute(&mut **tx).await?.rows_affected();
    }
    Ok(n)
}

/// A delivery's error as stored: at most 1,000 characters.
fn clip_error(error: &str) -> String {
    error.chars().take(1000).collect()
}

/// Ends a delivery for good: `rejected` (refused by the receiving server) or `failed`
/// (given up after its last try), with the error that ended it.
fn delivery_ended<'q>(
    id: i64,
    status: &'q str,
    error: &'q str,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    sqlx::query(
        "UPDATE mail_deliveries SET status = $1, last_error = $2, locked_until = NULL WHERE id = $3",
    )
    .bind(status)
    .bind(error)
    .bind(id)
}
