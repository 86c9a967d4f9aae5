//! Accounts beyond the basics: self-registered members, single-use mailed links (sign-in,
//! address proof, password reset, invitations, provider linking), sign-in providers
//! (OpenID Connect identities and the flows in progress), and signed-in devices.
//!
//! Secrets are stored only as SHA-256 hashes; a link is used by one atomic `UPDATE … WHERE
//! used_at IS NULL AND expires_at > now`, so two clicks (or two nodes) cannot both use it.

use crate::imports::free_slug;
use crate::users::{user, USER_COLS};
use crate::{bump_version, is_unique_violation, now, Result, Store, StoreError, UserRow};
use sqlx::Row;

/// How stale a session's "last seen" may get before a request refreshes it.
pub const SEEN_EVERY: i64 = 300;

/// A mailed link as stored.
#[derive(Debug, Clone)]
pub struct AccountLink {
    pub purpose: String,
    pub email: String,
    pub user_id: Option<i64>,
    /// What else the link carries (a provider identity to join, an invited role, …).
    pub data: String,
    pub expires_at: i64,
}

/// What became of a link someone followed.
#[derive(Debug, Clone)]
pub enum LinkOutcome {
    Used(AccountLink),
    AlreadyUsed,
    Expired,
    Unknown,
}

/// A sign-in with a provider that has started and not come back yet.
#[derive(Debug, Clone)]
pub struct OidcFlow {
    pub provider: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub next: String,
    /// Set when a signed-in member is joining a provider to their account.
    pub link_user_id: Option<i64>,
    /// Hash of a cookie set in the browser that started the flow.
    pub browser_hash: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Identity {
    pub id: i64,
    pub provider: String,
    pub email: String,
    pub created_at: i64,
}

/// A signed-in device, as its owner sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceSession {
    /// A handle naming the session in forms (the start of its hash; not the secret).
    pub handle: String,
    pub user_agent: String,
    pub ip: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// A new member who registered themselves.
pub struct NewMember<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub slug: &'a str,
    pub password_hash: Option<&'a str>,
    /// The address is proven already (a provider vouched for it, or a mailed link was used).
    pub verified: bool,
    pub role: &'a str,
}

