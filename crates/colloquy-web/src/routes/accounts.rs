//! Members' accounts: sign-in (password, a mailed link, or a configured OpenID Connect
//! provider), registration under the site's policy, proving an address, password resets,
//! and the member's own pages (profile, signed-in devices, sign-in providers).
//!
//! Every mailed link opens a page with one button: the link is used by the POST, never by
//! the GET (mail scanners follow links). Forms before sign-in carry the double-submit token
//! of the sign-in cookie; forms after it carry the session's CSRF token.

use crate::auth::{self, CurrentUser};
use crate::error::WebError;
use crate::{AppState, SharedState};
use axum::extract::{ConnectInfo, Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use colloquy_core::account::{check_new_password, retry_after, LinkPurpose, RegistrationPolicy};
use colloquy_core::user::{parse_display_name, Email};
use colloquy_core::Slug;
use colloquy_store::{AccountLink, LinkOutcome, NewDelivery, NewMember, UserRow};
use serde::Deserialize;
use std::net::SocketAddr;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/sign-in", get(sign_in_page).post(sign_in_password))
        .route("/sign-in/link", post(request_link))
        .route("/sign-in/link/use", get(link_page).post(use_link))
        .route("/sign-in/with/{provider}", get(super::oidc::start))
        .route(
            "/sign-in/with/{provider}/callback",
            get(super::oidc::callback),
        )
        .route("/sign-in/join", get(join_page).post(super::oidc::join))
        .route("/sign-out", post(sign_out))
        .route("/register", get(register_page).post(register))
        .route("/verify", get(verify_page).post(verify))
        .route("/password/forgot", get(forgot_page).post(forgot))
        .route("/password/reset", get(reset_page).post(reset))
        .route("/account", get(profile_page).post(save_profile))
        .route("/account/sessions", get(sessions_page))
        .route("/account/sessions/end", post(end_session))
        .route("/account/sessions/end-others", post(end_others))
        .route("/account/sign-ins/{id}/remove", post(remove_identity))
        .route("/account/sign-ins/link/{provider}", post(super::oidc::link))
        .route("/admin/invitations", post(invite))
        .route("/account/verify-again", post(verify_again))
        .route("/account/data.json", get(data_json))
        .route("/account/data.md", get(data_markdown))
        .route("/account/delete", get(delete_page).post(delete_account))
        .route("/people/{slug}/", get(person_page))
        .route("/account/avatar", post(save_avatar))
}

/// Mailed links of one kind to one address in this window, at most [`MAX_LINKS`].
const LINK_WINDOW: i64 = 15 * 60;
const MAX_LINKS: i64 = 3;

pub(crate) fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("ascii"));
    res
}

pub(crate) async fn render(
    state: &AppState,
    template: &str,
    title: &str,
    status: StatusCode,
    ctx: minijinja::Value,
) -> Result<Response, WebError> {
    let html = state.templates.render(
        template,
        minijinja::context! {
            frame => super::public::simple_frame(state, title).await?,
            title,
            ..ctx
        },
    )?;
    Ok(no_store((status, Html(html)).into_response()))
}

/// A page that says one thing (and perhaps offers one button).
pub(crate) async fn notice(
    state: &AppState,
    status: StatusCode,
    title: &str,
    text: &str,
) -> Result<Response, WebError> {
    render(
        state,
        "account/notice.html",
        title,
        status,
        minijinja::context! { text },
    )
    .await
}

fn registration(state: &AppState) -> RegistrationPolicy {
    state.settings().registration
}

fn providers(state: &AppState) -> Vec<minijinja::Value> {
    state
        .config
        .oidc_providers
        .iter()
        .map(|p| minijinja::context! { id => p.id, label => p.button_label, name => p.name })
        .collect()
}

#[derive(Deserialize, Default)]
pub(crate) struct NextQuery {
    next: Option<String>,
    token: Option<String>,
    invite: Option<String>,
}

async fn sign_in_page(
    State(state): State<SharedState>,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let next = auth::local_path(q.next.as_deref());
    if auth::current_user(&state, &headers).await.is_some() {
        return Ok(Redirect::to(next.as_deref().unwrap_or("/account")).into_response());
    }
    sign_in_form(&state, &headers, StatusCode::OK, next, None, "").await
}

async fn sign_in_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: Option<String>,
    error: Option<&str>,
    email: &str,
) -> Result<Response, WebError> {
    let (token, cookie) = auth::login_csrf(state, headers);
    let res = render(
        state,
        "account/sign_in.html",
        "Sign in",
        status,
        minijinja::context! {
            login_csrf => token, next, error, email,
            providers => providers(state),
            can_register => registration(state) == RegistrationPolicy::Open,
        },
    )
    .await?;
    Ok(auth::with_cookie(res, cookie))
}

