//! Public pages, at WordPress-compatible addresses. One fallback handler parses the path
//! (axum's router cannot tell `/2026/` from `/about/`), serves from the page cache when it
//! can, and renders otherwise.

use super::feeds;
use crate::cache::Rendered;
use crate::error::WebError;
use crate::render::{post_view, Link, PostView};
use crate::{AppState, SharedState};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use colloquy_core::{Page, Slug};
use colloquy_store::{ListFilter, PostRow};
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Home,
    Year(i16),
    Month(i16, i8),
    Day(i16, i8, i8),
    Post {
        y: i16,
        m: i8,
        d: i8,
        slug: String,
    },
    Tag(String),
    Category(String),
    Author(String),
    Page(String),
    Search,
    Rss,
    Atom,
    JsonFeed,
    Sitemap,
    /// `/sitemap-N.xml`, a file of the sitemap index on large sites.
    SitemapPart(u32),
    Robots,
    /// `/YYYY/MM/DD/slug/feed/`: one post's thoughts.
    PostThoughtsFeed {
        y: i16,
        m: i8,
        d: i8,
        slug: String,
    },
    /// `/comments/feed/`: the newest thoughts on every post.
    ThoughtsFeed,
}

/// Parses a path into a route and a page number. `Err(true)` asks for a trailing slash.
pub fn parse_path(path: &str) -> Result<(Route, Page), Result<bool, WebError>> {
    match path {
        "/feed.json" => return Ok((Route::JsonFeed, Page::FIRST)),
        "/sitemap.xml" => return Ok((Route::Sitemap, Page::FIRST)),
        "/robots.txt" => return Ok((Route::Robots, Page::FIRST)),
        _ => {}
    }
    if let Some(n) = path
        .strip_prefix("/sitemap-")
        .and_then(|r| r.strip_suffix(".xml"))
    {
        return match n.parse::<u32>() {
            // Only the canonical spelling: no leading zeros or signs.
            Ok(v) if v >= 1 && v.to_string() == n => Ok((Route::SitemapPart(v), Page::FIRST)),
            _ => Err(Ok(false)),
        };
    }
    if !path.ends_with('/') {
        return Err(Ok(true));
    }
    let mut segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut page = Page::FIRST;
    if segs.len() >= 2 && segs[segs.len() - 2] == "page" {
        page = Page::parse(segs[segs.len() - 1]).map_err(|e| Err(WebError::Invalid(e)))?;
        segs.truncate(segs.len() - 2);
    }
    let num = |s: &str, digits: usize| -> Option<i64> {
        (s.len() == digits && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let slug = |s: &str| {
        Slug::parse(s)
            .map(|s| s.as_str().to_owned())
            .map_err(|_| Ok(false))
    };
    let route = match segs.as_slice() {
        [] => Route::Home,
        ["feed"] | ["feed", "rss2"] | ["feed", "rss"] => Route::Rss,
        ["feed", "atom"] => Route::Atom,
        ["comments", "feed"] => Route::ThoughtsFeed,
        [y, m, d, s, "feed"] => match (num(y, 4), num(m, 2), num(d, 2)) {
            (Some(y), Some(m), Some(d)) => Route::PostThoughtsFeed {
                y: y as i16,
                m: m as i8,
                d: d as i8,
                slug: slug(s)?,
            },
            _ => return Err(Ok(false)),
        },
        ["search"] => Route::Search,
        ["tag", s] => Route::Tag(slug(s)?),
        ["category", rest @ ..] if !rest.is_empty() => Route::Category(slug(rest[rest.len() - 1])?),
        ["author", s] => Route::Author(slug(s)?),
        [y] if num(y, 4).is_some() => Route::Year(num(y, 4).unwrap_or(0) as i16),
        [y, m] => match (num(y, 4), num(m, 2)) {
            (Some(y), Some(m)) if (1..=12).contains(&m) => Route::Month(y as i16, m as i8),
            _ => return Err(Ok(false)),
        },
        [y, m, d] => match (num(y, 4), num(m, 2), num(d, 2)) {
            (Some(y), Some(m), Some(d)) if (1..=12).contains(&m) && (1..=31).contains(&d) => {
                Route::Day(y as i16, m as i8, d as i8)
            }
            _ => return Err(Ok(false)),
        },
        [y, m, d, s] => match (num(y, 4), num(m, 2), num(d, 2)) {
            (Some(y), Some(m), Some(d)) => Route::Post {
                y: y as i16,
                m: m as i8,
                d: d as i8,
                slug: slug(s)?,
            },
            _ => return Err(Ok(false)),
        },
        [s] => Route::Page(slug(s)?),
        _ => return Err(Ok(false)),
    };
    Ok((route, page))
}

/// The hot path, taken before routing (`server.rs`): an anonymous reader's `GET` or `HEAD`
/// of a page in the cache. Only canonical paths are ever cached, so a hit needs no parsing;
/// a signed-in reader's post pages are theirs. Queries do not change a cached page, except
/// on `/` (search and old WordPress links). What it declines reaches [`dispatch`].
pub fn cached_page<B>(state: &AppState, req: &axum::http::Request<B>) -> Option<Response> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return None;
    }
    let path = req.uri().path();
    if path == "/" && req.uri().query().is_some() {
        return None;
    }
    let headers = req.headers();
    if crate::auth::cookie(headers, crate::auth::cookie_name(state)).is_some() {
        return None;
    }
    Some(state.cache.get(path)?.respond(headers, false))
}

