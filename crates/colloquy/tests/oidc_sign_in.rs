//! Sign-in with an OpenID Connect provider, end to end: the real binary on both backends
//! and a real provider on loopback (`tests/oidc/`, oidc-provider under Node; the fetch
//! guard lets loopback through only because these tests set COLLOQUY_FETCH_ALLOW_PRIVATE).
//! New members, returning ones, an existing account joined only through its mailbox,
//! linking and unlinking, and every tampered or misbehaving answer refused.

mod support;

use std::io::BufRead;
use support::{form_value, fresh_db, link, parse_mail, Backend, Db, Node, SmtpSink};

both_backends!(
    a_new_member_signs_in_with_a_provider_and_comes_back_to_the_same_account,
    tampered_or_misbehaving_answers_are_refused,
    an_existing_account_is_joined_only_through_its_mailbox,
    members_link_and_unlink_providers,
);

struct Provider {
    child: std::process::Child,
    issuer: String,
    /// Kept open: the provider writes to it, and a closed pipe would end it.
    _stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the test provider with a client whose redirect goes to `colloquy_base`.
fn provider(colloquy_base: &str) -> Option<Provider> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let ready = std::path::Path::new(root).join("tests/oidc/node_modules/oidc-provider");
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok || !ready.exists() {
        if std::env::var("COLLOQUY_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("the OpenID Connect test provider is required: node and tests/oidc/node_modules (npm ci in tests/oidc)");
        }
        eprintln!("\n!!!!! SKIPPED: node or tests/oidc/node_modules is missing; the OpenID Connect tests did not run !!!!!\n");
        return None;
    }
    let clients = serde_json::json!([{
        "client_id": "colloquy-test",
        "client_secret": "a-test-client-secret-of-some-length",
        "redirect_uris": [format!("{colloquy_base}/sign-in/with/test/callback")],
    }])
    .to_string();
    let mut child = std::process::Command::new("node")
        .current_dir(root)
        .args([
            "tests/oidc/provider.mjs",
            "--port",
            "0",
            "--clients",
            &clients,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    let issuer = line
        .trim()
        .strip_prefix("oidc provider ready on ")
        .unwrap_or_else(|| panic!("provider did not start: {line:?}"))
        .to_owned();
    Some(Provider {
        child,
        issuer,
        _stdout: stdout,
    })
}

struct Site {
    node: Node,
    provider: Provider,
    sink: SmtpSink,
}

async fn site(db: &Db) -> Option<Site> {
    let port = support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let provider = provider(&base)?;
    let sink = SmtpSink::start(db.data_dir.join("sink"), None)?;
    let providers = serde_json::json!([{
        "id": "test", "issuer": provider.issuer,
        "client_id": "colloquy-test", "client_secret": "a-test-client-secret-of-some-length",
        "name": "Example ID", "button_label": "Sign in with Example ID",
    }])
    .to_string();
    let node = Node::start_on(
        db,
        port,
        &[
            ("COLLOQUY_OIDC_PROVIDERS", &providers),
            ("COLLOQUY_FETCH_ALLOW_PRIVATE", "1"),
            ("COLLOQUY_SMTP_URL", &sink.url()),
        ],
    )
    .await;
    Some(Site {
        node,
        provider,
        sink,
    })
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Goes through the provider as `email` from `start` (our redirect to it) and returns the
/// callback address it sends the browser back to.
async fn through_provider(c: &reqwest::Client, site: &Site, start: &str, email: &str) -> String {
    assert!(
        start.starts_with(&site.provider.issuer),
        "not sent to the provider: {start}"
    );
    let mut url = format!("{start}&login_hint={}", email.replace('@', "%40"));
    for _ in 0..10 {
        if url.starts_with(&site.node.base) {
            return url;
        }
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(
            r.status(),
            303,
            "the provider stopped at {url}: {}",
            r.text().await.unwrap()
        );
        url = location(&r);
    }
    panic!("the provider never sent the browser back");
}

/// Starts a sign-in on our site; returns the callback address the provider gives.
async fn callback_for(c: &reqwest::Client, site: &Site, email: &str) -> String {
    let r = c
        .get(site.node.url("/sign-in/with/test?next=/about/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    through_provider(c, site, &location(&r), email).await
}

async fn back(c: &reqwest::Client, url: &str) -> (u16, String, String) {
    let r = c.get(url).send().await.unwrap();
    let loc = location(&r);
    (r.status().as_u16(), loc, r.text().await.unwrap())
}

async fn account(c: &reqwest::Client, site: &Site) -> (u16, String) {
    let r = c.get(site.node.url("/account")).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn a_new_member_signs_in_with_a_provider_and_comes_back_to_the_same_account(
    backend: Backend,
) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let Some(site) = site(&db).await else { return };
    let c = browser();
    // The sign-in page offers the provider's button.
    let page = c
        .get(site.node.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sign in with Example ID"), "{page}");
    let cb = callback_for(&c, &site, "alice@example.org").await;
    let (s, loc, _) = back(&c, &cb).await;
    assert_eq!((s, loc.as_str()), (303, "/about/"));
    let (s, page) = account(&c, &site).await;
    assert_eq!(s, 200);
    assert!(page.contains("alice@example.org"), "{page}");
    assert!(page.contains("Example ID"), "{page}");
    assert!(
        !page.contains("not confirmed"),
        "the provider vouched for the address"
    );
    // Another browser, the same person: the same account (now signed in on two devices).
    let c2 = browser();
    let cb = callback_for(&c2, &site, "alice@example.org").await;
    let (s, _, _) = back(&c2, &cb).await;
    assert_eq!(s, 303);
    let sessions = c2
        .get(site.node.url("/account/sessions"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        sessions.matches("name=\"handle\"").count(),
        1,
        "one other device: {sessions}"
    );
    // An address the provider did not vouch for makes no account.
    let c3 = browser();
    let cb = callback_for(&c3, &site, "unverified.carol@example.org").await;
    let (s, _, page) = back(&c3, &cb).await;
    assert_eq!(s, 403, "{page}");
    assert!(page.contains("has not confirmed"), "{page}");
    assert_eq!(account(&c3, &site).await.0, 303);
}

async fn tampered_or_misbehaving_answers_are_refused(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let Some(site) = site(&db).await else { return };
    // A tampered state.
    let c = browser();
    let cb = callback_for(&c, &site, "mallory@example.org").await;
    let (before, after) = cb.split_once("state=").unwrap();
    let tampered = format!("{before}state=x{after}");
    let (s, _, page) = back(&c, &tampered).await;
    assert_eq!(s, 400, "{page}");
    assert_eq!(
        account(&c, &site).await.0,
        303,
        "a tampered answer signed someone in"
    );
    // A state without its browser (the answer carried to another one).
    let c = browser();
    let cb = callback_for(&c, &site, "mallory@example.org").await;
    let other = browser();
    let (s, _, page) = back(&other, &cb).await;
    assert_eq!(s, 400, "{page}");
    assert!(
        page.contains("another browser") || page.contains("not one started here"),
        "{page}"
    );
    // The same answer twice: the first works, the second is refused.
    let c = browser();
    let cb = callback_for(&c, &site, "mallory@example.org").await;
    assert_eq!(back(&c, &cb).await.0, 303);
    let c_again = browser();
    assert_eq!(back(&c_again, &cb).await.0, 400);
    // The provider says no.
    let c = browser();
    let cb = callback_for(&c, &site, "mallory@example.org").await;
    let state = cb
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let denied = format!("{}/sign-in/with/test/callback?error=access_denied&error_description=The+user+said+no&state={state}&iss={}", site.node.base, site.provider.issuer);
    let (s, _, page) = back(&c, &denied).await;
    assert_eq!(s, 401, "{page}");
    assert!(page.contains("The user said no"), "{page}");
    // Tokens that must not be trusted.
    for mode in [
        "bad_signature",
        "wrong_audience",
        "expired",
        "wrong_nonce",
        "wrong_issuer",
        "no_id_token",
        "alg_none",
    ] {
        let c = browser();
        let cb = callback_for(&c, &site, "mallory@example.org").await;
        let r = c
            .post(format!("{}/__test/mode", site.provider.issuer))
            .json(&serde_json::json!({ "mode": mode }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let (s, _, page) = back(&c, &cb).await;
        assert_eq!(s, 401, "{mode}: {page}");
        assert!(page.contains("could not be trusted"), "{mode}: {page}");
        assert_eq!(account(&c, &site).await.0, 303, "{mode} signed someone in");
    }
}

async fn an_existing_account_is_joined_only_through_its_mailbox(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let Some(site) = site(&db).await else { return };
    let out = support::cli(
        &db,
        &[
            "user",
            "add",
            "--email",
            "bob@example.org",
            "--name",
            "Bob",
            "--role",
            "author",
            "--password-stdin",
        ],
        "bob's long password",
    );
    assert!(out.status.success());
    let c = browser();
    let cb = callback_for(&c, &site, "bob@example.org").await;
    let (s, _, page) = back(&c, &cb).await;
    assert_eq!(s, 202, "{page}");
    assert!(page.contains("sent a link"), "{page}");
    assert_eq!(
        account(&c, &site).await.0,
        303,
        "a matching address alone signed into the account"
    );
    let ok =
        support::eventually(20, || async { !site.sink.to("bob@example.org").is_empty() }).await;
    assert!(ok);
    let text = parse_mail(&site.sink.to("bob@example.org")[0]).0;
    let url = link(&text, &format!("{}/sign-in/join?token=", site.node.base));
    let page = c.get(&url).send().await.unwrap().text().await.unwrap();
    let r = c
        .post(site.node.url("/sign-in/join"))
        .form(&[
            ("token", form_value(&page, "token")),
            ("csrf", form_value(&page, "csrf")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (s, page) = account(&c, &site).await;
    assert_eq!(s, 200);
    assert!(
        page.contains("bob@example.org") && page.contains("Remove Example ID"),
        "{page}"
    );
    // From now on the provider signs Bob in directly.
    let c2 = browser();
    let cb = callback_for(&c2, &site, "bob@example.org").await;
    assert_eq!(back(&c2, &cb).await.1, "/about/");
    assert_eq!(account(&c2, &site).await.0, 200);
}

async fn members_link_and_unlink_providers(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let Some(site) = site(&db).await else { return };
    let out = support::cli(
        &db,
        &[
            "user",
            "add",
            "--email",
            "dee@example.org",
            "--name",
            "Dee",
            "--role",
            "member",
            "--password-stdin",
        ],
        "dee's long password",
    );
    assert!(out.status.success());
    let c = browser();
    let page = c
        .get(site.node.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = c
        .post(site.node.url("/sign-in"))
        .form(&[
            ("email", "dee@example.org"),
            ("password", "dee's long password"),
            ("csrf", &form_value(&page, "csrf")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, page) = account(&c, &site).await;
    let csrf = form_value(&page, "csrf");
    assert!(page.contains("Add Example ID"), "{page}");
    let r = c
        .post(site.node.url("/account/sign-ins/link/test"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cb = through_provider(&c, &site, &location(&r), "dee.elsewhere@example.org").await;
    let (s, loc, _) = back(&c, &cb).await;
    assert_eq!((s, loc.as_str()), (303, "/account"));
    let (_, page) = account(&c, &site).await;
    assert!(page.contains("dee.elsewhere@example.org"), "{page}");
    // Signing in with the provider now reaches Dee's account.
    let c2 = browser();
    let cb = callback_for(&c2, &site, "dee.elsewhere@example.org").await;
    assert_eq!(back(&c2, &cb).await.0, 303);
    let (_, page2) = account(&c2, &site).await;
    assert!(page2.contains("dee@example.org"), "{page2}");
    // Unlinked, it no longer does.
    let action = page
        .split("action=\"/account/sign-ins/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let r = c
        .post(site.node.url(&format!("/account/sign-ins/{action}")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, page) = account(&c, &site).await;
    assert!(!page.contains("dee.elsewhere@example.org"), "{page}");
    // Removing someone else's identity is refused.
    let r = c
        .post(site.node.url("/account/sign-ins/999999/remove"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
