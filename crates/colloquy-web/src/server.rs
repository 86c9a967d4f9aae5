//! The HTTP/1.1 connection loop of one HTTP thread. Every request goes to the application
//! router, except one kind: an anonymous reader's `GET` of a page the cache holds is answered
//! here, from bytes and headers prepared when the page was rendered, without routing or
//! middleware (that work cost as much as the rest of serving such a page).
//!
//! A connection whose answer turns out to be an event stream (a debate room's readers, who
//! stay for hours and are woken together by the thousand) is handed over to a stream thread
//! once its answer has begun: the HTTP threads then carry only short requests, so a post to
//! a crowded room, or any page, never queues behind the room's readers.

use crate::{metrics, SharedState};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use futures_util::future::Either;
use futures_util::FutureExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// How long a client may take to send a request's head (slow-header clients are cut off).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `listener` until `stop` turns true, then stops accepting, lets every open
/// connection finish the request it is on, and returns once all of them have closed.
pub async fn serve(
    listener: TcpListener,
    state: SharedState,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let router = crate::app(state.clone());
    // Every connection task holds a receiver; `closed()` resolves when the last one ends.
    let (open_tx, _) = watch::channel(());
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            Ok(_) = stop.wait_for(|s| *s) => break,
        };
        // Small writes (a debate event, a keep-alive) go out at once: no Nagle delay behind
        // an unacknowledged earlier write.
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let state = state.clone();
        // Set once this connection answers with an event stream.
        let streaming = Arc::new(AtomicBool::new(false));
        let mark = streaming.clone();
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            let started = Instant::now();
            match crate::routes::cached_page(&state, &req) {
                Some(res) => {
                    metrics::record("public", req.method(), res.status().as_u16(), started);
                    Either::Left(std::future::ready(Ok::<_, Infallible>(res)))
                }
                None => {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    let mark = mark.clone();
                    Either::Right(router.clone().oneshot(req.map(Body::new)).map(move |r| {
                        if let Ok(res) = &r {
                            if is_event_stream(res) {
                                mark.store(true, Ordering::Release);
                            }
                        }
                        r
                    }))
                }
            }
        });
        let stop = stop.clone();
        let open = open_tx.subscribe();
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(tcp), service);
            let mut conn: Pin<Box<_>> = Box::pin(conn);
            // Serve here until the connection ends, its answer is an event stream, or the
            // node stops.
            let until_stream = std::future::poll_fn(|cx| match conn.as_mut().poll(cx) {
                Poll::Ready(r) => Poll::Ready(Some(r)),
                Poll::Pending if streaming.load(Ordering::Acquire) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            });
            let mut watch_stop = stop.clone();
            let stopping = async move {
                let _ = watch_stop.wait_for(|s| *s).await;
            };
            let is_stream = tokio::select! {
                r = until_stream => match r {
                    Some(result) => return log_end(result, peer),
                    None => true,
                },
                () = stopping => false,
            };
            let rest = finish(conn, stop, peer, open);
            if is_stream {
                // The stream (its socket stays registered with this thread's poller) goes on
                // on the stream runtime, which also keeps the connection counted as open.
                stream_threads().spawn(rest);
            } else {
                rest.await;
            }
        });
    }
    drop(listener);
    open_tx.closed().await;
    Ok(())
}

/// Whether an answer is a Server-Sent Events stream.
fn is_event_stream(res: &axum::response::Response) -> bool {
    res.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

/// Serves a connection to its end, shutting it down gracefully when the node stops.
async fn finish<C>(
    mut conn: Pin<Box<C>>,
    mut stop: watch::Receiver<bool>,
    peer: SocketAddr,
    open: watch::Receiver<()>,
) where
    C: Future<Output = hyper::Result<()>> + GracefulShutdown + ?Sized,
{
    let _open = open;
    let stopping = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = stopping => {
            conn.as_mut().shutdown_gracefully();
            conn.as_mut().await
        }
    };
    log_end(result, peer);
}

/// hyper's graceful shutdown, for a connection behind a `Pin<Box<_>>`.
trait GracefulShutdown {
    fn shutdown_gracefully(self: Pin<&mut Self>);
}

impl<I, S> GracefulShutdown for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S::ResBody: hyper::body::Body + 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn shutdown_gracefully(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

fn log_end(result: hyper::Result<()>, peer: SocketAddr) {
    if let Err(e) = result {
        tracing::debug!(error = %e, %peer, "connection ended with an error");
    }
}

/// How much lower than the rest of the process the stream threads run (a Unix nice value).
/// Writing to thousands of readers is bulk work that can always go on a moment later; a
/// post, a page or a database answer waiting for a core behind it cannot (on a saturated
/// node, a post reaches a crowded room's readers sooner with it; see bench/live/README.md).
const STREAM_NICE: i32 = 5;

/// Lowers the calling thread's scheduling priority by `STREAM_NICE` from where it is (on
/// Linux, `nice` acts on the calling thread). Lowering one's own priority needs no
/// privilege; if it fails anyway, the thread keeps its priority, which only makes readers
/// slower to be written to under load.
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: nice takes a plain integer and touches no memory of ours.
        if unsafe { libc::nice(STREAM_NICE) } == -1 {
            // -1 may also be the new nice value itself; then this is a stale error.
            tracing::debug!(error = %std::io::Error::last_os_error(), "could not lower a stream thread's priority");
        }
    }
}

/// The threads that carry event streams: one multi-threaded runtime with a worker per core,
/// at a lower priority than the rest (see `STREAM_NICE`), started on first use and kept for
/// the life of the process. (One single-threaded runtime per core, with streams dealt round
/// them, left one core's readers tens of milliseconds behind whenever the system scheduler
/// crowded that thread; a shared runtime lets an idle worker take over.)
fn stream_threads() -> &'static tokio::runtime::Runtime {
    static THREADS: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    THREADS.get_or_init(|| {
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 64);
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .thread_name("streams")
            .on_thread_start(yield_to_requests)
            .enable_all()
            .build()
            .expect("a runtime for event streams")
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn own_nice() -> i32 {
        // SAFETY: getpriority reads the calling thread's nice value (`who` 0).
        unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
    }

    #[test]
    fn event_streams_run_below_the_priority_of_requests() {
        let here = own_nice();
        let (tx, rx) = std::sync::mpsc::channel();
        stream_threads().spawn(async move { tx.send(own_nice()).unwrap() });
        let there = rx.recv().unwrap();
        assert_eq!(
            there,
            (here + STREAM_NICE).min(19),
            "a stream thread's nice value"
        );
        assert_eq!(own_nice(), here, "other threads keep theirs");
    }
}
