//! The live-debate part of the JSON API: schedule a debate, open and close it, accept the
//! code of conduct, post messages, read the stream and the transcript.

use super::api::{parse_id, parse_json, ErrorBody};
use super::debates::{
    act_on_message, events_response, resume_point, run_room, transcript_json, EventsQuery,
};
use crate::auth::{api_user, client_ip};
use crate::error::{ApiError, WebError};
use crate::live::{self, MessageInput};
use crate::{AppState, SharedState};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use colloquy_core::debate;
use colloquy_core::{Invalid, Role, Slug};
use colloquy_store::{DebatePatch, DebateRow, NewDebate, UserRow};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use utoipa::ToSchema;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/debates", post(create_debate).get(list_debates))
        .route("/api/v1/debates/{id}", get(get_debate).patch(update_debate))
        .route("/api/v1/debates/{id}/open", post(open))
        .route("/api/v1/debates/{id}/close", post(close))
        .route("/api/v1/debates/{id}/code-of-conduct", post(accept_conduct))
        .route("/api/v1/debates/{id}/messages", post(create_message))
        .route(
            "/api/v1/debates/{id}/messages/{message}/{action}",
            post(message_action),
        )
        .route("/api/v1/debates/{id}/room", post(room_action))
        .route("/api/v1/debates/{id}/register", post(register))
        .route("/api/v1/debates/{id}/transcript", get(transcript))
}

