//! Linkbacks between two real Colloquy servers on loopback (the fetch guard lets private
//! addresses through only because these tests set COLLOQUY_FETCH_ALLOW_PRIVATE=1), on both
//! backends: Webmention sent on publish, verified, moderated, updated and removed; Pingback
//! over XML-RPC with its faults; bad requests refused with nothing stored.

mod support;

use serde_json::{json, Value};
use support::{api_user, eventually, fresh_db, publish, Backend, Node};

both_backends!(
    a_link_from_one_site_shows_under_the_post_on_the_other,
    pingback_answers_with_the_right_faults,
    bad_webmentions_are_refused_and_nothing_is_stored,
    a_reblog_with_comment_shows_on_the_original,
);

const LINKS: &[(&str, &str)] = &[("COLLOQUY_FETCH_ALLOW_PRIVATE", "1")];

async fn pending(node: &Node, token: &str) -> Vec<Value> {
    let r = node
        .client
        .get(node.url("/api/v1/thoughts?status=pending"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    v["items"].as_array().cloned().unwrap_or_default()
}

async fn a_link_from_one_site_shows_under_the_post_on_the_other(backend: Backend) {
    let Some(db_a) = fresh_db(backend).await else {
        return;
    };
    let db_b = fresh_db(backend).await.unwrap();
    let a = Node::start(&db_a, LINKS).await;
    let b = Node::start(&db_b, LINKS).await;
    let ta = api_user(&db_a, "a@example.org", "editor");
    let tb = api_user(&db_b, "b@example.org", "editor");
    let (_, original) = publish(&b, &tb, "The original piece", "Practice matters.").await;

    // B advertises its endpoints.
    let r = b.get(original.trim_start_matches(&b.base)).await;
    assert!(r.headers()["link"]
        .to_str()
        .unwrap()
        .contains("rel=\"webmention\""));
    assert!(r.headers().contains_key("x-pingback"));

    let (a_id, a_url) = publish(
        &a,
        &ta,
        "A response",
        &format!("I answer [the original piece]({original}) here."),
    )
    .await;
    assert!(
        eventually(20, || async { !pending(&b, &tb).await.is_empty() }).await,
        "the webmention from A reaches B and waits for moderation (first from this site)"
    );
    let item = pending(&b, &tb).await.remove(0);
    assert_eq!(item["kind"], "webmention", "{item}");
    assert!(item["held_reason"]
        .as_str()
        .unwrap()
        .contains("first linkback"));
    let id = item["id"].as_i64().unwrap();
    let r = b
        .client
        .post(b.url(&format!("/api/v1/thoughts/{id}/approve")))
        .bearer_auth(&tb)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = b.text(original.trim_start_matches(&b.base)).await.1;
    assert!(
        page.contains("A response") && page.contains(&a_url),
        "the linkback shows under the post"
    );
    // A's editor shows what became of the link.
    support::sign_in(&a, "a@example.org", "a long enough password").await;
    let editor = a.text(&format!("/admin/posts/{a_id}/edit")).await.1;
    assert!(
        editor.contains(&format!(
            "<td>{original}</td><td>sent</td><td>webmention accepted (202)</td>"
        )),
        "{editor}"
    );

    // The edit on A updates the mention on B.
    let r = a
        .client
        .patch(a.url(&format!("/api/v1/posts/{a_id}")))
        .bearer_auth(&ta)
        .json(&json!({"body_markdown": format!("Edited: I still answer [the original piece]({original}), with more thought.")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        eventually(20, || async {
            b.text(original.trim_start_matches(&b.base))
                .await
                .1
                .contains("with more thought")
        })
        .await,
        "the edit reaches B"
    );

    // Deleting the post on A: it answers 410, B is told, and the mention goes.
    let r = a
        .client
        .delete(a.url(&format!("/api/v1/posts/{a_id}")))
        .bearer_auth(&ta)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(a.get(a_url.trim_start_matches(&a.base)).await.status(), 410);
    assert!(
        eventually(20, || async {
            !b.text(original.trim_start_matches(&b.base))
                .await
                .1
                .contains(&a_url)
        })
        .await,
        "the deleted post's mention is removed on B"
    );
}

fn ping(source: &str, target: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>pingback.ping</methodName><params>\
         <param><value><string>{source}</string></value></param>\
         <param><value><string>{target}</string></value></param></params></methodCall>"
    )
}

async fn xmlrpc(node: &Node, body: String) -> String {
    let r = node
        .client
        .post(node.url("/xmlrpc.php"))
        .header("content-type", "text/xml")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "XML-RPC answers faults with 200");
    r.text().await.unwrap()
}

fn fault_code(xml: &str) -> Option<i64> {
    let i = xml.find("faultCode")?;
    let rest = &xml[i..];
    let s = rest
        .find("<int>")
        .map(|p| p + 5)
        .or_else(|| rest.find("<i4>").map(|p| p + 4))?;
    rest[s..].split('<').next()?.trim().parse().ok()
}

async fn pingback_answers_with_the_right_faults(backend: Backend) {
    let Some(db_b) = fresh_db(backend).await else {
        return;
    };
    let b = Node::start(&db_b, LINKS).await;
    let tb = api_user(&db_b, "b@example.org", "editor");
    let (_, target) = publish(&b, &tb, "Pinged piece", "Text.").await;
    // Sources on the same site: a site does not send linkbacks to itself, so these pings are
    // the only ones (the fetch guard lets loopback through in this test only).
    let (_, linking) = publish(&b, &tb, "Links to it", &format!("See [it]({target}).")).await;
    let (_, not_linking) = publish(&b, &tb, "Does not link", "No links here.").await;

    assert_eq!(b.get("/xmlrpc.php").await.status(), 405);
    let methods = xmlrpc(&b, "<?xml version=\"1.0\"?><methodCall><methodName>system.listMethods</methodName><params/></methodCall>".into()).await;
    assert!(methods.contains("pingback.ping"), "{methods}");
    assert_eq!(
        fault_code(
            &xmlrpc(
                &b,
                "<methodCall><methodName>wp.getUsersBlogs</methodName><params/></methodCall>"
                    .into()
            )
            .await
        ),
        Some(-32601)
    );
    assert_eq!(
        fault_code(&xmlrpc(&b, "this is not XML".into()).await),
        Some(-32700)
    );
    let bomb = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;\">]><methodCall><methodName>&lol2;</methodName></methodCall>";
    assert_eq!(
        fault_code(&xmlrpc(&b, bomb.into()).await),
        Some(-32700),
        "entity bombs are refused"
    );
    let external = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><methodCall><methodName>&e;</methodName></methodCall>";
    assert_eq!(fault_code(&xmlrpc(&b, external.into()).await), Some(-32700));
    // Target not ours / not a post.
    assert_eq!(
        fault_code(&xmlrpc(&b, ping(&linking, "http://elsewhere.example/x/")).await),
        Some(32)
    );
    // Source that does not exist.
    let gone = format!("{}/2001/01/01/nothing-here/", b.base);
    assert_eq!(
        fault_code(&xmlrpc(&b, ping(&gone, &target)).await),
        Some(16)
    );
    // Source that does not link to the target.
    assert_eq!(
        fault_code(&xmlrpc(&b, ping(&not_linking, &target)).await),
        Some(17)
    );
    // A good one, then the same again.
    let ok = xmlrpc(&b, ping(&linking, &target)).await;
    assert!(
        fault_code(&ok).is_none() && ok.contains("registered"),
        "{ok}"
    );
    assert_eq!(
        fault_code(&xmlrpc(&b, ping(&linking, &target)).await),
        Some(48)
    );
    let items = pending(&b, &tb).await;
    let pings: Vec<&Value> = items.iter().filter(|t| t["kind"] == "pingback").collect();
    assert_eq!(pings.len(), 1, "one pingback stored: {items:?}");
    assert!(pings[0]["body_html"]
        .as_str()
        .unwrap()
        .contains("Links to it"));
}

async fn bad_webmentions_are_refused_and_nothing_is_stored(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, LINKS).await;
    let token = api_user(&db, "ed@example.org", "editor");
    let (_, post) = publish(&node, &token, "A target", "Text.").await;
    let send = |body: String, ct: &'static str| {
        node.client
            .post(node.url("/webmention"))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let form = "application/x-www-form-urlencoded";
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    for (body, ct, why) in [
        (format!("target={}", enc(&post)), form, "no source"),
        (
            format!("source={}", enc("https://example.org/x")),
            form,
            "no target",
        ),
        (
            format!(
                "source={}&target={}",
                enc("ftp://example.org/x"),
                enc(&post)
            ),
            form,
            "not http",
        ),
        (
            format!("source={}&target={}", enc(&post), enc(&post)),
            form,
            "same page",
        ),
        (
            format!(
                "source={}&target={}",
                enc("https://example.org/x"),
                enc("https://other.example/y/")
            ),
            form,
            "not ours",
        ),
        (
            format!(
                "source={}&target={}",
                enc("https://example.org/x"),
                enc(&format!("{}/2001/01/01/missing/", node.base))
            ),
            form,
            "no such post",
        ),
        (
            format!(
                "source={}&target={}",
                enc("https://example.org/x"),
                enc(&post)
            ),
            "application/json",
            "wrong content type",
        ),
    ] {
        let r = send(body, ct).await.unwrap();
        assert_eq!(r.status(), 400, "{why}");
        assert!(
            !r.text().await.unwrap().is_empty(),
            "{why}: the reason is given"
        );
    }
    let r = send(
        format!(
            "source={}&target={}",
            enc("https://example.org/x"),
            enc(&post)
        ),
        form,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    // The source is public and unreachable from here: the verification fails (and will be
    // retried) without storing anything.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(pending(&node, &token).await.is_empty());
    // A flood from one host fills neither the database nor the job queue.
    let mut refused = 0;
    for i in 0..30 {
        let r = send(
            format!(
                "source={}&target={}",
                enc(&format!("https://example.org/flood/{i}")),
                enc(&post)
            ),
            form,
        )
        .await
        .unwrap();
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            refused += 1;
        }
    }
    assert!(refused >= 10, "only {refused} of 30 refused");
}

async fn a_reblog_with_comment_shows_on_the_original(backend: Backend) {
    let Some(db_a) = fresh_db(backend).await else {
        return;
    };
    let db_b = fresh_db(backend).await.unwrap();
    let a = Node::start(&db_a, LINKS).await;
    let b = Node::start(&db_b, LINKS).await;
    let _admin_a = api_user(&db_a, "admin@a.example", "admin");
    let tb = api_user(&db_b, "b@example.org", "editor");
    let (_, original) = publish(
        &b,
        &tb,
        "Debate Summary",
        "What we heard in the debate about caseloads.",
    )
    .await;
    // The reader on B's post names their own site and is sent to its editor.
    let html = b.text(original.trim_start_matches(&b.base)).await.1;
    let post_id = support::form_value(&html, "post");
    let r = b
        .get(&format!(
            "/reblog?post={post_id}&site={}",
            percent_encoding::utf8_percent_encode(&a.base, percent_encoding::NON_ALPHANUMERIC)
        ))
        .await;
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        to.starts_with(&format!("{}/admin/reblog?url=", a.base)),
        "{to}"
    );
    let csrf = support::sign_in(&a, "admin@a.example", "a long enough password").await;
    let (s, editor) = a.text(to.trim_start_matches(&a.base)).await;
    assert_eq!(s, 200, "{editor}");
    assert!(
        editor.contains("Reblog: Debate Summary") && editor.contains("u-repost-of"),
        "{editor}"
    );
    let body = support::textarea(&editor, "body_markdown")
        .replace("Your comment here.", "A fair summary; read it.");
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("kind", "post")
        .text("title", "Reblog: Debate Summary")
        .text("slug", "")
        .text("body_markdown", body)
        .text("tags", "")
        .text("categories", "")
        .text("status", "published")
        .text("publish_at", "");
    let r = a
        .client
        .post(a.url("/admin/posts/new"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    assert!(
        eventually(20, || async {
            pending(&b, &tb).await.iter().any(|t| t["kind"] == "reblog")
        })
        .await,
        "the reblog reaches the original as a reblog"
    );
    let reblog = pending(&b, &tb)
        .await
        .into_iter()
        .find(|t| t["kind"] == "reblog")
        .unwrap();
    let id = reblog["id"].as_i64().unwrap();
    let said = reblog["body_markdown"].as_str().unwrap();
    assert!(
        said.contains("commented: A fair summary; read it."),
        "{said}"
    );
    assert!(
        !said.contains("What we heard in the debate"),
        "the comment is the reblogger's words, not the quote again: {said}"
    );
    let r = b
        .client
        .post(b.url(&format!("/api/v1/thoughts/{id}/approve")))
        .bearer_auth(&tb)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = b.text(original.trim_start_matches(&b.base)).await.1;
    assert!(
        page.contains("Reblogged this on")
            && page.contains("and commented:")
            && page.contains("A fair summary"),
        "{page}"
    );
}
