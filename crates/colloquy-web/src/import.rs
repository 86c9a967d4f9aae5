//! `colloquy import wxr`: a WordPress site moves in.
//!
//! Two passes over the file. The first reads it whole (streaming) without writing anything:
//! a broken, truncated or hostile file is refused with its line and column before the
//! database is touched, and it gathers the small things (authors, terms, attachments) and
//! the totals for the progress bar. The second streams the items: batches of posts are
//! converted on blocking threads (WordPress HTML → Markdown → our HTML) while the previous
//! batch is written, each batch one transaction recorded in `import_map`. So a second run
//! skips everything (nothing changes), and an interrupted run, started again, continues after
//! its last committed batch.

use crate::routes::media::{sniff_image, write_upload, MAX_IMAGE};
use crate::site::body_parts;
use colloquy_core::markdown;
use colloquy_core::post::{check_body, PostStatus, MAX_TITLE_CHARS};
use colloquy_core::slug::Slug;
use colloquy_core::user::Email;
use colloquy_store::{ImportCounts, ImportedPost, ImportedThought, Store};
use colloquy_wordpress::content;
use colloquy_wordpress::wxr::{self, read::Reader, Channel, Item, Record};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Posts converted and written together (one transaction).
const BATCH: usize = 200;
/// Batches being converted while one is written.
const IN_FLIGHT: usize = 3;
/// Warnings kept word for word in the report; past this only counted.
const MAX_WARNINGS: usize = 500;

/// How to import.
pub struct ImportOptions {
    /// Read and convert everything, report, write nothing.
    pub dry_run: bool,
    /// Copy images the posts show into `uploads/` (through the fetch guard); off keeps the
    /// remote URLs.
    pub media: bool,
    /// WordPress login → email of the user here who becomes that author.
    pub authors: HashMap<String, String>,
    /// Where uploads live (the data directory's `uploads/`).
    pub data_dir: PathBuf,
    /// The outbound fetch guard may reach private addresses (tests only).
    pub fetch_allow_private: bool,
    /// This site's base URL (for the fetcher's User-Agent).
    pub base_url: String,
}

/// How far the import is, for a progress bar.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub items_done: u64,
    pub items_total: u64,
    pub posts: u64,
    pub thoughts: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    File { path: String, source: wxr::Error },
    #[error("{0}")]
    Invalid(String),
    #[error("database: {0}")]
    Store(#[from] colloquy_store::StoreError),
    #[error("{0}")]
    Internal(String),
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Created {
    pub created: u64,
    /// Found here already (same email or slug) or brought in by an earlier run.
    pub matched: u64,
}

/// The summary printed at the end (and, with `--json`, as JSON).
#[derive(Debug, Default, Clone, Serialize)]
pub struct ImportReport {
    pub file: String,
    pub source: String,
    pub wxr_version: String,
    pub dry_run: bool,
    pub authors: Created,
    pub categories: Created,
    pub tags: Created,
    pub posts: u64,
    pub pages: u64,
    pub thoughts: u64,
    /// Linkbacks (pingbacks, trackbacks) among `thoughts`.
    pub linkbacks: u64,
    /// Posts and pages an earlier run already brought in (left as they are).
    pub already_imported: u64,
    /// Items not imported, by reason ("nav_menu_item", "status trash", …).
    pub skipped: BTreeMap<String, u64>,
    /// Statuses or kinds that changed on the way ("private → draft", …).
    pub changed: BTreeMap<String, u64>,
    /// Old links kept as redirects.
    pub redirects: u64,
    pub content: ContentTotals,
    pub media: MediaTotals,
    /// (wanted slug, slug given) when the wanted one was taken or could not be a slug here.
    pub renamed_slugs: Vec<(String, String)>,
    pub warnings: Vec<String>,
    pub more_warnings: u64,
    pub seconds: f64,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct ContentTotals {
    /// Blocks of post HTML that became Markdown.
    pub converted_blocks: u64,
    /// Kept as (sanitised) HTML because Markdown cannot say them, by kind.
    pub kept_as_html: BTreeMap<String, u64>,
    /// Not brought over, or changed in meaning, by kind.
    pub unsupported: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct MediaTotals {
    pub copied: u64,
    /// Images that could not be copied (their remote URLs are kept), by reason.
    pub failed: BTreeMap<String, u64>,
    /// Left at their remote URLs because of `--no-media`.
    pub kept_remote: u64,
}

impl ImportReport {
    fn warn(&mut self, w: impl Into<String>) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w.into());
        } else {
            self.more_warnings += 1;
        }
    }

    fn add_content(&mut self, r: &content::Report) {
        self.content.converted_blocks += r.converted_blocks as u64;
        for (k, v) in &r.kept_as_html {
            *self.content.kept_as_html.entry(k.clone()).or_default() += *v as u64;
        }
        for (k, v) in &r.unsupported {
            *self.content.unsupported.entry(k.clone()).or_default() += *v as u64;
        }
    }

    fn merge(&mut self, other: ImportReport) {
        self.posts += other.posts;
        self.pages += other.pages;
        self.thoughts += other.thoughts;
        self.linkbacks += other.linkbacks;
        self.content.converted_blocks += other.content.converted_blocks;
        for (k, v) in other.content.kept_as_html {
            *self.content.kept_as_html.entry(k).or_default() += v;
        }
        for (k, v) in other.content.unsupported {
            *self.content.unsupported.entry(k).or_default() += v;
        }
        for (k, v) in other.skipped {
            *self.skipped.entry(k).or_default() += v;
        }
        for (k, v) in other.changed {
            *self.changed.entry(k).or_default() += v;
        }
        self.media.kept_remote += other.media.kept_remote;
        for w in other.warnings {
            self.warn(w);
        }
        self.more_warnings += other.more_warnings;
    }

    /// The summary for people.
    pub fn human(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let verb = if self.dry_run {
            "would import"
        } else {
            "imported"
        };
        let _ = writeln!(
            s,
            "{verb} from {} (WXR {}) in {:.1} s:",
            self.source, self.wxr_version, self.seconds
        );
        let _ = writeln!(
            s,
            "  {} posts, {} pages, {} thoughts ({} linkbacks), {} old links kept",
            self.posts, self.pages, self.thoughts, self.linkbacks, self.redirects
        );
        let _ = writeln!(
            s,
            "  authors: {} new, {} matched; categories: {} new, {} matched; tags: {} new, {} matched",
            self.authors.created,
            self.authors.matched,
            self.categories.created,
            self.categories.matched,
            self.tags.created,
            self.tags.matched
        );
        if self.already_imported > 0 {
            let _ = writeln!(
                s,
                "  skipped {} posts and pages already imported by an earlier run",
                self.already_imported
            );
        }
        let list = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.skipped.is_empty() {
            let _ = writeln!(s, "  not imported: {}", list(&self.skipped));
        }
        if !self.changed.is_empty() {
            let _ = writeln!(s, "  changed: {}", list(&self.changed));
        }
        let _ = writeln!(
            s,
            "  content: {} blocks converted to Markdown",
            self.content.converted_blocks
        );
        if !self.content.kept_as_html.is_empty() {
            let _ = writeln!(s, "  kept as HTML: {}", list(&self.content.kept_as_html));
        }
        if !self.content.unsupported.is_empty() {
            let _ = writeln!(s, "  not supported: {}", list(&self.content.unsupported));
        }
        let _ = writeln!(
            s,
            "  media: {} copied, {} left remote{}",
            self.media.copied,
            self.media.kept_remote,
            if self.media.failed.is_empty() {
                String::new()
            } else {
                format!(", failed: {}", list(&self.media.failed))
            }
        );
        for (from, to) in self.renamed_slugs.iter().take(20) {
            let _ = writeln!(s, "  slug {from:?} became {to:?}");
        }
        if self.renamed_slugs.len() > 20 {
            let _ = writeln!(s, "  … and {} more slugs", self.renamed_slugs.len() - 20);
        }
        for w in &self.warnings {
            let _ = writeln!(s, "  warning: {w}");
        }
        if self.more_warnings > 0 {
            let _ = writeln!(s, "  … and {} more warnings", self.more_warnings);
        }
        s
    }
}

