//! Debate pages: the list, the announcement, the calendar file, registration, the live room
//! (its page, its event stream, its forms) and the transcript exports.

use crate::auth::{self, CurrentUser};
use crate::error::WebError;
use crate::live::{self, MessageInput};
use crate::{AppState, SharedState};
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use colloquy_core::debate;
use colloquy_core::{Email, Role};
use colloquy_store::{DebateRow, MessageRow, Registered};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/debates/", get(list))
        .route(
            "/debates",
            get(|| async { Redirect::permanent("/debates/") }),
        )
        .route("/debates/{slug}/", get(announcement))
        .route("/debates/{slug}/debate.ics", get(calendar))
        .route("/debates/{slug}/summary", get(summary))
        .route("/debates/{slug}/live", get(room))
        .route("/debates/{slug}/presence", get(presence))
        .route("/debates/{slug}/chart.svg", get(chart))
        .route("/debates/{slug}/transcript.{format}", get(transcript))
        .route("/debates/{slug}/register", post(register))
        .route("/debates/{slug}/conduct", post(accept_conduct))
        .route("/debates/{slug}/messages", post(send))
        .route(
            "/debates/{slug}/messages/{id}/{action}",
            post(message_action),
        )
        .route("/debates/{slug}/room", post(room_action))
        .route(
            "/debates/registrations/confirm",
            get(confirm_page).post(confirm),
        )
        .route(
            "/debates/registrations/{id}/cancel",
            get(cancel_page).post(cancel),
        )
}

/// The event stream lives outside the handler deadline: it is meant to stay open.
pub fn stream_routes() -> Router<SharedState> {
    Router::new().route("/debates/{slug}/events", get(events))
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("ascii"));
    res
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// The announcement as the templates show it.
pub(crate) fn announcement_view(
    state: &AppState,
    d: &DebateRow,
    registered: bool,
) -> minijinja::Value {
    let u = live::urls(state, d);
    let zones = d.zone_list();
    let first = zones.first().map(String::as_str).unwrap_or("UTC");
    let calendar = live::calendar_text(state, d);
    let ev = calendar.event(d);
    minijinja::context! {
        id => d.id, title => d.title, state => d.state, path => live::debate_path(&d.slug),
        url => u.url, live_url => u.live_url, ics_url => u.ics_url,
        date => debate::announce_date(d.starts_at, first),
        line => debate::announce_line(d.starts_at, &zones),
        iso => crate::render::iso(d.starts_at),
        utc_text => format!("{} UTC", jiff::Timestamp::from_second(d.starts_at).map(|t| t.strftime("%A %-d %B %Y, %H:%M").to_string()).unwrap_or_default()),
        duration => d.duration_minutes,
        google_url => debate::google_calendar_url(&ev),
        outlook_url => debate::outlook_calendar_url(&ev),
        registered,
        summary_url => (d.summary_status.as_deref() == Some("published"))
            .then(|| format!("{}summary", live::debate_path(&d.slug))),
    }
}

async fn debate_or_404(state: &AppState, slug: &str) -> Result<DebateRow, WebError> {
    Ok(state.store.debate_by_slug(slug).await?)
}

async fn list(State(state): State<SharedState>) -> Result<Response, WebError> {
    let mut groups = Vec::new();
    for (key, title, empty) in [
        ("live", "Live now", "No debate is live right now."),
        ("scheduled", "Coming up", "No debate is scheduled yet."),
        ("ended", "Past debates", "No debate has ended yet."),
    ] {
        let items: Vec<minijinja::Value> = state
            .store
            .debates_in_state(key, 100)
            .await?
            .iter()
            .map(|d| announcement_view(&state, d, false))
            .collect();
        groups.push(minijinja::context! { key, title, empty, items });
    }
    let html = state.templates.render(
        "debates.html",
        minijinja::context! {
            frame => super::public::simple_frame(&state, "Live debates").await?, groups,
        },
    )?;
    Ok(Html(html).into_response())
}

async fn announcement(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let d = debate_or_404(&state, &slug).await?;
    let me = auth::current_user(&state, &headers).await;
    let registered = match &me {
        Some(m) => state
            .store
            .member_registration(d.id, m.user.id)
            .await?
            .is_some_and(|r| r.status == "confirmed"),
        None => false,
    };
    let post = state.store.post_by_id(d.post_id).await?;
    let host = state.store.user_by_id(d.host_id).await?;
    let a = announcement_view(&state, &d, registered);
    let html = state.templates.render(
        "debate.html",
        minijinja::context! {
            frame => super::public::simple_frame(&state, &d.title).await?,
            a, register => true,
            viewer => me.as_ref().map(super::thoughts::viewer),
            post_url => post_link(&state, &post), post_title => post.title, host => host.name,
            description_html => (!d.description.is_empty()).then(|| colloquy_core::markdown::render_comment(&d.description)),
        },
    )?;
    Ok(no_store(Html(html).into_response()))
}

