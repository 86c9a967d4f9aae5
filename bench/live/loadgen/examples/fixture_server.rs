//! TEST FIXTURE for the load generator: a tiny HTTP
//! server that speaks the live-room contract (POST messages -> seq; GET events -> chunked
//! SSE with `id:`/`event:`/`data:`, `: ping` comments, Last-Event-ID / ?after= resume).
//! It exists only to test this tool (splitting, resume, verification); it is not Colloquy
//! and measures nothing about Colloquy. Some variants misbehave on purpose (duplicates on
//! resume, a lost event, dropped streams) to prove the generator catches them.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Clone, Copy, Default)]
pub struct Opts {
    /// Use CRLF line ends in the event stream.
    pub crlf: bool,
    /// Bug: a resumed stream starts at the last seen seq again (one duplicate each).
    pub replay_includes_last: bool,
    /// Bug: a resumed stream skips the first event it owes (one gap each).
    pub resume_skips_one: bool,
    /// Close every event stream after this many writes (tests unplanned reconnects).
    pub drop_after_writes: Option<u32>,
    /// Also emit a non-message event after every this many messages.
    pub reaction_every: u64,
    /// Keep-alive comment interval when idle (0: 300 ms).
    pub ping_ms: u64,
}

pub struct Room {
    log: Mutex<Vec<Arc<str>>>,
    latest: watch::Sender<u64>,
    opts: Opts,
}

impl Room {
    fn push(&self, ty: &str, extra: &str) -> (u64, u64) {
        let mut log = self.log.lock().unwrap();
        let seq = log.len() as u64 + 1;
        let nl = if self.opts.crlf { "\r\n" } else { "\n" };
        let text = format!(
            "id: {seq}{nl}event: {ty}{nl}data: {{\"seq\":{seq},\"type\":\"{ty}\"{extra}}}{nl}{nl}"
        );
        log.push(text.into());
        drop(log);
        self.latest.send_replace(seq);
        (seq, seq + 1000)
    }
}

pub async fn start(opts: Opts) -> (String, Arc<Room>) {
    start_on(opts, 0).await
}

pub async fn start_on(opts: Opts, port: u16) -> (String, Arc<Room>) {
    // A listen backlog like the real server's (std's default is only 128).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(([127, 0, 0, 1], port).into()).unwrap();
    let listener: TcpListener = socket.listen(1024).unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, _) = watch::channel(0);
    let room = Arc::new(Room {
        log: Mutex::new(Vec::new()),
        latest: tx,
        opts,
    });
    room.push("state", ",\"state\":\"live\"");
    let r = room.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(conn(s, r.clone()));
        }
    });
    (format!("http://{addr}"), room)
}

async fn read_request(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> Option<(String, String, Vec<(String, String)>, Vec<u8>)> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let mut first = lines.next()?.split(' ');
            let method = first.next()?.to_string();
            let target = first.next()?.to_string();
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let mut tmp = [0u8; 4096];
                let n = s.read(&mut tmp).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&tmp[..n]);
            }
            let body = buf[end + 4..end + 4 + len].to_vec();
            buf.drain(..end + 4 + len);
            return Some((method, target, headers, body));
        }
        let mut tmp = [0u8; 4096];
        let n = s.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

async fn respond(s: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let r = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(r.as_bytes()).await
}

