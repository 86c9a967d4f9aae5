//! Colloquy federation: talking to other sites.
//!
//! For now this is the outbound fetch guard ([`fetch`]): every request to a URL that came
//! from outside (linkback sources, Webmention and Pingback endpoint discovery, later
//! ActivityPub and imports) goes through one [`Fetcher`]. Code in this crate must not build
//! its own HTTP client.

pub mod discovery;
pub mod fetch;
pub mod mf2;
pub mod oidc;
pub mod xmlrpc;

pub use discovery::parse_html_bounded;
pub use fetch::{
    check_url, filter_addrs, is_forbidden, resolve_checked, user_agent, FetchConfig, FetchError,
    Fetched, Fetcher,
};
