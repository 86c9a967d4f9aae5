//! Linkbacks in both directions. Receiving: the Webmention endpoint (`POST /webmention`,
//! verified later, in a job) and Pingback over XML-RPC at the WordPress path
//! (`POST /xmlrpc.php`, verified while the caller waits, as the protocol wants). Sending: for
//! every external link of a post, on publishing and on every edit, Webmention when the target
//! has an endpoint, else Pingback. Every fetch goes through the outbound fetch guard.

use crate::error::WebError;
use crate::{AppState, SharedState};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use colloquy_core::thought::{decide_linkback, ThoughtStatus};
use colloquy_federation::mf2::MentionKind;
use colloquy_federation::{discovery, mf2, xmlrpc};
use colloquy_store::{NewLinkback, PostRow};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/webmention", post(receive_webmention))
        .route("/reblog", axum::routing::get(reblog_elsewhere))
        .route(
            "/xmlrpc.php",
            post(xmlrpc_endpoint).get(|| async {
                (
                    StatusCode::METHOD_NOT_ALLOWED,
                    [(header::ALLOW, "POST")],
                    "XML-RPC server accepts POST requests only.\n",
                )
            }),
        )
}

pub const JOB_VERIFY_WEBMENTION: &str = "verify_webmention";
pub const JOB_SEND_LINKBACKS: &str = "send_linkbacks";

/// Most linkbacks one host may leave in an hour (a flood cannot fill the database).
const PER_HOST_PER_HOUR: i64 = 60;
/// Most verifications of one host's Webmentions that may wait in the queue at once.
const PER_HOST_WAITING: i64 = 20;

/// The published post (or page) an address of this site names, if any.
async fn our_post(state: &AppState, target: &url::Url) -> Result<Option<PostRow>, WebError> {
    let base = url::Url::parse(&state.config.base_url).map_err(anyhow::Error::from)?;
    if target.scheme() != base.scheme()
        || target.host_str() != base.host_str()
        || target.port_or_known_default() != base.port_or_known_default()
    {
        return Ok(None);
    }
    let path = target.path();
    let path = if path.ends_with('/') {
        path.to_owned()
    } else {
        format!("{path}/")
    };
    let route = match super::public::parse_path(&path) {
        Ok((r, _)) => r,
        Err(_) => return Ok(None),
    };
    let found = match route {
        super::public::Route::Post { slug, .. } => {
            state.store.published_post_id("post", &slug).await
        }
        super::public::Route::Page(slug) => state.store.published_post_id("page", &slug).await,
        _ => return Ok(None),
    };
    match found {
        Ok(p) => Ok(Some(p)),
        Err(colloquy_store::StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The name/value pairs of an `application/x-www-form-urlencoded` body, decoded, in order
/// (repeated names kept, as a form of checkboxes sends them).
pub(crate) fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

fn plain(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{msg}\n"),
    )
        .into_response()
}

/// W3C Webmention, receiving: checks what can be checked at once, answers 202, verifies later.
async fn receive_webmention(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return plain(
            StatusCode::BAD_REQUEST,
            "send source and target as application/x-www-form-urlencoded",
        );
    }
    if body.len() > 8 * 1024 {
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "the request is too large");
    }
    let fields = form_fields(&body);
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (Some(source), Some(target)) = (get("source"), get("target")) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "both source and target are required",
        );
    };
    let parse = |s: &str| {
        url::Url::parse(s)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
    };
    let (Some(src), Some(tgt)) = (parse(&source), parse(&target)) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "source and target must be absolute http(s) URLs",
        );
    };
    if src.as_str().trim_end_matches('/') == tgt.as_str().trim_end_matches('/') {
        return plain(
            StatusCode::BAD_REQUEST,
            "source and target are the same page",
        );
    }
    let post = match our_post(&state, &tgt).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return plain(
                StatusCode::BAD_REQUEST,
                "the target is not a post or page of this site",
            )
        }
        Err(e) => return e.into_response(),
    };
    let host = src.host_str().unwrap_or("").to_owned();
    match state
        .store
        .linkbacks_from_host_since(&host, colloquy_store::now() - 3600)
        .await
    {
        Ok(n) if n >= PER_HOST_PER_HOUR => {
            return WebError::TooManyRequests(3600).into_response();
        }
        Ok(_) => {}
        Err(e) => return WebError::from(e).into_response(),
    }
    // Verifications waiting for this host count too: a flood cannot fill the job queue.
    let origin = format!("\"source\":\"{}://{host}", src.scheme());
    match state
        .store
        .waiting_jobs_with(JOB_VERIFY_WEBMENTION, &origin)
        .await
    {
        Ok(n) if n >= PER_HOST_WAITING => return WebError::TooManyRequests(60).into_response(),
        Ok(_) => {}
        Err(e) => return WebError::from(e).into_response(),
    }
    let payload =
        serde_json::json!({ "source": src.as_str(), "target": tgt.as_str(), "post_id": post.id });
    if let Err(e) = state
        .store
        .enqueue_job(
            JOB_VERIFY_WEBMENTION,
            &payload.to_string(),
            colloquy_store::now(),
            5,
        )
        .await
    {
        return WebError::from(e).into_response();
    }
    plain(
        StatusCode::ACCEPTED,
        "Accepted: the source will be fetched and checked for a link to the target.",
    )
}

