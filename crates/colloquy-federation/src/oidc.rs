//! Sign in with OpenID Connect: the relying-party side of the authorization code flow.
//!
//! A site configures any number of providers ([`ProviderConfig`]: issuer URL, client id and
//! secret, what the sign-in button says). At start-up, or when first needed, the web layer
//! calls [`Provider::discover`] once per provider and keeps the result (cheaply, in an `Arc`).
//! Then, per sign-in:
//!
//! 1. [`Provider::start`] gives the provider's authorization URL and the three secrets of
//!    this sign-in ([`Started`]: `state`, `nonce`, PKCE verifier). The web layer stores them
//!    **server-side**, tied to the browser that asked (its session cookie), and redirects
//!    the browser to [`Started::url`].
//! 2. The provider sends the browser back to the redirect URI with `code` and `state` (or with
//!    `error`). [`Provider::parse_callback`] reads that query string: it turns `error=` into
//!    [`OidcError::Provider`] and refuses a callback that names another issuer (`iss`,
//!    RFC 9207).
//! 3. **The `state` check is the web layer's job**: it looks its stored secrets up by the
//!    callback's `state`, in the session of the browser that brings it, refuses the callback
//!    when there are none (an unknown or foreign `state` is a forged or replayed callback:
//!    login CSRF), and deletes them at once so that each `state` is used once.
//! 4. [`Provider::finish`] exchanges the `code` (with the PKCE verifier) at the token
//!    endpoint and verifies the ID token: signature against the provider's keys (JWKS), `iss`,
//!    `aud`, `exp` and `iat` (with [`CLOCK_SKEW`] allowed either way), `nonce`, and `at_hash`
//!    when present. Unsigned (`alg: none`) and HMAC-signed tokens are refused. The result is
//!    [`Claims`], or an [`OidcError`] that says precisely what was wrong.
//!
//! **HTTP.** Every request (discovery, JWKS, token endpoint, userinfo) goes through the
//! [`Fetcher`] the caller passes in, so the outbound guard applies to providers too: an
//! issuer on a private or loopback address is refused unless
//! [`FetchConfig::allow_private`](crate::FetchConfig::allow_private).
//!
//! **Keys.** The JWKS is fetched at discovery. When an ID token names a key (`kid`) that is
//! not in it, the JWKS is fetched again once and the token checked again (key rotation); the
//! fresh keys are kept in the [`Provider`]. Nothing is cached globally.
//!
//! **Client authentication** at the token endpoint is `client_secret_basic`, or
//! `client_secret_post` when the provider's discovery document lists only that.
//!
//! **Email.** From the ID token (`email`, `email_verified`). When the ID token carries no
//! email and the provider has a userinfo endpoint, it is asked (with the access token), and
//! its answer is used only if its `sub` is the ID token's. An email counts as verified only
//! when the provider says `email_verified: true`.
//!
//! Error messages never contain the client secret, codes, tokens, the nonce or the PKCE
//! verifier, so they can be logged as they are.

use crate::fetch::{FetchError, Fetcher};
use chrono::{DateTime, TimeDelta, Utc};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGrantType, CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKey,
    CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
    CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::http::{self, StatusCode};
use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalProviderMetadata, AsyncHttpClient, AuthType,
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, DiscoveryError,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IssuerUrl, LoginHint,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadata, RedirectUrl,
    RequestTokenError, ResponseTypes, Scope, SignatureVerificationError, SubjectIdentifier,
    TokenResponse, UserInfoError,
};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

/// How far the provider's clock may be from ours: an ID token is still accepted this long
/// after its `exp`, and may say it was issued (`iat`) this far in the future.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::seconds(60);

/// The scopes every sign-in asks for.
pub const SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// One configured provider, as the site's configuration file gives it.
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Short, URL-safe name (`[A-Za-z0-9_-]`, e.g. `google`): for routes and stored links.
    pub id: String,
    /// The issuer URL; discovery reads `<issuer>/.well-known/openid-configuration`, which must
    /// name exactly this issuer.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// The provider's name as members see it ("Google").
    pub name: String,
    /// What the sign-in button says ("Sign in with Google").
    pub button_label: String,
}

/// By hand, so that logging a configuration never shows the client secret.
impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("name", &self.name)
            .field("button_label", &self.button_label)
            .finish()
    }
}

/// What [`Provider::start`] returns: where to send the browser, and what to remember.
///
/// Store `state`, `nonce` and `pkce_verifier` server-side (never in a cookie the browser can
/// read or in the URL), keyed by `state` and tied to the browser's session; they are needed
/// once, by [`Provider::finish`], and must be deleted then.
#[derive(Clone)]
pub struct Started {
    /// The provider's authorization URL, with `state`, `nonce` and the PKCE challenge.
    pub url: String,
    /// The CSRF token the provider hands back unchanged in the callback.
    pub state: String,
    /// Bound into the ID token; [`Provider::finish`] checks it.
    pub nonce: String,
    /// The PKCE (S256) secret whose hash is in [`Started::url`].
    pub pkce_verifier: String,
}

impl fmt::Debug for Started {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL's query holds the state and the nonce.
        let endpoint = self.url.split('?').next().unwrap_or_default();
        f.debug_struct("Started")
            .field("url", &format_args!("{endpoint}?…"))
            .field("state", &"[redacted]")
            .field("nonce", &"[redacted]")
            .field("pkce_verifier", &"[redacted]")
            .finish()
    }
}

