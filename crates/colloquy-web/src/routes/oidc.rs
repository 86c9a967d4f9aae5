//! Sign-in with an OpenID Connect provider (`colloquy_federation::oidc` does the protocol).
//!
//! A flow's secrets (the `state`, the nonce, the PKCE verifier) stay on the server, in
//! `oidc_flows`, named by the hash of the `state`; a cookie binds the flow to the browser
//! that started it, so a `state` lifted from someone else's browser is worth nothing. A
//! `state` works once. An identity the site has not seen becomes a new member (open sites
//! only) — but never joins an existing account because the addresses match: the owner of
//! that account is mailed a link, and only following it joins the two.

use super::accounts::{mail_link, new_member, no_store, notice, CsrfForm, TokenForm};
use crate::auth;
use crate::error::WebError;
use crate::{AppState, OidcProviderConfig, SharedState};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use colloquy_core::account::{LinkPurpose, RegistrationPolicy};
use colloquy_federation::oidc::{Claims, Provider, ProviderConfig};
use colloquy_store::{LinkOutcome, OidcFlow};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;

const FLOW_TTL: i64 = 10 * 60;

fn config<'a>(state: &'a AppState, id: &str) -> Result<&'a OidcProviderConfig, WebError> {
    state
        .config
        .oidc_providers
        .iter()
        .find(|p| p.id == id)
        .ok_or(WebError::NotFound)
}