pub async fn dispatch(
    State(state): State<SharedState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "method not allowed",
        )
            .into_response();
    }
    let path = uri.path();
    if path.starts_with("/api/") {
        return WebError::NotFound.into_json();
    }
    // WordPress search links look like /?s=words; its post links /?p=123.
    if path == "/" {
        if let Some(q) = query_param(&uri, "s") {
            let enc = percent_encoding::utf8_percent_encode(&q, percent_encoding::NON_ALPHANUMERIC);
            return Redirect::permanent(&format!("/search/?q={enc}")).into_response();
        }
        if uri.query().is_some() {
            if let Some(r) = old_link(&state, &uri).await {
                return r;
            }
            // A WordPress link to a post we do not show (never imported, or not public).
            if crate::import::old_path_key(&format!("/?{}", uri.query().unwrap_or(""))) != "/" {
                return WebError::NotFound.into_response();
            }
        }
    }
    // Anonymous cache hits were answered before routing (`cached_page`).
    let signed_in = crate::auth::cookie(&headers, crate::auth::cookie_name(&state)).is_some();
    let (route, page) = match parse_path(path) {
        Ok(r) => r,
        Err(Ok(true)) => {
            // An imported site's old link goes straight to its page, not via its slash form.
            if let Some(r) = old_link(&state, &uri).await {
                return r;
            }
            let target = match uri.query() {
                Some(q) => format!("{path}/?{q}"),
                None => format!("{path}/"),
            };
            return moved(target);
        }
        Err(Ok(false)) => return not_found(&state, &uri).await,
        Err(Err(e)) => return e.into_response(),
    };
    // Signed-in readers see their own name in the reply form and their like: their post
    // pages are rendered for them and never cached.
    let viewer = if matches!(route, Route::Post { .. } | Route::Page(_)) && signed_in {
        crate::auth::current_user(&state, &headers).await
    } else {
        None
    };
    if let Some(me) = &viewer {
        let (slug, date, kind) = match &route {
            Route::Post { y, m, d, slug } => (slug, Some((*y, *m, *d)), "post"),
            Route::Page(slug) => (slug, None, "page"),
            _ => unreachable!("checked above"),
        };
        return match gone_or(
            &state,
            path,
            post_page(&state, kind, slug, date, Some(me)).await,
        )
        .await
        {
            Ok(r) => {
                let mut res = r.respond(&headers, true);
                res.headers_mut().insert(
                    header::CACHE_CONTROL,
                    "private, no-store".parse().expect("ascii"),
                );
                res
            }
            Err(WebError::NotFound) => not_found(&state, &uri).await,
            Err(e) => e.into_response(),
        };
    }
    let cacheable = route != Route::Search;
    let key = path.to_owned();
    if cacheable {
        if let Some(hit) = state.cache.get(&key) {
            return hit.respond(&headers, false);
        }
    }
    let generation = state.cache.generation();
    let rendered = match tokio::time::timeout(
        super::HANDLER_DEADLINE,
        render_route(&state, &route, page, &uri),
    )
    .await
    {
        Ok(Ok(r)) => r,
        Ok(Err(WebError::NotFound)) => return not_found(&state, &uri).await,
        Ok(Err(e)) => return e.into_response(),
        Err(_) => return StatusCode::REQUEST_TIMEOUT.into_response(),
    };
    if cacheable && state.cache.enabled() {
        let r = Arc::new(rendered.compress());
        state.cache.put(key, r.clone(), generation);
        r.respond(&headers, false)
    } else {
        rendered.respond(&headers, true)
    }
}