/// The callback's query string, read by [`Provider::parse_callback`].
#[derive(Clone, PartialEq, Eq)]
pub struct Callback {
    pub code: String,
    pub state: String,
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("code", &"[redacted]")
            .field("state", &"[redacted]")
            .finish()
    }
}

/// Who signed in, from the verified ID token (and userinfo for a missing email).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `sub`: the member's stable identifier at this provider. Together with `issuer` this is
    /// the identity to link an account to; the email is not (it can change hands).
    pub subject: String,
    pub email: Option<String>,
    /// True only when the provider said `email_verified: true` (false without an email).
    pub email_verified: bool,
    pub name: Option<String>,
    /// `iss`: the provider's issuer URL, exactly as discovery gave it.
    pub issuer: String,
}

/// Why a discovery, a callback or a sign-in failed. The messages are safe to log and precise
/// enough to act on; none carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// The [`ProviderConfig`] or the redirect URI cannot be used.
    #[error("OpenID Connect provider configuration: {0}")]
    Config(String),
    /// The discovery document or the provider's keys could not be fetched, or are not usable.
    #[error("OpenID Connect discovery failed: {0}")]
    Discovery(String),
    /// The callback's query string is not a usable answer (no code, another issuer).
    #[error("OpenID Connect callback refused: {0}")]
    Callback(String),
    /// The provider ended the sign-in with an error (`error=` on the callback).
    #[error("the provider refused the sign-in: {0}")]
    Provider(String),
    /// The token endpoint refused the code, or could not be reached or understood.
    #[error("OpenID Connect code exchange failed: {0}")]
    Exchange(String),
    /// The ID token is missing or does not verify: signature, algorithm, issuer, audience,
    /// expiry, nonce, access-token hash.
    #[error("OpenID Connect ID token refused: {0}")]
    InvalidToken(String),
    /// The userinfo endpoint (asked for the email) failed or answered for another user.
    #[error("OpenID Connect userinfo failed: {0}")]
    Userinfo(String),
}

/// Discovery fields beyond OpenID Connect Discovery 1.0 that we read.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
struct ExtraMetadata {
    /// RFC 8414: the PKCE methods the provider supports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code_challenge_methods_supported: Option<Vec<String>>,
    /// RFC 9207: the provider puts `iss` in every authorization response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authorization_response_iss_parameter_supported: Option<bool>,
}

impl AdditionalProviderMetadata for ExtraMetadata {}

/// `Metadata` with [`ExtraMetadata`].
type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The client type [`CoreClient::from_provider_metadata`] gives, with a redirect URI.
type OidcClient = CoreClient<
    EndpointSet,      // authorization endpoint
    EndpointNotSet,   // device authorization
    EndpointNotSet,   // introspection
    EndpointNotSet,   // revocation
    EndpointMaybeSet, // token endpoint (checked present at discovery)
    EndpointMaybeSet, // userinfo
>;

/// A discovered provider: its metadata, keys and the configured client. Keep it in an `Arc`;
/// it is `Send + Sync` and every method takes `&self`.
pub struct Provider {
    id: String,
    name: String,
    button_label: String,
    client_id: ClientId,
    client_secret: ClientSecret,
    redirect_uri: RedirectUrl,
    auth_type: AuthType,
    allowed_algs: Vec<CoreJwsSigningAlgorithm>,
    /// The discovery document, with the JWKS of discovery (kept to rebuild the client when
    /// the keys rotate).
    metadata: Metadata,
    /// The client with the current keys; replaced after a JWKS refetch.
    client: RwLock<Arc<OidcClient>>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("id", &self.id)
            .field("issuer", &self.metadata.issuer().as_str())
            .field("client_id", &self.client_id.as_str())
            .field("auth_type", &self.auth_type)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// Fetch the provider's discovery document and keys through `fetcher`, check them, and
    /// set up the client. `redirect_uri` is our callback URL, exactly as registered with the
    /// provider.
    ///
    /// Refused: a document naming another issuer than `cfg.issuer`, a provider without a
    /// token endpoint or without the code flow, one that can authenticate clients neither by
    /// `client_secret_basic` nor by `client_secret_post`, and one that signs ID tokens only
    /// with algorithms we do not accept (`none`, HMAC).
    pub async fn discover(
        fetcher: &Fetcher,
        cfg: ProviderConfig,
        redirect_uri: &str,
    ) -> Result<Self, OidcError> {
        check_id(&cfg.id)?;
        if cfg.client_id.is_empty() {
            return Err(OidcError::Config(format!(
                "provider {:?}: the client id is empty",
                cfg.id
            )));
        }
        let issuer = IssuerUrl::new(cfg.issuer.clone()).map_err(|e| {
            OidcError::Config(format!(
                "provider {:?}: the issuer {:?} is not a URL: {e}",
                cfg.id, cfg.issuer
            ))
        })?;
        let redirect_uri = RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| {
            OidcError::Config(format!(
                "the redirect URI {redirect_uri:?} is not a URL: {e}"
            ))
        })?;

