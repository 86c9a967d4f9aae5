//! Following by email: the form on every page and `POST /api/v1/subscriptions` (double
//! opt-in; the answer never tells whether an address already follows), the confirmation
//! link, one-click unsubscribe (RFC 8058), and the "stop" link of thought notices.

use super::api::{parse_json, ErrorBody};
use crate::error::{ApiError, WebError};
use crate::mailing;
use crate::{AppState, SharedState};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use colloquy_core::{Email, Invalid, Slug};
use colloquy_store::{FollowOutcome, FollowRequest};
use serde::Deserialize;
use utoipa::ToSchema;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/subscriptions", post(api_follow))
        .route("/subscriptions", post(form_follow))
        .route("/subscriptions/confirm", get(confirm))
        .route(
            "/subscriptions/unsubscribe",
            get(unsubscribe_page).post(unsubscribe),
        )
        .route("/thoughts/unwatch", get(unwatch_page).post(unwatch))
        .route("/subscriptions/manage", get(manage_page).post(manage_save))
        .route("/account/following", get(account_following))
}

/// A request to follow the publication, or only some categories, tags or authors.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct FollowInput {
    email: String,
    /// Category slugs; empty (with tags and authors) means everything.
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    /// Author slugs.
    #[serde(default)]
    authors: Vec<String>,
    /// `immediate` (default), `daily` or `weekly`.
    frequency: Option<String>,
}

fn slugs(field: &'static str, v: &[String]) -> Result<Vec<String>, Invalid> {
    if v.len() > 50 {
        return Err(Invalid::new(field, "at most 50 at once"));
    }
    v.iter()
        .map(|s| {
            Slug::parse(s)
                .map(|s| s.as_str().to_owned())
                .map_err(|_| Invalid::new(field, format!("{s:?} is not a slug")))
        })
        .collect()
}

impl FollowInput {
    fn parse(&self, source: &str) -> Result<FollowRequest, Invalid> {
        let email = Email::parse(&self.email)?;
        let frequency = match self.frequency.as_deref().unwrap_or("immediate") {
            f @ ("immediate" | "daily" | "weekly") => f.to_owned(),
            _ => {
                return Err(Invalid::new(
                    "frequency",
                    "frequency must be immediate, daily or weekly",
                ))
            }
        };
        Ok(FollowRequest {
            email: email.as_str().to_lowercase(),
            frequency,
            categories: slugs("categories", &self.categories)?,
            tags: slugs("tags", &self.tags)?,
            authors: slugs("authors", &self.authors)?,
            source: source.into(),
        })
    }
}

/// Records the wish and queues the right mail; the same answer whatever the address's state.
async fn follow(state: &AppState, req: FollowRequest) -> Result<(), WebError> {
    let token = crate::auth::random_token();
    match state
        .store
        .follow(&req, &crate::auth::hash_token(&token))
        .await?
    {
        FollowOutcome::Confirm { subscriber_id } => {
            mailing::queue_confirmation(state, subscriber_id, &req.email, &token).await?
        }
        FollowOutcome::AlreadyFollowing { subscriber_id } => {
            mailing::queue_already(state, subscriber_id, &req.email).await?
        }
        FollowOutcome::TooSoon => {}
    }
    Ok(())
}

/// Follows the publication by email (double opt-in: a confirmation mail is sent).
#[utoipa::path(post, path = "/api/v1/subscriptions", request_body = FollowInput,
    responses((status = 202, description = "accepted, whatever the address's state"), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn api_follow(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: FollowInput = parse_json(&headers, &body)?;
    let req = input.parse("api")?;
    follow(&state, req).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "status": "accepted", "message": "If this address can follow, a mail is on its way to it." })),
    )
        .into_response())
}

fn page(
    state: &AppState,
    status: StatusCode,
    title: &str,
    text: &str,
    form: Option<minijinja::Value>,
) -> Result<Response, WebError> {
    let html = state.templates.render(
        "following.html",
        minijinja::context! { site => state.settings(), title, text, form },
    )?;
    let mut res = (status, Html(html)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("ascii"));
    Ok(res)
}

