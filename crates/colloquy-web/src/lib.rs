//! Colloquy's HTTP layer: routes (one module per area), templates, the page cache, assets.
//!
//! Handlers parse input into `colloquy_core` types, call the store, and render. They never
//! write SQL and never hold business rules beyond "who may do this".

mod assets;
mod auth;
mod background;
mod cache;
mod error;
pub mod export;
pub mod import;
mod live;
mod mailing;
mod metrics;
mod render;
mod routes;
pub mod server;
mod site;

pub use background::spawn_workers;
pub use error::WebError;
pub use site::Settings;

use colloquy_store::Store;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

/// What the binary hands to the web layer; read once at start.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Absolute base URL without a trailing slash, e.g. `https://colloquy.example.org`.
    pub base_url: String,
    pub data_dir: PathBuf,
    pub page_cache: bool,
    /// A thought sent back sooner than this after its form was handed out is treated as spam.
    pub thought_min_seconds: i64,
    /// Most thoughts one address (or one email) may send per minute and per hour.
    pub thought_limits: (usize, usize),
    /// Addresses per sitemap file before `/sitemap.xml` becomes an index.
    pub sitemap_urls: u32,
    /// Live debate event streams one client address may hold open on this node (each costs
    /// memory for as long as it is open); 0 = no limit.
    pub debate_streams_per_ip: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client (see `auth::client_ip`);
    /// empty: the header is ignored and the connection's address is the client's.
    pub trusted_proxies: Vec<colloquy_core::thought::IpRange>,
    /// Lets the fetch guard reach private and loopback addresses (tests, local set-ups).
    pub fetch_allow_private: bool,
    /// OpenID Connect providers members may sign in with.
    pub oidc_providers: Vec<OidcProviderConfig>,
}

/// One OpenID Connect provider, as configured (`[[oidc]]` in the TOML file).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct OidcProviderConfig {
    /// In addresses: `/sign-in/with/<id>`. Letters, digits and hyphens.
    pub id: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Shown in the account pages ("Example ID").
    pub name: String,
    /// The sign-in button's words ("Sign in with Example ID").
    pub button_label: String,
}

pub struct AppState {
    pub store: Store,
    pub config: WebConfig,
    settings: RwLock<Arc<Settings>>,
    cache: cache::PageCache,
    /// The menu's pages, authors and the newest change, derived once per cache generation.
    nav: cache::Memo<(), Arc<Vec<render::Link>>>,
    authors: cache::Memo<i64, Arc<colloquy_store::UserRow>>,
    last_change: cache::Memo<(), i64>,
    /// Every debate, for the announcements on post pages.
    debates: cache::Memo<(), Arc<Vec<colloquy_store::DebateRow>>>,
    templates: render::Templates,
    /// Where mail goes: an SMTP server, or the outbox folder.
    pub mailer: Arc<colloquy_mail::Mailer>,
    /// The one client for URLs that came from outside (linkbacks, discovery).
    pub fetcher: colloquy_federation::Fetcher,
    /// OpenID Connect providers, discovered on first use.
    pub(crate) oidc: tokio::sync::Mutex<
        std::collections::HashMap<String, Arc<colloquy_federation::oidc::Provider>>,
    >,
    /// The site version this node last saw; a different value in the database means another
    /// node or a CLI command wrote something.
    seen_version: AtomicI64,
    secure_cookies: bool,
    /// Thoughts waiting for a moderator, as last counted (for the admin menu).
    pending_thoughts: AtomicI64,
    /// Recent post creations per user, for the posting rate limit (per node).
    recent_posts: std::sync::Mutex<std::collections::HashMap<i64, Vec<i64>>>,
    /// This node's debate rooms and their readers.
    live: live::Live,
    /// The main runtime (background work, the database pool). The HTTP runtimes also carry
    /// every open debate stream; work that must not queue behind thousands of readers runs
    /// here (`offload`).
    main_rt: tokio::runtime::Handle,
}

/// At most this many new posts or pages per user in `POST_WINDOW` seconds, on each node.
pub const MAX_POSTS_PER_WINDOW: usize = 30;
pub const POST_WINDOW: i64 = 600;

pub type SharedState = Arc<AppState>;

