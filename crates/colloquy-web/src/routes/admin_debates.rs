//! The admin's debates: schedule one on a post, change its time, name its moderators, and
//! the site's debate settings (zones to announce, the rooms' word filter).

use super::admin::{page, signed_in};
use super::api_debates::{change_debate, new_debate, DebateFields};
use crate::error::WebError;
use crate::live;
use crate::{me_or_return, AppState, SharedState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use colloquy_core::debate;
use colloquy_store::{DebatePatch, DebateRow};
use serde::Deserialize;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/admin/debates", get(list).post(create))
        .route("/admin/debates/settings", post(save_settings))
        .route("/admin/debates/{id}", get(edit_form).post(save))
}

/// A debate's start as the `datetime-local` input shows it, in the site's time zone.
fn local_input(ts: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_second(ts)
        .map(|t| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

fn row_view(state: &AppState, d: &DebateRow) -> minijinja::Value {
    let u = live::urls(state, d);
    minijinja::context! {
        id => d.id, title => d.title, state => d.state, url => u.url, live_url => u.live_url,
        when => debate::announce_line(d.starts_at, &d.zone_list()),
        date => debate::announce_date(d.starts_at, d.zone_list().first().map(String::as_str).unwrap_or("UTC")),
        summary_post_id => d.summary_post_id,
    }
}

async fn list(State(state): State<SharedState>, headers: HeaderMap) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    render_list(&state, &me, None, None, StatusCode::OK).await
}

async fn render_list(
    state: &AppState,
    me: &crate::auth::CurrentUser,
    error: Option<String>,
    values: Option<&NewForm>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let mut rows = Vec::new();
    for s in ["live", "scheduled", "ended"] {
        for d in state.store.debates_in_state(s, 100).await? {
            rows.push(row_view(state, &d));
        }
    }
    let (posts, _) = state.store.all_posts("post", 200, 0).await?;
    let posts: Vec<minijinja::Value> = posts
        .iter()
        .filter(|p| p.author_id == me.user.id || me.role.can_edit_others())
        .map(|p| minijinja::context! { id => p.id, title => p.title, status => p.status })
        .collect();
    let site = state.settings();
    page(
        state,
        Some(me),
        "admin/debates.html",
        status,
        minijinja::context! {
            debates => rows, posts, error, timezone => site.timezone,
            zones => site.debate_zones.join(", "), words => site.debate_words.join(", "),
            values => values.map(|v| minijinja::context! {
                post_id => v.post_id, title => v.title, starts_at => v.starts_at,
                duration_minutes => v.duration_minutes, zones => v.zones, description => v.description,
            }),
        },
    )
}

#[derive(Deserialize)]
struct NewForm {
    csrf: String,
    post_id: String,
    title: String,
    starts_at: String,
    duration_minutes: String,
    zones: String,
    description: String,
}

fn minutes(s: &str) -> Result<i64, WebError> {
    s.trim().parse::<i64>().map_err(|_| {
        colloquy_core::Invalid::new("duration_minutes", "the duration is a number of minutes")
            .into()
    })
}

async fn create(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<NewForm>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.check_csrf(&f.csrf)?;
    let r = async {
        let post_id: i64 = f.post_id.trim().parse().map_err(|_| {
            colloquy_core::Invalid::new("post_id", "choose the post the debate discusses")
        })?;
        let zones = zones_field(&f.zones)?;
        let nd = new_debate(
            &state,
            &me.user,
            me.role,
            DebateFields {
                post_id,
                title: &f.title,
                starts_at: &f.starts_at,
                duration_minutes: minutes(&f.duration_minutes)?,
                zones: zones.as_deref(),
                description: Some(&f.description),
                slug: None,
                prepared_questions: None,
                moderators: &[],
                host_id: None,
            },
        )
        .await?;
        let id = state.store.create_debate(&nd).await?;
        state.content_changed().await;
        Ok::<_, WebError>(id)
    }
    .await;
    match r {
        Ok(id) => Ok(Redirect::to(&format!("/admin/debates/{id}")).into_response()),
        Err(e @ (WebError::Invalid(_) | WebError::Conflict(_))) => {
            let status = e.status();
            render_list(&state, &me, Some(e.to_string()), Some(&f), status).await
        }
        Err(e) => Err(e),
    }
}

fn zones_field(s: &str) -> Result<Option<Vec<String>>, WebError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(debate::parse_zone_list(s)?))
}

