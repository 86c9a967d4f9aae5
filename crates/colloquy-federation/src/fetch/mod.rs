//! The outbound fetch guard: the one HTTP client for every URL that came from outside.
//!
//! Linkback sources, Webmention and Pingback endpoint discovery, and later ActivityPub and
//! imports all fetch URLs that a stranger chose. Without a guard, anyone could make the server
//! fetch `http://127.0.0.1:5432/`, the cloud metadata service at `169.254.169.254`, or a
//! router on the LAN, and read the answer back through a linkback (server-side request
//! forgery). [`Fetcher`] refuses that:
//!
//! - **Addresses.** Only public unicast addresses may be reached; [`is_forbidden`] lists what
//!   is refused (loopback, private, link-local, CGNAT, documentation, benchmarking, reserved,
//!   multicast, and IPv6 forms that embed such an IPv4 address). Names like `localhost` are
//!   refused before any lookup.
//! - **Where the check happens.** Checking a name's addresses first and connecting later is
//!   not enough: a hostile DNS server can answer the check with a public address and the
//!   connection, a moment later, with `127.0.0.1` (DNS rebinding). So the check lives in the
//!   client's own resolver: the addresses it filters are the very addresses the connection is
//!   made to, and a name with no allowed address fails there. URLs whose host is an IP literal
//!   never reach a resolver, so [`check_url`] judges those before the request is sent, and
//!   again on every redirect hop.
//! - **URLs.** Only `http` and `https`, any port; no `user:password@` in the URL.
//! - **Budgets.** At most [`FetchConfig::max_redirects`] redirects, a body of at most
//!   [`FetchConfig::max_bytes`] (refused early when `Content-Length` says more, cut off
//!   while streaming otherwise), [`FetchConfig::timeout`] for the whole exchange and 5 s to
//!   connect. No proxy from the environment is used (a proxy would connect on our behalf,
//!   past the resolver check), no cookies are kept, no `Referer` is sent.
//! - **Honesty.** Every request carries [`FetchConfig::user_agent`], by default
//!   `Colloquy/<version>`; use [`user_agent`] to add the site's address.
//!
//! [`FetchConfig::allow_private`] lifts the address rule for tests and local set-ups
//! (`COLLOQUY_FETCH_ALLOW_PRIVATE=1` in the binary); the scheme, userinfo, redirect, size and
//! time rules still apply.

mod address;

pub use address::is_forbidden;

use address::is_localhost_name;
use bytes::{Bytes, BytesMut};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::{redirect, RequestBuilder, Url};
use std::error::Error as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const ACCEPT_HTML: &str = "text/html,*/*;q=0.8";

/// Why a fetch did not happen or did not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The text is not a URL we can fetch (unparsable, no host, or carrying a user name).
    #[error("not a fetchable URL: {0}")]
    BadUrl(String),
    /// The URL uses a scheme other than http or https.
    #[error("refused the URL scheme {0:?}: only http and https links are fetched")]
    Scheme(String),
    /// The host is, or resolves only to, an address outside URLs may not reach.
    #[error(
        "refused to connect to {host} ({addr}): it is a loopback, private or reserved \
         address, which links from outside may not reach"
    )]
    Forbidden { host: String, addr: IpAddr },
    /// The server redirected more often than the configured limit.
    #[error("gave up after too many redirects")]
    TooManyRedirects,
    /// The response body is larger than the configured limit.
    #[error("the response is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    /// Connecting, or the whole exchange, took longer than allowed.
    #[error("the remote server took too long to answer")]
    Timeout,
    /// The server answered with a status the caller treats as failure
    /// (see [`Fetched::error_for_status`]; fetching itself never returns this).
    #[error("the remote server answered with HTTP status {0}")]
    Http(u16),
    /// Resolving, connecting, TLS or the HTTP exchange failed.
    #[error("network error: {0}")]
    Network(String),
    /// The [`FetchConfig`] cannot be used (for example a User-Agent with a line break).
    #[error("invalid fetch configuration: {0}")]
    Config(String),
}

/// How the guard behaves; [`Default`] gives the production limits.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Sent with every request; see [`user_agent`].
    pub user_agent: String,
    /// Lift the address rule (tests and local set-ups only).
    pub allow_private: bool,
    /// Largest response body accepted, in bytes.
    pub max_bytes: usize,
    /// Deadline for the whole exchange: connecting, redirects and reading the body.
    pub timeout: Duration,
    /// Most redirects followed for one fetch.
    pub max_redirects: usize,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            user_agent: format!("Colloquy/{}", env!("CARGO_PKG_VERSION")),
            allow_private: false,
            max_bytes: 1024 * 1024,
            timeout: Duration::from_secs(10),
            max_redirects: 5,
        }
    }
}

