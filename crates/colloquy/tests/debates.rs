//! Live debates through the real server on both backends: scheduling and the announcement,
//! the calendar file, the room's rules, the event stream with resume (and a reconnect storm),
//! the end of a debate (transcript, exports, the drafted summary), registration mails, and
//! two nodes sharing one room on PostgreSQL.

mod support;

use serde_json::{json, Value};
use std::collections::HashMap;
use support::{api_user, eventually, fresh_db, post_json, Backend, Node, SmtpSink, Sse};

both_backends!(
    a_debate_is_scheduled_announced_and_has_a_calendar_entry,
    the_room_keeps_its_rules,
    the_stream_resumes_with_exactly_the_missed_events,
    a_reconnect_storm_loses_and_doubles_nothing,
    an_ended_debate_is_a_transcript_with_a_drafted_summary,
    registered_people_are_mailed_confirmations_reminders_and_changes,
    a_guest_who_confirms_inside_an_open_window_is_still_reminded,
    the_day_before_registered_people_are_reminded_once_per_start_time,
    the_host_asks_a_prepared_question_with_one_press,
    the_presence_figures_follow_the_room_within_seconds,
    one_address_holds_only_so_many_streams,
    behind_a_trusted_proxy_each_reader_has_places_of_their_own,
    the_room_works_without_javascript,
    the_timer_opens_rooms_on_time_and_ends_forgotten_ones,
    signing_in_from_the_room_returns_to_it,
    a_member_who_has_not_proven_the_address_does_not_post,
);

async fn the_timer_opens_rooms_on_time_and_ends_forgotten_ones(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let host = api_user(&db, "host@example.org", "editor");
    let (post_id, _) = publish(&node, &host, "Timers").await;
    let state = |id: i64| {
        let node = &node;
        async move {
            let (_, v) = node.text(&format!("/api/v1/debates/{id}")).await;
            serde_json::from_str::<Value>(&v).unwrap()
        }
    };
    // Starts in 2 s: nobody opens it, the timer does.
    let soon = new_debate(&node, &host, post_id, &rfc3339(now() + 2)).await;
    let soon_id = soon["id"].as_i64().unwrap();
    assert_eq!(state(soon_id).await["state"], "scheduled");
    assert!(
        eventually(15, || async { state(soon_id).await["state"] == "live" }).await,
        "the room opened at its start time"
    );
    // Planned to end two hours ago and never closed: the timer ends it and drafts the summary.
    let (s, old) = post_json(
        &node,
        &host,
        "/api/v1/debates",
        json!({"post_id": post_id, "title": "Forgotten", "starts_at": rfc3339(now() - 7200), "duration_minutes": 30}),
    )
    .await;
    assert_eq!(s, 201, "{old}");
    let old_id = old["id"].as_i64().unwrap();
    assert!(
        eventually(20, || async {
            let d = state(old_id).await;
            d["state"] == "ended" && d["summary_post_id"].is_number()
        })
        .await,
        "a room an hour past its planned end is ended, with a summary drafted"
    );
    assert_eq!(
        state(soon_id).await["state"],
        "live",
        "a room within its time stays open"
    );
}

async fn signing_in_from_the_room_returns_to_it(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    api_user(&db, "member@example.org", "member");
    for (next, expected) in [
        ("/debates/some-room/live", "/debates/some-room/live"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
    ] {
        // A fresh browser each time (cookies of its own).
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        let q = percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC);
        let form = client
            .get(node.url(&format!("/admin/login?next={q}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            form.contains("name=\"next\""),
            expected == next,
            "the form carries a local return address, and only a local one: {next}"
        );
        let csrf = support::form_value(&form, "csrf");
        let r = client
            .post(node.url("/admin/login"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", "member@example.org"),
                ("password", "a long enough password"),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], expected, "next={next}");
    }
}

/// Several nodes on one PostgreSQL database share a room: messages posted to either reach
/// readers on both, in the same order with the same ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_a_room_in_the_same_order() {
    let Some(db) = fresh_db(Backend::Postgres).await else {
        return;
    };
    let a = Node::start(&db, &[]).await;
    let b = Node::start(&db, &[]).await;
    let host = api_user(&db, "host@example.org", "editor");
    let member = api_user(&db, "member@example.org", "member");
    let (post_id, _) = publish(&a, &host, "Two nodes").await;
    let d = new_debate(&a, &host, post_id, &rfc3339(now() + 3600)).await;
    let id = d["id"].as_i64().unwrap();
    post_json(&b, &host, &format!("/api/v1/debates/{id}/open"), json!({})).await;
    for t in [&host, &member] {
        post_json(
            &a,
            t,
            &format!("/api/v1/debates/{id}/code-of-conduct"),
            json!({}),
        )
        .await;
    }
    let path = format!("/api/v1/debates/{id}/events");
    let mut on_a = Sse::connect(&a.client, &a.url(&path), None).await;
    let mut on_b = Sse::connect(&b.client, &b.url(&path), None).await;
    let started = std::time::Instant::now();
    let mut posted = Vec::new();
    for i in 0..20 {
        let (node, token) = if i % 2 == 0 {
            (&a, &host)
        } else {
            (&b, &member)
        };
        let (s, m) = post_json(
            node,
            token,
            &format!("/api/v1/debates/{id}/messages"),
            json!({"body": format!("n{i}")}),
        )
        .await;
        assert_eq!(s, 201, "{m}");
        posted.push(m["id"].as_i64().unwrap());
    }
    let mut seen = [Vec::new(), Vec::new()];
    for (k, sse) in [&mut on_a, &mut on_b].into_iter().enumerate() {
        while seen[k].len() < 21 {
            let ev = sse
                .next(10)
                .await
                .expect("every event arrives on both nodes");
            seen[k].push((
                ev.id.unwrap(),
                ev.data["id"].as_i64(),
                ev.data["body"].as_str().map(str::to_owned),
            ));
        }
    }
    assert_eq!(
        seen[0], seen[1],
        "both nodes give the same events in the same order"
    );
    let ids: Vec<i64> = seen[0].iter().filter_map(|e| e.1).collect();
    assert_eq!(ids, posted);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// A node stops cleanly and soon although readers hold their streams open: the streams end
/// (clients reconnect elsewhere and resume).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_open_streams_shuts_down_promptly() {
    let Some(room) = live_room(Backend::Sqlite).await else {
        return;
    };
    let mut room = room;
    let mut sse = Sse::connect(&room.node.client, &room.events_url, None).await;
    assert_eq!(sse.next(5).await.unwrap().event, "state");
    let started = std::time::Instant::now();
    let status = room.node.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(sse.next(2).await.is_none(), "the stream ended");
}

async fn publish(node: &Node, token: &str, title: &str) -> (i64, String) {
    support::publish(node, token, title, "Why the press gets social work wrong.").await
}

async fn new_debate(node: &Node, token: &str, post_id: i64, starts_at: &str) -> Value {
    let (s, d) = post_json(
        node,
        token,
        "/api/v1/debates",
        json!({"post_id": post_id, "title": "Social work and the media", "starts_at": starts_at,
               "duration_minutes": 60, "zones": ["Europe/London", "America/New_York", "America/Los_Angeles"]}),
    )
    .await;
    assert_eq!(s, 201, "{d}");
    d
}