/// The published Debate Summary of a debate.
async fn summary(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
) -> Result<Response, WebError> {
    let d = debate_or_404(&state, &slug).await?;
    let post = match d.summary_post_id {
        Some(id) => state.store.post_by_id(id).await?,
        None => return Err(WebError::NotFound),
    };
    if post.status != "published" {
        return Err(WebError::NotFound);
    }
    Ok(Redirect::to(&post_link(&state, &post)).into_response())
}

fn post_link(state: &AppState, p: &colloquy_store::PostRow) -> String {
    crate::render::post_path(&p.kind, &p.slug, p.publish_at, &state.settings().tz())
}

async fn calendar(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
) -> Result<Response, WebError> {
    let d = debate_or_404(&state, &slug).await?;
    let body = live::ics(&state, &d);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/calendar; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.ics\"", d.slug),
            ),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
struct RegisterForm {
    csrf: Option<String>,
    email: Option<String>,
    name: Option<String>,
}

async fn register(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<RegisterForm>,
) -> Result<Response, WebError> {
    let d = debate_or_404(&state, &slug).await?;
    if d.state == "ended" {
        return Err(WebError::Conflict("this debate has ended".into()));
    }
    let back = live::debate_path(&d.slug);
    if let Some(me) = auth::current_user(&state, &headers).await {
        me.check_csrf(f.csrf.as_deref().unwrap_or(""))?;
        state
            .store
            .register_for_debate(d.id, Some(me.user.id), &me.user.email, &me.user.name, None)
            .await?;
        live::remind_late_member(&state, &d, me.user.id).await;
        return message(
            &state,
            "You are registered",
            &format!(
                "We will remind you at {} the day before “{}” and 15 minutes before it starts.",
                me.user.email, d.title
            ),
            &back,
            &d.title,
        )
        .await;
    }
    let email = Email::parse(f.email.as_deref().unwrap_or(""))?;
    let name: String = f
        .name
        .unwrap_or_default()
        .trim()
        .chars()
        .take(100)
        .collect();
    live::allow_guest_registration(&state, &auth::client_ip(&state, &headers, Some(peer)))?;
    let token = auth::random_token();
    match state
        .store
        .register_for_debate(
            d.id,
            None,
            email.as_str(),
            &name,
            Some(&auth::hash_token(&token)),
        )
        .await?
    {
        Registered::Pending(id) => {
            state
                .store
                .queue_mail(&[colloquy_store::NewDelivery {
                    dedupe_key: format!("debate:{}:confirm:{id}:{}", d.id, &token[..12]),
                    kind: "debate_confirm".into(),
                    to_email: email.as_str().into(),
                    subscriber_id: None,
                    post_id: None,
                    payload: serde_json::json!({"debate_id": d.id, "token": token}).to_string(),
                }])
                .await?;
        }
        Registered::Confirmed(_) => {}
    }
    // The same answer whether or not the address was registered already (no address probing).
    message(
        &state,
        "Check your mail",
        &format!("If {} can receive mail, a message with a confirmation link is on its way. Your place is kept once you confirm.", email.as_str()),
        &back,
        &d.title,
    )
    .await
}

