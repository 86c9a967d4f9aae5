//! Passwords, sessions, API tokens and CSRF.
//!
//! Secrets handed to browsers and API clients are 256-bit random tokens; only their SHA-256
//! is stored, so a copy of the database does not let anyone sign in.

use crate::error::WebError;
use crate::AppState;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use colloquy_core::Role;
use colloquy_store::UserRow;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const SESSION_TTL: i64 = 14 * 86_400;

pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Argon2id with the crate's default (OWASP-recommended) parameters.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Spends about as long as a real verification, so a missing account cannot be told
/// from a wrong password by timing.
pub fn waste_a_verification(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let h = DUMMY
        .get_or_init(|| hash_password("not a real password, only for timing").unwrap_or_default());
    let _ = verify_password(password, h);
}

pub fn cookie_name(state: &AppState) -> &'static str {
    if state.secure_cookies {
        "__Host-colloquy_session"
    } else {
        "colloquy_session"
    }
}

pub fn login_csrf_cookie_name(state: &AppState) -> &'static str {
    if state.secure_cookies {
        "__Host-colloquy_csrf"
    } else {
        "colloquy_csrf"
    }
}

pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if state.secure_cookies { "; Secure" } else { "" }
    )
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A signed-in person in the admin, with the CSRF token their forms must carry.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: UserRow,
    pub role: Role,
    pub csrf: String,
}

pub async fn current_user(state: &AppState, headers: &HeaderMap) -> Option<CurrentUser> {
    let token = cookie(headers, cookie_name(state))?;
    let hash = hash_token(token);
    let s = state.store.session(&hash).await.ok()?;
    if colloquy_store::now() - s.last_seen_at > colloquy_store::SEEN_EVERY {
        let _ = state.store.touch_session(&hash).await;
    }
    let role = Role::parse(&s.user.role).ok()?;
    Some(CurrentUser {
        user: s.user,
        role,
        csrf: s.csrf,
    })
}

/// A keyed signature (HMAC-SHA-256, 128 bits in hex) of `msg` with the site secret: for
/// links and form stamps that must work without a session and cannot be forged.
pub fn sign(secret: &str, msg: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(msg.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// Constant-time comparison for tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl CurrentUser {
    pub fn check_csrf(&self, submitted: &str) -> Result<(), WebError> {
        if same_token(&self.csrf, submitted) {
            Ok(())
        } else {
            Err(WebError::Forbidden(
                "the form's security token did not match; reload the page and try again".into(),
            ))
        }
    }

    pub fn require(&self, ok: bool) -> Result<(), WebError> {
        if ok {
            Ok(())
        } else {
            Err(WebError::Forbidden("your role does not allow this".into()))
        }
    }
}

/// The user behind an API request's `Authorization: Bearer` token.
pub async fn api_user(state: &AppState, headers: &HeaderMap) -> Result<(UserRow, Role), WebError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(WebError::Unauthorized)?;
    let user = state
        .store
        .user_by_api_token(&hash_token(token))
        .await
        .map_err(|_| WebError::Unauthorized)?;
    let role = Role::parse(&user.role).map_err(|_| WebError::Unauthorized)?;
    Ok((user, role))
}

pub fn client_ip(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<std::net::SocketAddr>,
) -> String {
    match peer {
        Some(p) => forwarded_client(&state.config.trusted_proxies, headers, p.ip()).to_string(),
        None => "unknown".into(),
    }
}

/// The client's address. Any client can send `X-Forwarded-For`, so it is read only when the
/// connection comes from a configured proxy, and then from the right: each trusted proxy
/// appends the address it got the request from, so the rightmost address that is not a
/// trusted proxy is the client (what a client wrote itself is further left and ignored).
pub fn forwarded_client(
    trusted: &[colloquy_core::thought::IpRange],
    headers: &HeaderMap,
    peer: std::net::IpAddr,
) -> std::net::IpAddr {
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|r| r.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<std::net::IpAddr>() {
            Ok(ip) if is_trusted(ip) => client = ip,
            Ok(ip) => return ip,
            // Garbage where an address belongs: stop at the last address known good.
            Err(_) => return client,
        }
    }
    client
}