async fn edit_form(
    State(state): State<SharedState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    let d = state.store.debate(id).await?;
    render_edit(&state, &me, &d, None, StatusCode::OK).await
}

async fn render_edit(
    state: &AppState,
    me: &crate::auth::CurrentUser,
    d: &DebateRow,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let mut moderators = Vec::new();
    for uid in state.store.debate_moderators(d.id).await? {
        if let Ok(u) = state.store.user_by_id(uid).await {
            moderators.push(u.email);
        }
    }
    let tz = state.settings().tz();
    page(
        state,
        Some(me),
        "admin/debate_edit.html",
        status,
        minijinja::context! {
            d => row_view(state, d), error,
            values => minijinja::context! {
                title => d.title, description => d.description, starts_at => local_input(d.starts_at, &tz),
                duration_minutes => d.duration_minutes, zones => d.zone_list().join(", "),
                prepared_questions => d.prepared_questions, moderators => moderators.join(", "),
            },
            timezone => state.settings().timezone, sequence => d.calendar_sequence,
            can_change_time => d.state == "scheduled",
        },
    )
}

#[derive(Deserialize)]
struct EditForm {
    csrf: String,
    title: String,
    description: String,
    starts_at: Option<String>,
    duration_minutes: Option<String>,
    zones: String,
    prepared_questions: String,
    moderators: String,
}

async fn save(
    State(state): State<SharedState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<EditForm>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.check_csrf(&f.csrf)?;
    let d = state.store.debate(id).await?;
    let r = async {
        let mut moderators = Vec::new();
        for email in f
            .moderators
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let u = state.store.user_by_email(email).await.map_err(|_| {
                colloquy_core::Invalid::new(
                    "moderators",
                    format!("no account uses the address {email}"),
                )
            })?;
            moderators.push(u.id);
        }
        let tz = state.settings().timezone.clone();
        let starts_at = match f
            .starts_at
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => {
                let t = debate::parse_start(s, &tz)?;
                (t != d.starts_at).then_some(t)
            }
            None => None,
        };
        let duration = match f
            .duration_minutes
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => {
                let m = debate::parse_duration_minutes(minutes(s)?)?;
                (m != d.duration_minutes).then_some(m)
            }
            None => None,
        };
        let title = f.title.trim();
        if title.is_empty() || title.chars().count() > debate::MAX_TITLE_CHARS {
            return Err(colloquy_core::Invalid::new(
                "title",
                "the title must be 1 to 200 characters",
            )
            .into());
        }
        let patch = DebatePatch {
            title: Some(title.to_string()),
            description: Some(f.description.trim().chars().take(5000).collect()),
            starts_at,
            duration_minutes: duration,
            zones: zones_field(&f.zones)?,
            prepared_questions: Some(f.prepared_questions.trim().chars().take(10_000).collect()),
            moderators: Some(moderators),
        };
        change_debate(&state, &d, &me.user, me.role, patch).await
    }
    .await;
    match r {
        Ok(_) => Ok(Redirect::to(&format!("/admin/debates/{id}")).into_response()),
        Err(e @ (WebError::Invalid(_) | WebError::Conflict(_))) => {
            let status = e.status();
            render_edit(&state, &me, &d, Some(e.to_string()), status).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct SettingsForm {
    csrf: String,
    zones: String,
    words: String,
}

async fn save_settings(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<SettingsForm>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.check_csrf(&f.csrf)?;
    me.require(me.role.can_administer())?;
    let zones = match debate::parse_zone_list(&f.zones) {
        Ok(z) => z,
        Err(e) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render_list(&state, &me, Some(e.to_string()), None, status).await;
        }
    };
    let words = debate::parse_word_list(&f.words);
    state
        .store
        .set_settings(&[
            ("debate_zones", zones.join(",")),
            ("debate_word_filter", words.join(", ")),
        ])
        .await?;
    state.content_changed().await;
    Ok(Redirect::to("/admin/debates").into_response())
}
