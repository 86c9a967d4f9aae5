//! Sign in with OpenID Connect, against the real test provider in `tests/oidc/`
//! (oidc-provider under Node, on loopback; see its README.md).
//!
//! Every test starts its own provider (`--port 0`), reads the issuer from its ready line, and
//! kills it when the test ends, so the one-shot misbehaviour modes never leak between tests.
//! The "browser" is a reqwest client with a cookie jar that does not follow redirects: it
//! follows the provider's 303s itself (with `login_hint`, no form is shown) and stops at the
//! redirect to our callback URL, which nothing listens on.
//!
//! Without `node` or `tests/oidc/node_modules` the tests print SKIPPED and pass, unless
//! `COLLOQUY_REQUIRE_SERVICES=1` (as in CI), when they fail.

use base64::Engine as _;
use colloquy_federation::oidc::{Claims, OidcError, Provider, ProviderConfig, Started};
use colloquy_federation::{FetchConfig, Fetcher};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

const CLIENT_ID: &str = "colloquy";
const CLIENT_SECRET: &str = "s3cret-for-tests";
/// Never contacted: the test reads `code` and `state` from the provider's redirect to it.
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
const READY: &str = "oidc provider ready on ";

// ---------------------------------------------------------------------------------------
// The test provider

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether node and the provider's packages are there; if not, SKIPPED (or a panic when
/// `COLLOQUY_REQUIRE_SERVICES=1`).
fn provider_available(test: &str) -> bool {
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let modules = workspace_root()
        .join("tests/oidc/node_modules/oidc-provider")
        .is_dir();
    let missing = match (node, modules) {
        (true, true) => return true,
        (false, _) => "`node` is not installed",
        (true, false) => "tests/oidc/node_modules is missing (run `npm ci` in tests/oidc)",
    };
    if std::env::var("COLLOQUY_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!("{test}: the OpenID Connect test provider is required: {missing}");
    }
    eprintln!(
        "\n*** SKIPPED {test}: {missing}; the OpenID Connect tests did NOT run ***\n\
         *** (set COLLOQUY_REQUIRE_SERVICES=1 to make this a failure) ***\n"
    );
    false
}

/// A running test provider; killed when dropped (also when the test panics).
struct TestProvider {
    child: Child,
    issuer: String,
    /// The loopback base URL it listens on (the issuer, unless `--issuer` said otherwise).
    base: String,
    stderr: Arc<Mutex<String>>,
}

impl TestProvider {
    /// Start on a free port; `None` when skipped.
    async fn start(test: &str) -> Option<Self> {
        if !provider_available(test) {
            return None;
        }
        Some(Self::spawn(0, None).await)
    }

