//! The `colloquy` command: runs the server and administers its database.

mod config;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use colloquy_core::user::NewAccount;
use colloquy_store::Store;
use config::Config;
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

/// Colloquy: opinion pieces and scheduled live debates for professional communities.
///
/// Settings come from an optional TOML file (--config) and environment variables, which
/// override it: COLLOQUY_DATA_DIR (default ./colloquy-data), COLLOQUY_DATABASE_URL (default a
/// SQLite file in the data dir; postgres://… selects PostgreSQL), COLLOQUY_LISTEN (default
/// 127.0.0.1:8080), COLLOQUY_BASE_URL (default http:// + the listen address) and
/// COLLOQUY_PAGE_CACHE (on|off, default on).
#[derive(Parser)]
#[command(name = "colloquy", version)]
struct Cli {
    /// TOML file with data_dir, database_url, listen, base_url, page_cache.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (applies pending migrations first).
    Serve {
        /// Seed a small demo publication when the site has no posts yet.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Mail digests to followers.
    Digest {
        #[command(subcommand)]
        command: DigestCommand,
    },
    /// Bring another site's content in.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Write this site's content out.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import a WordPress export file (WXR 1.0, 1.1 or 1.2, from WordPress.org or
    /// WordPress.com): authors, posts, pages, categories, tags, comments, pingbacks and
    /// trackbacks, with their old links answering 301 to the new pages. Running it again
    /// changes nothing; an interrupted run continues where it stopped. A broken file is
    /// refused (with its line and column) before anything is written.
    Wxr {
        /// The export file (Tools → Export in WordPress).
        file: PathBuf,
        /// Read and convert everything and report, but write nothing.
        #[arg(long)]
        dry_run: bool,
        /// TOML file mapping WordPress logins to the email of a user here
        /// (`jdoe = "jane@example.org"`, optionally under `[authors]`).
        #[arg(long, value_name = "MAP.toml")]
        authors: Option<PathBuf>,
        /// Keep images at their remote URLs instead of copying them into uploads/.
        #[arg(long)]
        no_media: bool,
        /// Print the final summary as JSON on standard output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// Write the site as a WordPress export (WXR 1.2) to standard output: WordPress's
    /// importer reads it, and so does `colloquy import wxr`.
    Wxr,
}

#[derive(Subcommand)]
enum DigestCommand {
    /// Queue a digest now for every follower of FREQUENCY who has new posts since their last
    /// one (the running server sends it). Digests also go out by themselves every day and
    /// every Monday from 07:00 in the site's time zone.
    Send {
        /// daily or weekly.
        #[arg(long)]
        frequency: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from standard input.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, editor, author, moderator or member.
        #[arg(long)]
        role: String,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for a user and print it (only the token).
    Create {
        #[arg(long)]
        email: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COLLOQUY_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = Config::load(cli.config.as_deref())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(cli.command, config))
}

async fn open(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.database_url).await.with_context(|| {
        format!(
            "cannot open the database at {}",
            redact(&config.database_url)
        )
    })
}

/// Hides a password in a database URL before it is printed.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Migrate => {
            let store = open(&config).await?;
            store.close().await;
            eprintln!("database is up to date");
            Ok(())
        }
        Command::Serve { demo } => serve(config, demo).await,
        Command::User {
            command:
                UserCommand::Add {
                    email,
                    name,
                    role,
                    password_stdin,
                },
        } => {
            if !password_stdin {
                anyhow::bail!("pass --password-stdin and write the password to standard input");
            }
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            let password = password.trim_end_matches(['\n', '\r']);
            let account = NewAccount::parse(&email, &name, &role, password)?;
            let store = open(&config).await?;
            colloquy_web::create_password_account(&store, &account, password)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            store.close().await;
            eprintln!(
                "added {} ({})",
                account.email.as_str(),
                account.role.as_str()
            );
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Create { email },
        } => {
            let store = open(&config).await?;
            let user = store
                .user_by_email(email.trim())
                .await
                .map_err(|_| anyhow::anyhow!("no user has the email {email}"))?;
            let token = colloquy_web::random_token();
            store
                .create_api_token(&colloquy_web::hash_token(&token), user.id)
                .await?;
            store.close().await;
            println!("{token}");
            Ok(())
        }
        Command::Import {
            command:
                ImportCommand::Wxr {
                    file,
                    dry_run,
                    authors,
                    no_media,
                    json,
                },
        } => import_wxr(&config, file, dry_run, authors, no_media, json).await,
        Command::Export {
            command: ExportCommand::Wxr,
        } => {
            let store = open(&config).await?;
            let out = std::io::BufWriter::new(std::io::stdout().lock());
            let result = colloquy_web::export::export_wxr(&store, &config.base_url, out).await;
            store.close().await;
            let n = result.map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!(
                "exported {} posts and pages, {} thoughts, {} authors, {} terms",
                n.posts, n.thoughts, n.authors, n.terms
            );
            Ok(())
        }
        Command::Digest {
            command: DigestCommand::Send { frequency },
        } => {
            if frequency != "daily" && frequency != "weekly" {
                anyhow::bail!("--frequency must be daily or weekly (got {frequency:?})");
            }
            let store = open(&config).await?;
            let period = format!("manual-{}", colloquy_store::now());
            let n = store.queue_digests(&frequency, &period).await?;
            store.close().await;
            println!("queued {n} {frequency} digest mail(s)");
            Ok(())
        }
    }
}

