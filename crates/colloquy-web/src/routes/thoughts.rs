//! Thoughts under posts: the one submission pipeline (shared by the "Leave a Reply" form and
//! the API), the reader-facing form routes, likes, and the thread view model.
//!
//! Every submission passes, in order: the post is open, the text and identity parse, bans,
//! rate limits, duplicates, the confidentiality guard, the learning spam filter, and the
//! moderation rules ([`colloquy_core::thought::decide`]). Nothing a reader sends is lost:
//! what is not shown at once waits in the moderation queue or the spam list.

use crate::auth::{self, CurrentUser};
use crate::error::WebError;
use crate::render::{iso, post_path};
use crate::{AppState, SharedState};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use colloquy_core::confidentiality;
use colloquy_core::thought::{
    decide, open_for_thoughts, GuestIdentity, IpRange, Submission, ThoughtBody, ThoughtStatus,
    EDIT_WINDOW_SECONDS,
};
use colloquy_core::{markdown, spam, Role};
use colloquy_store::{NewThought, PostRow, ThoughtRow, UserRow};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/thoughts", post(submit_form))
        .route("/thoughts/token", get(form_token))
        .route("/thoughts/{id}/reply", get(reply_form))
        .route("/thoughts/{id}/edit", get(edit_form).post(edit_submit))
        .route("/thoughts/{id}/delete", post(delete_submit))
        .route("/likes", post(like_form))
        .route("/avatar/guest/{name}", get(guest_avatar))
}

// ---- rate limits ----------------------------------------------------------------------

async fn check_rate(state: &AppState, is_ip: bool, value: &str) -> Result<(), WebError> {
    if value.is_empty() {
        return Ok(());
    }
    // (window in seconds, most thoughts in it) for one address and for one email.
    let (per_minute, per_hour) = state.config.thought_limits;
    let limits = [(60i64, per_minute), (3600, per_hour)];
    let now = colloquy_store::now();
    let longest = 3600;
    let times = state
        .store
        .recent_thought_times(is_ip, value, now - longest)
        .await?;
    for (window, max) in limits {
        let inside: Vec<i64> = times
            .iter()
            .copied()
            .filter(|t| *t > now - window)
            .collect();
        if max > 0 && inside.len() >= max {
            let wait = inside[inside.len() - max] + window - now;
            return Err(WebError::TooManyRequests(wait.max(1) as u64));
        }
    }
    Ok(())
}

// ---- the pipeline ---------------------------------------------------------------------

/// A thought as sent, before any rule has looked at it.
#[derive(Debug, Default)]
pub struct Incoming {
    pub post_id: i64,
    pub parent_id: Option<i64>,
    pub body: String,
    pub author_name: String,
    pub author_email: String,
    pub author_url: String,
    pub notify: bool,
    pub confirm_sensitive: bool,
    pub honeypot_filled: bool,
    pub too_fast: bool,
}

#[derive(Debug, Serialize)]
pub struct Accepted {
    pub id: i64,
    pub status: ThoughtStatus,
    pub url: String,
}

pub(crate) fn body_hash(body: &str) -> String {
    let normal: String = body
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    hex::encode(Sha256::digest(normal.as_bytes()))
}