impl AppState {
    pub async fn new(
        store: Store,
        config: WebConfig,
        mailer: colloquy_mail::Mailer,
    ) -> anyhow::Result<SharedState> {
        let settings = Settings::load(&store).await?;
        let version = store.site_version().await?;
        std::fs::create_dir_all(config.data_dir.join("uploads"))?;
        let secure_cookies = config.base_url.starts_with("https://");
        Ok(Arc::new(Self {
            cache: cache::PageCache::new(config.page_cache),
            nav: cache::Memo::new(),
            authors: cache::Memo::new(),
            last_change: cache::Memo::new(),
            debates: cache::Memo::new(),
            templates: render::Templates::new()?,
            mailer: Arc::new(mailer),
            fetcher: colloquy_federation::Fetcher::new(colloquy_federation::FetchConfig {
                user_agent: colloquy_federation::user_agent(&config.base_url),
                allow_private: config.fetch_allow_private,
                ..Default::default()
            })?,
            oidc: Default::default(),
            settings: RwLock::new(Arc::new(settings)),
            seen_version: AtomicI64::new(version),
            store,
            config,
            secure_cookies,
            pending_thoughts: AtomicI64::new(0),
            recent_posts: Default::default(),
            live: live::Live::default(),
            main_rt: tokio::runtime::Handle::current(),
        }))
    }

    pub fn settings(&self) -> Arc<Settings> {
        self.settings.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Something changed (here or on another node): drop cached pages and reload settings.
    pub async fn content_changed(&self) {
        self.cache.clear();
        if let Ok(s) = Settings::load(&self.store).await {
            if let Ok(mut w) = self.settings.write() {
                *w = Arc::new(s);
            }
        }
        // Pages rendered during the reload above may have used old settings.
        self.cache.clear();
    }

    /// Counts one post creation for `user_id`, or refuses it with the seconds to wait.
    pub fn allow_new_post(&self, user_id: i64) -> Result<(), WebError> {
        let now = colloquy_store::now();
        let mut map = self
            .recent_posts
            .lock()
            .map_err(|_| anyhow::anyhow!("rate limiter poisoned"))?;
        let times = map.entry(user_id).or_default();
        times.retain(|t| *t > now - POST_WINDOW);
        if times.len() >= MAX_POSTS_PER_WINDOW {
            let wait = times
                .first()
                .map(|t| t + POST_WINDOW - now)
                .unwrap_or(POST_WINDOW)
                .max(1);
            return Err(WebError::TooManyRequests(wait as u64));
        }
        times.push(now);
        Ok(())
    }

    /// Runs `work` on the main runtime and waits for it: posting to a debate room with
    /// thousands of readers on this node's HTTP runtimes would otherwise wait behind their
    /// writes at every database round trip.
    pub async fn offload<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, WebError> {
        self.main_rt
            .spawn(work)
            .await
            .map_err(|e| WebError::Internal(anyhow::anyhow!("offloaded work failed: {e}")))
    }

    /// The node is stopping: ends every debate reader's stream so the HTTP servers can finish.
    pub fn close_live_streams(&self) {
        self.live.hub.close_all();
    }

    /// One post's thoughts or likes changed (here or on another node).
    pub fn post_changed(&self, post_id: i64) {
        self.cache.clear_post(post_id);
    }

    /// Compares the database's change counter with the one this node last saw, and drops
    /// what the changes since then touched: one post's pages, or everything.
    pub async fn check_for_changes(&self) -> anyhow::Result<()> {
        let v = self.store.site_version().await?;
        let seen = self.seen_version.load(Ordering::Acquire);
        if v == seen {
            return Ok(());
        }
        let scopes = self.store.changes_between(seen, v).await?;
        let complete = v > seen && scopes.len() as i64 == v - seen;
        let posts: Option<Vec<i64>> = scopes
            .iter()
            .map(|s| s.strip_prefix("post:").and_then(|n| n.parse().ok()))
            .collect();
        match posts {
            Some(ids) if complete => ids.into_iter().for_each(|id| self.post_changed(id)),
            _ => self.content_changed().await,
        }
        self.seen_version.store(v, Ordering::Release);
        Ok(())
    }
}

/// Builds the whole application router.
pub fn app(state: SharedState) -> axum::Router {
    routes::router(state)
}

/// A one-time link for creating the first admin account, or `None` when users exist.
pub async fn first_run_setup_link(state: &AppState) -> anyhow::Result<Option<String>> {
    if state.store.count_admins().await? > 0 {
        return Ok(None);
    }
    let token = auth::random_token();
    state
        .store
        .set_setup_token(&auth::hash_token(&token), colloquy_store::now() + 86_400)
        .await?;
    Ok(Some(format!(
        "{}/admin/setup?token={token}",
        state.config.base_url
    )))
}

pub use auth::{create_password_account, hash_password, hash_token, random_token};
pub use site::seed_demo;
