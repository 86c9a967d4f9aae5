//! Test support: starts the real `colloquy` binary on a free loopback port against a fresh
//! database (a SQLite file in a temp dir, or a new PostgreSQL database) and talks real HTTP.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One fresh database for one test, shared by every node the test starts.
pub struct Db {
    pub url: String,
    pub data_dir: PathBuf,
}

impl Drop for Db {
    /// Leaves nothing behind: the data dir goes, and so does a PostgreSQL test database
    /// (the test's nodes were dropped first, being declared after it).
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Some(name) = self.url.strip_prefix("postgres://postgres@127.0.0.1:5432/") {
            let _ = Command::new("psql")
                .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc"])
                .arg(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn unique() -> String {
    use rand::Rng;
    format!("{:016x}", rand::thread_rng().gen::<u64>())
}

/// Creates a fresh database, or returns None (after a loud message) when PostgreSQL is
/// not running here; with COLLOQUY_REQUIRE_SERVICES=1 that is a failure instead.
pub async fn fresh_db(backend: Backend) -> Option<Db> {
    let data_dir = std::env::temp_dir().join(format!("colloquy-test-{}", unique()));
    std::fs::create_dir_all(&data_dir).unwrap();
    match backend {
        Backend::Sqlite => Some(Db {
            url: format!("sqlite://{}", data_dir.join("colloquy.db").display()),
            data_dir,
        }),
        Backend::Postgres => {
            use sqlx::Connection;
            let mut conn = match sqlx::PgConnection::connect(PG_ADMIN_URL).await {
                Ok(c) => c,
                Err(e) => {
                    if std::env::var("COLLOQUY_REQUIRE_SERVICES").as_deref() == Ok("1") {
                        panic!("PostgreSQL is required (COLLOQUY_REQUIRE_SERVICES=1) but unreachable at {PG_ADMIN_URL}: {e}");
                    }
                    eprintln!("\n!!!!! SKIPPED: PostgreSQL is not reachable at {PG_ADMIN_URL} ({e}); this test did not run !!!!!\n");
                    return None;
                }
            };
            let name = format!("colloquy_t_{}", unique());
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .unwrap();
            Some(Db {
                url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
                data_dir,
            })
        }
    }
}

/// A free port below Linux's ephemeral range (32768–60999). For a server started *after*
/// clients began connecting to its port: a client connecting to a port in the ephemeral
/// range can be given that very port as its own, connect to itself, and hold it.
pub fn free_low_port() -> u16 {
    use rand::Rng;
    loop {
        let p: u16 = rand::thread_rng().gen_range(20_000..32_000);
        if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Node {
    pub child: Child,
    pub base: String,
    pub stdout_path: PathBuf,
    pub client: reqwest::Client,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_colloquy")
}

/// Runs a `colloquy` CLI command against the same settings as the nodes.
pub fn cli(db: &Db, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(bin())
        .args(args)
        .env("COLLOQUY_DATA_DIR", &db.data_dir)
        .env("COLLOQUY_DATABASE_URL", &db.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

impl Node {
    pub async fn start(db: &Db, extra_env: &[(&str, &str)]) -> Node {
        Self::start_on(db, free_port(), extra_env).await
    }

    /// Starts a node on a port chosen before (for set-ups that must know its address first).
    pub async fn start_on(db: &Db, port: u16, extra_env: &[(&str, &str)]) -> Node {
        Self::launch(db, port, &["serve"], extra_env).await
    }

    /// Starts `colloquy ARGS…` (a form of `serve`) on a free port.
    pub async fn start_with_args(db: &Db, args: &[&str], extra_env: &[(&str, &str)]) -> Node {
        Self::launch(db, free_port(), args, extra_env).await
    }

    async fn launch(db: &Db, port: u16, args: &[&str], extra_env: &[(&str, &str)]) -> Node {
        let base = format!("http://127.0.0.1:{port}");
        let stdout_path = db.data_dir.join(format!("stdout-{port}.log"));
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .env("COLLOQUY_DATA_DIR", &db.data_dir)
            .env("COLLOQUY_DATABASE_URL", &db.url)
            .env("COLLOQUY_LISTEN", format!("127.0.0.1:{port}"))
            .env("COLLOQUY_BASE_URL", &base)
            .stdout(std::fs::File::create(&stdout_path).unwrap())
            .stderr(std::fs::File::create(db.data_dir.join(format!("stderr-{port}.log"))).unwrap());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        let node = Node {
            child,
            base,
            stdout_path,
            client,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = node.client.get(node.url("/healthz")).send().await {
                if r.status() == 200 {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "server did not become healthy; stderr in {}",
                db.data_dir.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        node
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn text(&self, path: &str) -> (u16, String) {
        let r = self.get(path).await;
        let s = r.status().as_u16();
        (s, r.text().await.unwrap())
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("server did not stop within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A user with an API token, made through the CLI.
pub fn api_user(db: &Db, email: &str, role: &str) -> String {
    let out = cli(
        db,
        &[
            "user",
            "add",
            "--email",
            email,
            "--name",
            &format!("Test {role}"),
            "--role",
            role,
            "--password-stdin",
        ],
        "a long enough password\n",
    );
    assert!(
        out.status.success(),
        "user add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(db, &["token", "create", "--email", email], "");
    assert!(
        out.status.success(),
        "token create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

pub async fn post_json(
    node: &Node,
    token: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let r = node
        .client
        .post(node.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// Polls until `f` is true or the time runs out; returns whether it became true.
pub async fn eventually<F, Fut>(secs: u64, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The value of the form field `name` in a page.
pub fn form_value(html: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    html.split(&key)
        .nth(1)
        .unwrap_or_else(|| panic!("no {name} in form"))
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

/// The text of a page's `<textarea name=…>`, unescaped.
pub fn textarea(html: &str, name: &str) -> String {
    let key = format!("name=\"{name}\"");
    let start = html
        .find(&key)
        .unwrap_or_else(|| panic!("no textarea {name}"));
    let rest = &html[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest.find("</textarea>").unwrap();
    rest[open..close]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Signs in through the login form (with its CSRF cookie); the node's client keeps the
/// session cookie.
pub async fn sign_in_any(node: &Node, email: &str, password: &str) {
    let form = node.text("/admin/login").await.1;
    let csrf = form_value(&form, "csrf");
    let r = node
        .client
        .post(node.url("/admin/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "sign-in failed");
}

/// Signs a staff member in and returns the session's CSRF token (from the dashboard).
pub async fn sign_in(node: &Node, email: &str, password: &str) -> String {
    sign_in_any(node, email, password).await;
    form_value(&node.text("/admin/").await.1, "csrf")
}

/// A real SMTP server (aiosmtpd, `tests/mail/sink.py`) that keeps every message as a file.
pub struct SmtpSink {
    pub port: u16,
    pub dir: PathBuf,
    child: Child,
}

impl SmtpSink {
    /// Starts the sink, or returns None (loudly) when Python's aiosmtpd is missing; with
    /// COLLOQUY_REQUIRE_SERVICES=1 that is a failure.
    pub fn start(dir: PathBuf, reject_domain: Option<&str>) -> Option<SmtpSink> {
        let have = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !have {
            if std::env::var("COLLOQUY_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("python3 with aiosmtpd is required (COLLOQUY_REQUIRE_SERVICES=1): pip install aiosmtpd");
            }
            eprintln!("\n!!!!! SKIPPED: python3 with aiosmtpd is missing (pip install aiosmtpd); this mail test did not run !!!!!\n");
            return None;
        }
        let port = free_port();
        Some(Self::start_on(dir, port, reject_domain))
    }

    pub fn start_on(dir: PathBuf, port: u16, reject_domain: Option<&str>) -> SmtpSink {
        std::fs::create_dir_all(&dir).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/mail/sink.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .args(["--port", &port.to_string(), "--dir"])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(d) = reject_domain {
            cmd.args(["--reject-domain", d]);
        }
        // The sink can fail to come up (its port taken in the meantime by another test's
        // listener, a start-up timeout on a loaded machine): try a few times.
        let mut child = None;
        for attempt in 1..=3 {
            let mut c = cmd.spawn().unwrap();
            let mut out = std::io::BufReader::new(c.stdout.take().unwrap());
            let mut line = String::new();
            std::io::BufRead::read_line(&mut out, &mut line).unwrap();
            if line.trim() == "ready" {
                child = Some(c);
                break;
            }
            let _ = c.kill();
            let _ = c.wait();
            eprintln!("the SMTP sink on port {port} did not start (attempt {attempt})");
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let child = child.expect("the SMTP sink did not start after 3 attempts");
        SmtpSink { port, dir, child }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// Every message received so far, raw, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        names.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        names.sort();
        names
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    }

    /// Messages whose envelope went to `rcpt`.
    pub fn to(&self, rcpt: &str) -> Vec<String> {
        self.messages()
            .into_iter()
            .filter(|m| {
                m.lines().next().is_some_and(|l| {
                    l.trim_start_matches("X-Sink-Rcpt: ")
                        .split(',')
                        .any(|r| r.trim() == rcpt)
                })
            })
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Generates one test per backend from an async fn taking `Backend`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::support::Backend::Sqlite).await }
            )*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::support::Backend::Postgres).await }
            )*
        }
    };
}

/// One Server-Sent Event as a client sees it.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<u64>,
    pub event: String,
    pub data: serde_json::Value,
}

/// A real Server-Sent Events client over the node's HTTP connection: parses frames as they
/// arrive (split across reads or several per read), skipping comments.
pub struct Sse {
    resp: reqwest::Response,
    buf: String,
    pub last_id: Option<u64>,
}

impl Sse {
    /// Connects to `url`, resuming after `last_id` with the `Last-Event-ID` header.
    pub async fn connect(client: &reqwest::Client, url: &str, last_id: Option<u64>) -> Sse {
        let mut req = client.get(url).header("accept", "text/event-stream");
        if let Some(id) = last_id {
            req = req.header("last-event-id", id.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200, "event stream refused");
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        Sse {
            resp,
            buf: String::new(),
            last_id,
        }
    }

    /// The next event with data, or None if none comes within `secs`.
    pub async fn next(&mut self, secs: u64) -> Option<SseEvent> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                let mut ev = SseEvent {
                    id: None,
                    event: "message".into(),
                    data: serde_json::Value::Null,
                };
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        ev.id = v.parse().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        ev.event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                if data.is_empty() {
                    continue; // a comment or a retry: line
                }
                ev.data = serde_json::from_str(&data).expect("event data is JSON");
                if ev.id.is_some() {
                    self.last_id = ev.id;
                }
                return Some(ev);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.resp.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }
}

/// The decoded text part of a raw message, and its headers.
pub fn parse_mail(raw: &str) -> (String, mail_parser::Message<'static>) {
    let body = raw
        .split_once("\r\n")
        .map(|x| x.1)
        .unwrap_or(raw)
        .to_owned();
    let msg = mail_parser::MessageParser::default()
        .parse(body.as_bytes())
        .expect("a parsable message")
        .into_owned();
    let text = msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    (text, msg)
}

pub fn link(text: &str, prefix: &str) -> String {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {text}"));
    text[start..].split_whitespace().next().unwrap().to_owned()
}

/// Runs one SQL statement on the test's database (to stand in for time passing).
pub async fn sql(db: &Db, sql: &str) {
    use sqlx::Connection;
    if db.url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    }
}

/// The single number a query gives (a count), on the test's database.
pub async fn number(db: &Db, sql: &str) -> i64 {
    use sqlx::{Connection, Row};
    if db.url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query(sql).fetch_one(&mut c).await.unwrap().get(0)
    } else {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query(sql).fetch_one(&mut c).await.unwrap().get(0)
    }
}

/// Publishes a post through the API; returns its id and absolute address.
pub async fn publish(node: &Node, token: &str, title: &str, body: &str) -> (i64, String) {
    let (s, p) = post_json(
        node,
        token,
        "/api/v1/posts",
        serde_json::json!({"title": title, "body_markdown": body, "status": "published"}),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    (
        p["id"].as_i64().unwrap(),
        p["url"].as_str().unwrap().to_owned(),
    )
}