async fn conn(mut s: TcpStream, room: Arc<Room>) {
    let _ = s.set_nodelay(true);
    let mut buf = Vec::new();
    while let Some((method, target, headers, body)) = read_request(&mut s, &mut buf).await {
        let h = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        match (method.as_str(), path) {
            ("POST", "/api/v1/debates/1/messages") => {
                if h("authorization").as_deref() != Some("Bearer tok") {
                    let _ = respond(
                        &mut s,
                        "401 Unauthorized",
                        r#"{"error":{"code":"unauthorized","message":"no"}}"#,
                    )
                    .await;
                    continue;
                }
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let text = v["body"].as_str().unwrap().to_string();
                let extra = format!(
                    ",\"id\":{},\"body\":{}",
                    room.log.lock().unwrap().len() + 1001,
                    serde_json::Value::String(text)
                );
                let (seq, id) = room.push("message", &extra);
                if room.opts.reaction_every > 0 && seq % room.opts.reaction_every == 0 {
                    room.push("reaction", ",\"emoji\":\"+1\"");
                }
                if respond(
                    &mut s,
                    "201 Created",
                    &format!("{{\"id\":{id},\"seq\":{seq}}}"),
                )
                .await
                .is_err()
                {
                    return;
                }
            }
            ("GET", "/api/v1/debates/1/events") => {
                let after = h("last-event-id")
                    .or_else(|| {
                        query
                            .split('&')
                            .find_map(|kv| kv.strip_prefix("after=").map(str::to_string))
                    })
                    .and_then(|v| v.parse::<u64>().ok());
                stream_events(s, room, after).await;
                return;
            }
            _ => {
                if respond(
                    &mut s,
                    "404 Not Found",
                    r#"{"error":{"code":"not_found","message":"?"}}"#,
                )
                .await
                .is_err()
                {
                    return;
                }
            }
        }
    }
}

async fn stream_events(mut s: TcpStream, room: Arc<Room>, after: Option<u64>) {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";
    if s.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let mut cursor = after.unwrap_or(0);
    if after.is_some() {
        if room.opts.replay_includes_last {
            cursor = cursor.saturating_sub(1);
        }
        if room.opts.resume_skips_one {
            cursor += 1;
        }
    }
    let mut rx = room.latest.subscribe();
    let mut writes = 0u32;
    let mut rng = (cursor + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let ping = if room.opts.crlf {
        ": ping\r\n\r\n"
    } else {
        ": ping\n\n"
    };
    loop {
        let latest = *rx.borrow_and_update();
        let mut text = String::new();
        if latest > cursor {
            let log = room.log.lock().unwrap();
            for e in &log[cursor as usize..latest as usize] {
                text.push_str(e);
            }
            cursor = latest;
        }
        if !text.is_empty() {
            // Cut the text into chunks of random sizes: events split across chunks and
            // several events per chunk, with a keep-alive comment now and then.
            let bytes = text.as_bytes();
            let mut wire = Vec::with_capacity(bytes.len() + 64);
            let mut i = 0;
            while i < bytes.len() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let n = ((1 + rng % 200) as usize).min(bytes.len() - i);
                wire.extend_from_slice(format!("{n:x}\r\n").as_bytes());
                wire.extend_from_slice(&bytes[i..i + n]);
                wire.extend_from_slice(b"\r\n");
                i += n;
                if rng.is_multiple_of(13) && i == bytes.len() {
                    wire.extend_from_slice(format!("{:x}\r\n{ping}\r\n", ping.len()).as_bytes());
                }
            }
            if s.write_all(&wire).await.is_err() {
                return;
            }
            writes += 1;
            if room.opts.drop_after_writes.is_some_and(|d| writes >= d) {
                return; // abrupt close, no terminating chunk
            }
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(Duration::from_millis(if room.opts.ping_ms == 0 { 300 } else { room.opts.ping_ms })) => {
                let c = format!("{:x}\r\n{ping}\r\n", ping.len());
                if s.write_all(c.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// `cargo run --release --example fixture_server -- [PORT] [--crlf]`: serves debate 1 at
/// http://127.0.0.1:PORT/api/v1/debates/1/{events,messages} (token `tok`) until killed.
#[allow(dead_code)]
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = args.iter().find_map(|a| a.parse().ok()).unwrap_or(0);
    let opts = Opts {
        crlf: args.iter().any(|a| a == "--crlf"),
        reaction_every: 10,
        ping_ms: 15_000,
        ..Opts::default()
    };
    let (base, _room) = start_on(opts, port).await;
    println!("{base}");
    std::future::pending::<()>().await;
}