fn read_author_map(path: &std::path::Path) -> anyhow::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the authors map {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("the authors map {} is not valid TOML", path.display()))?;
    let table = match table.get("authors") {
        Some(toml::Value::Table(t)) => t.clone(),
        _ => table,
    };
    table
        .into_iter()
        .map(|(login, v)| match v {
            toml::Value::String(email) => Ok((login, email)),
            _ => anyhow::bail!(
                "in the authors map {}, {login:?} must be given an email in quotes (jdoe = \"jane@example.org\")",
                path.display()
            ),
        })
        .collect()
}

async fn import_wxr(
    config: &Config,
    file: PathBuf,
    dry_run: bool,
    authors: Option<PathBuf>,
    no_media: bool,
    json: bool,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let authors = match authors {
        Some(p) => read_author_map(&p)?,
        None => HashMap::new(),
    };
    let store = open(config).await?;
    let opts = colloquy_web::import::ImportOptions {
        dry_run,
        media: !no_media,
        authors,
        data_dir: config.data_dir.clone(),
        fetch_allow_private: config.fetch_allow_private,
        base_url: config.base_url.clone(),
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} items, {per_sec} ({eta} left) {msg}",
            )
            .expect("a valid template"),
        );
        bar
    });
    let started = std::time::Instant::now();
    let last_line = std::sync::Mutex::new(std::time::Instant::now());
    let progress = |p: colloquy_web::import::Progress| {
        let msg = format!("{} posts and pages, {} thoughts", p.posts, p.thoughts);
        if let Some(bar) = &bar {
            bar.set_length(p.items_total);
            bar.set_position(p.items_done);
            bar.set_message(msg);
        } else if let Ok(mut last) = last_line.lock() {
            if last.elapsed().as_secs() >= 2 || p.items_done == p.items_total {
                *last = std::time::Instant::now();
                let rate = p.items_done as f64 / started.elapsed().as_secs_f64().max(0.001);
                eprintln!(
                    "{}/{} items ({msg}), {rate:.0} items/s",
                    p.items_done, p.items_total
                );
            }
        }
    };
    let result = colloquy_web::import::import_wxr(&store, &file, &opts, &progress).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    store.close().await;
    let report = result.map_err(|e| anyhow::anyhow!("{e}"))?;
    eprint!("{}", report.human());
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let store = open(&config)
        .await?
        .with_mail_lease(config.mail_lease_seconds);
    if demo && colloquy_web::seed_demo(&store).await? {
        tracing::info!("seeded the demo publication");
    }
    let state = colloquy_web::AppState::new(
        store.clone(),
        colloquy_web::WebConfig {
            base_url: config.base_url.clone(),
            data_dir: config.data_dir.clone(),
            page_cache: config.page_cache,
            thought_min_seconds: config.thought_min_seconds,
            thought_limits: config.thought_limits,
            sitemap_urls: config.sitemap_urls,
            debate_streams_per_ip: config.debate_streams_per_ip,
            fetch_allow_private: config.fetch_allow_private,
            trusted_proxies: config.trusted_proxies.clone(),
            oidc_providers: config.oidc_providers.clone(),
        },
        mailer(&config)?,
    )
    .await?;
    if let Some(link) = colloquy_web::first_run_setup_link(&state).await? {
        println!("No admin yet. Create the first admin account here (the link works once, for 24 hours):\n  {link}");
    }
    let addr = tokio::net::lookup_host(&config.listen)
        .await
        .with_context(|| format!("cannot resolve the listen address {}", config.listen))?
        .next()
        .with_context(|| format!("the listen address {} names no address", config.listen))?;
    // One single-threaded runtime per core, each accepting on its own socket of the same
    // port (SO_REUSEPORT), as nginx runs one worker per core: a request is served start to
    // end on one thread, without waking others. Background work stays on the main runtime.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 64);
    // A plain bind first: it fails if anything (another Colloquy included) holds the port,
    // where SO_REUSEPORT alone would silently share the port with it.
    drop(
        std::net::TcpListener::bind(addr)
            .with_context(|| format!("cannot listen on {}: is it in use?", config.listen))?,
    );
    let mut listeners = Vec::with_capacity(threads);
    for _ in 0..threads {
        listeners.push(
            bind_reuseport(addr).with_context(|| format!("cannot listen on {}", config.listen))?,
        );
    }
    tracing::info!(%addr, threads, base_url = %config.base_url, database = %redact(&config.database_url), cache = config.page_cache, "Colloquy is listening");
    println!("Colloquy is running at {}", config.base_url);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workers = colloquy_web::spawn_workers(state.clone(), stop_rx.clone());
    let mut servers = Vec::with_capacity(threads);
    for (i, std_listener) in listeners.into_iter().enumerate() {
        let state = state.clone();
        let stop = stop_rx.clone();
        servers.push(
            std::thread::Builder::new()
                .name(format!("http-{i}"))
                .spawn(move || -> anyhow::Result<()> {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    rt.block_on(async move {
                        let listener = tokio::net::TcpListener::from_std(std_listener)?;
                        colloquy_web::server::serve(listener, state, stop).await?;
                        Ok(())
                    })
                })?,
        );
    }
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    state.close_live_streams();
    for s in servers {
        match tokio::task::spawn_blocking(move || s.join()).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "an HTTP thread failed"),
            _ => tracing::error!("an HTTP thread panicked"),
        }
    }
    tracing::info!("stopped accepting requests; finishing background work");
    for w in workers {
        let _ = w.await;
    }
    store.close().await;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// The mailer the settings ask for: SMTP, or the outbox folder in the data dir.
fn mailer(config: &Config) -> anyhow::Result<colloquy_mail::Mailer> {
    let dkim = match &config.dkim {
        Some((selector, domain, file)) => Some(colloquy_mail::DkimSettings {
            selector: selector.clone(),
            domain: domain.clone(),
            private_key_pem: std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the DKIM key {}", file.display()))?,
        }),
        None => None,
    };
    let site_name = "Colloquy";
    let m = colloquy_mail::Mailer::new(
        config.smtp_url.as_deref(),
        config.data_dir.join("outbox"),
        site_name,
        &config.mail_from,
        config.mail_reply_to.as_deref(),
        dkim,
    )?;
    if !m.delivers() {
        tracing::warn!(
            "mail is not delivered: {} (set COLLOQUY_SMTP_URL to send it)",
            m.describe()
        );
    } else {
        tracing::info!("{}", m.describe());
    }
    Ok(m)
}

/// A listening socket that other sockets of this process may share (SO_REUSEPORT).
fn bind_reuseport(addr: std::net::SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    #[cfg(unix)]
    socket.set_reuseport(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(1024)?;
    Ok(listener.into_std()?)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