/// Runs every rule on a new thought and stores it where it belongs.
#[tracing::instrument(skip_all, fields(post_id = input.post_id, member = who.is_some()))]
pub async fn submit(
    state: &AppState,
    who: Option<&UserRow>,
    ip: &str,
    input: Incoming,
) -> Result<Accepted, WebError> {
    let settings = state.settings();
    let rules = &settings.discussion;
    let post = state.store.post_by_id(input.post_id).await?;
    if post.status != "published" {
        return Err(WebError::NotFound);
    }
    let now = colloquy_store::now();
    if !open_for_thoughts(
        post.thoughts_open,
        post.publish_at,
        rules.close_after_days,
        now,
    ) {
        return Err(WebError::Forbidden(
            "thoughts are closed on this post".into(),
        ));
    }
    if let Some(u) = who {
        if u.email_verified_at.is_none() {
            return Err(WebError::Forbidden(
                "confirm your email address first: follow the link we mailed you (your account page can send it again)".into(),
            ));
        }
    }
    let body = ThoughtBody::parse(&input.body)?;
    let (name, email, url) = match who {
        Some(u) => (u.name.clone(), u.email.clone(), String::new()),
        None => {
            let g =
                GuestIdentity::parse(&input.author_name, &input.author_email, &input.author_url)?;
            (
                g.name,
                g.email.as_str().to_owned(),
                g.url.unwrap_or_default(),
            )
        }
    };
    let email = email.to_lowercase();
    check_bans(state, who, &email, ip).await?;
    check_rate(state, true, ip).await?;
    check_rate(state, false, &email).await?;
    let hash = body_hash(body.as_str());
    if state
        .store
        .duplicate_thought(post.id, &hash, &email, who.map(|u| u.id))
        .await?
    {
        return Err(WebError::Conflict(
            "you have already posted this thought here".into(),
        ));
    }
    let findings = confidentiality::scan(body.as_str());
    if !findings.is_empty() && !input.confirm_sensitive {
        return Err(WebError::Sensitive(findings));
    }
    let mut confirmed: Vec<String> = findings
        .iter()
        .map(|f| f.kind.describe().to_owned())
        .collect();
    confirmed.dedup();
    let tokens: Vec<String> = spam::tokens(body.as_str(), &email, &url)
        .into_iter()
        .collect();
    let spam_score = spam::score(&state.store.spam_evidence(&tokens).await?);
    let guest_known = who.is_none() && state.store.guest_known(&email).await?;
    let decision = decide(
        rules,
        &Submission {
            body: body.as_str(),
            author_name: &name,
            author_email: &email,
            author_url: &url,
            is_member: who.is_some(),
            guest_known,
            link_count: markdown::count_links(body.as_str()),
            honeypot_filled: input.honeypot_filled,
            too_fast: input.too_fast,
            confirmed_sensitive: confirmed,
            spam_score,
        },
    );
    let id = state
        .store
        .create_thought(NewThought {
            post_id: post.id,
            parent_id: input.parent_id,
            kind: "comment".into(),
            status: decision.status.as_str().into(),
            user_id: who.map(|u| u.id),
            author_name: name,
            author_email: email,
            author_url: url,
            author_ip: ip.to_owned(),
            body_markdown: body.as_str().to_owned(),
            body_html: markdown::render_comment(body.as_str()),
            body_hash: hash,
            source_url: None,
            held_reason: decision.reason,
            spam_score,
            notify: input.notify,
        })
        .await
        .map_err(|e| match e {
            colloquy_store::StoreError::NotFound => WebError::Invalid(colloquy_core::Invalid::new(
                "parent_id",
                "the thought you reply to does not exist on this post",
            )),
            e => e.into(),
        })?;
    if decision.status == ThoughtStatus::Approved {
        state.post_changed(post.id);
    }
    tracing::info!(
        thought.id = id,
        status = decision.status.as_str(),
        "thought received"
    );
    Ok(Accepted {
        id,
        status: decision.status,
        url: format!("{}#thought-{id}", post_url(state, &post)),
    })
}

async fn check_bans(
    state: &AppState,
    who: Option<&UserRow>,
    email: &str,
    ip: &str,
) -> Result<(), WebError> {
    let ip_addr: Option<std::net::IpAddr> = ip.parse().ok();
    let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    for ban in state.store.bans().await? {
        let hit = match ban.kind.as_str() {
            "email" => {
                ban.value == email || ban.value.strip_prefix('@').is_some_and(|d| d == domain)
            }
            "ip" => match (IpRange::parse(&ban.value), ip_addr) {
                (Ok(r), Some(a)) => r.contains(a),
                _ => false,
            },
            "user" => who.is_some_and(|u| ban.value == u.id.to_string()),
            _ => false,
        };
        if hit {
            return Err(WebError::Forbidden(
                "you may not post thoughts on this site; contact the editors if you think this is a mistake".into(),
            ));
        }
    }
    Ok(())
}

pub fn post_url(state: &AppState, p: &PostRow) -> String {
    format!(
        "{}{}",
        state.config.base_url,
        post_path(&p.kind, &p.slug, p.publish_at, &state.settings().tz())
    )
}

// ---- the form's signed timestamp ----------------------------------------------------

use crate::auth::sign;