/// What the first pass learnt.
struct Survey {
    channel: Channel,
    authors: Vec<wxr::Author>,
    terms: Vec<wxr::Term>,
    /// Terms items carry that the file did not declare: (taxonomy, slug) → name.
    item_terms: BTreeMap<(String, String), String>,
    /// Attachment post id → its URL.
    attachments: HashMap<i64, String>,
    items: u64,
}

fn open(path: &Path) -> Result<Reader<BufReader<std::fs::File>>, ImportError> {
    let f = std::fs::File::open(path).map_err(|source| ImportError::Open {
        path: path.display().to_string(),
        source,
    })?;
    Ok(Reader::new(BufReader::with_capacity(1 << 20, f)))
}

/// What the first pass keeps in memory is bounded: far beyond any real site, small enough
/// that a hostile file cannot exhaust memory with them.
const MAX_AUTHORS: usize = 10_000;
const MAX_TERMS: usize = 200_000;
const MAX_ATTACHMENTS: usize = 2_000_000;

fn too_many(what: &str, max: usize) -> ImportError {
    ImportError::Invalid(format!(
        "the file lists more than {max} {what}, more than an import takes at once; export the site in parts (WordPress's exporter can filter by date or author)"
    ))
}

fn survey(path: &Path) -> Result<Survey, ImportError> {
    let mut s = Survey {
        channel: Channel::default(),
        authors: vec![],
        terms: vec![],
        item_terms: BTreeMap::new(),
        attachments: HashMap::new(),
        items: 0,
    };
    for rec in open(path)? {
        match rec.map_err(|source| ImportError::File {
            path: path.display().to_string(),
            source,
        })? {
            Record::Channel(c) => s.channel = c,
            Record::Author(a) => {
                if s.authors.len() >= MAX_AUTHORS {
                    return Err(too_many("authors", MAX_AUTHORS));
                }
                s.authors.push(a)
            }
            Record::Term(t) => {
                if s.terms.len() + s.item_terms.len() >= MAX_TERMS {
                    return Err(too_many("categories and tags", MAX_TERMS));
                }
                s.terms.push(t)
            }
            Record::Item(item) => {
                s.items += 1;
                if item.post_type == "attachment" && !item.attachment_url.is_empty() {
                    if s.attachments.len() >= MAX_ATTACHMENTS {
                        return Err(too_many("attachments", MAX_ATTACHMENTS));
                    }
                    s.attachments
                        .insert(item.post_id, item.attachment_url.clone());
                }
                for t in &item.terms {
                    let tax = match t.domain.as_str() {
                        "category" => "category",
                        "post_tag" => "tag",
                        _ => continue,
                    };
                    if s.terms.len() + s.item_terms.len() >= MAX_TERMS {
                        return Err(too_many("categories and tags", MAX_TERMS));
                    }
                    s.item_terms
                        .entry((tax.to_owned(), t.slug.clone()))
                        .or_insert_with(|| t.name.clone());
                }
            }
        }
    }
    Ok(s)
}

