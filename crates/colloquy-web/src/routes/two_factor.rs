//! Two-factor sign-in for staff: a one-time code from an authenticator app (RFC 6238), or
//! one of ten recovery codes, after whatever first factor was used.
//!
//! Setting up: the key is shown with a code field; it is kept only as a pending link
//! (15 minutes) until a code made from it comes back, so a key nobody saved never locks
//! anyone out. Each code's time step is accepted once; failures are throttled like
//! passwords.

use super::accounts::{notice, render};
use crate::auth;
use crate::error::WebError;
use crate::SharedState;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use colloquy_core::account::{retry_after, totp, LinkPurpose, FAILURE_WINDOW};
use colloquy_core::Role;
use colloquy_store::LinkOutcome;
use rand::RngCore;
use serde::Deserialize;
use std::net::SocketAddr;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/sign-in/code", get(code_page).post(code))
        .route("/account/two-factor", get(setup_page).post(setup))
}

async fn code_page(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    code_form(&state, &headers, StatusCode::OK, None).await
}

async fn code_form(
    state: &crate::AppState,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, WebError> {
    if auth::cookie(headers, auth::second_factor_cookie(state)).is_none() {
        return Ok(Redirect::to("/sign-in").into_response());
    }
    let (csrf, cookie) = auth::login_csrf(state, headers);
    let res = render(
        state,
        "account/code.html",
        "Your one-time code",
        status,
        minijinja::context! { login_csrf => csrf, error },
    )
    .await?;
    Ok(auth::with_cookie(res, cookie))
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
    csrf: String,
}

async fn code(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    auth::check_login_csrf(&state, &headers, &f.csrf, "form")?;
    let Some(pending) = auth::cookie(&headers, auth::second_factor_cookie(&state)) else {
        return Ok(Redirect::to("/sign-in").into_response());
    };
    let hash = auth::hash_token(pending);
    let LinkOutcome::Used(link) = state
        .store
        .peek_account_link(&hash, LinkPurpose::SecondFactor.as_str())
        .await?
    else {
        return notice(
            &state,
            StatusCode::GONE,
            "Your one-time code",
            "This sign-in took too long or was finished already. Sign in again.",
        )
        .await;
    };
    let Some(user_id) = link.user_id else {
        return Err(WebError::NotFound);
    };
    let key = format!("2fa:{user_id}");
    let now = colloquy_store::now();
    let (n, latest) = state
        .store
        .login_failure_stats(&key, now - FAILURE_WINDOW)
        .await?;
    if let Some(wait) = retry_after(n, latest, now) {
        return super::accounts::slowed(&state, wait).await;
    }
    let user = state.store.user_by_id(user_id).await?;
    let secret = user
        .totp_secret
        .as_deref()
        .and_then(|h| hex::decode(h).ok())
        .unwrap_or_default();
    let typed = f.code.trim();
    let ok = match totp::check(&secret, typed, now) {
        Some(step) => state.store.use_totp_step(user_id, step as i64).await?,
        None => {
            let normal = totp::normal_recovery_code(typed);
            normal.len() == 8
                && state
                    .store
                    .use_recovery_code(user_id, &auth::hash_token(&normal))
                    .await?
        }
    };
    if !ok {
        state.store.record_login_failure(&key).await?;
        return code_form(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            Some("That code is not right, or was used already. Codes change every 30 seconds."),
        )
        .await;
    }
    if !matches!(
        state
            .store
            .use_account_link(&hash, LinkPurpose::SecondFactor.as_str())
            .await?,
        LinkOutcome::Used(_)
    ) {
        return notice(
            &state,
            StatusCode::GONE,
            "Your one-time code",
            "This sign-in was finished already. Sign in again.",
        )
        .await;
    }
    state.store.clear_login_failures(&key).await?;
    let to = auth::local_path(Some(&link.data)).unwrap_or_else(|| "/account".into());
    let mut res = auth::open_session(&state, &headers, peer, user_id, &to).await?;
    let c = auth::set_cookie(&state, auth::second_factor_cookie(&state), "", 0);
    res.headers_mut().append(
        axum::http::header::SET_COOKIE,
        c.parse().map_err(anyhow::Error::from)?,
    );
    Ok(res)
}

async fn setup_page(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let Some(me) = auth::current_user(&state, &headers).await else {
        return Ok(Redirect::to("/sign-in?next=/account/two-factor").into_response());
    };
    if me.role == Role::Member {
        return Err(WebError::Forbidden(
            "two-factor sign-in is for the site's staff".into(),
        ));
    }
    if me.user.totp_secret.is_some() {
        let left = state.store.recovery_codes_left(me.user.id).await?;
        return render(
            &state,
            "account/two_factor.html",
            "Two-factor sign-in",
            StatusCode::OK,
            minijinja::context! { enabled => true, left, csrf => me.csrf },
        )
        .await;
    }
    let mut secret = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut secret);
    let pending = auth::random_token();
    state
        .store
        .create_account_link(
            &auth::hash_token(&pending),
            LinkPurpose::TwoFactorSetup.as_str(),
            &me.user.email,
            Some(me.user.id),
            &hex::encode(secret),
            LinkPurpose::TwoFactorSetup.ttl(),
        )
        .await?;
    let site = state.settings();
    render(
        &state,
        "account/two_factor.html",
        "Two-factor sign-in",
        StatusCode::OK,
        minijinja::context! {
            enabled => false, csrf => me.csrf, pending,
            key => totp::key_text(&secret),
            url => totp::setup_url(&secret, &site.title, &me.user.email),
        },
    )
    .await
}

