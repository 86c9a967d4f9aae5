//! The outbound fetch guard, through real HTTP over loopback.
//!
//! Every test server listens on 127.0.0.1 on a random port and writes raw HTTP/1.1. Nothing
//! here reaches any other address: the refusal tests assert that no connection was made.

use colloquy_federation::{
    check_url, filter_addrs, is_forbidden, resolve_checked, user_agent, FetchConfig, FetchError,
    Fetcher,
};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------------
// The address rule (pure)

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn refuses_every_reserved_ipv4_range() {
    for addr in [
        "0.0.0.0",
        "0.1.2.3",
        "127.0.0.1",
        "127.255.255.254",
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.9",
        "198.18.0.1",
        "198.19.255.255",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
    ] {
        assert!(is_forbidden(ip(addr)), "{addr} must be refused");
    }
}

#[test]
fn refuses_every_reserved_ipv6_range() {
    for addr in [
        "::",
        "::1",
        "fc00::1",
        "fd12:3456:789a::1",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "ff02::1",
        "ff05::1:3",
        "2001:db8::1",
        "2001:db8:ffff::1",
        "2001::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "2001:2::1",
        "3fff::1",
        "100::1",
        "64:ff9b:1::1",
    ] {
        assert!(is_forbidden(ip(addr)), "{addr} must be refused");
    }
}

#[test]
fn refuses_ipv6_forms_that_embed_a_refused_ipv4_address() {
    for addr in [
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.5",
        "::ffff:169.254.169.254",
        "::ffff:0:192.168.0.1",
        "::127.0.0.1",
        "::10.1.2.3",
        "64:ff9b::127.0.0.1",
        "64:ff9b::a00:1",
        "2002:7f00:1::1",
        "2002:c0a8:101::",
        "2002:a9fe:a9fe::1",
    ] {
        assert!(is_forbidden(ip(addr)), "{addr} must be refused");
    }
}

#[test]
fn allows_public_addresses() {
    for addr in [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "100.63.255.255",
        "100.128.0.1",
        "172.15.255.255",
        "172.32.0.1",
        "192.0.3.1",
        "198.17.255.255",
        "198.20.0.1",
        "223.255.255.255",
        "2606:4700::1111",
        "2001:4860:4860::8888",
        "2a00:1450:4001:80b::200e",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ] {
        assert!(!is_forbidden(ip(addr)), "{addr} must be allowed");
    }
}

// ---------------------------------------------------------------------------------------
// The resolver's filter and the per-URL check (pure)

fn sock(s: &str) -> SocketAddr {
    SocketAddr::new(ip(s), 80)
}

#[test]
fn name_resolving_only_to_private_addresses_is_refused() {
    let refused = filter_addrs(
        "rebind.example",
        vec![sock("127.0.0.1"), sock("10.0.0.1")],
        false,
    );
    assert_eq!(
        refused,
        Err(FetchError::Forbidden {
            host: "rebind.example".into(),
            addr: ip("127.0.0.1"),
        })
    );
}

#[test]
fn resolver_keeps_only_the_public_addresses() {
    let kept = filter_addrs(
        "mixed.example",
        vec![sock("8.8.8.8"), sock("127.0.0.1")],
        false,
    );
    assert_eq!(kept, Ok(vec![sock("8.8.8.8")]));
}

#[test]
fn allow_private_keeps_every_resolved_address() {
    let all = vec![sock("127.0.0.1"), sock("10.0.0.1")];
    assert_eq!(filter_addrs("lab.example", all.clone(), true), Ok(all));
}

#[tokio::test]
async fn system_resolver_refuses_a_name_that_resolves_to_loopback() {
    // /etc/hosts maps localhost; this is the lookup the client's resolver hook runs.
    match resolve_checked("localhost", false).await {
        Err(FetchError::Forbidden { host, addr }) => {
            assert_eq!(host, "localhost");
            assert!(addr.is_loopback());
        }
        other => panic!("expected Forbidden, got {other:?}"),
    }
    assert!(!resolve_checked("localhost", true).await.unwrap().is_empty());
}

fn url(s: &str) -> reqwest::Url {
    reqwest::Url::parse(s).unwrap()
}

#[test]
fn redirect_hop_to_a_private_address_is_refused() {
    assert!(matches!(
        check_url(&url("http://10.0.0.5/"), false),
        Err(FetchError::Forbidden { addr, .. }) if addr == ip("10.0.0.5")
    ));
    assert!(matches!(
        check_url(&url("http://[::ffff:127.0.0.1]/"), false),
        Err(FetchError::Forbidden { .. })
    ));
    assert!(check_url(&url("http://10.0.0.5/"), true).is_ok());
}

