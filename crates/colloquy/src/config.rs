//! Settings: an optional TOML file, then environment variables, which win.

use anyhow::Context;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    listen: Option<String>,
    base_url: Option<String>,
    page_cache: Option<bool>,
    thought_min_seconds: Option<i64>,
    thought_limits: Option<String>,
    sitemap_urls: Option<u32>,
    debate_streams_per_ip: Option<u32>,
    trusted_proxies: Option<Vec<String>>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    mail_reply_to: Option<String>,
    dkim_selector: Option<String>,
    dkim_domain: Option<String>,
    dkim_key_file: Option<PathBuf>,
    #[serde(default)]
    oidc: Vec<colloquy_web::OidcProviderConfig>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub listen: String,
    pub base_url: String,
    pub page_cache: bool,
    pub thought_min_seconds: i64,
    pub thought_limits: (usize, usize),
    pub sitemap_urls: u32,
    /// Live debate event streams one client address may hold open on a node; 0 = no limit.
    pub debate_streams_per_ip: u32,
    /// `smtp://…` / `smtps://…`; None keeps mail in `<data dir>/outbox/`.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub mail_reply_to: Option<String>,
    /// (selector, domain, key file) when DKIM signing is configured.
    pub dkim: Option<(String, String, PathBuf)>,
    pub mail_lease_seconds: i64,
    pub fetch_allow_private: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges).
    pub trusted_proxies: Vec<colloquy_core::thought::IpRange>,
    /// OpenID Connect providers (`[[oidc]]` tables, or COLLOQUY_OIDC_PROVIDERS as JSON).
    pub oidc_providers: Vec<colloquy_web::OidcProviderConfig>,
}

