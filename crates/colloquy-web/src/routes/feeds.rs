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

pub async fn sitemap(state: &SharedState, lm: i64) -> Result<Rendered, WebError> {
    // A sitemap holds at most 50,000 URLs; a larger site would need an index (not yet).
    let (posts, _) = state
        .store
        .published_posts(&ListFilter::All, 49_000, 0)
        .await?;
    let pages = state.store.published_pages().await?;
    let tz = state.settings().tz();
    let base = &state.config.base_url;
    let mut urls = vec![(format!("{base}/"), iso(lm))];
    for p in posts.iter().chain(pages.iter()) {
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
