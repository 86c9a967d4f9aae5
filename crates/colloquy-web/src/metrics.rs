//! Prometheus metrics: request counts and latency by route, pool and job-queue gauges.

use crate::SharedState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Instant;

fn handle() -> &'static PrometheusHandle {
    static H: OnceLock<PrometheusHandle> = OnceLock::new();
    H.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ],
            )
            .expect("static buckets")
            .build_recorder();
        let h = recorder.handle();
        // Several apps in one process (tests) share the one global recorder.
        let _ = metrics::set_global_recorder(recorder);
        h
    })
}

pub fn init() {
    handle();
}

/// The metric handles of one (route, method, status), looked up once: the registry lookup
/// with its label strings cost more than the cached page itself.
type Handles = (metrics::Counter, metrics::Histogram);
type HandleCache = RwLock<HashMap<(String, String, u16), Handles>>;

fn handles(route: &str, method: &str, status: u16) -> Handles {
    static CACHE: OnceLock<HandleCache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (route.to_owned(), method.to_owned(), status);
    if let Some(h) = cache.read().ok().and_then(|m| m.get(&key).cloned()) {
        return h;
    }
    let h = (
        metrics::counter!("http_requests_total", "route" => route.to_owned(), "method" => method.to_owned(), "status" => status.to_string()),
        metrics::histogram!("http_request_duration_seconds", "route" => route.to_owned()),
    );
    if let Ok(mut m) = cache.write() {
        // Routes, methods and statuses are few; the bound keeps odd methods from growing it.
        if m.len() < 4096 {
            m.insert(key, h.clone());
        }
    }
    h
}

pub async fn track(req: Request, next: Next) -> Response {
    let route: std::borrow::Cow<'static, str> = match req.extensions().get::<MatchedPath>() {
        Some(m) => m.as_str().to_owned().into(),
        None => "public".into(),
    };
    let method = req.method().clone();
    let start = Instant::now();
    let res = next.run(req).await;
    record(&route, &method, res.status().as_u16(), start);
    res
}

/// Counts one answered request and its time since `start`.
pub fn record(route: &str, method: &axum::http::Method, status: u16, start: Instant) {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(String, axum::http::Method, u16, Handles)>> = const { std::cell::RefCell::new(None) };
    }
    // Most requests repeat the previous one's labels: reuse its handles without a lookup.
    let h = LAST.with(|l| {
        let mut l = l.borrow_mut();
        match &*l {
            Some((r, m, s, h)) if r == route && m == method && *s == status => h.clone(),
            _ => {
                let h = handles(route, method.as_str(), status);
                *l = Some((route.to_owned(), method.clone(), status, h.clone()));
                h
            }
        }
    });
    h.0.increment(1);
    h.1.record(start.elapsed().as_secs_f64());
}

/// Folds recorded histogram samples into their buckets. Without it the samples of requests
/// that no scrape has read yet pile up in memory.
pub fn upkeep() {
    handle().run_upkeep();
}

pub async fn scrape(State(state): State<SharedState>) -> Response {
    let (size, idle) = state.store.pool_size();
    metrics::gauge!("db_pool_connections").set(size as f64);
    metrics::gauge!("db_pool_idle_connections").set(idle as f64);
    if let Ok(s) = state.store.job_stats().await {
        metrics::gauge!("job_queue_depth", "status" => "queued").set(s.queued as f64);
        metrics::gauge!("job_queue_depth", "status" => "running").set(s.running as f64);
        metrics::gauge!("job_queue_depth", "status" => "dead").set(s.dead as f64);
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle().render(),
    )
        .into_response()
}
