//! The `colloquy` command: runs the server and administers its database.

mod config;

use anyhow::Context;
use clap::{Parser, Subcommand};
use colloquy_core::user::NewAccount;
use colloquy_store::Store;
use config::Config;
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
    }
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let store = open(&config).await?;
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
        },
    )
    .await?;
    if let Some(link) = colloquy_web::first_run_setup_link(&state).await? {
        println!("No accounts yet. Create the first admin account here (the link works once, for 24 hours):\n  {link}");
    }
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, base_url = %config.base_url, database = %redact(&config.database_url), cache = config.page_cache, "Colloquy is listening");
    println!("Colloquy is running at {}", config.base_url);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workers = colloquy_web::spawn_workers(state.clone(), stop_rx);
    let app =
        colloquy_web::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("stopped accepting requests; finishing background work");
    let _ = stop_tx.send(true);
    for w in workers {
        let _ = w.await;
    }
    store.close().await;
    tracing::info!("shut down cleanly");
    Ok(())
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
