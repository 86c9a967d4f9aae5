//! The moderation side of thoughts in the admin: the queue (pending, spam, trash, approved)
//! with filters and bulk actions, editing and replying, bans, the discussion settings and
//! the moderation log. Moderators, editors and admins only; every action is logged.

use super::admin::{page, signed_in};
use super::api_thoughts::apply_moderation;
use super::thoughts::{self, Incoming};
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::site::Settings;
use crate::{me_or_return, AppState, SharedState};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use colloquy_core::thought::{IpRange, ThoughtBody, ThoughtStatus};
use colloquy_core::{markdown, Email, Invalid, Role};
use colloquy_store::ThoughtQuery;
use serde::Deserialize;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/admin/thoughts", get(queue))
        .route("/admin/thoughts/bulk", post(bulk))
        .route("/admin/thoughts/{id}/edit", get(edit_form).post(edit_save))
        .route("/admin/thoughts/{id}/reply", post(reply))
        .route("/admin/bans", get(bans_page).post(add_ban))
        .route("/admin/bans/{id}/delete", post(delete_ban))
        .route(
            "/admin/discussion",
            get(discussion_form).post(save_discussion),
        )
        .route("/admin/moderation-log", get(log_page))
}

fn may_moderate(me: &CurrentUser) -> Result<(), WebError> {
    me.require(me.role == Role::Moderator || me.role.can_edit_others())
}

#[derive(Deserialize)]
struct QueueQuery {
    status: Option<String>,
    post: Option<String>,
    q: Option<String>,
    page: Option<String>,
    done: Option<String>,
}

const PER_PAGE: i64 = 50;

async fn queue(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<QueueQuery>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    may_moderate(&me)?;
    let status = ThoughtStatus::parse(q.status.as_deref().unwrap_or("pending"))?;
    let page_no = match q.page.as_deref() {
        Some(p) => colloquy_core::Page::parse(p)?,
        None => colloquy_core::Page::FIRST,
    };
    let post_id = match q.post.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<i64>()
                .map_err(|_| WebError::BadRequest("post must be a post id".into()))?,
        ),
    };
    let search: Option<String> =
        q.q.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(200).collect());
    let (rows, total) = state
        .store
        .thoughts_for_moderation(&ThoughtQuery {
            status: status.as_str().into(),
            post_id,
            search: search.clone(),
            limit: PER_PAGE,
            offset: page_no.offset(PER_PAGE as u32),
        })
        .await?;
    let counts = state.store.thought_counts().await?;
    let count = |s: &str| counts.iter().find(|c| c.0 == s).map(|c| c.1).unwrap_or(0);
    let tz = state.settings().tz();
    let items: Vec<minijinja::Value> = rows
        .iter()
        .map(|t| {
            minijinja::context! {
                id => t.id, author_name => t.author_name, author_email => t.author_email,
                author_url => t.author_url, author_ip => t.author_ip, body_html => t.body_html,
                held_reason => t.held_reason, spam_score => t.spam_score.map(|s| format!("{s:.2}")),
                post_title => t.post_title, post_id => t.post_id, kind => t.kind,
                member => t.user_id.is_some(), removed => t.deleted,
                when => crate::render::human_date(t.created_at, &tz),
            }
        })
        .collect();
    let total_pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    page(
        &state,
        Some(&me),
        "admin/thoughts.html",
        StatusCode::OK,
        minijinja::context! {
            status => status.as_str(), items, total, post_filter => post_id, search,
            counts => minijinja::context! { pending => count("pending"), approved => count("approved"), spam => count("spam"), trash => count("trash") },
            page_no => page_no.number(), total_pages, done => q.done,
        },
    )
}

/// Reads `ids=1&ids=2&action=approve&csrf=…` (a form with many checkboxes).
fn parse_bulk(body: &[u8]) -> (Vec<i64>, String, String, String) {
    let (mut ids, mut action, mut csrf, mut back) =
        (vec![], String::new(), String::new(), String::new());
    for (k, v) in super::linkbacks::form_fields(body) {
        match k.as_str() {
            "ids" => {
                if let Ok(id) = v.parse() {
                    ids.push(id)
                }
            }
            "action" => action = v,
            "csrf" => csrf = v,
            "back" => back = v,
            _ => {}
        }
    }
    (ids, action, csrf, back)
}

