//! Following by email through real HTTP and a real SMTP server (aiosmtpd), on both backends:
//! double opt-in, announcements, one-click unsubscribe, category-only following, refusals,
//! thought notices, the outbox folder when no server is configured, and bad input.

mod support;

use support::{link, parse_mail as parse};

use serde_json::{json, Value};
use support::{api_user, eventually, fresh_db, post_json, Backend, Node, SmtpSink};

both_backends!(
    following_needs_confirmation_and_stops_in_one_click,
    followers_of_a_category_get_only_its_posts,
    a_refused_address_is_marked_and_not_tried_again,
    moderators_and_watchers_hear_of_thoughts,
    without_smtp_mail_waits_in_the_outbox_folder,
    bad_follow_requests_are_refused_clearly,
    digests_gather_the_posts_since_the_last_one,
    a_crash_mid_fan_out_loses_and_doubles_nothing,
);

async fn follow(node: &Node, body: Value) -> (u16, Value) {
    let r = node
        .client
        .post(node.url("/api/v1/subscriptions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn publish(node: &Node, token: &str, title: &str, categories: &[&str]) -> String {
    let (s, p) = post_json(
        node,
        token,
        "/api/v1/posts",
        json!({"title": title, "body_markdown": "An opinion piece about practice.", "status": "published", "categories": categories}),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    p["url"].as_str().unwrap().to_owned()
}

async fn wait_for(sink: &SmtpSink, rcpt: &str, n: usize) -> Vec<String> {
    assert!(
        eventually(15, || async { sink.to(rcpt).len() >= n }).await,
        "{rcpt} did not get {n} mail(s); got {:?}",
        sink.to(rcpt)
    );
    sink.to(rcpt)
}

async fn following_needs_confirmation_and_stops_in_one_click(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let Some(sink) = SmtpSink::start(db.data_dir.join("sink"), None) else {
        return;
    };
    let node = Node::start(
        &db,
        &[
            ("COLLOQUY_SMTP_URL", &sink.url()),
            ("COLLOQUY_MAIL_FROM", "news@care-voices.example"),
        ],
    )
    .await;
    let editor = api_user(&db, "ed@example.org", "editor");
    let reader = "reader@example.org";

    let (s, v) = follow(&node, json!({"email": reader})).await;
    assert_eq!(s, 202, "{v}");
    let mails = wait_for(&sink, reader, 1).await;
    let (text, msg) = parse(&mails[0]);
    assert!(
        msg.subject().unwrap().starts_with("Confirm"),
        "{:?}",
        msg.subject()
    );
    let confirm = link(
        &text,
        &format!("{}/subscriptions/confirm?token=", node.base),
    );

    // Nothing is sent before the confirmation.
    publish(&node, &editor, "Before confirming", &[]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        sink.to(reader).len(),
        1,
        "no announcement before confirming"
    );

    let (s, page) = node.text(confirm.trim_start_matches(&node.base)).await;
    assert_eq!(s, 200);
    assert!(page.contains("You are following"));
    let (s, _) = node.text(confirm.trim_start_matches(&node.base)).await;
    assert_eq!(s, 404, "a confirmation link works once");

    // Asking again answers the same (the owner is told by mail, at most once a minute, so
    // the form cannot be used to flood an inbox).
    let (s, again) = follow(&node, json!({"email": reader})).await;
    assert_eq!(
        (s, &again),
        (202, &v),
        "the answer never reveals whether an address follows"
    );

    let url = publish(
        &node,
        &editor,
        "Supervision matters – “quoted” ünïcode",
        &[],
    )
    .await;
    let mails = wait_for(&sink, reader, 2).await;
    assert_eq!(mails.len(), 2, "no second confirmation within a minute");
    let raw = &mails[1];
    let (text, msg) = parse(raw);
    assert_eq!(
        msg.subject().unwrap(),
        "Supervision matters – “quoted” ünïcode – Colloquy"
    );
    assert!(text.contains(&url), "the mail links to the post");
    let from = msg.from().unwrap().first().unwrap();
    assert_eq!(from.address().unwrap(), "news@care-voices.example");
    assert_eq!(
        from.name().unwrap(),
        "Colloquy",
        "From carries the site's name"
    );
    assert!(msg.message_id().is_some() && msg.date().is_some());
    let unsub = msg
        .header_raw("List-Unsubscribe")
        .expect("List-Unsubscribe")
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    assert_eq!(
        msg.header_raw("List-Unsubscribe-Post").unwrap().trim(),
        "List-Unsubscribe=One-Click"
    );
    assert!(msg.body_html(0).is_some(), "an HTML part as well as text");
    assert!(text.contains(&unsub), "a visible unsubscribe link too");

    // RFC 8058: a POST of List-Unsubscribe=One-Click to that URL, no cookies, no token.
    let r = reqwest::Client::new()
        .post(&unsub)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A GET only shows a button (link scanners must not unsubscribe anyone).
    assert_eq!(reqwest::get(&unsub).await.unwrap().status(), 200);
    let forged = unsub.replace("&t=", "&t=00");
    let r = reqwest::Client::new()
        .post(&forged)
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a forged link does nothing");
    publish(&node, &editor, "After unsubscribing", &[]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(sink.to(reader).len(), 2, "no more mail after unsubscribing");
}

async fn followers_of_a_category_get_only_its_posts(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let Some(sink) = SmtpSink::start(db.data_dir.join("sink"), None) else {
        return;
    };
    let node = Node::start(&db, &[("COLLOQUY_SMTP_URL", &sink.url())]).await;
    let editor = api_user(&db, "ed@example.org", "editor");
    for (email, cats) in [
        ("policy@example.org", json!(["policy"])),
        ("all@example.org", json!([])),
    ] {
        let (s, _) = follow(&node, json!({"email": email, "categories": cats})).await;
        assert_eq!(s, 202);
        let mails = wait_for(&sink, email, 1).await;
        let confirm = link(
            &parse(&mails[0]).0,
            &format!("{}/subscriptions/confirm?token=", node.base),
        );
        assert_eq!(
            node.get(confirm.trim_start_matches(&node.base))
                .await
                .status(),
            200
        );
    }
    publish(&node, &editor, "An opinion", &["Opinion"]).await;
    publish(&node, &editor, "A policy piece", &["Policy"]).await;
    let all = wait_for(&sink, "all@example.org", 3).await;
    let subjects: Vec<String> = all
        .iter()
        .map(|m| parse(m).1.subject().unwrap().to_owned())
        .collect();
    assert!(
        subjects.iter().any(|s| s.starts_with("An opinion"))
            && subjects.iter().any(|s| s.starts_with("A policy piece"))
    );
    let policy = wait_for(&sink, "policy@example.org", 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let policy_subjects: Vec<String> = sink
        .to("policy@example.org")
        .iter()
        .map(|m| parse(m).1.subject().unwrap().to_owned())
        .collect();
    assert_eq!(policy.len(), 2, "{policy_subjects:?}");
    assert!(
        policy_subjects[1].starts_with("A policy piece"),
        "{policy_subjects:?}"
    );

    // Every announcement carries a signed link to change what one gets.
    let (text, _) = parse(&all[1]);
    let manage = link(&text, &format!("{}/subscriptions/manage?", node.base));
    let page = reqwest::get(&manage).await.unwrap().text().await.unwrap();
    assert!(page.contains("all@example.org"), "{page}");
    let s = support::form_value(&page, "s");
    let t = support::form_value(&page, "t");
    let r = reqwest::Client::new()
        .post(format!("{}/subscriptions/manage", node.base))
        .form(&[
            ("s", s.as_str()),
            ("t", t.as_str()),
            ("frequency", "immediate"),
            ("categories", "policy"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Saved."));
    let r = reqwest::Client::new()
        .post(format!("{}/subscriptions/manage", node.base))
        .form(&[("s", s.as_str()), ("t", "forged"), ("frequency", "daily")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a forged manage link changes nothing");
    publish(&node, &editor, "Another opinion", &["Opinion"]).await;
    publish(&node, &editor, "Policy again", &["Policy"]).await;
    let all = wait_for(&sink, "all@example.org", 4).await;
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let subjects: Vec<String> = sink
        .to("all@example.org")
        .iter()
        .map(|m| parse(m).1.subject().unwrap().to_owned())
        .collect();
    assert_eq!(all.len(), 4, "{subjects:?}");
    assert!(
        subjects[3].starts_with("Policy again"),
        "only the chosen category now: {subjects:?}"
    );
}

async fn a_refused_address_is_marked_and_not_tried_again(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let Some(sink) = SmtpSink::start(db.data_dir.join("sink"), Some("bounce.example")) else {
        return;
    };
    let node = Node::start(&db, &[("COLLOQUY_SMTP_URL", &sink.url())]).await;
    let _admin = api_user(&db, "admin@example.org", "admin");
    let (s, _) = follow(&node, json!({"email": "nobody@bounce.example"})).await;
    assert_eq!(s, 202);
    let csrf = support::sign_in(&node, "admin@example.org", "a long enough password").await;
    let _ = csrf;
    assert!(
        eventually(15, || async {
            node.text("/admin/outbox")
                .await
                .1
                .contains("1 refused by the receiving server")
        })
        .await,
        "the 5xx is recorded as a refusal"
    );
    let page = node.text("/admin/outbox").await.1;
    assert!(
        page.contains("nobody@bounce.example</td><td>bounced"),
        "{page}"
    );
    assert!(sink.to("nobody@bounce.example").is_empty());

    // An SMTP outage: mail waits, then goes out when the server is back.
    let down_port = support::free_low_port();
    let db2 = fresh_db(backend).await.unwrap();
    let node2 = Node::start(
        &db2,
        &[(
            "COLLOQUY_SMTP_URL",
            &format!("smtp://127.0.0.1:{down_port}?tls=none"),
        )],
    )
    .await;
    let (s, _) = follow(&node2, json!({"email": "patient@example.org"})).await;
    assert_eq!(s, 202);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let back = SmtpSink::start_on(db2.data_dir.join("sink2"), down_port, None);
    assert!(
        eventually(20, || async { back.to("patient@example.org").len() == 1 }).await,
        "the mail is delivered once the server answers again"
    );
    drop(node2);
}

async fn moderators_and_watchers_hear_of_thoughts(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let Some(sink) = SmtpSink::start(db.data_dir.join("sink"), None) else {
        return;
    };
    let node = Node::start(
        &db,
        &[
            ("COLLOQUY_SMTP_URL", &sink.url()),
            ("COLLOQUY_THOUGHT_LIMITS", "1000,1000"),
        ],
    )
    .await;
    let editor = api_user(&db, "ed@example.org", "editor");
    let _moderator = api_user(&db, "mod@example.org", "moderator");
    let (s, p) = post_json(
        &node,
        &editor,
        "/api/v1/posts",
        json!({"title": "Discussed", "body_markdown": "x", "status": "published"}),
    )
    .await;
    assert_eq!(s, 201);
    let post = p["id"].as_i64().unwrap();
    let r = node
        .client
        .post(node.url(&format!("/api/v1/posts/{post}/thoughts")))
        .json(&json!({"body": "A first thought from Gus", "author_name": "Gus", "author_email": "gus@example.org", "notify": true}))
        .send()
        .await
        .unwrap();
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["status"], "pending");
    for who in ["ed@example.org", "mod@example.org"] {
        let m = wait_for(&sink, who, 1).await;
        let (text, msg) = parse(&m[0]);
        assert!(
            msg.subject().unwrap().contains("awaits moderation"),
            "{who}"
        );
        assert!(
            text.contains("A first thought from Gus")
                && text.contains("first thought from this guest")
        );
        assert_eq!(
            msg.header_raw("Auto-Submitted").unwrap().trim(),
            "auto-generated"
        );
    }
    // Gus asked to hear of new thoughts: a reply to his (now approved) thought reaches him
    // as a reply, and a new thought by someone else as a new thought.
    let gus = t["id"].as_i64().unwrap();
    let r = node
        .client
        .post(node.url(&format!("/api/v1/thoughts/{gus}/approve")))
        .bearer_auth(&editor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = node
        .client
        .post(node.url(&format!("/api/v1/posts/{post}/thoughts")))
        .bearer_auth(&editor)
        .json(&json!({"body": "The editor replies", "parent_id": gus}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let m = wait_for(&sink, "gus@example.org", 1).await;
    let (text, msg) = parse(&m[0]);
    assert!(
        msg.subject().unwrap().contains("replied to your thought"),
        "{:?}",
        msg.subject()
    );
    assert!(text.contains("The editor replies"));
    let r = node
        .client
        .post(node.url(&format!("/api/v1/posts/{post}/thoughts")))
        .bearer_auth(&editor)
        .json(&json!({"body": "The editor answers"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let m = wait_for(&sink, "gus@example.org", 2).await;
    let (text, msg) = parse(&m[1]);
    assert!(msg.subject().unwrap().contains("New thought"));
    assert!(text.contains("The editor answers"));
    let stop = link(&text, &format!("{}/thoughts/unwatch?", node.base));
    let r = reqwest::Client::new().post(&stop).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = node
        .client
        .post(node.url(&format!("/api/v1/posts/{post}/thoughts")))
        .bearer_auth(&editor)
        .json(&json!({"body": "Another answer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        sink.to("gus@example.org").len(),
        2,
        "no more notices after stopping"
    );
}

async fn without_smtp_mail_waits_in_the_outbox_folder(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let _admin = api_user(&db, "admin@example.org", "admin");
    let (s, _) = follow(&node, json!({"email": "someone@example.org"})).await;
    assert_eq!(s, 202);
    let outbox = db.data_dir.join("outbox");
    assert!(
        eventually(10, || async {
            std::fs::read_dir(&outbox)
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .any(|e| e.file_name().to_string_lossy().ends_with(".eml"))
                })
                .unwrap_or(false)
        })
        .await,
        "the confirmation mail is kept as a file"
    );
    let file = std::fs::read_dir(&outbox)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().ends_with(".eml"))
        .unwrap();
    let raw = std::fs::read_to_string(file.path()).unwrap();
    let msg = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .unwrap();
    assert_eq!(
        msg.to().unwrap().first().unwrap().address().unwrap(),
        "someone@example.org"
    );
    support::sign_in(&node, "admin@example.org", "a long enough password").await;
    let page = node.text("/admin/outbox").await.1;
    assert!(
        page.contains("Mail is not being delivered") && page.contains("COLLOQUY_SMTP_URL"),
        "{page}"
    );
}

async fn bad_follow_requests_are_refused_clearly(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    for (body, status, field) in [
        (json!({"email": "not an address"}), 422, "email"),
        (
            json!({"email": "a@example.org\r\nBcc: victim@example.org"}),
            422,
            "email",
        ),
        (
            json!({"email": format!("{}@example.org", "a".repeat(300))}),
            422,
            "email",
        ),
        (
            json!({"email": "a@example.org", "frequency": "hourly"}),
            422,
            "frequency",
        ),
        (
            json!({"email": "a@example.org", "categories": ["Not A Slug!"]}),
            422,
            "categories",
        ),
        (json!({"email": "a@example.org", "surprise": true}), 400, ""),
    ] {
        let (s, e) = follow(&node, body).await;
        assert_eq!(s, status, "{e}");
        if !field.is_empty() {
            assert_eq!(e["error"]["field"], field, "{e}");
        }
    }
    let r = node
        .client
        .post(node.url("/api/v1/subscriptions"))
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Nothing was stored or sent.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let outbox = db.data_dir.join("outbox");
    let n = std::fs::read_dir(&outbox).map(|d| d.count()).unwrap_or(0);
    assert_eq!(n, 0, "no mail for refused requests");
    // The form on every page.
    let html = node.text("/").await.1;
    assert!(html.contains("Enter your email address to follow this publication"));
}

async fn confirmed_followers(node: &Node, csrf: &str, emails: &[String], frequency: &str) {
    let mut csv = String::from("email,status,frequency\n");
    for e in emails {
        csv.push_str(&format!("{e},confirmed,{frequency}\n"));
    }
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("f.csv"),
        );
    let r = node
        .client
        .post(node.url("/admin/subscribers/import"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(&format!(
            "{} imported, 0 confirmation mails queued",
            emails.len()
        )),
        "{page}"
    );
}

async fn digests_gather_the_posts_since_the_last_one(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let Some(sink) = SmtpSink::start(db.data_dir.join("sink"), None) else {
        return;
    };
    let node = Node::start(&db, &[("COLLOQUY_SMTP_URL", &sink.url())]).await;
    let editor = api_user(&db, "ed@example.org", "editor");
    let _admin = api_user(&db, "admin@example.org", "admin");
    let csrf = support::sign_in(&node, "admin@example.org", "a long enough password").await;
    confirmed_followers(&node, &csrf, &["daily@example.org".to_string()], "daily").await;
    // Imports of bad rows are reported by line, and import nothing.
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .part(
        "file",
        reqwest::multipart::Part::bytes(
            b"email,frequency\nok@example.org,daily\nnot-an-email,daily\nx@example.org,hourly\n"
                .to_vec(),
        )
        .file_name("f.csv"),
    );
    let page = node
        .client
        .post(node.url("/admin/subscribers/import"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Line 3:") && page.contains("Line 4:") && page.contains("unknown frequency"),
        "{page}"
    );
    publish(&node, &editor, "Morning piece", &[]).await;
    publish(&node, &editor, "Evening piece", &[]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(
        sink.to("daily@example.org").is_empty(),
        "daily followers get no immediate mail"
    );
    let out = support::cli(&db, &["digest", "send", "--frequency", "daily"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "queued 1 daily digest mail(s)"
    );
    let m = wait_for(&sink, "daily@example.org", 1).await;
    let (text, msg) = parse(&m[0]);
    assert!(
        msg.subject().unwrap().starts_with("2 new posts on"),
        "{:?}",
        msg.subject()
    );
    assert!(text.contains("Morning piece") && text.contains("Evening piece"));
    assert!(msg.header_raw("List-Unsubscribe").is_some());
    let out = support::cli(&db, &["digest", "send", "--frequency", "daily"], "");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "queued 0 daily digest mail(s)",
        "nothing new, nothing sent"
    );
}

/// The node is killed (SIGKILL) in the middle of announcing a post to 300 followers; another
/// node on the same database finishes. Every follower ends with that mail exactly once as a
/// reader sees it (one Message-ID); a raw resend is only possible for mails the dead node had
/// handed to the SMTP server in its last instant, and is reported.
async fn a_crash_mid_fan_out_loses_and_doubles_nothing(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let Some(sink) = SmtpSink::start(db.data_dir.join("sink"), None) else {
        return;
    };
    let env = [
        ("COLLOQUY_SMTP_URL", sink.url()),
        ("COLLOQUY_MAIL_LEASE_SECONDS", "3".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut a = Node::start(&db, &env).await;
    let editor = api_user(&db, "ed@example.org", "editor");
    let _admin = api_user(&db, "admin@example.org", "admin");
    let csrf = support::sign_in(&a, "admin@example.org", "a long enough password").await;
    let emails: Vec<String> = (0..300).map(|i| format!("f{i:03}@example.org")).collect();
    confirmed_followers(&a, &csrf, &emails, "immediate").await;
    publish(&a, &editor, "To everyone", &[]).await;
    assert!(
        eventually(20, || async { sink.messages().len() >= 20 }).await,
        "the fan-out started"
    );
    let _ = a.child.kill();
    let _ = a.child.wait();
    let at_kill = sink.messages().len();
    let b = Node::start(&db, &env).await;
    assert!(
        eventually(60, || async {
            emails.iter().all(|e| !sink.to(e).is_empty())
        })
        .await,
        "every follower got the mail after the restart"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let mut raw_doubles = 0;
    for e in &emails {
        let mails = sink.to(e);
        let ids: std::collections::BTreeSet<String> = mails
            .iter()
            .map(|m| parse(m).1.message_id().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 1, "{e} got {} different mails", ids.len());
        raw_doubles += mails.len() - 1;
    }
    eprintln!("killed after {at_kill} of 300 mails; raw resends after the crash: {raw_doubles}");
    assert!(
        raw_doubles <= 64,
        "resends are bounded by what was in flight"
    );
    drop(b);
}