#[derive(Deserialize)]
struct PasswordForm {
    email: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

/// Why a password sign-in was refused.
pub(crate) enum Refusal {
    /// Too many failures: wait this many seconds.
    Slowed(u64),
    Wrong,
}

/// Checks an email and password, counting failures per account and per address and
/// slowing both down (never for more than a few minutes: see `colloquy_core::account`).
pub(crate) async fn check_password(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    email: &str,
    password: &str,
) -> Result<Result<UserRow, Refusal>, WebError> {
    let email_key = format!("email:{}", email.trim().to_lowercase());
    let ip_key = format!("ip:{}", auth::client_ip(state, headers, Some(peer)));
    let now = colloquy_store::now();
    let since = now - colloquy_core::account::FAILURE_WINDOW;
    // An address gets more tries than an account: many members may share one.
    for (key, free) in [(&email_key, 0), (&ip_key, 15)] {
        let (n, latest) = state.store.login_failure_stats(key, since).await?;
        if let Some(wait) = retry_after(n - free, latest, now) {
            return Ok(Err(Refusal::Slowed(wait)));
        }
    }
    let user = state.store.user_by_email(email.trim()).await.ok();
    let ok = match user.as_ref().and_then(|u| u.password_hash.as_deref()) {
        Some(h) => auth::verify_password(password, h),
        None => {
            auth::waste_a_verification(password);
            false
        }
    };
    match (ok, user) {
        (true, Some(u)) => {
            state.store.clear_login_failures(&email_key).await?;
            Ok(Ok(u))
        }
        _ => {
            state.store.record_login_failure(&email_key).await?;
            state.store.record_login_failure(&ip_key).await?;
            Ok(Err(Refusal::Wrong))
        }
    }
}

/// The 429 page for a slowed sign-in, with `Retry-After`.
pub(crate) async fn slowed(state: &AppState, wait: u64) -> Result<Response, WebError> {
    let mut res = notice(
        state,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many tries",
        &format!(
            "There were too many failed sign-ins for this account or from this address. Try again in {wait} seconds, or ask for a sign-in link by email, which works at once."
        ),
    )
    .await?;
    res.headers_mut()
        .insert("retry-after", wait.to_string().parse().expect("digits"));
    Ok(res)
}

async fn sign_in_password(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> Result<Response, WebError> {
    auth::check_login_csrf(&state, &headers, &f.csrf, "form")?;
    let next = auth::local_path(f.next.as_deref());
    match check_password(&state, &headers, peer, &f.email, &f.password).await? {
        Ok(user) => {
            let to = next.unwrap_or_else(|| "/account".into());
            auth::start_session(&state, &headers, peer, user.id, &to).await
        }
        Err(Refusal::Slowed(wait)) => slowed(&state, wait).await,
        Err(Refusal::Wrong) => {
            sign_in_form(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                next,
                Some("That email and password do not match an account. You can also ask for a sign-in link by email."),
                &f.email,
            )
            .await
        }
    }
}

/// Mails a link, unless too many of its kind went to the address lately. Returns false
/// when it was held back.
pub(crate) async fn mail_link(
    state: &AppState,
    purpose: LinkPurpose,
    email: &str,
    user_id: Option<i64>,
    data: &str,
) -> Result<bool, WebError> {
    let since = colloquy_store::now() - LINK_WINDOW;
    if state
        .store
        .account_links_since(email, purpose.as_str(), since)
        .await?
        >= MAX_LINKS
    {
        return Ok(false);
    }
    let token = auth::random_token();
    state
        .store
        .create_account_link(
            &auth::hash_token(&token),
            purpose.as_str(),
            email,
            user_id,
            data,
            purpose.ttl(),
        )
        .await?;
    state
        .store
        .queue_mail(&[NewDelivery {
            dedupe_key: format!(
                "account:{}:{}",
                purpose.as_str(),
                &auth::hash_token(&token)[..16]
            ),
            kind: format!("account_{}", purpose.as_str()),
            to_email: email.to_owned(),
            subscriber_id: None,
            post_id: None,
            payload: serde_json::json!({ "token": token }).to_string(),
        }])
        .await?;
    Ok(true)
}

#[derive(Deserialize)]
struct EmailForm {
    email: String,
    csrf: String,
    next: Option<String>,
}

/// "Email me a sign-in link": the answer is the same whether or not the address has an
/// account (so the form does not tell strangers who is a member).
async fn request_link(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<EmailForm>,
) -> Result<Response, WebError> {
    auth::check_login_csrf(&state, &headers, &f.csrf, "form")?;
    let email = Email::parse(&f.email)?;
    let next = auth::local_path(f.next.as_deref()).unwrap_or_default();
    match state.store.user_by_email(email.as_str()).await {
        Ok(u) => {
            mail_link(
                &state,
                LinkPurpose::SignIn,
                email.as_str(),
                Some(u.id),
                &next,
            )
            .await?;
        }
        // No account yet: on an open site the link makes one.
        Err(_) if registration(&state) == RegistrationPolicy::Open => {
            mail_link(&state, LinkPurpose::SignIn, email.as_str(), None, &next).await?;
        }
        Err(_) => {}
    }
    notice(
        &state,
        StatusCode::ACCEPTED,
        "Check your mail",
        &format!(
            "If {} can sign in here, a sign-in link is on its way to it. The link works once, for 15 minutes.",
            email.as_str()
        ),
    )
    .await
}

/// Uses a mailed link; when it cannot be used, the page that says why (under `title`).
async fn spend_link(
    state: &AppState,
    token: &str,
    purpose: LinkPurpose,
    title: &str,
) -> Result<Result<AccountLink, Response>, WebError> {
    let outcome = state
        .store
        .use_account_link(&auth::hash_token(token), purpose.as_str())
        .await?;
    match outcome {
        LinkOutcome::Used(link) => Ok(Ok(link)),
        other => {
            let (status, why) = link_refused(&other);
            Ok(Err(notice(state, status, title, why).await?))
        }
    }
}

fn link_refused(outcome: &LinkOutcome) -> (StatusCode, &'static str) {
    match outcome {
        LinkOutcome::AlreadyUsed => (
            StatusCode::GONE,
            "This link was used already. Each link works once: ask for a new one.",
        ),
        LinkOutcome::Expired => (
            StatusCode::GONE,
            "This link has expired. Ask for a new one.",
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "This link is not one of ours, or it was cut short. Copy the whole link from the mail, or ask for a new one.",
        ),
    }
}

/// What the page a mailed link opens says, and where its one button goes.
pub(crate) struct LinkPage {
    pub purpose: LinkPurpose,
    pub title: &'static str,
    pub text: &'static str,
    pub action: &'static str,
    pub button: &'static str,
}

/// The page a mailed link opens: one button that uses it.
pub(crate) async fn confirm_page(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
    p: LinkPage,
) -> Result<Response, WebError> {
    let LinkPage {
        purpose,
        title,
        text,
        action,
        button,
    } = p;
    let outcome = state
        .store
        .peek_account_link(&auth::hash_token(token), purpose.as_str())
        .await?;
    if !matches!(outcome, LinkOutcome::Used(_)) {
        let (status, why) = link_refused(&outcome);
        return notice(state, status, title, why).await;
    }
    let (csrf, cookie) = auth::login_csrf(state, headers);
    let res = render(
        state,
        "account/confirm.html",
        title,
        StatusCode::OK,
        minijinja::context! { text, action, button, token, login_csrf => csrf },
    )
    .await?;
    Ok(auth::with_cookie(res, cookie))
}

async fn link_page(
    State(state): State<SharedState>,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    confirm_page(
        &state,
        &headers,
        q.token.as_deref().unwrap_or(""),
        LinkPage {
            purpose: LinkPurpose::SignIn,
            title: "Sign in",
            text: "Sign in to your account on this device.",
            action: "/sign-in/link/use",
            button: "Sign in",
        },
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    pub token: String,
    pub csrf: String,
}

async fn use_link(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> Result<Response, WebError> {
    auth::check_login_csrf(&state, &headers, &f.csrf, "form")?;
    let link = match spend_link(&state, &f.token, LinkPurpose::SignIn, "Sign in").await? {
        Ok(link) => link,
        Err(page) => return Ok(page),
    };
    let user_id = match link.user_id {
        Some(id) => id,
        None => match state.store.user_by_email(&link.email).await {
            Ok(u) => u.id,
            Err(_) => {
                if registration(&state) != RegistrationPolicy::Open {
                    return notice(
                        &state,
                        StatusCode::FORBIDDEN,
                        "Sign in",
                        "This site no longer takes new members.",
                    )
                    .await;
                }
                new_member(&state, &link.email, None, None, true).await?
            }
        },
    };
    // Using the link proved the address. An account that had not proven it may have been
    // made by someone else in the owner's name: what they set up goes.
    state.store.claim_unproven_account(user_id).await?;
    state.store.mark_email_verified(user_id).await?;
    let to = auth::local_path(Some(&link.data)).unwrap_or_else(|| "/account".into());
    auth::start_session(&state, &headers, peer, user_id, &to).await
}

/// Creates a member; the name defaults to the address's local part.
pub(crate) async fn new_member(
    state: &AppState,
    email: &str,
    name: Option<&str>,
    password_hash: Option<&str>,
    verified: bool,
) -> Result<i64, WebError> {
    let local = email.split('@').next().unwrap_or("member");
    let name = name
        .map(str::to_owned)
        .unwrap_or_else(|| local.chars().take(100).collect());
    let slug = Slug::from_title(&name)
        .or_else(|_| Slug::from_title(local))
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|_| "member".into());
    Ok(state
        .store
        .create_member(NewMember {
            email,
            name: &name,
            slug: &slug,
            password_hash,
            verified,
            role: "member",
        })
        .await?)
}

async fn register_page(
    State(state): State<SharedState>,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let policy = registration(&state);
    let invite = q.invite.clone().unwrap_or_default();
    if let Some(r) = closed_to(&state, policy, &invite).await? {
        return Ok(r);
    }
    register_form(
        &state,
        &headers,
        StatusCode::OK,
        minijinja::context! { invite },
    )
    .await
}

async fn register_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    ctx: minijinja::Value,
) -> Result<Response, WebError> {
    let (csrf, cookie) = auth::login_csrf(state, headers);
    let res = render(
        state,
        "account/register.html",
        "Create an account",
        status,
        minijinja::context! { login_csrf => csrf, providers => providers(state), ..ctx },
    )
    .await?;
    Ok(auth::with_cookie(res, cookie))
}

/// The page that says registration is not open to this visitor, if it is not.
async fn closed_to(
    state: &AppState,
    policy: RegistrationPolicy,
    invite: &str,
) -> Result<Option<Response>, WebError> {
    let text = match policy {
        RegistrationPolicy::Open => return Ok(None),
        RegistrationPolicy::Closed => {
            "This site does not take new accounts. An admin adds members."
        }
        RegistrationPolicy::Invitation => {
            if !invite.is_empty() {
                let outcome = state
                    .store
                    .peek_account_link(&auth::hash_token(invite), LinkPurpose::Invite.as_str())
                    .await?;
                if matches!(outcome, LinkOutcome::Used(_)) {
                    return Ok(None);
                }
                let (status, why) = link_refused(&outcome);
                return notice(state, status, "Create an account", why)
                    .await
                    .map(Some);
            }
            "This site takes new members by invitation. Ask an admin for one."
        }
    };
    notice(state, StatusCode::FORBIDDEN, "Create an account", text)
        .await
        .map(Some)
}

#[derive(Deserialize)]
struct RegisterForm {
    name: String,
    email: String,
    password: String,
    csrf: String,
    #[serde(default)]
    invite: String,
}

async fn register(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<RegisterForm>,
) -> Result<Response, WebError> {
    auth::check_login_csrf(&state, &headers, &f.csrf, "form")?;
    let policy = registration(&state);
    if let Some(r) = closed_to(&state, policy, &f.invite).await? {
        return Ok(r);
    }
    let again = |error: String| {
        minijinja::context! { error, name => f.name.clone(), email => f.email.clone(), invite => f.invite.clone() }
    };
    let parsed = (|| {
        let email = Email::parse(&f.email)?;
        let name = parse_display_name(&f.name)?;
        check_new_password(&f.password, email.as_str(), &name)?;
        Ok::<_, colloquy_core::Invalid>((email, name))
    })();
    let (email, name) = match parsed {
        Ok(v) => v,
        Err(e) => {
            return register_form(
                &state,
                &headers,
                StatusCode::UNPROCESSABLE_ENTITY,
                again(e.message),
            )
            .await
        }
    };
    if policy == RegistrationPolicy::Invitation {
        let invite = auth::hash_token(&f.invite);
        // The address is checked before the invitation is spent: a typo does not waste it.
        let outcome = match state
            .store
            .peek_account_link(&invite, LinkPurpose::Invite.as_str())
            .await?
        {
            LinkOutcome::Used(link) if link.email.eq_ignore_ascii_case(email.as_str()) => {
                state
                    .store
                    .use_account_link(&invite, LinkPurpose::Invite.as_str())
                    .await?
            }
            other => other,
        };
        match outcome {
            LinkOutcome::Used(link) if link.email.eq_ignore_ascii_case(email.as_str()) => {}
            LinkOutcome::Used(_) => {
                return register_form(
                    &state,
                    &headers,
                    StatusCode::FORBIDDEN,
                    again("this invitation is for another address".into()),
                )
                .await
            }
            other => {
                let (status, why) = link_refused(&other);
                return notice(&state, status, "Create an account", why).await;
            }
        }
    }
    let text = format!(
        "We sent a link to {} to prove the address is yours. Until you follow it you can sign in and read, but not write.",
        email.as_str()
    );
    match state.store.user_by_email(email.as_str()).await {
        // Someone already has it: tell its owner, not the visitor.
        Ok(_) => {
            mail_link(&state, LinkPurpose::SignIn, email.as_str(), None, "").await?;
        }
        Err(_) => {
            let hash = auth::hash_password(&f.password)?;
            let id = new_member(&state, email.as_str(), Some(&name), Some(&hash), false).await?;
            mail_link(&state, LinkPurpose::Verify, email.as_str(), Some(id), "").await?;
        }
    }
    notice(&state, StatusCode::CREATED, "Check your mail", &text).await
}

async fn verify_page(
    State(state): State<SharedState>,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    confirm_page(
        &state,
        &headers,
        q.token.as_deref().unwrap_or(""),
        LinkPage {
            purpose: LinkPurpose::Verify,
            title: "Confirm your address",
            text: "Confirm that this address is yours.",
            action: "/verify",
            button: "Confirm",
        },
    )
    .await
}

async fn verify(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> Result<Response, WebError> {
    auth::check_login_csrf(&state, &headers, &f.csrf, "form")?;
    let link = match spend_link(
        &state,
        &f.token,
        LinkPurpose::Verify,
        "Confirm your address",
    )
    .await?
    {
        Ok(link) => link,
        Err(page) => return Ok(page),
    };
    let Some(user_id) = link.user_id else {
        return Err(WebError::NotFound);
    };
    state.store.mark_email_verified(user_id).await?;
    auth::start_session(&state, &headers, peer, user_id, "/account").await
}

async fn forgot_page(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (csrf, cookie) = auth::login_csrf(&state, &headers);
    let res = render(
        &state,
        "account/forgot.html",
        "Forgot your password?",
        StatusCode::OK,
        minijinja::context! { login_csrf => csrf },
    )
    .await?;
    Ok(auth::with_cookie(res, cookie))
}

async fn forgot(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<EmailForm>,
) -> Result<Response, WebError> {
    auth::check_login_csrf(&state, &headers, &f.csrf, "form")?;
    let email = Email::parse(&f.email)?;
    if let Ok(u) = state.store.user_by_email(email.as_str()).await {
        mail_link(&state, LinkPurpose::Reset, email.as_str(), Some(u.id), "").await?;
    }
    notice(
        &state,
        StatusCode::ACCEPTED,
        "Check your mail",
        &format!(
            "If {} has an account here, a link to choose a new password is on its way. It works once, for an hour.",
            email.as_str()
        ),
    )
    .await
}

async fn reset_page(
    State(state): State<SharedState>,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let token = q.token.unwrap_or_default();
    reset_form(&state, &headers, &token, StatusCode::OK, None).await
}

async fn reset_form(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, WebError> {
    let outcome = state
        .store
        .peek_account_link(&auth::hash_token(token), LinkPurpose::Reset.as_str())
        .await?;
    if !matches!(outcome, LinkOutcome::Used(_)) {
        let (status, why) = link_refused(&outcome);
        return notice(state, status, "Choose a new password", why).await;
    }
    let (csrf, cookie) = auth::login_csrf(state, headers);
    let res = render(
        state,
        "account/reset.html",
        "Choose a new password",
        status,
        minijinja::context! { login_csrf => csrf, token, error },
    )
    .await?;
    Ok(auth::with_cookie(res, cookie))
}

#[derive(Deserialize)]
struct ResetForm {
    token: String,
    password: String,
    csrf: String,
}

async fn reset(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<ResetForm>,
) -> Result<Response, WebError> {
    auth::check_login_csrf(&state, &headers, &f.csrf, "form")?;
    let hash = auth::hash_token(&f.token);
    // Check the password before using the link, so a weak one does not waste it.
    if let LinkOutcome::Used(link) = state
        .store
        .peek_account_link(&hash, LinkPurpose::Reset.as_str())
        .await?
    {
        let name = match link.user_id {
            Some(id) => state
                .store
                .user_by_id(id)
                .await
                .map(|u| u.name)
                .unwrap_or_default(),
            None => String::new(),
        };
        if let Err(e) = check_new_password(&f.password, &link.email, &name) {
            return reset_form(
                &state,
                &headers,
                &f.token,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(e.message),
            )
            .await;
        }
    }
    let link = match spend_link(
        &state,
        &f.token,
        LinkPurpose::Reset,
        "Choose a new password",
    )
    .await?
    {
        Ok(link) => link,
        Err(page) => return Ok(page),
    };
    let Some(user_id) = link.user_id else {
        return Err(WebError::NotFound);
    };
    state
        .store
        .set_password(user_id, &auth::hash_password(&f.password)?)
        .await?;
    state.store.mark_email_verified(user_id).await?;
    state
        .store
        .clear_login_failures(&format!("email:{}", link.email.to_lowercase()))
        .await?;
    auth::start_session(&state, &headers, peer, user_id, "/account").await
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    pub csrf: String,
}

async fn sign_out(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    auth::end_session(&state, &headers, &f.csrf, "/").await
}

async fn join_page(
    State(state): State<SharedState>,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    confirm_page(
        &state,
        &headers,
        q.token.as_deref().unwrap_or(""),
        LinkPage {
            purpose: LinkPurpose::LinkIdentity,
            title: "Join your sign-in",
            text: "Join the sign-in provider you used to your account here, and sign in.",
            action: "/sign-in/join",
            button: "Join and sign in",
        },
    )
    .await
}

/// The signed-in member, or the sign-in page that comes back here.
async fn member(
    state: &AppState,
    headers: &HeaderMap,
    here: &str,
) -> Result<CurrentUser, Response> {
    match auth::current_user(state, headers).await {
        Some(u) => Ok(u),
        None => Err(Redirect::to(&format!("/sign-in?next={here}")).into_response()),
    }
}

macro_rules! member_or_return {
    ($state:expr, $headers:expr, $here:expr) => {
        match member(&$state, &$headers, $here).await {
            Ok(u) => u,
            Err(r) => return Ok(r),
        }
    };
}

async fn profile_page(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let me = member_or_return!(state, headers, "/account");
    profile_form(&state, &me, StatusCode::OK, None, None).await
}

async fn profile_form(
    state: &AppState,
    me: &CurrentUser,
    status: StatusCode,
    error: Option<String>,
    saved: Option<&str>,
) -> Result<Response, WebError> {
    let identities = state.store.identities_of(me.user.id).await?;
    let linked: Vec<&str> = identities.iter().map(|i| i.provider.as_str()).collect();
    let unlinked: Vec<minijinja::Value> = state
        .config
        .oidc_providers
        .iter()
        .filter(|p| !linked.contains(&p.id.as_str()))
        .map(|p| minijinja::context! { id => p.id, name => p.name })
        .collect();
    let names: std::collections::HashMap<&str, &str> = state
        .config
        .oidc_providers
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    let identities: Vec<minijinja::Value> = identities
        .iter()
        .map(|i| {
            minijinja::context! {
                id => i.id, email => i.email,
                name => names.get(i.provider.as_str()).copied().unwrap_or(i.provider.as_str()),
            }
        })
        .collect();
    render(
        state,
        "account/profile.html",
        "Your account",
        status,
        minijinja::context! {
            me => minijinja::context! {
                name => me.user.name, email => me.user.email, bio => me.user.bio_markdown, slug => me.user.slug,
                avatar => crate::render::avatar_url(&me.user.slug, me.user.avatar_file.as_deref()),
                website => me.user.website, hidden => me.user.profile_hidden,
                verified => me.user.email_verified_at.is_some(), role => me.user.role,
                has_password => me.user.password_hash.is_some(),
            },
            csrf => me.csrf, error, saved, identities, unlinked,
        },
    )
    .await
}

#[derive(Deserialize)]
struct ProfileForm {
    csrf: String,
    name: String,
    #[serde(default)]
    bio: String,
    #[serde(default)]
    website: String,
    hidden: Option<String>,
}

async fn save_profile(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<ProfileForm>,
) -> Result<Response, WebError> {
    let me = member_or_return!(state, headers, "/account");
    me.check_csrf(&f.csrf)?;
    let parsed = (|| {
        let name = parse_display_name(&f.name)?;
        let website = colloquy_core::thought::parse_website(&f.website)?.unwrap_or_default();
        if f.bio.len() > 5000 {
            return Err(colloquy_core::Invalid::new(
                "bio",
                "the bio is longer than 5,000 characters",
            ));
        }
        Ok((name, website))
    })();
    let (name, website) = match parsed {
        Ok(v) => v,
        Err(e) => {
            return profile_form(
                &state,
                &me,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(e.message),
                None,
            )
            .await
        }
    };
    let bio_html = colloquy_core::markdown::render(&f.bio);
    state
        .store
        .update_member_profile(
            me.user.id,
            &name,
            &f.bio,
            &bio_html,
            &website,
            f.hidden.is_some(),
        )
        .await?;
    state.content_changed().await;
    let me = auth::current_user(&state, &headers)
        .await
        .ok_or(WebError::Unauthorized)?;
    profile_form(&state, &me, StatusCode::OK, None, Some("Saved.")).await
}

async fn sessions_page(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let me = member_or_return!(state, headers, "/account/sessions");
    let this = auth::cookie(&headers, auth::cookie_name(&state))
        .map(auth::hash_token)
        .unwrap_or_default();
    let tz = state.settings().tz();
    let sessions: Vec<minijinja::Value> = state
        .store
        .sessions_of(me.user.id)
        .await?
        .into_iter()
        .map(|(hash, s)| {
            minijinja::context! {
                handle => s.handle,
                device => describe_agent(&s.user_agent),
                ip => s.ip,
                since => crate::render::human_date(s.created_at, &tz),
                seen => crate::render::human_date(s.last_seen_at.max(s.created_at), &tz),
                current => hash == this,
            }
        })
        .collect();
    render(
        &state,
        "account/sessions.html",
        "Signed-in devices",
        StatusCode::OK,
        minijinja::context! { sessions, csrf => me.csrf },
    )
    .await
}

/// A short name for a browser from its User-Agent ("Firefox on Linux").
fn describe_agent(ua: &str) -> String {
    if ua.is_empty() {
        return "Unknown browser".into();
    }
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(k, _)| ua.contains(k))
    .map(|(_, v)| *v)
    .unwrap_or("A browser");
    let os = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(k, _)| ua.contains(k))
    .map(|(_, v)| *v);
    match os {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_owned(),
    }
}

#[derive(Deserialize)]
struct EndForm {
    csrf: String,
    handle: String,
}

async fn end_session(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<EndForm>,
) -> Result<Response, WebError> {
    let me = member_or_return!(state, headers, "/account/sessions");
    me.check_csrf(&f.csrf)?;
    state.store.end_session(me.user.id, &f.handle).await?;
    Ok(Redirect::to("/account/sessions").into_response())
}

async fn end_others(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let me = member_or_return!(state, headers, "/account/sessions");
    me.check_csrf(&f.csrf)?;
    let this = auth::cookie(&headers, auth::cookie_name(&state))
        .map(auth::hash_token)
        .unwrap_or_default();
    state.store.end_other_sessions(me.user.id, &this).await?;
    Ok(Redirect::to("/account/sessions").into_response())
}

async fn remove_identity(
    State(state): State<SharedState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let me = member_or_return!(state, headers, "/account");
    me.check_csrf(&f.csrf)?;
    state.store.remove_identity(me.user.id, id).await?;
    Ok(Redirect::to("/account").into_response())
}

/// An admin invites someone by email (the way in on an invitation-only site).
async fn invite(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<EmailForm>,
) -> Result<Response, WebError> {
    let me = match super::admin::signed_in(&state, &headers).await {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    me.check_csrf(&f.csrf)?;
    me.require(me.role.can_administer())?;
    let email = Email::parse(&f.email)?;
    if state.store.user_by_email(email.as_str()).await.is_ok() {
        return Err(WebError::Conflict(format!(
            "{} already has an account",
            email.as_str()
        )));
    }
    if !mail_link(&state, LinkPurpose::Invite, email.as_str(), None, "").await? {
        return Err(WebError::TooManyRequests(LINK_WINDOW as u64));
    }
    Ok(Redirect::to(&format!(
        "/admin/users?invited={}",
        percent_encoding::utf8_percent_encode(email.as_str(), percent_encoding::NON_ALPHANUMERIC)
    ))
    .into_response())
}

/// Mails the address-proof link again.
async fn verify_again(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let me = member_or_return!(state, headers, "/account");
    me.check_csrf(&f.csrf)?;
    if me.user.email_verified_at.is_some() {
        return Ok(Redirect::to("/account").into_response());
    }
    let sent = mail_link(
        &state,
        LinkPurpose::Verify,
        &me.user.email,
        Some(me.user.id),
        "",
    )
    .await?;
    let text = if sent {
        format!("A new link is on its way to {}.", me.user.email)
    } else {
        "Several links went out in the last minutes: use the newest one, or try again in a quarter of an hour.".into()
    };
    profile_form(&state, &me, StatusCode::OK, None, Some(&text)).await
}

/// The member's writing with the addresses it lives at.
async fn writing(state: &AppState, me: &CurrentUser) -> Result<serde_json::Value, WebError> {
    let w = state.store.member_writing(me.user.id).await?;
    let tz = state.settings().tz();
    let base = &state.config.base_url;
    let thoughts: Vec<serde_json::Value> = w
        .thoughts
        .iter()
        .map(|t| {
            serde_json::json!({
                "id": t.id, "kind": t.kind, "status": t.status, "text": t.body_markdown,
                "written": crate::render::iso(t.created_at), "changed": crate::render::iso(t.updated_at),
                "on": t.post_title,
                "url": format!("{base}{}#thought-{}", crate::render::post_path(&t.post_kind, &t.post_slug, t.post_publish_at, &tz), t.id),
            })
        })
        .collect();
    let messages: Vec<serde_json::Value> = w
        .messages
        .iter()
        .map(|m| {
            serde_json::json!({
                "id": m.id, "kind": m.kind, "question": m.question, "text": m.body, "hidden": m.hidden,
                "written": crate::render::iso(m.created_at), "debate": m.debate_title,
                "url": format!("{base}{}live#m{}", crate::live::debate_path(&m.debate_slug), m.id),
            })
        })
        .collect();
    Ok(serde_json::json!({
        "account": {
            "name": me.user.name, "email": me.user.email, "role": me.user.role,
            "bio": me.user.bio_markdown, "website": me.user.website,
            "created": crate::render::iso(me.user.created_at),
            "public_page_hidden": me.user.profile_hidden,
            "sign_in_providers": state.store.identities_of(me.user.id).await?.iter().map(|i| i.provider.clone()).collect::<Vec<_>>(),
        },
        "thoughts": thoughts,
        "debate_messages": messages,
        "exported": crate::render::iso(colloquy_store::now()),
    }))
}

fn download(body: String, content_type: &'static str, name: &str) -> Response {
    no_store(
        (
            [
                (header::CONTENT_TYPE, content_type.to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            body,
        )
            .into_response(),
    )
}

async fn data_json(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let me = member_or_return!(state, headers, "/account");
    let data = writing(&state, &me).await?;
    Ok(download(
        serde_json::to_string_pretty(&data).map_err(anyhow::Error::from)?,
        "application/json",
        "my-colloquy-data.json",
    ))
}

async fn data_markdown(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    use std::fmt::Write;
    let me = member_or_return!(state, headers, "/account");
    let data = writing(&state, &me).await?;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# What {} wrote on {}\n",
        me.user.name,
        state.settings().title
    );
    let _ = writeln!(
        md,
        "Exported {}.\n",
        data["exported"].as_str().unwrap_or("")
    );
    let _ = writeln!(md, "## Thoughts\n");
    for t in data["thoughts"].as_array().into_iter().flatten() {
        let _ = writeln!(
            md,
            "### On “{}”, {}\n\n<{}>\n\n{}\n",
            t["on"].as_str().unwrap_or(""),
            t["written"].as_str().unwrap_or(""),
            t["url"].as_str().unwrap_or(""),
            t["text"].as_str().unwrap_or("")
        );
    }
    let _ = writeln!(md, "## Debate messages\n");
    for m in data["debate_messages"].as_array().into_iter().flatten() {
        let _ = writeln!(
            md,
            "### In “{}”, {}\n\n<{}>\n\n{}\n",
            m["debate"].as_str().unwrap_or(""),
            m["written"].as_str().unwrap_or(""),
            m["url"].as_str().unwrap_or(""),
            m["text"].as_str().unwrap_or("")
        );
    }
    Ok(download(
        md,
        "text/markdown; charset=utf-8",
        "my-colloquy-data.md",
    ))
}

async fn delete_page(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let me = member_or_return!(state, headers, "/account/delete");
    render(
        &state,
        "account/delete.html",
        "Delete your account",
        StatusCode::OK,
        minijinja::context! { csrf => me.csrf, email => me.user.email, error => None::<String> },
    )
    .await
}

#[derive(Deserialize)]
struct DeleteForm {
    csrf: String,
    confirm_email: String,
    /// "keep" (signed "former member") or "remove".
    thoughts: String,
}

async fn delete_account(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<DeleteForm>,
) -> Result<Response, WebError> {
    let me = member_or_return!(state, headers, "/account/delete");
    me.check_csrf(&f.csrf)?;
    let again = |error: &str| {
        render(
            &state,
            "account/delete.html",
            "Delete your account",
            StatusCode::UNPROCESSABLE_ENTITY,
            minijinja::context! { csrf => me.csrf, email => me.user.email, error },
        )
    };
    if !f.confirm_email.trim().eq_ignore_ascii_case(&me.user.email) {
        return again("Type your email address exactly to confirm.").await;
    }
    let remove = match f.thoughts.as_str() {
        "keep" => false,
        "remove" => true,
        _ => return again("Choose what becomes of what you wrote.").await,
    };
    match state.store.delete_member(me.user.id, remove).await {
        Ok(()) => {}
        Err(colloquy_store::StoreError::Conflict(m)) => return again(&m).await,
        Err(e) => return Err(e.into()),
    }
    state.content_changed().await;
    let mut res = notice(
        &state,
        StatusCode::OK,
        "Account deleted",
        if remove {
            "Your account is deleted and what you wrote is taken down. No more mail will come from us."
        } else {
            "Your account is deleted; what you wrote stays, signed “former member”. No more mail will come from us."
        },
    )
    .await?;
    let c = auth::set_cookie(&state, auth::cookie_name(&state), "", 0);
    res.headers_mut()
        .append(header::SET_COOKIE, c.parse().map_err(anyhow::Error::from)?);
    Ok(res)
}

/// A member's public page: who they are and what they wrote (unless they hid it).
async fn person_page(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
) -> Result<Response, WebError> {
    let user = state.store.user_by_slug(&slug).await?;
    if user.profile_hidden {
        return Err(WebError::NotFound);
    }
    let w = state.store.member_writing(user.id).await?;
    let tz = state.settings().tz();
    let thoughts: Vec<minijinja::Value> = w
        .thoughts
        .iter()
        .filter(|t| t.status == "approved" && t.kind == "comment")
        .rev()
        .take(50)
        .map(|t| {
            minijinja::context! {
                on => t.post_title, when => crate::render::human_date(t.created_at, &tz),
                url => format!("{}#thought-{}", crate::render::post_path(&t.post_kind, &t.post_slug, t.post_publish_at, &tz), t.id),
                excerpt => colloquy_core::markdown::excerpt(&colloquy_core::markdown::plain_text(&t.body_markdown), 40),
            }
        })
        .collect();
    let messages: Vec<minijinja::Value> = w
        .messages
        .iter()
        .filter(|m| !m.hidden)
        .rev()
        .take(50)
        .map(|m| {
            minijinja::context! {
                debate => m.debate_title, when => crate::render::human_date(m.created_at, &tz),
                url => format!("{}live#m{}", crate::live::debate_path(&m.debate_slug), m.id),
                excerpt => colloquy_core::markdown::excerpt(&m.body, 40),
            }
        })
        .collect();
    render(
        &state,
        "account/person.html",
        &user.name,
        StatusCode::OK,
        minijinja::context! {
            person => minijinja::context! {
                name => user.name, bio_html => user.bio_html, website => user.website,
                avatar => crate::render::avatar_url(&user.slug, user.avatar_file.as_deref()),
                since => crate::render::human_date(user.created_at, &tz),
            },
            thoughts, messages,
        },
    )
    .await
}

/// A member's own picture (the generated one is used until they upload one).
async fn save_avatar(
    State(state): State<SharedState>,
    headers: HeaderMap,
    mp: Multipart,
) -> Result<Response, WebError> {
    let me = member_or_return!(state, headers, "/account");
    let (f, file) = super::admin::read_form(mp, "avatar").await?;
    me.check_csrf(f.get("csrf").map(String::as_str).unwrap_or(""))?;
    let Some(data) = file else {
        return profile_form(
            &state,
            &me,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Choose a picture to upload.".into()),
            None,
        )
        .await;
    };
    match super::media::save_image(&state, &data).await {
        Ok(name) => state.store.set_user_avatar(me.user.id, &name).await?,
        Err(WebError::Invalid(e)) => {
            return profile_form(
                &state,
                &me,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(e.message),
                None,
            )
            .await
        }
        Err(e) => return Err(e),
    }
    state.content_changed().await;
    Ok(Redirect::to("/account").into_response())
}