/// Hashes the password and stores the account; the one way password accounts are made.
pub async fn create_password_account(
    store: &colloquy_store::Store,
    account: &colloquy_core::user::NewAccount,
    password: &str,
) -> Result<i64, WebError> {
    let hash = hash_password(password)?;
    Ok(store
        .create_user(colloquy_store::NewUser {
            email: account.email.as_str(),
            name: &account.name,
            slug: account.slug.as_str(),
            role: account.role.as_str(),
            password_hash: Some(&hash),
            bio_markdown: "",
            bio_html: "",
        })
        .await?)
}

/// A return address after sign-in: only a path on this site (no `//host`, no scheme).
pub fn local_path(next: Option<&str>) -> Option<String> {
    let n = next?.trim();
    let ok = n.starts_with('/')
        && !n.starts_with("//")
        && !n.contains('\\')
        && !n.chars().any(|c| c.is_control())
        && n.len() <= 500;
    ok.then(|| n.to_string())
}

/// The double-submit token of forms shown before there is a session (and the cookie to
/// set, when the browser has none yet).
pub fn login_csrf(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, login_csrf_cookie_name(state)) {
        Some(t) if t.len() >= 32 => (t.to_owned(), None),
        _ => {
            let t = random_token();
            let c = set_cookie(state, login_csrf_cookie_name(state), &t, 3600);
            (t, Some(c))
        }
    }
}

/// Checks a form shown before there is a session against its double-submit cookie;
/// `what` names the form in the refusal ("sign-in form").
pub fn check_login_csrf(
    state: &AppState,
    headers: &HeaderMap,
    submitted: &str,
    what: &str,
) -> Result<(), WebError> {
    let cookie_token = cookie(headers, login_csrf_cookie_name(state)).unwrap_or("");
    if same_token(cookie_token, submitted) {
        Ok(())
    } else {
        Err(WebError::Forbidden(format!(
            "the {what} expired; reload the page and try again"
        )))
    }
}

pub fn with_cookie(mut res: Response, cookie: Option<String>) -> Response {
    if let Some(c) = cookie {
        if let Ok(v) = c.parse() {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// The cookie that ties an OpenID Connect sign-in to the browser that started it.
pub fn oidc_browser_cookie(state: &AppState) -> &'static str {
    if state.secure_cookies {
        "__Host-colloquy_oidc"
    } else {
        "colloquy_oidc"
    }
}

/// The cookie that carries a sign-in between its first factor and its one-time code.
pub fn second_factor_cookie(state: &AppState) -> &'static str {
    if state.secure_cookies {
        "__Host-colloquy_2fa"
    } else {
        "colloquy_2fa"
    }
}

/// Signs a user in on this device after any first factor (password, mailed link, provider,
/// reset): with two-factor sign-in on, the one-time code comes first (`/sign-in/code`).
pub async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    peer: std::net::SocketAddr,
    user_id: i64,
    to: &str,
) -> Result<Response, WebError> {
    let user = state.store.user_by_id(user_id).await?;
    if user.totp_secret.is_none() {
        return open_session(state, headers, peer, user_id, to).await;
    }
    use colloquy_core::account::LinkPurpose;
    let token = random_token();
    state
        .store
        .create_account_link(
            &hash_token(&token),
            LinkPurpose::SecondFactor.as_str(),
            &user.email,
            Some(user_id),
            to,
            LinkPurpose::SecondFactor.ttl(),
        )
        .await?;
    let mut res = axum::response::Redirect::to("/sign-in/code").into_response();
    let c = set_cookie(
        state,
        second_factor_cookie(state),
        &token,
        LinkPurpose::SecondFactor.ttl(),
    );
    res.headers_mut()
        .append(header::SET_COOKIE, c.parse().map_err(anyhow::Error::from)?);
    Ok(res)
}