/// The shared, read-only facts every conversion needs.
struct Context {
    source: String,
    /// Hosts of the source site (links on them are the site's own).
    hosts: Vec<String>,
    /// The path the WordPress site lives under ("" or "/blog").
    base_path: String,
    users: HashMap<String, i64>,
    /// WordPress user id → our user id (for comments by members).
    user_ids: HashMap<i64, i64>,
    default_author: i64,
    terms: HashMap<(String, String), i64>,
    attachments: HashMap<i64, String>,
    tz: jiff::tz::TimeZone,
    now: i64,
}

/// Imports `path` into `store`; `progress` is called now and then.
pub async fn import_wxr(
    store: &Store,
    path: &Path,
    opts: &ImportOptions,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let p = path.to_owned();
    let survey = tokio::task::spawn_blocking(move || survey(&p))
        .await
        .map_err(|e| ImportError::Internal(e.to_string()))??;
    let mut report = ImportReport {
        file: path.display().to_string(),
        wxr_version: survey.channel.wxr_version.clone(),
        dry_run: opts.dry_run,
        ..Default::default()
    };
    let source_url = [
        &survey.channel.base_blog_url,
        &survey.channel.link,
        &survey.channel.base_site_url,
    ]
    .into_iter()
    .find(|u| !u.trim().is_empty())
    .map(|u| u.trim().trim_end_matches('/').to_owned())
    .ok_or_else(|| {
        ImportError::Invalid(
            "the file names no site (no <link> or <wp:base_site_url> in its channel)".into(),
        )
    })?;
    report.source = source_url.clone();
    let mut hosts = vec![];
    let mut base_path = String::new();
    for u in [
        &survey.channel.base_blog_url,
        &survey.channel.link,
        &survey.channel.base_site_url,
    ] {
        if let Ok(url) = url::Url::parse(u.trim()) {
            if let Some(h) = url.host_str() {
                if !hosts.contains(&h.to_owned()) {
                    hosts.push(h.to_owned());
                }
            }
            if base_path.is_empty() {
                base_path = url.path().trim_end_matches('/').to_owned();
            }
        }
    }
    let settings = crate::Settings::load(store)
        .await
        .map_err(|e| ImportError::Internal(e.to_string()))?;
    let tz = settings.tz();

    let (users, user_ids, default_author) =
        import_authors(store, &source_url, &survey, opts, &mut report).await?;
    let terms = import_terms(store, &source_url, &survey, opts, &mut report).await?;
    let ctx = Arc::new(Context {
        source: source_url.clone(),
        hosts,
        base_path,
        users,
        user_ids,
        default_author,
        terms,
        attachments: survey.attachments,
        tz,
        now: colloquy_store::now(),
    });
    let done: Arc<HashSet<String>> = Arc::new(
        store
            .imported(&source_url, "post")
            .await?
            .into_keys()
            .collect(),
    );
    let fetcher = if opts.media && !opts.dry_run {
        Some(
            colloquy_federation::Fetcher::new(colloquy_federation::FetchConfig {
                user_agent: colloquy_federation::user_agent(&opts.base_url),
                allow_private: opts.fetch_allow_private,
                max_bytes: MAX_IMAGE,
                ..Default::default()
            })
            .map_err(|e| ImportError::Internal(e.to_string()))?,
        )
    } else {
        None
    };
    let mut media_done: HashMap<String, String> = store
        .imported(&source_url, "media")
        .await?
        .into_iter()
        .map(|(url, (_, name))| (url, name))
        .collect();

    // Second pass: a reader thread sends batches of items; each is converted on a blocking
    // thread while earlier ones are written.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<Item>, ImportError>>(IN_FLIGHT);
    let p = path.to_owned();
    let reader = std::thread::spawn(move || {
        let reader = match open(&p) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        let mut batch = Vec::with_capacity(BATCH);
        for rec in reader {
            match rec {
                Ok(Record::Item(item)) => {
                    batch.push(*item);
                    if batch.len() == BATCH
                        && tx
                            .blocking_send(Ok(std::mem::replace(
                                &mut batch,
                                Vec::with_capacity(BATCH),
                            )))
                            .is_err()
                    {
                        return;
                    }
                }
                Ok(_) => {}
                Err(source) => {
                    let _ = tx.blocking_send(Err(ImportError::File {
                        path: p.display().to_string(),
                        source,
                    }));
                    return;
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok(batch));
        }
    });

    let mut pending: VecDeque<tokio::task::JoinHandle<Converted>> = VecDeque::new();
    let mut state = Progress {
        items_total: survey.items,
        ..Default::default()
    };
    let mut input_open = true;
    loop {
        while input_open && pending.len() < IN_FLIGHT {
            match rx.recv().await {
                Some(Ok(items)) => {
                    let ctx = ctx.clone();
                    let done = done.clone();
                    pending.push_back(tokio::task::spawn_blocking(move || {
                        convert_batch(&ctx, &done, items)
                    }));
                }
                Some(Err(e)) => return Err(e),
                None => input_open = false,
            }
        }
        let Some(next) = pending.pop_front() else {
            break;
        };
        let mut converted = next
            .await
            .map_err(|e| ImportError::Internal(e.to_string()))?;
        state.items_done += converted.items;
        if let Some(fetcher) = &fetcher {
            copy_media(
                fetcher,
                &opts.data_dir,
                &mut converted,
                &mut media_done,
                &mut report,
            )
            .await;
        } else if !opts.dry_run {
            report.media.kept_remote += converted
                .posts
                .iter()
                .map(|p| {
                    let mut urls = image_urls(&p.body_markdown);
                    urls.extend(p.featured_image.clone());
                    urls.sort();
                    urls.dedup();
                    urls.len() as u64
                })
                .sum::<u64>();
        }
        let counts = if opts.dry_run {
            ImportCounts {
                posts: converted.posts.len() as u64,
                thoughts: converted
                    .posts
                    .iter()
                    .map(|p| p.thoughts.len() as u64)
                    .sum(),
                ..Default::default()
            }
        } else {
            store.import_posts(&ctx.source, converted.posts).await?
        };
        report.already_imported += counts.already_there + converted.already;
        report.renamed_slugs.extend(converted.renamed);
        report.renamed_slugs.extend(counts.renamed);
        report.redirects += if opts.dry_run {
            converted.redirects
        } else {
            counts.redirects
        };
        if counts.duplicate_linkbacks > 0 {
            *report
                .skipped
                .entry("duplicate linkback".into())
                .or_default() += counts.duplicate_linkbacks;
        }
        // Duplicate linkbacks are dropped when the batch is written: count what was.
        converted.report.thoughts -= counts.duplicate_linkbacks;
        converted.report.linkbacks -= counts.duplicate_linkbacks;
        report.merge(converted.report);
        state.posts = report.posts + report.pages;
        state.thoughts = report.thoughts;
        progress(state);
    }
    let _ = reader.join();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

type UserMaps = (HashMap<String, i64>, HashMap<i64, i64>, i64);

async fn import_authors(
    store: &Store,
    source: &str,
    survey: &Survey,
    opts: &ImportOptions,
    report: &mut ImportReport,
) -> Result<UserMaps, ImportError> {
    let mut users = HashMap::new();
    let mut ids = HashMap::new();
    let mut first = None;
    for (login, email) in &opts.authors {
        if !survey.authors.iter().any(|a| &a.login == login) {
            report.warn(format!(
                "the authors map names {login:?}, who is not an author in this file"
            ));
        }
        if Email::parse(email).is_err() {
            return Err(ImportError::Invalid(format!(
                "the authors map gives {login:?} the email {email:?}, which is not an email address"
            )));
        }
    }
    let mut authors: Vec<wxr::Author> = survey
        .authors
        .iter()
        .filter(|a| !a.login.trim().is_empty())
        .cloned()
        .collect();
    if authors.len() < survey.authors.len() {
        report.warn("authors without a login were left out; their posts go to the first author");
    }
    // Old exports list no authors: their posts need someone.
    if authors.is_empty() {
        authors.push(wxr::Author {
            login: "imported".into(),
            display_name: survey.channel.title.clone(),
            ..Default::default()
        });
    }
    for a in &authors {
        let login = a.login.trim();
        let wanted = opts
            .authors
            .get(login)
            .cloned()
            .unwrap_or_else(|| a.email.trim().to_owned());
        let email = match Email::parse(&wanted) {
            Ok(e) => e.as_str().to_owned(),
            Err(_) => {
                let local = Slug::from_title(login)
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_else(|_| "author".into());
                let made = format!("{local}@imported.invalid");
                report.warn(format!(
                    "author {login:?} has no usable email ({wanted:?}); they were given {made}, change it in /admin/users"
                ));
                made
            }
        };
        let name = [
            a.display_name.trim(),
            &format!("{} {}", a.first_name, a.last_name),
            login,
        ]
        .into_iter()
        .map(str::trim)
        .find(|n| !n.is_empty())
        .unwrap_or(login)
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect::<String>();
        let slug = Slug::from_title(&name)
            .or_else(|_| Slug::from_title(login))
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|_| "author".into());
        let id = if opts.dry_run {
            match store.user_by_email(&email).await {
                Ok(u) => {
                    report.authors.matched += 1;
                    u.id
                }
                Err(_) => {
                    report.authors.created += 1;
                    0
                }
            }
        } else {
            let (id, created) = store
                .import_user(source, login, &email, &name, &slug, "author")
                .await?;
            if created {
                report.authors.created += 1;
            } else {
                report.authors.matched += 1;
            }
            id
        };
        users.insert(login.to_owned(), id);
        if let Some(wp_id) = a.id {
            ids.insert(wp_id, id);
        }
        first.get_or_insert(id);
    }
    Ok((users, ids, first.unwrap_or(0)))
}

/// A term's slug here: WordPress's (percent-decoded) when it is one of ours, else one made
/// from it or from the name.
fn term_slug(wp_slug: &str, name: &str, fallback: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(wp_slug.trim())
        .decode_utf8_lossy()
        .to_lowercase();
    Slug::parse(&decoded)
        .or_else(|_| Slug::from_title(&decoded))
        .or_else(|_| Slug::from_title(name))
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|_| fallback.to_owned())
}