/// A token saying "this form was handed out for post P at time T".
pub fn form_stamp(state: &AppState, post_id: i64) -> String {
    let t = colloquy_store::now();
    let secret = &state.settings().secret;
    format!("{t}.{}", sign(secret, &format!("form|{post_id}|{t}")))
}

/// The seconds since the stamp was handed out, if it is genuine and for this post.
fn stamp_age(state: &AppState, post_id: i64, stamp: &str) -> Option<i64> {
    let (t, sig) = stamp.split_once('.')?;
    let t: i64 = t.parse().ok()?;
    let want = sign(&state.settings().secret, &format!("form|{post_id}|{t}"));
    if !auth::same_token(&want, sig) {
        return None;
    }
    let age = colloquy_store::now() - t;
    (0..=7 * 86_400).contains(&age).then_some(age)
}

/// Guest avatars are named by a keyed hash of the email, so the address cannot be guessed
/// back from the image's name (as it can from a Gravatar hash).
pub fn guest_avatar_url(state: &AppState, email: &str) -> String {
    if state.settings().discussion.gravatar && email.contains('@') {
        // Gravatar accepts a SHA-256 of the trimmed, lowercased address; `d=identicon`
        // draws one for addresses it does not know.
        let h = hex::encode(Sha256::digest(email.trim().to_lowercase().as_bytes()));
        return format!("https://www.gravatar.com/avatar/{h}?s=64&d=identicon");
    }
    let h = sign(
        &state.settings().secret,
        &format!("avatar|{}", email.to_lowercase()),
    );
    format!("/avatar/guest/{h}.svg")
}

async fn guest_avatar(Path(name): Path<String>) -> Result<Response, WebError> {
    let h = name.strip_suffix(".svg").ok_or(WebError::NotFound)?;
    if h.len() != 32 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(WebError::NotFound);
    }
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        colloquy_core::avatar::identicon_svg(h),
    )
        .into_response())
}

#[derive(Deserialize)]
struct TokenQuery {
    post: i64,
}

/// Hands a fresh stamp to the form's script, so cached pages still carry a real start time.
async fn form_token(State(state): State<SharedState>, Query(q): Query<TokenQuery>) -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({ "stamp": form_stamp(&state, q.post) })),
    )
        .into_response()
}

// ---- thread view model ----------------------------------------------------------------

#[derive(Serialize)]
pub struct ThoughtView {
    pub id: i64,
    pub depth: u32,
    pub kind: String,
    pub author_name: String,
    pub author_url: String,
    pub avatar_url: String,
    pub created_iso: String,
    pub created_human: String,
    pub body_html: String,
    pub removed: bool,
    pub parent_id: Option<i64>,
    pub user_id: Option<i64>,
    pub editable_until: i64,
}

/// A post's approved thoughts as threads, oldest first, replies under their parents.
pub fn thread_views(state: &AppState, rows: &[ThoughtRow]) -> Vec<ThoughtView> {
    let depth = state.settings().discussion.depth;
    let keys: Vec<(i64, Option<i64>)> = rows.iter().map(|t| (t.id, t.parent_id)).collect();
    let placed = colloquy_core::thought::thread(&keys, depth);
    // A removed thought is kept only while replies hang from it.
    let has_children: std::collections::HashSet<i64> = rows
        .iter()
        .filter(|t| !t.deleted)
        .filter_map(|t| t.parent_id)
        .collect();
    let tz = state.settings().tz();
    placed
        .into_iter()
        .filter(|(i, _)| !rows[*i].deleted || has_children.contains(&rows[*i].id))
        .map(|(i, depth)| thought_view(state, &rows[i], depth, &tz))
        .collect()
}

fn thought_view(
    state: &AppState,
    t: &ThoughtRow,
    depth: u32,
    tz: &jiff::tz::TimeZone,
) -> ThoughtView {
    let avatar = guest_avatar_url(state, &t.author_email);
    ThoughtView {
        id: t.id,
        depth,
        kind: t.kind.clone(),
        author_name: if t.deleted {
            String::new()
        } else {
            t.author_name.clone()
        },
        author_url: if t.deleted {
            String::new()
        } else {
            t.author_url.clone()
        },
        avatar_url: avatar,
        created_iso: iso(t.created_at),
        created_human: jiff::Timestamp::from_second(t.created_at)
            .map(|ts| {
                ts.to_zoned(tz.clone())
                    .strftime("%-d %B %Y at %H:%M")
                    .to_string()
            })
            .unwrap_or_default(),
        body_html: t.body_html.clone(),
        removed: t.deleted,
        parent_id: t.parent_id,
        user_id: t.user_id,
        editable_until: t.created_at + EDIT_WINDOW_SECONDS,
    }
}

