//! Bulk writes for imports (a WordPress site today), and the reads exports need.
//!
//! `import_map` remembers what was brought in from which source (the source site's URL) and
//! what it became here, so running an import again skips what is there and an interrupted
//! one resumes after its last committed batch. `redirects` keeps the source's other links
//! (`/?p=123`, `/archives/123`, category-based paths) pointing at what they became.
//!
//! A batch of posts, with their terms, thoughts, old links and map rows, is one transaction
//! and bumps the change counter once. Rows go in as multi-row `INSERT`s with ids taken up
//! front (SQLite: past the table's largest id and its AUTOINCREMENT counter, under the write
//! lock; PostgreSQL: from the table's sequence), so a thought's parent is known before it is
//! written and one statement carries hundreds of rows.

use crate::posts::POST_COLS;
use crate::{bump_version, jobs, now, Backend, PostRow, Result, Store, StoreError, ThoughtRow, Tx};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

/// Parameters per statement. SQLite finds a `$n` parameter's name by a linear walk, and
/// sqlx asks for every parameter's name, so a statement's binding costs the square of its
/// parameter count: 6,400 parameters made binding 70% of an import. A few hundred cost
/// nothing and still spare most of the per-statement round trips.
const MAX_PARAMS: usize = 256;
/// Rows of 16 columns per statement.
const ROWS_16: usize = MAX_PARAMS / 16;

/// A post or page as it will be stored, already converted and rendered by the caller.
#[derive(Debug, Clone, Default)]
pub struct ImportedPost {
    /// The source's id for it (WordPress's post id).
    pub key: String,
    pub kind: String,
    pub title: String,
    /// Wanted slug; a taken one gets a `-N` suffix (reported in [`ImportCounts::renamed`]).
    pub slug: String,
    pub body_markdown: String,
    pub body_html: String,
    pub plain_text: String,
    pub excerpt: String,
    pub status: String,
    pub publish_at: Option<i64>,
    pub author_id: i64,
    pub featured_image: Option<String>,
    pub sticky: bool,
    pub thoughts_open: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub term_ids: Vec<i64>,
    /// The source's other paths for this post (answered with 301 to its page here).
    pub old_paths: Vec<String>,
    pub thoughts: Vec<ImportedThought>,
    /// Media copied for this post: source URL → name under `uploads/`.
    pub media: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct ImportedThought {
    /// The source's id for it (WordPress's comment id).
    pub key: String,
    /// The source's id of the thought it answers, on the same post.
    pub parent_key: Option<String>,
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
    pub created_at: i64,
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub posts: u64,
    pub thoughts: u64,
    /// Posts of the batch already imported from this source by an earlier run.
    pub already_there: u64,
    /// Linkbacks from a source that already had one on the same post (one is kept).
    pub duplicate_linkbacks: u64,
    /// (wanted slug, slug given) where the wanted one was taken.
    pub renamed: Vec<(String, String)>,
    /// Old links recorded (those another post had not claimed already).
    pub redirects: u64,
}

/// Where an old link leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OldLink {
    Post(i64),
    Term(i64),
}