/// The provider, discovered once and kept (its keys are refetched by the protocol layer
/// when they rotate).
async fn provider(state: &AppState, id: &str) -> Result<Arc<Provider>, Response> {
    let cfg = config(state, id).map_err(IntoResponse::into_response)?;
    if let Some(p) = state.oidc.lock().await.get(id) {
        return Ok(p.clone());
    }
    let redirect = format!("{}/sign-in/with/{}/callback", state.config.base_url, cfg.id);
    let discovered = Provider::discover(
        &state.fetcher,
        ProviderConfig {
            id: cfg.id.clone(),
            issuer: cfg.issuer.clone(),
            client_id: cfg.client_id.clone(),
            client_secret: cfg.client_secret.clone(),
            name: cfg.name.clone(),
            button_label: cfg.button_label.clone(),
        },
        &redirect,
    )
    .await;
    match discovered {
        Ok(p) => {
            let p = Arc::new(p);
            state.oidc.lock().await.insert(id.to_owned(), p.clone());
            Ok(p)
        }
        Err(e) => {
            tracing::warn!(provider = %id, error = %e, "OpenID Connect discovery failed");
            Err(notice(
                state,
                StatusCode::BAD_GATEWAY,
                "Sign-in unavailable",
                &format!(
                    "{} cannot be reached just now ({e}). Try again later, or sign in another way.",
                    cfg.name
                ),
            )
            .await
            .unwrap_or_else(IntoResponse::into_response))
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct StartQuery {
    next: Option<String>,
}

async fn begin(
    state: &AppState,
    id: &str,
    next: String,
    link_user_id: Option<i64>,
) -> Result<Response, WebError> {
    let p = match provider(state, id).await {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let started = p.start(None);
    let browser = auth::random_token();
    state
        .store
        .save_oidc_flow(
            &auth::hash_token(&started.state),
            &OidcFlow {
                provider: id.to_owned(),
                nonce: started.nonce,
                pkce_verifier: started.pkce_verifier,
                next,
                link_user_id,
                browser_hash: auth::hash_token(&browser),
                expires_at: colloquy_store::now() + FLOW_TTL,
            },
        )
        .await?;
    let mut res = Redirect::to(&started.url).into_response();
    let c = auth::set_cookie(state, auth::oidc_browser_cookie(state), &browser, FLOW_TTL);
    res.headers_mut()
        .append(header::SET_COOKIE, c.parse().map_err(anyhow::Error::from)?);
    Ok(no_store(res))
}

pub(crate) async fn start(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Query(q): Query<StartQuery>,
) -> Result<Response, WebError> {
    config(&state, &id)?;
    let next = auth::local_path(q.next.as_deref()).unwrap_or_default();
    begin(&state, &id, next, None).await
}

/// A signed-in member joins a provider to their account.
pub(crate) async fn link(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    config(&state, &id)?;
    let Some(me) = auth::current_user(&state, &headers).await else {
        return Ok(Redirect::to("/sign-in?next=/account").into_response());
    };
    me.check_csrf(&f.csrf)?;
    begin(&state, &id, "/account".into(), Some(me.user.id)).await
}

#[derive(Deserialize, Default)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn refuse(state: &AppState, status: StatusCode, text: &str) -> Result<Response, WebError> {
    notice(state, status, "Sign-in refused", text).await
}

pub(crate) async fn callback(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let cfg = config(&state, &id)?.clone();
    let Some(flow_state) = q.state.as_deref().filter(|s| !s.is_empty()) else {
        return refuse(&state, StatusCode::BAD_REQUEST, "The provider's answer carried no state, so it cannot be matched to a sign-in started here.").await;
    };
    let Some(flow) = state
        .store
        .take_oidc_flow(&auth::hash_token(flow_state))
        .await?
    else {
        return refuse(&state, StatusCode::BAD_REQUEST, "This sign-in is not one started here, or it was used already or has expired. Start again from the sign-in page.").await;
    };
    let browser = auth::cookie(&headers, auth::oidc_browser_cookie(&state)).unwrap_or("");
    if flow.provider != id || !auth::same_token(&auth::hash_token(browser), &flow.browser_hash) {
        return refuse(
            &state,
            StatusCode::BAD_REQUEST,
            "This sign-in was started in another browser. Start again from the sign-in page.",
        )
        .await;
    }
    if let Some(err) = q.error.as_deref() {
        let why = q.error_description.as_deref().unwrap_or(err);
        let why: String = why.chars().filter(|c| !c.is_control()).take(200).collect();
        return refuse(
            &state,
            StatusCode::UNAUTHORIZED,
            &format!("{} did not sign you in: {why}.", cfg.name),
        )
        .await;
    }
    let Some(code) = q.code.as_deref().filter(|c| !c.is_empty()) else {
        return refuse(
            &state,
            StatusCode::BAD_REQUEST,
            "The provider's answer carried no code.",
        )
        .await;
    };
    let p = match provider(&state, &id).await {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let claims = match p
        .finish(&state.fetcher, code, &flow.pkce_verifier, &flow.nonce)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(provider = %id, error = %e, "OpenID Connect sign-in refused");
            return refuse(
                &state,
                StatusCode::UNAUTHORIZED,
                &format!("The answer from {} could not be trusted: {e}.", cfg.name),
            )
            .await;
        }
    };
    signed_in_with(&state, &headers, peer, &cfg, flow, claims).await
}

async fn signed_in_with(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    cfg: &OidcProviderConfig,
    flow: OidcFlow,
    claims: Claims,
) -> Result<Response, WebError> {
    let email = claims
        .email
        .clone()
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    let next = auth::local_path(Some(&flow.next)).unwrap_or_else(|| "/account".into());
    // Joining a provider to the signed-in account.
    if let Some(uid) = flow.link_user_id {
        match auth::current_user(state, headers).await {
            Some(me) if me.user.id == uid => {}
            _ => {
                return refuse(
                    state,
                    StatusCode::FORBIDDEN,
                    "Sign in to your account first, then join the provider from your account page.",
                )
                .await
            }
        }
        return match state
            .store
            .add_identity(uid, &cfg.id, &claims.subject, &email)
            .await
        {
            Ok(()) => Ok(Redirect::to("/account").into_response()),
            Err(colloquy_store::StoreError::Conflict(m)) => {
                refuse(state, StatusCode::CONFLICT, &m).await
            }
            Err(e) => Err(e.into()),
        };
    }
    if let Ok(u) = state.store.user_by_identity(&cfg.id, &claims.subject).await {
        return auth::start_session(state, headers, peer, u.id, &next).await;
    }
    if let Ok(existing) = state.store.user_by_email(&email).await {
        // The same address does not prove the same person: the account's owner decides.
        let data = serde_json::json!({
            "provider": cfg.id, "subject": claims.subject, "email": email, "next": next,
        })
        .to_string();
        mail_link(
            state,
            LinkPurpose::LinkIdentity,
            &existing.email,
            Some(existing.id),
            &data,
        )
        .await?;
        return notice(
            state,
            StatusCode::ACCEPTED,
            "Check your mail",
            &format!(
                "An account here already uses {email}. We sent a link to that address: follow it to join your {} sign-in to the account.",
                cfg.name
            ),
        )
        .await;
    }
    match state.settings().registration {
        RegistrationPolicy::Open => {}
        RegistrationPolicy::Invitation => {
            return refuse(state, StatusCode::FORBIDDEN, "This site takes new members by invitation. Ask an admin for one, then sign in with the invitation's address.").await
        }
        RegistrationPolicy::Closed => {
            return refuse(state, StatusCode::FORBIDDEN, "This site does not take new accounts.").await
        }
    }
    if colloquy_core::user::Email::parse(&email).is_err() {
        return refuse(
            state,
            StatusCode::FORBIDDEN,
            &format!(
                "{} did not tell us your email address, which an account here needs.",
                cfg.name
            ),
        )
        .await;
    }
    // An address the provider has not confirmed could be anyone's: an account made with it
    // would wait for its real owner with a stranger's sign-in already joined.
    if !claims.email_verified {
        return refuse(
            state,
            StatusCode::FORBIDDEN,
            &format!(
                "{} has not confirmed your email address {email}. Confirm it there, or create an account here with a mailed link.",
                cfg.name
            ),
        )
        .await;
    }
    let uid = new_member(
        state,
        &email,
        claims.name.as_deref().filter(|n| !n.trim().is_empty()),
        None,
        true,
    )
    .await?;
    state
        .store
        .add_identity(uid, &cfg.id, &claims.subject, &email)
        .await?;
    auth::start_session(state, headers, peer, uid, &next).await
}

/// The account's owner followed the mailed link: join the provider and sign in.
pub(crate) async fn join(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> Result<Response, WebError> {
    auth::check_login_csrf(&state, &headers, &f.csrf, "form")?;
    let outcome = state
        .store
        .use_account_link(
            &auth::hash_token(&f.token),
            LinkPurpose::LinkIdentity.as_str(),
        )
        .await?;
    let LinkOutcome::Used(link) = outcome else {
        return refuse(&state, StatusCode::GONE, "This link was used already, has expired, or is not one of ours. Sign in with the provider again to get a new one.").await;
    };
    let data: serde_json::Value = serde_json::from_str(&link.data).unwrap_or_default();
    let (Some(uid), Some(provider), Some(subject)) = (
        link.user_id,
        data["provider"].as_str(),
        data["subject"].as_str(),
    ) else {
        return Err(WebError::NotFound);
    };
    match state
        .store
        .add_identity(uid, provider, subject, data["email"].as_str().unwrap_or(""))
        .await
    {
        Ok(()) => {}
        Err(colloquy_store::StoreError::Conflict(m)) => {
            return refuse(&state, StatusCode::CONFLICT, &m).await
        }
        Err(e) => return Err(e.into()),
    }
    state.store.mark_email_verified(uid).await?;
    let next = auth::local_path(data["next"].as_str()).unwrap_or_else(|| "/account".into());
    auth::start_session(&state, &headers, peer, uid, &next).await
}
