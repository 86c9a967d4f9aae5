//! `colloquy export wxr`: the site as a WordPress export (WXR 1.2).
//!
//! WordPress's importer reads it as any export: posts and pages with their HTML, authors,
//! categories (parents first) and tags, comments and linkbacks with their threads, and
//! featured images as attachments. Our own importer also reads what WordPress would not
//! keep exactly: each post's and thought's Markdown (`_colloquy_markdown` meta) and a
//! thought's kind (`_colloquy_kind`), and the old links that lead to a post
//! (`_colloquy_old_path`), so import → export → import gives the same site.
//! Streams: posts are read a page at a time and written as they come.

use crate::render::post_path;
use colloquy_store::{PostRow, Store, TermRow, ThoughtRow};
use colloquy_wordpress::wxr::{self, write::Writer, Channel, Comment, Item, ItemTerm};
use std::collections::HashMap;
use std::io::Write;

#[derive(Debug, Default, Clone, Copy)]
pub struct ExportCounts {
    pub posts: u64,
    pub thoughts: u64,
    pub authors: u64,
    pub terms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write the export: {0}")]
    Write(#[from] std::io::Error),
    #[error("database: {0}")]
    Store(#[from] colloquy_store::StoreError),
    #[error("{0}")]
    Internal(String),
}

const PAGE: i64 = 200;

fn wp_date(ts: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_second(ts)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(tz.clone())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn rfc2822(ts: i64) -> String {
    jiff::Timestamp::from_second(ts)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

/// Categories with every parent before its children (WordPress's importer needs the
/// parent to exist when it reads a child).
fn parents_first(terms: Vec<TermRow>) -> Vec<TermRow> {
    let ids: std::collections::HashSet<i64> = terms.iter().map(|t| t.id).collect();
    let mut placed: std::collections::HashSet<i64> = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(terms.len());
    let mut rest = terms;
    while !rest.is_empty() {
        let before = rest.len();
        let (ready, later): (Vec<_>, Vec<_>) = rest.into_iter().partition(|t| {
            t.parent_id
                .is_none_or(|p| placed.contains(&p) || !ids.contains(&p))
        });
        for t in &ready {
            placed.insert(t.id);
        }
        out.extend(ready);
        if later.len() == before {
            // A loop cannot be stored, but should one exist, write the rest as they are.
            out.extend(later);
            break;
        }
        rest = later;
    }
    out
}

/// Writes the whole site to `out`.
pub async fn export_wxr<W: Write>(
    store: &Store,
    base_url: &str,
    out: W,
) -> Result<ExportCounts, ExportError> {
    let settings = crate::Settings::load(store)
        .await
        .map_err(|e| ExportError::Internal(e.to_string()))?;
    let tz = settings.tz();
    let base = base_url.trim_end_matches('/');
    let mut counts = ExportCounts::default();
    let mut w = Writer::new(
        out,
        &Channel {
            title: settings.title.clone(),
            link: base.to_owned(),
            description: settings.tagline.clone(),
            language: settings.language.clone(),
            wxr_version: "1.2".into(),
            base_site_url: base.to_owned(),
            base_blog_url: base.to_owned(),
        },
    )?;

    let users = store.list_users().await?;
    let logins: HashMap<i64, String> = users.iter().map(|u| (u.id, u.slug.clone())).collect();
    for u in &users {
        w.author(&wxr::Author {
            id: Some(u.id),
            login: u.slug.clone(),
            email: u.email.clone(),
            display_name: u.name.clone(),
            first_name: String::new(),
            last_name: String::new(),
        })?;
        counts.authors += 1;
    }

    let categories = parents_first(store.terms("category").await?);
    let tags = store.terms("tag").await?;
    let slugs: HashMap<i64, String> = categories.iter().map(|t| (t.id, t.slug.clone())).collect();
    for (t, taxonomy) in categories
        .iter()
        .map(|t| (t, "category"))
        .chain(tags.iter().map(|t| (t, "post_tag")))
    {
        w.term(&wxr::Term {
            id: Some(t.id),
            taxonomy: taxonomy.into(),
            slug: t.slug.clone(),
            name: t.name.clone(),
            parent: t
                .parent_id
                .and_then(|p| slugs.get(&p).cloned())
                .unwrap_or_default(),
            description: t.description.clone(),
        })?;
        counts.terms += 1;
    }

    // Attachments (featured images) need ids no post has: past the largest post id.
    let mut next_attachment: i64 = 0;
    let mut after = 0;
    loop {
        let posts = store.posts_after(after, PAGE).await?;
        let Some(last) = posts.last() else { break };
        after = last.id;
        if next_attachment == 0 {
            next_attachment = 1_000_000_000;
        }
        let ids: Vec<i64> = posts.iter().map(|p| p.id).collect();
        let terms = store.terms_of_posts(&ids).await?;
        let mut old_paths = store.old_paths_of(&ids).await?;
        let mut thoughts: HashMap<i64, Vec<ThoughtRow>> = HashMap::new();
        for t in store.thoughts_of(&ids).await? {
            thoughts.entry(t.post_id).or_default().push(t);
        }
        for p in &posts {
            let featured = p.featured_image.as_ref().map(|name| {
                next_attachment += 1;
                (
                    next_attachment,
                    crate::render::upload_url(base, name),
                    name.clone(),
                )
            });
            if let Some((aid, url, name)) = &featured {
                w.item(&attachment(p, *aid, url, name, &logins, &tz))?;
            }
            let item = post_item(
                p,
                base,
                Hanging {
                    terms: terms.get(&p.id).map(Vec::as_slice).unwrap_or(&[]),
                    thoughts: thoughts.remove(&p.id).unwrap_or_default(),
                    featured: featured.map(|(aid, _, _)| aid),
                    old_paths: old_paths.remove(&p.id).unwrap_or_default(),
                },
                &logins,
                &tz,
            );
            counts.thoughts += item.comments.len() as u64;
            counts.posts += 1;
            w.item(&item)?;
        }
    }
    w.finish()?.flush()?;
    Ok(counts)
}

fn attachment(
    p: &PostRow,
    id: i64,
    url: &str,
    name: &str,
    logins: &HashMap<i64, String>,
    tz: &jiff::tz::TimeZone,
) -> Item {
    let at = p.publish_at.unwrap_or(p.created_at);
    Item {
        title: name.rsplit('/').next().unwrap_or(name).to_owned(),
        link: url.to_owned(),
        guid: url.to_owned(),
        pub_date: rfc2822(at),
        creator: logins.get(&p.author_id).cloned().unwrap_or_default(),
        post_id: id,
        post_date: wp_date(at, tz),
        post_date_gmt: wp_date(at, &jiff::tz::TimeZone::UTC),
        post_modified: wp_date(p.updated_at, tz),
        post_modified_gmt: wp_date(p.updated_at, &jiff::tz::TimeZone::UTC),
        comment_status: "closed".into(),
        ping_status: "closed".into(),
        post_name: colloquy_core::Slug::from_title(name.rsplit('/').next().unwrap_or(name))
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|_| format!("attachment-{id}")),
        status: "inherit".into(),
        post_parent: p.id,
        post_type: "attachment".into(),
        attachment_url: url.to_owned(),
        ..Default::default()
    }
}

/// What hangs on a post in the export besides its own row.
struct Hanging<'a> {
    terms: &'a [TermRow],
    thoughts: Vec<ThoughtRow>,
    /// The attachment item of its featured image.
    featured: Option<i64>,
    old_paths: Vec<String>,
}

fn post_item(
    p: &PostRow,
    base: &str,
    h: Hanging<'_>,
    logins: &HashMap<i64, String>,
    tz: &jiff::tz::TimeZone,
) -> Item {
    let utc = jiff::tz::TimeZone::UTC;
    let at = p.publish_at.unwrap_or(p.created_at);
    let (status, dated) = match p.status.as_str() {
        "published" => ("publish", true),
        "scheduled" => ("future", true),
        _ => ("draft", p.publish_at.is_some()),
    };
    let mut meta = vec![("_colloquy_markdown".to_owned(), p.body_markdown.clone())];
    if let Some(aid) = h.featured {
        meta.push(("_thumbnail_id".into(), aid.to_string()));
    }
    meta.extend(
        h.old_paths
            .into_iter()
            .map(|path| ("_colloquy_old_path".to_owned(), path)),
    );
    Item {
        title: p.title.clone(),
        link: format!("{base}{}", post_path(&p.kind, &p.slug, Some(at), tz)),
        guid: format!(
            "{base}/?{}={}",
            if p.kind == "page" { "page_id" } else { "p" },
            p.id
        ),
        pub_date: rfc2822(at),
        creator: logins.get(&p.author_id).cloned().unwrap_or_default(),
        description: String::new(),
        content: p.body_html.clone(),
        excerpt: String::new(),
        post_id: p.id,
        post_date: wp_date(at, tz),
        // WordPress writes a zero GMT date for drafts that were never dated.
        post_date_gmt: if dated {
            wp_date(at, &utc)
        } else {
            "0000-00-00 00:00:00".into()
        },
        post_modified: wp_date(p.updated_at, tz),
        post_modified_gmt: wp_date(p.updated_at, &utc),
        comment_status: if p.thoughts_open { "open" } else { "closed" }.into(),
        ping_status: "open".into(),
        post_name: p.slug.clone(),
        status: status.into(),
        post_parent: 0,
        menu_order: 0,
        post_type: p.kind.clone(),
        post_password: String::new(),
        is_sticky: p.sticky,
        attachment_url: String::new(),
        terms: h
            .terms
            .iter()
            .map(|t| ItemTerm {
                domain: if t.taxonomy == "tag" {
                    "post_tag"
                } else {
                    "category"
                }
                .into(),
                slug: t.slug.clone(),
                name: t.name.clone(),
            })
            .collect(),
        meta,
        comments: h.thoughts.into_iter().map(|t| comment(t, tz)).collect(),
    }
}

fn comment(t: ThoughtRow, tz: &jiff::tz::TimeZone) -> Comment {
    let comment_type = match t.kind.as_str() {
        "comment" => "comment",
        "pingback" => "pingback",
        // WordPress has no word for the rest; the Webmention plugin's is the closest.
        _ => "webmention",
    };
    let approved = match t.status.as_str() {
        "approved" => "1",
        "spam" => "spam",
        "trash" => "trash",
        _ => "0",
    };
    Comment {
        id: t.id,
        author: t.author_name,
        author_email: t.author_email,
        author_url: t
            .source_url
            .filter(|_| t.kind != "comment")
            .unwrap_or(t.author_url),
        author_ip: t.author_ip,
        date: wp_date(t.created_at, tz),
        date_gmt: wp_date(t.created_at, &jiff::tz::TimeZone::UTC),
        content: t.body_html,
        approved: approved.into(),
        comment_type: comment_type.into(),
        parent: t.parent_id.unwrap_or(0),
        user_id: t.user_id.unwrap_or(0),
        meta: vec![
            ("_colloquy_markdown".into(), t.body_markdown),
            ("_colloquy_kind".into(), t.kind),
        ],
    }
}