/// The job that verifies a Webmention: fetches the source, and adds, updates or removes the
/// linkback according to what it finds.
pub async fn verify_webmention(state: &AppState, payload: &str) -> anyhow::Result<()> {
    let v: serde_json::Value = serde_json::from_str(payload)?;
    let source = v["source"].as_str().unwrap_or_default().to_owned();
    let target = v["target"].as_str().unwrap_or_default().to_owned();
    let post_id = v["post_id"].as_i64().unwrap_or(0);
    let (src, tgt) = (url::Url::parse(&source)?, url::Url::parse(&target)?);
    let fetched = match state.fetcher.get(&source).await {
        Ok(f) => f,
        Err(colloquy_federation::FetchError::Forbidden { .. })
        | Err(colloquy_federation::FetchError::Scheme(_))
        | Err(colloquy_federation::FetchError::BadUrl(_)) => {
            tracing::warn!(%source, "webmention source refused by the fetch guard");
            return Ok(());
        }
        Err(e) => return Err(anyhow::anyhow!("fetching {source}: {e}")),
    };
    if fetched.status == 410 || fetched.status == 404 {
        if state.store.remove_linkback(post_id, &source).await? {
            state.post_changed(post_id);
        }
        return Ok(());
    }
    if !(200..300).contains(&fetched.status) {
        return Err(anyhow::anyhow!("{source} answered {}", fetched.status));
    }
    let body = String::from_utf8_lossy(&fetched.body).into_owned();
    let Some(m) = mf2::read_mention(&src, &body, &tgt) else {
        if state.store.remove_linkback(post_id, &source).await? {
            state.post_changed(post_id);
        }
        return Ok(());
    };
    store_mention(state, post_id, &source, m, "webmention").await
}

/// Turns what the source says into a thought (or a like) under the post.
async fn store_mention(
    state: &AppState,
    post_id: i64,
    source: &str,
    m: mf2::Mention,
    default_kind: &str,
) -> anyhow::Result<()> {
    let host = url::Url::parse(source)?.host_str().unwrap_or("").to_owned();
    let author_name = m
        .author_name
        .clone()
        .or_else(|| m.site_name.clone())
        .unwrap_or_else(|| host.clone());
    let author_url = m.author_url.clone().unwrap_or_default();
    if m.kind == MentionKind::Like {
        state
            .store
            .upsert_remote_like(post_id, source, &author_name, &author_url)
            .await?;
        state.post_changed(post_id);
        return Ok(());
    }
    let site = m.site_name.clone().unwrap_or_else(|| host.clone());
    let title = m.name.clone().unwrap_or_else(|| source.to_owned());
    let excerpt: String = m
        .content_text
        .clone()
        .unwrap_or_default()
        .chars()
        .take(600)
        .collect();
    let (kind, markdown) = match m.kind {
        MentionKind::Repost => {
            let comment: String = m
                .comment_text
                .clone()
                .unwrap_or_default()
                .chars()
                .take(600)
                .collect();
            (
                "reblog",
                format!(
                    "Reblogged this on [{}]({source}) and commented: {comment}",
                    md_text(&site)
                ),
            )
        }
        MentionKind::Reply => ("reply", excerpt.clone()),
        _ if default_kind == "pingback" => (
            "pingback",
            format!("[{} « {}]({source})", md_text(&title), md_text(&site)),
        ),
        _ => (
            "webmention",
            format!(
                "[{}]({source}) ({}) mentioned this: {excerpt}",
                md_text(&title),
                md_text(&site)
            ),
        ),
    };
    let rules = state.settings().discussion.clone();
    let known = state.store.site_known(&host).await?;
    let tokens: Vec<String> = colloquy_core::spam::tokens(&markdown, "", source)
        .into_iter()
        .collect();
    let score = colloquy_core::spam::score(&state.store.spam_evidence(&tokens).await?);
    let decision = decide_linkback(&rules, &[&markdown, &author_name, source], known, score);
    let html = colloquy_core::markdown::render_comment(&markdown);
    let (id, created) = state
        .store
        .upsert_linkback(&NewLinkback {
            post_id,
            source_url: source.to_owned(),
            kind: kind.into(),
            status: decision.status.as_str().into(),
            author_name,
            author_url,
            body_markdown: markdown,
            body_html: html,
            held_reason: decision.reason,
        })
        .await?;
    if created && decision.status == ThoughtStatus::Pending {
        state
            .store
            .enqueue_job(
                colloquy_store::JOB_THOUGHT_PENDING,
                &format!("{{\"thought_id\":{id}}}"),
                colloquy_store::now(),
                10,
            )
            .await?;
    }
    state.post_changed(post_id);
    Ok(())
}

