//! The URL map. Each area of the site has its own module.

mod accounts;
mod admin;
mod admin_debates;
mod admin_mail;
mod admin_thoughts;
mod api;
mod api_debates;
mod api_thoughts;
mod debates;
mod feeds;
mod following;
mod linkbacks;
pub(crate) mod media;
mod oidc;
mod public;
pub(crate) mod thoughts;
mod two_factor;

use crate::{assets, metrics, SharedState};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::time::Duration;
use tower_http::timeout::TimeoutLayer;

pub(crate) use admin::RESERVED_PAGE_SLUGS;
pub(crate) use linkbacks::{
    after_edit, content_version, delete_post_and_tell, queue_send, send_linkbacks,
    verify_webmention, JOB_SEND_LINKBACKS, JOB_VERIFY_WEBMENTION,
};
pub(crate) use public::cached_page;

/// The longest a handler may take before the request is answered 408.
pub const HANDLER_DEADLINE: Duration = Duration::from_secs(30);

/// Largest request body: uploads of featured images and avatars are the biggest inputs.
pub const MAX_BODY: usize = 8 * 1024 * 1024;

pub fn router(state: SharedState) -> Router {
    metrics::init();
    Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(metrics::scrape))
        .route("/static/{name}", get(assets::serve))
        .route("/uploads/{name}", get(media::upload))
        .route("/avatar/{name}", get(media::avatar))
        .merge(
            // Handlers that always reach the database get a deadline; public pages set their
            // own around rendering, so a cache hit pays for no timer.
            Router::new()
                .merge(api::routes())
                .merge(admin::routes())
                .merge(accounts::routes())
                .merge(two_factor::routes())
                .merge(thoughts::routes())
                .merge(admin_thoughts::routes())
                .merge(admin_mail::routes())
                .merge(following::routes())
                .merge(linkbacks::routes())
                .merge(debates::routes())
                .merge(admin_debates::routes())
                .merge(api_debates::routes())
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    HANDLER_DEADLINE,
                )),
        )
        // Live streams stay open for hours: no deadline.
        .merge(debates::stream_routes())
        .merge(api_debates::stream_routes())
        .fallback(public::dispatch)
        .layer(middleware::map_response(with_security_headers))
        .layer(middleware::from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn with_security_headers(mut res: Response) -> Response {
    security_headers(res.headers_mut());
    res
}

/// The headers every answer carries (a handler may set its own content security policy).
pub(crate) fn security_headers(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
    ));
}

async fn health(State(state): State<SharedState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}