// ---- the reader's forms -------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct ThoughtForm {
    #[serde(default)]
    post_id: String,
    #[serde(default)]
    parent_id: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    author_name: String,
    #[serde(default)]
    author_email: String,
    #[serde(default)]
    author_url: String,
    #[serde(default)]
    notify: Option<String>,
    #[serde(default)]
    confirm_sensitive: Option<String>,
    /// The honeypot: hidden from people, filled in by robots.
    #[serde(default)]
    homepage: String,
    #[serde(default)]
    stamp: String,
    #[serde(default)]
    csrf: String,
}

/// Refuses a form posted from another site (browsers send `Origin` with every POST).
pub(crate) fn same_origin(state: &AppState, headers: &HeaderMap) -> Result<(), WebError> {
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(o) if o == "null" || !state.config.base_url.starts_with(o) => Err(
            WebError::Forbidden("this form was sent from another site".into()),
        ),
        _ => Ok(()),
    }
}

async fn submit_form(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<ThoughtForm>,
) -> Result<Response, WebError> {
    same_origin(&state, &headers)?;
    let me = auth::current_user(&state, &headers).await;
    if let Some(m) = &me {
        m.check_csrf(&f.csrf)?;
    }
    let post_id: i64 = f
        .post_id
        .trim()
        .parse()
        .map_err(|_| WebError::BadRequest("the form names no post".into()))?;
    let parent_id = match f.parent_id.trim() {
        "" => None,
        s => Some(
            s.parse::<i64>()
                .map_err(|_| WebError::BadRequest("the reply names no thought".into()))?,
        ),
    };
    let post = state.store.post_by_id(post_id).await?;
    let min = state.config.thought_min_seconds;
    let age = stamp_age(&state, post_id, &f.stamp);
    if age.is_none() && f.homepage.is_empty() {
        // No (valid) stamp: the page was read without JavaScript, or long ago. Show the
        // thought back with a fresh stamp; sending it again posts it.
        return form_page(
            &state,
            me.as_ref(),
            &post,
            parent_id,
            &f,
            StatusCode::OK,
            Some("Check your thought and send it again to post it."),
            &[],
        )
        .await;
    }
    let input = Incoming {
        post_id,
        parent_id,
        body: f.body.clone(),
        author_name: f.author_name.clone(),
        author_email: f.author_email.clone(),
        author_url: f.author_url.clone(),
        notify: f.notify.is_some(),
        confirm_sensitive: f.confirm_sensitive.is_some(),
        honeypot_filled: !f.homepage.is_empty(),
        too_fast: age.is_some_and(|a| a < min),
    };
    let ip = auth::client_ip(&state, &headers, Some(peer));
    match submit(&state, me.as_ref().map(|m| &m.user), &ip, input).await {
        Ok(a) if a.status == ThoughtStatus::Approved => {
            Ok(Redirect::to(&format!("{}#thought-{}", post_url(&state, &post), a.id)).into_response())
        }
        Ok(_) => message_page(
            &state,
            &post,
            "Thank you",
            "Your thought is awaiting moderation. It will appear under the post once a moderator has read it.",
        )
        .await,
        Err(WebError::Sensitive(findings)) => {
            let list: Vec<minijinja::Value> = findings
                .iter()
                .map(|x| minijinja::context! { what => x.kind.describe(), text => x.text })
                .collect();
            form_page(&state, me.as_ref(), &post, parent_id, &f, StatusCode::UNPROCESSABLE_ENTITY,
                Some("Your thought may identify someone. Please edit it, or confirm that it is safe to publish."), &list).await
        }
        Err(e @ (WebError::Invalid(_) | WebError::Conflict(_))) => {
            let msg = e.to_string();
            form_page(&state, me.as_ref(), &post, parent_id, &f, e.status(), Some(&msg), &[]).await
        }
        Err(e) => Err(e),
    }
}