impl Store {
    /// What was imported from `source` as `kind` so far: source key → (local id, local name).
    pub async fn imported(
        &self,
        source: &str,
        kind: &str,
    ) -> Result<HashMap<String, (i64, String)>> {
        let rows = sqlx::query(
            "SELECT source_key, local_id, local_name FROM import_map WHERE source = $1 AND kind = $2",
        )
        .bind(source)
        .bind(kind)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get::<String, _>(0),
                    (r.get::<i64, _>(1), r.get::<String, _>(2)),
                )
            })
            .collect())
    }

    /// The user an imported author becomes: the one an earlier run mapped, else the user
    /// with this email, else a new one (no password: they sign in by resetting it). Returns
    /// the user's id and whether it was created now.
    pub async fn import_user(
        &self,
        source: &str,
        login: &str,
        email: &str,
        name: &str,
        slug: &str,
        role: &str,
    ) -> Result<(i64, bool)> {
        let mut tx = self.begin_write().await?;
        if let Some(id) = mapped(&mut tx, source, "user", login).await? {
            return Ok((id, false));
        }
        let existing = sqlx::query("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.get::<i64, _>(0));
        let (id, created) = match existing {
            Some(id) => (id, false),
            None => {
                let slug = free_slug(&mut tx, "SELECT 1 FROM users WHERE slug = $1", slug).await?;
                let id: i64 = sqlx::query(
                    "INSERT INTO users (email, name, slug, role, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(email)
                .bind(name)
                .bind(&slug)
                .bind(role)
                .bind(now())
                .fetch_one(&mut *tx)
                .await?
                .get(0);
                (id, true)
            }
        };
        map_one(&mut tx, source, "user", login, id).await?;
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok((id, created))
    }

    /// The term an imported one becomes: the one an earlier run mapped, else this site's
    /// term of the same taxonomy and slug, else a new one. Returns its id and whether it
    /// was created now.
    #[allow(clippy::too_many_arguments)]
    pub async fn import_term(
        &self,
        source: &str,
        taxonomy: &str,
        key: &str,
        name: &str,
        slug: &str,
        description: &str,
        parent_id: Option<i64>,
    ) -> Result<(i64, bool)> {
        let kind = format!("term:{taxonomy}");
        let mut tx = self.begin_write().await?;
        if let Some(id) = mapped(&mut tx, source, &kind, key).await? {
            return Ok((id, false));
        }
        let existing = sqlx::query("SELECT id FROM terms WHERE taxonomy = $1 AND slug = $2")
            .bind(taxonomy)
            .bind(slug)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.get::<i64, _>(0));
        let (id, created) = match existing {
            Some(id) => (id, false),
            None => {
                let id: i64 = sqlx::query(
                    "INSERT INTO terms (taxonomy, name, slug, description, parent_id) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(taxonomy)
                .bind(name)
                .bind(slug)
                .bind(description)
                .bind(parent_id)
                .fetch_one(&mut *tx)
                .await?
                .get(0);
                (id, true)
            }
        };
        map_one(&mut tx, source, &kind, key, id).await?;
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok((id, created))
    }

    /// Keeps the source's old paths of a term (`/category/old-slug/`) leading to it.
    pub async fn add_term_redirects(&self, paths: &[(String, i64)]) -> Result<()> {
        if paths.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for chunk in paths.chunks(MAX_PARAMS / 2) {
            let sql = values_sql(
                "INSERT INTO redirects (path, term_id) VALUES ",
                2,
                chunk.len(),
                " ON CONFLICT (path) DO NOTHING",
            );
            let mut q = sqlx::query(&sql);
            for (path, id) in chunk {
                q = q.bind(path.as_str()).bind(*id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Writes a batch of imported posts with everything that hangs on them, in one
    /// transaction. Posts this source already brought in are skipped whole.
    pub async fn import_posts(
        &self,
        source: &str,
        batch: Vec<ImportedPost>,
    ) -> Result<ImportCounts> {
        let mut counts = ImportCounts::default();
        if batch.is_empty() {
            return Ok(counts);
        }
        let mut tx = self.begin_write().await?;
        let keys: Vec<&str> = batch.iter().map(|p| p.key.as_str()).collect();
        let mut done: HashSet<String> = HashSet::new();
        for chunk in keys.chunks(MAX_PARAMS - 1) {
            let sql = format!(
                "SELECT source_key FROM import_map WHERE source = $1 AND kind = 'post' AND source_key IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(source);
            for k in chunk {
                q = q.bind(*k);
            }
            for r in q.fetch_all(&mut *tx).await? {
                done.insert(r.get(0));
            }
        }
        let mut posts: Vec<ImportedPost> = Vec::with_capacity(batch.len());
        let mut seen_keys = HashSet::new();
        for p in batch {
            if done.contains(&p.key) || !seen_keys.insert(p.key.clone()) {
                counts.already_there += 1;
            } else {
                posts.push(p);
            }
        }
        if posts.is_empty() {
            return Ok(counts);
        }
        self.free_post_slugs(&mut tx, &mut posts, &mut counts)
            .await?;
        let post_ids = self.take_ids(&mut tx, "posts", posts.len()).await?;
        let thought_total: usize = posts.iter().map(|p| p.thoughts.len()).sum();
        let thought_ids = self.take_ids(&mut tx, "thoughts", thought_total).await?;

        // Thoughts with their ids and parents resolved, per post.
        struct ThoughtOut<'a> {
            id: i64,
            post_id: i64,
            parent_id: Option<i64>,
            t: &'a ImportedThought,
        }
        let mut thoughts: Vec<ThoughtOut<'_>> = Vec::with_capacity(thought_total);
        let mut next_thought = thought_ids.iter().copied();
        for (p, &post_id) in posts.iter().zip(&post_ids) {
            let mut ids: HashMap<&str, i64> = HashMap::new();
            let mut sources: HashSet<&str> = HashSet::new();
            for t in &p.thoughts {
                if let Some(src) = t.source_url.as_deref() {
                    if !sources.insert(src) {
                        counts.duplicate_linkbacks += 1;
                        continue;
                    }
                }
                let id = next_thought.next().ok_or_else(|| {
                    StoreError::Db(sqlx::Error::Protocol("too few thought ids".into()))
                })?;
                ids.insert(t.key.as_str(), id);
                thoughts.push(ThoughtOut {
                    id,
                    post_id,
                    parent_id: None,
                    t,
                });
            }
            // Parents may come after their replies in the source: resolve once all are known.
            let first = thoughts.len() - ids.len();
            for out in &mut thoughts[first..] {
                out.parent_id = out
                    .t
                    .parent_key
                    .as_deref()
                    .and_then(|k| ids.get(k).copied())
                    .filter(|&parent| parent != out.id);
            }
        }
        // A reply may be written only after its parent (foreign key), so parents go first:
        // rows are inserted in order of depth.
        let depth_of = {
            let by_id: HashMap<i64, Option<i64>> =
                thoughts.iter().map(|t| (t.id, t.parent_id)).collect();
            move |mut id: i64| {
                let mut d = 0u32;
                while let Some(Some(p)) = by_id.get(&id) {
                    d += 1;
                    id = *p;
                    if d > 10_000 {
                        break;
                    }
                }
                d
            }
        };
        let mut depths: Vec<u32> = thoughts.iter().map(|t| depth_of(t.id)).collect();
        if depths.iter().any(|&d| d > 10_000) {
            // A cycle in the source's parents: those thoughts lose their parent.
            for (t, d) in thoughts.iter_mut().zip(depths.iter_mut()) {
                if *d > 10_000 {
                    t.parent_id = None;
                    *d = 0;
                }
            }
        }
        let mut order: Vec<usize> = (0..thoughts.len()).collect();
        order.sort_by_key(|&i| (depths[i], thoughts[i].id));

        for (chunk_posts, chunk_ids) in posts.chunks(ROWS_16).zip(post_ids.chunks(ROWS_16)) {
            let sql = values_sql(
                "INSERT INTO posts (id, kind, title, slug, body_markdown, body_html, plain_text, excerpt, status, publish_at, \
                 author_id, featured_image, created_at, updated_at, thoughts_open, sticky) VALUES ",
                16,
                chunk_posts.len(),
                "",
            );
            let mut q = sqlx::query(&sql);
            for (p, id) in chunk_posts.iter().zip(chunk_ids) {
                q = q
                    .bind(*id)
                    .bind(p.kind.as_str())
                    .bind(p.title.as_str())
                    .bind(p.slug.as_str())
                    .bind(p.body_markdown.as_str())
                    .bind(p.body_html.as_str())
                    .bind(p.plain_text.as_str())
                    .bind(p.excerpt.as_str())
                    .bind(p.status.as_str())
                    .bind(p.publish_at)
                    .bind(p.author_id)
                    .bind(p.featured_image.as_deref())
                    .bind(p.created_at)
                    .bind(p.updated_at)
                    .bind(i64::from(p.thoughts_open))
                    .bind(i64::from(p.sticky));
            }
            q.execute(&mut *tx).await?;
        }
        let post_terms: Vec<(i64, i64, i64)> = posts
            .iter()
            .zip(&post_ids)
            .flat_map(|(p, &id)| {
                let mut seen = HashSet::new();
                p.term_ids
                    .iter()
                    .filter(move |t| seen.insert(**t))
                    .enumerate()
                    .map(move |(pos, &t)| (id, t, pos as i64))
            })
            .collect();
        for chunk in post_terms.chunks(MAX_PARAMS / 3) {
            let sql = values_sql(
                "INSERT INTO post_terms (post_id, term_id, position) VALUES ",
                3,
                chunk.len(),
                "",
            );
            let mut q = sqlx::query(&sql);
            for (p, t, pos) in chunk {
                q = q.bind(*p).bind(*t).bind(*pos);
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in order.chunks(ROWS_16) {
            let sql = values_sql(
                "INSERT INTO thoughts (id, post_id, parent_id, kind, status, user_id, author_name, author_email, author_url, \
                 author_ip, body_markdown, body_html, body_hash, source_url, created_at, updated_at) VALUES ",
                16,
                chunk.len(),
                "",
            );
            let mut q = sqlx::query(&sql);
            for &i in chunk {
                let out = &thoughts[i];
                let t = out.t;
                q = q
                    .bind(out.id)
                    .bind(out.post_id)
                    .bind(out.parent_id)
                    .bind(t.kind.as_str())
                    .bind(t.status.as_str())
                    .bind(t.user_id)
                    .bind(t.author_name.as_str())
                    .bind(t.author_email.as_str())
                    .bind(t.author_url.as_str())
                    .bind(t.author_ip.as_str())
                    .bind(t.body_markdown.as_str())
                    .bind(t.body_html.as_str())
                    .bind(t.body_hash.as_str())
                    .bind(t.source_url.as_deref())
                    .bind(t.created_at)
                    .bind(t.created_at);
            }
            q.execute(&mut *tx).await?;
        }
        // What the map records: posts, thoughts, media; and the old links.
        let mut map_rows: Vec<(&str, &str, i64, &str)> = Vec::new();
        let mut redirect_rows: Vec<(&str, i64)> = Vec::new();
        for (p, &id) in posts.iter().zip(&post_ids) {
            map_rows.push(("post", p.key.as_str(), id, ""));
            for (url, name) in &p.media {
                map_rows.push(("media", url.as_str(), 0, name.as_str()));
            }
            for path in &p.old_paths {
                redirect_rows.push((path.as_str(), id));
            }
        }
        for out in &thoughts {
            map_rows.push(("thought", out.t.key.as_str(), out.id, ""));
        }
        for chunk in map_rows.chunks(MAX_PARAMS / 5) {
            let sql = values_sql(
                "INSERT INTO import_map (source, kind, source_key, local_id, local_name) VALUES ",
                5,
                chunk.len(),
                " ON CONFLICT (source, kind, source_key) DO NOTHING",
            );
            let mut q = sqlx::query(&sql);
            for (kind, key, id, name) in chunk {
                q = q.bind(source).bind(*kind).bind(*key).bind(*id).bind(*name);
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in redirect_rows.chunks(MAX_PARAMS / 2) {
            let sql = values_sql(
                "INSERT INTO redirects (path, post_id) VALUES ",
                2,
                chunk.len(),
                " ON CONFLICT (path) DO NOTHING",
            );
            let mut q = sqlx::query(&sql);
            for (path, id) in chunk {
                q = q.bind(*path).bind(*id);
            }
            counts.redirects += q.execute(&mut *tx).await?.rows_affected();
        }
        for p in &posts {
            if p.status == "scheduled" {
                if let Some(at) = p.publish_at {
                    jobs::enqueue_in(&mut tx, "publish_due", "{}", at, 10).await?;
                }
            }
        }
        bump_version(&mut tx).await?;
        tx.commit().await?;
        counts.posts = posts.len() as u64;
        counts.thoughts = thoughts.len() as u64;
        Ok(counts)
    }

    /// Posts and pages of every status, in id order, `limit` at a time after `after_id`
    /// (for exports).
    pub async fn posts_after(&self, after_id: i64, limit: i64) -> Result<Vec<PostRow>> {
        let sql = format!(
            "SELECT {POST_COLS} FROM posts p JOIN users u ON u.id = p.author_id WHERE p.id > $1 ORDER BY p.id LIMIT $2"
        );
        Ok(sqlx::query(&sql)
            .bind(after_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(crate::posts::post)
            .collect())
    }

    /// Every thought of these posts, whatever its status, with the private fields (for
    /// exports); not those their writers deleted.
    pub async fn thoughts_of(&self, post_ids: &[i64]) -> Result<Vec<ThoughtRow>> {
        let mut out = Vec::new();
        for chunk in post_ids.chunks(MAX_PARAMS) {
            let sql = format!(
                "SELECT {} FROM thoughts t JOIN posts p ON p.id = t.post_id WHERE t.deleted = 0 AND t.post_id IN ({}) ORDER BY t.id",
                crate::thoughts::COLS,
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            out.extend(
                q.fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(crate::thoughts::thought),
            );
        }
        Ok(out)
    }

    /// The old links that lead to these posts (for exports).
    pub async fn old_paths_of(&self, post_ids: &[i64]) -> Result<HashMap<i64, Vec<String>>> {
        let mut out: HashMap<i64, Vec<String>> = HashMap::new();
        for chunk in post_ids.chunks(MAX_PARAMS) {
            let sql = format!(
                "SELECT post_id, path FROM redirects WHERE post_id IN ({}) ORDER BY path",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.entry(r.get(0)).or_default().push(r.get(1));
            }
        }
        Ok(out)
    }

    /// Where an old link of an imported site leads, if anywhere.
    pub async fn old_link(&self, path: &str) -> Result<Option<OldLink>> {
        let row = sqlx::query("SELECT post_id, term_id FROM redirects WHERE path = $1")
            .bind(path)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|r| {
            let post: Option<i64> = r.try_get(0).ok().flatten();
            let term: Option<i64> = r.try_get(1).ok().flatten();
            post.map(OldLink::Post).or(term.map(OldLink::Term))
        }))
    }

    /// Gives each post of the batch a slug no other post of its kind has (here or earlier
    /// in the batch).
    async fn free_post_slugs(
        &self,
        tx: &mut Tx<'_>,
        posts: &mut [ImportedPost],
        counts: &mut ImportCounts,
    ) -> Result<()> {
        let mut taken: HashSet<(String, String)> = HashSet::new();
        for kind in ["post", "page"] {
            let slugs: Vec<&str> = posts
                .iter()
                .filter(|p| p.kind == kind)
                .map(|p| p.slug.as_str())
                .collect();
            for chunk in slugs.chunks(MAX_PARAMS - 1) {
                let sql = format!(
                    "SELECT slug FROM posts WHERE kind = $1 AND slug IN ({})",
                    placeholders(2, chunk.len())
                );
                let mut q = sqlx::query(&sql).bind(kind);
                for s in chunk {
                    q = q.bind(*s);
                }
                for r in q.fetch_all(&mut **tx).await? {
                    taken.insert((kind.to_owned(), r.get(0)));
                }
            }
        }
        let mut used: HashSet<(String, String)> = HashSet::new();
        for p in posts.iter_mut() {
            let wanted = p.slug.clone();
            let mut slug = wanted.clone();
            let mut n = 2;
            loop {
                let key = (p.kind.clone(), slug.clone());
                let clash = used.contains(&key)
                    || taken.contains(&key)
                    || (slug != wanted
                        && sqlx::query("SELECT 1 FROM posts WHERE kind = $1 AND slug = $2")
                            .bind(&p.kind)
                            .bind(&slug)
                            .fetch_optional(&mut **tx)
                            .await?
                            .is_some());
                if !clash {
                    used.insert(key);
                    break;
                }
                slug = colloquy_core::slug::suffixed(&wanted, n);
                n += 1;
            }
            if slug != wanted {
                counts.renamed.push((wanted, slug.clone()));
                p.slug = slug;
            }
        }
        Ok(())
    }

    /// `n` fresh ids for `table`, in increasing order, reserved for this transaction.
    async fn take_ids(&self, tx: &mut Tx<'_>, table: &str, n: usize) -> Result<Vec<i64>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        match self.backend {
            Backend::Sqlite => {
                // The transaction holds SQLite's write lock (and our write turn): nobody else
                // can take these before we commit.
                let sql = format!(
                    "SELECT MAX(COALESCE((SELECT MAX(id) FROM {table}), 0), \
                     COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0))"
                );
                let last: i64 = sqlx::query(&sql).fetch_one(&mut **tx).await?.get(0);
                Ok((last + 1..=last + n as i64).collect())
            }
            Backend::Postgres => {
                let sql = format!(
                    "SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1) ORDER BY 1"
                );
                Ok(sqlx::query(&sql)
                    .bind(n as i64)
                    .fetch_all(&mut **tx)
                    .await?
                    .iter()
                    .map(|r| r.get::<i64, _>(0))
                    .collect())
            }
        }
    }
}

/// `wanted`, or the first `wanted-N` that `probe` (a query with one parameter, the slug)
/// finds nothing for.
pub(crate) async fn free_slug(tx: &mut Tx<'_>, probe: &str, wanted: &str) -> Result<String> {
    let mut slug = wanted.to_owned();
    let mut n = 2;
    while sqlx::query(probe)
        .bind(&slug)
        .fetch_optional(&mut **tx)
        .await?
        .is_some()
    {
        slug = colloquy_core::slug::suffixed(wanted, n);
        n += 1;
    }
    Ok(slug)
}

async fn mapped(tx: &mut Tx<'_>, source: &str, kind: &str, key: &str) -> Result<Option<i64>> {
    Ok(sqlx::query(
        "SELECT local_id FROM import_map WHERE source = $1 AND kind = $2 AND source_key = $3",
    )
    .bind(source)
    .bind(kind)
    .bind(key)
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| r.get(0)))
}

async fn map_one(tx: &mut Tx<'_>, source: &str, kind: &str, key: &str, id: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO import_map (source, kind, source_key, local_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (source, kind, source_key) DO NOTHING",
    )
    .bind(source)
    .bind(kind)
    .bind(key)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `$from, $from+1, …` for `n` values.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `head (…), (…), … tail` with `rows` groups of `cols` numbered placeholders.
fn values_sql(head: &str, cols: usize, rows: usize, tail: &str) -> String {
    let mut s = String::with_capacity(head.len() + rows * cols * 5 + tail.len());
    s.push_str(head);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        s.push_str(&placeholders(1 + r * cols, cols));
        s.push(')');
    }
    s.push_str(tail);
    s
}