        let metadata = Metadata::discover_async(issuer, &Http(fetcher))
            .await
            .map_err(|e| OidcError::Discovery(discovery_error(&cfg.issuer, e)))?;
        Self::from_metadata(cfg, metadata, redirect_uri)
    }

    /// The checks and set-up after discovery (apart so that unit tests can use any metadata).
    fn from_metadata(
        cfg: ProviderConfig,
        metadata: Metadata,
        redirect_uri: RedirectUrl,
    ) -> Result<Self, OidcError> {
        if metadata.token_endpoint().is_none() {
            return Err(OidcError::Discovery(format!(
                "{}: the discovery document names no token endpoint",
                cfg.issuer
            )));
        }
        let code = ResponseTypes::new(vec![CoreResponseType::Code]);
        if !metadata.response_types_supported().contains(&code) {
            return Err(OidcError::Discovery(format!(
                "{}: the provider does not offer the authorization code flow \
                 (response_types_supported has no \"code\")",
                cfg.issuer
            )));
        }
        if let Some(methods) = &metadata
            .additional_metadata()
            .code_challenge_methods_supported
        {
            if !methods.iter().any(|m| m == "S256") {
                tracing::warn!(
                    issuer = %cfg.issuer,
                    "the provider does not list PKCE S256; sending it anyway"
                );
            }
        }
        let auth_type = choose_auth_type(metadata.token_endpoint_auth_methods_supported())
            .map_err(|e| OidcError::Discovery(format!("{}: {e}", cfg.issuer)))?;
        let allowed_algs = allowed_algs(metadata.id_token_signing_alg_values_supported())
            .map_err(|e| OidcError::Discovery(format!("{}: {e}", cfg.issuer)))?;

        let client_id = ClientId::new(cfg.client_id);
        let client_secret = ClientSecret::new(cfg.client_secret);
        let client = build_client(
            metadata.clone(),
            &client_id,
            &client_secret,
            &redirect_uri,
            &auth_type,
        );
        Ok(Self {
            id: cfg.id,
            name: cfg.name,
            button_label: cfg.button_label,
            client_id,
            client_secret,
            redirect_uri,
            auth_type,
            allowed_algs,
            metadata,
            client: RwLock::new(Arc::new(client)),
        })
    }

    /// The configured URL-safe id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The provider's name for members.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the sign-in button says.
    pub fn button_label(&self) -> &str {
        &self.button_label
    }

    /// The issuer URL, as the discovery document gives it (and as [`Claims::issuer`] is).
    pub fn issuer(&self) -> &str {
        self.metadata.issuer().as_str()
    }

    /// The client authentication used at the token endpoint: `client_secret_basic` or
    /// `client_secret_post`.
    pub fn client_auth_method(&self) -> &'static str {
        match self.auth_type {
            AuthType::RequestBody => "client_secret_post",
            _ => "client_secret_basic",
        }
    }

    /// Begin a sign-in: a fresh `state`, `nonce` and PKCE (S256) verifier, and the
    /// authorization URL asking for `openid email profile`. `login_hint` (an email address,
    /// usually) is passed on for the provider to pre-fill.
    pub fn start(&self, login_hint: Option<&str>) -> Started {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.client();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        // `openid` is added by the client itself.
        for scope in SCOPES.iter().filter(|s| **s != "openid") {
            request = request.add_scope(Scope::new((*scope).to_owned()));
        }
        if let Some(hint) = login_hint.filter(|h| !h.is_empty()) {
            request = request.set_login_hint(LoginHint::new(hint.to_owned()));
        }
        let (url, state, nonce) = request.url();
        Started {
            url: url.into(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        }
    }

    /// Read the callback's query string (without the `?`).
    ///
    /// `error=…` becomes [`OidcError::Provider`] (with `error_description` when given,
    /// shortened and stripped of control characters: anyone can craft this URL). An `iss`
    /// parameter that is not this provider's issuer is refused, and so is a callback without
    /// `iss` from a provider that promises it (RFC 9207, mix-up defence).
    /// Does **not** check `state`: look the stored [`Started`] up by [`Callback::state`].
    pub fn parse_callback(&self, query: &str) -> Result<Callback, OidcError> {
        let mut code = None;
        let mut state = None;
        let mut iss = None;
        let mut error = None;
        let mut description = None;
        for (key, value) in url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
            let slot = match &*key {
                "code" => &mut code,
                "state" => &mut state,
                "iss" => &mut iss,
                "error" => &mut error,
                "error_description" => &mut description,
                _ => continue,
            };
            if slot.is_some() {
                return Err(OidcError::Callback(format!(
                    "the callback repeats the parameter {key:?}"
                )));
            }
            *slot = Some(value.into_owned());
        }
        match &iss {
            Some(iss) if iss != self.issuer() => {
                return Err(OidcError::Callback(format!(
                    "the callback names another issuer ({}) than this provider ({})",
                    printable(iss),
                    self.issuer()
                )));
            }
            None if self.iss_in_callback() => {
                return Err(OidcError::Callback(format!(
                    "the callback does not name its issuer (iss), which {} always does",
                    self.issuer()
                )));
            }
            _ => {}
        }
        if let Some(error) = error {
            let mut text = printable(&error);
            if let Some(description) = description.filter(|d| !d.is_empty()) {
                text.push_str(": ");
                text.push_str(&printable(&description));
            }
            return Err(OidcError::Provider(text));
        }
        let code = code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| OidcError::Callback("the callback carries no code".into()))?;
        let state = state
            .filter(|s| !s.is_empty())
            .ok_or_else(|| OidcError::Callback("the callback carries no state".into()))?;
        Ok(Callback { code, state })
    }

    /// Finish a sign-in: exchange `code` at the token endpoint (with `pkce_verifier`), verify
    /// the ID token against `nonce`, and return who signed in. `pkce_verifier` and `nonce` are
    /// the ones [`Provider::start`] gave for the `state` the callback carried.
    pub async fn finish(
        &self,
        fetcher: &Fetcher,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<Claims, OidcError> {
        let http = Http(fetcher);
        let client = self.client();
        let response: CoreTokenResponse = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Exchange(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&http)
            .await
            .map_err(|e| OidcError::Exchange(exchange_error(e)))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::InvalidToken("the provider returned no ID token".into()))?;
        let nonce = Nonce::new(nonce.to_owned());

        let (verified, client) =
            match self.verify(&client, id_token, response.access_token(), &nonce) {
                Err(Refusal::Claims(ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                ))) => {
                    // Perhaps the provider rotated its keys since discovery: fetch them once more.
                    tracing::info!(
                        issuer = %self.issuer(),
                        "no key matches the ID token; fetching the provider's keys again"
                    );
                    let client = self.refetch_keys(&http).await?;
                    let verified = self.verify(&client, id_token, response.access_token(), &nonce);
                    (verified, client)
                }
                other => (other, client),
            };
        let verified = verified.map_err(Refusal::into_error)?;

        if verified.email.is_some() {
            return Ok(verified);
        }
        self.with_userinfo(&http, &client, verified, response.access_token().clone())
            .await
    }

    /// Whether the provider promises `iss` in every callback (RFC 9207).
    fn iss_in_callback(&self) -> bool {
        self.metadata
            .additional_metadata()
            .authorization_response_iss_parameter_supported
            == Some(true)
    }

    fn client(&self) -> Arc<OidcClient> {
        self.client
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// openidconnect's verifier for the client's current keys, with our algorithms and clock
    /// skew. (The client's own list of algorithms is the provider's, `HS*` included.)
    fn verifier<'a>(&self, client: &'a OidcClient) -> CoreIdTokenVerifier<'a> {
        client
            .id_token_verifier()
            .set_allowed_algs(self.allowed_algs.iter().cloned())
            .set_time_fn(|| Utc::now() - CLOCK_SKEW)
            .set_issue_time_verifier_fn(check_issue_time)
    }

    /// The ID token's claims, verified, without anything from userinfo yet.
    fn verify(
        &self,
        client: &OidcClient,
        id_token: &CoreIdToken,
        access_token: &AccessToken,
        nonce: &Nonce,
    ) -> Result<Claims, Refusal> {
        let verifier = self.verifier(client);
        let claims = id_token.claims(&verifier, nonce).map_err(Refusal::Claims)?;
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token.signing_alg().map_err(Refusal::signature)?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(Refusal::signature)?;
            let actual = AccessTokenHash::from_token(access_token, alg, key).map_err(|e| {
                Refusal::Other(format!("cannot compute the access token's hash: {e}"))
            })?;
            if actual != *expected {
                return Err(Refusal::Other(
                    "the ID token's at_hash does not match the access token".into(),
                ));
            }
        }
        let email = claims.email().map(|e| e.as_str().to_owned());
        Ok(Claims {
            subject: claims.subject().as_str().to_owned(),
            email_verified: email.is_some() && claims.email_verified() == Some(true),
            email,
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
            issuer: claims.issuer().as_str().to_owned(),
        })
    }

    /// Fetch the JWKS again and keep a client that uses it.
    async fn refetch_keys(&self, http: &Http<'_>) -> Result<Arc<OidcClient>, OidcError> {
        let jwks = CoreJsonWebKeySet::fetch_async(self.metadata.jwks_uri(), http)
            .await
            .map_err(|e| {
                OidcError::InvalidToken(format!(
                    "no key in the provider's JWKS matches the ID token, and fetching the keys \
                     again failed: {}",
                    discovery_error(self.issuer(), e)
                ))
            })?;
        let client = Arc::new(build_client(
            self.metadata.clone().set_jwks(jwks),
            &self.client_id,
            &self.client_secret,
            &self.redirect_uri,
            &self.auth_type,
        ));
        *self
            .client
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = client.clone();
        Ok(client)
    }

    /// Ask the userinfo endpoint for the email (and name, if missing) of `verified.subject`.
    async fn with_userinfo(
        &self,
        http: &Http<'_>,
        client: &OidcClient,
        mut verified: Claims,
        access_token: AccessToken,
    ) -> Result<Claims, OidcError> {
        let subject = SubjectIdentifier::new(verified.subject.clone());
        let Ok(request) = client.user_info(access_token, Some(subject)) else {
            // No userinfo endpoint: the provider has told us all it will.
            return Ok(verified);
        };
        let info: CoreUserInfoClaims = request
            .request_async(http)
            .await
            .map_err(|e| OidcError::Userinfo(userinfo_error(e)))?;
        merge_userinfo(&mut verified, &info);
        Ok(verified)
    }
}

