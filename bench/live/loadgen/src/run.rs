//! The load run: N SSE subscribers, K posters, an optional reconnect storm, and the report.

use crate::chunked::ChunkedDecoder;
use crate::hist::Histogram;
use crate::http::{read_head, BodyKind, Client, Head, Url};
use crate::procfs;
use crate::sse::{bench_nanos, json_seq, parse_u64, Event, SseParser};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

const READ_BUF: usize = 8 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A fixed total rate of messages per second, spread over the posters.
    Rate,
    /// Each poster posts again as soon as its previous post is answered (closed loop).
    Push,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Rate => "rate",
            Mode::Push => "push",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResumeBy {
    /// `Last-Event-ID: <seq>` request header.
    Header,
    /// `?after=<seq>` query parameter.
    Query,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub events_url: Url,
    /// Where posters send `POST` (the debate's `/messages`); needed when `posters > 0`.
    pub messages_url: Option<Url>,
    pub token: Option<String>,
    pub subscribers: usize,
    pub posters: usize,
    pub mode: Mode,
    /// Total messages per second in rate mode.
    pub rate: f64,
    /// Length of the posting phase.
    pub seconds: f64,
    /// Forced disconnect + resume count during the phase.
    pub storm: usize,
    /// Check every client got exactly 1..=last seq (always on with `storm > 0`).
    pub verify: bool,
    pub server_pid: Option<u32>,
    /// Connections opened per ramp step (the next step waits for these to connect).
    pub ramp: usize,
    pub ramp_timeout: Duration,
    /// Connection attempts in flight at once (connect until response head), so that a
    /// server's listen backlog (often 128 or 1024) never overflows.
    pub connect_concurrency: usize,
    /// Give up waiting for more subscribers to connect after this long in total.
    pub connect_deadline: Duration,
    /// Pause after all subscribers are connected (before the memory reading).
    pub settle: Duration,
    /// After posting stops: wait at most this long for every client to catch up.
    pub drain: Duration,
    pub resume: ResumeBy,
    /// Send the bearer token on event-stream requests too.
    pub subscriber_auth: bool,
    /// Parse every event's JSON and check `seq`/`type` against `id:`/`event:`.
    pub check_json: bool,
    /// Also measure post-to-arrival: when each read's bytes reached this machine's socket
    /// (the kernel's receive timestamp), which leaves out how long the generator itself took
    /// to come round to reading them. Costs one more system call per read.
    pub arrival_times: bool,
    pub io_timeout: Duration,
    /// No progress lines on stderr.
    pub quiet: bool,
    /// Seed for the storm's choice of subscribers.
    pub seed: u64,
}

impl Config {
    pub fn new(events_url: Url) -> Config {
        Config {
            events_url,
            messages_url: None,
            token: None,
            subscribers: 10_000,
            posters: 1,
            mode: Mode::Rate,
            rate: 20.0,
            seconds: 20.0,
            storm: 0,
            verify: false,
            server_pid: None,
            ramp: 500,
            ramp_timeout: Duration::from_secs(20),
            connect_concurrency: 100,
            connect_deadline: Duration::from_secs(180),
            settle: Duration::from_secs(1),
            drain: Duration::from_secs(10),
            resume: ResumeBy::Header,
            subscriber_auth: false,
            check_json: false,
            arrival_times: false,
            io_timeout: Duration::from_secs(10),
            quiet: false,
            seed: 0x5eed,
        }
    }
}

/// Counters a subscriber task publishes after each read (written by that task only).
#[derive(Default)]
struct SubState {
    notify: Notify,
    kick: AtomicBool,
    connected: AtomicBool,
    ever: AtomicBool,
    last_seq: AtomicU64,
    events: AtomicU64,
    bench: AtomicU64,
    gap_events: AtomicU64,
    missing: AtomicU64,
    dups: AtomicU64,
    no_seq: AtomicU64,
    json_bad: AtomicU64,
    forced: AtomicU64,
    unplanned: AtomicU64,
    connect_failures: AtomicU64,
}

struct Shared {
    connect_sem: Semaphore,
    stop: AtomicBool,
    ever_connected: AtomicUsize,
    connected_now: AtomicUsize,
    abort_posting: AtomicBool,
    errors: Mutex<Vec<(String, u64)>>,
}

impl Shared {
    fn new(connect_concurrency: usize) -> Self {
        Shared {
            connect_sem: Semaphore::new(connect_concurrency.max(1)),
            stop: AtomicBool::new(false),
            ever_connected: AtomicUsize::new(0),
            connected_now: AtomicUsize::new(0),
            abort_posting: AtomicBool::new(false),
            errors: Mutex::new(Vec::new()),
        }
    }

    /// Remembers an error message (first 20 distinct ones, with counts).
    fn note(&self, msg: String) {
        let mut e = self.errors.lock().unwrap();
        if let Some(x) = e.iter_mut().find(|(m, _)| *m == msg) {
            x.1 += 1;
        } else if e.len() < 20 {
            e.push((msg, 1));
        }
    }
}

#[derive(Default)]
struct Local {
    last: u64,
    events: u64,
    bench: u64,
    gap_events: u64,
    missing: u64,
    dups: u64,
    no_seq: u64,
    json_bad: u64,
    hist: Histogram,
    /// Post to kernel arrival (with `arrival_times`).
    arrive: Histogram,
    json_err: Option<String>,
}

