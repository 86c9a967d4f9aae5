//! The publishing core through real HTTP, on both backends.

mod support;

use serde_json::json;
use support::{api_user, cli, eventually, form_value, fresh_db, post_json, sign_in, Backend, Node};

both_backends!(
    api_creates_reads_updates_and_deletes_a_post,
    bad_input_gets_a_clear_4xx_and_changes_nothing,
    scheduled_post_appears_by_itself_in_pages_feeds_and_sitemap,
    feeds_and_discovery_are_well_formed,
    a_write_on_one_node_shows_on_another,
    pages_are_cached_with_validators_and_compression,
    first_run_setup_link_works_once_and_login_is_throttled,
    search_finds_published_posts_only,
    posting_is_rate_limited_per_user,
    categories_nest_and_can_be_edited_in_the_admin,
    a_large_site_gets_a_sitemap_index,
    the_demo_site_still_offers_the_first_admin_setup,
);

fn nineteen_tags() -> Vec<String> {
    (1..=19).map(|i| format!("Topic {i}")).collect()
}

async fn api_creates_reads_updates_and_deletes_a_post(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let token = api_user(&db, "ed@example.org", "editor");
    let (status, post) = post_json(&node, &token, "/api/v1/posts", json!({
        "title": "Social work & the media",
        "body_markdown": "Hello **world**.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nNote[^1].\n\n[^1]: Footnote.",
        "tags": nineteen_tags(),
        "categories": ["Opinion"],
        "status": "published",
    })).await;
    assert_eq!(status, 201, "{post}");
    let id = post["id"].as_i64().unwrap();
    let url = post["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&node.base) && url.ends_with("/social-work-the-media/"),
        "{url}"
    );
    assert_eq!(post["tags"].as_array().unwrap().len(), 19);

    let page = node.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<strong>world</strong>"));
    assert!(html.contains("<table>"), "tables render");
    assert!(html.contains("footnote-definition"), "footnotes render");
    assert!(
        html.contains("class=\"h-entry\"")
            && html.contains("e-content")
            && html.contains("dt-published")
    );
    assert!(
        html.contains("/tag/topic-19/"),
        "all 19 tags link to their archives"
    );
    assert!(
        html.contains("About <a class=\"u-url p-name\""),
        "author box closes the post"
    );

    let r = node
        .client
        .get(node.url(&format!("/api/v1/posts/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let r = node
        .client
        .patch(node.url(&format!("/api/v1/posts/{id}")))
        .bearer_auth(&token)
        .json(&json!({"title": "A better title"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, html) = node.text(&url.replacen(&node.base, "", 1)).await;
    assert!(
        html.contains("A better title"),
        "the edit shows at once (cache invalidated)"
    );

    let tag = node.text("/tag/topic-3/").await;
    assert_eq!(tag.0, 200);
    assert!(tag.1.contains("A better title"));

    let r = node
        .client
        .delete(node.url(&format!("/api/v1/posts/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        node.get(&url.replacen(&node.base, "", 1)).await.status(),
        410,
        "a deleted post's address answers Gone"
    );
    let r = node
        .client
        .get(node.url(&format!("/api/v1/posts/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

async fn bad_input_gets_a_clear_4xx_and_changes_nothing(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let token = api_user(&db, "ed@example.org", "editor");
    let member = api_user(&db, "m@example.org", "member");
    let (s, first) = post_json(
        &node,
        &token,
        "/api/v1/posts",
        json!({"title": "First", "body_markdown": "x", "status": "published", "slug": "first"}),
    )
    .await;
    assert_eq!(s, 201);

    let count = || async {
        let r = node
            .client
            .get(node.url("/api/v1/posts"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        r.json::<serde_json::Value>().await.unwrap()["total"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(count().await, 1);

    // Malformed JSON.
    let r = node
        .client
        .post(node.url("/api/v1/posts"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "bad_request");
    assert!(e["error"]["message"].as_str().unwrap().contains("JSON"));

    let cases = [
        (
            json!({"title": "x".repeat(301), "body_markdown": "b", "status": "draft"}),
            422,
            Some("title"),
        ),
        (
            json!({"title": "T", "body_markdown": "b", "status": "scheduled", "publish_at": "next tuesday"}),
            422,
            Some("publish_at"),
        ),
        (
            json!({"title": "T", "body_markdown": "b", "status": "scheduled"}),
            422,
            Some("publish_at"),
        ),
        (
            json!({"title": "T", "body_markdown": "b", "status": "sometime"}),
            422,
            Some("status"),
        ),
        (
            json!({"title": "T", "body_markdown": "b", "status": "draft", "slug": "Not A Slug"}),
            422,
            Some("slug"),
        ),
        (
            json!({"title": "Dup", "body_markdown": "b", "status": "draft", "slug": "first"}),
            409,
            None,
        ),
        (
            json!({"title": "T", "body_markdown": "b", "status": "draft", "surprise": 1}),
            400,
            None,
        ),
        (
            json!({"title": "T", "body_markdown": "b", "status": "draft", "tags": ["  "]}),
            422,
            Some("tags"),
        ),
    ];
    for (body, want, field) in cases {
        let (s, e) = post_json(&node, &token, "/api/v1/posts", body.clone()).await;
        assert_eq!(s, want, "{body} -> {e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{e}"
        );
        if let Some(f) = field {
            assert_eq!(e["error"]["field"], f, "{e}");
        }
    }
    // No token, bad token, and a role that may not write.
    let r = node
        .client
        .post(node.url("/api/v1/posts"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (s, _) = post_json(&node, "wrong", "/api/v1/posts", json!({})).await;
    assert_eq!(s, 401);
    let (s, _) = post_json(
        &node,
        &member,
        "/api/v1/posts",
        json!({"title": "T", "body_markdown": "b", "status": "draft"}),
    )
    .await;
    assert_eq!(s, 403);
    // Odd ids and page numbers.
    for path in [
        "/api/v1/posts/abc",
        "/api/v1/posts/-1",
        "/api/v1/posts?page=-1",
        "/api/v1/posts?page=99999999999999999999",
    ] {
        let r = node
            .client
            .get(node.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            if path.contains("page") { 422 } else { 400 },
            "{path}"
        );
    }
    for path in [
        "/page/-1/",
        "/page/99999999999999999999/",
        "/tag/first/page/0/",
    ] {
        let (s, _) = node.text(path).await;
        assert!((400..500).contains(&s), "{path} answered {s}");
    }
    assert_eq!(node.get("/tag/no-such-tag/").await.status(), 404);
    assert_eq!(
        node.get("/page/5/").await.status(),
        404,
        "past the last page"
    );
    // A PATCH with a bad field changes nothing.
    let id = first["id"].as_i64().unwrap();
    let r = node
        .client
        .patch(node.url(&format!("/api/v1/posts/{id}")))
        .bearer_auth(&token)
        .json(&json!({"title": "", "body_markdown": "changed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = node
        .client
        .get(node.url(&format!("/api/v1/posts/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["title"], "First");
    assert_eq!(p["body_markdown"], "x");
    assert_eq!(count().await, 1, "no bad request created a post");
}

async fn scheduled_post_appears_by_itself_in_pages_feeds_and_sitemap(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let token = api_user(&db, "a@example.org", "author");
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3;
    let at_s = format!("@{at}");
    let at_rfc = std::process::Command::new("date")
        .args(["-u", "-d", &at_s, "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    let at_rfc = String::from_utf8(at_rfc.stdout).unwrap().trim().to_owned();
    let (s, post) = post_json(&node, &token, "/api/v1/posts", json!({
        "title": "Tomorrow's debate", "body_markdown": "Soon.", "status": "scheduled", "publish_at": at_rfc, "tags": ["later"]
    })).await;
    assert_eq!(s, 201, "{post}");
    assert_eq!(post["status"], "scheduled");
    let path = post["url"].as_str().unwrap().replacen(&node.base, "", 1);
    assert_eq!(
        node.get(&path).await.status(),
        404,
        "not public before its time"
    );
    assert!(!node.text("/feed/").await.1.contains("Tomorrow"));
    assert!(!node.text("/").await.1.contains("Tomorrow"));
    let appeared = eventually(20, || async { node.get(&path).await.status() == 200 }).await;
    assert!(appeared, "the scheduled post did not appear on its own");
    assert!(node.text("/").await.1.contains("Tomorrow&#39;s debate"));
    assert!(node
        .text("/feed/")
        .await
        .1
        .contains("Tomorrow&#39;s debate"));
    assert!(node
        .text("/feed.json")
        .await
        .1
        .contains("Tomorrow's debate"));
    assert!(node.text("/sitemap.xml").await.1.contains(&path));
}

fn assert_well_formed_xml(xml: &str, root: &str) {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut depth = 0i32;
    let mut first = None;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) => {
                if first.is_none() {
                    first = Some(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                }
                depth += 1;
            }
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "not well-formed XML at {}: {e}\n{xml}",
                reader.buffer_position()
            ),
        }
    }
    assert_eq!(depth, 0);
    assert_eq!(first.as_deref(), Some(root));
}

async fn feeds_and_discovery_are_well_formed(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let token = api_user(&db, "a@example.org", "editor");
    let (s, _) = post_json(&node, &token, "/api/v1/posts", json!({
        "title": "Ampersands & <angles> \"quoted\"", "body_markdown": "Body with <b>html</b> & entities &amp; ]]> end.", "status": "published", "tags": ["a&b"], "categories": ["News"]
    })).await;
    assert_eq!(s, 201);
    let rss = node.get("/feed/").await;
    assert!(rss.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/rss+xml"));
    let rss = rss.text().await.unwrap();
    assert_well_formed_xml(&rss, "rss");
    assert!(rss.contains("<atom:link href=\"") && rss.contains("<guid isPermaLink=\"true\">"));
    let atom = node.text("/feed/atom/").await.1;
    assert_well_formed_xml(&atom, "feed");
    assert!(atom.contains("<updated>") && atom.contains("<id>"));
    let sitemap = node.text("/sitemap.xml").await.1;
    assert_well_formed_xml(&sitemap, "urlset");
    let jf: serde_json::Value = node.get("/feed.json").await.json().await.unwrap();
    assert_eq!(jf["version"], "https://jsonfeed.org/version/1.1");
    assert!(jf["title"].is_string());
    let item = &jf["items"][0];
    assert!(item["id"].is_string() && item["url"].is_string() && item["content_html"].is_string());
    assert!(item["date_published"].as_str().unwrap().ends_with('Z'));
    let robots = node.text("/robots.txt").await.1;
    assert!(robots.contains(&format!("Sitemap: {}/sitemap.xml", node.base)));
    let (_, home) = node.text("/").await;
    assert!(home.contains("<link rel=\"canonical\" href=\"") && home.contains("og:title"));
    let api: serde_json::Value = node.get("/api/openapi.json").await.json().await.unwrap();
    assert!(api["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(api["paths"]["/api/v1/posts"]["post"].is_object());
    let metrics = node.text("/metrics").await.1;
    assert!(
        metrics.contains("http_requests_total") && metrics.contains("job_queue_depth"),
        "{metrics}"
    );
}

async fn a_write_on_one_node_shows_on_another(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let a = Node::start(&db, &[]).await;
    let b = Node::start(&db, &[]).await;
    let token = api_user(&db, "a@example.org", "editor");
    // Warm node B's cache first, so a stale page would show.
    assert!(!b.text("/").await.1.contains("Written on A"));
    assert!(!b.text("/").await.1.contains("Written on A"));
    let (s, _) = post_json(
        &a,
        &token,
        "/api/v1/posts",
        json!({"title": "Written on A", "body_markdown": "x", "status": "published"}),
    )
    .await;
    assert_eq!(s, 201);
    assert!(
        eventually(5, || async { b.text("/").await.1.contains("Written on A") }).await,
        "node B kept a stale front page"
    );
    // A CLI write while both serve: a new author shows on their (previously 404) archive.
    assert_eq!(b.get("/author/test-author/").await.status(), 404);
    let _ = api_user(&db, "au@example.org", "author");
    assert!(
        eventually(5, || async {
            b.get("/author/test-author/").await.status() == 200
        })
        .await
    );
    // Both stop cleanly on SIGTERM.
    let mut a = a;
    assert!(a.terminate().success());
}

async fn pages_are_cached_with_validators_and_compression(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let out = cli(&db, &["migrate"], "");
    assert!(out.status.success());
    let node = Node::start(&db, &[]).await;
    let token = api_user(&db, "a@example.org", "editor");
    let (_, post) = post_json(
        &node,
        &token,
        "/api/v1/posts",
        json!({"title": "Cached", "body_markdown": "word ".repeat(400), "status": "published"}),
    )
    .await;
    let path = post["url"].as_str().unwrap().replacen(&node.base, "", 1);
    let r = node.get(&path).await;
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(r.headers().contains_key("last-modified"));
    // A revalidation: the page again, with the validator a reader's browser kept.
    let revalidate = |etag: String| {
        let req = node
            .client
            .get(node.url(&path))
            .header("if-none-match", etag);
        async move { req.send().await.unwrap() }
    };
    let r = revalidate(etag.clone()).await;
    assert_eq!(r.status(), 304);
    for enc in ["gzip", "br"] {
        let r = node
            .client
            .get(node.url(&path))
            .header("accept-encoding", enc)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-encoding"], enc);
    }
    let r = node.get("/static/nonexistent.css").await;
    assert_eq!(r.status(), 404);
    let (_, html) = node.text(&path).await;
    let css = html
        .split("rel=\"stylesheet\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let r = node.get(&css).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    // An edit changes the validator.
    let id = post["id"].as_i64().unwrap();
    node.client
        .patch(node.url(&format!("/api/v1/posts/{id}")))
        .bearer_auth(&token)
        .json(&json!({"body_markdown": "new words"}))
        .send()
        .await
        .unwrap();
    let r = revalidate(etag.clone()).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("new words"));

    // The first request renders the page; the next ones are answered from the cache before
    // routing. Both carry the same headers (the date aside), security headers included, and
    // so do a 304, a HEAD, an uncached page and an API error.
    let (miss, hit) = (node.get(&path).await, node.get(&path).await);
    let names = |r: &reqwest::Response| {
        let mut v: Vec<(String, String)> = r
            .headers()
            .iter()
            .filter(|(k, _)| k.as_str() != "date")
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&miss), names(&hit));
    let etag = hit.headers()["etag"].to_str().unwrap().to_owned();
    let not_modified = revalidate(etag.clone()).await;
    assert_eq!(not_modified.status(), 304);
    assert!(!not_modified.headers().contains_key("content-type"));
    let head = node.client.head(node.url(&path)).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        hit.headers()["content-length"]
    );
    let api_error = node.get("/api/v1/posts/999999").await;
    assert_eq!(api_error.status(), 401);
    for r in [
        &miss,
        &hit,
        &not_modified,
        &head,
        &node.get("/admin/login").await,
        &api_error,
    ] {
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["x-frame-options"], "DENY");
        assert_eq!(
            r.headers()["referrer-policy"],
            "strict-origin-when-cross-origin"
        );
        assert!(r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
    }
    // A query string does not change a cached page, except on the front page (search).
    let (s, body) = node.text(&format!("{path}?utm_source=feed")).await;
    assert_eq!(s, 200);
    assert!(body.contains("new words"));
    let r = node.get("/?s=cached").await;
    assert!(r.status().is_redirection());
    assert_eq!(r.headers()["location"], "/search/?q=cached");
}

async fn first_run_setup_link_works_once_and_login_is_throttled(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let out = node.stdout();
    let link = out
        .split_whitespace()
        .find(|w| w.contains("/admin/setup?token="))
        .expect("setup link printed")
        .to_owned();
    let (s, form) = node.text(&link.replacen(&node.base, "", 1)).await;
    assert_eq!(s, 200);
    let csrf = form_value(&form, "csrf");
    let token = form_value(&form, "token");
    let setup = |pw: &'static str| {
        let (csrf, token) = (csrf.clone(), token.clone());
        let node = &node;
        async move {
            node.client
                .post(node.url("/admin/setup"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("token", token.as_str()),
                    ("name", "Ada"),
                    ("email", "ada@example.org"),
                    ("password", pw),
                    ("site_title", "Care Voices"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(setup("short").await.status(), 422, "weak password refused");
    let r = setup("a long enough password").await;
    assert_eq!(r.status(), 303, "setup signs in and redirects");
    assert_eq!(node.get("/admin/").await.status(), 200);
    assert!(
        node.text("/").await.1.contains("Care Voices"),
        "site title set at setup"
    );
    assert_eq!(
        setup("a long enough password").await.status(),
        403,
        "the link works once"
    );
    // Forms without the CSRF token are refused.
    let r = node
        .client
        .post(node.url("/admin/settings"))
        .form(&[("title", "Hijacked")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    assert!(!node.text("/").await.1.contains("Hijacked"));
    // Sign-in is throttled after repeated failures.
    let anon = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = anon
        .get(node.url("/admin/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = form_value(&form, "csrf");
    let mut statuses = vec![];
    for _ in 0..6 {
        let r = anon
            .post(node.url("/admin/login"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", "ada@example.org"),
                ("password", "wrong password!"),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..5], &[401; 5]);
    assert_eq!(statuses[5], 429);
    let r = anon
        .post(node.url("/admin/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "ada@example.org"),
            ("password", "a long enough password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        429,
        "even the right password waits out the throttle"
    );
    let cookie = r.headers().get_all("set-cookie").iter().count();
    assert_eq!(cookie, 0);
}

async fn search_finds_published_posts_only(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let token = api_user(&db, "a@example.org", "editor");
    post_json(&node, &token, "/api/v1/posts", json!({"title": "Safeguarding adults", "body_markdown": "About safeguarding practice.", "status": "published"})).await;
    post_json(
        &node,
        &token,
        "/api/v1/posts",
        json!({"title": "Secret draft", "body_markdown": "safeguarding draft", "status": "draft"}),
    )
    .await;
    let (s, html) = node.text("/search/?q=safeguarding").await;
    assert_eq!(s, 200);
    assert!(html.contains("Safeguarding adults"));
    assert!(!html.contains("Secret draft"));
    // Operators and punctuation are plain words, never a syntax error.
    for q in ["\"unbalanced", "a AND OR NOT", "*", "%22%29%28", "x:y"] {
        let (s, _) = node.text(&format!("/search/?q={q}")).await;
        assert_eq!(s, 200, "{q}");
    }
    let r = node.get("/?s=safeguarding").await;
    assert_eq!(r.status(), 308);
}

async fn posting_is_rate_limited_per_user(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let busy = api_user(&db, "busy@example.org", "author");
    let other = api_user(&db, "other@example.org", "author");
    for i in 0..30 {
        let (s, e) = post_json(
            &node,
            &busy,
            "/api/v1/posts",
            json!({"title": format!("Draft {i}"), "body_markdown": "x", "status": "draft"}),
        )
        .await;
        assert_eq!(s, 201, "{e}");
    }
    let r = node
        .client
        .post(node.url("/api/v1/posts"))
        .bearer_auth(&busy)
        .json(&json!({"title": "One too many", "body_markdown": "x", "status": "draft"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "rate_limited");
    let (s, _) = post_json(
        &node,
        &other,
        "/api/v1/posts",
        json!({"title": "Someone else", "body_markdown": "x", "status": "draft"}),
    )
    .await;
    assert_eq!(s, 201, "the limit is per user");
}

async fn categories_nest_and_can_be_edited_in_the_admin(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let token = api_user(&db, "ed@example.org", "editor");
    let (s, _) = post_json(&node, &token, "/api/v1/posts", json!({"title": "Child post", "body_markdown": "x", "status": "published", "categories": ["Fostering"]})).await;
    assert_eq!(s, 201);
    let csrf = sign_in(&node, "ed@example.org", "a long enough password").await;
    // A new parent category, then the child moved under it.
    let r = node
        .client
        .post(node.url("/admin/terms/category"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Children and families"),
            ("slug", ""),
            ("description", "All about families"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = node.text("/admin/terms/category").await.1;
    let id_of = |name: &str| -> String {
        let row = page
            .split("<tr>")
            .find(|r| r.contains(&format!(">{name}</a>")))
            .unwrap_or_else(|| panic!("{name} not listed"));
        form_value(row, "id")
    };
    let (parent, child) = (id_of("Children and families"), id_of("Fostering"));
    let r = node
        .client
        .post(node.url("/admin/terms/category"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("id", child.as_str()),
            ("name", "Fostering"),
            ("slug", "fostering"),
            ("description", ""),
            ("parent_id", parent.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (s, html) = node.text("/category/children-and-families/").await;
    assert_eq!(s, 200);
    assert!(
        html.contains("Child post"),
        "a parent's archive lists its children's posts"
    );
    assert!(html.contains("All about families"));
    // A cycle is refused and changes nothing.
    let r = node
        .client
        .post(node.url("/admin/terms/category"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("id", parent.as_str()),
            ("name", "Children and families"),
            ("slug", "children-and-families"),
            ("description", "All about families"),
            ("parent_id", child.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        node.get("/category/children-and-families/fostering/")
            .await
            .status(),
        200
    );
    // Renaming a slug moves the archive; the old address is gone.
    let r = node
        .client
        .post(node.url("/admin/terms/category"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("id", child.as_str()),
            ("name", "Foster care"),
            ("slug", "foster-care"),
            ("description", ""),
            ("parent_id", parent.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(node.get("/category/fostering/").await.status(), 404);
    assert!(node
        .text("/category/foster-care/")
        .await
        .1
        .contains("Child post"));
    // Without the CSRF token nothing changes.
    let r = node
        .client
        .post(node.url("/admin/terms/category"))
        .form(&[
            ("id", child.as_str()),
            ("name", "Hijacked"),
            ("slug", "hijacked"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    assert_eq!(node.get("/category/hijacked/").await.status(), 404);
}

async fn a_large_site_gets_a_sitemap_index(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[("COLLOQUY_SITEMAP_URLS", "10")]).await;
    let token = api_user(&db, "ed@example.org", "editor");
    let mut urls = vec![format!("{}/", node.base)];
    for i in 0..25 {
        let (s, p) = post_json(
            &node,
            &token,
            "/api/v1/posts",
            json!({"title": format!("Post number {i}"), "body_markdown": "x", "status": "published"}),
        )
        .await;
        assert_eq!(s, 201, "{p}");
        urls.push(p["url"].as_str().unwrap().to_owned());
    }
    let loc = |xml: &str| -> Vec<String> {
        xml.split("<loc>")
            .skip(1)
            .map(|s| s.split("</loc>").next().unwrap().to_owned())
            .collect()
    };
    let (s, index) = node.text("/sitemap.xml").await;
    assert_eq!(s, 200);
    assert_well_formed_xml(&index, "sitemapindex");
    let files = loc(&index);
    assert_eq!(files.len(), 3, "26 addresses at 10 a file: {index}");
    let mut seen = vec![];
    for f in &files {
        let path = f.trim_start_matches(&node.base);
        let (s, xml) = node.text(path).await;
        assert_eq!(s, 200, "{path}");
        assert_well_formed_xml(&xml, "urlset");
        let l = loc(&xml);
        assert!(l.len() <= 10);
        seen.extend(l);
    }
    seen.sort();
    urls.sort();
    assert_eq!(seen, urls, "every address exactly once across the files");
    assert_eq!(node.get("/sitemap-4.xml").await.status(), 404);
    assert_eq!(node.get("/sitemap-01.xml").await.status(), 404);
    assert_eq!(node.get("/sitemap-0.xml").await.status(), 404);
}

/// `serve --demo` seeds an author (who cannot sign in): the README's first run must still
/// offer the setup link for the first admin, and the link must work.
async fn the_demo_site_still_offers_the_first_admin_setup(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start_with_args(&db, &["serve", "--demo"], &[]).await;
    let (s, home) = node.text("/").await;
    assert_eq!(s, 200);
    assert!(home.contains("Social work and the media"), "no demo post");
    let ok = support::eventually(10, || async {
        node.stdout().contains("/admin/setup?token=")
    })
    .await;
    assert!(ok, "no setup link printed: {}", node.stdout());
    let out = node.stdout();
    let link = out
        .split_whitespace()
        .find(|w| w.contains("/admin/setup?token="))
        .unwrap()
        .to_owned();
    let (s, form) = node.text(&link.replacen(&node.base, "", 1)).await;
    assert_eq!(s, 200);
    let r = node
        .client
        .post(node.url("/admin/setup"))
        .form(&[
            ("csrf", form_value(&form, "csrf").as_str()),
            ("token", form_value(&form, "token").as_str()),
            ("name", "Ada Admin"),
            ("email", "ada@example.org"),
            ("password", "a long enough password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(
        node.text("/admin/").await.0,
        200,
        "the first admin is signed in"
    );
}