/// Signs a user in on this device: a new session (a fresh token at every sign-in, so a
/// token planted before cannot be carried into the account), remembered with the device's
/// browser and address for the member's list of devices.
pub async fn open_session(
    state: &AppState,
    headers: &HeaderMap,
    peer: std::net::SocketAddr,
    user_id: i64,
    to: &str,
) -> Result<Response, WebError> {
    let token = random_token();
    let csrf = random_token();
    let agent: String = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(300)
        .collect();
    state
        .store
        .create_device_session(
            &hash_token(&token),
            user_id,
            &csrf,
            SESSION_TTL,
            &agent,
            &client_ip(state, headers, Some(peer)),
        )
        .await?;
    if let Some(old) = cookie(headers, cookie_name(state)) {
        let _ = state.store.delete_session(&hash_token(old)).await;
    }
    let mut res = axum::response::Redirect::to(to).into_response();
    let c = set_cookie(state, cookie_name(state), &token, SESSION_TTL);
    res.headers_mut()
        .append(header::SET_COOKIE, c.parse().map_err(anyhow::Error::from)?);
    Ok(res)
}

/// Signs this device out (after checking the form's token) and goes to `to`.
pub async fn end_session(
    state: &AppState,
    headers: &HeaderMap,
    csrf: &str,
    to: &str,
) -> Result<Response, WebError> {
    if let Some(me) = current_user(state, headers).await {
        me.check_csrf(csrf)?;
        if let Some(t) = cookie(headers, cookie_name(state)) {
            state.store.delete_session(&hash_token(t)).await?;
        }
    }
    let mut res = axum::response::Redirect::to(to).into_response();
    let c = set_cookie(state, cookie_name(state), "", 0);
    res.headers_mut()
        .append(header::SET_COOKIE, c.parse().map_err(anyhow::Error::from)?);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::forwarded_client;
    use axum::http::{HeaderMap, HeaderValue};
    use colloquy_core::thought::IpRange;
    use std::net::IpAddr;

    fn client(trusted: &[&str], xff: &[&str], peer: &str) -> IpAddr {
        let trusted: Vec<IpRange> = trusted.iter().map(|t| IpRange::parse(t).unwrap()).collect();
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        forwarded_client(&trusted, &h, peer.parse().unwrap())
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        // No proxy configured, or a connection from elsewhere: the header is anyone's words.
        assert_eq!(
            client(&[], &["203.0.113.9"], "198.51.100.1"),
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client(&["10.0.0.0/8"], &["203.0.113.9"], "198.51.100.1"),
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
        // Through the proxy: the address it appended.
        assert_eq!(
            client(&["10.0.0.0/8"], &["203.0.113.9"], "10.0.0.2"),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn a_client_cannot_choose_its_address_by_sending_the_header_itself() {
        // The client wrote "192.0.2.1"; the proxy appended the address it really came from.
        assert_eq!(
            client(&["10.0.0.2"], &["192.0.2.1, 203.0.113.9"], "10.0.0.2"),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // Two proxies in a row, the header split over two lines: the first untrusted from the right.
        assert_eq!(
            client(
                &["10.0.0.0/8"],
                &["192.0.2.1", "203.0.113.9, 10.0.0.7"],
                "10.0.0.2"
            ),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // Garbage stops the walk at the last good address; no header leaves the proxy itself.
        assert_eq!(
            client(&["10.0.0.0/8"], &["nonsense, 10.0.0.7"], "10.0.0.2"),
            "10.0.0.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client(&["10.0.0.0/8"], &[], "10.0.0.2"),
            "10.0.0.2".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client(&["::1"], &["2001:db8::5"], "::1"),
            "2001:db8::5".parse::<IpAddr>().unwrap()
        );
    }
}
