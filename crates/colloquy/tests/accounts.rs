//! Members' accounts through the real binary on both backends, with a real SMTP server
//! receiving the mail: sign-in links (once, then refused; expired ones refused),
//! registration under each policy with address proof before writing, password resets that
//! sign out everywhere, throttled sign-in with `Retry-After`, signed-in devices, and the
//! permission table route by route.

mod support;

use support::{api_user, form_value, fresh_db, link, parse_mail, Backend, Db, Node, SmtpSink};

both_backends!(
    a_mailed_link_signs_in_once,
    registration_follows_the_site_policy,
    a_password_reset_signs_out_everywhere,
    failed_sign_ins_slow_down_but_a_mailed_link_still_works,
    members_see_and_end_their_signed_in_devices,
    every_staff_route_refuses_members_and_strangers,
    staff_two_factor_sign_in_asks_for_a_code_that_works_once,
    members_take_their_writing_with_them_and_can_leave,
    an_account_made_in_someone_elses_name_is_theirs_once_they_sign_in,
);

async fn mail_node(db: &Db) -> Option<(Node, SmtpSink)> {
    let sink = SmtpSink::start(db.data_dir.join("sink"), None)?;
    let node = Node::start(db, &[("COLLOQUY_SMTP_URL", &sink.url())]).await;
    Some((node, sink))
}

/// The newest mail to `to` (waiting for it), as text.
async fn mail_to(sink: &SmtpSink, to: &str, count: usize) -> String {
    let ok = support::eventually(20, || async { sink.to(to).len() >= count }).await;
    assert!(ok, "no mail number {count} to {to}");
    parse_mail(sink.to(to).last().unwrap()).0
}

/// A fresh browser (its own cookies) on the node.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
        .build()
        .unwrap()
}