/// Text as WordPress keeps it in titles and names: HTML entities (`&amp;`, `&#8217;`,
/// `&raquo;`) and the odd tag, read as a browser shows them.
fn clean_text(s: &str, max_chars: usize) -> String {
    let decoded;
    let s = if s.contains('&') || s.contains('<') {
        let (doc, _) = colloquy_federation::parse_html_bounded(s);
        decoded = doc.root_element().text().collect::<String>();
        decoded.as_str()
    } else {
        s
    };
    s.trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(max_chars)
        .collect()
}

async fn import_terms(
    store: &Store,
    source: &str,
    survey: &Survey,
    opts: &ImportOptions,
    report: &mut ImportReport,
) -> Result<HashMap<(String, String), i64>, ImportError> {
    struct T {
        taxonomy: &'static str,
        key: String,
        name: String,
        slug: String,
        description: String,
        parent: String,
    }
    let mut all: Vec<T> = vec![];
    let mut known: HashSet<(String, String)> = HashSet::new();
    for t in &survey.terms {
        let taxonomy = match t.taxonomy.as_str() {
            "category" => "category",
            "post_tag" => "tag",
            other => {
                *report
                    .skipped
                    .entry(format!("term of taxonomy {other}"))
                    .or_default() += 1;
                continue;
            }
        };
        if !known.insert((taxonomy.to_owned(), t.slug.clone())) {
            continue;
        }
        let fallback = format!("{taxonomy}-{}", t.id.unwrap_or(all.len() as i64 + 1));
        let name = clean_text(&t.name, 100);
        all.push(T {
            taxonomy,
            key: t.slug.clone(),
            slug: term_slug(&t.slug, &name, &fallback),
            name: if name.is_empty() {
                t.slug.clone()
            } else {
                name
            },
            description: t.description.trim().chars().take(10_000).collect(),
            parent: if taxonomy == "category" {
                t.parent.clone()
            } else {
                String::new()
            },
        });
    }
    for ((taxonomy, slug), name) in &survey.item_terms {
        if known.insert((taxonomy.clone(), slug.clone())) {
            let taxonomy = if taxonomy == "category" {
                "category"
            } else {
                "tag"
            };
            let name = clean_text(name, 100);
            all.push(T {
                taxonomy,
                key: slug.clone(),
                slug: term_slug(slug, &name, &format!("{taxonomy}-{}", all.len() + 1)),
                name: if name.is_empty() { slug.clone() } else { name },
                description: String::new(),
                parent: String::new(),
            });
        }
    }
    // Parents before children; a parent the file does not have (or a loop) is dropped.
    let mut ids: HashMap<(String, String), i64> = HashMap::new();
    let mut remaining: Vec<&T> = all.iter().collect();
    let mut redirects = vec![];
    while !remaining.is_empty() {
        let before = remaining.len();
        let mut next = vec![];
        for t in remaining {
            let parent_key = ("category".to_owned(), t.parent.clone());
            let parent = if t.parent.is_empty() {
                None
            } else if let Some(id) = ids.get(&parent_key) {
                Some(*id)
            } else if all
                .iter()
                .any(|o| o.taxonomy == "category" && o.key == t.parent)
            {
                next.push(t);
                continue;
            } else {
                report.warn(format!(
                    "category {:?} names a parent {:?} the file does not have; it was imported at the top level",
                    t.name, t.parent
                ));
                None
            };
            let id = if opts.dry_run {
                match store.term_by_slug(t.taxonomy, &t.slug).await {
                    Ok(row) => {
                        tally(report, t.taxonomy, false);
                        row.id
                    }
                    Err(_) => {
                        tally(report, t.taxonomy, true);
                        0
                    }
                }
            } else {
                let (id, created) = store
                    .import_term(
                        source,
                        t.taxonomy,
                        &t.key,
                        &t.name,
                        &t.slug,
                        &t.description,
                        parent,
                    )
                    .await?;
                tally(report, t.taxonomy, created);
                id
            };
            let decoded = percent_encoding::percent_decode_str(&t.key)
                .decode_utf8_lossy()
                .to_lowercase();
            if decoded != t.slug && !opts.dry_run {
                let base = if t.taxonomy == "tag" {
                    "/tag/"
                } else {
                    "/category/"
                };
                redirects.push((old_path_key(&format!("{base}{decoded}")), id));
            }
            ids.insert((t.taxonomy.to_owned(), t.key.clone()), id);
        }
        if next.len() == before {
            // Only a loop is left: break it by importing the rest without parents.
            for t in &next {
                report.warn(format!(
                    "category {:?} is its own ancestor in the file; it was imported at the top level",
                    t.name
                ));
            }
            for t in next {
                let (id, created) = if opts.dry_run {
                    (0, true)
                } else {
                    store
                        .import_term(
                            source,
                            t.taxonomy,
                            &t.key,
                            &t.name,
                            &t.slug,
                            &t.description,
                            None,
                        )
                        .await?
                };
                tally(report, t.taxonomy, created);
                ids.insert((t.taxonomy.to_owned(), t.key.clone()), id);
            }
            break;
        }
        remaining = next;
    }
    if !opts.dry_run {
        store.add_term_redirects(&redirects).await?;
        report.redirects += redirects.len() as u64;
    }
    Ok(ids)
}

