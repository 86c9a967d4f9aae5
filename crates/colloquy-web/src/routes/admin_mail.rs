//! The admin's view of mail: whether it is delivered, the delivery counts, the followers
//! (search, CSV export and import).

use super::admin::{page, signed_in};
use crate::error::WebError;
use crate::{me_or_return, SharedState};
use axum::extract::{Multipart, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use colloquy_core::Email;
use serde::Deserialize;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/admin/outbox", get(outbox))
        .route("/admin/subscribers.csv", get(export_csv))
        .route("/admin/subscribers/import", post(import_csv))
}

#[derive(Deserialize)]
struct OutboxQuery {
    q: Option<String>,
}

async fn outbox(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<OutboxQuery>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.require(me.role.can_administer())?;
    view(&state, &me, q.q.as_deref(), None, StatusCode::OK).await
}

async fn view(
    state: &crate::AppState,
    me: &crate::auth::CurrentUser,
    q: Option<&str>,
    report: Option<minijinja::Value>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let search = q.map(str::trim).filter(|s| !s.is_empty());
    let (subscribers, total) = state.store.subscribers(search, 200, 0).await?;
    let stats = state.store.mail_stats().await?;
    page(
        state,
        Some(me),
        "admin/outbox.html",
        status,
        minijinja::context! {
            delivering => state.mailer.delivers(), transport => state.mailer.describe(),
            stats, subscribers, total, q => search, report,
        },
    )
}

async fn export_csv(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.require(me.role.can_administer())?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "email",
        "status",
        "frequency",
        "categories",
        "tags",
        "authors",
        "source",
        "created_at",
    ])
    .map_err(anyhow::Error::from)?;
    let mut offset = 0;
    loop {
        let (rows, _) = state.store.subscribers(None, 1000, offset).await?;
        if rows.is_empty() {
            break;
        }
        for s in &rows {
            w.write_record([
                s.email.as_str(),
                &s.status,
                &s.frequency,
                &s.categories.join(" "),
                &s.tags.join(" "),
                &s.authors.join(" "),
                &s.source,
                &crate::render::iso(s.created_at),
            ])
            .map_err(anyhow::Error::from)?;
        }
        offset += rows.len() as i64;
    }
    let body = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"followers.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}

async fn import_csv(
    State(state): State<SharedState>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.require(me.role.can_administer())?;
    let mut csrf = String::new();
    let mut data: Option<Vec<u8>> = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| WebError::BadRequest(format!("the upload is not a valid form: {e}")))?
    {
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("file") => {
                data = Some(
                    field
                        .bytes()
                        .await
                        .map_err(|e| {
                            WebError::BadRequest(format!("the file did not arrive whole: {e}"))
                        })?
                        .to_vec(),
                )
            }
            _ => {}
        }
    }
    me.check_csrf(&csrf)?;
    let data = data.ok_or_else(|| WebError::BadRequest("choose a CSV file".into()))?;
    let mut rd = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(data.as_slice());
    let head: Vec<String> = rd
        .headers()
        .map_err(|e| WebError::BadRequest(format!("the CSV header row cannot be read: {e}")))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    let col = |name: &str| head.iter().position(|h| h == name);
    let email_col = col("email").ok_or_else(|| {
        WebError::BadRequest("the CSV has no email column in its header row".into())
    })?;
    let (status_col, freq_col) = (col("status"), col("frequency"));
    let (mut imported, mut confirmations, mut skipped) = (0, 0, 0);
    let mut errors: Vec<minijinja::Value> = vec![];
    for (i, rec) in rd.records().enumerate() {
        let line = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors
                    .push(minijinja::context! { line, message => format!("cannot be read: {e}") });
                continue;
            }
        };
        let email = match Email::parse(rec.get(email_col).unwrap_or("")) {
            Ok(e) => e.as_str().to_lowercase(),
            Err(e) => {
                errors.push(minijinja::context! { line, message => e.message });
                continue;
            }
        };
        let frequency = match freq_col
            .and_then(|c| rec.get(c))
            .map(str::trim)
            .unwrap_or("")
        {
            "" | "immediate" => "immediate",
            "daily" => "daily",
            "weekly" => "weekly",
            other => {
                errors.push(
                    minijinja::context! { line, message => format!("unknown frequency {other:?}") },
                );
                continue;
            }
        };
        let confirmed = status_col.and_then(|c| rec.get(c)).map(str::trim) == Some("confirmed");
        let token = crate::auth::random_token();
        let known = state.store.subscriber_by_email(&email).await.is_ok();
        let send = state
            .store
            .import_follower(
                &email,
                confirmed,
                frequency,
                &crate::auth::hash_token(&token),
            )
            .await?;
        if known {
            skipped += 1;
            continue;
        }
        imported += 1;
        if send {
            let s = state.store.subscriber_by_email(&email).await?;
            crate::mailing::queue_confirmation(&state, s.id, &email, &token).await?;
            confirmations += 1;
        }
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let report = minijinja::context! { imported, confirmations, skipped, errors };
    view(&state, &me, None, Some(report), status).await
}
