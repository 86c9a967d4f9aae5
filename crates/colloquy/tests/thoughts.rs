//! Thoughts under posts through real HTTP, on both backends: guests and members, threads,
//! moderation, spam defences, the confidentiality guard, edits, tombstones, likes, feeds.

mod support;

use serde_json::{json, Value};
use support::{api_user, eventually, fresh_db, post_json, Backend, Db, Node};

both_backends!(
    guests_wait_for_moderation_and_threads_nest,
    spam_defences_hold_or_reject_and_lose_nothing,
    the_confidentiality_guard_warns_and_holds,
    members_edit_within_the_window_and_removal_leaves_a_tombstone,
    a_new_thought_refreshes_only_its_post_and_feeds,
    likes_count_once_per_member,
    moderators_work_the_queue_in_the_admin,
    the_reply_form_works_without_javascript,
);

/// Limits high enough that a test posting many thoughts from 127.0.0.1 is not throttled.
const RELAXED: &[(&str, &str)] = &[("COLLOQUY_THOUGHT_LIMITS", "1000,1000")];

async fn published_post(node: &Node, token: &str, title: &str) -> (i64, String) {
    support::publish(node, token, title, "An opinion piece.").await
}

async fn guest_thought(node: &Node, post: i64, body: Value) -> (u16, Value) {
    let r = node
        .client
        .post(node.url(&format!("/api/v1/posts/{post}/thoughts")))
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn get_json(node: &Node, token: Option<&str>, path: &str) -> (u16, Value) {
    let mut rq = node.client.get(node.url(path));
    if let Some(t) = token {
        rq = rq.bearer_auth(t);
    }
    let r = rq.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn moderate(node: &Node, token: &str, id: i64, action: &str) -> u16 {
    node.client
        .post(node.url(&format!("/api/v1/thoughts/{id}/{action}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn page_text(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

async fn guests_wait_for_moderation_and_threads_nest(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, RELAXED).await;
    let editor = api_user(&db, "ed@example.org", "editor");
    let member = api_user(&db, "mo@example.org", "member");
    let (post, url) = published_post(&node, &editor, "Caseloads").await;

    let (s, first) = guest_thought(
        &node,
        post,
        json!({"body": "I *agree*.", "author_name": "Sam Guest",
        "author_email": "sam@example.org", "author_url": "https://sam.example/"}),
    )
    .await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(first["status"], "pending", "a guest's first thought waits");
    let first_id = first["id"].as_i64().unwrap();
    let html = page_text(&url).await;
    assert!(
        html.contains("No thoughts yet"),
        "pending thoughts are not shown"
    );
    assert!(!html.contains("I <em>agree</em>"));
    let (_, queue) = get_json(&node, Some(&editor), "/api/v1/thoughts?status=pending").await;
    assert_eq!(queue["total"], 1);
    assert!(queue["items"][0]["held_reason"]
        .as_str()
        .unwrap()
        .contains("first thought"));
    // Readers never see the queue.
    assert_eq!(
        get_json(&node, Some(&member), "/api/v1/thoughts").await.0,
        403
    );
    assert_eq!(get_json(&node, None, "/api/v1/thoughts").await.0, 401);

    assert_eq!(moderate(&node, &editor, first_id, "approve").await, 200);
    let html = page_text(&url).await;
    assert!(html.contains("1 thought on “Caseloads”"), "{html}");
    assert!(html.contains("I <em>agree</em>."));
    assert!(html.contains(&format!("id=\"thought-{first_id}\"")));
    assert!(
        html.contains("href=\"https://sam.example/\" rel=\"nofollow ugc noopener\""),
        "guest websites are nofollow"
    );
    assert!(!html.contains("sam@example.org"), "emails are never shown");
    assert!(
        !html.contains("gravatar.com") && html.contains("/avatar/guest/"),
        "avatars are made here unless the site enables Gravatar"
    );

    // Known guest: straight through. A member: straight through, as themselves, threaded.
    let (_, again) = guest_thought(
        &node,
        post,
        json!({"body": "Second thought.", "author_name": "Sam Guest",
        "author_email": "SAM@example.org"}),
    )
    .await;
    assert_eq!(again["status"], "approved", "{again}");
    let r = node
        .client
        .post(node.url(&format!("/api/v1/posts/{post}/thoughts")))
        .bearer_auth(&member)
        .json(&json!({"body": "A reply from a member.", "parent_id": first_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let reply: Value = r.json().await.unwrap();
    assert_eq!(reply["status"], "approved");
    let reply_id = reply["id"].as_i64().unwrap();
    let (_, deeper) = guest_thought(
        &node,
        post,
        json!({"body": "And deeper.", "parent_id": reply_id,
        "author_name": "Sam Guest", "author_email": "sam@example.org"}),
    )
    .await;
    assert_eq!(deeper["status"], "approved");

    let (s, list) = get_json(&node, None, &format!("/api/v1/posts/{post}/thoughts")).await;
    assert_eq!(s, 200);
    let items = list["items"].as_array().unwrap();
    let order: Vec<(i64, u64)> = items
        .iter()
        .map(|t| (t["id"].as_i64().unwrap(), t["depth"].as_u64().unwrap()))
        .collect();
    let again_id = again["id"].as_i64().unwrap();
    let deeper_id = deeper["id"].as_i64().unwrap();
    assert_eq!(
        order,
        vec![(first_id, 0), (reply_id, 1), (deeper_id, 2), (again_id, 0)],
        "replies sit under their parents, depth first"
    );
    assert_eq!(items[1]["author_name"], "Test member");
    let html = page_text(&url).await;
    assert!(html.contains("4 thoughts on “Caseloads”"));
    assert!(html.contains(&format!(
        "class=\"thought depth-2\" id=\"thought-{deeper_id}\""
    )));

    // Bad input: each a clear 4xx, nothing stored.
    for (body, status, field) in [
        (
            json!({"body": "", "author_name": "A", "author_email": "a@example.org"}),
            422,
            "body",
        ),
        (
            json!({"body": "x", "author_name": "", "author_email": "a@example.org"}),
            422,
            "author_name",
        ),
        (
            json!({"body": "x", "author_name": "A", "author_email": "not-an-email"}),
            422,
            "author_email",
        ),
        (
            json!({"body": "x", "author_name": "A", "author_email": "a@example.org", "author_url": "javascript:alert(1)"}),
            422,
            "author_url",
        ),
        (
            json!({"body": "x".repeat(10_001), "author_name": "A", "author_email": "a@example.org"}),
            422,
            "body",
        ),
        (
            json!({"body": "x", "author_name": "A", "author_email": "a@example.org", "parent_id": 999_999}),
            422,
            "parent_id",
        ),
        (
            json!({"body": "x", "author_name": "A", "author_email": "a@example.org", "surprise": 1}),
            400,
            "",
        ),
    ] {
        let (s, e) = guest_thought(&node, post, body).await;
        assert_eq!(s, status, "{e}");
        if !field.is_empty() {
            assert_eq!(e["error"]["field"], field, "{e}");
        }
    }
    assert_eq!(
        guest_thought(
            &node,
            999_999,
            json!({"body": "x", "author_name": "A", "author_email": "a@example.org"})
        )
        .await
        .0,
        404
    );
    let (_, queue) = get_json(&node, Some(&editor), "/api/v1/thoughts?status=pending").await;
    assert_eq!(queue["total"], 0, "refused thoughts are not stored");
    let (_, list) = get_json(&node, None, &format!("/api/v1/posts/{post}/thoughts")).await;
    assert_eq!(list["total"], 4);
}

async fn spam_defences_hold_or_reject_and_lose_nothing(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[("COLLOQUY_THOUGHT_LIMITS", "1000,1000")]).await;
    let editor = api_user(&db, "ed@example.org", "editor");
    let (post, _) = published_post(&node, &editor, "Supervision").await;
    let guest = |body: &str, email: &str| json!({"body": body, "author_name": "Visitor", "author_email": email});

    // More links than the limit (2): held with the reason.
    let (_, t) = guest_thought(
        &node,
        post,
        guest(
            "see https://a.example https://b.example https://c.example",
            "l@example.org",
        ),
    )
    .await;
    assert_eq!(t["status"], "pending");
    // The same text again from the same person: refused as a duplicate.
    let (s, e) = guest_thought(
        &node,
        post,
        guest(
            "see https://a.example  https://b.example https://c.example",
            "l@example.org",
        ),
    )
    .await;
    assert_eq!(s, 409, "{e}");

    // Blocked words go to spam, moderation words are held (set through the admin form).
    let admin_pw = "a long enough password";
    let _admin = api_user(&db, "admin@example.org", "admin");
    let csrf = support::sign_in(&node, "admin@example.org", admin_pw).await;
    let r = node
        .client
        .post(node.url("/admin/discussion"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("hold", "hold_none"),
            ("max_links", "2"),
            ("depth", "5"),
            ("close_after_days", "0"),
            ("moderation_words", "council"),
            ("blocked_words", "casino\ncheap-pills.example"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, t) = guest_thought(&node, post, guest("Best CASINO bonus", "c@example.org")).await;
    assert_eq!(t["status"], "spam");
    let (_, t) = guest_thought(&node, post, guest("The council decided", "d@example.org")).await;
    assert_eq!(t["status"], "pending");
    let (_, t) = guest_thought(&node, post, guest("Plain and kind", "e@example.org")).await;
    assert_eq!(
        t["status"], "approved",
        "hold_none lets a new guest through"
    );
    // Nothing is lost: spam sits in its own list.
    let (_, spam) = get_json(&node, Some(&editor), "/api/v1/thoughts?status=spam").await;
    assert_eq!(spam["total"], 1);
    assert!(spam["items"][0]["held_reason"]
        .as_str()
        .unwrap()
        .contains("casino"));

    // Bans: an email, a whole domain, an address range.
    for (kind, value) in [
        ("email", "banned@example.org"),
        ("email", "@bad.example"),
        ("ip", "127.0.0.0/8"),
    ] {
        let r = node
            .client
            .post(node.url("/admin/bans"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("kind", kind),
                ("value", value),
                ("reason", "test"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "ban {value}");
    }
    let (s, _) = guest_thought(&node, post, guest("hello", "banned@example.org")).await;
    assert_eq!(s, 403);
    let (s, _) = guest_thought(&node, post, guest("hello", "x@bad.example")).await;
    assert_eq!(s, 403);
    let r = node
        .client
        .post(node.url("/admin/bans"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("kind", "ip"),
            ("value", "not an address"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "a bad ban entry is refused");
    let bans = node.text("/admin/bans").await.1;
    assert!(bans.contains("127.0.0.0/8") && bans.contains("@bad.example"));
    assert_eq!(
        guest_thought(&node, post, guest("hello from loopback", "ok@example.org"))
            .await
            .0,
        403,
        "the address range is banned"
    );
    let log = node.text("/admin/moderation-log").await.1;
    assert!(log.contains("banned ip"), "bans are in the audit log");
}

async fn the_learning_filter_learns(node: &Node, editor: &str, post: i64) {
    let spammy = [
        "Cheap watches online best price http://watches.example",
        "Cheap pills online best price http://pills.example",
        "Earn money fast online http://money.example best price",
        "Casino bonus online cheap spins best price",
        "Cheap loans fast online approval best price",
        "Designer bags cheap online best price",
    ];
    let good = [
        "Supervision matters more than caseload numbers suggest.",
        "Our team discussed this piece in supervision last week.",
        "Thank you for writing about the press and social work.",
        "I found the point about reflective practice helpful.",
        "As a foster carer I recognise the pressures described here.",
        "The section on the review process rang true for me.",
    ];
    for (i, body) in spammy.iter().enumerate() {
        let (_, t) = guest_thought(
            node,
            post,
            json!({"body": body, "author_name": "V", "author_email": format!("s{i}@spam.example")}),
        )
        .await;
        let id = t["id"].as_i64().unwrap();
        assert_eq!(moderate(node, editor, id, "spam").await, 200);
    }
    for (i, body) in good.iter().enumerate() {
        let (_, t) = guest_thought(
            node,
            post,
            json!({"body": body, "author_name": "G", "author_email": format!("g{i}@good.example")}),
        )
        .await;
        let id = t["id"].as_i64().unwrap();
        if t["status"] != "approved" {
            assert_eq!(moderate(node, editor, id, "approve").await, 200);
        }
    }
    let (_, t) = guest_thought(node, post, json!({"body": "Cheap watches and pills online, best price", "author_name": "V", "author_email": "new@elsewhere.example"})).await;
    assert_eq!(
        t["status"], "spam",
        "the trained filter catches new spam: {t}"
    );
    let (_, t) = guest_thought(node, post, json!({"body": "Supervision and reflective practice: thank you for this piece.", "author_name": "G", "author_email": "g0@good.example"})).await;
    assert_eq!(
        t["status"], "approved",
        "and lets good thoughts through: {t}"
    );
}

async fn the_confidentiality_guard_warns_and_holds(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, RELAXED).await;
    let editor = api_user(&db, "ed@example.org", "editor");
    let member = api_user(&db, "mem@example.org", "member");
    let (post, url) = published_post(&node, &editor, "Confidentiality").await;
    let body = "My client's NHS number is 943 476 5919 and she lives at SW1A 1AA.";
    let (s, e) = guest_thought(
        &node,
        post,
        json!({"body": body, "author_name": "Kim", "author_email": "kim@example.org"}),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(e["error"]["code"], "confidentiality");
    let kinds: Vec<&str> = e["error"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"nhs_number") && kinds.contains(&"postcode"),
        "{kinds:?}"
    );
    let f = &e["error"]["findings"][0];
    let (start, end) = (
        f["start"].as_u64().unwrap() as usize,
        f["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(
        &body[start..end],
        f["text"].as_str().unwrap(),
        "positions point into the text"
    );
    let (_, queue) = get_json(&node, Some(&editor), "/api/v1/thoughts?status=pending").await;
    assert_eq!(queue["total"], 0, "a warned thought is not stored");

    // The guest confirms: held, with the reason for the moderator.
    let (s, t) = guest_thought(&node, post, json!({"body": body, "author_name": "Kim", "author_email": "kim@example.org", "confirm_sensitive": true})).await;
    assert_eq!(s, 201);
    assert_eq!(t["status"], "pending");
    let (_, queue) = get_json(&node, Some(&editor), "/api/v1/thoughts?status=pending").await;
    assert!(
        queue["items"][0]["held_reason"]
            .as_str()
            .unwrap()
            .contains("NHS number"),
        "{queue}"
    );
    // A member who confirms is published (they answer for it under their own name).
    let r = node
        .client
        .post(node.url(&format!("/api/v1/posts/{post}/thoughts")))
        .bearer_auth(&member)
        .json(
            &json!({"body": "Call me on 07700 900123 about the group.", "confirm_sensitive": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "approved");
    assert!(page_text(&url).await.contains("07700 900123"));
    // Ordinary talk of dates and numbers is not flagged.
    let (s, t) = guest_thought(&node, post, json!({"body": "The 2013 review found 1,234 referrals; we meet on 12/03/2015 at 8:00 PM GMT.", "author_name": "Lee", "author_email": "lee@example.org"})).await;
    assert_eq!(s, 201, "{t}");
}

async fn members_edit_within_the_window_and_removal_leaves_a_tombstone(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, RELAXED).await;
    let editor = api_user(&db, "ed@example.org", "editor");
    let alice = api_user(&db, "alice@example.org", "member");
    let bob = api_user(&db, "bob@example.org", "member");
    let (post, url) = published_post(&node, &editor, "Edits").await;
    let (_, a) = post_json(
        &node,
        &alice,
        &format!("/api/v1/posts/{post}/thoughts"),
        json!({"body": "First draft"}),
    )
    .await;
    let a_id = a["id"].as_i64().unwrap();
    let patch = |token: &str, body: Value| {
        node.client
            .patch(node.url(&format!("/api/v1/thoughts/{a_id}")))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let r = patch(&alice, json!({"body": "Second draft"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = page_text(&url).await;
    assert!(
        html.contains("Second draft") && !html.contains("First draft"),
        "the page shows the edit at once"
    );
    assert_eq!(
        patch(&bob, json!({"body": "hijack"}))
            .await
            .unwrap()
            .status(),
        403,
        "only the writer edits"
    );
    assert_eq!(
        patch(&alice, json!({"body": ""})).await.unwrap().status(),
        422
    );

    let (_, b) = post_json(
        &node,
        &bob,
        &format!("/api/v1/posts/{post}/thoughts"),
        json!({"body": "A reply", "parent_id": a_id}),
    )
    .await;
    let b_id = b["id"].as_i64().unwrap();
    let del = |token: &str, id: i64| {
        node.client
            .delete(node.url(&format!("/api/v1/thoughts/{id}")))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(del(&bob, a_id).await.unwrap().status(), 403);
    assert_eq!(del(&alice, a_id).await.unwrap().status(), 204);
    let html = page_text(&url).await;
    assert!(
        html.contains("This thought was removed."),
        "a tombstone keeps the thread"
    );
    assert!(!html.contains("Second draft"));
    assert!(html.contains("A reply"));
    assert!(
        html.contains("1 thought on “Edits”"),
        "the tombstone is not counted"
    );
    // A leaf goes without a trace.
    assert_eq!(del(&bob, b_id).await.unwrap().status(), 204);
    let html = page_text(&url).await;
    assert!(
        !html.contains("A reply") && !html.contains("This thought was removed."),
        "{html}"
    );

    // The 15-minute window, checked against the stored time.
    let (_, c) = post_json(
        &node,
        &alice,
        &format!("/api/v1/posts/{post}/thoughts"),
        json!({"body": "Old words"}),
    )
    .await;
    let c_id = c["id"].as_i64().unwrap();
    age_thought(&db, c_id, 16 * 60).await;
    let r = node
        .client
        .patch(node.url(&format!("/api/v1/thoughts/{c_id}")))
        .bearer_auth(&alice)
        .json(&json!({"body": "Rewritten history"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no edits after 15 minutes");
    assert!(r.text().await.unwrap().contains("15 minutes"));
}

/// Moves a thought's creation time into the past, as if it had been written earlier.
async fn age_thought(db: &Db, id: i64, seconds: i64) {
    support::sql(
        db,
        &format!("UPDATE thoughts SET created_at = created_at - {seconds} WHERE id = {id}"),
    )
    .await;
}

async fn a_new_thought_refreshes_only_its_post_and_feeds(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let a = Node::start(&db, RELAXED).await;
    let b = Node::start(&db, RELAXED).await;
    let editor = api_user(&db, "ed@example.org", "editor");
    let (post, url) = published_post(&a, &editor, "Cached").await;
    let (_, other_url) = published_post(&a, &editor, "Untouched").await;
    let path = url.trim_start_matches(&a.base).to_owned();
    let other_path = other_url.trim_start_matches(&a.base).to_owned();
    // A post page's Last-Modified is the time it was rendered: an unchanged value means
    // the page came from the cache.
    let rendered_at = |node: &Node, p: String| {
        let c = node.client.clone();
        let u = node.url(&p);
        async move {
            let r = c.get(u).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.headers()["last-modified"].to_str().unwrap().to_owned()
        }
    };
    // Warm node B's cache, after B has seen the posts' creation.
    assert!(eventually(5, || async { b.text("/").await.1.contains("Untouched") }).await);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let _ = rendered_at(&b, path.clone()).await;
    let _ = b.text("/comments/feed/").await;
    let r = b.get(&format!("{path}feed/")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("rss"));
    let other_before = rendered_at(&b, other_path.clone()).await;
    let post_before = rendered_at(&b, path.clone()).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        rendered_at(&b, other_path.clone()).await,
        other_before,
        "pages are served from the cache"
    );

    let (_, t) = post_json(
        &a,
        &editor,
        &format!("/api/v1/posts/{post}/thoughts"),
        json!({"body": "Fresh thought from node A"}),
    )
    .await;
    assert_eq!(t["status"], "approved");
    assert!(
        eventually(5, || async {
            b.text(&path).await.1.contains("Fresh thought from node A")
        })
        .await,
        "node B shows a thought posted through node A"
    );
    assert!(
        eventually(5, || async {
            b.text(&format!("{path}feed/"))
                .await
                .1
                .contains("Fresh thought from node A")
        })
        .await,
        "and in the post's thought feed"
    );
    assert!(
        eventually(5, || async {
            b.text("/comments/feed/")
                .await
                .1
                .contains("Fresh thought from node A")
        })
        .await,
        "and in the site-wide thought feed"
    );
    assert_ne!(
        rendered_at(&b, path.clone()).await,
        post_before,
        "the post page was rendered again"
    );
    assert_eq!(
        rendered_at(&b, other_path).await,
        other_before,
        "other posts stayed in the cache"
    );
    let feed = b.text(&format!("{path}feed/")).await.1;
    assert!(feed.contains(&format!("#thought-{}", t["id"])), "{feed}");
    let all = b.text("/comments/feed/").await.1;
    assert!(all.contains("on “Cached”"), "{all}");

    // Closing thoughts on the post: the form goes, new thoughts are refused.
    let r = a
        .client
        .patch(a.url(&format!("/api/v1/posts/{post}")))
        .bearer_auth(&editor)
        .json(&json!({"thoughts_open": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, e) = guest_thought(
        &a,
        post,
        json!({"body": "late", "author_name": "L", "author_email": "l@example.org"}),
    )
    .await;
    assert_eq!(s, 403, "{e}");
    assert!(
        eventually(5, || async {
            b.text(&path)
                .await
                .1
                .contains("Thoughts are closed on this post.")
        })
        .await
    );
}

async fn likes_count_once_per_member(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, RELAXED).await;
    let editor = api_user(&db, "ed@example.org", "editor");
    let member = api_user(&db, "m@example.org", "member");
    let (post, url) = published_post(&node, &editor, "Likeable").await;
    let like = |method: reqwest::Method, token: &str| {
        node.client
            .request(method, node.url(&format!("/api/v1/posts/{post}/like")))
            .bearer_auth(token)
            .send()
    };
    for _ in 0..2 {
        let r = like(reqwest::Method::POST, &member).await.unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v,
            json!({"liked": true, "count": 1}),
            "liking twice counts once"
        );
    }
    let v: Value = like(reqwest::Method::POST, &editor)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["count"], 2);
    assert!(page_text(&url).await.contains("2 people like this"));
    let v: Value = like(reqwest::Method::DELETE, &member)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"liked": false, "count": 1}));
    let html = page_text(&url).await;
    assert!(
        html.contains("1 person likes this") && html.contains("Test editor"),
        "{html}"
    );
    let anon = node
        .client
        .post(node.url(&format!("/api/v1/posts/{post}/like")))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    assert_eq!(
        like(reqwest::Method::POST, &member).await.unwrap().status(),
        200
    );
    let r = node
        .client
        .post(node.url("/api/v1/posts/999999/like"))
        .bearer_auth(&member)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

async fn moderators_work_the_queue_in_the_admin(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, RELAXED).await;
    let editor = api_user(&db, "ed@example.org", "editor");
    let _moderator = api_user(&db, "mod@example.org", "moderator");
    let (post, url) = published_post(&node, &editor, "Queue").await;
    let mut ids = vec![];
    for i in 0..3 {
        let (_, t) = guest_thought(&node, post, json!({"body": format!("Guest thought {i}"), "author_name": format!("Guest {i}"), "author_email": format!("g{i}@example.org")})).await;
        assert_eq!(t["status"], "pending");
        ids.push(t["id"].as_i64().unwrap());
    }
    let csrf = support::sign_in(&node, "mod@example.org", "a long enough password").await;
    let (s, queue) = node.text("/admin/thoughts").await;
    assert_eq!(s, 200);
    assert!(queue.contains("Guest thought 2") && queue.contains("first thought from this guest"));
    assert!(
        queue.contains("Thoughts <span class=\"count\">(3"),
        "the menu counts what waits"
    );
    // Bulk: approve two, mark one as spam.
    let body = format!("csrf={csrf}&action=approve&ids={}&ids={}", ids[0], ids[1]);
    let r = node
        .client
        .post(node.url("/admin/thoughts/bulk"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let body = format!("csrf=wrong&action=spam&ids={}", ids[2]);
    let r = node
        .client
        .post(node.url("/admin/thoughts/bulk"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no CSRF token, no change");
    let html = page_text(&url).await;
    assert!(
        html.contains("Guest thought 0")
            && html.contains("Guest thought 1")
            && !html.contains("Guest thought 2")
    );
    // Reply from the queue.
    let r = node
        .client
        .post(node.url(&format!("/admin/thoughts/{}/reply", ids[2])))
        .form(&[
            ("csrf", csrf.as_str()),
            ("body", "Thanks, approved with a reply."),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let html = page_text(&url).await;
    assert!(html.contains("Guest thought 2") && html.contains("Thanks, approved with a reply."));
    let log = node.text("/admin/moderation-log").await.1;
    assert!(log.contains("pending → approved"), "{log}");
    assert!(log.contains("Test moderator"));
    // Filters.
    let found = node
        .text("/admin/thoughts?status=approved&q=guest+1")
        .await
        .1;
    assert!(found.contains("Guest thought 1") && !found.contains("Guest thought 0"));
    assert_eq!(
        node.get("/admin/thoughts?status=nonsense").await.status(),
        422
    );
    // The learning filter, trained by these marks.
    the_learning_filter_learns(&node, &editor, post).await;
    // A member cannot reach the queue; an anonymous visitor is sent to sign in.
    let member_node = Node::start(&db, RELAXED).await;
    let _ = api_user(&db, "plain@example.org", "member");
    support::sign_in_any(&member_node, "plain@example.org", "a long enough password").await;
    assert_eq!(member_node.get("/admin/thoughts").await.status(), 403);
    let anon = Node::start(&db, RELAXED).await;
    assert_eq!(anon.get("/admin/thoughts").await.status(), 303);
}

async fn the_reply_form_works_without_javascript(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(
        &db,
        &[
            ("COLLOQUY_THOUGHT_MIN_SECONDS", "2"),
            ("COLLOQUY_THOUGHT_LIMITS", "1000,1000"),
        ],
    )
    .await;
    let editor = api_user(&db, "ed@example.org", "editor");
    let (post, url) = published_post(&node, &editor, "Forms").await;
    let html = page_text(&url).await;
    assert!(html.contains("Leave a Reply") && html.contains("name=\"homepage\""));
    let form = |stamp: &str, body: &str, honeypot: &str| {
        vec![
            ("post_id".to_string(), post.to_string()),
            ("author_name".into(), "Form Guest".into()),
            ("author_email".into(), "form@example.org".into()),
            ("body".into(), body.into()),
            ("stamp".into(), stamp.into()),
            ("homepage".into(), honeypot.into()),
        ]
    };
    // No stamp (no JavaScript): the thought comes back with one, to send again.
    let r = node
        .client
        .post(node.url("/thoughts"))
        .form(&form("", "Typed without scripts", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("send it again") && page.contains("Typed without scripts"));
    let stamp = support::form_value(&page, "stamp");
    assert!(!stamp.is_empty());
    // Sent back at once: too fast for a person, so it lands in spam (not lost).
    let r = node
        .client
        .post(node.url("/thoughts"))
        .form(&form(&stamp, "Typed without scripts", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("awaiting moderation"));
    // The honeypot, filled: spam too.
    let r = node
        .client
        .post(node.url("/thoughts"))
        .form(&form(&stamp, "I am a robot", "http://spam.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, spam) = get_json(&node, Some(&editor), "/api/v1/thoughts?status=spam").await;
    assert_eq!(spam["total"], 2, "{spam}");
    let reasons: Vec<&str> = spam["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["held_reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("too fast"))
            && reasons.iter().any(|r| r.contains("hidden form field")),
        "{reasons:?}"
    );
    // A person who takes their time: held (first-time guest), with a thank-you page.
    let stamp: Value = node
        .client
        .get(node.url(&format!("/thoughts/token?post={post}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = node
        .client
        .post(node.url("/thoughts"))
        .form(&form(
            stamp["stamp"].as_str().unwrap(),
            "A considered thought",
            "",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("awaiting moderation"));
    let (_, pending) = get_json(&node, Some(&editor), "/api/v1/thoughts?status=pending").await;
    assert_eq!(pending["total"], 1);
    // A forged stamp is not accepted as one.
    let r = node
        .client
        .post(node.url("/thoughts"))
        .form(&form("1.deadbeef", "Forged", ""))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("send it again"));
    // A cross-site form post is refused.
    let r = node
        .client
        .post(node.url("/thoughts"))
        .header("origin", "https://evil.example")
        .form(&form(stamp["stamp"].as_str().unwrap(), "x", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The confidentiality guard in the form: the text is kept, with a box to confirm.
    let stamp: Value = node
        .client
        .get(node.url(&format!("/thoughts/token?post={post}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = node
        .client
        .post(node.url("/thoughts"))
        .form(&form(
            stamp["stamp"].as_str().unwrap(),
            "Her NI number is AB 12 34 56 C",
            "",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("may identify someone")
            && page.contains("AB 12 34 56 C")
            && page.contains("confirm_sensitive")
    );
    // The rate limit answers 429 with Retry-After.
    let limited = Node::start(&db, &[("COLLOQUY_THOUGHT_LIMITS", "2,100")]).await;
    let mut last = 0;
    let mut retry = None;
    for i in 0..3 {
        let r = limited
            .client
            .post(limited.url(&format!("/api/v1/posts/{post}/thoughts")))
            .json(&json!({"body": format!("burst {i}"), "author_name": "B", "author_email": format!("b{i}@example.org")}))
            .send()
            .await
            .unwrap();
        last = r.status().as_u16();
        retry = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
    }
    assert_eq!(last, 429);
    let secs: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&secs));
}
