//! End-to-end tests of the load generator against the TEST FIXTURE server in
//! examples/fixture_server.rs (not Colloquy; it only exercises this tool).

#[allow(dead_code)]
#[path = "../examples/fixture_server.rs"]
mod fixture_server;

use colloquy_live_loadgen::{http::Url, run, Config, Mode, ResumeBy};
use fixture_server::{start, Opts};
use std::time::Duration;

fn config(base: &str, subscribers: usize) -> Config {
    let mut c = Config::new(Url::parse(&format!("{base}/api/v1/debates/1/events")).unwrap());
    c.messages_url = Some(Url::parse(&format!("{base}/api/v1/debates/1/messages")).unwrap());
    c.token = Some("tok".into());
    c.subscribers = subscribers;
    c.ramp = 50;
    c.settle = Duration::from_millis(100);
    c.drain = Duration::from_secs(10);
    c.quiet = true;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_mode_exact_delivery_and_latency() {
    let (base, _room) = start(Opts {
        reaction_every: 7,
        ..Opts::default()
    })
    .await;
    let mut c = config(&base, 100);
    c.posters = 2;
    c.rate = 50.0;
    c.seconds = 2.0;
    c.verify = true;
    c.check_json = true;
    c.server_pid = Some(std::process::id());
    let r = run(c).await.unwrap();
    eprintln!("{}", r.to_text());
    assert_eq!(r.fatal, None);
    assert_eq!(r.subscribers_connected, 100);
    assert!((95..=101).contains(&r.posted), "posted {}", r.posted);
    assert_eq!(r.post_errors + r.post_io_errors, 0);
    assert_eq!(r.deliveries_total, r.posted * 100);
    assert_eq!(r.deliveries_expected, r.posted * 100);
    assert_eq!(r.latency_count, r.deliveries_total);
    assert!(r.latency_p50_ms > 0.0 && r.latency_p50_ms <= r.latency_p99_ms);
    assert!(r.latency_p99_ms <= r.latency_max_ms);
    assert_eq!(
        (
            r.gap_events,
            r.duplicates,
            r.events_without_seq,
            r.json_mismatches
        ),
        (0, 0, 0, 0)
    );
    // 1 state event + messages + a reaction every 7th seq.
    assert!(r.last_seq > r.posted);
    assert_eq!(r.events_total, r.last_seq * 100);
    assert_eq!((r.clients_exact, r.clients_failed), (100, 0));
    assert!(r.kb_per_subscriber.is_some() && r.rss_before_kb.is_some());
    let j = r.to_json();
    assert_eq!(j["clients_failed"], 0);
    assert!(j["latency_p99_ms"].is_number());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrival_times_come_from_the_kernel_and_precede_each_read() {
    let (base, _room) = start(Opts::default()).await;
    let mut c = config(&base, 50);
    c.posters = 1;
    c.rate = 40.0;
    c.seconds = 1.0;
    c.verify = true;
    c.arrival_times = true;
    let r = run(c.clone()).await.unwrap();
    eprintln!("{}", r.to_text());
    assert_eq!(r.fatal, None);
    assert_eq!((r.clients_exact, r.clients_failed), (50, 0));
    // Every timed delivery also has its arrival time, and a byte arrives before it is read.
    assert_eq!(r.arrival_count, r.latency_count);
    assert!(r.arrival_count > 0);
    assert!(r.arrival_p50_ms > 0.0 && r.arrival_p50_ms <= r.latency_p50_ms);
    assert!(r.arrival_p99_ms <= r.latency_p99_ms);
    assert_eq!(r.to_json()["arrival_count"], r.arrival_count);
    // Off by default: no second histogram.
    c.arrival_times = false;
    let r = run(c).await.unwrap();
    assert_eq!((r.clients_exact, r.arrival_count), (50, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_with_last_event_id_verifies() {
    let (base, _room) = start(Opts {
        crlf: true,
        reaction_every: 5,
        ..Opts::default()
    })
    .await;
    let mut c = config(&base, 150);
    c.mode = Mode::Push;
    c.posters = 2;
    c.seconds = 2.0;
    c.storm = 100;
    let r = run(c).await.unwrap();
    eprintln!("{}", r.to_text());
    assert!(r.posted > 20);
    assert_eq!(r.storm_kicks_sent, 100);
    assert_eq!(r.storm_forced_reconnects, 100);
    assert!(r.verify && r.drained);
    assert_eq!(
        (r.clients_exact, r.clients_failed),
        (150, 0),
        "{:?}",
        r.failure_examples
    );
    assert_eq!(r.deliveries_total, r.posted * 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_with_after_query_and_server_drops() {
    let (base, _room) = start(Opts {
        drop_after_writes: Some(15),
        ..Opts::default()
    })
    .await;
    let mut c = config(&base, 60);
    c.posters = 1;
    c.rate = 40.0;
    c.seconds = 2.0;
    c.storm = 30;
    c.resume = ResumeBy::Query;
    let r = run(c).await.unwrap();
    eprintln!("{}", r.to_text());
    assert!(r.unplanned_reconnects > 0, "the fixture drops streams");
    assert_eq!(
        (r.clients_exact, r.clients_failed),
        (60, 0),
        "{:?}",
        r.failure_examples
    );
    assert_eq!(r.duplicates + r.gap_events, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_catches_duplicate_on_resume() {
    let (base, _room) = start(Opts {
        replay_includes_last: true,
        ..Opts::default()
    })
    .await;
    let mut c = config(&base, 40);
    c.rate = 40.0;
    c.seconds = 1.5;
    c.storm = 10;
    let r = run(c).await.unwrap();
    assert_eq!(r.storm_forced_reconnects, 10);
    assert_eq!(r.duplicates, 10);
    assert_eq!(r.clients_failed, 10, "{:?}", r.failure_examples);
    assert!(
        r.failure_examples[0].contains("1 duplicates"),
        "{:?}",
        r.failure_examples
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_catches_gap_on_resume() {
    let (base, _room) = start(Opts {
        resume_skips_one: true,
        ..Opts::default()
    })
    .await;
    let mut c = config(&base, 40);
    c.rate = 40.0;
    c.seconds = 1.5;
    c.storm = 10;
    let r = run(c).await.unwrap();
    assert_eq!(r.gap_events, 10);
    assert_eq!(r.missing_seqs, 10);
    assert_eq!(r.clients_failed, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_token_is_fatal_not_a_hang() {
    let (base, _room) = start(Opts::default()).await;
    let mut c = config(&base, 5);
    c.token = Some("wrong".into());
    c.seconds = 5.0;
    c.rate = 50.0;
    let t = std::time::Instant::now();
    let r = run(c).await.unwrap();
    assert_eq!(r.posted, 0);
    assert!(r.fatal.is_some());
    assert!(
        r.errors.iter().any(|(m, _)| m.contains("HTTP 401")),
        "{:?}",
        r.errors
    );
    assert!(t.elapsed() < Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_events_path_is_reported() {
    let (base, _room) = start(Opts::default()).await;
    let mut c = config(&base, 3);
    c.events_url = Url::parse(&format!("{base}/nope")).unwrap();
    c.posters = 0;
    c.seconds = 0.2;
    c.ramp_timeout = Duration::from_secs(1);
    c.connect_deadline = Duration::from_secs(2);
    let r = run(c).await.unwrap();
    assert_eq!(r.subscribers_connected, 0);
    assert!(r.fatal.is_some());
    assert!(
        r.errors.iter().any(|(m, _)| m.contains("HTTP 404")),
        "{:?}",
        r.errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_non_loopback_targets() {
    let c = config("http://192.0.2.1:9", 1);
    let e = run(c).await.unwrap_err();
    assert!(e.contains("non-loopback"), "{e}");
}