/// Fill what the ID token left out from a userinfo answer whose `sub` has been checked.
fn merge_userinfo(verified: &mut Claims, info: &CoreUserInfoClaims) {
    if let Some(email) = info.email() {
        verified.email = Some(email.as_str().to_owned());
        verified.email_verified = info.email_verified() == Some(true);
    }
    if verified.name.is_none() {
        verified.name = info
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned());
    }
}

fn build_client(
    metadata: Metadata,
    client_id: &ClientId,
    client_secret: &ClientSecret,
    redirect_uri: &RedirectUrl,
    auth_type: &AuthType,
) -> OidcClient {
    CoreClient::from_provider_metadata(metadata, client_id.clone(), Some(client_secret.clone()))
        .set_redirect_uri(redirect_uri.clone())
        .set_auth_type(auth_type.clone())
}

/// An ID token refused, before it becomes an [`OidcError`] (the raw form lets `finish` see
/// an unknown key and retry).
enum Refusal {
    Claims(ClaimsVerificationError),
    Other(String),
}

impl Refusal {
    fn signature(e: SignatureVerificationError) -> Self {
        Self::Claims(ClaimsVerificationError::SignatureVerification(e))
    }

    fn into_error(self) -> OidcError {
        OidcError::InvalidToken(match self {
            Refusal::Claims(e) => claims_error(e),
            Refusal::Other(text) => text,
        })
    }
}