impl Local {
    fn publish(&self, s: &SubState) {
        s.last_seq.store(self.last, Relaxed);
        s.events.store(self.events, Relaxed);
        s.bench.store(self.bench, Relaxed);
        s.gap_events.store(self.gap_events, Relaxed);
        s.missing.store(self.missing, Relaxed);
        s.dups.store(self.dups, Relaxed);
        s.no_seq.store(self.no_seq, Relaxed);
        s.json_bad.store(self.json_bad, Relaxed);
    }

    fn on_event(&mut self, ev: Event<'_>, now_ns: u64, arrived_ns: Option<u64>, check_json: bool) {
        let Some(seq) = ev.id.and_then(parse_u64).or_else(|| json_seq(ev.data)) else {
            self.no_seq += 1;
            return;
        };
        self.events += 1;
        if seq == self.last + 1 {
            self.last = seq;
        } else if seq <= self.last {
            self.dups += 1;
            return;
        } else {
            self.gap_events += 1;
            self.missing += seq - self.last - 1;
            self.last = seq;
        }
        if check_json {
            if let Err(e) = check_event_json(&ev, seq) {
                self.json_bad += 1;
                self.json_err.get_or_insert(e);
            }
        }
        if ev.event == b"message" {
            if let Some(sent) = bench_nanos(ev.data) {
                self.bench += 1;
                self.hist.record(now_ns.saturating_sub(sent) / 1000);
                if let Some(at) = arrived_ns {
                    self.arrive.record(at.saturating_sub(sent) / 1000);
                }
            }
        }
    }
}

fn check_event_json(ev: &Event<'_>, seq: u64) -> Result<(), String> {
    let v: serde_json::Value = serde_json::from_slice(ev.data)
        .map_err(|e| format!("event {seq}: data is not JSON: {e}"))?;
    if v.get("seq").and_then(|s| s.as_u64()) != Some(seq) {
        return Err(format!(
            "event {seq}: JSON seq {:?} differs from id",
            v.get("seq")
        ));
    }
    let ty = v.get("type").and_then(|t| t.as_str()).unwrap_or("");
    if ty.as_bytes() != ev.event {
        return Err(format!(
            "event {seq}: JSON type {ty:?} differs from event: {:?}",
            String::from_utf8_lossy(ev.event)
        ));
    }
    if ty == "message"
        && (v.get("id").is_none() || v.get("body").and_then(|b| b.as_str()).is_none())
    {
        return Err(format!("event {seq}: message without id or body"));
    }
    Ok(())
}

pub fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn retry_after(head: &Head) -> Option<Duration> {
    let v: f64 = head.header("retry-after")?.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| Duration::from_secs_f64(v.min(60.0)))
}

enum Outcome {
    Stop,
    Kicked,
    Closed(String),
}

/// Opens one event stream; on failure returns the error and any `Retry-After`.
async fn open_events(
    cfg: &Config,
    addr: SocketAddr,
    resume: Option<u64>,
) -> Result<(TcpStream, Head, Vec<u8>), (String, Option<Duration>)> {
    let fut = async {
        let mut s = TcpStream::connect(addr)
            .await
            .map_err(|e| (format!("connect: {e}"), None))?;
        let _ = s.set_nodelay(true);
        if cfg.arrival_times {
            enable_timestamps(&s);
        }
        let url = &cfg.events_url;
        let target = match (resume, cfg.resume) {
            (Some(n), ResumeBy::Query) => url.target_with_query("after", &n.to_string()),
            _ => url.target.clone(),
        };
        let mut req = format!(
            "GET {target} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n",
            url.host_header()
        );
        if let (Some(n), ResumeBy::Header) = (resume, cfg.resume) {
            req.push_str(&format!("Last-Event-ID: {n}\r\n"));
        }
        if cfg.subscriber_auth {
            if let Some(t) = &cfg.token {
                req.push_str(&format!("Authorization: Bearer {t}\r\n"));
            }
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| (format!("send request: {e}"), None))?;
        let mut buf = Vec::new();
        let head = read_head(&mut s, &mut buf)
            .await
            .map_err(|e| (format!("response head: {e}"), None))?;
        if head.status != 200 {
            return Err((format!("events: HTTP {}", head.status), retry_after(&head)));
        }
        Ok((s, head, buf))
    };
    match tokio::time::timeout(cfg.io_timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(("events: connect/head timed out".into(), None)),
    }
}

struct StreamDecoder {
    chunked: Option<ChunkedDecoder>,
    sse: SseParser,
}

impl StreamDecoder {
    fn new(kind: BodyKind) -> Self {
        StreamDecoder {
            chunked: (kind == BodyKind::Chunked).then(ChunkedDecoder::new),
            sse: SseParser::new(),
        }
    }