fn rfc3339(unix: i64) -> String {
    jiff::Timestamp::from_second(unix).unwrap().to_string()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A live room with a host and one member who accepted the code of conduct.
struct Room {
    node: Node,
    host: String,
    member: String,
    id: i64,
    events_url: String,
    /// The address of the post the debate discusses.
    original: String,
    _db: support::Db,
}

async fn live_room(backend: Backend) -> Option<Room> {
    live_room_with(backend, &[]).await
}

/// [`live_room`] on a node started with `env` too.
async fn live_room_with(backend: Backend, env: &[(&str, &str)]) -> Option<Room> {
    let db = fresh_db(backend).await?;
    let node = Node::start(&db, env).await;
    let host = api_user(&db, "host@example.org", "editor");
    let member = api_user(&db, "member@example.org", "member");
    let (post_id, original) = publish(&node, &host, "Social work in the news").await;
    let d = new_debate(&node, &host, post_id, &rfc3339(now() + 3600)).await;
    let id = d["id"].as_i64().unwrap();
    let (s, _) = post_json(
        &node,
        &host,
        &format!("/api/v1/debates/{id}/open"),
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    for t in [&host, &member] {
        let (s, _) = post_json(
            &node,
            t,
            &format!("/api/v1/debates/{id}/code-of-conduct"),
            json!({}),
        )
        .await;
        assert_eq!(s, 200);
    }
    Some(Room {
        events_url: d["events_url"].as_str().unwrap().to_owned(),
        original,
        node,
        host,
        member,
        id,
        _db: db,
    })
}

async fn say(room: &Room, token: &str, body: Value) -> (u16, Value) {
    post_json(
        &room.node,
        token,
        &format!("/api/v1/debates/{}/messages", room.id),
        body,
    )
    .await
}

async fn a_debate_is_scheduled_announced_and_has_a_calendar_entry(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let editor = api_user(&db, "editor@example.org", "editor");
    let member = api_user(&db, "member@example.org", "member");
    let (post_id, post_url) = publish(&node, &editor, "Social work in the news").await;

    // The seed's example: a winter evening in London is 3 PM in New York and noon in LA.
    let d = new_debate(&node, &editor, post_id, "2027-01-27T20:00:00Z").await;
    for k in ["id", "url", "live_url", "events_url", "ics_url"] {
        assert!(
            d[k].is_number() || d[k].as_str().is_some_and(|s| s.starts_with("http")),
            "{k}: {d}"
        );
    }
    assert_eq!(
        d["announcement"],
        "8:00 PM GMT / 3:00 PM EST / 12:00 Noon PST"
    );
    assert_eq!(d["state"], "scheduled");

    // The post announces it, with the reader's-own-time element and calendar links.
    let (s, page) = node.text(post_url.trim_start_matches(&node.base)).await;
    assert_eq!(s, 200);
    assert!(
        page.contains("8:00 PM GMT / 3:00 PM EST / 12:00 Noon PST"),
        "{page}"
    );
    assert!(page.contains("datetime=\"2027-01-27T20:00:00Z\""));
    assert!(page.contains("debate.ics"));
    assert!(page.contains("calendar.google.com"));
    let (_, list) = node.text("/debates/").await;
    assert!(list.contains("Social work and the media"));

    // The calendar file: UTC times, a stable UID, SEQUENCE 0, checked by a real parser when
    // Python's icalendar is installed (CI installs it).
    let ics_url = d["ics_url"].as_str().unwrap();
    let r = node.client.get(ics_url).send().await.unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));
    let ics = r.text().await.unwrap();
    assert!(ics.contains("DTSTART:20270127T200000Z\r\n"), "{ics}");
    assert!(ics.contains("DTEND:20270127T210000Z\r\n"));
    assert!(ics.contains("SEQUENCE:0\r\n"));
    let uid = ics
        .lines()
        .find(|l| l.starts_with("UID:"))
        .unwrap()
        .to_owned();
    check_ics_with_python(&ics, "2027-01-27 20:00:00+00:00", 0);

    // Moving it bumps SEQUENCE and keeps the UID; the announcement follows (and DST: in July
    // London is on BST and the US on daylight time).
    let r = node
        .client
        .patch(node.url(&format!("/api/v1/debates/{}", d["id"])))
        .bearer_auth(&editor)
        .json(&json!({"starts_at": "2027-07-01T19:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let moved: Value = r.json().await.unwrap();
    assert_eq!(
        moved["announcement"],
        "8:00 PM BST / 3:00 PM EDT / 12:00 Noon PDT"
    );
    assert_eq!(moved["calendar_sequence"], 1);
    let ics = node
        .client
        .get(ics_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ics.contains("SEQUENCE:1\r\n"));
    assert!(ics.contains(&uid));
    check_ics_with_python(&ics, "2027-07-01 19:00:00+00:00", 1);

    // Bad input: a clear error naming the field, nothing stored.
    for (body, field) in [
        (
            json!({"post_id": post_id, "title": "X", "starts_at": "2027-01-01T10:00:00Z", "duration_minutes": 60, "zones": ["Mars/Olympus"]}),
            "zones",
        ),
        (
            json!({"post_id": 999_999, "title": "X", "starts_at": "2027-01-01T10:00:00Z", "duration_minutes": 60}),
            "post_id",
        ),
        (
            json!({"post_id": post_id, "title": "X", "starts_at": "next tuesday", "duration_minutes": 60}),
            "starts_at",
        ),
        (
            json!({"post_id": post_id, "title": "X", "starts_at": "2027-01-01T10:00:00Z", "duration_minutes": 0}),
            "duration_minutes",
        ),
        (
            json!({"post_id": post_id, "title": "", "starts_at": "2027-01-01T10:00:00Z", "duration_minutes": 60}),
            "title",
        ),
    ] {
        let (s, e) = post_json(&node, &editor, "/api/v1/debates", body).await;
        assert_eq!(s, 422, "{e}");
        assert_eq!(e["error"]["field"], field, "{e}");
    }
    let (s, _) = post_json(&node, &member, "/api/v1/debates", json!({"post_id": post_id, "title": "X", "starts_at": "2027-01-01T10:00:00Z", "duration_minutes": 60})).await;
    assert_eq!(s, 403, "members do not schedule debates");
    let r = node
        .client
        .post(node.url("/api/v1/debates"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = node
        .client
        .get(node.url("/api/v1/debates?state=scheduled"))
        .send()
        .await
        .unwrap();
    let all: Value = r.json().await.unwrap();
    assert_eq!(
        all.as_array().unwrap().len(),
        1,
        "the refused debates left nothing behind"
    );
}

fn check_ics_with_python(ics: &str, start: &str, sequence: i64) {
    let script = r#"
import sys
try:
    import icalendar
except ImportError:
    print("SKIP")
    sys.exit(0)
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
ev = [c for c in cal.walk() if c.name == "VEVENT"]
assert len(ev) == 1, ev
e = ev[0]
print(e.decoded("DTSTART"), int(e.get("SEQUENCE")), str(e.get("UID")))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(ics.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "icalendar could not parse it: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if text.trim() == "SKIP" {
        let msg =
            "SKIPPED: Python's icalendar is not installed; the .ics was checked by string only";
        assert!(std::env::var("COLLOQUY_REQUIRE_SERVICES").is_err(), "{msg}");
        eprintln!("{msg}");
        return;
    }
    assert!(text.starts_with(start), "{text}");
    assert!(text.contains(&format!(" {sequence} ")), "{text}");
}

async fn the_room_keeps_its_rules(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let host = api_user(&db, "host@example.org", "editor");
    let member = api_user(&db, "member@example.org", "member");
    let other = api_user(&db, "other@example.org", "member");
    let (post_id, _) = publish(&node, &host, "Social work in the news").await;
    let d = new_debate(&node, &host, post_id, &rfc3339(now() + 3600)).await;
    let id = d["id"].as_i64().unwrap();
    let msgs = format!("/api/v1/debates/{id}/messages");

    // Not live yet: 409. No code of conduct: 403, saying so.
    post_json(
        &node,
        &member,
        &format!("/api/v1/debates/{id}/code-of-conduct"),
        json!({}),
    )
    .await;
    let (s, e) = post_json(&node, &member, &msgs, json!({"body": "early"})).await;
    assert_eq!(s, 409, "{e}");
    let (s, _) = post_json(
        &node,
        &member,
        &format!("/api/v1/debates/{id}/open"),
        json!({}),
    )
    .await;
    assert_eq!(s, 403, "a member cannot open the room");
    post_json(
        &node,
        &host,
        &format!("/api/v1/debates/{id}/open"),
        json!({}),
    )
    .await;
    let (s, e) = post_json(&node, &other, &msgs, json!({"body": "hello"})).await;
    assert_eq!(s, 403, "{e}");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("code of conduct"));

    // Questions come from the host team; answers name a question that exists.
    let (s, _) = post_json(
        &node,
        &member,
        &msgs,
        json!({"body": "Q from me?", "kind": "question"}),
    )
    .await;
    assert_eq!(s, 403);
    post_json(
        &node,
        &host,
        &format!("/api/v1/debates/{id}/code-of-conduct"),
        json!({}),
    )
    .await;
    let (s, q1) = post_json(
        &node,
        &host,
        &msgs,
        json!({"body": "What does the press miss?", "kind": "question"}),
    )
    .await;
    assert_eq!(s, 201, "{q1}");
    assert_eq!(q1["question"], 1);
    let (s, a) = post_json(
        &node,
        &member,
        &msgs,
        json!({"body": "The slow work.", "kind": "answer", "question": 1}),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    let (s, e) = post_json(
        &node,
        &member,
        &msgs,
        json!({"body": "?", "kind": "answer", "question": 2}),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(e["error"]["field"], "question");
    let (s, e) = post_json(
        &node,
        &member,
        &msgs,
        json!({"body": "?", "reply_to": 9999}),
    )
    .await;
    assert_eq!((s, e["error"]["field"].as_str()), (422, Some("reply_to")));
    let (s, e) = post_json(&node, &member, &msgs, json!({"body": "   "})).await;
    assert_eq!((s, e["error"]["field"].as_str()), (422, Some("body")));
    let (s, _) = post_json(&node, &member, &msgs, json!({"body": "x".repeat(2001)})).await;
    assert_eq!(s, 422);

    // The confidentiality guard warns; the writer may confirm.
    let risky =
        json!({"body": "My client's NHS number is 943 476 5919 and she lives at SW1A 1AA."});
    let (s, e) = post_json(&node, &member, &msgs, risky.clone()).await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(e["error"]["code"], "confidentiality");
    let mut confirmed = risky.clone();
    confirmed["confirm_sensitive"] = true.into();
    let (s, _) = post_json(&node, &member, &msgs, confirmed).await;
    assert_eq!(s, 201);

    // Slow mode: one message per 30 s for participants (429 with Retry-After), not the host.
    let (s, _) = post_json(
        &node,
        &host,
        &format!("/api/v1/debates/{id}/room"),
        json!({"action": "slow", "seconds": 30}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = say_as(&node, &other, id, json!({"body": "first"})).await;
    assert_eq!(s, 403, "other has not accepted the code yet");
    post_json(
        &node,
        &other,
        &format!("/api/v1/debates/{id}/code-of-conduct"),
        json!({}),
    )
    .await;
    let (s, _) = say_as(&node, &other, id, json!({"body": "first"})).await;
    assert_eq!(s, 201);
    let r = node
        .client
        .post(node.url(&msgs))
        .bearer_auth(&other)
        .json(&json!({"body": "second"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let wait: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    let (s, _) = say_as(&node, &host, id, json!({"body": "the host is not slowed"})).await;
    assert_eq!(s, 201);
    post_json(
        &node,
        &host,
        &format!("/api/v1/debates/{id}/room"),
        json!({"action": "slow", "seconds": 0}),
    )
    .await;

    // Lock, mute, ban.
    post_json(
        &node,
        &host,
        &format!("/api/v1/debates/{id}/room"),
        json!({"action": "lock"}),
    )
    .await;
    let (s, _) = say_as(&node, &other, id, json!({"body": "locked?"})).await;
    assert_eq!(s, 403);
    post_json(
        &node,
        &host,
        &format!("/api/v1/debates/{id}/room"),
        json!({"action": "unlock"}),
    )
    .await;
    let other_id = author_of(&node, id, "first").await;
    post_json(
        &node,
        &host,
        &format!("/api/v1/debates/{id}/room"),
        json!({"action": "mute", "user_id": other_id}),
    )
    .await;
    let (s, e) = say_as(&node, &other, id, json!({"body": "muted?"})).await;
    assert_eq!(s, 403);
    assert!(e["error"]["message"].as_str().unwrap().contains("muted"));
    post_json(
        &node,
        &host,
        &format!("/api/v1/debates/{id}/room"),
        json!({"action": "unmute", "user_id": other_id}),
    )
    .await;
    post_json(
        &node,
        &host,
        &format!("/api/v1/debates/{id}/room"),
        json!({"action": "ban", "user_id": other_id}),
    )
    .await;
    let (s, e) = say_as(&node, &other, id, json!({"body": "banned?"})).await;
    assert_eq!(s, 403);
    assert!(e["error"]["message"].as_str().unwrap().contains("banned"));
    let (s, _) = post_json(
        &node,
        &member,
        &format!("/api/v1/debates/{id}/room"),
        json!({"action": "lock"}),
    )
    .await;
    assert_eq!(s, 403, "members do not run the room");

    // Word filter (an admin's debate setting): refused with the word named; the host team
    // is not filtered. Only admins change it.
    let (s, _) = say_as(&node, &member, id, json!({"body": "you idiot"})).await;
    assert_eq!(s, 201, "nothing is filtered before the setting");
    api_user(&db, "admin@example.org", "admin");
    let csrf = support::sign_in(&node, "host@example.org", "a long enough password").await;
    let r = node
        .client
        .post(node.url("/admin/debates/settings"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("zones", "Europe/London"),
            ("words", "idiot, free money"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "an editor does not change site settings");
    node.client
        .post(node.url("/admin/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let csrf = support::sign_in(&node, "admin@example.org", "a long enough password").await;
    let r = node
        .client
        .post(node.url("/admin/debates/settings"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("zones", "Europe/London, Asia/Kolkata"),
            ("words", "idiot, free money"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (s, e) = say_as(&node, &member, id, json!({"body": "What an IDIOT."})).await;
    assert_eq!(s, 422, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("idiot"),
        "{e}"
    );
    let (s, _) = say_as(&node, &member, id, json!({"body": "Get FREE\n money now"})).await;
    assert_eq!(s, 422);
    let (s, _) = say_as(
        &node,
        &host,
        id,
        json!({"body": "Calling someone an idiot is not allowed here."}),
    )
    .await;
    assert_eq!(s, 201, "the host team may quote the rule");

    // The transcript has it all in order, with the refused messages absent.
    let t: Value = node
        .client
        .get(node.url(&format!("/api/v1/debates/{id}/transcript")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bodies: Vec<&str> = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(bodies.len(), 7, "{bodies:?}");
    assert_eq!(bodies[0], "What does the press miss?");
    let ids: Vec<i64> = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
}

async fn say_as(node: &Node, token: &str, id: i64, body: Value) -> (u16, Value) {
    post_json(node, token, &format!("/api/v1/debates/{id}/messages"), body).await
}

/// The user id of whoever wrote `body`, from the stream (messages carry their author).
async fn author_of(node: &Node, id: i64, body: &str) -> i64 {
    let url = node.url(&format!("/api/v1/debates/{id}/events"));
    let mut sse = Sse::connect(&node.client, &url, None).await;
    while let Some(ev) = sse.next(2).await {
        if ev.event == "message" && ev.data["body"] == body {
            return ev.data["author"]["id"].as_i64().unwrap();
        }
    }
    panic!("no message {body:?} in the stream")
}

async fn the_stream_resumes_with_exactly_the_missed_events(backend: Backend) {
    let Some(room) = live_room(backend).await else {
        return;
    };
    let client = &room.node.client;
    // A late joiner gets the whole debate so far: the `state` event of the opening first.
    let mut a = Sse::connect(client, &room.events_url, None).await;
    let first = a.next(5).await.unwrap();
    assert_eq!((first.id, first.event.as_str()), (Some(1), "state"));
    assert_eq!(first.data["state"], "live");

    let (_, m1) = say(&room, &room.member, json!({"body": "one"})).await;
    let (_, m2) = say(
        &room,
        &room.member,
        json!({"body": "two", "reply_to": m1["id"]}),
    )
    .await;
    let e1 = a.next(5).await.unwrap();
    assert_eq!(e1.event, "message");
    assert_eq!(e1.data["id"], m1["id"]);
    assert_eq!(e1.data["body"], "one");
    assert_eq!(e1.id, Some(m1["seq"].as_u64().unwrap()));
    let e2 = a.next(5).await.unwrap();
    assert_eq!(e2.data["reply_to"], m1["id"]);
    let seen = a.last_id.unwrap();
    drop(a);

    // While away: a message, a reaction, a hide, an edit.
    let (_, m3) = say(&room, &room.member, json!({"body": "three"})).await;
    let path = |m: &Value, action: &str| {
        format!("/api/v1/debates/{}/messages/{}/{action}", room.id, m["id"])
    };
    let (s, _) = post_json(
        &room.node,
        &room.member,
        &path(&m3, "react"),
        json!({"reaction": "agree"}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = post_json(&room.node, &room.host, &path(&m2, "hide"), json!({})).await;
    assert_eq!(s, 200);
    let (s, _) = post_json(
        &room.node,
        &room.member,
        &path(&m1, "edit"),
        json!({"body": "one, edited"}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = post_json(&room.node, &room.member, &path(&m1, "hide"), json!({})).await;
    assert_eq!(s, 403, "members do not hide");
    let (s, _) = post_json(
        &room.node,
        &room.member,
        &path(&m1, "react"),
        json!({"reaction": "shrug"}),
    )
    .await;
    assert_eq!(s, 422, "unknown reactions are refused");

    // Resume with Last-Event-ID: exactly what was missed, in order, then live ones.
    let mut b = Sse::connect(client, &room.events_url, Some(seen)).await;
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(b.next(5).await.unwrap());
    }
    let kinds: Vec<&str> = got.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, ["message", "reaction", "hide", "edit"]);
    let ids: Vec<u64> = got.iter().map(|e| e.id.unwrap()).collect();
    assert_eq!(ids, (seen + 1..=seen + 4).collect::<Vec<_>>());
    assert_eq!(got[1].data["counts"]["agree"], 1);
    assert_eq!(got[2].data["id"], m2["id"]);
    assert_eq!(got[3].data["body"], "one, edited");
    assert!(b.next(1).await.is_none(), "nothing more, nothing twice");
    let (_, m4) = say(&room, &room.host, json!({"body": "live again"})).await;
    assert_eq!(b.next(5).await.unwrap().data["id"], m4["id"]);

    // ?after= does the same for clients that cannot set headers; a bad id is a 400.
    let r = client
        .get(format!("{}?after={}", room.events_url, seen + 3))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut c = Sse::connect(
        client,
        &format!("{}?after={}", room.events_url, seen + 3),
        None,
    )
    .await;
    assert_eq!(c.next(5).await.unwrap().event, "edit");
    let r = client
        .get(format!("{}?after=banana", room.events_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // The site's own stream address (for the room page) is the same stream.
    let (_, page) = room
        .node
        .text(&format!("/api/v1/debates/{}", room.id))
        .await;
    let d: Value = serde_json::from_str(&page).unwrap();
    let live = d["live_url"]
        .as_str()
        .unwrap()
        .trim_end_matches("/live")
        .to_owned();
    let mut s = Sse::connect(client, &format!("{live}/events"), Some(seen)).await;
    assert_eq!(s.next(5).await.unwrap().id, Some(seen + 1));
}

async fn a_reconnect_storm_loses_and_doubles_nothing(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    // On PostgreSQL two nodes share the room: readers on one, writers on the other.
    let node = Node::start(&db, &[]).await;
    let other = if backend == Backend::Postgres {
        Some(Node::start(&db, &[]).await)
    } else {
        None
    };
    let host = api_user(&db, "host@example.org", "editor");
    let (post_id, _) = publish(&node, &host, "Storm").await;
    let d = new_debate(&node, &host, post_id, &rfc3339(now() + 3600)).await;
    let id = d["id"].as_i64().unwrap();
    post_json(
        &node,
        &host,
        &format!("/api/v1/debates/{id}/open"),
        json!({}),
    )
    .await;
    post_json(
        &node,
        &host,
        &format!("/api/v1/debates/{id}/code-of-conduct"),
        json!({}),
    )
    .await;
    let reader_base = other
        .as_ref()
        .map(|n| n.base.clone())
        .unwrap_or(node.base.clone());
    let events = format!("{reader_base}/api/v1/debates/{id}/events");

    const CLIENTS: usize = 20;
    const MESSAGES: usize = 150;
    const RECONNECTS_EACH: usize = 10;
    let posting = {
        let client = node.client.clone();
        let url = node.url(&format!("/api/v1/debates/{id}/messages"));
        let host = host.clone();
        tokio::spawn(async move {
            for i in 0..MESSAGES {
                let r = client
                    .post(&url)
                    .bearer_auth(&host)
                    .json(&json!({"body": format!("m{i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                if i % 10 == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        })
    };
    let total = 1 + MESSAGES as u64; // the opening's state event, then every message
    let mut readers = Vec::new();
    for c in 0..CLIENTS {
        let events = events.clone();
        readers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut seen: Vec<u64> = Vec::new();
            let mut last = None;
            let mut reconnects = 0;
            while seen.last().copied() != Some(total) {
                let mut sse = Sse::connect(&client, &events, last).await;
                // Read a few events, then drop the connection (a forced disconnect).
                let budget = if reconnects < RECONNECTS_EACH {
                    3 + (c + reconnects) % 7
                } else {
                    usize::MAX
                };
                let mut n = 0;
                while n < budget {
                    match sse.next(10).await {
                        Some(ev) => {
                            seen.push(ev.id.unwrap());
                            n += 1;
                            if ev.id == Some(total) {
                                break;
                            }
                        }
                        None => break,
                    }
                }
                last = sse.last_id.or(last);
                reconnects += 1;
                assert!(
                    reconnects < 200,
                    "client {c} is not making progress: {seen:?}"
                );
            }
            (seen, reconnects)
        }));
    }
    posting.await.unwrap();
    let mut forced = 0;
    for (c, r) in readers.into_iter().enumerate() {
        let (seen, reconnects) = r.await.unwrap();
        forced += reconnects - 1;
        assert_eq!(
            seen,
            (1..=total).collect::<Vec<_>>(),
            "client {c} saw a gap or a repeat"
        );
    }
    assert!(
        forced >= CLIENTS * RECONNECTS_EACH / 2,
        "only {forced} reconnects happened"
    );
}

async fn an_ended_debate_is_a_transcript_with_a_drafted_summary(backend: Backend) {
    let Some(room) = live_room(backend).await else {
        return;
    };
    let (_, q) = say(
        &room,
        &room.host,
        json!({"body": "What does the press miss?", "kind": "question"}),
    )
    .await;
    let (_, a1) = say(
        &room,
        &room.member,
        json!({"body": "The slow, careful work.", "kind": "answer", "question": 1}),
    )
    .await;
    say(
        &room,
        &room.member,
        json!({"body": "Context, always.", "kind": "answer", "question": 1}),
    )
    .await;
    post_json(
        &room.node,
        &room.host,
        &format!("/api/v1/debates/{}/messages/{}/react", room.id, a1["id"]),
        json!({"reaction": "insightful"}),
    )
    .await;
    let (s, d) = post_json(
        &room.node,
        &room.host,
        &format!("/api/v1/debates/{}/close", room.id),
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(d["state"], "ended");
    let (s, e) = say(&room, &room.member, json!({"body": "too late"})).await;
    assert_eq!(s, 409, "{e}");
    let (s, _) = post_json(
        &room.node,
        &room.host,
        &format!("/api/v1/debates/{}/open", room.id),
        json!({}),
    )
    .await;
    assert_eq!(s, 409, "an ended debate does not reopen");

    // The room is now the permanent transcript, grouped by question, with exports.
    let live = d["live_url"]
        .as_str()
        .unwrap()
        .trim_start_matches(&room.node.base)
        .to_owned();
    let (s, page) = room.node.text(&live).await;
    assert_eq!(s, 200);
    assert!(page.contains("transcript"));
    assert!(page.contains("The questions and their answers"));
    assert!(page.contains("<svg"), "the chart is on the transcript page");
    assert!(
        !page.contains("id=\"compose-form\""),
        "no writing in a transcript"
    );
    let base = live.trim_end_matches("live");
    let (s, txt) = room.node.text(&format!("{base}transcript.txt")).await;
    assert_eq!(s, 200);
    assert!(
        txt.contains("Q1") && txt.contains("The slow, careful work."),
        "{txt}"
    );
    let (_, md) = room.node.text(&format!("{base}transcript.md")).await;
    assert!(md.contains("What does the press miss?"));
    let (_, js) = room.node.text(&format!("{base}transcript.json")).await;
    let t: Value = serde_json::from_str(&js).unwrap();
    assert_eq!(t["messages"].as_array().unwrap().len(), 3);
    assert_eq!(t["messages"][1]["reactions"]["insightful"], 1);
    assert_eq!(t["messages"][0]["id"], q["id"]);

    // The summary is drafted for the host: it links to the original piece.
    let post_id = d["summary_post_id"].as_i64();
    let post_id = match post_id {
        Some(p) => p,
        None => {
            let mut found = None;
            for _ in 0..100 {
                let (_, v) = room
                    .node
                    .text(&format!("/api/v1/debates/{}", room.id))
                    .await;
                found = serde_json::from_str::<Value>(&v).unwrap()["summary_post_id"].as_i64();
                if found.is_some() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            found.expect("a summary was drafted")
        }
    };
    let r = room
        .node
        .client
        .get(room.node.url(&format!("/api/v1/posts/{post_id}")))
        .bearer_auth(&room.host)
        .send()
        .await
        .unwrap();
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["status"], "draft");
    assert_eq!(p["title"], "Social work and the media – Debate Summary");
    let body = p["body_markdown"].as_str().unwrap();
    assert!(body.contains("## Q1: What does the press miss?"), "{body}");
    assert!(body.contains("The slow, careful work."));
    assert!(
        body.contains(&format!("(<{}>)", room.original)),
        "links to the original {}: {body}",
        room.original
    );
    // The chart is an image of the debate's chart address, described for those who cannot
    // see it, with the figures in a table under it.
    let html = p["body_html"].as_str().unwrap();
    let img = html.find("<img").expect(html);
    let tag = &html[img..img + html[img..].find('>').unwrap()];
    assert!(
        tag.contains(&format!("src=\"{}{base}chart.svg\"", room.node.base)),
        "{tag}"
    );
    assert!(
        tag.contains("alt=\"Messages per minute during the debate"),
        "{tag}"
    );
    let table = html[img..].find("<table>").expect(html);
    assert!(html[img + table..].contains("Messages</th>"), "{html}");

    // Once the host publishes it, the original piece shows it as a linkback (as WordPress
    // shows "Debate Summary « Site"), and the debate's announcement links to it.
    let r = room
        .node
        .client
        .patch(room.node.url(&format!("/api/v1/posts/{post_id}")))
        .bearer_auth(&room.host)
        .json(&json!({"status": "published"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let original = room.original.trim_start_matches(&room.node.base).to_owned();
    assert!(
        eventually(15, || async {
            room.node
                .text(&original)
                .await
                .1
                .contains("Social work and the media – Debate Summary «")
        })
        .await,
        "the original piece shows the summary's linkback"
    );
    let r = room
        .node
        .client
        .get(room.node.url(&format!("{base}summary")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
    let (_, page) = room.node.text(&original).await;
    assert!(
        page.contains(&format!("{base}summary")),
        "the announcement links to the summary"
    );

    let chart = room
        .node
        .client
        .get(format!("{}{base}chart.svg", room.node.base))
        .send()
        .await
        .unwrap();
    assert_eq!(chart.headers()["content-type"], "image/svg+xml");
    let svg = chart.text().await.unwrap();
    assert!(svg.contains("<title") && svg.contains("<desc"));
}

async fn registered_people_are_mailed_confirmations_reminders_and_changes(backend: Backend) {
    // Starts just over 15 minutes from now: the 15-minute reminder falls due in seconds.
    let Some(m) = mailed_debate(backend, now() + 15 * 60 + 8).await else {
        return;
    };
    let MailedDebate {
        node,
        sink,
        host,
        member,
        page,
        ..
    } = &m;
    let id = m.id;

    // A guest registers by email and confirms from the mail (a button, not a GET).
    register_guest(node, page, "Guest", "guest@example.net").await;
    let token = mailed_token(sink, "guest@example.net").await;
    let r = node
        .client
        .get(node.url(&format!("/debates/registrations/confirm?token={token}")))
        .send()
        .await
        .unwrap();
    assert!(
        r.text().await.unwrap().contains("<form"),
        "the link shows a button"
    );
    confirm_guest(node, &token).await;
    let r = node
        .client
        .post(node.url("/debates/registrations/confirm"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a used token does not work twice");
    let r = node
        .client
        .post(node.url(&format!("{page}register")))
        .form(&[("email", "not an address")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    // A member registers with one call.
    register_member(node, member, id).await;

    // The 15-minute reminder reaches both, once.
    for who in ["guest@example.net", "member@example.org"] {
        assert!(
            eventually(30, || async {
                sink.to(who)
                    .iter()
                    .any(|m| m.contains("Starting in 15 minutes"))
            })
            .await,
            "{who} got no reminder"
        );
    }
    // A change of time mails them the new time, with a cancel link that works.
    let r = node
        .client
        .patch(node.url(&format!("/api/v1/debates/{id}")))
        .bearer_auth(host)
        .json(&json!({"starts_at": rfc3339(now() + 7200)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        eventually(20, || async {
            sink.to("guest@example.net")
                .iter()
                .any(|m| m.contains("New time for"))
        })
        .await
    );
    let changed = sink
        .to("guest@example.net")
        .into_iter()
        .find(|m| m.contains("New time for"))
        .unwrap();
    let (text, msg) = support::parse_mail(&changed);
    let cancel = support::link(&text, &format!("{}/debates/registrations/", node.base));
    assert!(
        msg.header("List-Unsubscribe").is_some(),
        "the mail offers one-click cancelling"
    );
    let r = node.client.post(&cancel).send().await.unwrap();
    assert_eq!(r.status(), 200, "cancel via {cancel}");
    let reminders = sink
        .to("guest@example.net")
        .iter()
        .filter(|m| m.contains("Starting in 15 minutes"))
        .count();
    assert_eq!(reminders, 1, "one reminder, not one per timer round");
}

/// A guest registers before the 15-minute window opens but confirms only after the timer
/// has sent that window's reminders: they registered before that moment, so they are
/// reminded too, once.
async fn a_guest_who_confirms_inside_an_open_window_is_still_reminded(backend: Backend) {
    let Some(m) = mailed_debate(backend, now() + 15 * 60 + 6).await else {
        return;
    };
    let MailedDebate {
        node,
        sink,
        member,
        page,
        ..
    } = &m;
    let id = m.id;
    register_guest(node, page, "Late", "late@example.net").await;
    register_member(node, member, id).await;
    let soon = |who: &str| mails(sink, who, "Starting in 15 minutes");
    // The window opens: the member is reminded; the guest, not confirmed, is not.
    assert!(
        eventually(30, || async { soon("member@example.org") == 1 }).await,
        "the member got the 15-minute reminder"
    );
    let token = mailed_token(sink, "late@example.net").await;
    assert_eq!(soon("late@example.net"), 0, "not confirmed yet");
    confirm_guest(node, &token).await;
    assert!(
        eventually(20, || async { soon("late@example.net") == 1 }).await,
        "a guest who registered before the window and confirmed inside it is reminded"
    );
    assert_eq!(soon("member@example.org"), 1);
}

/// The 24-hour reminder, through the SMTP server: a member and a confirmed guest get it
/// once for the start time, not the 15-minute one yet; moved, the debate reminds again.
async fn the_day_before_registered_people_are_reminded_once_per_start_time(backend: Backend) {
    // Registrations come in more than a day before the start.
    let Some(m) = mailed_debate(backend, now() + 25 * 3600).await else {
        return;
    };
    let MailedDebate {
        node,
        sink,
        host,
        member,
        d,
        page,
        ..
    } = &m;
    let id = m.id;
    register_guest(node, page, "Guest", "guest@example.net").await;
    confirm_guest(node, &mailed_token(sink, "guest@example.net").await).await;
    register_member(node, member, id).await;

    // An hour and a minute pass: the debate now starts in 23 h 59 min.
    let passed = 3660;
    support::sql(
        &m._db,
        &format!("UPDATE debates SET starts_at = starts_at - {passed} WHERE id = {id}"),
    )
    .await;
    support::sql(
        &m._db,
        &format!("UPDATE debate_registrations SET created_at = created_at - {passed}, confirmed_at = confirmed_at - {passed}"),
    )
    .await;
    let tomorrow = "Tomorrow: “Social work and the media”";
    let people = ["guest@example.net", "member@example.org"];
    for who in people {
        assert!(
            eventually(30, || async {
                subjects(sink, who).iter().any(|s| s == tomorrow)
            })
            .await,
            "{who} got no 24-hour reminder: {:?}",
            subjects(sink, who)
        );
    }
    let reminder = sink
        .to("member@example.org")
        .into_iter()
        .find(|m| support::parse_mail(m).1.subject() == Some(tomorrow))
        .unwrap();
    let (text, _) = support::parse_mail(&reminder);
    assert!(text.contains(d["live_url"].as_str().unwrap()), "{text}");
    assert!(text.contains(d["ics_url"].as_str().unwrap()), "{text}");

    // Moved half an hour earlier: a new time, so they hear of it and are reminded again.
    let r = node
        .client
        .patch(node.url(&format!("/api/v1/debates/{id}")))
        .bearer_auth(host)
        .json(&json!({"starts_at": rfc3339(now() + 23 * 3600 + 30 * 60)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for who in people {
        assert!(
            eventually(30, || async {
                subjects(sink, who)
                    .iter()
                    .filter(|s| *s == tomorrow)
                    .count()
                    == 2
            })
            .await,
            "{who} was not reminded for the new time: {:?}",
            subjects(sink, who)
        );
    }
    // The timer has run again since the first reminders: still one per start time, and
    // none of the 15-minute kind.
    for who in people {
        let got = subjects(sink, who);
        assert_eq!(
            got.iter().filter(|s| *s == tomorrow).count(),
            2,
            "{who}: {got:?}"
        );
        assert!(
            !got.iter().any(|s| s.starts_with("Starting in 15 minutes")),
            "{who}: {got:?}"
        );
        assert_eq!(
            got.iter().filter(|s| s.starts_with("New time for")).count(),
            1,
            "{who}: {got:?}"
        );
    }
}

/// The subjects of the mails to `to`, decoded, oldest first.
fn subjects(sink: &SmtpSink, to: &str) -> Vec<String> {
    sink.to(to)
        .iter()
        .map(|m| {
            support::parse_mail(m)
                .1
                .subject()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// The fields of the page's form that holds `marker` (hidden inputs and the like), and
/// where it posts.
fn form_around(page: &str, marker: &str) -> (String, Vec<(String, String)>) {
    let at = page
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in the page"));
    let start = page[..at].rfind("<form").unwrap();
    let end = at + page[at..].find("</form>").unwrap();
    let form = &page[start..end];
    let attr = |tag: &str, name: &str| {
        let key = format!("{name}=\"");
        tag.split(&key)
            .nth(1)
            .map(|v| v.split('"').next().unwrap().replace("&amp;", "&"))
    };
    let action = attr(form, "action").unwrap();
    let fields = form
        .split("<input")
        .skip(1)
        .filter_map(|tag| {
            let tag = &tag[..tag.find('>').unwrap()];
            Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default()))
        })
        .collect();
    (action, fields)
}

/// Questions prepared in the debate's admin page are offered to the host in the live room;
/// "Ask now" posts one as the next question, readers get it at once, and nobody else can
/// use the button.
async fn the_host_asks_a_prepared_question_with_one_press(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let host = api_user(&db, "host@example.org", "editor");
    let member = api_user(&db, "member@example.org", "member");
    let (post_id, _) = publish(&node, &host, "Social work in the news").await;
    let d = new_debate(&node, &host, post_id, &rfc3339(now() + 3600)).await;
    let id = d["id"].as_i64().unwrap();
    let live = d["live_url"]
        .as_str()
        .unwrap()
        .trim_start_matches(&node.base)
        .to_owned();

    // The host prepares two questions on the debate's admin page.
    let csrf = support::sign_in(&node, "host@example.org", "a long enough password").await;
    let form = node.text(&format!("/admin/debates/{id}")).await.1;
    assert!(form.contains("name=\"prepared_questions\""));
    let r = node
        .client
        .post(node.url(&format!("/admin/debates/{id}")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("title", "Social work and the media"),
            ("description", ""),
            ("zones", "Europe/London"),
            (
                "prepared_questions",
                "What does the press miss?\nWho speaks for the families?",
            ),
            ("moderators", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    for t in [&host, &member] {
        let (s, _) = post_json(
            &node,
            t,
            &format!("/api/v1/debates/{id}/code-of-conduct"),
            json!({}),
        )
        .await;
        assert_eq!(s, 200);
    }
    let (s, _) = post_json(
        &node,
        &host,
        &format!("/api/v1/debates/{id}/open"),
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, q1) = say_as(
        &node,
        &host,
        id,
        json!({"body": "Is the coverage fair?", "kind": "question"}),
    )
    .await;
    assert_eq!((s, q1["question"].as_i64()), (201, Some(1)), "{q1}");

    // A reader without an account follows the room.
    let mut reader = Sse::connect(
        &reqwest::Client::new(),
        d["events_url"].as_str().unwrap(),
        None,
    )
    .await;
    let mut last = None;
    while let Some(ev) = reader.next(2).await {
        last = Some(ev.data["body"].clone());
    }
    assert_eq!(last, Some(json!("Is the coverage fair?")));

    // The host's room offers both prepared questions; one press asks the second one.
    let page = node.text(&live).await.1;
    assert_eq!(page.matches(">Ask now<").count(), 2, "{page}");
    let (action, fields) = form_around(&page, "value=\"Who speaks for the families?\"");
    let r = node
        .client
        .post(node.url(&action))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let ev = reader.next(5).await.expect("the reader gets the question");
    assert_eq!(ev.event, "message");
    assert_eq!(ev.data["kind"], "question");
    assert_eq!(ev.data["question"], 2, "the next question number");
    assert_eq!(ev.data["body"], "Who speaks for the families?");
    let page = node.text(&live).await.1;
    assert!(page.contains("Q2"), "the room shows it as Q2");
    assert_eq!(
        page.matches(">Ask now<").count(),
        1,
        "an asked question is no longer offered"
    );
    assert!(page.contains("value=\"What does the press miss?\""));

    // A member sees no prepared questions, and sending the same form is refused.
    let r = node
        .client
        .post(node.url("/admin/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
    support::sign_in_any(&node, "member@example.org", "a long enough password").await;
    let page = node.text(&live).await.1;
    assert!(!page.contains("Ask now"), "{page}");
    assert!(!page.contains("What does the press miss?"));
    let member_csrf = support::form_value(&page, "csrf");
    let r = node
        .client
        .post(node.url(&action))
        .form(&[
            ("csrf", member_csrf.as_str()),
            ("kind", "question"),
            ("body", "What does the press miss?"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("only the host and the moderators ask the questions"),
        "the page says why"
    );
    assert!(reader.next(2).await.is_none(), "nothing reached the room");
}

/// `/debates/<slug>/presence`, which room pages poll: the readers count follows a reader
/// who comes and goes within a few seconds (answers are reused briefly, not for long).
async fn the_presence_figures_follow_the_room_within_seconds(backend: Backend) {
    let Some(room) = live_room(backend).await else {
        return;
    };
    let presence_path = format!(
        "{}presence",
        room.events_url
            .trim_start_matches(&room.node.base)
            .trim_end_matches("events")
    );
    let presence = || async {
        let r = room.node.get(&presence_path).await;
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()
    };
    let before = presence().await;
    assert_eq!(before["readers"], 0, "{before}");
    assert_eq!(before["state"], "live");

    let mut reader = Sse::connect(&reqwest::Client::new(), &room.events_url, None).await;
    assert_eq!(reader.next(5).await.unwrap().event, "state");
    let started = std::time::Instant::now();
    assert!(
        eventually(10, || async { presence().await["readers"] == 1 }).await,
        "the reader was never counted"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(6),
        "counted after {:?}",
        started.elapsed()
    );
    let (s, _) = say(&room, &room.member, json!({"body": "Hello, room."})).await;
    assert_eq!(s, 201);
    assert!(
        eventually(10, || async {
            let p = presence().await;
            p["messages"] == 1 && p["participants"] == 1
        })
        .await,
        "{}",
        presence().await
    );

    drop(reader);
    assert!(
        eventually(30, || async { presence().await["readers"] == 0 }).await,
        "the reader who left is still counted: {}",
        presence().await
    );
}

/// With the cap at 3 streams per address, a fourth stream from the same address is refused
/// (429, with Retry-After and the reason), on both stream addresses; another address is
/// not affected; once a stream closes, its place is free again.
async fn one_address_holds_only_so_many_streams(backend: Backend) {
    let Some(room) = live_room_with(backend, &[("COLLOQUY_DEBATE_STREAMS_PER_IP", "3")]).await
    else {
        return;
    };
    let api_events = room
        .node
        .url(&format!("/api/v1/debates/{}/events", room.id));
    let client = reqwest::Client::new();
    let mut open = vec![
        Sse::connect(&client, &room.events_url, None).await,
        Sse::connect(&client, &api_events, None).await,
        Sse::connect(&client, &room.events_url, None).await,
    ];
    for s in &mut open {
        assert_eq!(s.next(5).await.unwrap().event, "state");
    }

    let r = client.get(&room.events_url).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("3 live debate streams open"),
        "the page says why"
    );
    let r = client.get(&api_events).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "too_many_streams", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("close one"),
        "{e}"
    );

    // Another address on the same machine has places of its own.
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let mut other = Sse::connect(&elsewhere, &room.events_url, None).await;
    assert_eq!(other.next(5).await.unwrap().event, "state");

    // The streams still open keep working.
    let (s, m) = say(&room, &room.member, json!({"body": "Still here?"})).await;
    assert_eq!(s, 201, "{m}");
    for s in &mut open {
        assert_eq!(s.next(5).await.unwrap().data["body"], "Still here?");
    }

    // One stream closes: its place is given to the next one who asks.
    open.pop();
    assert!(
        eventually(20, || async {
            client.get(&room.events_url).send().await.unwrap().status() == 200
        })
        .await,
        "the closed stream's place was not freed"
    );
}

/// Behind a reverse proxy every reader has the proxy's address: with the proxy trusted
/// (`COLLOQUY_TRUSTED_PROXIES`), the address it appends to `X-Forwarded-For` is the
/// reader's; from any other connection the header is ignored (anyone can send it).
async fn behind_a_trusted_proxy_each_reader_has_places_of_their_own(backend: Backend) {
    let Some(room) = live_room_with(
        backend,
        &[
            ("COLLOQUY_DEBATE_STREAMS_PER_IP", "1"),
            ("COLLOQUY_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await
    else {
        return;
    };
    let via_proxy = |forwarded: &str, from: &str| {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-forwarded-for", forwarded.parse().unwrap());
        reqwest::Client::builder()
            .default_headers(h)
            .local_address(from.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let status = |c: reqwest::Client| {
        let url = room.events_url.clone();
        async move { c.get(&url).send().await.unwrap().status().as_u16() }
    };
    // Two readers behind the proxy: one place each. The second stream of the first is refused,
    // also when it claims another address before the proxy's own entry.
    let mut first = Sse::connect(
        &via_proxy("203.0.113.5", "127.0.0.1"),
        &room.events_url,
        None,
    )
    .await;
    assert_eq!(first.next(5).await.unwrap().event, "state");
    assert_eq!(status(via_proxy("203.0.113.5", "127.0.0.1")).await, 429);
    assert_eq!(
        status(via_proxy("192.0.2.99, 203.0.113.5", "127.0.0.1")).await,
        429
    );
    let mut second = Sse::connect(
        &via_proxy("203.0.113.6", "127.0.0.1"),
        &room.events_url,
        None,
    )
    .await;
    assert_eq!(second.next(5).await.unwrap().event, "state");
    // From an address that is not the proxy, the header changes nothing.
    let mut direct = Sse::connect(
        &via_proxy("203.0.113.7", "127.0.0.2"),
        &room.events_url,
        None,
    )
    .await;
    assert_eq!(direct.next(5).await.unwrap().event, "state");
    assert_eq!(status(via_proxy("203.0.113.8", "127.0.0.2")).await, 429);

    // A setting that names no address stops the command with the reason.
    let out = std::process::Command::new(support::bin())
        .arg("migrate")
        .env(
            "COLLOQUY_DATA_DIR",
            std::env::temp_dir().join("colloquy-bad-proxies"),
        )
        .env("COLLOQUY_TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("trusted proxies") && err.contains("proxy.internal"),
        "{err}"
    );
}

/// A debate scheduled to start at `starts_at` on a node that sends its mail to a real SMTP
/// server, with a host and a member (both with API tokens).
struct MailedDebate {
    node: Node,
    sink: SmtpSink,
    host: String,
    member: String,
    /// The debate as the API described it when it was scheduled.
    d: Value,
    id: i64,
    /// The path of its announcement page.
    page: String,
    _db: support::Db,
}

async fn mailed_debate(backend: Backend, starts_at: i64) -> Option<MailedDebate> {
    let db = fresh_db(backend).await?;
    let sink = SmtpSink::start(db.data_dir.join("sink"), None)?;
    let node = Node::start(&db, &[("COLLOQUY_SMTP_URL", &sink.url())]).await;
    let host = api_user(&db, "host@example.org", "editor");
    let member = api_user(&db, "member@example.org", "member");
    let (post_id, _) = publish(&node, &host, "Social work in the news").await;
    let d = new_debate(&node, &host, post_id, &rfc3339(starts_at)).await;
    let page = d["url"]
        .as_str()
        .unwrap()
        .trim_start_matches(&node.base)
        .to_owned();
    Some(MailedDebate {
        id: d["id"].as_i64().unwrap(),
        node,
        sink,
        host,
        member,
        d,
        page,
        _db: db,
    })
}

/// A guest registers for the debate whose announcement is at `page`, with the form.
async fn register_guest(node: &Node, page: &str, name: &str, email: &str) {
    let r = node
        .client
        .post(node.url(&format!("{page}register")))
        .form(&[("name", name), ("email", email)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Check your mail"));
}

/// The token of the confirmation link mailed to `email`, once the mail is there.
async fn mailed_token(sink: &SmtpSink, email: &str) -> String {
    assert!(
        eventually(20, || async {
            sink.to(email).iter().any(|m| m.contains("token="))
        })
        .await,
        "no confirmation mail to {email}"
    );
    let mail = sink
        .to(email)
        .into_iter()
        .find(|m| m.contains("token="))
        .unwrap();
    let (text, _) = support::parse_mail(&mail);
    let confirm = support::link(&text, "http");
    confirm.split("token=").nth(1).unwrap().to_owned()
}

/// Presses the button the confirmation link shows.
async fn confirm_guest(node: &Node, token: &str) {
    let r = node
        .client
        .post(node.url("/debates/registrations/confirm"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("confirmed"));
}

/// A member registers with one call.
async fn register_member(node: &Node, token: &str, debate_id: i64) {
    let (s, r) = post_json(
        node,
        token,
        &format!("/api/v1/debates/{debate_id}/register"),
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
}

/// How many mails to `to` contain `text`.
fn mails(sink: &SmtpSink, to: &str, text: &str) -> usize {
    sink.to(to).iter().filter(|m| m.contains(text)).count()
}

async fn the_room_works_without_javascript(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let node = Node::start(&db, &[]).await;
    let host = api_user(&db, "host@example.org", "editor");
    api_user(&db, "member@example.org", "member");
    let (post_id, _) = publish(&node, &host, "Social work in the news").await;
    let d = new_debate(&node, &host, post_id, &rfc3339(now() + 3600)).await;
    let id = d["id"].as_i64().unwrap();
    post_json(
        &node,
        &host,
        &format!("/api/v1/debates/{id}/open"),
        json!({}),
    )
    .await;
    let live = d["live_url"]
        .as_str()
        .unwrap()
        .trim_start_matches(&node.base)
        .to_owned();
    let base = live.trim_end_matches("live").to_owned();

    // A reader without an account reads; the page says how to take part.
    let (s, page) = node.text(&live).await;
    assert_eq!(s, 200);
    assert!(page.contains("Sign in"));
    assert!(page.contains("aria-live=\"polite\""));

    // A member signs in, accepts the code of conduct with the checkbox, and posts by form.
    support::sign_in_any(&node, "member@example.org", "a long enough password").await;
    let (_, page) = node.text(&live).await;
    assert!(page.contains("Accept and take part"));
    let csrf = support::form_value(&page, "csrf");
    let r = node
        .client
        .post(node.url(&format!("{base}conduct")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "the box must be ticked");
    let r = node
        .client
        .post(node.url(&format!("{base}conduct")))
        .form(&[("csrf", csrf.as_str()), ("accept", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, page) = node.text(&live).await;
    assert!(page.contains("id=\"compose-form\""));
    let r = node
        .client
        .post(node.url(&format!("{base}messages")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("body", "Written without JavaScript"),
            ("kind", "message"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    let mid = to.rsplit("#m").next().unwrap().to_owned();
    let (_, page) = node.text(&live).await;
    assert!(page.contains("Written without JavaScript"));
    // The writer may change it for 15 minutes, with a labelled form.
    let edit = format!("{base}messages/{mid}/edit");
    assert!(page.contains(&edit), "an edit form for one's own message");
    let r = node
        .client
        .post(node.url(&edit))
        .form(&[
            ("csrf", csrf.as_str()),
            ("body", "Written, and corrected, without JavaScript"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, page) = node.text(&live).await;
    assert!(page.contains("Written, and corrected, without JavaScript"));
    assert!(
        page.contains("<span class=\"msg-edited\">(edited)</span>"),
        "marked as edited"
    );
    // A refused message comes back with the reason and the text kept.
    let r = node
        .client
        .post(node.url(&format!("{base}messages")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("body", "NHS number 943 476 5919 at SW1A 1AA"),
            ("kind", "message"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("NHS number 943 476 5919 at SW1A 1AA"),
        "the text is kept"
    );
    assert!(page.contains("confirm-sensitive"));
    let r = node
        .client
        .post(node.url(&format!("{base}messages")))
        .form(&[("csrf", "wrong"), ("body", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (_, metrics) = node.text("/metrics").await;
    assert!(metrics.contains("debate_messages_total"), "{metrics}");
    assert!(metrics.contains("debate_messages_refused_total"));
    let presence: Value = node
        .client
        .get(node.url(&format!("{base}presence")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(presence["participants"], 1);
    let _: HashMap<String, Value> = serde_json::from_value(presence).unwrap();
}

async fn a_member_who_has_not_proven_the_address_does_not_post(backend: Backend) {
    let Some(room) = live_room(backend).await else {
        return;
    };
    support::sql(
        &room._db,
        "UPDATE users SET email_verified_at = NULL WHERE email = 'member@example.org'",
    )
    .await;
    let (s, e) = say(&room, &room.member, json!({"body": "Hello, room."})).await;
    assert_eq!(s, 403, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("confirm your email"),
        "{e}"
    );
    support::sql(
        &room._db,
        "UPDATE users SET email_verified_at = 1 WHERE email = 'member@example.org'",
    )
    .await;
    let (s, e) = say(&room, &room.member, json!({"body": "Hello, room."})).await;
    assert_eq!(s, 201, "{e}");
}