const ISSUED_IN_FUTURE: &str = "the ID token was issued in the future (iat)";

fn check_issue_time(iat: DateTime<Utc>) -> Result<(), String> {
    if iat > Utc::now() + CLOCK_SKEW {
        Err(ISSUED_IN_FUTURE.to_owned())
    } else {
        Ok(())
    }
}

fn claims_error(e: ClaimsVerificationError) -> String {
    use ClaimsVerificationError as C;
    use SignatureVerificationError as S;
    match e {
        C::Expired(text) if text == ISSUED_IN_FUTURE => text,
        C::Expired(_) => "the ID token has expired".into(),
        C::InvalidAudience(_) => "the ID token is for another client (aud)".into(),
        C::InvalidIssuer(_) => "the ID token is from another issuer (iss)".into(),
        C::InvalidNonce(_) => "the nonce does not match this sign-in".into(),
        C::InvalidSubject(_) => "the ID token's subject (sub) is not valid".into(),
        C::SignatureVerification(S::NoSignature) => "the ID token is unsigned (alg none)".into(),
        C::SignatureVerification(S::DisallowedAlg(text) | S::UnsupportedAlg(text)) => {
            format!("the ID token is signed with an algorithm we do not accept: {text}")
        }
        C::SignatureVerification(S::NoMatchingKey) => {
            "no key in the provider's JWKS matches the ID token (kid), even after fetching \
             the keys again"
                .into()
        }
        C::SignatureVerification(S::AmbiguousKeyId(_)) => {
            "the ID token names no key (kid) and the provider's JWKS has several that fit".into()
        }
        C::SignatureVerification(S::CryptoError(_)) => {
            "the ID token's signature does not verify against the provider's keys".into()
        }
        C::SignatureVerification(other) => {
            format!("the ID token's signature cannot be checked: {other}")
        }
        C::Unsupported(text) => format!("the ID token uses something unsupported: {text}"),
        other => format!("the ID token is not valid: {other}"),
    }
}

/// `[A-Za-z0-9_-]+`: safe in a URL path and a form value without escaping.
fn check_id(id: &str) -> Result<(), OidcError> {
    if !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(())
    } else {
        Err(OidcError::Config(format!(
            "the provider id {id:?} must be letters, digits, '-' and '_' only"
        )))
    }
}

