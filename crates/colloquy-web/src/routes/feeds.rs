//! RSS 2.0, Atom 1.0, JSON Feed 1.1 and the sitemap. Only published posts appear, so a
//! scheduled post shows here exactly when it becomes public.

use super::public::views_with_terms;
use crate::cache::Rendered;
use crate::error::WebError;
use crate::render::iso;
use crate::SharedState;
use axum::http::StatusCode;
use colloquy_store::ListFilter;

const FEED_ITEMS: i64 = 20;

/// The newest published posts with their full bodies (listings load summaries only).
async fn latest_with_bodies(state: &SharedState) -> Result<Vec<crate::render::PostView>, WebError> {
    let (posts, _) = state
        .store
        .published_posts(&ListFilter::All, FEED_ITEMS, 0)
        .await?;
    let full: Vec<_> =
        futures_util::future::try_join_all(posts.iter().map(|p| state.store.post_by_id(p.id)))
            .await?;
    views_with_terms(state, &full).await
}

pub async fn rss(state: &SharedState, lm: i64) -> Result<Rendered, WebError> {
    feed_xml(state, lm, "rss.xml", "application/rss+xml; charset=utf-8").await
}

pub async fn atom(state: &SharedState, lm: i64) -> Result<Rendered, WebError> {
    feed_xml(state, lm, "atom.xml", "application/atom+xml; charset=utf-8").await
}

async fn feed_xml(
    state: &SharedState,
    lm: i64,
    template: &str,
    ct: &'static str,
) -> Result<Rendered, WebError> {
    let views = latest_with_bodies(state).await?;
    let xml = state.templates.render(
        template,
        minijinja::context! {
            site => state.settings(),
            base_url => state.config.base_url,
            posts => views,
            updated_iso => iso(lm),
            updated_rfc2822 => crate::render::rfc2822(lm),
        },
    )?;
    Ok(Rendered::new(StatusCode::OK, ct, xml, lm))
}

pub async fn json(state: &SharedState, lm: i64) -> Result<Rendered, WebError> {
    let views = latest_with_bodies(state).await?;
    let s = state.settings();
    let base = &state.config.base_url;
    let items: Vec<serde_json::Value> = views
        .iter()
        .map(|v| {
            let mut tags: Vec<&str> = v.categories.iter().map(|l| l.name.as_str()).collect();
            tags.extend(v.tags.iter().map(|l| l.name.as_str()));
            let mut item = serde_json::json!({
                "id": v.url,
                "url": v.url,
                "title": v.title,
                "content_html": v.body_html,
                "summary": v.excerpt,
                "date_published": v.published_iso,
                "date_modified": v.updated_iso,
                "authors": [{"name": v.author.name, "url": v.author.url, "avatar": v.author.avatar_url}],
                "tags": tags,
                "language": s.language,
            });
            if let Some(img) = &v.featured_image_url {
                item["image"] = img.clone().into();
            }
            item
        })
        .collect();
    let feed = serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": s.title,
        "home_page_url": format!("{base}/"),
        "feed_url": format!("{base}/feed.json"),
        "description": s.description,
        "language": s.language,
        "items": items,
    });
    let body = serde_json::to_string(&feed).map_err(anyhow::Error::from)?;
    Ok(Rendered::new(
        StatusCode::OK,
        "application/feed+json; charset=utf-8",
        body,
        lm,
    ))
}

/// `/sitemap.xml`: the URL set itself while the site fits in one sitemap file, else a
/// sitemap index of `/sitemap-N.xml` files, each with at most `sitemap_urls` addresses
/// (the protocol allows 50,000; smaller files stay cheap to render and cache).
pub async fn sitemap(state: &SharedState, lm: i64) -> Result<Rendered, WebError> {
    let per_file = state.config.sitemap_urls.max(10) as i64;
    let (_, total_posts) = state.store.published_posts(&ListFilter::All, 1, 0).await?;
    let pages = state.store.published_pages().await?;
    let total = 1 + pages.len() as i64 + total_posts;
    if total <= per_file {
        return sitemap_part(state, lm, 1).await;
    }
    let files = (total + per_file - 1) / per_file;
    let base = &state.config.base_url;
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
    for n in 1..=files {
        xml.push_str(&format!(
            "<sitemap><loc>{base}/sitemap-{n}.xml</loc><lastmod>{}</lastmod></sitemap>\n",
            iso(lm)
        ));
    }
    xml.push_str("</sitemapindex>\n");
    Ok(Rendered::new(
        StatusCode::OK,
        "application/xml; charset=utf-8",
        xml,
        lm,
    ))
}