#[derive(Deserialize)]
struct FollowForm {
    #[serde(default)]
    email: String,
}

async fn form_follow(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<FollowForm>,
) -> Result<Response, WebError> {
    super::thoughts::same_origin(&state, &headers)?;
    let input = FollowInput {
        email: f.email,
        ..Default::default()
    };
    match input.parse("form") {
        Ok(req) => {
            follow(&state, req).await?;
            page(&state, StatusCode::OK, "Check your inbox",
                "If this address can follow, a mail is on its way to it. Follow the link in it to confirm; nothing is sent before you do.", None)
        }
        Err(e) => page(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "That did not work",
            &e.message,
            None,
        ),
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn confirm(
    State(state): State<SharedState>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    let token = q.token.unwrap_or_default();
    match state.store.confirm_follow(&crate::auth::hash_token(&token)).await {
        Ok(_) => page(&state, StatusCode::OK, "You are following",
            &format!("Thank you. You will get a mail when {} publishes. Every mail has a link to stop.", state.settings().title), None),
        Err(colloquy_store::StoreError::NotFound) => page(&state, StatusCode::NOT_FOUND, "This link does not work",
            "It was used already, or it is older than 7 days. Ask to follow again to get a new one.", None),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct UnsubQuery {
    s: Option<i64>,
    t: Option<String>,
}

fn verified_subscriber(state: &AppState, q: &UnsubQuery) -> Result<i64, WebError> {
    match (q.s, q.t.as_deref()) {
        (Some(s), Some(t)) if mailing::check(state, &format!("unsub|{s}"), t) => Ok(s),
        _ => Err(WebError::BadRequest(
            "this unsubscribe link is not valid".into(),
        )),
    }
}

/// A GET never unsubscribes (mail scanners follow links): it shows a one-button form.
async fn unsubscribe_page(
    State(state): State<SharedState>,
    Query(q): Query<UnsubQuery>,
) -> Result<Response, WebError> {
    let s = verified_subscriber(&state, &q)?;
    page(
        &state,
        StatusCode::OK,
        "Stop following",
        &format!("Stop all mail from {}?", state.settings().title),
        Some(
            minijinja::context! { action => "/subscriptions/unsubscribe", id_name => "s", id => s, t => q.t, button => "Stop all mail" },
        ),
    )
}

/// RFC 8058 one-click: a POST of `List-Unsubscribe=One-Click` (or the page's button).
async fn unsubscribe(
    State(state): State<SharedState>,
    Query(q): Query<UnsubQuery>,
    body: Bytes,
) -> Result<Response, WebError> {
    let (s_id, t) = signed_id(q.s, q.t, &body, "s");
    let q = UnsubQuery { s: s_id, t };
    let s = verified_subscriber(&state, &q)?;
    state.store.unsubscribe(s).await?;
    page(
        &state,
        StatusCode::OK,
        "You have stopped following",
        &format!(
            "No more mail from {} will come to this address.",
            state.settings().title
        ),
        None,
    )
}

/// The signed id and its signature: from the query (the `List-Unsubscribe` URL) or, when
/// absent there, from the form body (the page's button).
fn signed_id(
    id: Option<i64>,
    t: Option<String>,
    body: &[u8],
    id_name: &str,
) -> (Option<i64>, Option<String>) {
    let fields = super::linkbacks::form_fields(body);
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    (
        id.or_else(|| get(id_name).and_then(|v| v.parse().ok())),
        t.or_else(|| get("t")),
    )
}

fn verified_manager(state: &AppState, s: Option<i64>, t: Option<&str>) -> Result<i64, WebError> {
    match (s, t) {
        (Some(s), Some(t)) if mailing::check(state, &format!("manage|{s}"), t) => Ok(s),
        _ => Err(WebError::BadRequest("this link is not valid".into())),
    }
}

fn manage_view(
    state: &AppState,
    sub: &colloquy_store::SubscriberRow,
    t: &str,
    status: StatusCode,
    message: Option<&str>,
) -> Result<Response, WebError> {
    let html = state.templates.render(
        "following_manage.html",
        minijinja::context! {
            site => state.settings(), s => sub.id, t, email => sub.email, status_now => sub.status,
            frequency => sub.frequency, categories => sub.categories.join(", "),
            tags => sub.tags.join(", "), authors => sub.authors.join(", "), message,
            unsubscribe => mailing::unsubscribe_url(state, sub.id),
        },
    )?;
    let mut res = (status, Html(html)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("ascii"));
    Ok(res)
}

#[derive(Deserialize)]
struct ManageQuery {
    s: Option<i64>,
    t: Option<String>,
}

async fn manage_page(
    State(state): State<SharedState>,
    Query(q): Query<ManageQuery>,
) -> Result<Response, WebError> {
    let id = verified_manager(&state, q.s, q.t.as_deref())?;
    let sub = state.store.subscriber_by_id(id).await?;
    manage_view(
        &state,
        &sub,
        q.t.as_deref().unwrap_or(""),
        StatusCode::OK,
        None,
    )
}

#[derive(Deserialize)]
struct ManageForm {
    s: Option<i64>,
    t: Option<String>,
    frequency: String,
    #[serde(default)]
    categories: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    authors: String,
}

fn comma_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn manage_save(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<ManageForm>,
) -> Result<Response, WebError> {
    super::thoughts::same_origin(&state, &headers)?;
    let id = verified_manager(&state, f.s, f.t.as_deref())?;
    let sub = state.store.subscriber_by_id(id).await?;
    let input = FollowInput {
        email: sub.email.clone(),
        categories: comma_list(&f.categories),
        tags: comma_list(&f.tags),
        authors: comma_list(&f.authors),
        frequency: Some(f.frequency.clone()),
    };
    match input.parse("manage") {
        Ok(req) => {
            let sub = state.store.update_follow(id, &req).await?;
            manage_view(
                &state,
                &sub,
                f.t.as_deref().unwrap_or(""),
                StatusCode::OK,
                Some("Saved."),
            )
        }
        Err(e) => manage_view(
            &state,
            &sub,
            f.t.as_deref().unwrap_or(""),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&e.message),
        ),
    }
}

/// A signed-in member's following: their own manage page, or the way to start.
async fn account_following(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let me = crate::auth::current_user(&state, &headers)
        .await
        .ok_or(WebError::Unauthorized)?;
    match state.store.subscriber_by_email(&me.user.email.to_lowercase()).await {
        Ok(sub) => Ok(axum::response::Redirect::to(
            mailing::manage_url(&state, sub.id).trim_start_matches(&state.config.base_url),
        )
        .into_response()),
        Err(colloquy_store::StoreError::NotFound) => page(&state, StatusCode::OK, "You do not follow by email yet",
            "Use the form at the foot of any page with your address; a confirmation mail will follow.", None),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct UnwatchQuery {
    w: Option<i64>,
    t: Option<String>,
}

async fn unwatch_page(
    State(state): State<SharedState>,
    Query(q): Query<UnwatchQuery>,
) -> Result<Response, WebError> {
    let w = verified_watcher(&state, &q)?;
    page(
        &state,
        StatusCode::OK,
        "Stop thought notices",
        "Stop the mails about new thoughts on this post?",
        Some(
            minijinja::context! { action => "/thoughts/unwatch", id_name => "w", id => w, t => q.t, button => "Stop these mails" },
        ),
    )
}

fn verified_watcher(state: &AppState, q: &UnwatchQuery) -> Result<i64, WebError> {
    match (q.w, q.t.as_deref()) {
        (Some(w), Some(t)) if mailing::check(state, &format!("unwatch|{w}"), t) => Ok(w),
        _ => Err(WebError::BadRequest("this link is not valid".into())),
    }
}

async fn unwatch(
    State(state): State<SharedState>,
    Query(q): Query<UnwatchQuery>,
    body: Bytes,
) -> Result<Response, WebError> {
    let (w, t) = signed_id(q.w, q.t, &body, "w");
    let w = verified_watcher(&state, &UnwatchQuery { w, t })?;
    state.store.stop_watching(w).await?;
    page(
        &state,
        StatusCode::OK,
        "Stopped",
        "You will get no more mails about new thoughts on this post.",
        None,
    )
}