/// Text for inside a Markdown link label: brackets and backslashes escaped.
fn md_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('[', "\\[")
        .replace(']', "\\]")
        .replace('*', "\\*")
        .replace('_', "\\_")
}

fn xml(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Pingback 1.0 over XML-RPC. Faults travel as XML-RPC faults with HTTP 200.
async fn xmlrpc_endpoint(State(state): State<SharedState>, body: Bytes) -> Response {
    let call = match xmlrpc::parse_call(&body) {
        Ok(c) => c,
        Err(e) => {
            return xml(xmlrpc::fault_response(
                xmlrpc::fault::PARSE_ERROR,
                &e.to_string(),
            ))
        }
    };
    match call {
        xmlrpc::Call::ListMethods => xml(xmlrpc::array_response(&[
            "pingback.ping",
            "system.listMethods",
        ])),
        xmlrpc::Call::Other(m) => xml(xmlrpc::fault_response(
            xmlrpc::fault::METHOD_NOT_FOUND,
            &format!("server error. requested method {m} does not exist."),
        )),
        xmlrpc::Call::Ping { source, target } => match pingback(&state, &source, &target).await {
            Ok(msg) => xml(xmlrpc::string_response(&msg)),
            Err((code, msg)) => xml(xmlrpc::fault_response(code, &msg)),
        },
    }
}

async fn pingback(state: &AppState, source: &str, target: &str) -> Result<String, (i32, String)> {
    use xmlrpc::fault;
    let bad = |code: i32, m: &str| (code, m.to_owned());
    let tgt = url::Url::parse(target).map_err(|_| {
        bad(
            fault::TARGET_MISSING,
            "The specified target URL does not exist.",
        )
    })?;
    let src = url::Url::parse(source)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| bad(fault::SOURCE_MISSING, "The source URL does not exist."))?;
    if src.as_str().trim_end_matches('/') == tgt.as_str().trim_end_matches('/') {
        return Err(bad(
            fault::GENERIC,
            "The source URL and the target URL cannot both point to the same resource.",
        ));
    }
    let post = our_post(state, &tgt)
        .await
        .map_err(|_| bad(fault::UPSTREAM, "The server could not look the target up."))?
        .ok_or_else(|| {
            bad(
                fault::TARGET_MISSING,
                "The specified target URL does not exist.",
            )
        })?;
    if !colloquy_core::thought::open_for_thoughts(
        post.thoughts_open,
        post.publish_at,
        state.settings().discussion.close_after_days,
        colloquy_store::now(),
    ) {
        return Err(bad(
            fault::TARGET_NOT_PINGABLE,
            "The specified target URL cannot be used as a target.",
        ));
    }
    if state
        .store
        .linkback_exists(post.id, src.as_str())
        .await
        .map_err(|_| {
            bad(
                fault::UPSTREAM,
                "The server could not check earlier pingbacks.",
            )
        })?
    {
        return Err(bad(
            fault::ALREADY_REGISTERED,
            "The pingback has already been registered.",
        ));
    }
    let host = src.host_str().unwrap_or("").to_owned();
    if state
        .store
        .linkbacks_from_host_since(&host, colloquy_store::now() - 3600)
        .await
        .unwrap_or(0)
        >= PER_HOST_PER_HOUR
    {
        return Err(bad(
            fault::ACCESS_DENIED,
            "Too many pingbacks from this site; try again later.",
        ));
    }
    let fetched = state.fetcher.get(src.as_str()).await.map_err(|e| match e {
        colloquy_federation::FetchError::Forbidden { .. } => bad(
            fault::ACCESS_DENIED,
            "The source URL may not be fetched from here.",
        ),
        _ => bad(fault::SOURCE_MISSING, "The source URL does not exist."),
    })?;
    if !(200..300).contains(&fetched.status) {
        return Err(bad(fault::SOURCE_MISSING, "The source URL does not exist."));
    }
    let body = String::from_utf8_lossy(&fetched.body).into_owned();
    let m = mf2::read_mention(&src, &body, &tgt).ok_or_else(|| {
        bad(fault::NO_LINK, "The source URL does not contain a link to the target URL, and so cannot be used as a source.")
    })?;
    store_mention(state, post.id, src.as_str(), m, "pingback")
        .await
        .map_err(|_| bad(fault::UPSTREAM, "The pingback could not be stored."))?;
    Ok(format!(
        "Pingback from {source} to {target} registered. Keep the web talking! :-)"
    ))
}