/// The stream sits outside the handler deadline.
pub fn stream_routes() -> Router<SharedState> {
    Router::new().route("/api/v1/debates/{id}/events", get(events))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DebateInput {
    /// The post the debate discusses.
    post_id: i64,
    title: String,
    /// RFC 3339 (`2026-12-03T20:00:00Z`), or local `YYYY-MM-DDTHH:MM` in the site's time zone.
    starts_at: String,
    duration_minutes: i64,
    /// IANA time zones to announce; the site's default when left out.
    #[serde(default)]
    zones: Option<Vec<String>>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    slug: Option<String>,
    /// Questions prepared in advance, one per line (shown to the host team only).
    #[serde(default)]
    prepared_questions: Option<String>,
    /// User ids of the debate's moderators.
    #[serde(default)]
    moderators: Option<Vec<i64>>,
    /// Editors and admins may name another host; others host their own debates.
    #[serde(default)]
    host_id: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DebateUpdate {
    title: Option<String>,
    starts_at: Option<String>,
    duration_minutes: Option<i64>,
    zones: Option<Vec<String>>,
    description: Option<String>,
    prepared_questions: Option<String>,
    moderators: Option<Vec<i64>>,
}

#[derive(Serialize, ToSchema)]
pub struct DebateJson {
    id: i64,
    post_id: i64,
    slug: String,
    title: String,
    description: String,
    /// `scheduled`, `live` or `ended`.
    state: String,
    starts_at: String,
    duration_minutes: i64,
    zones: Vec<String>,
    /// The start time as announced: "8:00 PM GMT / 3:00 PM EST / 12:00 Noon PST".
    announcement: String,
    host_id: i64,
    locked: bool,
    slow_seconds: i64,
    last_event_id: i64,
    calendar_sequence: i64,
    url: String,
    live_url: String,
    events_url: String,
    ics_url: String,
    summary_post_id: Option<i64>,
}

pub(crate) fn debate_json(state: &AppState, d: &DebateRow) -> DebateJson {
    let u = live::urls(state, d);
    let zones = d.zone_list();
    DebateJson {
        id: d.id,
        post_id: d.post_id,
        slug: d.slug.clone(),
        title: d.title.clone(),
        description: d.description.clone(),
        state: d.state.clone(),
        starts_at: crate::render::iso(d.starts_at),
        duration_minutes: d.duration_minutes,
        announcement: debate::announce_line(d.starts_at, &zones),
        zones,
        host_id: d.host_id,
        locked: d.locked,
        slow_seconds: d.slow_seconds,
        last_event_id: d.last_seq,
        calendar_sequence: d.calendar_sequence,
        url: u.url,
        live_url: u.live_url,
        events_url: u.events_url,
        ics_url: u.ics_url,
        summary_post_id: d.summary_post_id,
    }
}

fn debate_title(s: &str) -> Result<String, Invalid> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > debate::MAX_TITLE_CHARS {
        return Err(Invalid::new(
            "title",
            format!(
                "the title must be 1 to {} characters",
                debate::MAX_TITLE_CHARS
            ),
        ));
    }
    Ok(t.to_string())
}

fn description(s: Option<&str>) -> Result<String, Invalid> {
    let d = s.unwrap_or("").trim();
    if d.chars().count() > 5000 {
        return Err(Invalid::new(
            "description",
            "the description is longer than 5,000 characters",
        ));
    }
    Ok(d.to_string())
}

fn prepared(s: Option<&str>) -> Result<String, Invalid> {
    let p = s.unwrap_or("").trim();
    if p.chars().count() > 10_000 {
        return Err(Invalid::new(
            "prepared_questions",
            "the prepared questions are longer than 10,000 characters",
        ));
    }
    Ok(p.to_string())
}

/// The checked parts of a new debate, from the API or the admin form.
pub(crate) async fn new_debate(
    state: &AppState,
    user: &UserRow,
    role: Role,
    input: DebateFields<'_>,
) -> Result<NewDebate, WebError> {
    if !role.can_write() {
        return Err(WebError::Forbidden(
            "your role may not schedule debates".into(),
        ));
    }
    let post = match state.store.post_by_id(input.post_id).await {
        Ok(p) => p,
        Err(colloquy_store::StoreError::NotFound) => {
            return Err(
                Invalid::new("post_id", format!("there is no post {}", input.post_id)).into(),
            )
        }
        Err(e) => return Err(e.into()),
    };
    if post.author_id != user.id && !role.can_edit_others() {
        return Err(WebError::Forbidden(
            "you may schedule debates on your own posts only".into(),
        ));
    }
    let title = debate_title(input.title)?;
    let settings = state.settings();
    let starts_at = debate::parse_start(input.starts_at, &settings.timezone)?;
    let duration = debate::parse_duration_minutes(input.duration_minutes)?;
    let zones = match input.zones {
        Some(z) if !z.is_empty() => debate::parse_zones(z)?,
        _ => settings.debate_zones.clone(),
    };
    let slug = match input.slug.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Slug::parse(s)?.as_str().to_string(),
        None => Slug::from_title(&title)
            .map(|s| s.as_str().to_string())
            .map_err(|_| {
                Invalid::new(
                    "title",
                    "the title needs letters or digits to make an address from",
                )
            })?,
    };
    let host_id = match input.host_id {
        Some(h) if h != user.id => {
            if !role.can_edit_others() {
                return Err(WebError::Forbidden(
                    "only editors and admins name another host".into(),
                ));
            }
            state
                .store
                .user_by_id(h)
                .await
                .map_err(|_| Invalid::new("host_id", format!("there is no user {h}")))?
                .id
        }
        _ => user.id,
    };
    Ok(NewDebate {
        post_id: post.id,
        slug,
        title,
        description: description(input.description)?,
        starts_at,
        duration_minutes: duration,
        zones,
        host_id,
        moderators: input.moderators.to_vec(),
        prepared_questions: prepared(input.prepared_questions)?,
    })
}

pub(crate) struct DebateFields<'a> {
    pub post_id: i64,
    pub title: &'a str,
    pub starts_at: &'a str,
    pub duration_minutes: i64,
    pub zones: Option<&'a [String]>,
    pub description: Option<&'a str>,
    pub slug: Option<&'a str>,
    pub prepared_questions: Option<&'a str>,
    pub moderators: &'a [i64],
    pub host_id: Option<i64>,
}