async fn bulk(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    let (ids, action, csrf, back) = parse_bulk(&body);
    me.check_csrf(&csrf)?;
    may_moderate(&me)?;
    let status = match action.as_str() {
        "approve" => ThoughtStatus::Approved,
        "spam" => ThoughtStatus::Spam,
        "trash" => ThoughtStatus::Trash,
        "pending" => ThoughtStatus::Pending,
        _ => {
            return Err(WebError::BadRequest(
                "choose approve, spam, trash or pending".into(),
            ))
        }
    };
    if ids.is_empty() {
        return Err(WebError::BadRequest("tick at least one thought".into()));
    }
    if ids.len() > 500 {
        return Err(WebError::BadRequest("at most 500 thoughts at once".into()));
    }
    for id in &ids {
        apply_moderation(&state, *id, status, (me.user.id, &me.user.name)).await?;
    }
    // Only go back to our own queue pages.
    let back = if back.starts_with("/admin/thoughts") && !back.contains("//") {
        back
    } else {
        "/admin/thoughts".into()
    };
    let sep = if back.contains('?') { '&' } else { '?' };
    Ok(Redirect::to(&format!("{back}{sep}done={}", ids.len())).into_response())
}

async fn edit_form(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    may_moderate(&me)?;
    let t = state.store.thought_by_id(id).await?;
    edit_page(&state, &me, &t, &t.body_markdown, StatusCode::OK, None)
}