async fn message(
    state: &AppState,
    title: &str,
    text: &str,
    back_url: &str,
    back_title: &str,
) -> Result<Response, WebError> {
    let html = state.templates.render(
        "message.html",
        minijinja::context! {
            frame => super::public::simple_frame(state, title).await?,
            title, text, back_url, back_title,
        },
    )?;
    Ok(no_store(Html(html).into_response()))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn confirm_page(
    State(state): State<SharedState>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    // A GET only shows a button: mail scanners follow links, people press buttons.
    let token = q.token.unwrap_or_default();
    let html = state.templates.render(
        "debate_confirm.html",
        minijinja::context! {
            frame => super::public::simple_frame(&state, "Confirm your registration").await?,
            action => "/debates/registrations/confirm", token, title => "Confirm your registration",
            text => "Press the button to confirm your place and get the reminders.", button => "Confirm",
        },
    )?;
    Ok(no_store(Html(html).into_response()))
}

#[derive(Deserialize)]
struct TokenForm {
    token: String,
}

async fn confirm(
    State(state): State<SharedState>,
    Form(f): Form<TokenForm>,
) -> Result<Response, WebError> {
    let r = match state
        .store
        .confirm_registration(&auth::hash_token(f.token.trim()))
        .await
    {
        Ok(r) => r,
        Err(colloquy_store::StoreError::NotFound) => {
            return Err(WebError::BadRequest(
                "this confirmation link was used already or is not valid; register again from the debate's page".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let d = state.store.debate(r.debate_id).await?;
    live::remind_late_registration(&state, &d, &r).await;
    message(
        &state,
        "You are registered",
        &format!("Your place at “{}” is confirmed. We will remind you the day before and 15 minutes before.", d.title),
        &live::debate_path(&d.slug),
        &d.title,
    )
    .await
}

#[derive(Deserialize)]
struct SigQuery {
    sig: Option<String>,
}

async fn cancel_page(
    State(state): State<SharedState>,
    Path(id): Path<i64>,
    Query(q): Query<SigQuery>,
) -> Result<Response, WebError> {
    let sig = q.sig.unwrap_or_default();
    if !live::check_cancel(&state, id, &sig) {
        return Err(WebError::Forbidden("this link is not valid".into()));
    }
    let html = state.templates.render(
        "debate_confirm.html",
        minijinja::context! {
            frame => super::public::simple_frame(&state, "Cancel your registration").await?,
            action => format!("/debates/registrations/{id}/cancel?sig={sig}"), title => "Cancel your registration",
            text => "Press the button to cancel your registration. You will get no more mail about this debate.", button => "Cancel my registration",
        },
    )?;
    Ok(no_store(Html(html).into_response()))
}

async fn cancel(
    State(state): State<SharedState>,
    Path(id): Path<i64>,
    Query(q): Query<SigQuery>,
) -> Result<Response, WebError> {
    if !live::check_cancel(&state, id, q.sig.as_deref().unwrap_or("")) {
        return Err(WebError::Forbidden("this link is not valid".into()));
    }
    state.store.unregister(id).await?;
    message(
        &state,
        "Registration cancelled",
        "You will get no more mail about this debate.",
        "/debates/",
        "Live debates",
    )
    .await
}

/// The last event id a reconnecting client saw: `Last-Event-ID` (what `EventSource` sends),
/// else `?after=`.
pub(crate) fn resume_point(headers: &HeaderMap, after: Option<&str>) -> Result<u64, WebError> {
    let raw = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .or(after);
    match raw {
        None => Ok(0),
        Some(s) => s.parse().map_err(|_| {
            WebError::BadRequest(format!(
                "the last event id {s:?} is not a number: send the `id` of the last event you received"
            ))
        }),
    }
}

/// `?after=`: where a client that cannot send `Last-Event-ID` resumes.
#[derive(Deserialize)]
pub(crate) struct EventsQuery {
    pub after: Option<String>,
}

async fn events(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
    Query(q): Query<EventsQuery>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let d = debate_or_404(&state, &slug).await?;
    let after = resume_point(&headers, q.after.as_deref())?;
    events_response(
        &state,
        &d,
        after,
        &auth::client_ip(&state, &headers, Some(peer)),
    )
    .await
}

/// A reader's Server-Sent Events stream: every event after `after`, then live ones. Counts
/// against the client address's streams on this node until it ends.
pub(crate) async fn events_response(
    state: &AppState,
    d: &DebateRow,
    after: u64,
    ip: &str,
) -> Result<Response, WebError> {
    let place = live::admit_stream(state, ip)?;
    let room = live::loaded_room(state, d).await?;
    let stream = room.subscribe(
        after,
        live::KEEPALIVE,
        Some(axum::body::Bytes::from_static(b"retry: 2000\n\n")),
    );
    let body = match place {
        // The place lives in the stream, so it goes when the stream does.
        Some(place) => Body::from_stream(futures_util::StreamExt::map(stream, move |frame| {
            let _held = &place;
            frame
        })),
        None => Body::from_stream(stream),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-accel-buffering", "no")
        .body(body)
        .map_err(|e| WebError::Internal(e.into()))
}

async fn presence(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
) -> Result<Response, WebError> {
    // Every open room page asks every 15 s: answered from memory for a few seconds.
    if let Some(body) = live::cached_presence(&state, &slug) {
        return Ok(no_store(Json(body).into_response()));
    }
    let d = debate_or_404(&state, &slug).await?;
    let f = state.store.debate_figures(d.id).await?;
    let body = serde_json::json!({
        "readers": live::readers(&state, d.id),
        "participants": f.participants,
        "messages": f.messages,
        "state": d.state,
    });
    live::keep_presence(&state, &slug, body.clone());
    Ok(no_store(Json(body).into_response()))
}

fn per_minute(d: &DebateRow, messages: &[MessageRow]) -> Vec<u32> {
    let start = d.opened_at.unwrap_or(d.starts_at);
    let end = d.ended_at.unwrap_or_else(colloquy_store::now).max(start);
    let times: Vec<i64> = messages.iter().map(|m| m.created_at).collect();
    debate::messages_per_minute(&times, start, end)
}

async fn chart(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
) -> Result<Response, WebError> {
    let d = debate_or_404(&state, &slug).await?;
    let messages = state.store.debate_messages(d.id).await?;
    let svg = debate::svg_chart(
        "chart",
        &format!("Messages per minute: {}", d.title),
        &per_minute(&d, &messages),
    );
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        svg,
    )
        .into_response())
}

pub(crate) fn transcript_lines(messages: &[MessageRow]) -> Vec<debate::TranscriptLine> {
    messages
        .iter()
        .map(|m| debate::TranscriptLine {
            id: m.id,
            at: m.created_at,
            author: m.author_name.clone(),
            kind: debate::MessageKind::parse(&m.kind).unwrap_or(debate::MessageKind::Message),
            question: m.question,
            reply_to: m.reply_to,
            body: m.body.clone(),
            hidden: m.hidden,
        })
        .collect()
}

/// The transcript as JSON: what the API and the `.json` export return.
pub(crate) async fn transcript_json(
    state: &AppState,
    d: &DebateRow,
) -> Result<serde_json::Value, WebError> {
    let messages = state.store.debate_messages(d.id).await?;
    let counts = reaction_map(state, d.id).await?;
    let items: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            serde_json::json!({
                "id": m.id, "kind": m.kind, "question": m.question, "reply_to": m.reply_to,
                "author": m.author_name, "hidden": m.hidden,
                "body": if m.hidden { serde_json::Value::Null } else { m.body.clone().into() },
                "created_at": crate::render::iso(m.created_at),
                "edited_at": m.edited_at.map(crate::render::iso),
                "reactions": counts.get(&m.id).cloned().unwrap_or_default(),
            })
        })
        .collect();
    let f = state.store.debate_figures(d.id).await?;
    let u = live::urls(state, d);
    Ok(serde_json::json!({
        "id": d.id, "title": d.title, "state": d.state, "url": u.url, "live_url": u.live_url,
        "starts_at": crate::render::iso(d.starts_at),
        "opened_at": d.opened_at.map(crate::render::iso), "ended_at": d.ended_at.map(crate::render::iso),
        "last_event_id": d.last_seq, "questions": d.questions,
        "figures": f, "messages": items,
    }))
}

async fn reaction_map(
    state: &AppState,
    debate_id: i64,
) -> Result<HashMap<i64, serde_json::Map<String, serde_json::Value>>, WebError> {
    let mut map: HashMap<i64, serde_json::Map<String, serde_json::Value>> = HashMap::new();
    for (id, r, n) in state.store.debate_reaction_counts(debate_id).await? {
        map.entry(id).or_default().insert(r, n.into());
    }
    Ok(map)
}

async fn transcript(
    State(state): State<SharedState>,
    Path((slug, format)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let d = debate_or_404(&state, &slug).await?;
    let (ct, body) = match format.as_str() {
        "json" => (
            "application/json",
            transcript_json(&state, &d).await?.to_string(),
        ),
        "txt" => (
            "text/plain; charset=utf-8",
            debate::transcript_text(
                &d.title,
                &transcript_lines(&state.store.debate_messages(d.id).await?),
            ),
        ),
        "md" => (
            "text/markdown; charset=utf-8",
            debate::transcript_markdown(
                &d.title,
                &transcript_lines(&state.store.debate_messages(d.id).await?),
            ),
        ),
        _ => return Err(WebError::NotFound),
    };
    Ok((
        [
            (header::CONTENT_TYPE, ct.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{}-transcript.{format}\"", d.slug),
            ),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        body,
    )
        .into_response())
}

/// A message as the room's template shows it.
fn message_view(
    m: &MessageRow,
    staff_ids: &[i64],
    host_id: i64,
    reactions: Option<&serde_json::Map<String, serde_json::Value>>,
    by_id: &HashMap<i64, &MessageRow>,
    question_ids: &HashMap<i64, i64>,
    me: Option<i64>,
) -> minijinja::Value {
    let label = match m.kind.as_str() {
        "question" => format!("Q{}", m.question.unwrap_or(0)),
        "answer" => format!("A{}", m.question.unwrap_or(0)),
        _ => String::new(),
    };
    let question_id = if m.kind == "answer" {
        m.question.and_then(|n| question_ids.get(&n).copied())
    } else {
        None
    };
    let reply_label = m
        .reply_to
        .and_then(|r| by_id.get(&r))
        .map(|r| format!("{} (message {})", r.author_name, r.id))
        .unwrap_or_default();
    let staff = m
        .user_id
        .is_some_and(|u| u == host_id || staff_ids.contains(&u));
    let rx: Vec<minijinja::Value> = debate::REACTIONS
        .iter()
        .map(|(code, emoji, label)| {
            let count = reactions
                .and_then(|r| r.get(*code))
                .and_then(|v| v.as_i64())
                .unwrap_or(0);
            minijinja::context! { code, emoji, label, count }
        })
        .collect();
    let at = jiff::Timestamp::from_second(m.created_at)
        .map(|t| t.strftime("%H:%M UTC").to_string())
        .unwrap_or_default();
    let editable = me.is_some()
        && m.user_id == me
        && !m.hidden
        && colloquy_store::now() - m.created_at <= colloquy_core::thought::EDIT_WINDOW_SECONDS;
    minijinja::context! {
        id => m.id, kind => m.kind, label, question => m.question, question_id, editable,
        reply_to => m.reply_to, reply_label, author => m.author_name, user_id => m.user_id, staff,
        html => if m.hidden { String::new() } else { m.body_html.clone() },
        text => m.body, hidden => m.hidden, edited => m.edited_at.is_some(),
        at_iso => crate::render::iso(m.created_at), at_hm => at, reactions => rx,
    }
}

#[derive(Deserialize, Default)]
struct RoomQuery {
    reply_to: Option<i64>,
}

async fn room(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
    Query(q): Query<RoomQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let d = debate_or_404(&state, &slug).await?;
    let me = auth::current_user(&state, &headers).await;
    render_room(
        &state,
        &d,
        me.as_ref(),
        q.reply_to,
        None,
        None,
        StatusCode::OK,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn render_room(
    state: &SharedState,
    d: &DebateRow,
    me: Option<&CurrentUser>,
    reply_to: Option<i64>,
    notice: Option<String>,
    draft: Option<(String, Option<String>)>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let messages = state.store.debate_messages(d.id).await?;
    let counts = reaction_map(state, d.id).await?;
    let moderators = state.store.debate_moderators(d.id).await?;
    let mut staff_ids = moderators.clone();
    staff_ids.push(d.host_id);
    let by_id: HashMap<i64, &MessageRow> = messages.iter().map(|m| (m.id, m)).collect();
    let me_id = me.map(|m| m.user.id);
    // Question number → the question's message id, for the answers' links.
    let qids: HashMap<i64, i64> = messages
        .iter()
        .filter(|m| m.kind == "question")
        .filter_map(|m| m.question.map(|n| (n, m.id)))
        .collect();
    let views: Vec<minijinja::Value> = messages
        .iter()
        .map(|m| {
            message_view(
                m,
                &staff_ids,
                d.host_id,
                counts.get(&m.id),
                &by_id,
                &qids,
                me_id,
            )
        })
        .collect();
    let questions: Vec<minijinja::Value> = messages
        .iter()
        .filter(|m| m.kind == "question")
        .map(|m| minijinja::context! { number => m.question, label => format!("Q{}", m.question.unwrap_or(0)) })
        .collect();
    let grouped: Vec<minijinja::Value> = if d.state == "ended" {
        messages
            .iter()
            .filter(|m| m.kind == "question")
            .map(|qm| {
                let answers: Vec<minijinja::Value> = messages
                    .iter()
                    .filter(|a| a.kind == "answer" && a.question == qm.question)
                    .map(|a| message_view(a, &staff_ids, d.host_id, counts.get(&a.id), &by_id, &qids, me_id))
                    .collect();
                minijinja::context! {
                    m => message_view(qm, &staff_ids, d.host_id, counts.get(&qm.id), &by_id, &qids, me_id), answers,
                }
            })
            .collect()
    } else {
        vec![]
    };
    let chart = (d.state == "ended").then(|| {
        let counts = per_minute(d, &messages);
        let table: Vec<minijinja::Value> = counts
            .iter()
            .enumerate()
            .map(|(i, n)| minijinja::context! { minute => i + 1, count => n })
            .collect();
        minijinja::context! {
            svg => debate::svg_chart("room-chart", &format!("Messages per minute: {}", d.title), &counts),
            table,
        }
    });
    let pinned = d
        .pinned_id
        .and_then(|p| by_id.get(&p))
        .map(|m| message_view(m, &staff_ids, d.host_id, None, &by_id, &qids, me_id));
    let mut viewer = None;
    let mut act = None;
    let mut prepared: Vec<String> = Vec::new();
    if let Some(m) = me {
        let staff = live::runs_the_room(d, m.user.id, m.role, &moderators);
        if staff {
            let asked: Vec<&str> = messages
                .iter()
                .filter(|m| m.kind == "question")
                .map(|m| m.body.as_str())
                .collect();
            prepared = d
                .prepared_questions
                .lines()
                .map(str::trim)
                .filter(|q| !q.is_empty() && !asked.contains(q))
                .map(str::to_owned)
                .collect();
        }
        let accepted = live::has_accepted(state, m.user.id).await?;
        viewer = Some(minijinja::context! {
            id => m.user.id, name => m.user.name, csrf => m.csrf, staff, accepted,
        });
        if d.state != "ended" {
            act = Some(minijinja::context! {
                csrf => m.csrf, staff, react => accepted && d.state == "live",
            });
        }
    }
    let post = state.store.post_by_id(d.post_id).await?;
    let f = state.store.debate_figures(d.id).await?;
    let zones = d.zone_list();
    let path = live::debate_path(&d.slug);
    let conduct = live::conduct(state).await?;
    let template_message = minijinja::context! {
        id => 0, kind => "message", label => "", author => "", html => "", at_iso => "", at_hm => "",
        reactions => debate::REACTIONS.iter().map(|(code, emoji, label)| minijinja::context! { code, emoji, label, count => 0 }).collect::<Vec<_>>(),
    };
    let (sensitive, draft_body) = match draft {
        Some((body, s)) => (s, Some(body)),
        None => (None, None),
    };
    let html = state.templates.render(
        "debate_room.html",
        minijinja::context! {
            frame => super::public::simple_frame(state, &d.title).await?,
            d => minijinja::context! {
                id => d.id, title => d.title, state => d.state, locked => d.locked, slow_seconds => d.slow_seconds,
                path => path, live_path => format!("{path}live"), events_path => format!("{path}events"),
                last_seq => d.last_seq, post_url => post_link(state, &post), post_title => post.title,
                date => debate::announce_date(d.starts_at, zones.first().map(String::as_str).unwrap_or("UTC")),
                line => debate::announce_line(d.starts_at, &zones),
                ended_human => d.ended_at.map(|t| crate::render::human_date(t, &state.settings().tz())),
            },
            messages => views, questions, grouped, pinned, viewer, act, conduct, chart, prepared,
            readers => live::readers(state, d.id), participants => f.participants,
            room_path => path, reactions => debate::REACTIONS.iter().map(|(code, emoji, label)| minijinja::context! { code, emoji, label }).collect::<Vec<_>>(),
            template_message, reply_to, notice, sensitive, draft => draft_body,
            debate_js => crate::assets::debate_js_url(),
        },
    )?;
    Ok(no_store((status, Html(html)).into_response()))
}

async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<CurrentUser, WebError> {
    auth::current_user(state, headers)
        .await
        .ok_or(WebError::Unauthorized)
}

#[derive(Deserialize)]
struct ConductForm {
    csrf: String,
    accept: Option<String>,
}

async fn accept_conduct(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Form(f): Form<ConductForm>,
) -> Result<Response, WebError> {
    let d = debate_or_404(&state, &slug).await?;
    let me = signed_in(&state, &headers).await?;
    me.check_csrf(&f.csrf)?;
    if f.accept.as_deref() != Some("1") {
        return Err(colloquy_core::Invalid::new(
            "accept",
            "tick the box to say you accept the code of conduct",
        )
        .into());
    }
    live::accept(&state, me.user.id).await?;
    Ok(Redirect::to(&format!("{}live#compose", live::debate_path(&d.slug))).into_response())
}

#[derive(Deserialize)]
struct SendForm {
    csrf: String,
    body: String,
    kind: Option<String>,
    reply_to: Option<String>,
    confirm_sensitive: Option<String>,
}

/// `kind` from the form: `message`, `question`, or `answer:N`.
fn parse_kind(kind: &str) -> (String, Option<i64>) {
    match kind.split_once(':') {
        Some(("answer", n)) => ("answer".into(), n.trim().parse().ok()),
        _ => (kind.to_string(), None),
    }
}

async fn send(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Form(f): Form<SendForm>,
) -> Result<Response, WebError> {
    let json = wants_json(&headers);
    let result = async {
        let d = debate_or_404(&state, &slug).await?;
        let me = signed_in(&state, &headers).await?;
        me.check_csrf(&f.csrf)?;
        let (kind, question) = parse_kind(f.kind.as_deref().unwrap_or("message"));
        let reply_to = match f
            .reply_to
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(s) => Some(s.parse::<i64>().map_err(|_| {
                colloquy_core::Invalid::new(
                    "reply_to",
                    "the message replied to must be a message id",
                )
            })?),
        };
        let input = MessageInput {
            body: f.body.clone(),
            kind,
            question,
            reply_to,
            confirm_sensitive: f.confirm_sensitive.as_deref() == Some("1"),
        };
        let r = live::post_message(&state, &d, &me.user, me.role, input).await;
        Ok::<_, WebError>((d, me, r))
    }
    .await;
    match result {
        Ok((_, _, Ok((row, ev)))) if json => Ok((
            StatusCode::CREATED,
            Json(serde_json::json!({"id": row.id, "seq": ev.seq})),
        )
            .into_response()),
        Ok((d, _, Ok((row, _)))) => {
            Ok(
                Redirect::to(&format!("{}live#m{}", live::debate_path(&d.slug), row.id))
                    .into_response(),
            )
        }
        Ok((_, _, Err(e))) | Err(e) if json => Ok(e.into_json()),
        Ok((d, me, Err(e))) => {
            // Without JavaScript: the room again, with the reason and the text kept.
            let sensitive = match &e {
                WebError::Sensitive(found) => {
                    let mut kinds: Vec<&str> = found.iter().map(|x| x.kind.describe()).collect();
                    kinds.dedup();
                    Some(kinds.join(", "))
                }
                _ => None,
            };
            let status = e.status();
            render_room(
                &state,
                &d,
                Some(&me),
                f.reply_to.as_deref().and_then(|s| s.parse().ok()),
                Some(e.to_string()),
                Some((f.body.clone(), sensitive)),
                status,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct ActionForm {
    csrf: String,
    reaction: Option<String>,
    body: Option<String>,
}

async fn message_action(
    State(state): State<SharedState>,
    Path((slug, id, action)): Path<(String, i64, String)>,
    headers: HeaderMap,
    Form(f): Form<ActionForm>,
) -> Result<Response, WebError> {
    let json = wants_json(&headers);
    let r = async {
        let d = debate_or_404(&state, &slug).await?;
        let me = signed_in(&state, &headers).await?;
        me.check_csrf(&f.csrf)?;
        let ev = act_on_message(
            &state,
            &d,
            &me.user,
            me.role,
            id,
            &action,
            f.reaction.as_deref(),
            f.body.as_deref(),
        )
        .await?;
        Ok::<_, WebError>((d, ev))
    }
    .await;
    match r {
        Ok((_, ev)) if json => Ok(Json(serde_json::json!({"seq": ev.seq})).into_response()),
        Ok((d, _)) => {
            Ok(Redirect::to(&format!("{}live#m{id}", live::debate_path(&d.slug))).into_response())
        }
        Err(e) if json => Ok(e.into_json()),
        Err(e) => Err(e),
    }
}

/// React, hide, show, pin, or edit one message (form and API share this).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn act_on_message(
    state: &SharedState,
    d: &DebateRow,
    user: &colloquy_store::UserRow,
    role: Role,
    id: i64,
    action: &str,
    reaction: Option<&str>,
    body: Option<&str>,
) -> Result<colloquy_store::DebateEvent, WebError> {
    if d.state == "ended" {
        return Err(WebError::Conflict(
            "the debate has ended; its transcript is read-only".into(),
        ));
    }
    let staff = live::is_staff(state, d, user, role).await?;
    let ev = match action {
        "react" => {
            if !live::has_accepted(state, user.id).await? {
                return Err(WebError::Forbidden(
                    "accept the code of conduct before taking part".into(),
                ));
            }
            let code = debate::parse_reaction(reaction.unwrap_or(""))?;
            state.store.toggle_reaction(d.id, id, user.id, code).await?
        }
        "hide" | "unhide" => {
            if !staff {
                return Err(WebError::Forbidden(
                    "only the host team hides messages".into(),
                ));
            }
            state
                .store
                .hide_debate_message(d.id, id, action == "hide")
                .await?
        }
        "pin" => {
            if !staff {
                return Err(WebError::Forbidden(
                    "only the host team pins messages".into(),
                ));
            }
            state.store.pin_debate_message(d.id, Some(id)).await?
        }
        "edit" => {
            let m = state.store.debate_message(d.id, id).await?;
            let own = m.user_id == Some(user.id)
                && colloquy_store::now() - m.created_at
                    <= colloquy_core::thought::EDIT_WINDOW_SECONDS;
            if !own && !staff {
                return Err(WebError::Forbidden(
                    "you can edit your own messages for 15 minutes".into(),
                ));
            }
            let text = debate::MessageBody::parse(body.unwrap_or(""))?;
            let html = colloquy_core::markdown::render_comment(text.as_str());
            state
                .store
                .edit_debate_message(d.id, id, text.as_str(), &html)
                .await?
        }
        _ => return Err(WebError::NotFound),
    };
    live::publish(state, d.id, &ev);
    Ok(ev)
}

#[derive(Deserialize)]
struct RoomForm {
    csrf: String,
    action: String,
    seconds: Option<String>,
    user_id: Option<i64>,
}

async fn room_action(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Form(f): Form<RoomForm>,
) -> Result<Response, WebError> {
    let json = wants_json(&headers);
    let r = async {
        let d = debate_or_404(&state, &slug).await?;
        let me = signed_in(&state, &headers).await?;
        me.check_csrf(&f.csrf)?;
        let seconds = match f.seconds.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(
                s.parse::<i64>()
                    .ok()
                    .filter(|n| (0..=3600).contains(n))
                    .ok_or_else(|| {
                        colloquy_core::Invalid::new("seconds", "slow mode takes 0 to 3600 seconds")
                    })?,
            ),
        };
        run_room(&state, &d, &me.user, me.role, &f.action, seconds, f.user_id).await?;
        Ok::<_, WebError>(d)
    }
    .await;
    match r {
        Ok(_) if json => Ok(Json(serde_json::json!({"ok": true})).into_response()),
        Ok(d) => Ok(Redirect::to(&format!("{}live", live::debate_path(&d.slug))).into_response()),
        Err(e) if json => Ok(e.into_json()),
        Err(e) => Err(e),
    }
}

/// The host team's room controls (form and API share this).
pub(crate) async fn run_room(
    state: &SharedState,
    d: &DebateRow,
    user: &colloquy_store::UserRow,
    role: Role,
    action: &str,
    seconds: Option<i64>,
    target: Option<i64>,
) -> Result<(), WebError> {
    if !live::is_staff(state, d, user, role).await? {
        return Err(WebError::Forbidden(
            "only the host and the moderators run the room".into(),
        ));
    }
    let need_user =
        || target.ok_or_else(|| WebError::from(colloquy_core::Invalid::new("user_id", "say whom")));
    match action {
        "open" => {
            live::set_state(state, d.id, "live").await?;
        }
        "close" => {
            live::set_state(state, d.id, "ended").await?;
        }
        "lock" | "unlock" => {
            let ev = state
                .store
                .set_room_rules(d.id, action == "lock", d.slow_seconds)
                .await?;
            live::publish(state, d.id, &ev);
        }
        "slow" => {
            let s = seconds.ok_or_else(|| {
                WebError::from(colloquy_core::Invalid::new("seconds", "give the seconds (0 turns slow mode off)"))
            })?;
            let ev = state.store.set_room_rules(d.id, d.locked, s).await?;
            live::publish(state, d.id, &ev);
        }
        "unpin" => {
            let ev = state.store.pin_debate_message(d.id, None).await?;
            live::publish(state, d.id, &ev);
        }
        "mute" | "unmute" => {
            let u = need_user()?;
            state.store.mute_participant(d.id, u, action == "mute").await?;
        }
        "ban" | "unban" => {
            let u = need_user()?;
            if u == d.host_id {
                return Err(WebError::Conflict("the host cannot be banned from their own debate".into()));
            }
            state
                .store
                .ban_from_debates(u, action == "ban", "", user.id)
                .await?;
        }
        _ => {
            return Err(colloquy_core::Invalid::new(
                "action",
                "unknown room action: use open, close, lock, unlock, slow, unpin, mute, unmute, ban or unban",
            )
            .into())
        }
    }
    Ok(())
}
