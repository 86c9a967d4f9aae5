use crate::{
    bump_version, is_unique_violation, jobs, now, opt_str, Backend, Result, Store, StoreError, Tx,
};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;

#[derive(Debug, Clone, serde::Serialize)]
pub struct PostRow {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub slug: String,
    pub body_markdown: String,
    pub body_html: String,
    pub excerpt: String,
    pub status: String,
    pub publish_at: Option<i64>,
    pub author_id: i64,
    pub author_name: String,
    pub author_slug: String,
    pub featured_image: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub word_count: i64,
    /// The per-post switch; the site may also close thoughts after some days.
    pub thoughts_open: bool,
    /// Shown first on the front page (WordPress's sticky posts).
    pub sticky: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TermRow {
    pub id: i64,
    pub taxonomy: String,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub parent_id: Option<i64>,
    /// Published posts carrying the term (filled by listings that count).
    pub count: i64,
}

/// A term named by an author; the slug is derived by the caller with the domain rules.
#[derive(Debug, Clone)]
pub struct TermInput {
    pub name: String,
    pub slug: String,
}

/// Everything a new post or page is made of, already validated by the caller.
#[derive(Debug, Clone)]
pub struct NewPost {
    pub kind: String,
    pub title: String,
    pub slug: String,
    /// When true and `slug` is taken, a free `slug-N` is chosen; when false, a clash is a Conflict.
    pub slug_was_derived: bool,
    pub body_markdown: String,
    pub body_html: String,
    pub plain_text: String,
    pub excerpt: String,
    pub status: String,
    pub publish_at: Option<i64>,
    pub author_id: i64,
    pub featured_image: Option<String>,
    pub tags: Vec<TermInput>,
    pub categories: Vec<TermInput>,
}

/// A partial update: `None` leaves the field as it is.
#[derive(Debug, Clone, Default)]
pub struct PostPatch {
    pub title: Option<String>,
    pub slug: Option<String>,
    pub body: Option<(String, String, String, String)>,
    pub status: Option<String>,
    pub publish_at: Option<Option<i64>>,
    pub featured_image: Option<Option<String>>,
    pub tags: Option<Vec<TermInput>>,
    pub categories: Option<Vec<TermInput>>,
}

/// A post with everything its page shows.
#[derive(Debug, Clone)]
pub struct PostPage {
    pub post: PostRow,
    pub terms: Vec<TermRow>,
    pub thoughts: Vec<crate::ThoughtRow>,
    pub likes: Vec<crate::LikeRow>,
}

/// Reads a JSON array of terms (see the aggregating queries below).
fn decode_terms(json: &str) -> Result<Vec<TermRow>> {
    #[derive(serde::Deserialize)]
    struct T {
        id: i64,
        taxonomy: String,
        name: String,
        slug: String,
        description: String,
        parent_id: Option<i64>,
    }
    let terms: Vec<T> = serde_json::from_str(json)
        .map_err(|e| StoreError::Db(sqlx::Error::Decode(format!("terms of a post: {e}").into())))?;
    Ok(terms
        .into_iter()
        .map(|t| TermRow {
            id: t.id,
            taxonomy: t.taxonomy,
            name: t.name,
            slug: t.slug,
            description: t.description,
            parent_id: t.parent_id,
            count: 0,
        })
        .collect())
}

#[derive(Debug, Clone)]
pub enum ListFilter {
    /// Every published post.
    All,
    /// Every published post, sticky ones first (the front page).
    Front,
    /// Published posts carrying any of these terms.
    Terms(Vec<i64>),
    Author(i64),
    /// Published in `[from, to)` (Unix seconds).
    Between(i64, i64),
}

/// `plain_len` (for the reading time) counts bytes: `LENGTH` would walk the text to count
/// characters on every read of a post.
pub(crate) const POST_COLS: &str = "p.id, p.kind, p.title, p.slug, p.body_markdown, p.body_html, p.excerpt, p.status, \
    p.publish_at, p.author_id, u.name AS author_name, u.slug AS author_slug, p.featured_image, p.created_at, p.updated_at, \
    CAST(OCTET_LENGTH(p.plain_text) AS BIGINT) AS plain_len, p.thoughts_open, p.sticky";

/// Columns for listings: everything but the bodies, which listings never show.
const SUMMARY_COLS: &str = "p.id, p.kind, p.title, p.slug, '' AS body_markdown, '' AS body_html, p.excerpt, p.status, \
    p.publish_at, p.author_id, u.name AS author_name, u.slug AS author_slug, p.featured_image, p.created_at, p.updated_at, \
    CAST(OCTET_LENGTH(p.plain_text) AS BIGINT) AS plain_len, p.thoughts_open, p.sticky";

pub(crate) fn post(r: &AnyRow) -> PostRow {
    PostRow {
        id: r.get("id"),
        kind: r.get("kind"),
        title: r.get("title"),
        slug: r.get("slug"),
        body_markdown: r.get("body_markdown"),
        body_html: r.get("body_html"),
        excerpt: r.get("excerpt"),
        status: r.get("status"),
        publish_at: r.try_get::<Option<i64>, _>("publish_at").ok().flatten(),
        author_id: r.get("author_id"),
        author_name: r.get("author_name"),
        author_slug: r.get("author_slug"),
        featured_image: opt_str(r, "featured_image"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        // About six characters a word including the space: good enough for "N min read".
        word_count: r.try_get::<i64, _>("plain_len").unwrap_or(0) / 6,
        thoughts_open: r.try_get::<i64, _>("thoughts_open").unwrap_or(1) != 0,
        sticky: r.try_get::<i64, _>("sticky").unwrap_or(0) != 0,
    }
}

fn term(r: &AnyRow) -> TermRow {
    TermRow {
        id: r.get("id"),
        taxonomy: r.get("taxonomy"),
        name: r.get("name"),
        slug: r.get("slug"),
        description: r.get("description"),
        parent_id: r.try_get::<Option<i64>, _>("parent_id").ok().flatten(),
        count: r.try_get::<i64, _>("cnt").unwrap_or(0),
    }
}

fn filter_sql(f: &ListFilter) -> (String, Vec<i64>) {
    match f {
        ListFilter::All | ListFilter::Front => (String::new(), vec![]),
        ListFilter::Author(id) => (" AND p.author_id = $1".into(), vec![*id]),
        ListFilter::Between(a, b) => (
            " AND p.publish_at >= $1 AND p.publish_at < $2".into(),
            vec![*a, *b],
        ),
        ListFilter::Terms(ids) => {
            let list: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
            (
                format!(
                    " AND EXISTS (SELECT 1 FROM post_terms pt WHERE pt.post_id = p.id AND pt.term_id IN ({}))",
                    if list.is_empty() { "NULL".to_string() } else { list.join(", ") }
                ),
                ids.clone(),
            )
        }
    }
}

impl Store {
    pub async fn create_post(&self, p: NewPost) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let mut slug = p.slug.clone();
        let mut n = 2;
        while slug_taken(&mut tx, &p.kind, &slug, None).await? {
            if !p.slug_was_derived {
                return Err(StoreError::Conflict(format!(
                    "another {} already has the slug {slug:?}",
                    p.kind
                )));
            }
            slug = colloquy_core::slug::suffixed(&p.slug, n);
            n += 1;
        }
        let t = now();
        let row = sqlx::query(
            "INSERT INTO posts (kind, title, slug, body_markdown, body_html, plain_text, excerpt, status, publish_at, author_id, featured_image, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
        )
        .bind(&p.kind)
        .bind(&p.title)
        .bind(&slug)
        .bind(&p.body_markdown)
        .bind(&p.body_html)
        .bind(&p.plain_text)
        .bind(&p.excerpt)
        .bind(&p.status)
        .bind(p.publish_at)
        .bind(p.author_id)
        .bind(p.featured_image.as_deref())
        .bind(t)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("another {} already has the slug {slug:?}", p.kind))
            } else {
                e.into()
            }
        })?;
        let id: i64 = row.get(0);
        set_terms(&mut tx, id, "tag", &p.tags).await?;
        set_terms(&mut tx, id, "category", &p.categories).await?;
        if p.status == "scheduled" {
            if let Some(at) = p.publish_at {
                jobs::enqueue_in(&mut tx, "publish_due", "{}", at, 10).await?;
            }
        }
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn update_post(&self, id: i64, patch: PostPatch) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let cur = sqlx::query("SELECT kind FROM posts WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let kind: String = cur.get(0);
        if let Some(slug) = &patch.slug {
            if slug_taken(&mut tx, &kind, slug, Some(id)).await? {
                return Err(StoreError::Conflict(format!(
                    "another {kind} already has the slug {slug:?}"
                )));
            }
        }
        let t = now();
        let mut sets = vec!["updated_at = $1".to_string()];
        let mut texts: Vec<Option<String>> = vec![];
        let mut n = 3; // $1 = updated_at, $2 = id
        let mut push = |col: &str, v: Option<String>, sets: &mut Vec<String>| {
            sets.push(format!("{col} = ${n}"));
            texts.push(v);
            n += 1;
        };
        if let Some(v) = &patch.title {
            push("title", Some(v.clone()), &mut sets);
        }
        if let Some(v) = &patch.slug {
            push("slug", Some(v.clone()), &mut sets);
        }
        if let Some((md, html, plain, excerpt)) = &patch.body {
            push("body_markdown", Some(md.clone()), &mut sets);
            push("body_html", Some(html.clone()), &mut sets);
            push("plain_text", Some(plain.clone()), &mut sets);
            push("excerpt", Some(excerpt.clone()), &mut sets);
        }
        if let Some(v) = &patch.status {
            push("status", Some(v.clone()), &mut sets);
        }
        if let Some(v) = &patch.featured_image {
            push("featured_image", v.clone(), &mut sets);
        }
        let sql = format!(
            "UPDATE posts SET {}{} WHERE id = $2",
            sets.join(", "),
            if patch.publish_at.is_some() {
                format!(", publish_at = ${n}")
            } else {
                String::new()
            }
        );
        let mut q = sqlx::query(&sql).bind(t).bind(id);
        for v in texts {
            q = q.bind(v);
        }
        if let Some(at) = patch.publish_at {
            q = q.bind(at);
        }
        q.execute(&mut *tx).await.map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("another {kind} already has this slug"))
            } else {
                e.into()
            }
        })?;
        if let Some(tags) = &patch.tags {
            sqlx::query("DELETE FROM post_terms WHERE post_id = $1 AND term_id IN (SELECT id FROM terms WHERE taxonomy = 'tag')")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            set_terms(&mut tx, id, "tag", tags).await?;
        }
        if let Some(cats) = &patch.categories {
            sqlx::query("DELETE FROM post_terms WHERE post_id = $1 AND term_id IN (SELECT id FROM terms WHERE taxonomy = 'category')")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            set_terms(&mut tx, id, "category", cats).await?;
        }
        if patch.status.as_deref() == Some("scheduled") {
            if let Some(Some(at)) = patch.publish_at {
                jobs::enqueue_in(&mut tx, "publish_due", "{}", at, 10).await?;
            }
        }
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_post(&self, id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM posts WHERE id = $1")
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

    /// Publishes every scheduled post whose time has come; returns how many.
    pub async fn publish_due(&self) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE posts SET status = 'published' WHERE status = 'scheduled' AND publish_at <= $1",
        )
        .bind(now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n > 0 {
            bump_version(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    pub async fn post_by_id(&self, id: i64) -> Result<PostRow> {
        let sql = format!(
            "SELECT {POST_COLS} FROM posts p JOIN users u ON u.id = p.author_id WHERE p.id = $1"
        );
        let r = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(post).ok_or(StoreError::NotFound)
    }

    pub async fn post_by_slug(&self, kind: &str, slug: &str) -> Result<PostRow> {
        let sql = format!(
            "SELECT {POST_COLS} FROM posts p JOIN users u ON u.id = p.author_id WHERE p.kind = $1 AND p.slug = $2"
        );
        let r = sqlx::query(&sql)
            .bind(kind)
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(post).ok_or(StoreError::NotFound)
    }

    /// Everything a post page shows, in one query: the post, its terms, its approved
    /// thoughts and its likes. The post's `body_markdown` is left empty.
    pub async fn post_page(&self, kind: &str, slug: &str) -> Result<PostPage> {
        let terms = match self.backend {
            Backend::Sqlite => "(SELECT json_group_array(json_object('id', t.id, 'taxonomy', t.taxonomy, 'name', t.name, \
                'slug', t.slug, 'description', t.description, 'parent_id', t.parent_id) ORDER BY pt.position) \
                FROM post_terms pt JOIN terms t ON t.id = pt.term_id WHERE pt.post_id = p.id)",
            Backend::Postgres => "(SELECT CAST(COALESCE(json_agg(json_build_object('id', t.id, 'taxonomy', t.taxonomy, 'name', t.name, \
                'slug', t.slug, 'description', t.description, 'parent_id', t.parent_id) ORDER BY pt.position), '[]') AS TEXT) \
                FROM post_terms pt JOIN terms t ON t.id = pt.term_id WHERE pt.post_id = p.id)",
        };
        // The page shows the HTML; the Markdown source (as long again) is not read.
        let sql = format!(
            "SELECT {}, {terms} AS terms, {} AS thoughts, {} AS likes \
             FROM posts p JOIN users u ON u.id = p.author_id WHERE p.kind = $1 AND p.slug = $2",
            POST_COLS.replacen("p.body_markdown", "'' AS body_markdown", 1),
            crate::thoughts::thoughts_json_sql(self.backend, "p.id"),
            crate::thoughts::likes_json_sql(self.backend, "p.id"),
        );
        let r = sqlx::query(&sql)
            .bind(kind)
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        let p = post(&r);
        let terms = decode_terms(&r.get::<String, _>("terms"))?;
        let (thoughts, likes) = crate::thoughts::decode_discussion(p.id, &r)?;
        Ok(PostPage {
            post: p,
            terms,
            thoughts,
            likes,
        })
    }

    /// Published posts, newest first, with the total for paging.
    pub async fn published_posts(
        &self,
        filter: &ListFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<PostRow>, i64)> {
        let (cond, args) = filter_sql(filter);
        let k = args.len();
        let sql = format!(
            "SELECT {SUMMARY_COLS} FROM posts p JOIN users u ON u.id = p.author_id \
             WHERE p.kind = 'post' AND p.status = 'published'{cond} \
             ORDER BY {}p.publish_at DESC, p.id DESC LIMIT ${} OFFSET ${}",
            if matches!(filter, ListFilter::Front) {
                "p.sticky DESC, "
            } else {
                ""
            },
            k + 1,
            k + 2
        );
        let mut q = sqlx::query(&sql);
        for a in &args {
            q = q.bind(*a);
        }
        let rows = q.bind(limit).bind(offset).fetch_all(&self.pool).await?;
        let count_sql = format!(
            "SELECT COUNT(*) FROM posts p WHERE p.kind = 'post' AND p.status = 'published'{cond}"
        );
        let mut q = sqlx::query(&count_sql);
        for a in &args {
            q = q.bind(*a);
        }
        let total: i64 = q.fetch_one(&self.pool).await?.get(0);
        Ok((rows.iter().map(post).collect(), total))
    }

    /// Every post or page of any status, for the admin and the API, newest change first.
    pub async fn all_posts(
        &self,
        kind: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<PostRow>, i64)> {
        let sql = format!(
            "SELECT {SUMMARY_COLS} FROM posts p JOIN users u ON u.id = p.author_id WHERE p.kind = $1 \
             ORDER BY p.updated_at DESC, p.id DESC LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(&sql)
            .bind(kind)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM posts WHERE kind = $1")
            .bind(kind)
            .fetch_one(&self.pool)
            .await?
            .get(0);
        Ok((rows.iter().map(post).collect(), total))
    }

    /// Published pages (About, Code of conduct), by title.
    pub async fn published_pages(&self) -> Result<Vec<PostRow>> {
        let sql = format!(
            "SELECT {SUMMARY_COLS} FROM posts p JOIN users u ON u.id = p.author_id \
             WHERE p.kind = 'page' AND p.status = 'published' ORDER BY p.title"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(post).collect())
    }

    /// Full-text search over published posts and pages, best match first.
    pub async fn search(&self, q: &str, limit: i64, offset: i64) -> Result<(Vec<PostRow>, i64)> {
        let (from, cond, order) = match self.backend {
            Backend::Sqlite => (
                "posts_fts f JOIN posts p ON p.id = f.rowid",
                "posts_fts MATCH $1",
                "bm25(posts_fts)",
            ),
            Backend::Postgres => (
                "posts p",
                "p.search @@ websearch_to_tsquery('simple', $1)",
                "ts_rank(p.search, websearch_to_tsquery('simple', $1)) DESC",
            ),
        };
        let query = match self.backend {
            Backend::Sqlite => fts5_query(q),
            Backend::Postgres => q.to_owned(),
        };
        if query.is_empty() {
            return Ok((vec![], 0));
        }
        let sql = format!(
            "SELECT {SUMMARY_COLS} FROM {from} JOIN users u ON u.id = p.author_id \
             WHERE {cond} AND p.status = 'published' ORDER BY {order}, p.id DESC LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(&sql)
            .bind(&query)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        let count_sql =
            format!("SELECT COUNT(*) FROM {from} WHERE {cond} AND p.status = 'published'");
        let total: i64 = sqlx::query(&count_sql)
            .bind(&query)
            .fetch_one(&self.pool)
            .await?
            .get(0);
        Ok((rows.iter().map(post).collect(), total))
    }

    /// The terms of each post in `ids`, in the order the author gave them.
    pub async fn terms_of_posts(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<TermRow>>> {
        let mut out: HashMap<i64, Vec<TermRow>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let list: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        // One row per post with its terms as a JSON array: each row costs a hop from the
        // SQLite worker thread, and a post may carry dozens of terms.
        let agg = match self.backend {
            Backend::Sqlite => "json_group_array(json_object('id', t.id, 'taxonomy', t.taxonomy, 'name', t.name, \
                'slug', t.slug, 'description', t.description, 'parent_id', t.parent_id) ORDER BY pt.position)",
            Backend::Postgres => "CAST(json_agg(json_build_object('id', t.id, 'taxonomy', t.taxonomy, 'name', t.name, \
                'slug', t.slug, 'description', t.description, 'parent_id', t.parent_id) ORDER BY pt.position) AS TEXT)",
        };
        let sql = format!(
            "SELECT pt.post_id, {agg} AS terms FROM post_terms pt JOIN terms t ON t.id = pt.term_id \
             WHERE pt.post_id IN ({}) GROUP BY pt.post_id",
            list.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&self.pool).await? {
            out.insert(
                r.get("post_id"),
                decode_terms(&r.get::<String, _>("terms"))?,
            );
        }
        Ok(out)
    }

    pub async fn term_by_id(&self, id: i64) -> Result<TermRow> {
        sqlx::query(
            "SELECT id, taxonomy, name, slug, description, parent_id FROM terms WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| term(&r))
        .ok_or(StoreError::NotFound)
    }

    pub async fn term_by_slug(&self, taxonomy: &str, slug: &str) -> Result<TermRow> {
        let r = sqlx::query("SELECT id, taxonomy, name, slug, description, parent_id, CAST(0 AS BIGINT) AS cnt FROM terms WHERE taxonomy = $1 AND slug = $2")
            .bind(taxonomy)
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(term).ok_or(StoreError::NotFound)
    }

    /// All terms of a taxonomy with their published-post counts, by name.
    pub async fn terms(&self, taxonomy: &str) -> Result<Vec<TermRow>> {
        let rows = sqlx::query(
            "SELECT t.id, t.taxonomy, t.name, t.slug, t.description, t.parent_id, \
             (SELECT COUNT(*) FROM post_terms pt JOIN posts p ON p.id = pt.post_id WHERE pt.term_id = t.id AND p.status = 'published') AS cnt \
             FROM terms t WHERE t.taxonomy = $1 ORDER BY t.name",
        )
        .bind(taxonomy)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(term).collect())
    }

    pub async fn save_term(
        &self,
        id: Option<i64>,
        taxonomy: &str,
        name: &str,
        slug: &str,
        description: &str,
        parent_id: Option<i64>,
    ) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let clash = sqlx::query("SELECT id FROM terms WHERE taxonomy = $1 AND slug = $2")
            .bind(taxonomy)
            .bind(slug)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.get::<i64, _>(0));
        if clash.is_some() && clash != id {
            return Err(StoreError::Conflict(format!(
                "a {taxonomy} with slug {slug:?} already exists"
            )));
        }
        if let (Some(me), Some(parent)) = (id, parent_id) {
            // Refuse cycles: walk up from the new parent; meeting ourselves means a loop.
            let mut cur = Some(parent);
            let mut steps = 0;
            while let Some(c) = cur {
                if c == me || steps > 100 {
                    return Err(StoreError::Conflict(
                        "a category cannot be its own ancestor".into(),
                    ));
                }
                cur = sqlx::query("SELECT parent_id FROM terms WHERE id = $1")
                    .bind(c)
                    .fetch_optional(&mut *tx)
                    .await?
                    .and_then(|r| r.try_get::<Option<i64>, _>(0).ok().flatten());
                steps += 1;
            }
        }
        let id = match id {
            Some(id) => {
                let n = sqlx::query("UPDATE terms SET name = $1, slug = $2, description = $3, parent_id = $4 WHERE id = $5 AND taxonomy = $6")
                    .bind(name)
                    .bind(slug)
                    .bind(description)
                    .bind(parent_id)
                    .bind(id)
                    .bind(taxonomy)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                id
            }
            None => sqlx::query("INSERT INTO terms (taxonomy, name, slug, description, parent_id) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                .bind(taxonomy)
                .bind(name)
                .bind(slug)
                .bind(description)
                .bind(parent_id)
                .fetch_one(&mut *tx)
                .await?
                .get(0),
        };
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn delete_term(&self, id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM terms WHERE id = $1")
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

    /// The term and every category below it, so a parent's archive includes its children.
    pub async fn term_with_descendants(&self, id: i64) -> Result<Vec<i64>> {
        let all = sqlx::query("SELECT id, parent_id FROM terms WHERE taxonomy = 'category'")
            .fetch_all(&self.pool)
            .await?;
        let pairs: Vec<(i64, Option<i64>)> = all
            .iter()
            .map(|r| {
                (
                    r.get::<i64, _>(0),
                    r.try_get::<Option<i64>, _>(1).ok().flatten(),
                )
            })
            .collect();
        let mut out = vec![id];
        let mut i = 0;
        while i < out.len() {
            let cur = out[i];
            for (child, parent) in &pairs {
                if *parent == Some(cur) && !out.contains(child) {
                    out.push(*child);
                }
            }
            i += 1;
        }
        Ok(out)
    }

    /// Newest change to a published post, for Last-Modified on feeds and the sitemap.
    pub async fn last_published_change(&self) -> Result<i64> {
        let r = sqlx::query("SELECT MAX(updated_at) FROM posts WHERE status = 'published'")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get::<Option<i64>, _>(0).ok().flatten().unwrap_or(0))
    }
}

async fn slug_taken(tx: &mut Tx<'_>, kind: &str, slug: &str, except: Option<i64>) -> Result<bool> {
    Ok(
        sqlx::query("SELECT 1 FROM posts WHERE kind = $1 AND slug = $2 AND id <> $3")
            .bind(kind)
            .bind(slug)
            .bind(except.unwrap_or(-1))
            .fetch_optional(&mut **tx)
            .await?
            .is_some(),
    )
}

async fn set_terms(
    tx: &mut Tx<'_>,
    post_id: i64,
    taxonomy: &str,
    terms: &[TermInput],
) -> Result<()> {
    for (pos, t) in terms.iter().enumerate() {
        sqlx::query("INSERT INTO terms (taxonomy, name, slug) VALUES ($1, $2, $3) ON CONFLICT (taxonomy, slug) DO NOTHING")
            .bind(taxonomy)
            .bind(&t.name)
            .bind(&t.slug)
            .execute(&mut **tx)
            .await?;
        let term_id: i64 = sqlx::query("SELECT id FROM terms WHERE taxonomy = $1 AND slug = $2")
            .bind(taxonomy)
            .bind(&t.slug)
            .fetch_one(&mut **tx)
            .await?
            .get(0);
        sqlx::query("INSERT INTO post_terms (post_id, term_id, position) VALUES ($1, $2, $3) ON CONFLICT (post_id, term_id) DO NOTHING")
            .bind(post_id)
            .bind(term_id)
            .bind(pos as i64)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Turns what a reader typed into an FTS5 query of quoted terms (all must match), so that
/// FTS5 operators and punctuation in the input can never cause a syntax error.
fn fts5_query(q: &str) -> String {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(20)
        .map(|w| format!("\"{w}\"*"))
        .collect::<Vec<_>>()
        .join(" ")
}