/// Schedules a debate on a post.
#[utoipa::path(post, path = "/api/v1/debates", request_body = DebateInput,
    responses((status = 201, body = DebateJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_debate(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (user, role) = api_user(&state, &headers).await?;
    let input: DebateInput = parse_json(&headers, &body)?;
    let nd = new_debate(
        &state,
        &user,
        role,
        DebateFields {
            post_id: input.post_id,
            title: &input.title,
            starts_at: &input.starts_at,
            duration_minutes: input.duration_minutes,
            zones: input.zones.as_deref(),
            description: input.description.as_deref(),
            slug: input.slug.as_deref(),
            prepared_questions: input.prepared_questions.as_deref(),
            moderators: input.moderators.as_deref().unwrap_or(&[]),
            host_id: input.host_id,
        },
    )
    .await?;
    let id = state.store.create_debate(&nd).await?;
    state.content_changed().await;
    let d = state.store.debate(id).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/debates/{id}"))],
        Json(debate_json(&state, &d)),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct ListQuery {
    state: Option<String>,
}

/// Debates in one state (default: scheduled).
#[utoipa::path(get, path = "/api/v1/debates", params(("state" = Option<String>, Query)),
    responses((status = 200, body = [DebateJson]), (status = 422, body = ErrorBody)))]
pub async fn list_debates(
    State(state): State<SharedState>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let s = debate::DebateState::parse(q.state.as_deref().unwrap_or("scheduled"))?;
    let items: Vec<DebateJson> = state
        .store
        .debates_in_state(s.as_str(), 200)
        .await?
        .iter()
        .map(|d| debate_json(&state, d))
        .collect();
    Ok(Json(items).into_response())
}

async fn debate_by_path(state: &AppState, id: &str) -> Result<DebateRow, WebError> {
    Ok(state.store.debate(parse_id(id)?).await?)
}

#[utoipa::path(get, path = "/api/v1/debates/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = DebateJson), (status = 404, body = ErrorBody)))]
pub async fn get_debate(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let d = debate_by_path(&state, &id).await?;
    Ok(Json(debate_json(&state, &d)).into_response())
}

/// Changes a debate's announcement. A new time bumps the calendar `SEQUENCE` and mails
/// everyone registered.
#[utoipa::path(patch, path = "/api/v1/debates/{id}", request_body = DebateUpdate, params(("id" = i64, Path)),
    responses((status = 200, body = DebateJson), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_debate(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (user, role) = api_user(&state, &headers).await?;
    let d = debate_by_path(&state, &id).await?;
    let input: DebateUpdate = parse_json(&headers, &body)?;
    let patch = DebatePatch {
        title: input.title.as_deref().map(debate_title).transpose()?,
        description: input
            .description
            .as_deref()
            .map(|s| description(Some(s)))
            .transpose()?,
        starts_at: input
            .starts_at
            .as_deref()
            .map(|s| debate::parse_start(s, &state.settings().timezone))
            .transpose()?,
        duration_minutes: input
            .duration_minutes
            .map(debate::parse_duration_minutes)
            .transpose()?,
        zones: input
            .zones
            .as_deref()
            .map(debate::parse_zones)
            .transpose()?,
        prepared_questions: input
            .prepared_questions
            .as_deref()
            .map(|s| prepared(Some(s)))
            .transpose()?,
        moderators: input.moderators,
    };
    let d = change_debate(&state, &d, &user, role, patch).await?;
    Ok(Json(debate_json(&state, &d)).into_response())
}

/// Applies a checked change to a debate (API and admin form).
pub(crate) async fn change_debate(
    state: &SharedState,
    d: &DebateRow,
    user: &UserRow,
    role: Role,
    patch: DebatePatch,
) -> Result<DebateRow, WebError> {
    if d.host_id != user.id && !role.can_edit_others() {
        return Err(WebError::Forbidden(
            "only the host, editors and admins change a debate".into(),
        ));
    }
    if d.state != "scheduled" && (patch.starts_at.is_some() || patch.duration_minutes.is_some()) {
        return Err(WebError::Conflict(format!(
            "the debate is {}; its time can no longer change",
            d.state
        )));
    }
    let (after, moved) = state.store.update_debate(d.id, &patch).await?;
    if moved {
        let n = live::queue_time_change(state, &after).await?;
        tracing::info!(
            debate = d.id,
            mails = n,
            "debate moved; registered people told"
        );
    }
    state.content_changed().await;
    Ok(after)
}

async fn open_or_close(
    state: &SharedState,
    headers: &HeaderMap,
    id: &str,
    to: &str,
) -> Result<Response, ApiError> {
    let (user, role) = api_user(state, headers).await?;
    let d = debate_by_path(state, id).await?;
    run_room(
        state,
        &d,
        &user,
        role,
        if to == "live" { "open" } else { "close" },
        None,
        None,
    )
    .await?;
    let d = state.store.debate(d.id).await?;
    Ok(Json(debate_json(state, &d)).into_response())
}

/// Opens the room (before the start time, if the host wishes).
#[utoipa::path(post, path = "/api/v1/debates/{id}/open", params(("id" = i64, Path)),
    responses((status = 200, body = DebateJson), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn open(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    open_or_close(&state, &headers, &id, "live").await
}

/// Ends the debate: the room becomes its permanent transcript and a summary is drafted.
#[utoipa::path(post, path = "/api/v1/debates/{id}/close", params(("id" = i64, Path)),
    responses((status = 200, body = DebateJson), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn close(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    open_or_close(&state, &headers, &id, "ended").await
}

#[derive(Serialize, ToSchema)]
pub struct ConductAccepted {
    version: String,
    accepted_at: String,
}

/// The caller accepts the site's current code of conduct.
#[utoipa::path(post, path = "/api/v1/debates/{id}/code-of-conduct", params(("id" = i64, Path)),
    responses((status = 200, body = ConductAccepted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn accept_conduct(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (user, _) = api_user(&state, &headers).await?;
    debate_by_path(&state, &id).await?;
    let (version, at) = live::accept(&state, user.id).await?;
    Ok(Json(ConductAccepted {
        version,
        accepted_at: crate::render::iso(at),
    })
    .into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageJsonInput {
    body: String,
    /// `message` (default), `question` (host team) or `answer`.
    #[serde(default)]
    kind: Option<String>,
    /// For an answer: the question's number (1 for Q1).
    #[serde(default)]
    question: Option<i64>,
    #[serde(default)]
    reply_to: Option<i64>,
    /// Send although the confidentiality guard found identifying details.
    #[serde(default)]
    confirm_sensitive: bool,
}

#[derive(Serialize, ToSchema)]
pub struct MessageCreated {
    /// The message's id: its event number in the debate.
    id: i64,
    seq: i64,
    kind: String,
    question: Option<i64>,
}

/// Posts a message, a question (host team) or an answer to a live room.
#[utoipa::path(post, path = "/api/v1/debates/{id}/messages", request_body = MessageJsonInput, params(("id" = i64, Path)),
    responses((status = 201, body = MessageCreated), (status = 401, body = ErrorBody),
              (status = 403, description = "code of conduct not accepted, muted, banned, locked", body = ErrorBody),
              (status = 409, description = "the room is not live", body = ErrorBody),
              (status = 422, description = "invalid, or code `confidentiality` with `findings`", body = ErrorBody),
              (status = 429, description = "slow mode, with Retry-After", body = ErrorBody)))]
pub async fn create_message(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let work = state.clone();
    state
        .offload(async move { post_message(&work, &id, &headers, &body).await })
        .await?
}

async fn post_message(
    state: &SharedState,
    id: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let (user, role) = api_user(state, headers).await?;
    let d = debate_by_path(state, id).await?;
    let input: MessageJsonInput = parse_json(headers, body)?;
    let (row, ev) = live::post_message(
        state,
        &d,
        &user,
        role,
        MessageInput {
            body: input.body,
            kind: input.kind.unwrap_or_else(|| "message".into()),
            question: input.question,
            reply_to: input.reply_to,
            confirm_sensitive: input.confirm_sensitive,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(MessageCreated {
            id: row.id,
            seq: ev.seq,
            kind: row.kind,
            question: row.question,
        }),
    )
        .into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MessageActionInput {
    reaction: Option<String>,
    body: Option<String>,
}

/// `react` (`{"reaction"}`), `hide`, `unhide`, `pin`, or `edit` (`{"body"}`).
pub async fn message_action(
    State(state): State<SharedState>,
    Path((id, message, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (user, role) = api_user(&state, &headers).await?;
    let d = debate_by_path(&state, &id).await?;
    let input: MessageActionInput = if body.is_empty() {
        MessageActionInput::default()
    } else {
        parse_json(&headers, &body)?
    };
    let ev = act_on_message(
        &state,
        &d,
        &user,
        role,
        parse_id(&message)?,
        &action,
        input.reaction.as_deref(),
        input.body.as_deref(),
    )
    .await?;
    Ok(Json(serde_json::json!({"seq": ev.seq})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomActionInput {
    action: String,
    seconds: Option<i64>,
    user_id: Option<i64>,
}

/// Room controls for the host team: `lock`, `unlock`, `slow` (`seconds`), `unpin`, `mute`,
/// `unmute`, `ban`, `unban` (`user_id`).
pub async fn room_action(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (user, role) = api_user(&state, &headers).await?;
    let d = debate_by_path(&state, &id).await?;
    let input: RoomActionInput = parse_json(&headers, &body)?;
    if let Some(s) = input.seconds {
        if !(0..=3600).contains(&s) {
            return Err(WebError::from(Invalid::new(
                "seconds",
                "slow mode takes 0 to 3600 seconds",
            ))
            .into());
        }
    }
    run_room(
        &state,
        &d,
        &user,
        role,
        &input.action,
        input.seconds,
        input.user_id,
    )
    .await?;
    let d = state.store.debate(d.id).await?;
    Ok(Json(debate_json(&state, &d)).into_response())
}

/// Registers the caller (a member) for reminders.
pub async fn register(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (user, _) = api_user(&state, &headers).await?;
    let d = debate_by_path(&state, &id).await?;
    if d.state == "ended" {
        return Err(WebError::Conflict("this debate has ended".into()).into());
    }
    let r = state
        .store
        .register_for_debate(d.id, Some(user.id), &user.email, &user.name, None)
        .await?;
    live::remind_late_member(&state, &d, user.id).await;
    let id = match r {
        colloquy_store::Registered::Confirmed(id) | colloquy_store::Registered::Pending(id) => id,
    };
    Ok(Json(serde_json::json!({"registration_id": id, "status": "confirmed"})).into_response())
}

/// The whole debate so far (or for good, once ended).
#[utoipa::path(get, path = "/api/v1/debates/{id}/transcript", params(("id" = i64, Path)),
    responses((status = 200, description = "the debate and its messages in order"), (status = 404, body = ErrorBody)))]
pub async fn transcript(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let d = debate_by_path(&state, &id).await?;
    Ok(Json(transcript_json(&state, &d).await?).into_response())
}

/// The live stream (Server-Sent Events): `id:` is the event number; resume with
/// `Last-Event-ID` or `?after=`.
pub async fn events(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let d = debate_by_path(&state, &id).await?;
    let after = resume_point(&headers, q.after.as_deref())?;
    let ip = client_ip(&state, &headers, Some(peer));
    Ok(events_response(&state, &d, after, &ip).await?)
}