/// A path nothing here answers: an imported site's old link (`/archives/123`, a
/// category-based permalink) is sent on to what it became; anything else is 404.
async fn not_found(state: &AppState, uri: &Uri) -> Response {
    match old_link(state, uri).await {
        Some(r) => r,
        None => WebError::NotFound.into_response(),
    }
}

async fn old_link(state: &AppState, uri: &Uri) -> Option<Response> {
    let full = match uri.query() {
        Some(q) => format!("{}?{q}", uri.path()),
        None => uri.path().to_owned(),
    };
    let key = crate::import::old_path_key(&full);
    let target = match state.store.old_link(&key).await.ok()?? {
        colloquy_store::OldLink::Post(id) => {
            let p = state.store.post_by_id(id).await.ok()?;
            if p.status != "published" {
                return None;
            }
            crate::render::post_path(&p.kind, &p.slug, p.publish_at, &state.settings().tz())
        }
        colloquy_store::OldLink::Term(id) => {
            crate::render::term_path(&state.store.term_by_id(id).await.ok()?)
        }
    };
    (target != uri.path()).then(|| moved(target))
}

/// 301, as WordPress answers for a moved or non-canonical address (not axum's 308).
fn moved(target: String) -> Response {
    (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, target)]).into_response()
}

pub fn query_param(uri: &Uri, name: &str) -> Option<String> {
    let q = uri.query()?;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

#[derive(Serialize)]
struct Pager {
    current: u32,
    total_pages: u32,
    prev_url: Option<String>,
    next_url: Option<String>,
}

#[derive(Serialize)]
struct Meta {
    title: String,
    description: String,
    canonical: String,
    og_type: &'static str,
    image: Option<String>,
}

/// Things every public page shows: the site, its pages for the menu, the feeds.
#[derive(Serialize)]
pub(crate) struct Frame {
    site: Arc<crate::Settings>,
    base_url: String,
    nav: Arc<Vec<Link>>,
    meta: Meta,
    search_query: String,
}

async fn frame(state: &AppState, meta: Meta) -> Result<Frame, WebError> {
    Ok(Frame {
        site: state.settings(),
        base_url: state.config.base_url.clone(),
        nav: nav_pages(state).await?,
        meta,
        search_query: String::new(),
    })
}

/// A post that was deleted answers 410 Gone (so linkback receivers remove their mention).
async fn gone_or(
    state: &AppState,
    path: &str,
    r: Result<Rendered, WebError>,
) -> Result<Rendered, WebError> {
    match r {
        Err(WebError::NotFound) if state.store.gone(path).await.unwrap_or(false) => {
            Ok(Rendered::new(
                StatusCode::GONE,
                "text/html; charset=utf-8",
                crate::render::error_page(
                    "Gone",
                    "This post was deleted by its publication. It will not come back.",
                ),
                colloquy_store::now(),
            ))
        }
        other => other,
    }
}

/// The frame of a small page (a form, a message) that is never cached.
pub(crate) async fn simple_frame(state: &AppState, title: &str) -> Result<Frame, WebError> {
    let settings = state.settings();
    frame(
        state,
        Meta {
            title: format!("{title} – {}", settings.title),
            description: String::new(),
            canonical: state.config.base_url.clone() + "/",
            og_type: "website",
            image: None,
        },
    )
    .await
}

/// The published pages for the menu, from the memo when the site has not changed since.
async fn nav_pages(state: &AppState) -> Result<Arc<Vec<Link>>, WebError> {
    if let Some(nav) = state.nav.get(&state.cache, &()) {
        return Ok(nav);
    }
    let generation = state.cache.site_generation();
    let nav: Arc<Vec<Link>> = Arc::new(
        state
            .store
            .published_pages()
            .await?
            .into_iter()
            .map(|p| Link {
                url: format!("/{}/", p.slug),
                name: p.title,
            })
            .collect(),
    );
    state.nav.put(&state.cache, generation, (), nav.clone());
    Ok(nav)
}

/// When a published post last changed, for listings' and feeds' `Last-Modified`.
pub(crate) async fn last_change(state: &AppState) -> Result<i64, WebError> {
    if let Some(t) = state.last_change.get(&state.cache, &()) {
        return Ok(t);
    }
    let generation = state.cache.site_generation();
    let t = state.store.last_published_change().await?;
    state.last_change.put(&state.cache, generation, (), t);
    Ok(t)
}

pub(crate) async fn author(
    state: &AppState,
    id: i64,
) -> Result<Arc<colloquy_store::UserRow>, WebError> {
    if let Some(u) = state.authors.get(&state.cache, &id) {
        return Ok(u);
    }
    let generation = state.cache.site_generation();
    let u = Arc::new(state.store.user_by_id(id).await?);
    state.authors.put(&state.cache, generation, id, u.clone());
    Ok(u)
}

async fn render_route(
    state: &SharedState,
    route: &Route,
    page: Page,
    uri: &Uri,
) -> Result<Rendered, WebError> {
    let settings = state.settings();
    let tz = settings.tz();
    let per_page = settings.posts_per_page as i64;
    let base = &state.config.base_url;
    match route {
        Route::Post { y, m, d, slug } => {
            return gone_or(
                state,
                uri.path(),
                post_page(state, "post", slug, Some((*y, *m, *d)), None).await,
            )
            .await
        }
        Route::Page(slug) => {
            return gone_or(
                state,
                uri.path(),
                post_page(state, "page", slug, None, None).await,
            )
            .await
        }
        Route::PostThoughtsFeed { y, m, d, slug } => {
            return feeds::post_thoughts(state, slug, (*y, *m, *d)).await
        }
        Route::ThoughtsFeed => return feeds::recent_thoughts(state).await,
        _ => {}
    }
    let lm = last_change(state).await?;
    match route {
        Route::Rss => return feeds::rss(state, lm).await,
        Route::Atom => return feeds::atom(state, lm).await,
        Route::JsonFeed => return feeds::json(state, lm).await,
        Route::Sitemap => return feeds::sitemap(state, lm).await,
        Route::SitemapPart(n) => return feeds::sitemap_part(state, lm, *n).await,
        Route::Robots => {
            let body = format!("User-agent: *\nDisallow: /admin/\nDisallow: /api/\nDisallow: /search/\n\nSitemap: {base}/sitemap.xml\n");
            return Ok(Rendered::new(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                body,
                lm,
            ));
        }
        _ => {}
    }
    // Listings.
    let (heading, description, filter, path_base, empty_is_404): (
        String,
        String,
        ListFilter,
        String,
        bool,
    ) = match route {
        Route::Home => (
            String::new(),
            settings.description.clone(),
            ListFilter::Front,
            "/".into(),
            false,
        ),
        Route::Tag(s) => {
            let t = state.store.term_by_slug("tag", s).await?;
            (
                format!("Tag: {}", t.name),
                t.description.clone(),
                ListFilter::Terms(vec![t.id]),
                format!("/tag/{s}/"),
                false,
            )
        }
        Route::Category(s) => {
            let t = state.store.term_by_slug("category", s).await?;
            let ids = state.store.term_with_descendants(t.id).await?;
            let path = uri.path().split("/page/").next().unwrap_or("/").to_owned();
            (
                format!("Category: {}", t.name),
                t.description.clone(),
                ListFilter::Terms(ids),
                path,
                false,
            )
        }
        Route::Author(s) => {
            let u = state.store.user_by_slug(s).await?;
            (
                format!("Posts by {}", u.name),
                String::new(),
                ListFilter::Author(u.id),
                format!("/author/{s}/"),
                false,
            )
        }
        Route::Year(y) => {
            let (a, b) = span(&tz, *y, 1, 1, Unit::Year)?;
            (
                format!("Posts from {y}"),
                String::new(),
                ListFilter::Between(a, b),
                format!("/{y:04}/"),
                true,
            )
        }
        Route::Month(y, m) => {
            let (a, b) = span(&tz, *y, *m, 1, Unit::Month)?;
            let name = jiff::civil::date(*y, *m, 1).strftime("%B %Y").to_string();
            (
                format!("Posts from {name}"),
                String::new(),
                ListFilter::Between(a, b),
                format!("/{y:04}/{m:02}/"),
                true,
            )
        }
        Route::Day(y, m, d) => {
            let (a, b) = span(&tz, *y, *m, *d, Unit::Day)?;
            let name = jiff::civil::Date::new(*y, *m, *d)
                .map_err(|_| WebError::NotFound)?
                .strftime("%-d %B %Y")
                .to_string();
            (
                format!("Posts from {name}"),
                String::new(),
                ListFilter::Between(a, b),
                format!("/{y:04}/{m:02}/{d:02}/"),
                true,
            )
        }
        Route::Search => {
            let q = query_param(uri, "q").unwrap_or_default();
            let q: String = q.trim().chars().take(200).collect();
            return search_page(state, &q, page).await;
        }
        _ => return Err(WebError::NotFound),
    };
    let (posts, total) = state
        .store
        .published_posts(&filter, per_page, page.offset(per_page as u32))
        .await?;
    if posts.is_empty() && (page != Page::FIRST || empty_is_404) {
        return Err(WebError::NotFound);
    }
    let views = views_with_terms(state, &posts).await?;
    let pager = pager(&path_base, page, total, per_page);
    let canonical = if page == Page::FIRST {
        format!("{base}{path_base}")
    } else {
        format!("{base}{path_base}page/{}/", page.number())
    };
    let title = if heading.is_empty() {
        if settings.tagline.is_empty() {
            settings.title.clone()
        } else {
            format!("{} – {}", settings.title, settings.tagline)
        }
    } else {
        format!("{heading} – {}", settings.title)
    };
    let frame = frame(
        state,
        Meta {
            title,
            description,
            canonical,
            og_type: "website",
            image: None,
        },
    )
    .await?;
    let html = state.templates.render("list.html", minijinja::context! { frame, heading, posts => views, pager, is_home => *route == Route::Home })?;
    Ok(Rendered::new(
        StatusCode::OK,
        "text/html; charset=utf-8",
        html,
        lm,
    ))
}

enum Unit {
    Year,
    Month,
    Day,
}

/// The Unix-second range of a calendar year, month or day in the site's time zone.
fn span(tz: &jiff::tz::TimeZone, y: i16, m: i8, d: i8, unit: Unit) -> Result<(i64, i64), WebError> {
    let start = jiff::civil::Date::new(y, m, d).map_err(|_| WebError::NotFound)?;
    let end = match unit {
        Unit::Year => start.checked_add(jiff::Span::new().years(1)),
        Unit::Month => start.checked_add(jiff::Span::new().months(1)),
        Unit::Day => start.checked_add(jiff::Span::new().days(1)),
    }
    .map_err(|_| WebError::NotFound)?;
    let ts = |d: jiff::civil::Date| {
        d.to_zoned(tz.clone())
            .map(|z| z.timestamp().as_second())
            .map_err(|_| WebError::NotFound)
    };
    Ok((ts(start)?, ts(end)?))
}

fn pager(path_base: &str, page: Page, total: i64, per_page: i64) -> Pager {
    let total_pages = ((total + per_page - 1) / per_page).max(1) as u32;
    let n = page.number();
    let url = |k: u32| {
        if k == 1 {
            path_base.to_owned()
        } else {
            format!("{path_base}page/{k}/")
        }
    };
    Pager {
        current: n,
        total_pages,
        prev_url: (n > 1).then(|| url(n - 1)),
        next_url: (n < total_pages).then(|| url(n + 1)),
    }
}

pub(crate) async fn views_with_terms(
    state: &AppState,
    posts: &[PostRow],
) -> Result<Vec<PostView>, WebError> {
    let ids: Vec<i64> = posts.iter().map(|p| p.id).collect();
    let terms = state.store.terms_of_posts(&ids).await?;
    let tz = state.settings().tz();
    Ok(posts
        .iter()
        .map(|p| {
            post_view(
                p,
                terms.get(&p.id).map(Vec::as_slice).unwrap_or(&[]),
                None,
                &state.config.base_url,
                &tz,
            )
        })
        .collect())
}

async fn post_page(
    state: &SharedState,
    kind: &str,
    slug: &str,
    date: Option<(i16, i8, i8)>,
    viewer: Option<&crate::auth::CurrentUser>,
) -> Result<Rendered, WebError> {
    let colloquy_store::PostPage {
        post: p,
        terms,
        thoughts: rows,
        likes,
    } = state.store.post_page(kind, slug).await?;
    if p.status != "published" {
        return Err(WebError::NotFound);
    }
    let settings = state.settings();
    let tz = settings.tz();
    let author = author(state, p.author_id).await?;
    let view = post_view(
        &p,
        &terms,
        Some(author.as_ref()),
        &state.config.base_url,
        &tz,
    );
    if let Some((y, m, d)) = date {
        let expected = format!("/{y:04}/{m:02}/{d:02}/{slug}/");
        if expected != view.path {
            // The post exists under another date: send readers (and old links) to it.
            return Ok(Rendered::new(
                StatusCode::MOVED_PERMANENTLY,
                "text/plain; charset=utf-8",
                String::new(),
                p.updated_at,
            )
            .with_header(header::LOCATION, &view.path));
        }
    }
    let thoughts = super::thoughts::thread_views(state, &rows);
    let open = colloquy_core::thought::open_for_thoughts(
        p.thoughts_open,
        p.publish_at,
        settings.discussion.close_after_days,
        colloquy_store::now(),
    );
    let thoughts_count = thoughts.iter().filter(|t| !t.removed).count();
    let liked = viewer.is_some_and(|v| likes.iter().any(|l| l.user_id == Some(v.user.id)));
    let likes: Vec<minijinja::Value> = likes
        .iter()
        .map(|l| {
            minijinja::context! {
                name => l.author_name, url => l.author_url,
                avatar_url => super::thoughts::guest_avatar_url(state, &format!("like:{}:{}", l.user_id.unwrap_or(0), l.author_name)),
            }
        })
        .collect();
    let description = view.excerpt.clone();
    let meta = Meta {
        title: format!("{} – {}", view.title, settings.title),
        description,
        canonical: view.url.clone(),
        og_type: if kind == "post" { "article" } else { "website" },
        image: view.featured_image_url.clone(),
    };
    let frame = frame(state, meta).await?;
    let now = colloquy_store::now();
    let debates: Vec<minijinja::Value> = debates_of_post(state, p.id)
        .await?
        .iter()
        .map(|d| super::debates::announcement_view(state, d, false))
        .collect();
    let html = state.templates.render(
        "post.html",
        minijinja::context! {
            frame, post => view, thoughts, thoughts_count, likes, liked, open, debates,
            viewer => viewer.map(super::thoughts::viewer),
            stamp => viewer.map(|_| super::thoughts::form_stamp(state, p.id)),
            now,
            thoughts_js => crate::assets::thoughts_js_url(),
        },
    )?;
    // Thoughts and likes change the page without touching the post, so the page is as new
    // as its render (a change drops the cached render).
    let base = &state.config.base_url;
    Ok(Rendered::new(
        StatusCode::OK,
        "text/html; charset=utf-8",
        html,
        now.max(p.updated_at),
    )
    .with_header(
        header::LINK,
        &format!("<{base}/webmention>; rel=\"webmention\""),
    )
    .with_header(
        header::HeaderName::from_static("x-pingback"),
        &format!("{base}/xmlrpc.php"),
    )
    .with_scope(crate::cache::Scope::Post(p.id)))
}

/// The debates announced on a post, from a memo of every debate (kept until the next change).
async fn debates_of_post(
    state: &AppState,
    post_id: i64,
) -> Result<Vec<colloquy_store::DebateRow>, WebError> {
    let all = match state.debates.get(&state.cache, &()) {
        Some(all) => all,
        None => {
            let generation = state.cache.site_generation();
            let mut all = Vec::new();
            for s in ["live", "scheduled", "ended"] {
                all.extend(state.store.debates_in_state(s, 1000).await?);
            }
            let all = Arc::new(all);
            state.debates.put(&state.cache, generation, (), all.clone());
            all
        }
    };
    Ok(all
        .iter()
        .filter(|d| d.post_id == post_id)
        .cloned()
        .collect())
}

async fn search_page(state: &SharedState, q: &str, page: Page) -> Result<Rendered, WebError> {
    let settings = state.settings();
    let per_page = settings.posts_per_page as i64;
    let (posts, total) = if q.is_empty() {
        (vec![], 0)
    } else {
        state
            .store
            .search(q, per_page, page.offset(per_page as u32))
            .await?
    };
    let views = views_with_terms(state, &posts).await?;
    let enc =
        percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC).to_string();
    let total_pages = ((total + per_page - 1) / per_page).max(1) as u32;
    let n = page.number();
    let url = |k: u32| {
        if k == 1 {
            format!("/search/?q={enc}")
        } else {
            format!("/search/page/{k}/?q={enc}")
        }
    };
    let pager = Pager {
        current: n,
        total_pages,
        prev_url: (n > 1).then(|| url(n - 1)),
        next_url: (n < total_pages).then(|| url(n + 1)),
    };
    let heading = if q.is_empty() {
        "Search".to_string()
    } else {
        format!("Search results for “{q}”")
    };
    let meta = Meta {
        title: format!("{heading} – {}", settings.title),
        description: String::new(),
        canonical: format!("{}/search/", state.config.base_url),
        og_type: "website",
        image: None,
    };
    let mut frame = frame(state, meta).await?;
    frame.search_query = q.to_owned();
    let html = state.templates.render(
        "list.html",
        minijinja::context! { frame, heading, posts => views, pager, is_search => true, total, query => q },
    )?;
    Ok(
        Rendered::new(StatusCode::OK, "text/html; charset=utf-8", html, 0)
            .with_header(header::CACHE_CONTROL, "no-store"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wordpress_paths_parse() {
        assert_eq!(parse_path("/").unwrap().0, Route::Home);
        assert_eq!(
            parse_path("/2013/01/27/debate-summary/").unwrap().0,
            Route::Post {
                y: 2013,
                m: 1,
                d: 27,
                slug: "debate-summary".into()
            }
        );
        assert_eq!(parse_path("/2013/").unwrap().0, Route::Year(2013));
        assert_eq!(parse_path("/2013/01/").unwrap().0, Route::Month(2013, 1));
        assert_eq!(
            parse_path("/about/").unwrap().0,
            Route::Page("about".into())
        );
        assert_eq!(
            parse_path("/category/news/local/").unwrap().0,
            Route::Category("local".into())
        );
        let (r, p) = parse_path("/tag/media/page/3/").unwrap();
        assert_eq!((r, p.number()), (Route::Tag("media".into()), 3));
        assert_eq!(parse_path("/feed/atom/").unwrap().0, Route::Atom);
        assert!(matches!(parse_path("/about"), Err(Ok(true))));
        assert!(matches!(parse_path("/page/-1/"), Err(Err(_))));
        assert!(matches!(
            parse_path("/page/99999999999999999999/"),
            Err(Err(_))
        ));
        assert!(matches!(parse_path("/2013/13/"), Err(Ok(false))));
        assert!(matches!(parse_path("/Bad Slug/"), Err(Ok(false))));
    }
}