/// `/sitemap-N.xml`: the N-th file of the index. The first holds the front page and the
/// static pages, then posts newest first.
pub async fn sitemap_part(state: &SharedState, lm: i64, n: u32) -> Result<Rendered, WebError> {
    let per_file = state.config.sitemap_urls.max(10) as i64;
    let mut pages = state.store.published_pages().await?;
    let head = 1 + pages.len() as i64;
    if n > 1 {
        pages.clear();
    }
    // Posts covered by files before this one: file 1 holds `per_file - head` posts.
    let (offset, limit) = if n == 1 {
        (0, (per_file - head).max(0))
    } else {
        (
            (per_file - head).max(0) + (i64::from(n) - 2) * per_file,
            per_file,
        )
    };
    let (posts, total_posts) = state
        .store
        .published_posts(&ListFilter::All, limit, offset)
        .await?;
    if n > 1 && (posts.is_empty() || offset >= total_posts) {
        return Err(WebError::NotFound);
    }
    let tz = state.settings().tz();
    let base = &state.config.base_url;
    let mut urls = vec![];
    if n == 1 {
        urls.push((format!("{base}/"), iso(lm)));
    }
    for p in pages.iter().chain(posts.iter()) {
        let path = crate::render::post_path(&p.kind, &p.slug, p.publish_at, &tz);
        urls.push((format!("{base}{path}"), iso(p.updated_at)));
    }
    let xml = state
        .templates
        .render("sitemap.xml", minijinja::context! { urls })?;
    Ok(Rendered::new(
        StatusCode::OK,
        "application/xml; charset=utf-8",
        xml,
        lm,
    ))
}

/// One thought as a feed item.
fn thought_item(
    state: &SharedState,
    t: &colloquy_store::ThoughtRow,
    post_url: &str,
) -> serde_json::Value {
    serde_json::json!({
        "title": format!("{} on “{}”", t.author_name, t.post_title),
        "url": format!("{post_url}#thought-{}", t.id),
        "published_rfc2822": crate::render::rfc2822(t.created_at),
        "author_name": t.author_name,
        "body_html": if t.kind == "comment" { t.body_html.clone() } else { format!("{} linked to this post", state.settings().title) },
    })
}

#[allow(clippy::too_many_arguments)]
async fn thoughts_feed(
    state: &SharedState,
    title: String,
    link: String,
    self_url: String,
    description: String,
    items: Vec<serde_json::Value>,
    lm: i64,
    scope: crate::cache::Scope,
) -> Result<Rendered, WebError> {
    let xml = state.templates.render(
        "thoughts_rss.xml",
        minijinja::context! {
            site => state.settings(), title, link, self_url, description,
            thoughts => items, updated_rfc2822 => crate::render::rfc2822(lm),
        },
    )?;
    Ok(Rendered::new(
        StatusCode::OK,
        "application/rss+xml; charset=utf-8",
        xml,
        lm,
    )
    .with_scope(scope))
}

/// `/YYYY/MM/DD/slug/feed/`: the approved thoughts on one post, newest first.
pub async fn post_thoughts(
    state: &SharedState,
    slug: &str,
    date: (i16, i8, i8),
) -> Result<Rendered, WebError> {
    let p = state.store.post_by_slug("post", slug).await?;
    if p.status != "published" {
        return Err(WebError::NotFound);
    }
    let tz = state.settings().tz();
    let path = crate::render::post_path(&p.kind, &p.slug, p.publish_at, &tz);
    if path != format!("/{:04}/{:02}/{:02}/{slug}/", date.0, date.1, date.2) {
        return Err(WebError::NotFound);
    }
    let url = format!("{}{path}", state.config.base_url);
    let mut rows = state.store.approved_thoughts(p.id).await?;
    rows.retain(|t| !t.deleted);
    rows.reverse();
    rows.truncate(50);
    let lm = rows
        .iter()
        .map(|t| t.updated_at)
        .max()
        .unwrap_or(p.updated_at)
        .max(p.updated_at);
    let items = rows.iter().map(|t| thought_item(state, t, &url)).collect();
    thoughts_feed(
        state,
        format!("Thoughts on “{}”", p.title),
        url.clone(),
        format!("{url}feed/"),
        format!("Thoughts on “{}” at {}", p.title, state.settings().title),
        items,
        lm,
        crate::cache::Scope::Post(p.id),
    )
    .await
}

/// `/comments/feed/`: the newest approved thoughts on every post.
pub async fn recent_thoughts(state: &SharedState) -> Result<Rendered, WebError> {
    let rows = state.store.recent_thoughts(50).await?;
    let tz = state.settings().tz();
    let mut items = Vec::with_capacity(rows.len());
    for t in &rows {
        let p = state.store.post_by_id(t.post_id).await?;
        let url = format!(
            "{}{}",
            state.config.base_url,
            crate::render::post_path(&p.kind, &p.slug, p.publish_at, &tz)
        );
        items.push(thought_item(state, t, &url));
    }
    let lm = rows.iter().map(|t| t.updated_at).max().unwrap_or(0);
    let base = &state.config.base_url;
    let s = state.settings();
    thoughts_feed(
        state,
        format!("Thoughts on {}", s.title),
        format!("{base}/"),
        format!("{base}/comments/feed/"),
        format!("The newest thoughts on {}", s.title),
        items,
        lm,
        crate::cache::Scope::AllThoughts,
    )
    .await
}