#[derive(serde::Deserialize)]
pub struct ReblogQuery {
    post: Option<i64>,
    site: Option<String>,
    url: Option<String>,
}

/// The "Reblog" form under a post: sends the reader to their own Colloquy's editor.
async fn reblog_elsewhere(
    State(state): State<SharedState>,
    axum::extract::Query(q): axum::extract::Query<ReblogQuery>,
) -> Result<Response, WebError> {
    let post = state
        .store
        .post_by_id(
            q.post
                .ok_or_else(|| WebError::BadRequest("which post?".into()))?,
        )
        .await?;
    if post.status != "published" {
        return Err(WebError::NotFound);
    }
    let site = q.site.unwrap_or_default();
    let site = url::Url::parse(site.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| {
            WebError::Invalid(colloquy_core::Invalid::new(
                "site",
                "give the address of your own Colloquy site, such as https://my-site.example",
            ))
        })?;
    let here = super::thoughts::post_url(&state, &post);
    let enc = percent_encoding::utf8_percent_encode(&here, percent_encoding::NON_ALPHANUMERIC);
    let to = format!(
        "{}://{}{}/admin/reblog?url={enc}",
        site.scheme(),
        site.host_str().unwrap_or(""),
        site.port().map(|p| format!(":{p}")).unwrap_or_default()
    );
    Ok(axum::response::Redirect::to(&to).into_response())
}

/// `/admin/reblog?url=…`: a draft that quotes another page (title, excerpt, author, link),
/// marked up as a repost (`u-repost-of` with the quote in an `h-cite`), for the author to
/// comment on above the quote. Works for any page on the web: fetched through the guard.
pub async fn reblog_draft(
    State(state): State<SharedState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<ReblogQuery>,
) -> Result<Response, WebError> {
    let me = match super::admin::signed_in(&state, &headers).await {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    me.require(me.role.can_write())?;
    let raw = q.url.unwrap_or_default();
    let url = url::Url::parse(raw.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            WebError::BadRequest("give the http(s) address of the page to reblog".into())
        })?;
    let page = state
        .fetcher
        .get(url.as_str())
        .await
        .map_err(|e| WebError::BadRequest(format!("the page could not be fetched: {e}")))?;
    if !(200..300).contains(&page.status) {
        return Err(WebError::BadRequest(format!(
            "the page answered {}",
            page.status
        )));
    }
    let body = String::from_utf8_lossy(&page.body).into_owned();
    // Read the page as if it mentioned itself: that gives its title, author, text and site.
    let m = mf2::read_mention(&url, &body, &url);
    let title = m
        .as_ref()
        .and_then(|m| m.name.clone())
        .unwrap_or_else(|| url.to_string());
    let author = m
        .as_ref()
        .and_then(|m| m.author_name.clone())
        .unwrap_or_default();
    let site = m
        .as_ref()
        .and_then(|m| m.site_name.clone())
        .unwrap_or_else(|| url.host_str().unwrap_or("").to_owned());
    let excerpt: String = m
        .as_ref()
        .and_then(|m| m.content_text.clone())
        .unwrap_or_default()
        .chars()
        .take(400)
        .collect();
    let esc = crate::render::escape_html;
    let by = if author.is_empty() {
        String::new()
    } else {
        format!(" by <span class=\"p-author\">{}</span>", esc(&author))
    };
    let markdown = format!(
        "Your comment here.\n\n<blockquote class=\"h-cite u-repost-of\"><p><a class=\"u-url p-name\" href=\"{}\">{}</a>{by} on {}</p><p class=\"p-content\">{}</p></blockquote>\n",
        esc(url.as_str()),
        esc(&title),
        esc(&site),
        esc(&excerpt)
    );
    super::admin::prefilled_editor(&state, &me, format!("Reblog: {title}"), markdown)
}