fn tally(report: &mut ImportReport, taxonomy: &str, created: bool) {
    let c = if taxonomy == "tag" {
        &mut report.tags
    } else {
        &mut report.categories
    };
    if created {
        c.created += 1;
    } else {
        c.matched += 1;
    }
}

/// A batch after conversion.
#[derive(Default)]
struct Converted {
    items: u64,
    posts: Vec<ImportedPost>,
    already: u64,
    redirects: u64,
    renamed: Vec<(String, String)>,
    report: ImportReport,
}

fn convert_batch(ctx: &Context, done: &HashSet<String>, items: Vec<Item>) -> Converted {
    let mut out = Converted {
        items: items.len() as u64,
        ..Default::default()
    };
    for item in items {
        match item.post_type.as_str() {
            "post" | "page" => {}
            // Attachments are known from the first pass; their files come with the posts.
            "attachment" => continue,
            other => {
                *out.report
                    .skipped
                    .entry(format!("item of type {other}"))
                    .or_default() += 1;
                continue;
            }
        }
        if done.contains(&item.post_id.to_string()) {
            out.already += 1;
            continue;
        }
        if let Some(post) = convert_item(ctx, &item, &mut out) {
            if post.kind == "page" {
                out.report.pages += 1;
            } else {
                out.report.posts += 1;
            }
            out.report.thoughts += post.thoughts.len() as u64;
            out.report.linkbacks += post
                .thoughts
                .iter()
                .filter(|t| t.kind == "pingback")
                .count() as u64;
            out.redirects += post.old_paths.len() as u64;
            out.posts.push(post);
        }
    }
    out
}