#[allow(clippy::too_many_arguments)]
async fn form_page(
    state: &AppState,
    me: Option<&CurrentUser>,
    post: &PostRow,
    parent_id: Option<i64>,
    f: &ThoughtForm,
    status: StatusCode,
    message: Option<&str>,
    findings: &[minijinja::Value],
) -> Result<Response, WebError> {
    let parent = match parent_id {
        Some(id) => {
            let t = state.store.thought_by_id(id).await?;
            if t.post_id != post.id || t.status != "approved" {
                return Err(WebError::NotFound);
            }
            Some(thought_view(state, &t, 0, &state.settings().tz()))
        }
        None => None,
    };
    let settings = state.settings();
    let html = state.templates.render(
        "thought_form.html",
        minijinja::context! {
            frame => crate::routes::public::simple_frame(state, &format!("Reply to “{}”", post.title)).await?,
            post => minijinja::context! { id => post.id, title => post.title, url => post_url(state, post) },
            parent,
            message,
            findings,
            sensitive => !findings.is_empty(),
            form => minijinja::context! {
                body => f.body, author_name => f.author_name, author_email => f.author_email,
                author_url => f.author_url, notify => f.notify.is_some(),
            },
            stamp => form_stamp(state, post.id),
            viewer => me.map(viewer),
            site => settings,
        },
    )?;
    let mut res = (status, Html(html)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("ascii"));
    Ok(res)
}

async fn message_page(
    state: &AppState,
    post: &PostRow,
    title: &str,
    text: &str,
) -> Result<Response, WebError> {
    let html = state.templates.render(
        "message.html",
        minijinja::context! {
            frame => crate::routes::public::simple_frame(state, title).await?,
            title, text, back_url => post_url(state, post), back_title => post.title,
        },
    )?;
    let mut res = (StatusCode::OK, Html(html)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("ascii"));
    Ok(res)
}

/// What the page needs to know about a signed-in reader.
pub fn viewer(m: &CurrentUser) -> minijinja::Value {
    minijinja::context! {
        id => m.user.id, name => m.user.name, csrf => m.csrf,
        moderator => m.role >= Role::Moderator,
    }
}

async fn reply_form(
    State(state): State<SharedState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let t = state.store.thought_by_id(id).await?;
    if t.status != "approved" || t.deleted {
        return Err(WebError::NotFound);
    }
    let post = state.store.post_by_id(t.post_id).await?;
    if post.status != "published" {
        return Err(WebError::NotFound);
    }
    let me = auth::current_user(&state, &headers).await;
    form_page(
        &state,
        me.as_ref(),
        &post,
        Some(id),
        &ThoughtForm::default(),
        StatusCode::OK,
        None,
        &[],
    )
    .await
}

/// A member's own thought, inside the edit window (moderators edit in the admin).
async fn own_thought(
    state: &AppState,
    headers: &HeaderMap,
    id: i64,
) -> Result<(CurrentUser, ThoughtRow), WebError> {
    let me = auth::current_user(state, headers)
        .await
        .ok_or(WebError::Unauthorized)?;
    let t = state.store.thought_by_id(id).await?;
    if t.user_id != Some(me.user.id) || t.deleted {
        return Err(WebError::Forbidden(
            "you may change only your own thoughts".into(),
        ));
    }
    Ok((me, t))
}

fn check_window(t: &ThoughtRow) -> Result<(), WebError> {
    if colloquy_store::now() > t.created_at + EDIT_WINDOW_SECONDS {
        return Err(WebError::Forbidden(format!(
            "thoughts can be edited for {} minutes after posting",
            EDIT_WINDOW_SECONDS / 60
        )));
    }
    Ok(())
}

/// Edits a member's own thought: the same rules as posting, except the moderation policy.
pub async fn edit_own(
    state: &AppState,
    me: &CurrentUser,
    t: &ThoughtRow,
    body: &str,
    confirm: bool,
) -> Result<(), WebError> {
    check_window(t)?;
    let body = ThoughtBody::parse(body)?;
    let findings = confidentiality::scan(body.as_str());
    if !findings.is_empty() && !confirm {
        return Err(WebError::Sensitive(findings));
    }
    state
        .store
        .edit_thought(
            t.id,
            body.as_str(),
            &markdown::render_comment(body.as_str()),
            &body_hash(body.as_str()),
            (me.user.id, &me.user.name),
        )
        .await?;
    state.post_changed(t.post_id);
    Ok(())
}