impl Config {
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let fc: FileConfig = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read config file {}", p.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("config file {} is not valid", p.display()))?
            }
            None => FileConfig::default(),
        };
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let data_dir = env("COLLOQUY_DATA_DIR")
            .map(PathBuf::from)
            .or(fc.data_dir)
            .unwrap_or_else(|| PathBuf::from("./colloquy-data"));
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
        let database_url = match env("COLLOQUY_DATABASE_URL").or(fc.database_url) {
            Some(u) => u,
            None => format!("sqlite://{}", data_dir.join("colloquy.db").display()),
        };
        let listen = env("COLLOQUY_LISTEN")
            .or(fc.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let base_url = env("COLLOQUY_BASE_URL")
            .or(fc.base_url)
            .unwrap_or_else(|| format!("http://{listen}"));
        let base_url = base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            anyhow::bail!(
                "COLLOQUY_BASE_URL must start with http:// or https:// (got {base_url:?})"
            );
        }
        let page_cache = match env("COLLOQUY_PAGE_CACHE").as_deref() {
            Some("off") | Some("0") | Some("false") => false,
            Some("on") | Some("1") | Some("true") => true,
            Some(other) => anyhow::bail!("COLLOQUY_PAGE_CACHE must be on or off (got {other:?})"),
            None => fc.page_cache.unwrap_or(true),
        };
        let thought_min_seconds = match env("COLLOQUY_THOUGHT_MIN_SECONDS") {
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (0..=600).contains(n))
                .with_context(|| {
                    format!("COLLOQUY_THOUGHT_MIN_SECONDS must be 0 to 600 seconds (got {v:?})")
                })?,
            None => fc.thought_min_seconds.unwrap_or(3),
        };
        let limits = env("COLLOQUY_THOUGHT_LIMITS")
            .or(fc.thought_limits)
            .unwrap_or_else(|| "5,30".into());
        let thought_limits = limits
            .split_once(',')
            .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
            .with_context(|| {
                format!("COLLOQUY_THOUGHT_LIMITS must be PER_MINUTE,PER_HOUR such as 5,30 (got {limits:?})")
            })?;
        let sitemap_urls = match env("COLLOQUY_SITEMAP_URLS") {
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (10..=50_000).contains(n))
                .with_context(|| {
                    format!("COLLOQUY_SITEMAP_URLS must be 10 to 50000 (got {v:?})")
                })?,
            None => fc.sitemap_urls.unwrap_or(10_000),
        };
        let debate_streams_per_ip = match env("COLLOQUY_DEBATE_STREAMS_PER_IP") {
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= 1_000_000)
                .with_context(|| {
                    format!("COLLOQUY_DEBATE_STREAMS_PER_IP must be 0 (no limit) to 1000000 (got {v:?})")
                })?,
            None => fc.debate_streams_per_ip.unwrap_or(64),
        };
        let smtp_url = env("COLLOQUY_SMTP_URL").or(fc.smtp_url);
        let host = base_url
            .split("://")
            .nth(1)
            .unwrap_or("localhost")
            .split(['/', ':'])
            .next()
            .unwrap_or("localhost")
            .to_owned();
        let host = if host.contains('.') {
            host
        } else {
            format!("{host}.localdomain")
        };
        let mail_from = env("COLLOQUY_MAIL_FROM")
            .or(fc.mail_from)
            .unwrap_or_else(|| format!("colloquy@{host}"));
        let mail_reply_to = env("COLLOQUY_MAIL_REPLY_TO").or(fc.mail_reply_to);
        let dkim = match (
            env("COLLOQUY_DKIM_SELECTOR").or(fc.dkim_selector),
            env("COLLOQUY_DKIM_DOMAIN").or(fc.dkim_domain),
            env("COLLOQUY_DKIM_KEY_FILE").map(PathBuf::from).or(fc.dkim_key_file),
        ) {
            (Some(s), Some(d), Some(k)) => Some((s, d, k)),
            (None, None, None) => None,
            _ => anyhow::bail!(
                "DKIM needs all three of COLLOQUY_DKIM_SELECTOR, COLLOQUY_DKIM_DOMAIN and COLLOQUY_DKIM_KEY_FILE"
            ),
        };
        let mail_lease_seconds = match env("COLLOQUY_MAIL_LEASE_SECONDS") {
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=3600).contains(n))
                .with_context(|| {
                    format!("COLLOQUY_MAIL_LEASE_SECONDS must be 1 to 3600 (got {v:?})")
                })?,
            None => 120,
        };
        let trusted_proxies = match env("COLLOQUY_TRUSTED_PROXIES") {
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect(),
            None => fc.trusted_proxies.unwrap_or_default(),
        }
        .iter()
        .map(|p| {
            colloquy_core::thought::IpRange::parse(p).map_err(|_| {
                anyhow::anyhow!(
                    "trusted proxies (COLLOQUY_TRUSTED_PROXIES or trusted_proxies) must be addresses or ranges such as 10.0.0.5 or 10.0.0.0/8 (got {p:?})"
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
        let fetch_allow_private = matches!(
            env("COLLOQUY_FETCH_ALLOW_PRIVATE").as_deref(),
            Some("1") | Some("true") | Some("on")
        );
        let oidc_providers = match env("COLLOQUY_OIDC_PROVIDERS") {
            Some(json) => serde_json::from_str(&json).with_context(|| {
                "COLLOQUY_OIDC_PROVIDERS must be a JSON list of {id, issuer, client_id, client_secret, name, button_label}"
            })?,
            None => fc.oidc,
        };
        let mut ids = std::collections::HashSet::new();
        for p in &oidc_providers {
            let ok_id = !p.id.is_empty()
                && p.id.len() <= 40
                && p.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok_id || !ids.insert(p.id.clone()) {
                anyhow::bail!(
                    "each OpenID Connect provider needs its own id of lowercase letters, digits and hyphens (got {:?})",
                    p.id
                );
            }
            if !(p.issuer.starts_with("https://") || p.issuer.starts_with("http://")) {
                anyhow::bail!(
                    "the issuer of OpenID Connect provider {:?} must be an http(s) URL",
                    p.id
                );
            }
        }
        Ok(Self {
            oidc_providers,
            fetch_allow_private,
            trusted_proxies,
            mail_lease_seconds,
            smtp_url,
            mail_from,
            mail_reply_to,
            dkim,
            sitemap_urls,
            debate_streams_per_ip,
            thought_limits,
            thought_min_seconds,
            data_dir,
            database_url,
            listen,
            base_url,
            page_cache,
        })
    }
}