/// A WordPress time ("2026-12-01 20:00:00"); GMT when `utc`, else in the site's zone.
fn wp_time(s: &str, tz: Option<&jiff::tz::TimeZone>) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() || s.starts_with("0000") {
        return None;
    }
    let dt: jiff::civil::DateTime = s.replace(' ', "T").parse().ok()?;
    let z = match tz {
        Some(tz) => dt.to_zoned(tz.clone()).ok()?,
        None => dt.to_zoned(jiff::tz::TimeZone::UTC).ok()?,
    };
    let secs = z.timestamp().as_second();
    (0..=253_402_300_799).contains(&secs).then_some(secs)
}

fn change(out: &mut Converted, what: &str) {
    *out.report.changed.entry(what.to_owned()).or_default() += 1;
}

fn convert_item(ctx: &Context, item: &Item, out: &mut Converted) -> Option<ImportedPost> {
    let id = item.post_id;
    let label = || {
        let t: String = item.title.chars().take(60).collect();
        format!("{} {id} ({t:?})", item.post_type)
    };
    // Status: what is public in WordPress is public here; everything else stays a draft.
    let wp_status = item.status.as_str();
    let mut status = match wp_status {
        "publish" => PostStatus::Published,
        "future" => PostStatus::Scheduled,
        "draft" | "pending" | "private" => {
            if wp_status != "draft" {
                change(out, &format!("{wp_status} → draft"));
            }
            PostStatus::Draft
        }
        other => {
            *out.report
                .skipped
                .entry(format!("status {other}"))
                .or_default() += 1;
            return None;
        }
    };
    if !item.post_password.is_empty() && status != PostStatus::Draft {
        change(out, "password-protected → draft");
        status = PostStatus::Draft;
    }
    let time =
        wp_time(&item.post_date_gmt, None).or_else(|| wp_time(&item.post_date, Some(&ctx.tz)));
    let (status, publish_at) = match colloquy_core::post::resolve_schedule(status, time, ctx.now) {
        Ok(r) => r,
        Err(_) => {
            // A scheduled post without a time: keep it as a draft.
            change(out, "future without a date → draft");
            (PostStatus::Draft, None)
        }
    };
    if wp_status == "future" && status == PostStatus::Published {
        change(out, "future, date passed → published");
    }

    let mut title = clean_text(&item.title, usize::MAX);
    if title.chars().count() > MAX_TITLE_CHARS {
        out.report.warn(format!(
            "{}: the title is longer than {MAX_TITLE_CHARS} characters and was shortened",
            label()
        ));
        title = title
            .chars()
            .take(MAX_TITLE_CHARS)
            .collect::<String>()
            .trim()
            .to_owned();
    }
    if title.is_empty() {
        title = "Untitled".into();
        change(out, "empty title → Untitled");
    }

    // Body: our own Markdown when the file came from Colloquy, else converted.
    let body_markdown = match meta_of(&item.meta, "_colloquy_markdown") {
        Some(md) => md.to_owned(),
        None => {
            let attachments = |aid: i64| ctx.attachments.get(&aid).cloned();
            let c = content::to_markdown(
                &item.content,
                &content::Options {
                    attachments: &attachments,
                },
            );
            out.report.add_content(&c.report);
            c.markdown
        }
    };
    let body_markdown: String = body_markdown
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect();
    if let Err(e) = check_body(&body_markdown) {
        out.report
            .warn(format!("{}: not imported: {}", label(), e.message));
        *out.report
            .skipped
            .entry("body too large".into())
            .or_default() += 1;
        return None;
    }
    let (body_html, plain_text, mut excerpt) = body_parts(&body_markdown);
    let wp_excerpt = content::comment_to_markdown(&item.excerpt);
    if !wp_excerpt.trim().is_empty() {
        excerpt = markdown::plain_text(&wp_excerpt)
            .chars()
            .take(1000)
            .collect();
    }

    // Slug: WordPress's when it can be one of ours; else made from it or the title.
    let decoded = percent_encoding::percent_decode_str(item.post_name.trim())
        .decode_utf8_lossy()
        .to_lowercase();
    let slug = Slug::parse(&decoded)
        .or_else(|_| Slug::from_title(&decoded))
        .or_else(|_| Slug::from_title(&title))
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|_| format!("{}-{id}", item.post_type));
    if !decoded.is_empty() && decoded != slug {
        out.renamed.push((decoded.clone(), slug.clone()));
    }

    let author_id = match ctx.users.get(item.creator.trim()) {
        Some(id) => *id,
        None => {
            if !item.creator.trim().is_empty() {
                out.report.warn(format!(
                    "{}: its author {:?} is not in the file; it was given to the first author",
                    label(),
                    item.creator
                ));
            }
            ctx.default_author
        }
    };
    let kind = if item.post_type == "page" {
        "page"
    } else {
        "post"
    };
    let term_ids = item
        .terms
        .iter()
        .filter_map(|t| {
            let tax = match t.domain.as_str() {
                "category" => "category",
                "post_tag" => "tag",
                _ => return None,
            };
            ctx.terms.get(&(tax.to_owned(), t.slug.clone())).copied()
        })
        .collect();
    let featured_image = meta_of(&item.meta, "_thumbnail_id")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .and_then(|aid| ctx.attachments.get(&aid).cloned());

    let mut old_paths = BTreeMap::new();
    for link in [&item.link, &item.guid] {
        if let Some(p) = own_path(ctx, link) {
            old_paths.insert(p, ());
        }
    }
    let query = if kind == "page" { "page_id" } else { "p" };
    old_paths.insert(format!("/?{query}={id}"), ());
    if kind == "post" {
        old_paths.insert(format!("/archives/{id}"), ());
    }
    for (k, path) in &item.meta {
        if k == "_colloquy_old_path" && path.starts_with('/') {
            old_paths.insert(old_path_key(path), ());
        }
    }
    if !decoded.is_empty() && decoded != slug && kind == "page" {
        old_paths.insert(old_path_key(&format!("/{decoded}")), ());
    }

    let thoughts = item
        .comments
        .iter()
        .filter_map(|c| convert_comment(ctx, c, out))
        .collect();
    let created_at = time.unwrap_or(ctx.now);
    let updated_at = wp_time(&item.post_modified_gmt, None)
        .or_else(|| wp_time(&item.post_modified, Some(&ctx.tz)))
        .unwrap_or(created_at)
        .max(created_at);
    Some(ImportedPost {
        key: id.to_string(),
        kind: kind.into(),
        title,
        slug,
        body_markdown,
        body_html,
        plain_text,
        excerpt,
        status: status.as_str().into(),
        publish_at,
        author_id,
        // The URL; copying the file replaces it with the upload's name (with --no-media, or
        // when the copy fails, the page shows the image from there).
        featured_image,
        sticky: item.is_sticky,
        thoughts_open: item.comment_status != "closed",
        created_at,
        updated_at,
        term_ids,
        old_paths: old_paths.into_keys().collect(),
        thoughts,
        media: vec![],
    })
}

