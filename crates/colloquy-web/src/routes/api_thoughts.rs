//! The thoughts and likes part of the JSON API. Guests post without a token (the same rules
//! as the form apply, but for the form-only honeypot and time checks); members with one.

use super::api::{parse_id, parse_json, ErrorBody};
use super::thoughts::{self, Incoming};
use crate::auth::{self, api_user, CurrentUser};
use crate::error::{ApiError, WebError};
use crate::SharedState;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use colloquy_core::thought::ThoughtStatus;
use colloquy_core::Role;
use colloquy_store::ThoughtQuery;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use utoipa::ToSchema;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route(
            "/api/v1/posts/{id}/thoughts",
            get(list_thoughts).post(create_thought),
        )
        .route("/api/v1/posts/{id}/like", post(like).delete(unlike))
        .route("/api/v1/thoughts", get(moderation_list))
        .route(
            "/api/v1/thoughts/{id}",
            get(get_thought).patch(edit_thought).delete(delete_thought),
        )
        .route("/api/v1/thoughts/{id}/{action}", post(moderate))
}

/// A new thought. Without a token, `author_name` and `author_email` are required.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThoughtInput {
    body: String,
    parent_id: Option<i64>,
    author_name: Option<String>,
    author_email: Option<String>,
    author_url: Option<String>,
    /// Tell me of new thoughts on this post by email.
    #[serde(default)]
    notify: bool,
    /// Publish although the confidentiality guard found identifying details.
    #[serde(default)]
    confirm_sensitive: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ThoughtCreated {
    id: i64,
    /// `approved`, `pending` or `spam`.
    status: String,
    url: String,
}

#[derive(Serialize, ToSchema)]
pub struct ThoughtJson {
    id: i64,
    post_id: i64,
    parent_id: Option<i64>,
    kind: String,
    status: String,
    author_name: String,
    author_url: String,
    body_markdown: String,
    body_html: String,
    created_at: String,
    updated_at: String,
    removed: bool,
    /// Thread depth as shown on the page (0 for top-level thoughts).
    depth: u32,
    /// Why the thought waits (moderators only).
    #[serde(skip_serializing_if = "Option::is_none")]
    held_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spam_score: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct ThoughtList {
    items: Vec<ThoughtJson>,
    total: i64,
}

fn json_of(t: &colloquy_store::ThoughtRow, depth: u32, staff: bool) -> ThoughtJson {
    ThoughtJson {
        id: t.id,
        post_id: t.post_id,
        parent_id: t.parent_id,
        kind: t.kind.clone(),
        status: t.status.clone(),
        author_name: if t.deleted {
            String::new()
        } else {
            t.author_name.clone()
        },
        author_url: t.author_url.clone(),
        body_markdown: t.body_markdown.clone(),
        body_html: t.body_html.clone(),
        created_at: crate::render::iso(t.created_at),
        updated_at: crate::render::iso(t.updated_at),
        removed: t.deleted,
        depth,
        held_reason: staff.then(|| t.held_reason.clone()),
        spam_score: if staff { t.spam_score } else { None },
    }
}

/// Posts a thought on a post, as a member (with a token) or as a guest.
#[utoipa::path(post, path = "/api/v1/posts/{id}/thoughts", request_body = ThoughtInput, params(("id" = i64, Path)),
    responses((status = 201, body = ThoughtCreated), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, description = "invalid input, or code `confidentiality` with `findings`", body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn create_thought(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let post_id = parse_id(&id)?;
    let who = if headers.contains_key(header::AUTHORIZATION) {
        Some(api_user(&state, &headers).await?.0)
    } else {
        None
    };
    let input: ThoughtInput = parse_json(&headers, &body)?;
    let ip = auth::client_ip(&state, &headers, Some(peer));
    let accepted = thoughts::submit(
        &state,
        who.as_ref(),
        &ip,
        Incoming {
            post_id,
            parent_id: input.parent_id,
            body: input.body,
            author_name: input.author_name.unwrap_or_default(),
            author_email: input.author_email.unwrap_or_default(),
            author_url: input.author_url.unwrap_or_default(),
            notify: input.notify,
            confirm_sensitive: input.confirm_sensitive,
            honeypot_filled: false,
            too_fast: false,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/api/v1/thoughts/{}", accepted.id),
        )],
        Json(ThoughtCreated {
            id: accepted.id,
            status: accepted.status.as_str().into(),
            url: accepted.url,
        }),
    )
        .into_response())
}