/// The external links of a post: absolute http(s) `href`s of its sanitised HTML (our own
/// output, so every attribute is double-quoted and entity-escaped) that point elsewhere.
pub fn external_links(state: &AppState, body_html: &str) -> Vec<String> {
    let base = url::Url::parse(&state.config.base_url).ok();
    let mut out: Vec<String> = vec![];
    for chunk in body_html.split("href=\"").skip(1) {
        let Some(raw) = chunk.split('"').next() else {
            continue;
        };
        let href = raw
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#39;", "'")
            .replace("&amp;", "&");
        if let Ok(u) = url::Url::parse(&href) {
            let ours = base.as_ref().is_some_and(|b| {
                b.host_str() == u.host_str()
                    && b.port_or_known_default() == u.port_or_known_default()
            });
            if matches!(u.scheme(), "http" | "https") && !ours && !out.contains(&u.to_string()) {
                out.push(u.to_string());
            }
        }
        if out.len() >= 50 {
            break;
        }
    }
    out
}

/// Deletes a post. A published one leaves its address answering 410 Gone, and the sites it
/// linked to are told (they fetch it, see 410, and remove the mention).
pub async fn delete_post_and_tell(state: &AppState, p: &PostRow) -> Result<(), WebError> {
    if p.status == "published" {
        let url = super::thoughts::post_url(state, p);
        let path = url.trim_start_matches(&state.config.base_url).to_owned();
        let links = external_links(state, &p.body_html);
        state.store.delete_post_leaving_gone(p.id, &path).await?;
        state.content_changed().await;
        if !links.is_empty() {
            queue_gone(state, &url, links).await?;
        }
    } else {
        state.store.delete_post(p.id).await?;
        state.content_changed().await;
    }
    Ok(())
}

/// After an edit: a published post tells its links again (once per version).
pub async fn after_edit(state: &AppState, post_id: i64) -> Result<(), WebError> {
    let p = state.store.post_by_id(post_id).await?;
    if p.status == "published" {
        queue_send(state, p.id, content_version(&p)).await?;
    }
    Ok(())
}

/// A post's version for linkbacks: its title and text. An edit that changes neither sends
/// nothing again; any other edit sends once more.
pub fn content_version(p: &PostRow) -> i64 {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("{}\u{0}{}", p.title, p.body_markdown).as_bytes());
    i64::from_be_bytes(h[..8].try_into().expect("8 bytes"))
}

/// Queues the sending of linkbacks for a post's current version.
pub async fn queue_send(state: &AppState, post_id: i64, version: i64) -> anyhow::Result<()> {
    state
        .store
        .enqueue_job(
            JOB_SEND_LINKBACKS,
            &serde_json::json!({ "post_id": post_id, "version": version }).to_string(),
            colloquy_store::now(),
            5,
        )
        .await?;
    Ok(())
}

/// Queues telling the targets of a deleted post's links that it is gone (the post's address
/// answers 410 now, which receivers see when they verify).
pub async fn queue_gone(
    state: &AppState,
    source: &str,
    markdown_links: Vec<String>,
) -> anyhow::Result<()> {
    state
        .store
        .enqueue_job(
            JOB_SEND_LINKBACKS,
            &serde_json::json!({ "gone_source": source, "targets": markdown_links }).to_string(),
            colloquy_store::now(),
            5,
        )
        .await?;
    Ok(())
}

