use crate::{bump_version, is_unique_violation, now, opt_str, Result, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, serde::Serialize)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub slug: String,
    pub role: String,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub bio_markdown: String,
    pub bio_html: String,
    pub avatar_file: Option<String>,
    pub created_at: i64,
    /// When the owner proved the address (a mailed link, or a provider that vouched for it).
    pub email_verified_at: Option<i64>,
    pub website: String,
    /// The member asked for no public page.
    pub profile_hidden: bool,
    /// The two-factor key (hex), when two-factor sign-in is on.
    #[serde(skip)]
    pub totp_secret: Option<String>,
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub slug: &'a str,
    pub role: &'a str,
    pub password_hash: Option<&'a str>,
    pub bio_markdown: &'a str,
    pub bio_html: &'a str,
}

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub user: UserRow,
    pub csrf: String,
    pub expires_at: i64,
    /// When the device was last seen (kept to within five minutes).
    pub last_seen_at: i64,
}

pub(crate) const USER_COLS: &str = "u.id, u.email, u.name, u.slug, u.role, u.password_hash, u.bio_markdown, u.bio_html, u.avatar_file, u.created_at, \
    u.email_verified_at, u.website, u.profile_hidden, u.totp_secret";

pub(crate) fn user(r: &AnyRow) -> UserRow {
    UserRow {
        id: r.get("id"),
        email: r.get("email"),
        name: r.get("name"),
        slug: r.get("slug"),
        role: r.get("role"),
        password_hash: opt_str(r, "password_hash"),
        bio_markdown: r.get("bio_markdown"),
        bio_html: r.get("bio_html"),
        avatar_file: opt_str(r, "avatar_file"),
        created_at: r.get("created_at"),
        email_verified_at: r
            .try_get::<Option<i64>, _>("email_verified_at")
            .ok()
            .flatten(),
        website: r.try_get("website").unwrap_or_default(),
        profile_hidden: r.try_get::<i64, _>("profile_hidden").unwrap_or(0) != 0,
        totp_secret: opt_str(r, "totp_secret"),
    }
}

impl Store {
    /// Creates a user; the slug gets a numeric suffix when another user already has it.
    pub async fn create_user(&self, u: NewUser<'_>) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT 1 FROM users WHERE email = $1")
            .bind(u.email)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(StoreError::Conflict(format!(
                "a user with email {} already exists",
                u.email
            )));
        }
        let slug =
            crate::imports::free_slug(&mut tx, "SELECT 1 FROM users WHERE slug = $1", u.slug)
                .await?;
        let row = sqlx::query(
            "INSERT INTO users (email, name, slug, role, password_hash, bio_markdown, bio_html, created_at, email_verified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(u.email)
        .bind(u.name)
        .bind(&slug)
        .bind(u.role)
        .bind(u.password_hash)
        .bind(u.bio_markdown)
        .bind(u.bio_html)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict("a user with this email already exists".into())
            } else {
                e.into()
            }
        })?;
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(row.get(0))
    }

    /// Admins on the site. Until there is one, the first-run setup link is offered: a site
    /// may already have users who cannot run it (the demo's author, imported authors).
    pub async fn count_admins(&self) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) FROM users WHERE role = 'admin'")
                .fetch_one(&self.pool)
                .await?
                .get(0),
        )
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users u ORDER BY u.name");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(user).collect())
    }

    pub async fn user_by_email(&self, email: &str) -> Result<UserRow> {
        let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.email = $1");
        self.one_user(&sql, email).await
    }

    pub async fn user_by_slug(&self, slug: &str) -> Result<UserRow> {
        let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.slug = $1");
        self.one_user(&sql, slug).await
    }

    pub async fn user_by_id(&self, id: i64) -> Result<UserRow> {
        let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.id = $1");
        let r = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(user).ok_or(StoreError::NotFound)
    }

    async fn one_user(&self, sql: &str, key: &str) -> Result<UserRow> {
        let r = sqlx::query(sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(user).ok_or(StoreError::NotFound)
    }

    pub async fn update_user_profile(
        &self,
        id: i64,
        name: &str,
        role: &str,
        bio_markdown: &str,
        bio_html: &str,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE users SET name = $1, role = $2, bio_markdown = $3, bio_html = $4 WHERE id = $5",
        )
        .bind(name)
        .bind(role)
        .bind(bio_markdown)
        .bind(bio_html)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_user_avatar(&self, id: i64, file: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET avatar_file = $1 WHERE id = $2")
            .bind(file)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn session(&self, token_hash: &str) -> Result<SessionRow> {
        let sql = format!(
            "SELECT {USER_COLS}, s.csrf, s.expires_at, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2"
        );
        let r = sqlx::query(&sql)
            .bind(token_hash)
            .bind(now())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(SessionRow {
            user: user(&r),
            csrf: r.get("csrf"),
            expires_at: r.get("expires_at"),
            last_seen_at: r.try_get("last_seen_at").unwrap_or(0),
        })
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1 OR expires_at < $2")
            .bind(token_hash)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn create_api_token(&self, token_hash: &str, user_id: i64) -> Result<()> {
        sqlx::query("INSERT INTO api_tokens (token_hash, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn user_by_api_token(&self, token_hash: &str) -> Result<UserRow> {
        let sql = format!(
            "SELECT {USER_COLS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"
        );
        self.one_user(&sql, token_hash).await
    }

    /// Records a failed login for `key` (an email or a client address).
    pub async fn record_login_failure(&self, key: &str) -> Result<()> {
        let t = now();
        sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(t)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(t - 86_400)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn login_failures_since(&self, key: &str, since: i64) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at >= $2")
                .bind(key)
                .bind(since)
                .fetch_one(&self.pool)
                .await?
                .get(0),
        )
    }

    pub async fn clear_login_failures(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Replaces any earlier first-run setup token with this one.
    pub async fn set_setup_token(&self, token_hash: &str, expires_at: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM setup_tokens")
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO setup_tokens (token_hash, expires_at) VALUES ($1, $2)")
            .bind(token_hash)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn setup_token_valid(&self, token_hash: &str) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2")
                .bind(token_hash)
                .bind(now())
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// Creates the first admin with a valid setup token, consuming it, in one transaction:
    /// a token works once, and never after an admin exists.
    pub async fn complete_setup(&self, token_hash: &str, u: NewUser<'_>) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2")
            .bind(token_hash)
            .bind(now())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let admins: i64 = sqlx::query("SELECT COUNT(*) FROM users WHERE role = 'admin'")
            .fetch_one(&mut *tx)
            .await?
            .get(0);
        if n == 0 || admins > 0 {
            return Err(StoreError::NotFound);
        }
        let row = sqlx::query(
            "INSERT INTO users (email, name, slug, role, password_hash, bio_markdown, bio_html, created_at, email_verified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(u.email)
        .bind(u.name)
        .bind(u.slug)
        .bind(u.role)
        .bind(u.password_hash)
        .bind(u.bio_markdown)
        .bind(u.bio_html)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?;
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(row.get(0))
    }
}