#[derive(Deserialize)]
struct SetupForm {
    csrf: String,
    code: String,
    #[serde(default)]
    pending: String,
    /// "enable", "disable" or "new-codes".
    action: String,
}

async fn setup(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<SetupForm>,
) -> Result<Response, WebError> {
    let Some(me) = auth::current_user(&state, &headers).await else {
        return Ok(Redirect::to("/sign-in?next=/account/two-factor").into_response());
    };
    me.check_csrf(&f.csrf)?;
    if me.role == Role::Member {
        return Err(WebError::Forbidden(
            "two-factor sign-in is for the site's staff".into(),
        ));
    }
    let now = colloquy_store::now();
    let wrong = || async {
        notice(&state, StatusCode::UNPROCESSABLE_ENTITY, "Two-factor sign-in", "That code is not right. Codes change every 30 seconds: use the one your app shows now, and try again.").await
    };
    let secret: Vec<u8> = match f.action.as_str() {
        "enable" => {
            let hash = auth::hash_token(&f.pending);
            let LinkOutcome::Used(link) = state
                .store
                .peek_account_link(&hash, LinkPurpose::TwoFactorSetup.as_str())
                .await?
            else {
                return notice(
                    &state,
                    StatusCode::GONE,
                    "Two-factor sign-in",
                    "This set-up took longer than 15 minutes. Start again.",
                )
                .await;
            };
            if link.user_id != Some(me.user.id) {
                return Err(WebError::Forbidden("this set-up is someone else's".into()));
            }
            let secret = hex::decode(&link.data).unwrap_or_default();
            if totp::check(&secret, &f.code, now).is_none() {
                return wrong().await;
            }
            state
                .store
                .use_account_link(&hash, LinkPurpose::TwoFactorSetup.as_str())
                .await?;
            secret
        }
        "disable" | "new-codes" => {
            let secret = me
                .user
                .totp_secret
                .as_deref()
                .and_then(|h| hex::decode(h).ok())
                .unwrap_or_default();
            if totp::check(&secret, &f.code, now).is_none() {
                return wrong().await;
            }
            if f.action == "disable" {
                state.store.set_two_factor(me.user.id, None, &[]).await?;
                return notice(&state, StatusCode::OK, "Two-factor sign-in", "Two-factor sign-in is off. Signing in needs only your password, a mailed link or a provider again.").await;
            }
            secret
        }
        _ => return Err(WebError::NotFound),
    };
    let mut codes = Vec::with_capacity(10);
    let mut hashes = Vec::with_capacity(10);
    for _ in 0..10 {
        let mut raw = [0u8; 8];
        rand::thread_rng().fill_bytes(&mut raw);
        let code = totp::recovery_code(&raw);
        hashes.push(auth::hash_token(&totp::normal_recovery_code(&code)));
        codes.push(code);
    }
    state
        .store
        .set_two_factor(me.user.id, Some(&hex::encode(&secret)), &hashes)
        .await?;
    render(
        &state,
        "account/two_factor.html",
        "Two-factor sign-in",
        StatusCode::OK,
        minijinja::context! { enabled => true, codes, csrf => me.csrf },
    )
    .await
}