/// The job that sends linkbacks: for each link, once per version, Webmention or Pingback.
pub async fn send_linkbacks(state: &AppState, payload: &str) -> anyhow::Result<()> {
    let v: serde_json::Value = serde_json::from_str(payload)?;
    if let Some(source) = v["gone_source"].as_str() {
        let targets: Vec<String> = v["targets"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for t in targets {
            let _ = send_one(state, source, &t).await;
        }
        return Ok(());
    }
    let post_id = v["post_id"].as_i64().unwrap_or(0);
    let version = v["version"].as_i64().unwrap_or(0);
    let post = match state.store.post_by_id(post_id).await {
        Ok(p) if p.status == "published" => p,
        Ok(_) | Err(colloquy_store::StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let source = super::thoughts::post_url(state, &post);
    link_within_site(state, &post, &source).await?;
    for target in external_links(state, &post.body_html) {
        if !state.store.claim_send(post_id, &target, version).await? {
            continue;
        }
        let (status, detail) = match send_one(state, &source, &target).await {
            Ok(d) => ("sent", d),
            Err(d) => ("failed", d),
        };
        state
            .store
            .finish_send(post_id, &target, version, status, &detail)
            .await?;
    }
    Ok(())
}

/// A post linking to another post of this site (a Debate Summary to its original piece)
/// shows under it as a pingback at once, as WordPress does for its own posts: no request
/// goes out (the fetch guard would rightly refuse our own address) and no moderation is
/// needed for the site's own authors.
async fn link_within_site(
    state: &AppState,
    post: &colloquy_store::PostRow,
    source: &str,
) -> anyhow::Result<()> {
    let site = state.settings();
    for path in internal_post_paths(state, &post.body_html) {
        let Ok((super::public::Route::Post { slug, .. }, _)) = super::public::parse_path(&path)
        else {
            continue;
        };
        let target = match state.store.post_by_slug("post", &slug).await {
            Ok(t) if t.status == "published" && t.id != post.id => t,
            _ => continue,
        };
        let markdown = format!(
            "[{} « {}]({source})",
            md_text(&post.title),
            md_text(&site.title)
        );
        let (_, created) = state
            .store
            .upsert_linkback(&NewLinkback {
                post_id: target.id,
                source_url: source.to_owned(),
                kind: "pingback".into(),
                status: "approved".into(),
                author_name: site.title.clone(),
                author_url: state.config.base_url.clone(),
                body_html: colloquy_core::markdown::render_comment(&markdown),
                body_markdown: markdown,
                held_reason: String::new(),
            })
            .await?;
        if created {
            tracing::info!(source, target = target.id, "linked within the site");
        }
        state.post_changed(target.id);
    }
    Ok(())
}

/// Paths of this site's pages that a post links to (absolute links to our base URL).
fn internal_post_paths(state: &AppState, body_html: &str) -> Vec<String> {
    let base = state.config.base_url.as_str();
    let mut out: Vec<String> = vec![];
    for chunk in body_html.split("href=\"").skip(1) {
        let Some(raw) = chunk.split('"').next() else {
            continue;
        };
        let href = raw.replace("&amp;", "&");
        if let Some(rest) = href.strip_prefix(base) {
            let path = rest.split(['#', '?']).next().unwrap_or("");
            if path.starts_with('/') && !out.iter().any(|p| p == path) {
                out.push(path.to_owned());
            }
        }
        if out.len() >= 50 {
            break;
        }
    }
    out
}

/// Discovers the target's endpoint and notifies it; says what happened.
async fn send_one(state: &AppState, source: &str, target: &str) -> Result<String, String> {
    let page = state
        .fetcher
        .get(target)
        .await
        .map_err(|e| format!("could not fetch the target: {e}"))?;
    let final_url = url::Url::parse(&page.final_url).map_err(|e| e.to_string())?;
    let body = String::from_utf8_lossy(&page.body).into_owned();
    if let Some(endpoint) = discovery::webmention_endpoint(&final_url, &page.headers, &body) {
        let r = state
            .fetcher
            .post_form(endpoint.as_str(), &[("source", source), ("target", target)])
            .await
            .map_err(|e| format!("webmention to {endpoint}: {e}"))?;
        return if (200..300).contains(&r.status) {
            Ok(format!("webmention accepted ({})", r.status))
        } else {
            Err(format!("webmention refused ({})", r.status))
        };
    }
    if let Some(endpoint) = discovery::pingback_endpoint(&final_url, &page.headers, &body) {
        let r = state
            .fetcher
            .post_xml(endpoint.as_str(), xmlrpc::ping_request(source, target))
            .await
            .map_err(|e| format!("pingback to {endpoint}: {e}"))?;
        return match xmlrpc::parse_response(&r.body) {
            Ok(m) => Ok(format!("pingback registered: {m}")),
            Err((code, m)) => Err(format!("pingback fault {code}: {m}")),
        };
    }
    Err("the target has no Webmention or Pingback endpoint".into())
}