#[test]
fn odd_spellings_of_loopback_are_refused() {
    for u in [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0/",
        "http://127.1:8080/",
        "http://[::1]/",
        "http://[0:0:0:0:0:ffff:7f00:1]/",
        "http://LOCALHOST/",
        "http://localhost./",
        "http://app.localhost/",
        "https://ip6-localhost/",
    ] {
        assert!(
            matches!(check_url(&url(u), false), Err(FetchError::Forbidden { .. })),
            "{u} must be refused"
        );
    }
}

#[test]
fn public_hosts_pass_the_url_check() {
    for u in [
        "http://example.org/",
        "https://example.org:8443/post?x=1",
        "http://8.8.8.8/",
        "http://[2606:4700::1111]/",
    ] {
        assert_eq!(check_url(&url(u), false), Ok(()), "{u}");
    }
}

#[test]
fn redirect_hop_to_another_scheme_or_with_userinfo_is_refused() {
    assert_eq!(
        check_url(&url("ftp://example.org/"), false),
        Err(FetchError::Scheme("ftp".into()))
    );
    assert!(matches!(
        check_url(&url("https://user@example.org/"), true),
        Err(FetchError::BadUrl(_))
    ));
}

#[test]
fn default_config_has_the_production_limits() {
    let cfg = FetchConfig::default();
    assert_eq!(cfg.max_bytes, MIB);
    assert_eq!(cfg.timeout, Duration::from_secs(10));
    assert_eq!(cfg.max_redirects, 5);
    assert!(!cfg.allow_private);
    assert!(cfg.user_agent.starts_with("Colloquy/"));
    assert_eq!(
        user_agent("https://blog.example"),
        format!(
            "Colloquy/{} (+https://blog.example)",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn user_agent_with_a_line_break_is_a_config_error() {
    let cfg = FetchConfig {
        user_agent: "Colloquy\r\nX-Evil: 1".into(),
        ..FetchConfig::default()
    };
    assert!(matches!(Fetcher::new(cfg), Err(FetchError::Config(_))));
}

// ---------------------------------------------------------------------------------------
// Test servers

/// What a test server does with each request, given the request's head and the port.
#[derive(Clone)]
enum Reply {
    /// Write these bytes, then close.
    Raw(Vec<u8>),
    /// Answer 200 with the request (head and body) as the body.
    Echo,
    /// Send headers promising a large body, then one byte every 100 ms (for at most 30 s).
    Dribble,
    /// Route on the request path.
    Route(fn(&str, u16) -> Vec<u8>),
}

struct TestServer {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl TestServer {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Serve on 127.0.0.1 until the test's runtime ends.
async fn spawn_server(reply: Reply) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(handle(stream, reply.clone(), port));
        }
    });
    TestServer { port, connections }
}

async fn handle(mut stream: TcpStream, reply: Reply, port: u16) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    match reply {
        Reply::Raw(bytes) => {
            let _ = stream.write_all(&bytes).await;
        }
        Reply::Echo => {
            let _ = stream.write_all(&response("200 OK", &request)).await;
        }
        Reply::Route(route) => {
            let path = request
                .split(|&b| b == b' ')
                .nth(1)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default();
            let _ = stream.write_all(&route(&path, port)).await;
        }
        Reply::Dribble => {
            let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n";
            if stream.write_all(head).await.is_err() {
                return;
            }
            for _ in 0..300 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if stream.write_all(b"x").await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = stream.shutdown().await;
}

/// The request head plus as much body as its Content-Length announces.
async fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let body_len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + body_len {
                return Some(buf);
            }
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn response(status: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn redirect_to(location: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// `/hop/N` redirects to `/hop/N-1`; `/hop/0` answers 200. `/to-ftp` redirects to ftp.
fn redirect_routes(path: &str, port: u16) -> Vec<u8> {
    if path == "/to-ftp" {
        return redirect_to(&format!("ftp://127.0.0.1:{port}/file"));
    }
    match path
        .strip_prefix("/hop/")
        .and_then(|n| n.parse::<u32>().ok())
    {
        Some(0) => response("200 OK", b"arrived"),
        Some(n) => redirect_to(&format!("/hop/{}", n - 1)),
        None => response("404 Not Found", b"no such route"),
    }
}

fn header_value(request: &[u8], name: &str) -> Option<String> {
    String::from_utf8_lossy(request).lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

fn guarded() -> Fetcher {
    Fetcher::new(FetchConfig {
        timeout: Duration::from_secs(5),
        ..FetchConfig::default()
    })
    .unwrap()
}

fn permissive(cfg: FetchConfig) -> Fetcher {
    Fetcher::new(FetchConfig {
        allow_private: true,
        ..cfg
    })
    .unwrap()
}

fn lab() -> FetchConfig {
    FetchConfig {
        timeout: Duration::from_secs(5),
        ..FetchConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Refusals with the address rule on

#[tokio::test]
async fn loopback_ip_literal_is_refused_before_connecting() {
    let server = spawn_server(Reply::Echo).await;
    let err = guarded().get(&server.url("/")).await.unwrap_err();
    assert_eq!(
        err,
        FetchError::Forbidden {
            host: "127.0.0.1".into(),
            addr: ip("127.0.0.1"),
        }
    );
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn localhost_names_are_refused_before_connecting() {
    let server = spawn_server(Reply::Echo).await;
    let fetcher = guarded();
    for host in ["localhost", "localhost.", "[::1]", "[::ffff:127.0.0.1]"] {
        let err = fetcher
            .get(&format!("http://{host}:{}/", server.port))
            .await
            .unwrap_err();
        assert!(
            matches!(err, FetchError::Forbidden { .. }),
            "{host}: expected Forbidden, got {err:?}"
        );
    }
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn refusal_message_says_what_happened() {
    let err = guarded().get("http://127.0.0.1:9/").await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("127.0.0.1"), "{message}");
    assert!(message.contains("private or reserved"), "{message}");
}

#[tokio::test]
async fn only_http_and_https_urls_without_userinfo_are_fetched() {
    let fetcher = guarded();
    let cases = [
        ("ftp://127.0.0.1/file", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("mailto:someone@example.org", "scheme"),
        ("gopher://example.org/", "scheme"),
        ("http://user:pw@example.org/", "badurl"),
        ("http://user@example.org/", "badurl"),
        ("not a url", "badurl"),
        ("", "badurl"),
    ];
    for (u, expected) in cases {
        let err = fetcher.get(u).await.unwrap_err();
        let ok = match expected {
            "scheme" => matches!(err, FetchError::Scheme(_)),
            _ => matches!(err, FetchError::BadUrl(_)),
        };
        assert!(ok, "{u:?}: got {err:?}");
    }
    // The refusal does not repeat the password.
    let err = fetcher
        .get("http://user:pw@example.org/")
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("pw"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Budgets and redirects, with the address rule lifted for loopback test servers

#[tokio::test]
async fn body_over_the_limit_with_content_length_is_refused() {
    let server = spawn_server(Reply::Raw(response("200 OK", &vec![b'a'; 3 * MIB]))).await;
    let fetcher = permissive(FetchConfig {
        max_bytes: MIB,
        ..lab()
    });
    let err = fetcher.get(&server.url("/")).await.unwrap_err();
    assert_eq!(err, FetchError::TooLarge { limit: MIB });
}

#[tokio::test]
async fn body_over_the_limit_without_content_length_is_cut_off() {
    let mut raw =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n".to_vec();
    raw.extend(std::iter::repeat_n(b'a', 3 * MIB));
    let server = spawn_server(Reply::Raw(raw)).await;
    let fetcher = permissive(FetchConfig {
        max_bytes: MIB,
        ..lab()
    });
    let err = fetcher.get(&server.url("/")).await.unwrap_err();
    assert_eq!(err, FetchError::TooLarge { limit: MIB });
}

#[tokio::test]
async fn body_within_the_limit_is_returned_whole() {
    let server = spawn_server(Reply::Raw(response("200 OK", &vec![b'a'; MIB]))).await;
    let fetcher = permissive(FetchConfig {
        max_bytes: MIB,
        ..lab()
    });
    let fetched = fetcher.get(&server.url("/")).await.unwrap();
    assert_eq!(fetched.body.len(), MIB);
}

#[tokio::test]
async fn body_that_never_ends_times_out() {
    let server = spawn_server(Reply::Dribble).await;
    let fetcher = permissive(FetchConfig {
        timeout: Duration::from_secs(1),
        ..lab()
    });
    let started = Instant::now();
    let err = fetcher.get(&server.url("/")).await.unwrap_err();
    assert_eq!(err, FetchError::Timeout);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn six_redirects_are_too_many_for_a_limit_of_five() {
    let server = spawn_server(Reply::Route(redirect_routes)).await;
    let fetcher = permissive(lab());
    let err = fetcher.get(&server.url("/hop/6")).await.unwrap_err();
    assert_eq!(err, FetchError::TooManyRedirects);
    // Five are fine.
    let fetched = fetcher.get(&server.url("/hop/5")).await.unwrap();
    assert_eq!(fetched.status, 200);
}

#[tokio::test]
async fn redirect_to_ftp_is_refused() {
    let server = spawn_server(Reply::Route(redirect_routes)).await;
    let err = permissive(lab())
        .get(&server.url("/to-ftp"))
        .await
        .unwrap_err();
    assert_eq!(err, FetchError::Scheme("ftp".into()));
}

#[tokio::test]
async fn redirect_chain_reports_the_last_hop() {
    let server = spawn_server(Reply::Route(redirect_routes)).await;
    let fetched = permissive(lab()).get(&server.url("/hop/3")).await.unwrap();
    assert_eq!(fetched.final_url, server.url("/hop/0"));
    assert_eq!(fetched.status, 200);
    assert_eq!(&fetched.body[..], b"arrived");
}

#[tokio::test]
async fn gone_is_returned_as_a_status_not_an_error() {
    let server = spawn_server(Reply::Raw(response("410 Gone", b"deleted"))).await;
    let fetched = permissive(lab()).get(&server.url("/post")).await.unwrap();
    assert_eq!(fetched.status, 410);
    assert_eq!(&fetched.body[..], b"deleted");
    assert_eq!(fetched.headers.get("content-type").unwrap(), "text/plain");
    assert_eq!(
        fetched.error_for_status().unwrap_err(),
        FetchError::Http(410)
    );
}

#[tokio::test]
async fn server_sees_the_configured_user_agent_and_accept() {
    let server = spawn_server(Reply::Echo).await;
    let agent = user_agent("https://blog.example");
    let fetched = permissive(FetchConfig {
        user_agent: agent.clone(),
        ..lab()
    })
    .get(&server.url("/"))
    .await
    .unwrap();
    assert_eq!(header_value(&fetched.body, "user-agent"), Some(agent));
    assert_eq!(
        header_value(&fetched.body, "accept").as_deref(),
        Some("text/html,*/*;q=0.8")
    );
}

#[tokio::test]
async fn post_form_sends_an_urlencoded_body() {
    let server = spawn_server(Reply::Echo).await;
    let fetched = permissive(lab())
        .post_form(
            &server.url("/webmention"),
            &[
                ("source", "https://a.example/x?y=1&z"),
                ("target", "https://b.example/"),
            ],
        )
        .await
        .unwrap();
    let echoed = String::from_utf8_lossy(&fetched.body).into_owned();
    assert!(echoed.starts_with("POST /webmention HTTP/1.1"), "{echoed}");
    assert_eq!(
        header_value(&fetched.body, "content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert!(
        echoed.ends_with(
            "source=https%3A%2F%2Fa.example%2Fx%3Fy%3D1%26z&target=https%3A%2F%2Fb.example%2F"
        ),
        "{echoed}"
    );
}

#[tokio::test]
async fn post_xml_sends_text_xml() {
    let server = spawn_server(Reply::Echo).await;
    let call =
        "<?xml version=\"1.0\"?><methodCall><methodName>pingback.ping</methodName></methodCall>";
    let fetched = permissive(lab())
        .post_xml(&server.url("/xmlrpc"), call.to_owned())
        .await
        .unwrap();
    assert_eq!(
        header_value(&fetched.body, "content-type").as_deref(),
        Some("text/xml")
    );
    assert!(String::from_utf8_lossy(&fetched.body).ends_with(call));
}

#[tokio::test]
async fn resolver_hook_connects_to_allowed_addresses() {
    // With the rule lifted, a name goes through the custom resolver and reaches the server.
    let server = spawn_server(Reply::Raw(response("200 OK", b"hello"))).await;
    let fetched = permissive(lab())
        .get(&format!("http://localhost:{}/", server.port))
        .await
        .unwrap();
    assert_eq!(&fetched.body[..], b"hello");
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn connection_refused_is_a_network_error() {
    // Bind, learn the port, close: nothing listens there any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = permissive(lab())
        .get(&format!("http://127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Network(_)), "{err:?}");
}

#[test]
fn fetcher_is_clone_send_and_sync() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Fetcher>();
}