impl Store {
    /// Creates a member account; a taken slug gets a suffix, a taken email is a Conflict.
    pub async fn create_member(&self, m: NewMember<'_>) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let slug = free_slug(&mut tx, "SELECT 1 FROM users WHERE slug = $1", m.slug).await?;
        let t = now();
        let id: i64 = sqlx::query(
            "INSERT INTO users (email, name, slug, role, password_hash, created_at, email_verified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(m.email)
        .bind(m.name)
        .bind(&slug)
        .bind(m.role)
        .bind(m.password_hash)
        .bind(t)
        .bind(m.verified.then_some(t))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict("an account with this email already exists".into())
            } else {
                e.into()
            }
        })?
        .get(0);
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The owner of an address signs in by a mailed link to an account that had never proven
    /// it: whatever was set up before (a password, sessions, providers) may be a stranger's,
    /// made in the owner's name, so it is cleared. Proven accounts are left as they are.
    pub async fn claim_unproven_account(&self, user_id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let unproven =
            sqlx::query("SELECT 1 FROM users WHERE id = $1 AND email_verified_at IS NULL")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
        if unproven {
            for sql in [
                "UPDATE users SET password_hash = NULL, totp_secret = NULL WHERE id = $1",
                "DELETE FROM sessions WHERE user_id = $1",
                "DELETE FROM identities WHERE user_id = $1",
                "DELETE FROM api_tokens WHERE user_id = $1",
            ] {
                sqlx::query(sql).bind(user_id).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn mark_email_verified(&self, user_id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE users SET email_verified_at = $1 WHERE id = $2 AND email_verified_at IS NULL",
        )
        .bind(now())
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sets a new password and signs the account out everywhere (a reset is often made
    /// because someone else knew the old one).
    pub async fn set_password(&self, user_id: i64, hash: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores a mailed link (by the hash of its token).
    pub async fn create_account_link(
        &self,
        token_hash: &str,
        purpose: &str,
        email: &str,
        user_id: Option<i64>,
        data: &str,
        ttl: i64,
    ) -> Result<()> {
        let t = now();
        sqlx::query(
            "INSERT INTO account_links (token_hash, purpose, email, user_id, data, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token_hash)
        .bind(purpose)
        .bind(email)
        .bind(user_id)
        .bind(data)
        .bind(t)
        .bind(t + ttl)
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM account_links WHERE expires_at < $1")
            .bind(t - 30 * 86_400)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Links of a purpose mailed to an address since `since` (to limit how many are sent).
    pub async fn account_links_since(&self, email: &str, purpose: &str, since: i64) -> Result<i64> {
        Ok(sqlx::query(
            "SELECT COUNT(*) FROM account_links WHERE email = $1 AND purpose = $2 AND created_at >= $3",
        )
        .bind(email)
        .bind(purpose)
        .bind(since)
        .fetch_one(&self.pool)
        .await?
        .get(0))
    }

    /// What a link is, without using it (for the page that asks to confirm).
    pub async fn peek_account_link(&self, token_hash: &str, purpose: &str) -> Result<LinkOutcome> {
        let row = sqlx::query(
            "SELECT purpose, email, user_id, data, expires_at, used_at FROM account_links WHERE token_hash = $1 AND purpose = $2",
        )
        .bind(token_hash)
        .bind(purpose)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            None => LinkOutcome::Unknown,
            Some(r) => {
                let used: Option<i64> = r.try_get(5).ok().flatten();
                let link = AccountLink {
                    purpose: r.get(0),
                    email: r.get(1),
                    user_id: r.try_get(2).ok().flatten(),
                    data: r.get(3),
                    expires_at: r.get(4),
                };
                if used.is_some() {
                    LinkOutcome::AlreadyUsed
                } else if link.expires_at <= now() {
                    LinkOutcome::Expired
                } else {
                    LinkOutcome::Used(link)
                }
            }
        })
    }

    /// Uses a link: once, before it expires.
    pub async fn use_account_link(&self, token_hash: &str, purpose: &str) -> Result<LinkOutcome> {
        let t = now();
        let row = sqlx::query(
            "UPDATE account_links SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 \
             RETURNING purpose, email, user_id, data, expires_at",
        )
        .bind(t)
        .bind(token_hash)
        .bind(purpose)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(LinkOutcome::Used(AccountLink {
                purpose: r.get(0),
                email: r.get(1),
                user_id: r.try_get(2).ok().flatten(),
                data: r.get(3),
                expires_at: r.get(4),
            })),
            // Say why: the peek sees the row as it is now.
            None => Ok(match self.peek_account_link(token_hash, purpose).await? {
                LinkOutcome::Used(_) => LinkOutcome::AlreadyUsed,
                other => other,
            }),
        }
    }

    pub async fn save_oidc_flow(&self, state_hash: &str, f: &OidcFlow) -> Result<()> {
        let t = now();
        sqlx::query(
            "INSERT INTO oidc_flows (state_hash, provider, nonce, pkce_verifier, next, link_user_id, browser_hash, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(state_hash)
        .bind(&f.provider)
        .bind(&f.nonce)
        .bind(&f.pkce_verifier)
        .bind(&f.next)
        .bind(f.link_user_id)
        .bind(&f.browser_hash)
        .bind(f.expires_at)
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM oidc_flows WHERE expires_at < $1")
            .bind(t)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Takes (and forgets) the flow a provider's answer belongs to: a `state` works once.
    pub async fn take_oidc_flow(&self, state_hash: &str) -> Result<Option<OidcFlow>> {
        let row = sqlx::query(
            "DELETE FROM oidc_flows WHERE state_hash = $1 \
             RETURNING provider, nonce, pkce_verifier, next, link_user_id, browser_hash, expires_at",
        )
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|r| OidcFlow {
                provider: r.get(0),
                nonce: r.get(1),
                pkce_verifier: r.get(2),
                next: r.get(3),
                link_user_id: r.try_get(4).ok().flatten(),
                browser_hash: r.get(5),
                expires_at: r.get(6),
            })
            .filter(|f| f.expires_at > now()))
    }

    /// The member a provider's identity belongs to.
    pub async fn user_by_identity(&self, provider: &str, subject: &str) -> Result<UserRow> {
        let sql = format!(
            "SELECT {USER_COLS} FROM identities i JOIN users u ON u.id = i.user_id WHERE i.provider = $1 AND i.subject = $2"
        );
        sqlx::query(&sql)
            .bind(provider)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| user(&r))
            .ok_or(StoreError::NotFound)
    }

    /// Joins a provider identity to an account; Conflict if it belongs to another.
    pub async fn add_identity(
        &self,
        user_id: i64,
        provider: &str,
        subject: &str,
        email: &str,
    ) -> Result<()> {
        let r = sqlx::query(
            "INSERT INTO identities (user_id, provider, subject, email, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (provider, subject) DO NOTHING",
        )
        .bind(user_id)
        .bind(provider)
        .bind(subject)
        .bind(email)
        .bind(now())
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            let owner: i64 =
                sqlx::query("SELECT user_id FROM identities WHERE provider = $1 AND subject = $2")
                    .bind(provider)
                    .bind(subject)
                    .fetch_one(&self.pool)
                    .await?
                    .get(0);
            if owner != user_id {
                return Err(StoreError::Conflict(
                    "this sign-in is already joined to another account".into(),
                ));
            }
        }
        Ok(())
    }

    pub async fn identities_of(&self, user_id: i64) -> Result<Vec<Identity>> {
        Ok(sqlx::query(
            "SELECT id, provider, email, created_at FROM identities WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Identity {
            id: r.get(0),
            provider: r.get(1),
            email: r.get(2),
            created_at: r.get(3),
        })
        .collect())
    }

    pub async fn remove_identity(&self, user_id: i64, id: i64) -> Result<()> {
        let n = sqlx::query("DELETE FROM identities WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// A session that knows which device it is on.
    pub async fn create_device_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        ttl_secs: i64,
        user_agent: &str,
        ip: &str,
    ) -> Result<()> {
        let t = now();
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at, user_agent, ip, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(t)
        .bind(t + ttl_secs)
        .bind(user_agent)
        .bind(ip)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks a session as seen now (callers do it when it was last seen over
    /// [`SEEN_EVERY`] seconds ago: a write per page view would cost more than the list of
    /// devices is worth).
    pub async fn touch_session(&self, token_hash: &str) -> Result<()> {
        let t = now();
        sqlx::query(
            "UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2 AND last_seen_at < $3",
        )
        .bind(t)
        .bind(token_hash)
        .bind(t - 300)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn sessions_of(&self, user_id: i64) -> Result<Vec<(String, DeviceSession)>> {
        Ok(sqlx::query(
            "SELECT token_hash, user_agent, ip, created_at, last_seen_at, expires_at FROM sessions \
             WHERE user_id = $1 AND expires_at > $2 ORDER BY last_seen_at DESC, created_at DESC",
        )
        .bind(user_id)
        .bind(now())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let hash: String = r.get(0);
            let s = DeviceSession {
                handle: hash.chars().take(16).collect(),
                user_agent: r.get(1),
                ip: r.get(2),
                created_at: r.get(3),
                last_seen_at: r.get(4),
                expires_at: r.get(5),
            };
            (hash, s)
        })
        .collect())
    }

    /// Signs one of a member's devices out (by its handle).
    pub async fn end_session(&self, user_id: i64, handle: &str) -> Result<()> {
        if handle.len() != 16 || !handle.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NotFound);
        }
        let n = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash LIKE $2")
            .bind(user_id)
            .bind(format!("{handle}%"))
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Signs every other device of a member out.
    pub async fn end_other_sessions(&self, user_id: i64, keep_hash: &str) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                .bind(user_id)
                .bind(keep_hash)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Failures for `key` since `since`: how many, and when the latest was.
    pub async fn login_failure_stats(&self, key: &str, since: i64) -> Result<(i64, i64)> {
        let r = sqlx::query(
            "SELECT COUNT(*), COALESCE(MAX(at), 0) FROM login_failures WHERE key = $1 AND at >= $2",
        )
        .bind(key)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok((r.get(0), r.get(1)))
    }

    /// Updates what a member shows about themselves.
    pub async fn update_member_profile(
        &self,
        user_id: i64,
        name: &str,
        bio_markdown: &str,
        bio_html: &str,
        website: &str,
        hidden: bool,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE users SET name = $1, bio_markdown = $2, bio_html = $3, website = $4, profile_hidden = $5 WHERE id = $6",
        )
        .bind(name)
        .bind(bio_markdown)
        .bind(bio_html)
        .bind(website)
        .bind(i64::from(hidden))
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Turns two-factor sign-in on (with its recovery codes, replacing any before) or off.
    pub async fn set_two_factor(
        &self,
        user_id: i64,
        secret: Option<&str>,
        recovery_hashes: &[String],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET totp_secret = $1, totp_last_step = 0 WHERE id = $2")
            .bind(secret)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for h in recovery_hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user_id)
                .bind(h)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Accepts a one-time code's time step once: false when this step (or a later one) was
    /// used already, so a code seen over a shoulder cannot be replayed.
    pub async fn use_totp_step(&self, user_id: i64, step: i64) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1",
        )
        .bind(step)
        .bind(user_id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Uses a recovery code (by hash): once.
    pub async fn use_recovery_code(&self, user_id: i64, code_hash: &str) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now())
        .bind(user_id)
        .bind(code_hash)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    pub async fn recovery_codes_left(&self, user_id: i64) -> Result<i64> {
        Ok(sqlx::query(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?
        .get(0))
    }

    /// Everything a member wrote, for their download: thoughts (with the post's title and
    /// address parts) and debate messages (with the debate's title and slug).
    pub async fn member_writing(&self, user_id: i64) -> Result<MemberWriting> {
        let thoughts = sqlx::query(
            "SELECT t.id, t.kind, t.status, t.body_markdown, t.created_at, t.updated_at, p.title, p.slug, p.kind, p.publish_at \
             FROM thoughts t JOIN posts p ON p.id = t.post_id WHERE t.user_id = $1 AND t.deleted = 0 ORDER BY t.id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| WrittenThought {
            id: r.get(0),
            kind: r.get(1),
            status: r.get(2),
            body_markdown: r.get(3),
            created_at: r.get(4),
            updated_at: r.get(5),
            post_title: r.get(6),
            post_slug: r.get(7),
            post_kind: r.get(8),
            post_publish_at: r.try_get(9).ok().flatten(),
        })
        .collect();
        let messages = sqlx::query(
            "SELECT m.id, m.kind, m.question, m.body, m.hidden, m.created_at, d.title, d.slug \
             FROM debate_messages m JOIN debates d ON d.id = m.debate_id WHERE m.user_id = $1 ORDER BY m.created_at, m.id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| WrittenMessage {
            id: r.get(0),
            kind: r.get(1),
            question: r.try_get(2).ok().flatten(),
            body: r.get(3),
            hidden: r.try_get::<i64, _>(4).unwrap_or(0) != 0,
            created_at: r.get(5),
            debate_title: r.get(6),
            debate_slug: r.get(7),
        })
        .collect();
        Ok(MemberWriting { thoughts, messages })
    }

    /// Deletes a member's account. Their thoughts and debate messages stay, signed "former
    /// member", or (`remove`) are taken down; their follows, registrations, sessions and
    /// sign-ins go. An account that wrote posts or hosts debates is refused (its work must
    /// be given to someone first).
    pub async fn delete_member(&self, user_id: i64, remove: bool) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let email: String = sqlx::query("SELECT email FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?
            .get(0);
        let busy = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM posts WHERE author_id = $1) + (SELECT COUNT(*) FROM debates WHERE host_id = $1)",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?
        .get::<i64, _>(0);
        if busy > 0 {
            return Err(StoreError::Conflict(
                "this account wrote posts or hosts debates: an admin must give them to someone else before it can be deleted".into(),
            ));
        }
        if remove {
            sqlx::query("UPDATE thoughts SET deleted = 1, body_markdown = '', body_html = '', author_name = 'former member', author_email = '', author_url = '' WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE debate_messages SET hidden = 1, author_name = 'former member' WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query("UPDATE thoughts SET author_name = 'former member', author_email = '', author_url = '' WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE debate_messages SET author_name = 'former member' WHERE user_id = $1",
            )
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        }
        for sql in [
            "DELETE FROM subscribers WHERE email = $1",
            "DELETE FROM thought_watchers WHERE email = $1",
            "DELETE FROM debate_registrations WHERE email = $1",
            "DELETE FROM account_links WHERE email = $1",
        ] {
            sqlx::query(sql).bind(&email).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        // Every page that showed their name changes.
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct WrittenThought {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub body_markdown: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub post_title: String,
    pub post_slug: String,
    pub post_kind: String,
    pub post_publish_at: Option<i64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct WrittenMessage {
    pub id: i64,
    pub kind: String,
    pub question: Option<i64>,
    pub body: String,
    pub hidden: bool,
    pub created_at: i64,
    pub debate_title: String,
    pub debate_slug: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct MemberWriting {
    pub thoughts: Vec<WrittenThought>,
    pub messages: Vec<WrittenMessage>,
}