    async fn spawn(port: u16, issuer: Option<&str>) -> Self {
        let clients = format!(
            r#"[{{"client_id":"{CLIENT_ID}","client_secret":"{CLIENT_SECRET}","redirect_uris":["{REDIRECT_URI}"]}}]"#
        );
        let mut command = Command::new("node");
        command
            .current_dir(workspace_root())
            .arg("tests/oidc/provider.mjs")
            .args(["--port", &port.to_string(), "--clients", &clients]);
        if let Some(issuer) = issuer {
            command.args(["--issuer", issuer]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start node tests/oidc/provider.mjs");

        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut buf = vec![0; 4096];
            while let Ok(n) = err_pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        let issuer = match ready {
            Ok(Ok(Some(line))) if line.starts_with(READY) => line[READY.len()..].to_owned(),
            other => panic!(
                "the test provider did not get ready ({other:?}); its stderr:\n{}",
                stderr.lock().unwrap()
            ),
        };
        // Keep reading stdout so that the provider never writes into a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let base = match issuer_port(&issuer) {
            Some(_) => issuer.clone(),
            None => format!("http://127.0.0.1:{port}"),
        };
        Self {
            child,
            issuer,
            base,
            stderr,
        }
    }

    fn port(&self) -> u16 {
        issuer_port(&self.base).expect("loopback base URL with a port")
    }

    fn config(&self) -> ProviderConfig {
        config_for(&self.issuer)
    }

    async fn discover(&self) -> Provider {
        Provider::discover(&fetcher(), self.config(), REDIRECT_URI)
            .await
            .unwrap_or_else(|e| panic!("discovery failed: {e}\n{}", self.stderr()))
    }

    /// Make the next successful token response misbehave (see the README's table).
    async fn set_mode(&self, mode: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}/__test/mode", self.base))
            .header("content-type", "application/json")
            .body(format!(r#"{{"mode":"{mode}"}}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "setting mode {mode}");
    }

    fn stderr(&self) -> String {
        format!("provider stderr:\n{}", self.stderr.lock().unwrap())
    }

    async fn stop(mut self) {
        self.child.kill().await.unwrap();
    }
}

fn issuer_port(url: &str) -> Option<u16> {
    let url = url::Url::parse(url).ok()?;
    (url.host_str() == Some("127.0.0.1"))
        .then(|| url.port())
        .flatten()
}

fn config_for(issuer: &str) -> ProviderConfig {
    ProviderConfig {
        id: "test".into(),
        issuer: issuer.into(),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        name: "Test provider".into(),
        button_label: "Sign in with the test provider".into(),
    }
}

/// The guarded client, with loopback allowed (the provider is on 127.0.0.1).
fn fetcher() -> Fetcher {
    Fetcher::new(FetchConfig {
        allow_private: true,
        ..FetchConfig::default()
    })
    .unwrap()
}

// ---------------------------------------------------------------------------------------
// The browser

/// What the provider's final redirect to our callback URL carried.
struct Returned {
    /// The whole query string, for `Provider::parse_callback`.
    query: String,
    params: HashMap<String, String>,
}

impl Returned {
    fn code(&self) -> &str {
        &self.params["code"]
    }
}

/// Follow the provider's redirects from `url` (an authorization URL) until one leaves for
/// our callback URL, like a browser that has a cookie jar.
async fn browse(url: &str) -> Returned {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut location = url::Url::parse(url).unwrap();
    for _ in 0..6 {
        if location.as_str().starts_with(&format!("{REDIRECT_URI}?")) {
            let query = location.query().unwrap_or_default().to_owned();
            let params = location.query_pairs().into_owned().collect();
            return Returned { query, params };
        }
        let response = browser.get(location.clone()).send().await.unwrap();
        let status = response.status().as_u16();
        assert!(
            status == 302 || status == 303,
            "expected a redirect from {location}, got {status}: {}",
            response.text().await.unwrap_or_default()
        );
        let next = response.headers()["location"].to_str().unwrap().to_owned();
        location = location.join(&next).unwrap();
    }
    panic!("too many redirects, last at {location}");
}

/// Start a sign-in as `email` and follow it through to the callback.
async fn sign_in(provider: &Provider, email: &str) -> (Started, Returned) {
    let started = provider.start(Some(email));
    let returned = browse(&started.url).await;
    (started, returned)
}

/// A whole sign-in as `email`, with the secrets `start` gave.
async fn sign_in_and_finish(provider: &Provider, email: &str) -> Result<Claims, OidcError> {
    let (started, returned) = sign_in(provider, email).await;
    let callback = provider.parse_callback(&returned.query).unwrap();
    assert_eq!(callback.state, started.state);
    provider
        .finish(
            &fetcher(),
            &callback.code,
            &started.pkce_verifier,
            &started.nonce,
        )
        .await
}

/// The provider's subject for an email: the first 32 hex digits of sha256(email).
fn sub_for(email: &str) -> String {
    Sha256::digest(email.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..32]
        .to_owned()
}

fn assert_invalid_token(result: Result<Claims, OidcError>, expected: &str) {
    match result {
        Err(OidcError::InvalidToken(text)) => assert_eq!(text, expected),
        other => panic!("expected InvalidToken({expected:?}), got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// The code flow

#[tokio::test]
async fn code_flow_gives_verified_claims() {
    let Some(op) = TestProvider::start("code_flow_gives_verified_claims").await else {
        return;
    };
    let provider = op.discover().await;
    assert_eq!(provider.issuer(), op.issuer);
    assert_eq!(provider.id(), "test");
    assert_eq!(provider.name(), "Test provider");
    assert_eq!(provider.button_label(), "Sign in with the test provider");
    // The provider lists both; basic is preferred.
    assert_eq!(provider.client_auth_method(), "client_secret_basic");

    let claims = sign_in_and_finish(&provider, "alice@example.com")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", op.stderr()));
    assert_eq!(
        claims,
        Claims {
            subject: sub_for("alice@example.com"),
            email: Some("alice@example.com".into()),
            email_verified: true,
            name: Some("alice".into()),
            issuer: op.issuer.clone(),
        }
    );
    op.stop().await;
}

#[tokio::test]
async fn unverified_email_is_reported_unverified() {
    let Some(op) = TestProvider::start("unverified_email_is_reported_unverified").await else {
        return;
    };
    let provider = op.discover().await;
    let claims = sign_in_and_finish(&provider, "Unverified-Bob@Example.com")
        .await
        .unwrap();
    assert_eq!(claims.email.as_deref(), Some("unverified-bob@example.com"));
    assert!(!claims.email_verified);
    assert_eq!(claims.subject, sub_for("unverified-bob@example.com"));
    assert_eq!(claims.name.as_deref(), Some("unverified-bob"));
    op.stop().await;
}

#[tokio::test]
async fn authorization_url_carries_state_nonce_and_pkce_s256() {
    let Some(op) = TestProvider::start("authorization_url_carries_state_nonce_and_pkce_s256").await
    else {
        return;
    };
    let provider = op.discover().await;
    let started = provider.start(Some("alice@example.com"));
    let url = url::Url::parse(&started.url).unwrap();
    assert!(started.url.starts_with(&format!("{}/auth?", op.issuer)));
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["state"], started.state);
    assert_eq!(query["nonce"], started.nonce);
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["redirect_uri"], REDIRECT_URI);
    assert_eq!(query["login_hint"], "alice@example.com");
    let scopes: Vec<&str> = query["scope"].split(' ').collect();
    for scope in ["openid", "email", "profile"] {
        assert!(scopes.contains(&scope), "scope {scope} in {scopes:?}");
    }
    assert_eq!(query["code_challenge_method"], "S256");
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(started.pkce_verifier.as_bytes()));
    assert_eq!(query["code_challenge"], challenge);
    assert!(!query.contains_key("code_verifier"));
    assert!(
        started.pkce_verifier.len() >= 43,
        "RFC 7636: at least 43 characters"
    );

    // Every sign-in has its own secrets.
    let again = provider.start(None);
    assert_ne!(again.state, started.state);
    assert_ne!(again.nonce, started.nonce);
    assert_ne!(again.pkce_verifier, started.pkce_verifier);
    assert!(!again.url.contains("login_hint"));

    // The callback brings the same state back (and the provider's iss, RFC 9207).
    let returned = browse(&started.url).await;
    assert_eq!(returned.params["state"], started.state);
    assert_eq!(returned.params["iss"], op.issuer);
    let callback = provider.parse_callback(&returned.query).unwrap();
    assert_eq!(callback.state, started.state);
    assert_eq!(callback.code, returned.code());

    // Secrets stay out of Debug output.
    let shown = format!("{started:?} {callback:?} {provider:?}");
    for secret in [
        &started.state,
        &started.nonce,
        &started.pkce_verifier,
        &callback.code,
    ] {
        assert!(!shown.contains(secret.as_str()), "{shown}");
    }
    assert!(!shown.contains(CLIENT_SECRET));
    op.stop().await;
}

#[tokio::test]
async fn provider_error_on_the_callback_is_reported() {
    let Some(op) = TestProvider::start("provider_error_on_the_callback_is_reported").await else {
        return;
    };
    let provider = op.discover().await;
    // prompt=none without a session: the provider answers error=login_required.
    let started = provider.start(None);
    let returned = browse(&format!("{}&prompt=none", started.url)).await;
    assert_eq!(returned.params["error"], "login_required");
    match provider.parse_callback(&returned.query) {
        Err(OidcError::Provider(text)) => {
            assert!(text.starts_with("login_required"), "{text}")
        }
        other => panic!("expected Provider(login_required…), got {other:?}"),
    }

    // A callback from another issuer (mix-up), or without a code, is refused too.
    let other = format!(
        "code=c&state={}&iss=http%3A%2F%2Fevil.example",
        started.state
    );
    // This provider promises iss (RFC 9207), so a callback without it is refused as well.
    assert!(matches!(
        provider.parse_callback(&format!("code=c&state={}", started.state)),
        Err(OidcError::Callback(text)) if text.contains("does not name its issuer")
    ));
    assert!(matches!(
        provider.parse_callback(&other),
        Err(OidcError::Callback(text)) if text.contains("another issuer")
    ));
    assert!(matches!(
        provider.parse_callback(&format!("state=s&iss={}", op.issuer)),
        Err(OidcError::Callback(text)) if text.contains("no code")
    ));
    op.stop().await;
}

// ---------------------------------------------------------------------------------------
// The provider misbehaves

async fn refused_in_mode(test: &str, mode: &str) -> Option<Result<Claims, OidcError>> {
    let op = TestProvider::start(test).await?;
    let provider = op.discover().await;
    let (started, returned) = sign_in(&provider, "alice@example.com").await;
    op.set_mode(mode).await;
    let result = provider
        .finish(
            &fetcher(),
            returned.code(),
            &started.pkce_verifier,
            &started.nonce,
        )
        .await;
    // The mode was one-shot: the next sign-in works.
    sign_in_and_finish(&provider, "alice@example.com")
        .await
        .unwrap_or_else(|e| panic!("after mode {mode}: {e}"));
    op.stop().await;
    Some(result)
}

#[tokio::test]
async fn bad_signature_is_refused() {
    let Some(result) = refused_in_mode("bad_signature_is_refused", "bad_signature").await else {
        return;
    };
    assert_invalid_token(
        result,
        "the ID token's signature does not verify against the provider's keys",
    );
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    let Some(result) = refused_in_mode("wrong_audience_is_refused", "wrong_audience").await else {
        return;
    };
    assert_invalid_token(result, "the ID token is for another client (aud)");
}

#[tokio::test]
async fn expired_token_is_refused() {
    let Some(result) = refused_in_mode("expired_token_is_refused", "expired").await else {
        return;
    };
    assert_invalid_token(result, "the ID token has expired");
}

#[tokio::test]
async fn wrong_nonce_in_token_is_refused() {
    let Some(result) = refused_in_mode("wrong_nonce_in_token_is_refused", "wrong_nonce").await
    else {
        return;
    };
    assert_invalid_token(result, "the nonce does not match this sign-in");
}

#[tokio::test]
async fn wrong_issuer_is_refused() {
    let Some(result) = refused_in_mode("wrong_issuer_is_refused", "wrong_issuer").await else {
        return;
    };
    assert_invalid_token(result, "the ID token is from another issuer (iss)");
}

#[tokio::test]
async fn missing_id_token_is_refused() {
    let Some(result) = refused_in_mode("missing_id_token_is_refused", "no_id_token").await else {
        return;
    };
    assert_invalid_token(result, "the provider returned no ID token");
}

#[tokio::test]
async fn unsigned_token_is_refused() {
    let Some(result) = refused_in_mode("unsigned_token_is_refused", "alg_none").await else {
        return;
    };
    assert_invalid_token(result, "the ID token is unsigned (alg none)");
}

// ---------------------------------------------------------------------------------------
// The caller's side goes wrong

#[tokio::test]
async fn nonce_of_another_sign_in_is_refused() {
    let Some(op) = TestProvider::start("nonce_of_another_sign_in_is_refused").await else {
        return;
    };
    let provider = op.discover().await;
    let (started, returned) = sign_in(&provider, "alice@example.com").await;
    let other = provider.start(None);
    let result = provider
        .finish(
            &fetcher(),
            returned.code(),
            &started.pkce_verifier,
            &other.nonce,
        )
        .await;
    assert_invalid_token(result, "the nonce does not match this sign-in");
    op.stop().await;
}

#[tokio::test]
async fn code_used_twice_is_refused() {
    let Some(op) = TestProvider::start("code_used_twice_is_refused").await else {
        return;
    };
    let provider = op.discover().await;
    let (started, returned) = sign_in(&provider, "alice@example.com").await;
    let fetcher = fetcher();
    let finish = || {
        provider.finish(
            &fetcher,
            returned.code(),
            &started.pkce_verifier,
            &started.nonce,
        )
    };
    finish().await.unwrap();
    match finish().await {
        Err(OidcError::Exchange(text)) => {
            assert!(
                text.starts_with("the token endpoint refused the code: invalid_grant"),
                "{text}"
            );
            assert!(!text.contains(returned.code()), "the code is not logged");
        }
        other => panic!("expected Exchange(invalid_grant), got {other:?}"),
    }
    op.stop().await;
}

#[tokio::test]
async fn wrong_pkce_verifier_is_refused() {
    let Some(op) = TestProvider::start("wrong_pkce_verifier_is_refused").await else {
        return;
    };
    let provider = op.discover().await;
    let (started, returned) = sign_in(&provider, "alice@example.com").await;
    let other = provider.start(None);
    let result = provider
        .finish(
            &fetcher(),
            returned.code(),
            &other.pkce_verifier,
            &started.nonce,
        )
        .await;
    match result {
        Err(OidcError::Exchange(text)) => {
            assert!(
                text.starts_with("the token endpoint refused the code: invalid_grant"),
                "{text}"
            );
            assert!(!text.contains(&other.pkce_verifier));
        }
        other => panic!("expected Exchange(invalid_grant), got {other:?}"),
    }
    // The right verifier would have worked, but the code is spent now: PKCE failures burn it.
    op.stop().await;
}

// ---------------------------------------------------------------------------------------
// Discovery and keys

#[tokio::test]
async fn discovery_refuses_a_document_naming_another_issuer() {
    if !provider_available("discovery_refuses_a_document_naming_another_issuer") {
        return;
    }
    // The provider says its issuer is http://issuer.invalid but serves the document here.
    let port = free_port().await;
    let op = TestProvider::spawn(port, Some("http://issuer.invalid")).await;
    assert_eq!(op.issuer, "http://issuer.invalid");
    let result = Provider::discover(&fetcher(), config_for(&op.base), REDIRECT_URI).await;
    match result {
        Err(OidcError::Discovery(text)) => {
            assert!(
                text.contains("unexpected issuer URI `http://issuer.invalid"),
                "{text}"
            )
        }
        other => panic!("expected Discovery(unexpected issuer), got {other:?}"),
    }
    op.stop().await;
}

#[tokio::test]
async fn discovery_goes_through_the_guard() {
    let Some(op) = TestProvider::start("discovery_goes_through_the_guard").await else {
        return;
    };
    let guarded = Fetcher::new(FetchConfig::default()).unwrap();
    match Provider::discover(&guarded, op.config(), REDIRECT_URI).await {
        Err(OidcError::Discovery(text)) => assert!(
            text.contains("refused to connect to 127.0.0.1")
                && text.contains("loopback, private or reserved"),
            "{text}"
        ),
        other => panic!("expected the guard to refuse discovery, got {other:?}"),
    }
    op.stop().await;
}

#[tokio::test]
async fn finish_goes_through_the_guard() {
    let Some(op) = TestProvider::start("finish_goes_through_the_guard").await else {
        return;
    };
    let provider = op.discover().await;
    let (started, returned) = sign_in(&provider, "alice@example.com").await;
    let guarded = Fetcher::new(FetchConfig::default()).unwrap();
    let result = provider
        .finish(
            &guarded,
            returned.code(),
            &started.pkce_verifier,
            &started.nonce,
        )
        .await;
    match result {
        Err(OidcError::Exchange(text)) => assert!(
            text.starts_with("could not reach the token endpoint: refused to connect"),
            "{text}"
        ),
        other => panic!("expected the guard to refuse the token request, got {other:?}"),
    }
    op.stop().await;
}

#[tokio::test]
async fn rotated_keys_are_fetched_again() {
    let Some(first) = TestProvider::start("rotated_keys_are_fetched_again").await else {
        return;
    };
    let provider = first.discover().await;
    let port = first.port();
    first.stop().await;
    // Same issuer, same port, new keys (the provider makes them afresh at every start).
    let second = TestProvider::spawn(port, None).await;
    assert_eq!(second.issuer, provider.issuer());
    let claims = sign_in_and_finish(&provider, "alice@example.com")
        .await
        .unwrap_or_else(|e| panic!("after key rotation: {e}\n{}", second.stderr()));
    assert_eq!(claims.subject, sub_for("alice@example.com"));
    // The fresh keys are kept: the next sign-in verifies straight away.
    sign_in_and_finish(&provider, "carol@example.com")
        .await
        .unwrap();
    second.stop().await;
}

#[tokio::test]
async fn provider_and_finish_can_be_shared_across_tasks() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: &T) {}
    let Some(op) = TestProvider::start("provider_and_finish_can_be_shared_across_tasks").await
    else {
        return;
    };
    let provider = Arc::new(op.discover().await);
    assert_send_sync(&provider);
    let (started, returned) = sign_in(&provider, "dave@example.com").await;
    let fetcher = fetcher();
    let finishing = provider.finish(
        &fetcher,
        returned.code(),
        &started.pkce_verifier,
        &started.nonce,
    );
    assert_send(&finishing);
    // And it really runs on another task.
    let shared = provider.clone();
    let code = returned.code().to_owned();
    drop(finishing);
    let claims = tokio::spawn(async move {
        shared
            .finish(&fetcher, &code, &started.pkce_verifier, &started.nonce)
            .await
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(claims.email.as_deref(), Some("dave@example.com"));
    op.stop().await;
}

#[tokio::test]
async fn bad_configuration_is_refused_before_any_request() {
    let fetcher = fetcher();
    let mut cfg = config_for("http://127.0.0.1:9");
    cfg.id = "not url safe".into();
    assert!(matches!(
        Provider::discover(&fetcher, cfg, REDIRECT_URI).await,
        Err(OidcError::Config(text)) if text.contains("provider id")
    ));
    let cfg = config_for("not a url");
    assert!(matches!(
        Provider::discover(&fetcher, cfg, REDIRECT_URI).await,
        Err(OidcError::Config(text)) if text.contains("not a URL")
    ));
    let cfg = config_for("http://127.0.0.1:9");
    assert!(matches!(
        Provider::discover(&fetcher, cfg, "/callback").await,
        Err(OidcError::Config(text)) if text.contains("redirect URI")
    ));
    // A configuration file never shows the secret in logs.
    let shown = format!("{:?}", config_for("http://127.0.0.1:9"));
    assert!(!shown.contains(CLIENT_SECRET), "{shown}");
}

async fn free_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}