fn edit_page(
    state: &AppState,
    me: &CurrentUser,
    t: &colloquy_store::ThoughtRow,
    body: &str,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, WebError> {
    page(
        state,
        Some(me),
        "admin/thought_edit.html",
        status,
        minijinja::context! {
            id => t.id, body, author_name => t.author_name, post_title => t.post_title,
            status_now => t.status, body_html => t.body_html, error,
        },
    )
}

#[derive(Deserialize)]
struct BodyForm {
    csrf: String,
    body: String,
    #[serde(default)]
    confirm_sensitive: Option<String>,
}

async fn edit_save(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<BodyForm>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.check_csrf(&f.csrf)?;
    may_moderate(&me)?;
    let t = state.store.thought_by_id(id).await?;
    let body = match ThoughtBody::parse(&f.body) {
        Ok(b) => b,
        Err(e) => {
            return edit_page(
                &state,
                &me,
                &t,
                &f.body,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(e.message),
            )
        }
    };
    let hash = super::thoughts::body_hash(body.as_str());
    state
        .store
        .edit_thought(
            id,
            body.as_str(),
            &markdown::render_comment(body.as_str()),
            &hash,
            (me.user.id, &me.user.name),
        )
        .await?;
    state.post_changed(t.post_id);
    Ok(Redirect::to(&format!("/admin/thoughts?status={}", t.status)).into_response())
}

/// "Approve and reply": a moderator answers a thought; a pending one is approved first,
/// since a reply cannot hang from a thought nobody can see.
async fn reply(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<BodyForm>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.check_csrf(&f.csrf)?;
    may_moderate(&me)?;
    let t = state.store.thought_by_id(id).await?;
    if t.status != "approved" {
        apply_moderation(
            &state,
            id,
            ThoughtStatus::Approved,
            (me.user.id, &me.user.name),
        )
        .await?;
    }
    let r = thoughts::submit(
        &state,
        Some(&me.user),
        "",
        Incoming {
            post_id: t.post_id,
            parent_id: Some(id),
            body: f.body.clone(),
            confirm_sensitive: f.confirm_sensitive.is_some(),
            ..Default::default()
        },
    )
    .await;
    match r {
        Ok(_) => Ok(Redirect::to("/admin/thoughts?done=1").into_response()),
        Err(e @ (WebError::Invalid(_) | WebError::Sensitive(_) | WebError::Conflict(_))) => {
            let msg = e.to_string();
            edit_page(
                &state,
                &me,
                &t,
                &t.body_markdown,
                e.status(),
                Some(format!("Your reply was not posted: {msg}")),
            )
        }
        Err(e) => Err(e),
    }
}

async fn bans_page(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    may_moderate(&me)?;
    bans_view(&state, &me, StatusCode::OK, None).await
}

async fn bans_view(
    state: &AppState,
    me: &CurrentUser,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, WebError> {
    let bans = state.store.bans().await?;
    page(
        state,
        Some(me),
        "admin/bans.html",
        status,
        minijinja::context! { bans, error },
    )
}

#[derive(Deserialize)]
struct BanForm {
    csrf: String,
    kind: String,
    value: String,
    #[serde(default)]
    reason: String,
}

/// Normalises a ban entry: an email or `@domain`, an IP address or CIDR range, a member's email.
async fn parse_ban(state: &AppState, f: &BanForm) -> Result<(String, String), WebError> {
    let v = f.value.trim();
    match f.kind.as_str() {
        "email" => {
            if let Some(domain) = v.strip_prefix('@') {
                Email::parse(&format!("x@{domain}"))?;
                Ok(("email".into(), format!("@{}", domain.to_lowercase())))
            } else {
                Ok(("email".into(), Email::parse(v)?.as_str().to_lowercase()))
            }
        }
        "ip" => Ok(("ip".into(), IpRange::parse(v)?.to_string())),
        "user" => {
            let email = Email::parse(v)?;
            let u = state
                .store
                .user_by_email(email.as_str())
                .await
                .map_err(|_| Invalid::new("value", "no member has this email address"))?;
            Ok(("user".into(), u.id.to_string()))
        }
        _ => Err(Invalid::new("kind", "choose email, ip or user").into()),
    }
}

async fn add_ban(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<BanForm>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.check_csrf(&f.csrf)?;
    may_moderate(&me)?;
    if f.reason.chars().count() > 500 {
        return bans_view(
            &state,
            &me,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("the reason is at most 500 characters".into()),
        )
        .await;
    }
    let (kind, value) = match parse_ban(&state, &f).await {
        Ok(kv) => kv,
        Err(e) => return bans_view(&state, &me, e.status(), Some(e.to_string())).await,
    };
    match state
        .store
        .add_ban(&kind, &value, f.reason.trim(), (me.user.id, &me.user.name))
        .await
    {
        Ok(_) => Ok(Redirect::to("/admin/bans").into_response()),
        Err(colloquy_store::StoreError::Conflict(m)) => {
            bans_view(&state, &me, StatusCode::CONFLICT, Some(m)).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn delete_ban(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.check_csrf(&f.csrf)?;
    may_moderate(&me)?;
    state
        .store
        .delete_ban(id, (me.user.id, &me.user.name))
        .await?;
    Ok(Redirect::to("/admin/bans").into_response())
}

async fn discussion_form(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.require(me.role.can_administer())?;
    let d = state.settings().discussion.clone();
    discussion_view(&state, &me, StatusCode::OK, &d, None)
}

fn discussion_view(
    state: &AppState,
    me: &CurrentUser,
    status: StatusCode,
    d: &colloquy_core::thought::Rules,
    error: Option<String>,
) -> Result<Response, WebError> {
    page(
        state,
        Some(me),
        "admin/discussion.html",
        status,
        minijinja::context! {
            hold => d.hold.as_str(), max_links => d.max_links, depth => d.depth,
            close_after_days => d.close_after_days, gravatar => d.gravatar, linkbacks => d.linkbacks.as_str(),
            moderation_words => d.moderation_words.join("\n"), blocked_words => d.blocked_words.join("\n"),
            error,
        },
    )
}

#[derive(Deserialize)]
struct DiscussionForm {
    csrf: String,
    hold: String,
    max_links: String,
    depth: String,
    close_after_days: String,
    #[serde(default)]
    moderation_words: String,
    #[serde(default)]
    blocked_words: String,
    #[serde(default)]
    gravatar: Option<String>,
    #[serde(default)]
    linkbacks: String,
}

async fn save_discussion(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<DiscussionForm>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.check_csrf(&f.csrf)?;
    me.require(me.role.can_administer())?;
    match Settings::parse_discussion(
        &f.hold,
        &f.max_links,
        &f.moderation_words,
        &f.blocked_words,
        &f.depth,
        &f.close_after_days,
        f.gravatar.is_some(),
        &f.linkbacks,
    ) {
        Ok(rules) => {
            Settings::save_discussion(&state.store, &rules).await?;
            state.content_changed().await;
            Ok(Redirect::to("/admin/discussion?saved=1").into_response())
        }
        Err(e) => {
            let d = state.settings().discussion.clone();
            discussion_view(
                &state,
                &me,
                StatusCode::UNPROCESSABLE_ENTITY,
                &d,
                Some(e.message),
            )
        }
    }
}

async fn log_page(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    may_moderate(&me)?;
    let tz = state.settings().tz();
    let entries: Vec<minijinja::Value> = state
        .store
        .moderation_log(200)
        .await?
        .into_iter()
        .map(|e| {
            minijinja::context! {
                actor => e.actor_name, action => e.action, thought_id => e.thought_id, detail => e.detail,
                when => jiff::Timestamp::from_second(e.at).map(|t| t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default(),
            }
        })
        .collect();
    page(
        &state,
        Some(&me),
        "admin/moderation_log.html",
        StatusCode::OK,
        minijinja::context! { entries },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn bulk_forms_parse_repeated_ids() {
        let (ids, action, csrf, back) = super::parse_bulk(
            b"csrf=abc&action=approve&ids=3&ids=7&ids=x&back=%2Fadmin%2Fthoughts%3Fstatus%3Dspam",
        );
        assert_eq!(ids, vec![3, 7]);
        assert_eq!(action, "approve");
        assert_eq!(csrf, "abc");
        assert_eq!(back, "/admin/thoughts?status=spam");
    }
}