pub async fn delete_own(
    state: &AppState,
    me: &CurrentUser,
    t: &ThoughtRow,
) -> Result<(), WebError> {
    state
        .store
        .remove_thought(t.id, (me.user.id, &me.user.name))
        .await?;
    state.post_changed(t.post_id);
    Ok(())
}

async fn edit_form(
    State(state): State<SharedState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (me, t) = own_thought(&state, &headers, id).await?;
    check_window(&t)?;
    let post = state.store.post_by_id(t.post_id).await?;
    edit_page(
        &state,
        &me,
        &t,
        &post,
        &t.body_markdown,
        StatusCode::OK,
        None,
    )
    .await
}

async fn edit_page(
    state: &AppState,
    me: &CurrentUser,
    t: &ThoughtRow,
    post: &PostRow,
    body: &str,
    status: StatusCode,
    message: Option<&str>,
) -> Result<Response, WebError> {
    let html = state.templates.render(
        "thought_edit.html",
        minijinja::context! {
            frame => crate::routes::public::simple_frame(state, "Edit your thought").await?,
            id => t.id, body, message, csrf => me.csrf,
            post_url => post_url(state, post), post_title => post.title,
            sensitive => matches!(message, Some(m) if m.contains("identify")),
        },
    )?;
    let mut res = (status, Html(html)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("ascii"));
    Ok(res)
}

#[derive(Deserialize)]
struct EditForm {
    body: String,
    csrf: String,
    #[serde(default)]
    confirm_sensitive: Option<String>,
}

async fn edit_submit(
    State(state): State<SharedState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<EditForm>,
) -> Result<Response, WebError> {
    same_origin(&state, &headers)?;
    let (me, t) = own_thought(&state, &headers, id).await?;
    me.check_csrf(&f.csrf)?;
    let post = state.store.post_by_id(t.post_id).await?;
    match edit_own(&state, &me, &t, &f.body, f.confirm_sensitive.is_some()).await {
        Ok(()) => Ok(Redirect::to(&format!("{}#thought-{id}", post_url(&state, &post))).into_response()),
        Err(WebError::Sensitive(_)) => edit_page(&state, &me, &t, &post, &f.body, StatusCode::UNPROCESSABLE_ENTITY,
            Some("Your thought may identify someone. Please edit it, or confirm that it is safe to publish.")).await,
        Err(e @ WebError::Invalid(_)) => {
            let m = e.to_string();
            edit_page(&state, &me, &t, &post, &f.body, e.status(), Some(&m)).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: String,
}

async fn delete_submit(
    State(state): State<SharedState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    same_origin(&state, &headers)?;
    let (me, t) = own_thought(&state, &headers, id).await?;
    me.check_csrf(&f.csrf)?;
    let post = state.store.post_by_id(t.post_id).await?;
    delete_own(&state, &me, &t).await?;
    Ok(Redirect::to(&format!("{}#thoughts", post_url(&state, &post))).into_response())
}

#[derive(Deserialize)]
struct LikeFormBody {
    post_id: i64,
    csrf: String,
    #[serde(default)]
    unlike: Option<String>,
}

async fn like_form(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<LikeFormBody>,
) -> Result<Response, WebError> {
    same_origin(&state, &headers)?;
    let me = auth::current_user(&state, &headers)
        .await
        .ok_or(WebError::Unauthorized)?;
    me.check_csrf(&f.csrf)?;
    let post = state.store.post_by_id(f.post_id).await?;
    set_like(&state, &me.user, &post, f.unlike.is_none()).await?;
    Ok(Redirect::to(&format!("{}#likes", post_url(&state, &post))).into_response())
}

pub async fn set_like(
    state: &AppState,
    user: &UserRow,
    post: &PostRow,
    like: bool,
) -> Result<bool, WebError> {
    if post.status != "published" {
        return Err(WebError::NotFound);
    }
    let liked = state
        .store
        .set_like(post.id, user.id, &user.name, like)
        .await?;
    state.post_changed(post.id);
    Ok(liked)
}