/// The User-Agent Colloquy announces: `Colloquy/<version> (+<base_url>)`, so a site owner
/// who sees our requests can find out who sends them.
pub fn user_agent(base_url: &str) -> String {
    format!("Colloquy/{} (+{base_url})", env!("CARGO_PKG_VERSION"))
}

/// A finished response. Any status is returned as it is: a `410 Gone` is an answer, not an
/// error (Webmention verification depends on seeing it).
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL after following redirects.
    pub final_url: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Fetched {
    /// `Err(FetchError::Http(status))` unless the status is 2xx.
    pub fn error_for_status(self) -> Result<Self, FetchError> {
        if (200..300).contains(&self.status) {
            Ok(self)
        } else {
            Err(FetchError::Http(self.status))
        }
    }
}

/// The guarded HTTP client. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    allow_private: bool,
    max_bytes: usize,
    timeout: Duration,
}

impl Fetcher {
    pub fn new(cfg: FetchConfig) -> Result<Self, FetchError> {
        if cfg.allow_private {
            tracing::warn!(
                "outbound fetch guard: private and loopback addresses are ALLOWED \
                 (COLLOQUY_FETCH_ALLOW_PRIVATE); outside links can now reach this machine \
                 and its network: use this only for tests and local set-ups"
            );
        }
        let client = build_client(&cfg)?;
        Ok(Self {
            client,
            allow_private: cfg.allow_private,
            max_bytes: cfg.max_bytes,
            timeout: cfg.timeout,
        })
    }

    /// GET `url`, asking for HTML first.
    pub async fn get(&self, url: &str) -> Result<Fetched, FetchError> {
        self.fetch(url, |client, url| {
            client.get(url).header(ACCEPT, ACCEPT_HTML)
        })
        .await
    }

    /// POST `form` as `application/x-www-form-urlencoded` (sending a Webmention).
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<Fetched, FetchError> {
        self.fetch(url, |client, url| client.post(url).form(form))
            .await
    }

    /// POST an XML document as `text/xml` (a `pingback.ping` call).
    pub async fn post_xml(&self, url: &str, body: String) -> Result<Fetched, FetchError> {
        self.fetch(url, |client, url| {
            client
                .post(url)
                .header(CONTENT_TYPE, HeaderValue::from_static("text/xml"))
                .body(body)
        })
        .await
    }

    /// Any method, with the caller's headers and body: the general form the OpenID Connect
    /// client ([`crate::oidc`]) needs for discovery, the token endpoint (with an
    /// `Authorization` header) and userinfo. The same guard, redirect, size and time rules
    /// apply as for [`Fetcher::get`]. Headers the caller sets replace the client's defaults
    /// (the User-Agent included); as with every redirect reqwest follows, `Authorization` is
    /// dropped when a redirect leaves the original host.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: HeaderMap,
        body: Vec<u8>,
    ) -> Result<Fetched, FetchError> {
        self.fetch(url, |client, url| {
            client.request(method, url).headers(headers).body(body)
        })
        .await
    }

    #[tracing::instrument(name = "guarded_fetch", skip(self, build), err(level = tracing::Level::DEBUG))]
    async fn fetch(
        &self,
        url: &str,
        build: impl FnOnce(&reqwest::Client, Url) -> RequestBuilder,
    ) -> Result<Fetched, FetchError> {
        let url = parse_url(url)?;
        check_url(&url, self.allow_private)?;
        let request = build(&self.client, url);
        let max_bytes = self.max_bytes;
        // reqwest's own timeout covers this too; the outer one makes the deadline exact
        // whatever happens inside.
        tokio::time::timeout(self.timeout, async move {
            let response = request.send().await.map_err(from_reqwest)?;
            read_response(response, max_bytes).await
        })
        .await
        .map_err(|_| FetchError::Timeout)?
    }
}

fn build_client(cfg: &FetchConfig) -> Result<reqwest::Client, FetchError> {
    let user_agent = HeaderValue::from_str(&cfg.user_agent)
        .map_err(|_| FetchError::Config(format!("unusable User-Agent {:?}", cfg.user_agent)))?;
    let allow_private = cfg.allow_private;
    let max_redirects = cfg.max_redirects;
    let policy = redirect::Policy::custom(move |attempt| {
        // `previous` holds the first URL and every hop followed so far.
        if attempt.previous().len() > max_redirects {
            return attempt.error(FetchError::TooManyRedirects);
        }
        match check_url(attempt.url(), allow_private) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    });
    reqwest::Client::builder()
        .user_agent(user_agent)
        .dns_resolver(Arc::new(GuardedResolver { allow_private }))
        .redirect(policy)
        .no_proxy()
        .referer(false)
        .timeout(cfg.timeout)
        .connect_timeout(CONNECT_TIMEOUT.min(cfg.timeout))
        .build()
        .map_err(|e| FetchError::Config(error_chain(&e)))
}