    /// Returns true when the body has ended (last chunk seen).
    fn feed(&mut self, input: &[u8], mut f: impl FnMut(Event<'_>)) -> Result<bool, String> {
        match &mut self.chunked {
            Some(d) => {
                let sse = &mut self.sse;
                d.decode_with(input, |data| sse.feed(data, &mut f))
                    .map_err(|e| e.to_string())?;
                Ok(d.is_done())
            }
            None => {
                self.sse.feed(input, &mut f);
                Ok(false)
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn read_events(
    cfg: &Config,
    mut stream: TcpStream,
    head: Head,
    leftover: Vec<u8>,
    rbuf: &mut [u8],
    local: &mut Local,
    me: &SubState,
    shared: &Shared,
) -> Outcome {
    let mut dec = StreamDecoder::new(head.body);
    let check = cfg.check_json;
    if !leftover.is_empty() {
        let now = unix_nanos();
        match dec.feed(&leftover, |ev| local.on_event(ev, now, None, check)) {
            Ok(false) => {}
            Ok(true) => return Outcome::Closed("event stream ended".into()),
            Err(e) => return Outcome::Closed(e),
        }
        local.publish(me);
    }
    let notified = me.notify.notified();
    tokio::pin!(notified);
    loop {
        if shared.stop.load(Relaxed) {
            return Outcome::Stop;
        }
        if me.kick.swap(false, Relaxed) {
            return Outcome::Kicked;
        }
        tokio::select! {
            biased;
            _ = &mut notified => {
                notified.set(me.notify.notified());
            }
            r = read_some(&mut stream, rbuf, cfg.arrival_times) => match r {
                Ok((0, _)) => return Outcome::Closed("server closed the event stream".into()),
                Ok((n, arrived)) => {
                    let now = unix_nanos();
                    let r = dec.feed(&rbuf[..n], |ev| local.on_event(ev, now, arrived, check));
                    local.publish(me);
                    match r {
                        Ok(false) => {}
                        Ok(true) => return Outcome::Closed("event stream ended".into()),
                        Err(e) => return Outcome::Closed(e),
                    }
                }
                Err(e) => return Outcome::Closed(format!("read: {e}")),
            }
        }
    }
}

/// One read; with `arrival`, also the kernel's receive timestamp of the bytes read (Unix ns).
async fn read_some(
    stream: &mut TcpStream,
    buf: &mut [u8],
    arrival: bool,
) -> std::io::Result<(usize, Option<u64>)> {
    if !arrival {
        return stream.read(buf).await.map(|n| (n, None));
    }
    use std::os::fd::AsRawFd;
    let fd = stream.as_raw_fd();
    stream
        .async_io(tokio::io::Interest::READABLE, || {
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            let mut control = [0u64; 16];
            // SAFETY: a zeroed msghdr is valid; its pointers are set to live buffers below.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&control) as _;
            // SAFETY: fd is this stream's open socket; msg points at buffers that outlive
            // the call.
            let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
            if n < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut at = None;
            // SAFETY: the control buffer was filled by the kernel; the CMSG macros walk it
            // within msg_controllen.
            unsafe {
                let mut c = libc::CMSG_FIRSTHDR(&msg);
                while !c.is_null() {
                    if (*c).cmsg_level == libc::SOL_SOCKET
                        && (*c).cmsg_type == libc::SCM_TIMESTAMPNS
                    {
                        let t: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                        at = Some(t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64);
                    }
                    c = libc::CMSG_NXTHDR(&msg, c);
                }
            }
            Ok((n as usize, at))
        })
        .await
}

/// Asks the kernel to stamp each received segment with its arrival time.
fn enable_timestamps(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a plain setsockopt on this stream's socket with an int option.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as _,
        );
    }
}

async fn subscriber(
    cfg: Arc<Config>,
    addr: SocketAddr,
    me: Arc<SubState>,
    shared: Arc<Shared>,
    jitter_seed: u64,
) -> (Histogram, Histogram, Option<String>) {
    let mut local = Local::default();
    let mut rbuf = vec![0u8; READ_BUF];
    let mut failures: u32 = 0;
    let mut rng = jitter_seed | 1;
    while !shared.stop.load(Relaxed) {
        let resume = (local.last > 0).then_some(local.last);
        let opened = {
            let _permit = shared.connect_sem.acquire().await;
            open_events(&cfg, addr, resume).await
        };
        let (stream, head, leftover) = match opened {
            Ok(x) => x,
            Err((e, retry)) => {
                failures += 1;
                me.connect_failures.fetch_add(1, Relaxed);
                shared.note(e);
                let base = 25u64 << failures.min(6);
                let backoff = retry
                    .unwrap_or(Duration::from_millis(base.min(2000)))
                    .saturating_add(Duration::from_millis(xorshift(&mut rng) % 100));
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = me.notify.notified() => {}
                }
                continue;
            }
        };
        failures = 0;
        if !me.ever.swap(true, Relaxed) {
            shared.ever_connected.fetch_add(1, Relaxed);
        }
        me.connected.store(true, Relaxed);
        shared.connected_now.fetch_add(1, Relaxed);
        let outcome = read_events(
            &cfg, stream, head, leftover, &mut rbuf, &mut local, &me, &shared,
        )
        .await;
        shared.connected_now.fetch_sub(1, Relaxed);
        me.connected.store(false, Relaxed);
        local.publish(&me);
        match outcome {
            Outcome::Stop => break,
            Outcome::Kicked => {
                me.forced.fetch_add(1, Relaxed);
            }
            Outcome::Closed(why) => {
                if shared.stop.load(Relaxed) {
                    break;
                }
                me.unplanned.fetch_add(1, Relaxed);
                shared.note(format!("unplanned disconnect: {why}"));
                let pause = Duration::from_millis(10 + xorshift(&mut rng) % 50);
                tokio::time::sleep(pause).await;
            }
        }
    }
    local.publish(&me);
    (local.hist, local.arrive, local.json_err)
}

fn xorshift(s: &mut u64) -> u64 {
    let mut x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    x
}

#[derive(Default)]
struct PosterResult {
    posted: u64,
    errors: u64,
    rate_limited: u64,
    io_errors: u64,
    late: u64,
    max_seq: u64,
    min_seq: Option<u64>,
    rtt: Histogram,
    connects: u64,
}

#[allow(clippy::too_many_arguments)]
async fn poster(
    idx: usize,
    cfg: Arc<Config>,
    addr: SocketAddr,
    url: Url,
    shared: Arc<Shared>,
    t0: Instant,
    end: Instant,
) -> PosterResult {
    let mut r = PosterResult::default();
    let mut client = Client::new(addr, url.host_header(), cfg.io_timeout);
    let mut headers =
        String::from("Content-Type: application/json\r\nAccept: application/json\r\n");
    if let Some(t) = &cfg.token {
        headers.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let k = cfg.posters.max(1) as f64;
    let mut j: u64 = 0;
    loop {
        if cfg.mode == Mode::Rate {
            let due = t0 + Duration::from_secs_f64((idx as f64 + j as f64 * k) / cfg.rate);
            if due >= end {
                break;
            }
            let now = Instant::now();
            if now > due + Duration::from_millis(10) {
                r.late += 1;
            } else {
                tokio::time::sleep_until(due.into()).await;
            }
        } else if Instant::now() >= end {
            break;
        }
        j += 1;
        if shared.abort_posting.load(Relaxed) {
            break;
        }
        let body = format!(r#"{{"body":"bench {}","kind":"message"}}"#, unix_nanos());
        let sent = Instant::now();
        match client
            .request("POST", &url.target, &headers, body.as_bytes())
            .await
        {
            Ok(resp) if resp.head.status == 201 || resp.head.status == 200 => {
                r.rtt.record(sent.elapsed().as_micros() as u64);
                r.posted += 1;
                if let Some(seq) = serde_json::from_slice::<serde_json::Value>(&resp.body)
                    .ok()
                    .and_then(|v| v.get("seq").and_then(|s| s.as_u64()))
                {
                    r.max_seq = r.max_seq.max(seq);
                    r.min_seq = Some(r.min_seq.map_or(seq, |m| m.min(seq)));
                }
            }
            Ok(resp) if resp.head.status == 429 => {
                r.rate_limited += 1;
                let wait = retry_after(&resp.head).unwrap_or(Duration::from_millis(200));
                let until = (Instant::now() + wait).min(end);
                tokio::time::sleep_until(until.into()).await;
            }
            Ok(resp) => {
                r.errors += 1;
                let text = String::from_utf8_lossy(&resp.body);
                let text: String = text.chars().take(300).collect();
                shared.note(format!("POST messages: HTTP {}: {text}", resp.head.status));
                if r.posted == 0 && r.errors >= 3 {
                    // Nothing has worked: a setup problem (token, code of conduct, room state).
                    shared.abort_posting.store(true, Relaxed);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => {
                r.io_errors += 1;
                shared.note(format!("POST messages: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    r.connects = client.connects;
    r
}

async fn storm(
    subs: Arc<Vec<Arc<SubState>>>,
    m: usize,
    start: Instant,
    span: Duration,
    seed: u64,
) -> u64 {
    let n = subs.len();
    if n == 0 || m == 0 {
        return 0;
    }
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = seed | 1;
    for i in (1..n).rev() {
        let j = (xorshift(&mut rng) % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let mut pos = 0usize;
    let mut sent = 0u64;
    for k in 0..m {
        let at = start + span.mul_f64(k as f64 / m as f64);
        tokio::time::sleep_until(at.into()).await;
        // The next subscriber in the shuffled order that is connected and not yet kicked.
        for _ in 0..n {
            let s = &subs[order[pos % n]];
            pos += 1;
            if s.connected.load(Relaxed) && !s.kick.load(Relaxed) {
                s.kick.store(true, Relaxed);
                s.notify.notify_one();
                sent += 1;
                break;
            }
        }
    }
    sent
}

async fn wait_for(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn sum(subs: &[Arc<SubState>], f: impl Fn(&SubState) -> u64) -> u64 {
    subs.iter().map(|s| f(s)).sum()
}

fn max_last(subs: &[Arc<SubState>]) -> u64 {
    subs.iter()
        .map(|s| s.last_seq.load(Relaxed))
        .max()
        .unwrap_or(0)
}

/// Everything the run measured. Times in milliseconds unless named otherwise.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub mode: String,
    pub subscribers_requested: usize,
    pub subscribers_connected: usize,
    pub connected_at_phase_start: usize,
    pub connect_secs: f64,
    pub connect_failures: u64,
    pub posters: usize,
    pub rate: f64,
    pub seconds: f64,
    pub phase_secs: f64,
    pub posted: u64,
    pub post_errors: u64,
    pub post_rate_limited: u64,
    pub post_io_errors: u64,
    pub post_late: u64,
    pub post_connects: u64,
    pub post_rtt_p50_ms: f64,
    pub post_rtt_p99_ms: f64,
    pub posts_per_sec: f64,
    pub seq_before_phase: u64,
    pub last_seq: u64,
    pub deliveries_total: u64,
    pub deliveries_expected: u64,
    pub deliveries_in_phase: u64,
    pub deliveries_per_sec: f64,
    pub drain_secs: f64,
    pub drained: bool,
    pub latency_count: u64,
    pub latency_p50_ms: f64,
    pub latency_p90_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    pub latency_mean_ms: f64,
    /// Post to kernel arrival at the generator's socket (`--arrival-times`), p50/p99.
    pub arrival_count: u64,
    pub arrival_p50_ms: f64,
    pub arrival_p99_ms: f64,
    pub events_total: u64,
    pub gap_events: u64,
    pub missing_seqs: u64,
    pub duplicates: u64,
    pub events_without_seq: u64,
    pub json_mismatches: u64,
    pub unplanned_reconnects: u64,
    pub storm_requested: usize,
    pub storm_kicks_sent: u64,
    pub storm_forced_reconnects: u64,
    pub verify: bool,
    pub clients_exact: usize,
    pub clients_failed: usize,
    pub failure_examples: Vec<String>,
    pub rss_before_kb: Option<u64>,
    pub rss_connected_kb: Option<u64>,
    pub rss_after_kb: Option<u64>,
    pub rss_peak_kb: Option<u64>,
    pub kb_per_subscriber: Option<f64>,
    pub kb_per_subscriber_after: Option<f64>,
    pub server_cpu_pct: Option<f64>,
    pub loadgen_cpu_pct: Option<f64>,
    pub errors: Vec<(String, u64)>,
    /// Set when the run could not measure what it was asked to (nothing connected, no post
    /// accepted).
    pub fatal: Option<String>,
}

fn ms(us: u64) -> f64 {
    (us as f64 / 10.0).round() / 100.0
}

fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Report {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "mode": self.mode,
            "subscribers_requested": self.subscribers_requested,
            "subscribers_connected": self.subscribers_connected,
            "connected_at_phase_start": self.connected_at_phase_start,
            "connect_secs": r2(self.connect_secs),
            "connect_failures": self.connect_failures,
            "posters": self.posters,
            "rate": self.rate,
            "seconds": self.seconds,
            "phase_secs": r2(self.phase_secs),
            "posted": self.posted,
            "posts_per_sec": r2(self.posts_per_sec),
            "post_errors": self.post_errors,
            "post_rate_limited": self.post_rate_limited,
            "post_io_errors": self.post_io_errors,
            "post_late": self.post_late,
            "post_connects": self.post_connects,
            "post_rtt_p50_ms": self.post_rtt_p50_ms,
            "post_rtt_p99_ms": self.post_rtt_p99_ms,
            "seq_before_phase": self.seq_before_phase,
            "last_seq": self.last_seq,
            "deliveries_total": self.deliveries_total,
            "deliveries_expected": self.deliveries_expected,
            "deliveries_in_phase": self.deliveries_in_phase,
            "deliveries_per_sec": r2(self.deliveries_per_sec),
            "drain_secs": r2(self.drain_secs),
            "drained": self.drained,
            "latency_count": self.latency_count,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p90_ms": self.latency_p90_ms,
            "latency_p99_ms": self.latency_p99_ms,
            "latency_max_ms": self.latency_max_ms,
            "latency_mean_ms": self.latency_mean_ms,
            "arrival_count": self.arrival_count,
            "arrival_p50_ms": self.arrival_p50_ms,
            "arrival_p99_ms": self.arrival_p99_ms,
            "events_total": self.events_total,
            "gap_events": self.gap_events,
            "missing_seqs": self.missing_seqs,
            "duplicates": self.duplicates,
            "events_without_seq": self.events_without_seq,
            "json_mismatches": self.json_mismatches,
            "unplanned_reconnects": self.unplanned_reconnects,
            "storm_requested": self.storm_requested,
            "storm_kicks_sent": self.storm_kicks_sent,
            "storm_forced_reconnects": self.storm_forced_reconnects,
            "verify": self.verify,
            "clients_exact": self.clients_exact,
            "clients_failed": self.clients_failed,
            "failure_examples": self.failure_examples,
            "rss_before_kb": self.rss_before_kb,
            "rss_connected_kb": self.rss_connected_kb,
            "rss_after_kb": self.rss_after_kb,
            "rss_peak_kb": self.rss_peak_kb,
            "kb_per_subscriber": self.kb_per_subscriber.map(r2),
            "kb_per_subscriber_after": self.kb_per_subscriber_after.map(r2),
            "server_cpu_pct": self.server_cpu_pct.map(r2),
            "loadgen_cpu_pct": self.loadgen_cpu_pct.map(r2),
            "errors": self.errors.iter().map(|(m, n)| serde_json::json!({"message": m, "count": n})).collect::<Vec<_>>(),
            "fatal": self.fatal,
        })
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| format!("{v} KB"));
        let optf =
            |v: Option<f64>, unit: &str| v.map_or("-".to_string(), |v| format!("{v:.2}{unit}"));
        s += &format!(
            "mode                     {} ({} poster{}{})\n",
            self.mode,
            self.posters,
            if self.posters == 1 { "" } else { "s" },
            if self.mode == "rate" {
                format!(", {} msg/s", self.rate)
            } else {
                String::new()
            }
        );
        s += &format!(
            "subscribers              {} of {} connected in {:.1} s ({} at phase start, {} failed attempts)\n",
            self.subscribers_connected, self.subscribers_requested, self.connect_secs,
            self.connected_at_phase_start, self.connect_failures
        );
        s += &format!(
            "posted                   {} in {:.1} s ({:.1}/s; {} errors, {} rate-limited, {} I/O errors, {} late)\n",
            self.posted, self.phase_secs, self.posts_per_sec, self.post_errors,
            self.post_rate_limited, self.post_io_errors, self.post_late
        );
        s += &format!(
            "post round trip          p50 {:.2} ms, p99 {:.2} ms\n",
            self.post_rtt_p50_ms, self.post_rtt_p99_ms
        );
        s += &format!(
            "deliveries               {} of {} expected ({} during the phase: {:.0}/s); drain {:.1} s{}\n",
            self.deliveries_total, self.deliveries_expected, self.deliveries_in_phase,
            self.deliveries_per_sec, self.drain_secs,
            if self.drained { "" } else { " (not everyone caught up)" }
        );
        s += &format!(
            "post-to-receive latency  p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)\n",
            self.latency_p50_ms, self.latency_p90_ms, self.latency_p99_ms, self.latency_max_ms,
            self.latency_count
        );
        if self.arrival_count > 0 {
            s += &format!(
                "post-to-arrival          p50 {:.2} ms, p99 {:.2} ms (kernel receive time, before the generator read it)\n",
                self.arrival_p50_ms, self.arrival_p99_ms
            );
        }
        s += &format!(
            "sequence                 last seq {} (was {} before the phase); {} events; {} gaps ({} seqs missing), {} duplicates, {} without seq{}\n",
            self.last_seq, self.seq_before_phase, self.events_total, self.gap_events,
            self.missing_seqs, self.duplicates, self.events_without_seq,
            if self.json_mismatches > 0 { format!(", {} JSON mismatches", self.json_mismatches) } else { String::new() }
        );
        s += &format!("unplanned reconnects     {}\n", self.unplanned_reconnects);
        if self.storm_requested > 0 {
            s += &format!(
                "storm                    {} requested, {} kicks sent, {} forced reconnects done\n",
                self.storm_requested, self.storm_kicks_sent, self.storm_forced_reconnects
            );
        }
        if self.verify {
            s += &format!(
                "verification             {} clients exact 1..={}, {} failed{}\n",
                self.clients_exact,
                self.last_seq,
                self.clients_failed,
                if self.failure_examples.is_empty() {
                    String::new()
                } else {
                    format!(" (e.g. {})", self.failure_examples.join("; "))
                }
            );
        }
        s += &format!(
            "server memory            before {}, connected {}, after phase {}, peak {}\n",
            opt(self.rss_before_kb),
            opt(self.rss_connected_kb),
            opt(self.rss_after_kb),
            opt(self.rss_peak_kb)
        );
        s += &format!(
            "memory per subscriber    {} (after the phase {})\n",
            optf(self.kb_per_subscriber, " KB"),
            optf(self.kb_per_subscriber_after, " KB")
        );
        s += &format!(
            "CPU during the phase     server {}, load generator {}\n",
            optf(self.server_cpu_pct, " %"),
            optf(self.loadgen_cpu_pct, " %")
        );
        for (m, n) in &self.errors {
            s += &format!("error ({n}x)              {m}\n");
        }
        if let Some(f) = &self.fatal {
            s += &format!("FATAL                    {f}\n");
        }
        s
    }
}

/// Runs one measurement as configured.
pub async fn run(cfg: Config) -> Result<Report, String> {
    let cfg = Arc::new(cfg);
    let say = |m: String| {
        if !cfg.quiet {
            eprintln!("[loadgen] {m}");
        }
    };
    let events_addr = cfg.events_url.resolve().await?;
    if !events_addr.ip().is_loopback() {
        return Err(format!(
            "refusing non-loopback target {events_addr}: this tool only loads local servers"
        ));
    }
    let messages = match (&cfg.messages_url, cfg.posters) {
        (_, 0) => None,
        (None, _) => {
            return Err("posters need the messages URL (--debate-id or --messages-url)".into())
        }
        (Some(u), _) => {
            let a = u.resolve().await?;
            if !a.ip().is_loopback() {
                return Err(format!("refusing non-loopback target {a}"));
            }
            Some((u.clone(), a))
        }
    };
    if cfg.mode == Mode::Rate && cfg.posters > 0 && cfg.rate <= 0.0 {
        return Err("--rate must be positive".into());
    }
    let verify = cfg.verify || cfg.storm > 0;
    let pid = cfg.server_pid;
    let me_pid = std::process::id();
    let rss_before = pid.and_then(procfs::rss_kb);

    // 1. Subscribers, ramped up a step at a time.
    let shared = Arc::new(Shared::new(cfg.connect_concurrency));
    let n = cfg.subscribers;
    let subs: Arc<Vec<Arc<SubState>>> =
        Arc::new((0..n).map(|_| Arc::new(SubState::default())).collect());
    let mut handles: Vec<JoinHandle<(Histogram, Histogram, Option<String>)>> =
        Vec::with_capacity(n);
    let t_connect = Instant::now();
    let connect_deadline = t_connect + cfg.connect_deadline;
    let step = cfg.ramp.max(1);
    let mut spawned = 0;
    while spawned < n {
        let upto = (spawned + step).min(n);
        for (i, s) in subs.iter().enumerate().take(upto).skip(spawned) {
            handles.push(tokio::spawn(subscriber(
                cfg.clone(),
                events_addr,
                s.clone(),
                shared.clone(),
                cfg.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            )));
        }
        spawned = upto;
        let deadline = (Instant::now() + cfg.ramp_timeout).min(connect_deadline);
        let ok = wait_for(deadline, || shared.ever_connected.load(Relaxed) >= spawned).await;
        let c = shared.ever_connected.load(Relaxed);
        if spawned % (step * 4) == 0 || spawned == n || !ok {
            say(format!(
                "{c}/{n} subscribers connected ({:.1} s)",
                t_connect.elapsed().as_secs_f64()
            ));
        }
        if Instant::now() >= connect_deadline {
            say("connect deadline reached; going on with those connected".into());
            break;
        }
    }
    // Tasks not yet spawned (deadline hit) are started anyway so that counts stay per index.
    for (i, s) in subs.iter().enumerate().skip(spawned) {
        handles.push(tokio::spawn(subscriber(
            cfg.clone(),
            events_addr,
            s.clone(),
            shared.clone(),
            cfg.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        )));
    }
    wait_for(
        connect_deadline.min(Instant::now() + cfg.ramp_timeout),
        || shared.ever_connected.load(Relaxed) >= n,
    )
    .await;
    let connect_secs = t_connect.elapsed().as_secs_f64();
    let connected = shared.ever_connected.load(Relaxed);
    say(format!(
        "{connected}/{n} subscribers connected in {connect_secs:.1} s"
    ));

    // Wait for the initial replay (events before the phase) to reach everyone, then settle.
    wait_for(Instant::now() + Duration::from_secs(10), || {
        let m = max_last(&subs);
        subs.iter()
            .all(|s| !s.ever.load(Relaxed) || s.last_seq.load(Relaxed) == m)
    })
    .await;
    tokio::time::sleep(cfg.settle).await;
    let rss_connected = pid.and_then(procfs::rss_kb);
    let seq_before = max_last(&subs);
    let connected_at_start = shared.connected_now.load(Relaxed);

    // 2. The phase: posters (and the storm).
    let d0 = sum(&subs, |s| s.bench.load(Relaxed));
    let cpu0 = (pid.and_then(procfs::cpu_secs), procfs::cpu_secs(me_pid));
    let t0 = Instant::now() + Duration::from_millis(50);
    let end = t0 + Duration::from_secs_f64(cfg.seconds);
    say(format!(
        "phase: {} mode, {} poster(s), {:.0} s{}",
        cfg.mode.name(),
        cfg.posters,
        cfg.seconds,
        if cfg.storm > 0 {
            format!(", storm of {} reconnects", cfg.storm)
        } else {
            String::new()
        }
    ));
    let mut posters = Vec::new();
    if let Some((url, addr)) = &messages {
        for i in 0..cfg.posters {
            posters.push(tokio::spawn(poster(
                i,
                cfg.clone(),
                *addr,
                url.clone(),
                shared.clone(),
                t0,
                end,
            )));
        }
    }
    let storm_task = (cfg.storm > 0).then(|| {
        let span = Duration::from_secs_f64(cfg.seconds * 0.6);
        let start = t0 + Duration::from_secs_f64(cfg.seconds * 0.15);
        tokio::spawn(storm(subs.clone(), cfg.storm, start, span, cfg.seed))
    });
    let mut pr = PosterResult::default();
    if posters.is_empty() {
        tokio::time::sleep_until(end.into()).await;
    }
    for p in posters {
        let r = p.await.map_err(|e| format!("poster task: {e}"))?;
        pr.posted += r.posted;
        pr.errors += r.errors;
        pr.rate_limited += r.rate_limited;
        pr.io_errors += r.io_errors;
        pr.late += r.late;
        pr.connects += r.connects;
        pr.max_seq = pr.max_seq.max(r.max_seq);
        pr.min_seq = match (pr.min_seq, r.min_seq) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        pr.rtt.merge(&r.rtt);
    }
    let storm_sent = match storm_task {
        Some(t) => t.await.map_err(|e| format!("storm task: {e}"))?,
        None => 0,
    };
    let phase_secs = t0.elapsed().as_secs_f64().max(1e-9);
    let d1 = sum(&subs, |s| s.bench.load(Relaxed));
    let cpu1 = (pid.and_then(procfs::cpu_secs), procfs::cpu_secs(me_pid));
    let rss_after = pid.and_then(procfs::rss_kb);
    say(format!(
        "posted {} messages; {} deliveries so far; draining",
        pr.posted,
        d1 - d0
    ));

    // 3. Drain: wait for everyone to reach the last seq.
    let t_drain = Instant::now();
    let drained = wait_for(t_drain + cfg.drain, || {
        let target = pr.max_seq.max(max_last(&subs));
        subs.iter().all(|s| {
            !s.ever.load(Relaxed)
                || (s.connected.load(Relaxed) && s.last_seq.load(Relaxed) >= target)
        })
    })
    .await;
    let drain_secs = t_drain.elapsed().as_secs_f64();
    let rss_peak = pid.and_then(procfs::hwm_kb);

    // 4. Stop everyone and merge their histograms.
    shared.stop.store(true, Relaxed);
    for s in subs.iter() {
        s.notify.notify_one();
    }
    let mut lat = Histogram::new();
    let mut arrive = Histogram::new();
    let mut json_err = None;
    for h in handles {
        match tokio::time::timeout(Duration::from_secs(10), h).await {
            Ok(Ok((hist, arr, je))) => {
                lat.merge(&hist);
                arrive.merge(&arr);
                if json_err.is_none() {
                    json_err = je;
                }
            }
            Ok(Err(e)) => shared.note(format!("subscriber task: {e}")),
            Err(_) => shared.note("subscriber task did not stop".into()),
        }
    }
    if let Some(e) = json_err {
        shared.note(format!("JSON check: {e}"));
    }

    // 5. Verification and the report.
    let last_seq = pr.max_seq.max(max_last(&subs));
    let mut exact = 0;
    let mut failed = 0;
    let mut examples = Vec::new();
    for (i, s) in subs.iter().enumerate() {
        let problem = if !s.ever.load(Relaxed) {
            Some("never connected".to_string())
        } else {
            let (g, m, d, ns, l) = (
                s.gap_events.load(Relaxed),
                s.missing.load(Relaxed),
                s.dups.load(Relaxed),
                s.no_seq.load(Relaxed),
                s.last_seq.load(Relaxed),
            );
            (g > 0 || d > 0 || ns > 0 || l != last_seq).then(|| {
                format!("{g} gaps ({m} missing), {d} duplicates, {ns} without seq, last {l}")
            })
        };
        match problem {
            None => exact += 1,
            Some(p) => {
                failed += 1;
                if examples.len() < 5 {
                    examples.push(format!("client {i}: {p}"));
                }
            }
        }
    }
    let deliveries_total = sum(&subs, |s| s.bench.load(Relaxed));
    let cpu_pct = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => Some((b - a) / phase_secs * 100.0),
        _ => None,
    };
    let per_sub = |after: Option<u64>| match (rss_before, after) {
        (Some(b), Some(a)) if connected > 0 => Some((a as f64 - b as f64) / connected as f64),
        _ => None,
    };
    let fatal = if connected == 0 {
        Some("no subscriber could connect".to_string())
    } else if cfg.posters > 0 && pr.posted == 0 {
        Some("no message was accepted".to_string())
    } else {
        None
    };
    let report = Report {
        mode: cfg.mode.name().into(),
        subscribers_requested: n,
        subscribers_connected: connected,
        connected_at_phase_start: connected_at_start,
        connect_secs,
        connect_failures: sum(&subs, |s| s.connect_failures.load(Relaxed)),
        posters: cfg.posters,
        rate: cfg.rate,
        seconds: cfg.seconds,
        phase_secs,
        posted: pr.posted,
        post_errors: pr.errors,
        post_rate_limited: pr.rate_limited,
        post_io_errors: pr.io_errors,
        post_late: pr.late,
        post_connects: pr.connects,
        post_rtt_p50_ms: ms(pr.rtt.quantile(0.5)),
        post_rtt_p99_ms: ms(pr.rtt.quantile(0.99)),
        posts_per_sec: pr.posted as f64 / phase_secs,
        seq_before_phase: seq_before,
        last_seq,
        deliveries_total,
        deliveries_expected: pr.posted * connected as u64,
        deliveries_in_phase: d1 - d0,
        deliveries_per_sec: (d1 - d0) as f64 / phase_secs,
        drain_secs,
        drained,
        latency_count: lat.count(),
        latency_p50_ms: ms(lat.quantile(0.5)),
        latency_p90_ms: ms(lat.quantile(0.9)),
        latency_p99_ms: ms(lat.quantile(0.99)),
        latency_max_ms: ms(lat.max()),
        latency_mean_ms: r2(lat.mean() / 1000.0),
        arrival_count: arrive.count(),
        arrival_p50_ms: ms(arrive.quantile(0.5)),
        arrival_p99_ms: ms(arrive.quantile(0.99)),
        events_total: sum(&subs, |s| s.events.load(Relaxed)),
        gap_events: sum(&subs, |s| s.gap_events.load(Relaxed)),
        missing_seqs: sum(&subs, |s| s.missing.load(Relaxed)),
        duplicates: sum(&subs, |s| s.dups.load(Relaxed)),
        events_without_seq: sum(&subs, |s| s.no_seq.load(Relaxed)),
        json_mismatches: sum(&subs, |s| s.json_bad.load(Relaxed)),
        unplanned_reconnects: sum(&subs, |s| s.unplanned.load(Relaxed)),
        storm_requested: cfg.storm,
        storm_kicks_sent: storm_sent,
        storm_forced_reconnects: sum(&subs, |s| s.forced.load(Relaxed)),
        verify,
        clients_exact: exact,
        clients_failed: failed,
        failure_examples: examples,
        rss_before_kb: rss_before,
        rss_connected_kb: rss_connected,
        rss_after_kb: rss_after,
        rss_peak_kb: rss_peak,
        kb_per_subscriber: per_sub(rss_connected),
        kb_per_subscriber_after: per_sub(rss_after),
        server_cpu_pct: cpu_pct(cpu0.0, cpu1.0),
        loadgen_cpu_pct: cpu_pct(cpu0.1, cpu1.1),
        errors: shared.errors.lock().unwrap().clone(),
        fatal,
    };
    Ok(report)
}