/// The approved thoughts on a post, in thread order.
#[utoipa::path(get, path = "/api/v1/posts/{id}/thoughts", params(("id" = i64, Path)),
    responses((status = 200, body = ThoughtList), (status = 404, body = ErrorBody)))]
async fn list_thoughts(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Json<ThoughtList>, ApiError> {
    let post_id = parse_id(&id)?;
    let post = state.store.post_by_id(post_id).await?;
    if post.status != "published" {
        return Err(WebError::NotFound.into());
    }
    let rows = state.store.approved_thoughts(post_id).await?;
    let keys: Vec<(i64, Option<i64>)> = rows.iter().map(|t| (t.id, t.parent_id)).collect();
    let placed = colloquy_core::thought::thread(&keys, state.settings().discussion.depth);
    let items: Vec<ThoughtJson> = placed
        .into_iter()
        .filter(|(i, _)| {
            !rows[*i].deleted
                || rows
                    .iter()
                    .any(|c| c.parent_id == Some(rows[*i].id) && !c.deleted)
        })
        .map(|(i, d)| json_of(&rows[i], d, false))
        .collect();
    Ok(Json(ThoughtList {
        total: items.len() as i64,
        items,
    }))
}

fn require_moderator(role: Role) -> Result<(), WebError> {
    if role >= Role::Moderator {
        Ok(())
    } else {
        Err(WebError::Forbidden(
            "only moderators, editors and admins moderate thoughts".into(),
        ))
    }
}

#[derive(Deserialize)]
struct ModerationQuery {
    status: Option<String>,
    post_id: Option<String>,
    q: Option<String>,
    page: Option<String>,
}

/// Thoughts by moderation status (moderators).
#[utoipa::path(get, path = "/api/v1/thoughts",
    params(("status" = Option<String>, Query, description = "pending (default), approved, spam or trash"),
           ("post_id" = Option<i64>, Query), ("q" = Option<String>, Query), ("page" = Option<u32>, Query)),
    responses((status = 200, body = ThoughtList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn moderation_list(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<ModerationQuery>,
) -> Result<Json<ThoughtList>, ApiError> {
    let (_, role) = api_user(&state, &headers).await?;
    require_moderator(role)?;
    let status = ThoughtStatus::parse(q.status.as_deref().unwrap_or("pending"))?;
    let page = match &q.page {
        Some(p) => colloquy_core::Page::parse(p)?,
        None => colloquy_core::Page::FIRST,
    };
    let post_id = q.post_id.as_deref().map(parse_id).transpose()?;
    let (rows, total) = state
        .store
        .thoughts_for_moderation(&ThoughtQuery {
            status: status.as_str().into(),
            post_id,
            search: q
                .q
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().chars().take(200).collect()),
            limit: 50,
            offset: page.offset(50),
        })
        .await?;
    Ok(Json(ThoughtList {
        items: rows.iter().map(|t| json_of(t, 0, true)).collect(),
        total,
    }))
}

async fn get_thought(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ThoughtJson>, ApiError> {
    let id = parse_id(&id)?;
    let t = state.store.thought_by_id(id).await?;
    let staff = match api_user(&state, &headers).await {
        Ok((_, role)) => role >= Role::Moderator,
        Err(_) => false,
    };
    if t.status != "approved" && !staff {
        return Err(WebError::NotFound.into());
    }
    Ok(Json(json_of(&t, 0, staff)))
}

/// Moves a thought: `approve`, `spam` (also teaches the filter), `trash`, or `unspam`.
#[utoipa::path(post, path = "/api/v1/thoughts/{id}/{action}",
    params(("id" = i64, Path), ("action" = String, Path, description = "approve, spam or trash")),
    responses((status = 200, body = ThoughtJson), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn moderate(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
) -> Result<Json<ThoughtJson>, ApiError> {
    let (user, role) = api_user(&state, &headers).await?;
    require_moderator(role)?;
    let id = parse_id(&id)?;
    let status = match action.as_str() {
        "approve" => ThoughtStatus::Approved,
        "spam" => ThoughtStatus::Spam,
        "trash" => ThoughtStatus::Trash,
        _ => return Err(WebError::NotFound.into()),
    };
    apply_moderation(&state, id, status, (user.id, &user.name)).await?;
    Ok(Json(json_of(
        &state.store.thought_by_id(id).await?,
        0,
        true,
    )))
}

/// A moderator's decision, with what it teaches the spam filter: "spam" is spam; approving
/// a thought the filter held or marked is "not spam".
pub async fn apply_moderation(
    state: &crate::AppState,
    id: i64,
    status: ThoughtStatus,
    actor: (i64, &str),
) -> Result<(), WebError> {
    let before = state
        .store
        .set_thought_status(id, status.as_str(), actor)
        .await?;
    let tokens: Vec<String> = colloquy_core::spam::tokens(
        &before.body_markdown,
        &before.author_email,
        &before.author_url,
    )
    .into_iter()
    .collect();
    match status {
        ThoughtStatus::Spam => state.store.train_spam_filter(id, &tokens, true).await?,
        ThoughtStatus::Approved if before.status != "approved" => {
            state.store.train_spam_filter(id, &tokens, false).await?
        }
        _ => {}
    }
    state.post_changed(before.post_id);
    Ok(())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThoughtEdit {
    body: String,
    #[serde(default)]
    confirm_sensitive: bool,
}

/// Edits your own thought within 15 minutes of posting it.
#[utoipa::path(patch, path = "/api/v1/thoughts/{id}", request_body = ThoughtEdit, params(("id" = i64, Path)),
    responses((status = 200, body = ThoughtJson), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn edit_thought(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ThoughtJson>, ApiError> {
    let me = token_member(&state, &headers).await?;
    let id = parse_id(&id)?;
    let input: ThoughtEdit = parse_json(&headers, &body)?;
    let t = state.store.thought_by_id(id).await?;
    if t.user_id != Some(me.user.id) || t.deleted {
        return Err(WebError::Forbidden("you may change only your own thoughts".into()).into());
    }
    thoughts::edit_own(&state, &me, &t, &input.body, input.confirm_sensitive).await?;
    Ok(Json(json_of(
        &state.store.thought_by_id(id).await?,
        0,
        false,
    )))
}

/// Deletes your own thought (a tombstone stays where replies hang from it).
#[utoipa::path(delete, path = "/api/v1/thoughts/{id}", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn delete_thought(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let me = token_member(&state, &headers).await?;
    let id = parse_id(&id)?;
    let t = state.store.thought_by_id(id).await?;
    if t.user_id != Some(me.user.id) || t.deleted {
        return Err(WebError::Forbidden("you may delete only your own thoughts".into()).into());
    }
    thoughts::delete_own(&state, &me, &t).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The API caller as a signed-in person (API calls carry no CSRF token: bearer tokens are
/// not sent by browsers on their own).
async fn token_member(
    state: &crate::AppState,
    headers: &HeaderMap,
) -> Result<CurrentUser, WebError> {
    let (user, role) = api_user(state, headers).await?;
    Ok(CurrentUser {
        user,
        role,
        csrf: String::new(),
    })
}

#[derive(Serialize, ToSchema)]
pub struct LikeState {
    liked: bool,
    count: usize,
}

/// Likes a post (once; liking again changes nothing).
#[utoipa::path(post, path = "/api/v1/posts/{id}/like", params(("id" = i64, Path)),
    responses((status = 200, body = LikeState), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn like(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<LikeState>, ApiError> {
    set_like(&state, &headers, &id, true).await
}

/// Takes a like back.
#[utoipa::path(delete, path = "/api/v1/posts/{id}/like", params(("id" = i64, Path)),
    responses((status = 200, body = LikeState), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn unlike(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<LikeState>, ApiError> {
    set_like(&state, &headers, &id, false).await
}

async fn set_like(
    state: &crate::AppState,
    headers: &HeaderMap,
    id: &str,
    like: bool,
) -> Result<Json<LikeState>, ApiError> {
    let (user, _) = api_user(state, headers).await?;
    let post = state.store.post_by_id(parse_id(id)?).await?;
    let liked = thoughts::set_like(state, &user, &post, like).await?;
    let count = state.store.likes_of(post.id).await?.len();
    Ok(Json(LikeState { liked, count }))
}