fn parse_url(url: &str) -> Result<Url, FetchError> {
    Url::parse(url.trim()).map_err(|e| FetchError::BadUrl(format!("{url:?}: {e}")))
}

/// The per-URL rule, applied before sending and on every redirect hop: http or https only, no
/// userinfo, and (unless `allow_private`) no `localhost`-like name and no IP literal that
/// [`is_forbidden`] refuses. Names are judged by their addresses in the resolver.
pub fn check_url(url: &Url, allow_private: bool) -> Result<(), FetchError> {
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(FetchError::Scheme(other.to_owned())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchError::BadUrl(format!(
            "{}: user names and passwords in links are refused",
            without_userinfo(url)
        )));
    }
    let host = url
        .host_str()
        .ok_or_else(|| FetchError::BadUrl(format!("{url}: no host")))?;
    if allow_private {
        return Ok(());
    }
    // The URL parser has already turned every IPv4 spelling (`0x7f.1`, `2130706433`) into
    // dotted form; IPv6 literals come in brackets.
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .parse::<IpAddr>()
        .ok();
    let refused = match literal {
        Some(ip) => Some(ip).filter(|ip| is_forbidden(*ip)),
        None if is_localhost_name(host) => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        None => None,
    };
    match refused {
        Some(addr) => Err(FetchError::Forbidden {
            host: host.to_owned(),
            addr,
        }),
        None => Ok(()),
    }
}

fn without_userinfo(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// The resolver's rule: keep only the addresses that may be reached; if none is left, refuse
/// naming the first address that was refused.
pub fn filter_addrs(
    host: &str,
    addrs: Vec<SocketAddr>,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, FetchError> {
    if addrs.is_empty() {
        return Err(FetchError::Network(format!("{host} has no addresses")));
    }
    if allow_private {
        return Ok(addrs);
    }
    let first = addrs[0].ip();
    let allowed: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| !is_forbidden(a.ip()))
        .collect();
    if allowed.is_empty() {
        return Err(FetchError::Forbidden {
            host: host.to_owned(),
            addr: first,
        });
    }
    Ok(allowed)
}

/// Resolve `host` with the system resolver and apply [`filter_addrs`]: exactly what the
/// client's resolver does before every connection.
pub async fn resolve_checked(
    host: &str,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, FetchError> {
    let addrs = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|e| FetchError::Network(format!("could not resolve {host}: {e}")))?
        .collect();
    let allowed = filter_addrs(host, addrs, allow_private);
    if let Err(refused) = &allowed {
        tracing::debug!(host, error = %refused, "resolver refused host");
    }
    allowed
}

/// The hook reqwest calls for every connection it makes to a name.
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolve_checked(&host, allow_private).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

async fn read_response(
    mut response: reqwest::Response,
    max_bytes: usize,
) -> Result<Fetched, FetchError> {
    let too_large = FetchError::TooLarge { limit: max_bytes };
    if response
        .content_length()
        .is_some_and(|len| len > max_bytes as u64)
    {
        return Err(too_large);
    }
    let final_url = response.url().to_string();
    let status = response.status().as_u16();
    let headers = std::mem::take(response.headers_mut());
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(from_reqwest)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched {
        final_url,
        status,
        headers,
        body: body.freeze(),
    })
}

/// Our own refusals travel through reqwest as boxed error sources (from the resolver and the
/// redirect policy); bring them back out so callers see the precise variant.
fn from_reqwest(err: reqwest::Error) -> FetchError {
    let mut source = err.source();
    while let Some(inner) = source {
        if let Some(ours) = inner.downcast_ref::<FetchError>() {
            return ours.clone();
        }
        source = inner.source();
    }
    if err.is_timeout() {
        return FetchError::Timeout;
    }
    FetchError::Network(error_chain(&err))
}

/// "outer: cause: root cause": reqwest's own message alone rarely says what went wrong.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The resolver hook on its own, without the up-front name check: a name that resolves
    /// only to loopback is refused at connect time and surfaces as `Forbidden`.
    #[tokio::test]
    async fn resolver_hook_refuses_loopback_name_at_connect_time() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = build_client(&FetchConfig::default()).unwrap();
        let result = client
            .get(format!("http://localhost:{port}/"))
            .send()
            .await
            .map_err(from_reqwest);
        match result {
            Err(FetchError::Forbidden { host, addr }) => {
                assert_eq!(host, "localhost");
                assert!(addr.is_loopback());
            }
            other => panic!("expected Forbidden, got {other:?}"),
        }
        // Nothing connected.
        let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        assert!(accepted.is_err());
    }
}