fn convert_comment(
    ctx: &Context,
    c: &wxr::Comment,
    out: &mut Converted,
) -> Option<ImportedThought> {
    let kind = match (meta_of(&c.meta, "_colloquy_kind"), c.comment_type.as_str()) {
        (Some(k), _) if colloquy_core::thought::ThoughtKind::parse(k).is_ok() => k.to_owned(),
        (_, "" | "comment") => "comment".into(),
        (_, "pingback") => "pingback".into(),
        (_, "trackback") => {
            change(out, "trackback → linkback");
            "pingback".into()
        }
        (_, "webmention") => "webmention".into(),
        (_, other) => {
            change(out, &format!("comment of type {other} → comment"));
            "comment".into()
        }
    };
    let status = match c.approved.trim() {
        "1" | "approve" | "approved" => "approved",
        "0" | "hold" => "pending",
        "spam" => "spam",
        "trash" | "post-trashed" => "trash",
        other => {
            change(out, &format!("comment status {other:?} → pending"));
            "pending"
        }
    };
    let body_markdown = match meta_of(&c.meta, "_colloquy_markdown") {
        Some(md) => md.to_owned(),
        None => content::comment_to_markdown(&c.content),
    };
    let body_markdown: String = body_markdown
        .chars()
        .filter(|ch| !ch.is_control() || matches!(ch, '\t' | '\n' | '\r'))
        .collect();
    let linkback = kind != "comment";
    let url = c.author_url.trim();
    let web_url = url::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|u| u.to_string());
    let source_url = if linkback { web_url.clone() } else { None };
    let created_at = wp_time(&c.date_gmt, None)
        .or_else(|| wp_time(&c.date, Some(&ctx.tz)))
        .unwrap_or(ctx.now);
    let name = clean_text(&c.author, 200);
    Some(ImportedThought {
        key: c.id.to_string(),
        parent_key: (c.parent != 0).then(|| c.parent.to_string()),
        body_html: markdown::render_comment(&body_markdown),
        body_hash: crate::routes::thoughts::body_hash(&body_markdown),
        body_markdown,
        kind,
        status: status.into(),
        user_id: (c.user_id != 0)
            .then(|| ctx.user_ids.get(&c.user_id).copied())
            .flatten(),
        author_name: if name.is_empty() {
            "Anonymous".into()
        } else {
            name
        },
        author_email: c.author_email.trim().chars().take(320).collect(),
        author_url: web_url.unwrap_or_default(),
        author_ip: c.author_ip.trim().chars().take(64).collect(),
        source_url,
        created_at,
    })
}