async fn get(c: &reqwest::Client, node: &Node, path: &str) -> (u16, String) {
    let r = c.get(node.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(
    c: &reqwest::Client,
    node: &Node,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String, String) {
    let r = c.post(node.url(path)).form(form).send().await.unwrap();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (r.status().as_u16(), loc, r.text().await.unwrap())
}

/// The sign-in page's form token (sets the browser's cookie).
async fn login_csrf(c: &reqwest::Client, node: &Node) -> String {
    let (s, page) = get(c, node, "/sign-in").await;
    assert_eq!(s, 200);
    form_value(&page, "csrf")
}

/// Signs in on the sign-in page with a password (fetching the page's form token first).
async fn sign_in_with_password(
    c: &reqwest::Client,
    node: &Node,
    email: &str,
    password: &str,
) -> (u16, String, String) {
    let csrf = login_csrf(c, node).await;
    post(
        c,
        node,
        "/sign-in",
        &[("email", email), ("password", password), ("csrf", &csrf)],
    )
    .await
}

/// Follows a mailed link: its page, then its one button.
async fn follow(
    c: &reqwest::Client,
    node: &Node,
    url: &str,
    action: &str,
) -> (u16, String, String) {
    let path = url.trim_start_matches(&node.base);
    let (s, page) = get(c, node, path).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("<button"), "{page}");
    let token = form_value(&page, "token");
    let csrf = form_value(&page, "csrf");
    post(c, node, action, &[("token", &token), ("csrf", &csrf)]).await
}

async fn a_mailed_link_signs_in_once(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let Some((node, sink)) = mail_node(&db).await else {
        return;
    };
    let c = browser();
    let csrf = login_csrf(&c, &node).await;
    let (s, _, page) = post(
        &c,
        &node,
        "/sign-in/link",
        &[
            ("email", "new.member@example.org"),
            ("csrf", &csrf),
            ("next", "/about/"),
        ],
    )
    .await;
    assert_eq!(s, 202, "{page}");
    assert!(page.contains("new.member@example.org"));
    let text = mail_to(&sink, "new.member@example.org", 1).await;
    let url = link(&text, &format!("{}/sign-in/link/use?token=", node.base));
    // The GET only shows a button (mail scanners follow links); the POST signs in.
    let (s, loc, _) = follow(&c, &node, &url, "/sign-in/link/use").await;
    assert_eq!((s, loc.as_str()), (303, "/about/"));
    let (s, account) = get(&c, &node, "/account").await;
    assert_eq!(s, 200);
    assert!(account.contains("new.member@example.org"), "{account}");
    assert!(
        !account.contains("not confirmed"),
        "using the link proved the address"
    );
    // Once only.
    let c2 = browser();
    let path = url.trim_start_matches(&node.base);
    let (s, page) = get(&c2, &node, path).await;
    assert_eq!(s, 410, "{page}");
    assert!(page.contains("used already"));
    let csrf2 = login_csrf(&c2, &node).await;
    let token = path.split("token=").nth(1).unwrap();
    let (s, _, _) = post(
        &c2,
        &node,
        "/sign-in/link/use",
        &[("token", token), ("csrf", &csrf2)],
    )
    .await;
    assert_eq!(s, 410);
    assert_eq!(
        get(&c2, &node, "/account").await.0,
        303,
        "the reused link signed nobody in"
    );
    // Expired links are refused.
    let (_, _, _) = post(
        &c2,
        &node,
        "/sign-in/link",
        &[("email", "new.member@example.org"), ("csrf", &csrf2)],
    )
    .await;
    let text = mail_to(&sink, "new.member@example.org", 2).await;
    let url = link(&text, &format!("{}/sign-in/link/use?token=", node.base));
    support::sql(
        &db,
        "UPDATE account_links SET expires_at = 0 WHERE used_at IS NULL",
    )
    .await;
    let (s, page) = get(&c2, &node, url.trim_start_matches(&node.base)).await;
    assert_eq!(s, 410);
    assert!(page.contains("expired"), "{page}");
    // A link that is not ours, and a form without its token.
    let (s, _) = get(&c2, &node, "/sign-in/link/use?token=forged").await;
    assert_eq!(s, 404);
    let (s, _, _) = post(
        &c2,
        &node,
        "/sign-in/link",
        &[("email", "x@example.org"), ("csrf", "nope")],
    )
    .await;
    assert_eq!(s, 403);
    // A bad address is a clear error.
    let (s, _, page) = post(
        &c2,
        &node,
        "/sign-in/link",
        &[("email", "not an address"), ("csrf", &csrf2)],
    )
    .await;
    assert_eq!(s, 422, "{page}");
}

async fn registration_follows_the_site_policy(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let Some((node, sink)) = mail_node(&db).await else {
        return;
    };
    let c = browser();
    let (_, page) = get(&c, &node, "/register").await;
    let csrf = form_value(&page, "csrf");
    // Weak passwords are refused with the reason, and nothing is created.
    let (s, _, page) = post(
        &c,
        &node,
        "/register",
        &[
            ("name", "Robin Carer"),
            ("email", "robin@example.org"),
            ("password", "Password2024!"),
            ("csrf", &csrf),
            ("invite", ""),
        ],
    )
    .await;
    assert_eq!(s, 422);
    assert!(page.contains("guessed first"), "{page}");
    let (s, _, page) = post(
        &c,
        &node,
        "/register",
        &[
            ("name", "Robin Carer"),
            ("email", "robin@example.org"),
            ("password", "tea at the allotment"),
            ("csrf", &csrf),
            ("invite", ""),
        ],
    )
    .await;
    assert_eq!(s, 201, "{page}");
    let text = mail_to(&sink, "robin@example.org", 1).await;
    let verify = link(&text, &format!("{}/verify?token=", node.base));

    // Signed in by password but not yet proven: reading yes, writing no.
    let editor = api_user(&db, "ed@example.org", "editor");
    let (post_id, _) = support::publish(&node, &editor, "A piece", "Words.").await;
    let (s, _, _) =
        sign_in_with_password(&c, &node, "robin@example.org", "tea at the allotment").await;
    assert_eq!(s, 303);
    let (_, account) = get(&c, &node, "/account").await;
    assert!(account.contains("not confirmed"), "{account}");
    // The account page sends the address link again.
    let (s, _, page) = post(
        &c,
        &node,
        "/account/verify-again",
        &[("csrf", &form_value(&account, "csrf"))],
    )
    .await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("A new link is on its way"), "{page}");
    let again = mail_to(&sink, "robin@example.org", 2).await;
    assert!(again.contains("/verify?token="), "{again}");
    let out = support::cli(
        &db,
        &["token", "create", "--email", "robin@example.org"],
        "",
    );
    let robin_token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let thought = || {
        let url = node.url(&format!("/api/v1/posts/{post_id}/thoughts"));
        let c = node.client.clone();
        let token = robin_token.clone();
        async move {
            c.post(url)
                .bearer_auth(token)
                .json(&serde_json::json!({"body": "A first thought from a member."}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        thought().await,
        403,
        "a member who has not proven the address wrote"
    );
    let (s, loc, _) = follow(&c, &node, &verify, "/verify").await;
    assert_eq!((s, loc.as_str()), (303, "/account"));
    let (_, account) = get(&c, &node, "/account").await;
    assert!(!account.contains("not confirmed"), "{account}");
    assert_eq!(thought().await, 201, "a proven member can write");

    // The same address again: the visitor is told the same, the owner gets a sign-in link.
    let c2 = browser();
    let (_, page) = get(&c2, &node, "/register").await;
    let csrf = form_value(&page, "csrf");
    let (s, _, _) = post(
        &c2,
        &node,
        "/register",
        &[
            ("name", "Someone"),
            ("email", "robin@example.org"),
            ("password", "another long phrase"),
            ("csrf", &csrf),
            ("invite", ""),
        ],
    )
    .await;
    assert_eq!(s, 201);
    let text = mail_to(&sink, "robin@example.org", 3).await;
    assert!(text.contains("/sign-in/link/use?token="), "{text}");

    // Closed: no form, no account.
    let admin_pw = "a long admin password";
    let out = support::cli(
        &db,
        &[
            "user",
            "add",
            "--email",
            "admin@example.org",
            "--name",
            "Admin",
            "--role",
            "admin",
            "--password-stdin",
        ],
        admin_pw,
    );
    assert!(out.status.success());
    let admin_csrf = support::sign_in(&node, "admin@example.org", admin_pw).await;
    let set_policy = |policy: &'static str| {
        let node = &node;
        let admin_csrf = admin_csrf.clone();
        async move {
            let r = node
                .client
                .post(node.url("/admin/settings"))
                .form(&[
                    ("csrf", admin_csrf.as_str()),
                    ("title", "Voices"),
                    ("tagline", ""),
                    ("description", ""),
                    ("timezone", "Europe/London"),
                    ("language", "en"),
                    ("posts_per_page", "10"),
                    ("registration", policy),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        }
    };
    set_policy("closed").await;
    let c3 = browser();
    let (s, page) = get(&c3, &node, "/register").await;
    assert_eq!(s, 403, "{page}");
    let csrf = login_csrf(&c3, &node).await;
    let (s, _, _) = post(
        &c3,
        &node,
        "/register",
        &[
            ("name", "Late"),
            ("email", "late@example.org"),
            ("password", "a long phrase here"),
            ("csrf", &csrf),
            ("invite", ""),
        ],
    )
    .await;
    assert_eq!(s, 403);
    let (s, _, _) = post(
        &c3,
        &node,
        "/sign-in/link",
        &[("email", "late@example.org"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(s, 202, "the answer does not reveal the policy's effect");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(
        sink.to("late@example.org").is_empty(),
        "a closed site mailed a stranger a way in"
    );

    // Invitation: only with an invitation, for its address.
    set_policy("invitation").await;
    let r = node
        .client
        .post(node.url("/admin/invitations"))
        .form(&[
            ("csrf", admin_csrf.as_str()),
            ("email", "invited@example.org"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let text = mail_to(&sink, "invited@example.org", 1).await;
    let invite_url = link(&text, &format!("{}/register?invite=", node.base));
    let invite = invite_url.split("invite=").nth(1).unwrap().to_owned();
    let c4 = browser();
    assert_eq!(get(&c4, &node, "/register").await.0, 403);
    let (s, page) = get(&c4, &node, invite_url.trim_start_matches(&node.base)).await;
    assert_eq!(s, 200, "{page}");
    let csrf = form_value(&page, "csrf");
    let (s, _, _) = post(
        &c4,
        &node,
        "/register",
        &[
            ("name", "Other"),
            ("email", "other@example.org"),
            ("password", "a long phrase here"),
            ("csrf", &csrf),
            ("invite", &invite),
        ],
    )
    .await;
    assert_eq!(s, 403, "an invitation is for its own address");
    let (s, _, page) = post(
        &c4,
        &node,
        "/register",
        &[
            ("name", "Invited"),
            ("email", "invited@example.org"),
            ("password", "a long phrase here"),
            ("csrf", &csrf),
            ("invite", &invite),
        ],
    )
    .await;
    assert_eq!(s, 201, "{page}");
    let text = mail_to(&sink, "invited@example.org", 2).await;
    assert!(text.contains("/verify?token="), "{text}");
    let (s, _, _) = post(
        &c4,
        &node,
        "/register",
        &[
            ("name", "Again"),
            ("email", "invited@example.org"),
            ("password", "a long phrase here"),
            ("csrf", &csrf),
            ("invite", &invite),
        ],
    )
    .await;
    assert_eq!(s, 410, "an invitation works once");
}

async fn a_password_reset_signs_out_everywhere(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let Some((node, sink)) = mail_node(&db).await else {
        return;
    };
    let out = support::cli(
        &db,
        &[
            "user",
            "add",
            "--email",
            "sam@example.org",
            "--name",
            "Sam",
            "--role",
            "member",
            "--password-stdin",
        ],
        "the first long password",
    );
    assert!(out.status.success());
    let elsewhere = browser();
    let (s, _, _) = sign_in_with_password(
        &elsewhere,
        &node,
        "sam@example.org",
        "the first long password",
    )
    .await;
    assert_eq!(s, 303);
    assert_eq!(get(&elsewhere, &node, "/account").await.0, 200);

    let c = browser();
    let (_, page) = get(&c, &node, "/password/forgot").await;
    let csrf = form_value(&page, "csrf");
    let (s, _, _) = post(
        &c,
        &node,
        "/password/forgot",
        &[("email", "sam@example.org"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(s, 202);
    // Unknown addresses get the same answer and no mail.
    let (s, _, _) = post(
        &c,
        &node,
        "/password/forgot",
        &[("email", "nobody@example.org"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(s, 202);
    let text = mail_to(&sink, "sam@example.org", 1).await;
    let url = link(&text, &format!("{}/password/reset?token=", node.base));
    let (s, page) = get(&c, &node, url.trim_start_matches(&node.base)).await;
    assert_eq!(s, 200);
    let token = form_value(&page, "token");
    let csrf = form_value(&page, "csrf");
    // A weak password does not spend the link.
    let (s, _, page) = post(
        &c,
        &node,
        "/password/reset",
        &[
            ("token", &token),
            ("password", "qwertyuiop123"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(s, 422, "{page}");
    let (s, loc, _) = post(
        &c,
        &node,
        "/password/reset",
        &[
            ("token", &token),
            ("password", "kettle orbit mango river"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!((s, loc.as_str()), (303, "/account"));
    assert_eq!(get(&c, &node, "/account").await.0, 200);
    assert_eq!(
        get(&elsewhere, &node, "/account").await.0,
        303,
        "the old session survived the reset"
    );
    let (s, _, _) = post(
        &c,
        &node,
        "/password/reset",
        &[
            ("token", &token),
            ("password", "another long phrase"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(s, 410, "a reset link works once");
    let c2 = browser();
    let (s, _, _) =
        sign_in_with_password(&c2, &node, "sam@example.org", "the first long password").await;
    assert_eq!(s, 401);
    let (s, _, _) =
        sign_in_with_password(&c2, &node, "sam@example.org", "kettle orbit mango river").await;
    assert_eq!(s, 303);
}

async fn failed_sign_ins_slow_down_but_a_mailed_link_still_works(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let Some((node, sink)) = mail_node(&db).await else {
        return;
    };
    let out = support::cli(
        &db,
        &[
            "user",
            "add",
            "--email",
            "kim@example.org",
            "--name",
            "Kim",
            "--role",
            "member",
            "--password-stdin",
        ],
        "kim's long password",
    );
    assert!(out.status.success());
    let attacker = browser();
    let csrf = login_csrf(&attacker, &node).await;
    for _ in 0..5 {
        let (s, _, page) = post(
            &attacker,
            &node,
            "/sign-in",
            &[
                ("email", "kim@example.org"),
                ("password", "guess guess guess"),
                ("csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(s, 401, "{page}");
    }
    let r = attacker
        .post(node.url("/sign-in"))
        .form(&[
            ("email", "kim@example.org"),
            ("password", "kim's long password"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        429,
        "even the right password waits after five failures"
    );
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&wait), "{wait}");
    assert!(r.text().await.unwrap().contains("sign-in link"));
    // The member is not locked out: a mailed link works at once.
    let kim = browser();
    let csrf = login_csrf(&kim, &node).await;
    let (s, _, _) = post(
        &kim,
        &node,
        "/sign-in/link",
        &[("email", "kim@example.org"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(s, 202);
    let text = mail_to(&sink, "kim@example.org", 1).await;
    let url = link(&text, &format!("{}/sign-in/link/use?token=", node.base));
    let (s, _, _) = follow(&kim, &node, &url, "/sign-in/link/use").await;
    assert_eq!(s, 303);
    assert_eq!(get(&kim, &node, "/account").await.0, 200);
}

async fn members_see_and_end_their_signed_in_devices(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let out = support::cli(
        &db,
        &[
            "user",
            "add",
            "--email",
            "lee@example.org",
            "--name",
            "Lee",
            "--role",
            "member",
            "--password-stdin",
        ],
        "lee's long password",
    );
    assert!(out.status.success());
    let laptop = browser();
    let phone = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .user_agent("Mozilla/5.0 (Linux; Android 14) Chrome/130.0 Mobile Safari/537.36")
        .build()
        .unwrap();
    for c in [&laptop, &phone] {
        let (s, _, _) =
            sign_in_with_password(c, &node, "lee@example.org", "lee's long password").await;
        assert_eq!(s, 303);
    }
    // A device seen again after a while is marked as seen (not on every request).
    support::sql(&db, "UPDATE sessions SET last_seen_at = 1").await;
    let (s, page) = get(&laptop, &node, "/account/sessions").await;
    assert_eq!(s, 200);
    assert!(page.contains("Firefox on Linux (this device)"), "{page}");
    assert_eq!(
        support::number(&db, "SELECT COUNT(*) FROM sessions WHERE last_seen_at > 1").await,
        1,
        "only the device that came back is seen again"
    );
    assert!(page.contains("Chrome on Android"), "{page}");
    let csrf = form_value(&page, "csrf");
    let handle = form_value(&page, "handle");
    // A forged handle or token changes nothing.
    let (s, _, _) = post(
        &laptop,
        &node,
        "/account/sessions/end",
        &[("csrf", "forged"), ("handle", &handle)],
    )
    .await;
    assert_eq!(s, 403);
    let (s, _, _) = post(
        &laptop,
        &node,
        "/account/sessions/end",
        &[("csrf", &csrf), ("handle", "0123456789abcdef")],
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(get(&phone, &node, "/account").await.0, 200);
    let (s, _, _) = post(
        &laptop,
        &node,
        "/account/sessions/end",
        &[("csrf", &csrf), ("handle", &handle)],
    )
    .await;
    assert_eq!(s, 303);
    assert_eq!(
        get(&phone, &node, "/account").await.0,
        303,
        "the phone is signed out"
    );
    assert_eq!(get(&laptop, &node, "/account").await.0, 200);
    // Sign out everywhere else, then here.
    sign_in_with_password(&phone, &node, "lee@example.org", "lee's long password").await;
    let (_, page) = get(&laptop, &node, "/account/sessions").await;
    let csrf = form_value(&page, "csrf");
    let (s, _, _) = post(
        &laptop,
        &node,
        "/account/sessions/end-others",
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(s, 303);
    assert_eq!(get(&phone, &node, "/account").await.0, 303);
    let (s, _, _) = post(&laptop, &node, "/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(s, 303);
    assert_eq!(get(&laptop, &node, "/account").await.0, 303);
}

/// Every page and form of the admin and of moderation: a member gets 403, a stranger is
/// sent to sign in (pages) or refused (forms).
async fn every_staff_route_refuses_members_and_strangers(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let out = support::cli(
        &db,
        &[
            "user",
            "add",
            "--email",
            "m@example.org",
            "--name",
            "M",
            "--role",
            "member",
            "--password-stdin",
        ],
        "member long password",
    );
    assert!(out.status.success());
    let member = browser();
    let (s, _, _) =
        sign_in_with_password(&member, &node, "m@example.org", "member long password").await;
    assert_eq!(s, 303);
    let (_, account) = get(&member, &node, "/account").await;
    let member_csrf = form_value(&account, "csrf");
    let stranger = browser();
    let pages = [
        "/admin/",
        "/admin/posts",
        "/admin/posts/new",
        "/admin/posts/1/edit",
        "/admin/terms/tag",
        "/admin/terms/category",
        "/admin/users",
        "/admin/users/1",
        "/admin/settings",
        "/admin/jobs",
        "/admin/thoughts",
        "/admin/thoughts?status=spam",
        "/admin/bans",
        "/admin/discussion",
        "/admin/moderation-log",
        "/admin/outbox",
        "/admin/debates",
        "/admin/debates/1",
        "/admin/thoughts/1/edit",
        "/admin/subscribers.csv",
        "/admin/reblog?url=https://example.org/",
    ];
    for path in pages {
        let (s, _) = get(&member, &node, path).await;
        assert_eq!(s, 403, "a member reached {path}");
        let r = stranger.get(node.url(path)).send().await.unwrap();
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        assert!(
            r.status() == 303 && loc.as_deref().is_some_and(|l| l.contains("login")),
            "a stranger at {path}: {} {loc:?}",
            r.status()
        );
    }
    let forms = [
        "/admin/posts/new",
        "/admin/posts/1/edit",
        "/admin/posts/1/delete",
        "/admin/preview",
        "/admin/terms/tag",
        "/admin/terms/tag/1/delete",
        "/admin/users",
        "/admin/users/1",
        "/admin/settings",
        "/admin/invitations",
        "/admin/thoughts/bulk",
        "/admin/bans",
        "/admin/discussion",
        "/admin/debates",
        "/admin/debates/settings",
        "/admin/debates/1",
        "/admin/thoughts/1/edit",
        "/admin/thoughts/1/reply",
        "/admin/bans/1/delete",
        "/admin/subscribers/import",
    ];
    for path in forms {
        let r = member
            .post(node.url(path))
            .form(&[("csrf", member_csrf.as_str())])
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        // Refused: by role (403), or before that by the form's shape; never done.
        assert!((400..500).contains(&s), "a member's form to {path} got {s}");
        let r = stranger
            .post(node.url(path))
            .form(&[("csrf", "x")])
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        let to_login = r
            .headers()
            .get("location")
            .is_some_and(|l| l.to_str().unwrap().contains("login"));
        assert!(
            (s == 303 && to_login) || (400..500).contains(&s),
            "a stranger's form to {path} got {s}"
        );
    }
}

fn between<'a>(page: &'a str, start: &str, end: &str) -> Vec<&'a str> {
    page.split(start)
        .skip(1)
        .filter_map(|s| s.split(end).next())
        .collect()
}

async fn staff_two_factor_sign_in_asks_for_a_code_that_works_once(backend: Backend) {
    use colloquy_core::account::totp;
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let pw = "the editor's long password";
    let out = support::cli(
        &db,
        &[
            "user",
            "add",
            "--email",
            "ed@example.org",
            "--name",
            "Ed",
            "--role",
            "editor",
            "--password-stdin",
        ],
        pw,
    );
    assert!(out.status.success());
    let sign_in = |c: reqwest::Client| {
        let node = &node;
        async move {
            let csrf = login_csrf(&c, node).await;
            post(
                &c,
                node,
                "/sign-in",
                &[
                    ("email", "ed@example.org"),
                    ("password", pw),
                    ("csrf", &csrf),
                ],
            )
            .await
        }
    };
    let c = browser();
    assert_eq!(sign_in(c.clone()).await.1, "/account");
    let (s, page) = get(&c, &node, "/account/two-factor").await;
    assert_eq!(s, 200, "{page}");
    let key = between(&page, "<code id=\"key\">", "<")[0].to_owned();
    let csrf = form_value(&page, "csrf");
    let pending = form_value(&page, "pending");
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    };
    let (s, _, page) = post(
        &c,
        &node,
        "/account/two-factor",
        &[
            ("csrf", &csrf),
            ("pending", &pending),
            ("action", "enable"),
            ("code", "000000"),
        ],
    )
    .await;
    assert_eq!(s, 422, "a wrong code turned it on: {page}");
    let code = totp::code_for_key_text(&key, now()).unwrap();
    let (s, _, page) = post(
        &c,
        &node,
        "/account/two-factor",
        &[
            ("csrf", &csrf),
            ("pending", &pending),
            ("action", "enable"),
            ("code", &code),
        ],
    )
    .await;
    assert_eq!(s, 200, "{page}");
    let recovery: Vec<String> = between(&page, "<li><code>", "<")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(recovery.len(), 10, "{page}");

    // The password alone is not enough now.
    let c2 = browser();
    let (s, loc, _) = sign_in(c2.clone()).await;
    assert_eq!((s, loc.as_str()), (303, "/sign-in/code"));
    assert_eq!(
        get(&c2, &node, "/account").await.0,
        303,
        "signed in without the code"
    );
    let (_, page) = get(&c2, &node, "/sign-in/code").await;
    let csrf2 = form_value(&page, "csrf");
    let (s, _, _) = post(
        &c2,
        &node,
        "/sign-in/code",
        &[("code", "123456"), ("csrf", &csrf2)],
    )
    .await;
    assert_eq!(s, 401);
    let code = totp::code_for_key_text(&key, now()).unwrap();
    let (s, loc, _) = post(
        &c2,
        &node,
        "/sign-in/code",
        &[("code", &code), ("csrf", &csrf2)],
    )
    .await;
    assert_eq!((s, loc.as_str()), (303, "/account"));
    assert_eq!(get(&c2, &node, "/account").await.0, 200);
    // The same code does not work twice (someone who saw it over a shoulder).
    let c3 = browser();
    sign_in(c3.clone()).await;
    let (_, page) = get(&c3, &node, "/sign-in/code").await;
    let csrf3 = form_value(&page, "csrf");
    let (s, _, _) = post(
        &c3,
        &node,
        "/sign-in/code",
        &[("code", &code), ("csrf", &csrf3)],
    )
    .await;
    assert_eq!(s, 401, "a used code worked again");
    // A recovery code works, once.
    let (s, _, _) = post(
        &c3,
        &node,
        "/sign-in/code",
        &[("code", &recovery[0].to_uppercase()), ("csrf", &csrf3)],
    )
    .await;
    assert_eq!(s, 303);
    let c4 = browser();
    sign_in(c4.clone()).await;
    let (_, page) = get(&c4, &node, "/sign-in/code").await;
    let csrf4 = form_value(&page, "csrf");
    let (s, _, _) = post(
        &c4,
        &node,
        "/sign-in/code",
        &[("code", &recovery[0]), ("csrf", &csrf4)],
    )
    .await;
    assert_eq!(s, 401, "a recovery code worked twice");
    // Members have no two-factor page.
    let out = support::cli(
        &db,
        &[
            "user",
            "add",
            "--email",
            "mem@example.org",
            "--name",
            "Mem",
            "--role",
            "member",
            "--password-stdin",
        ],
        "member long password",
    );
    assert!(out.status.success());
    let m = browser();
    sign_in_with_password(&m, &node, "mem@example.org", "member long password").await;
    assert_eq!(get(&m, &node, "/account/two-factor").await.0, 403);
}

async fn members_take_their_writing_with_them_and_can_leave(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let editor = api_user(&db, "ed@example.org", "editor");
    let (post_id, post_url) = support::publish(&node, &editor, "On supervision", "Words.").await;
    let post_url = post_url.trim_start_matches(&node.base).to_owned();
    let mut members = vec![];
    for (email, words) in [
        ("ann@example.org", "Supervision kept me in the job."),
        ("ben@example.org", "Mine was monthly at best."),
    ] {
        let token = api_user(&db, email, "member");
        let r = node
            .client
            .post(node.url(&format!("/api/v1/posts/{post_id}/thoughts")))
            .bearer_auth(&token)
            .json(&serde_json::json!({"body": words}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let (s, _) = support::post_json(
            &node,
            &token,
            "/api/v1/subscriptions",
            serde_json::json!({"email": email}),
        )
        .await;
        assert!(s == 202 || s == 200, "{s}");
        members.push((email, words, browser()));
    }
    let (ann_email, ann_words, ann) = &members[0];
    let (ben_email, ben_words, ben) = &members[1];
    for (email, c) in [(ann_email, ann), (ben_email, ben)] {
        let (s, _, page) = sign_in_with_password(c, &node, email, "a long enough password").await;
        assert_eq!(s, 303, "{page}");
    }
    // The download holds what they wrote, with its address.
    let r = ann
        .get(node.url("/account/data.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let data: serde_json::Value = r.json().await.unwrap();
    assert_eq!(data["account"]["email"], *ann_email);
    assert_eq!(data["thoughts"][0]["text"], *ann_words);
    assert!(data["thoughts"][0]["url"]
        .as_str()
        .unwrap()
        .contains(&post_url));
    let (s, md) = get(ann, &node, "/account/data.md").await;
    assert_eq!(s, 200);
    assert!(
        md.contains(ann_words) && md.contains("On supervision"),
        "{md}"
    );
    // A picture of their own, checked to be an image.
    let (_, account) = get(ann, &node, "/account").await;
    let csrf = form_value(&account, "csrf");
    let upload = |bytes: &'static [u8]| {
        let form = reqwest::multipart::Form::new()
            .text("csrf", csrf.clone())
            .part(
                "avatar",
                reqwest::multipart::Part::bytes(bytes).file_name("me.png"),
            );
        ann.post(node.url("/account/avatar")).multipart(form).send()
    };
    let png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82";
    assert_eq!(upload(b"not an image at all").await.unwrap().status(), 422);
    assert_eq!(upload(png).await.unwrap().status(), 303);
    let (_, account) = get(ann, &node, "/account").await;
    assert!(
        between(&account, "src=\"/uploads/", "\"")
            .iter()
            .any(|n| n.ends_with(".png")),
        "{account}"
    );
    // Their public page lists it, until they hide it.
    let (_, account) = get(ann, &node, "/account").await;
    let page_link = between(&account, "href=\"/people/", "\"")[0].to_owned();
    let (s, person) = get(&browser(), &node, &format!("/people/{page_link}")).await;
    assert_eq!(s, 200);
    assert!(person.contains("Supervision kept me"), "{person}");
    let csrf = form_value(&account, "csrf");
    let (s, _, _) = post(
        ann,
        &node,
        "/account",
        &[
            ("csrf", &csrf),
            ("name", "Ann"),
            ("bio", ""),
            ("website", ""),
            ("hidden", "1"),
        ],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        get(&browser(), &node, &format!("/people/{page_link}"))
            .await
            .0,
        404
    );

    // Leaving, keeping the words: they stay, signed "former member"; the follow goes.
    let (s, _, _) = post(
        ann,
        &node,
        "/account/delete",
        &[
            ("csrf", &csrf),
            ("confirm_email", "wrong@example.org"),
            ("thoughts", "keep"),
        ],
    )
    .await;
    assert_eq!(s, 422);
    let (s, _, page) = post(
        ann,
        &node,
        "/account/delete",
        &[
            ("csrf", &csrf),
            ("confirm_email", ann_email),
            ("thoughts", "keep"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{page}");
    let (_, post_page) = node.text(&post_url).await;
    assert!(post_page.contains(ann_words), "{post_page}");
    assert!(post_page.contains("former member"));
    assert_eq!(
        support::number(
            &db,
            &format!("SELECT COUNT(*) FROM subscribers WHERE email = '{ann_email}'")
        )
        .await,
        0
    );
    assert_eq!(
        get(ann, &node, "/account").await.0,
        303,
        "still signed in after leaving"
    );
    // Leaving and taking the words down.
    let (_, account) = get(ben, &node, "/account").await;
    let csrf = form_value(&account, "csrf");
    let (s, _, _) = post(
        ben,
        &node,
        "/account/delete",
        &[
            ("csrf", &csrf),
            ("confirm_email", ben_email),
            ("thoughts", "remove"),
        ],
    )
    .await;
    assert_eq!(s, 200);
    let (_, post_page) = node.text(&post_url).await;
    assert!(!post_page.contains(ben_words), "{post_page}");
    // An author with posts cannot simply vanish.
    let c = browser();
    sign_in_with_password(&c, &node, "ed@example.org", "a long enough password").await;
    let (_, account) = get(&c, &node, "/account").await;
    let csrf = form_value(&account, "csrf");
    let (s, _, page) = post(
        &c,
        &node,
        "/account/delete",
        &[
            ("csrf", &csrf),
            ("confirm_email", "ed@example.org"),
            ("thoughts", "keep"),
        ],
    )
    .await;
    assert_eq!(s, 422);
    assert!(page.contains("wrote posts"), "{page}");
}

async fn an_account_made_in_someone_elses_name_is_theirs_once_they_sign_in(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let Some((node, sink)) = mail_node(&db).await else {
        return;
    };
    // Someone registers with an address that is not theirs, and keeps a session.
    let intruder = browser();
    let (_, page) = get(&intruder, &node, "/register").await;
    let csrf = form_value(&page, "csrf");
    let (s, _, _) = post(
        &intruder,
        &node,
        "/register",
        &[
            ("name", "Not Vic"),
            ("email", "vic@example.org"),
            ("password", "the intruder's phrase"),
            ("csrf", &csrf),
            ("invite", ""),
        ],
    )
    .await;
    assert_eq!(s, 201);
    let (s, _, _) =
        sign_in_with_password(&intruder, &node, "vic@example.org", "the intruder's phrase").await;
    assert_eq!(s, 303);
    // The address's owner signs in by a mailed link: what the intruder set up goes.
    let vic = browser();
    let csrf = login_csrf(&vic, &node).await;
    post(
        &vic,
        &node,
        "/sign-in/link",
        &[("email", "vic@example.org"), ("csrf", &csrf)],
    )
    .await;
    let sign_in_mail = || {
        sink.to("vic@example.org")
            .iter()
            .map(|m| parse_mail(m).0)
            .find(|t| t.contains("/sign-in/link/use?token="))
    };
    let ok = support::eventually(20, || async { sign_in_mail().is_some() }).await;
    assert!(ok);
    let text = sign_in_mail().unwrap();
    let url = link(&text, &format!("{}/sign-in/link/use?token=", node.base));
    let (s, _, _) = follow(&vic, &node, &url, "/sign-in/link/use").await;
    assert_eq!(s, 303);
    assert_eq!(get(&vic, &node, "/account").await.0, 200);
    assert_eq!(
        get(&intruder, &node, "/account").await.0,
        303,
        "the intruder's session survived"
    );
    let again = browser();
    let (s, _, _) =
        sign_in_with_password(&again, &node, "vic@example.org", "the intruder's phrase").await;
    assert_eq!(s, 401, "the intruder's password still works");
}
