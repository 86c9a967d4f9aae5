//! The HTTP/1.1 connection loop of one HTTP thread. Every request goes to the application
//! router, except one kind: an anonymous reader's `GET` of a page the cache holds is answered
//! here, from bytes and headers prepared when the page was rendered, without routing or
//! middleware (that work cost as much as the rest of serving such a page).

use crate::{metrics, SharedState};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use futures_util::future::Either;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
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
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            let started = Instant::now();
            match crate::routes::cached_page(&state, &req) {
                Some(res) => {
                    metrics::record("public", req.method(), res.status().as_u16(), started);
                    Either::Left(std::future::ready(Ok::<_, Infallible>(res)))
                }
                None => {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    Either::Right(router.clone().oneshot(req.map(Body::new)))
                }
            }
        });
        let mut stop = stop.clone();
        let open = open_tx.subscribe();
        tokio::spawn(async move {
            let _open = open;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(tcp), service);
            tokio::pin!(conn);
            let stopping = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            let result = tokio::select! {
                r = conn.as_mut() => r,
                () = stopping => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    open_tx.closed().await;
    Ok(())
}