/// A WordPress meta value (post meta or comment meta) by key.
fn meta_of<'a>(meta: &'a [(String, String)], key: &str) -> Option<&'a str> {
    meta.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// How an old path is stored and looked up: percent-decoded, lower case, no trailing slash;
/// `/?p=123` style queries kept.
pub fn old_path_key(path: &str) -> String {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .to_lowercase();
    let mut key = decoded.trim_end_matches('/').to_owned();
    if key.is_empty() {
        key.push('/');
    }
    for pair in query.split('&') {
        if let Some((k, v)) = pair.split_once('=') {
            if matches!(k, "p" | "page_id" | "attachment_id")
                && v.bytes().all(|b| b.is_ascii_digit())
                && !v.is_empty()
            {
                return format!("{}?{k}={v}", if key == "/" { "/" } else { &key });
            }
        }
    }
    key
}

/// The path of a link on the source site, relative to where WordPress lived there.
fn own_path(ctx: &Context, link: &str) -> Option<String> {
    let url = url::Url::parse(link.trim()).ok()?;
    let host = url.host_str()?;
    if !ctx.hosts.iter().any(|h| h == host) {
        return None;
    }
    let mut path = url.path().to_owned();
    if !ctx.base_path.is_empty() {
        path = path.strip_prefix(&ctx.base_path)?.to_owned();
    }
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let full = match url.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let key = old_path_key(&full);
    // The site's home page is nobody's old link.
    (key != "/").then_some(key)
}

/// Image URLs a post's Markdown shows (Markdown images and `<img src>`).
fn image_urls(md: &str) -> Vec<String> {
    use pulldown_cmark::{Event, Parser, Tag};
    let mut urls = vec![];
    for ev in Parser::new(md) {
        match ev {
            Event::Start(Tag::Image { dest_url, .. }) => urls.push(dest_url.to_string()),
            Event::Html(h) | Event::InlineHtml(h) => {
                let lower = h.to_ascii_lowercase();
                let mut at = 0;
                while let Some(i) = lower[at..].find("src=") {
                    let start = at + i + 4;
                    let rest = &h[start..];
                    let quote = rest.chars().next();
                    let url: String = match quote {
                        Some(q @ ('"' | '\'')) => {
                            rest[1..].chars().take_while(|&c| c != q).collect()
                        }
                        _ => rest
                            .chars()
                            .take_while(|c| !c.is_whitespace() && *c != '>')
                            .collect(),
                    };
                    urls.push(url);
                    at = start;
                }
            }
            _ => {}
        }
    }
    urls.retain(|u| u.starts_with("http://") || u.starts_with("https://"));
    urls.sort();
    urls.dedup();
    urls
}

/// Copies the images of a converted batch into `uploads/` and points the posts at them.
async fn copy_media(
    fetcher: &colloquy_federation::Fetcher,
    data_dir: &Path,
    batch: &mut Converted,
    done: &mut HashMap<String, String>,
    report: &mut ImportReport,
) {
    let dir = data_dir.join("uploads");
    let _ = tokio::fs::create_dir_all(&dir).await;
    for post in &mut batch.posts {
        let mut urls = image_urls(&post.body_markdown);
        if let Some(f) = &post.featured_image {
            urls.push(f.clone());
        }
        let mut changed = false;
        for url in urls {
            let name = match done.get(&url) {
                Some(n) => Some(n.clone()),
                None => match fetch_image(fetcher, &dir, &url).await {
                    Ok(name) => {
                        report.media.copied += 1;
                        done.insert(url.clone(), name.clone());
                        post.media.push((url.clone(), name.clone()));
                        Some(name)
                    }
                    Err(why) => {
                        *report.media.failed.entry(why).or_default() += 1;
                        None
                    }
                },
            };
            let Some(name) = name else { continue };
            if post.featured_image.as_deref() == Some(url.as_str()) {
                post.featured_image = Some(name.clone());
            }
            if post.body_markdown.contains(&url) {
                post.body_markdown = post
                    .body_markdown
                    .replace(&url, &format!("/uploads/{name}"));
                changed = true;
            }
        }
        if changed {
            let (html, plain, _) = body_parts(&post.body_markdown);
            post.body_html = html;
            post.plain_text = plain;
        }
    }
}

async fn fetch_image(
    fetcher: &colloquy_federation::Fetcher,
    dir: &Path,
    url: &str,
) -> Result<String, String> {
    let fetched = fetcher
        .get(url)
        .await
        .and_then(|f| f.error_for_status())
        .map_err(|e| format!("{e}"))?;
    let data = &fetched.body;
    if data.len() > MAX_IMAGE {
        return Err("larger than 5 MB".into());
    }
    if sniff_image(data).is_none() {
        return Err("not a PNG, JPEG, GIF or WebP image".into());
    }
    let name = write_upload(dir, data).await.map_err(|e| e.to_string())?;
    Ok(name)
}