/// `client_secret_basic` unless the provider lists only `client_secret_post`. No list means
/// `client_secret_basic` (OpenID Connect Discovery's default).
fn choose_auth_type(methods: Option<&Vec<CoreClientAuthMethod>>) -> Result<AuthType, String> {
    let Some(methods) = methods else {
        return Ok(AuthType::BasicAuth);
    };
    if methods.contains(&CoreClientAuthMethod::ClientSecretBasic) {
        Ok(AuthType::BasicAuth)
    } else if methods.contains(&CoreClientAuthMethod::ClientSecretPost) {
        Ok(AuthType::RequestBody)
    } else {
        Err(format!(
            "the token endpoint accepts neither client_secret_basic nor client_secret_post \
             (it lists {})",
            methods
                .iter()
                .map(|m| m.as_ref().to_owned())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// The provider's ID-token algorithms that we accept: the asymmetric ones. `none` is never
/// accepted, nor HMAC (`HS*`), whose key would be the client secret.
fn allowed_algs(
    listed: &[CoreJwsSigningAlgorithm],
) -> Result<Vec<CoreJwsSigningAlgorithm>, String> {
    use CoreJwsSigningAlgorithm as A;
    let accepted: Vec<_> = listed
        .iter()
        .filter(|alg| {
            matches!(
                alg,
                A::RsaSsaPkcs1V15Sha256
                    | A::RsaSsaPkcs1V15Sha384
                    | A::RsaSsaPkcs1V15Sha512
                    | A::RsaSsaPssSha256
                    | A::RsaSsaPssSha384
                    | A::RsaSsaPssSha512
                    | A::EcdsaP256Sha256
                    | A::EcdsaP384Sha384
                    | A::EdDsa
            )
        })
        .cloned()
        .collect();
    if accepted.is_empty() {
        Err(format!(
            "the provider signs ID tokens only with algorithms we refuse ({})",
            listed.iter().map(alg_name).collect::<Vec<_>>().join(", ")
        ))
    } else {
        Ok(accepted)
    }
}

fn alg_name(alg: &CoreJwsSigningAlgorithm) -> String {
    serde_json::to_value(alg)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{alg:?}"))
}

fn discovery_error(issuer: &str, e: DiscoveryError<FetchError>) -> String {
    match e {
        DiscoveryError::Request(fetch) => {
            format!("{issuer}: could not fetch the discovery document or the keys: {fetch}")
        }
        DiscoveryError::Response(status, _, text) => {
            format!("{issuer}: unusable answer ({status}): {text}")
        }
        DiscoveryError::Parse(e) => {
            format!("{issuer}: the discovery document or the keys are not valid: {e}")
        }
        DiscoveryError::Validation(text) => format!("{issuer}: {text}"),
        DiscoveryError::UrlParse(e) => format!("{issuer}: cannot build the discovery URL: {e}"),
        other => format!("{issuer}: {}", error_chain(&other)),
    }
}

fn exchange_error<T: openidconnect::ErrorResponse + fmt::Display + 'static>(
    e: RequestTokenError<FetchError, T>,
) -> String {
    match e {
        RequestTokenError::ServerResponse(answer) => {
            format!(
                "the token endpoint refused the code: {}",
                printable(&answer.to_string())
            )
        }
        RequestTokenError::Request(fetch) => {
            format!("could not reach the token endpoint: {fetch}")
        }
        // The body is left out: it may hold tokens.
        RequestTokenError::Parse(e, _) => {
            format!("the token endpoint's answer is not a valid token response: {e}")
        }
        RequestTokenError::Other(text) => text,
    }
}

fn userinfo_error(e: UserInfoError<FetchError>) -> String {
    match e {
        UserInfoError::ClaimsVerification(ClaimsVerificationError::InvalidSubject(_)) => {
            "the userinfo endpoint answered for another user (sub)".into()
        }
        UserInfoError::ClaimsVerification(e) => claims_error(e),
        UserInfoError::Request(fetch) => format!("could not reach the userinfo endpoint: {fetch}"),
        UserInfoError::Response(status, _, text) => {
            format!("the userinfo endpoint answered {status}: {text}")
        }
        UserInfoError::Parse(e) => format!("the userinfo answer is not valid: {e}"),
        other => error_chain(&other),
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// Text from outside, made fit for a log line: no control characters, at most 200 characters.
fn printable(text: &str) -> String {
    const MAX: usize = 200;
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(MAX).collect();
    if text.chars().filter(|c| !c.is_control()).nth(MAX).is_some() {
        out.push('…');
    }
    out
}

/// openidconnect's HTTP client trait over our [`Fetcher`]: every request the OIDC client
/// makes goes through the outbound guard.
struct Http<'f>(&'f Fetcher);

impl<'c> AsyncHttpClient<'c> for Http<'_> {
    type Error = FetchError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, FetchError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let fetched = self
                .0
                .send(parts.method, &parts.uri.to_string(), parts.headers, body)
                .await?;
            let mut response = http::Response::new(fetched.body.to_vec());
            *response.status_mut() = StatusCode::from_u16(fetched.status).map_err(|_| {
                FetchError::Network(format!("invalid HTTP status {}", fetched.status))
            })?;
            *response.headers_mut() = fetched.headers;
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::FetchConfig;
    use base64::Engine as _;
    use openidconnect::core::CoreSubjectIdentifierType;
    use openidconnect::{AuthUrl, JsonWebKeySetUrl, TokenUrl, UserInfoUrl};
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const SECRET: &str = "s3cret";

    /// An HTTP server on loopback that answers every request with `status` and `body`
    /// (`content_type`), one request per connection, and keeps each raw request.
    async fn canned(
        status: u16,
        content_type: &'static str,
        body: &'static str,
    ) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = Vec::new();
                let mut buf = [0; 4096];
                // Head, then as much body as Content-Length says.
                loop {
                    let n = stream.read(&mut buf).await.unwrap();
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (name, value) = l.split_once(':')?;
                                name.eq_ignore_ascii_case("content-length")
                                    .then(|| value.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length || n == 0 {
                            break;
                        }
                    } else if n == 0 {
                        break;
                    }
                }
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&request).into_owned());
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        (base, seen)
    }

    fn metadata(base: &str, auth_methods: Option<Vec<CoreClientAuthMethod>>) -> Metadata {
        Metadata::new(
            IssuerUrl::new(base.into()).unwrap(),
            AuthUrl::new(format!("{base}/auth")).unwrap(),
            JsonWebKeySetUrl::new(format!("{base}/jwks")).unwrap(),
            vec![ResponseTypes::new(vec![CoreResponseType::Code])],
            vec![CoreSubjectIdentifierType::Public],
            vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
            ExtraMetadata::default(),
        )
        .set_token_endpoint(Some(TokenUrl::new(format!("{base}/token")).unwrap()))
        .set_userinfo_endpoint(Some(UserInfoUrl::new(format!("{base}/me")).unwrap()))
        .set_token_endpoint_auth_methods_supported(auth_methods)
    }

    fn config(issuer: &str) -> ProviderConfig {
        ProviderConfig {
            id: "canned".into(),
            issuer: issuer.into(),
            client_id: "colloquy".into(),
            client_secret: SECRET.into(),
            name: "Canned".into(),
            button_label: "Sign in".into(),
        }
    }

    fn provider(metadata: Metadata) -> Result<Provider, OidcError> {
        let issuer = metadata.issuer().to_string();
        let redirect = RedirectUrl::new("http://127.0.0.1:9/callback".into()).unwrap();
        Provider::from_metadata(config(&issuer), metadata, redirect)
    }

    fn fetcher() -> Fetcher {
        Fetcher::new(FetchConfig {
            allow_private: true,
            ..FetchConfig::default()
        })
        .unwrap()
    }

    fn header<'a>(request: &'a str, name: &str) -> Option<&'a str> {
        let head = request.split("\r\n\r\n").next().unwrap();
        head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn body(request: &str) -> &str {
        request.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }

    const INVALID_GRANT: &str =
        r#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#;

    #[tokio::test]
    async fn token_request_authenticates_with_client_secret_basic() {
        let (base, seen) = canned(400, "application/json", INVALID_GRANT).await;
        let provider = provider(metadata(&base, None)).unwrap();
        assert_eq!(provider.client_auth_method(), "client_secret_basic");
        let result = provider
            .finish(&fetcher(), "the-code", "the-verifier", "the-nonce")
            .await;
        assert_eq!(
            result,
            Err(OidcError::Exchange(
                "the token endpoint refused the code: invalid_grant: grant request is invalid"
                    .into()
            ))
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let request = &seen[0];
        assert!(request.starts_with("POST /token HTTP/1.1\r\n"), "{request}");
        let expected =
            base64::engine::general_purpose::STANDARD.encode(format!("colloquy:{SECRET}"));
        assert_eq!(
            header(request, "authorization"),
            Some(format!("Basic {expected}").as_str())
        );
        assert!(header(request, "user-agent")
            .unwrap()
            .starts_with("Colloquy/"));
        let form: Vec<(String, String)> = url::form_urlencoded::parse(body(request).as_bytes())
            .into_owned()
            .collect();
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("grant_type"), Some("authorization_code"));
        assert_eq!(get("code"), Some("the-code"));
        assert_eq!(get("code_verifier"), Some("the-verifier"));
        assert_eq!(get("redirect_uri"), Some("http://127.0.0.1:9/callback"));
        assert_eq!(get("client_secret"), None);
    }

    #[tokio::test]
    async fn token_request_falls_back_to_client_secret_post() {
        let (base, seen) = canned(400, "application/json", INVALID_GRANT).await;
        let only_post = Some(vec![CoreClientAuthMethod::ClientSecretPost]);
        let provider = provider(metadata(&base, only_post)).unwrap();
        assert_eq!(provider.client_auth_method(), "client_secret_post");
        let result = provider.finish(&fetcher(), "c", "v", "n").await;
        assert!(matches!(result, Err(OidcError::Exchange(_))), "{result:?}");
        let seen = seen.lock().unwrap();
        let request = &seen[0];
        assert_eq!(header(request, "authorization"), None);
        let form: Vec<(String, String)> = url::form_urlencoded::parse(body(request).as_bytes())
            .into_owned()
            .collect();
        assert!(form.contains(&("client_id".into(), "colloquy".into())));
        assert!(form.contains(&("client_secret".into(), SECRET.into())));
    }

    #[test]
    fn client_authentication_choice() {
        use CoreClientAuthMethod as M;
        assert!(matches!(choose_auth_type(None), Ok(AuthType::BasicAuth)));
        let both = vec![M::ClientSecretPost, M::ClientSecretBasic];
        assert!(matches!(
            choose_auth_type(Some(&both)),
            Ok(AuthType::BasicAuth)
        ));
        let post = vec![M::PrivateKeyJwt, M::ClientSecretPost];
        assert!(matches!(
            choose_auth_type(Some(&post)),
            Ok(AuthType::RequestBody)
        ));
        let neither = vec![M::PrivateKeyJwt, M::ClientSecretJwt];
        let refused = choose_auth_type(Some(&neither)).unwrap_err();
        assert!(
            refused.contains("private_key_jwt, client_secret_jwt"),
            "{refused}"
        );

        let mut md = metadata("http://127.0.0.1:9", Some(neither));
        assert!(matches!(provider(md.clone()), Err(OidcError::Discovery(_))));
        md = md
            .set_token_endpoint(None)
            .set_token_endpoint_auth_methods_supported(None);
        assert!(matches!(
            provider(md),
            Err(OidcError::Discovery(text)) if text.contains("no token endpoint")
        ));
    }

    #[test]
    fn only_asymmetric_signing_algorithms_are_accepted() {
        use CoreJwsSigningAlgorithm as A;
        let listed = [
            A::None,
            A::HmacSha256,
            A::RsaSsaPkcs1V15Sha256,
            A::EcdsaP256Sha256,
        ];
        assert_eq!(
            allowed_algs(&listed),
            Ok(vec![A::RsaSsaPkcs1V15Sha256, A::EcdsaP256Sha256])
        );
        let refused = allowed_algs(&[A::HmacSha256, A::None]).unwrap_err();
        assert!(refused.contains("HS256, none"), "{refused}");
    }

    fn without_email(subject: &str) -> Claims {
        Claims {
            subject: subject.into(),
            email: None,
            email_verified: false,
            name: None,
            issuer: "http://127.0.0.1:9".into(),
        }
    }

    const USERINFO: &str =
        r#"{"sub":"abc","email":"a@example.com","email_verified":true,"name":"A"}"#;

    #[tokio::test]
    async fn userinfo_fills_in_a_missing_email() {
        let (base, seen) = canned(200, "application/json; charset=utf-8", USERINFO).await;
        let provider = provider(metadata(&base, None)).unwrap();
        let fetcher = fetcher();
        let claims = provider
            .with_userinfo(
                &Http(&fetcher),
                &provider.client(),
                without_email("abc"),
                AccessToken::new("the-access-token".into()),
            )
            .await
            .unwrap();
        assert_eq!(claims.email.as_deref(), Some("a@example.com"));
        assert!(claims.email_verified);
        assert_eq!(claims.name.as_deref(), Some("A"));
        let seen = seen.lock().unwrap();
        assert!(seen[0].starts_with("GET /me HTTP/1.1\r\n"));
        assert_eq!(
            header(&seen[0], "authorization"),
            Some("Bearer the-access-token")
        );
    }

    #[tokio::test]
    async fn userinfo_about_someone_else_is_refused() {
        let (base, _) = canned(200, "application/json", USERINFO).await;
        let provider = provider(metadata(&base, None)).unwrap();
        let fetcher = fetcher();
        let result = provider
            .with_userinfo(
                &Http(&fetcher),
                &provider.client(),
                without_email("not-abc"),
                AccessToken::new("t".into()),
            )
            .await;
        assert_eq!(
            result,
            Err(OidcError::Userinfo(
                "the userinfo endpoint answered for another user (sub)".into()
            ))
        );
    }

    #[tokio::test]
    async fn no_userinfo_endpoint_means_no_email() {
        let md = metadata("http://127.0.0.1:9", None).set_userinfo_endpoint(None);
        let provider = provider(md).unwrap();
        let fetcher = fetcher();
        let claims = provider
            .with_userinfo(
                &Http(&fetcher),
                &provider.client(),
                without_email("abc"),
                AccessToken::new("t".into()),
            )
            .await
            .unwrap();
        assert_eq!(claims, without_email("abc"));
    }

    #[test]
    fn clock_skew_for_the_issue_time() {
        assert_eq!(check_issue_time(Utc::now() - TimeDelta::hours(1)), Ok(()));
        assert_eq!(
            check_issue_time(Utc::now() + TimeDelta::seconds(30)),
            Ok(())
        );
        assert_eq!(
            check_issue_time(Utc::now() + TimeDelta::seconds(120)),
            Err(ISSUED_IN_FUTURE.into())
        );
        assert_eq!(
            claims_error(ClaimsVerificationError::Expired(ISSUED_IN_FUTURE.into())),
            ISSUED_IN_FUTURE
        );
    }

    #[test]
    fn callback_parsing() {
        let provider = provider(metadata("http://127.0.0.1:9", None)).unwrap();
        assert_eq!(
            provider.parse_callback("?code=c&state=s&iss=http%3A%2F%2F127.0.0.1%3A9"),
            Ok(Callback {
                code: "c".into(),
                state: "s".into()
            })
        );
        // Without RFC 9207 in the metadata, a missing iss is fine.
        assert!(provider.parse_callback("code=c&state=s").is_ok());
        assert!(matches!(
            provider.parse_callback("code=c&code=d&state=s"),
            Err(OidcError::Callback(text)) if text.contains("repeats")
        ));
        assert!(matches!(
            provider.parse_callback("code=c"),
            Err(OidcError::Callback(text)) if text.contains("no state")
        ));
        assert_eq!(
            provider.parse_callback("error=access_denied&error_description=No%0d%0aThanks&state=s"),
            Err(OidcError::Provider("access_denied: NoThanks".into()))
        );
    }

    #[test]
    fn printable_text() {
        assert_eq!(printable("a\u{1b}[31mb\r\n"), "a[31mb");
        let long = "x".repeat(300);
        assert_eq!(printable(&long).chars().count(), 201);
        assert!(printable(&long).ends_with('…'));
        assert_eq!(printable(&"y".repeat(200)), "y".repeat(200));
    }

    #[test]
    fn provider_ids() {
        assert!(check_id("google").is_ok());
        assert!(check_id("my_idp-2").is_ok());
        for bad in ["", "a b", "a/b", "é", "a.b"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn config_from_a_file_refuses_unknown_fields_and_hides_the_secret() {
        let text = r#"{"id":"g","issuer":"https://accounts.google.com","client_id":"c",
            "client_secret":"hush","name":"Google","button_label":"Sign in with Google"}"#;
        let cfg: ProviderConfig = serde_json::from_str(text).unwrap();
        assert!(!format!("{cfg:?}").contains("hush"));
        let typo = text.replace("button_label", "buton_label");
        assert!(serde_json::from_str::<ProviderConfig>(&typo).is_err());
    }
}
