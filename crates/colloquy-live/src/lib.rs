//! Debate rooms in memory: each node keeps, per room that someone reads, the room's event log
//! as ready-to-send Server-Sent Events frames, and wakes its readers when it grows.
//!
//! The log is a copy of the database's `debate_events` (the only source of truth), filled in
//! strict sequence order: an event is appended only when it is the next number, so a reader
//! that has seen `n` events has seen exactly events `1..=n`. A reader resumes from any number
//! (`Last-Event-ID`) and gets everything after it from memory, then live events.
//!
//! Each event is formatted once into shared bytes; a reader that fell behind gets all of its
//! pending frames in one write. This crate does no I/O of its own: the web layer loads events
//! from the store into a room (`Room::append`) after its own writes, on a PostgreSQL
//! notification from another node, and on a periodic check.

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// The most bytes one write to a reader carries; a late joiner of a long debate gets its
/// backlog in several writes rather than one huge buffer.
pub const MAX_WRITE: usize = 256 * 1024;

/// A comment line readers' clients ignore; it keeps idle connections (and proxies) alive and
/// lets the server notice a reader that went away.
const KEEPALIVE: &[u8] = b": keep-alive\n\n";

/// What happened when an event was offered to a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// It was the next number and is now in the log.
    Added,
    /// The log already had it.
    Known,
    /// Numbers before it are missing: load them from the store first.
    Gap,
}

/// Readers are spread over this many slots, each with its own wake-up signal; a crowded room
/// wakes them slot by slot across its wake gap instead of all at once (see [`Room::wake`]).
pub const SLOTS: usize = 32;
/// The least time between two waves of wake-ups within one sweep of a room's slots.
const MIN_WAVE: Duration = Duration::from_millis(2);

/// One debate's log and readers on this node.
pub struct Room {
    id: i64,
    frames: RwLock<Vec<Bytes>>,
    /// One signal per slot of readers; its value is the last number it announced.
    slots: Vec<watch::Sender<u64>>,
    /// The slot the next reader joins (readers are dealt round the slots).
    next_slot: AtomicUsize,
    readers: AtomicUsize,
    /// Serialises loads from the store, so two loads do not fetch the same rows twice.
    pub load_lock: tokio::sync::Mutex<()>,
    /// Unix seconds of the last use, for eviction of idle rooms.
    touched: AtomicI64,
    /// Set when the node shuts down: every reader's stream ends (its client reconnects to
    /// another node, or to this one after the restart, and resumes).
    closed: AtomicBool,
    /// Whether a sweep of the slots is under way, and whether events came during it.
    pace: Mutex<Pace>,
    /// The clock of `woken`: nanoseconds since this instant.
    epoch: tokio::time::Instant,
    /// When each slot was last woken.
    woken: Vec<AtomicU64>,
    /// The longest a woken reader waited for its thread since the last sweep (ns).
    late: AtomicU64,
    /// That figure for the last sweep that ended (ns), for [`Room::lateness`].
    last_late: AtomicU64,
    /// This sweep's usual (unstretched) wake gap (ns), and how many readers it woke, of whom
    /// how many ran more than a sixth and more than a third of that gap late (the pacer's
    /// signal).
    sweep_gap: AtomicU64,
    lateness_counts: [AtomicU64; 3],
    /// Writes per second this room's readers may cost in all (see [`Room::wake_gap`]).
    write_budget: f64,
    /// Whether the wake gap is stretched now, and by what factor it then is (see [`Pacer`]).
    stretched: AtomicBool,
    stretch: f64,
    /// How fast writers to a crowded room get their answers (see [`Room::answer_delay`]).
    pacer: Mutex<Pacer>,
}

/// The answer pacer of a crowded room: a token bucket whose rate follows how late the
/// room's readers run, much as TCP's congestion window follows losses. It starts at
/// `PACER_START` answers per wake gap and grows by a quarter per sweep that ran on time
/// (up to the last rate that proved too fast, then by one answer per gap per sweep) while
/// at most 10 % of the readers a sweep wakes run more than a sixth of a gap late.
///
/// A sweep in which more than 10 % ran more than a third of a gap late cuts the rate by
/// 15 %, except in a busy room (writers sent at least `PACER_START` events per usual gap)
/// whose gap is not stretched yet: there it first stretches the wake gap by `STRETCH`.
/// Each reader is then written to a little less often, with more events in each write;
/// most of a node's cost of reaching a reader is per write, whatever it carries, so a
/// slightly longer gap buys a room much more throughput than it costs its readers in
/// latency. Either way the two sweeps after it do not count (readers that were late take a
/// sweep or two to catch up). The gap gets its usual length back at the first sweep in
/// which the room is not busy. Lateness is always measured against the usual gap: a
/// stretched gap has already spent some of the readers' latency.
///
/// Counting late readers rather than taking the latest one keeps a single slow connection
/// from throttling a room.
struct Pacer {
    /// Answers per second (0 until the room is first crowded).
    rate: f64,
    /// The rate above which readers last ran late: slow growth beyond it.
    ceiling: f64,
    tokens: f64,
    at: tokio::time::Instant,
    /// Events appended since the last sweep ended.
    appended: u32,
    /// Sweeps still to pass before lateness counts again.
    hold: u8,
}

/// How late the readers a sweep woke ran: how many were woken, how many ran more than a
/// sixth of the wake gap late, and how many more than a third.
#[derive(Debug, Clone, Copy, Default)]
struct Lateness {
    woken: u64,
    some: u64,
    many: u64,
}

#[derive(Default)]
struct Pace {
    sweeping: bool,
    dirty: bool,
}

/// Writes per second a room's readers may cost in all by default: each write is a system
/// call for one reader, and a few microseconds of the machine.
pub const WRITE_BUDGET: f64 = 80_000.0;
/// A crowded room's pacer starts at this many answers per wake gap.
const PACER_START: f64 = 8.0;
/// Answers a crowded room's pacer lets through at once.
const PACER_BURST: f64 = 8.0;
/// The pacer's slowest rate: this many answers per wake gap.
const PACER_FLOOR: f64 = 4.0;
/// The longest an answer waits for the pacer.
pub const MAX_ANSWER_DELAY: Duration = Duration::from_secs(1);
/// The longest a reader of a crowded room waits for its next wake-up, however many readers,
/// while the node keeps up.
pub const MAX_WAKE_GAP: Duration = Duration::from_millis(120);
/// How much longer a busy crowded room whose readers run late makes its wake gap (see
/// [`Pacer`]): 120 ms becomes 135 ms.
pub const STRETCH: f64 = 1.125;

impl Room {
    fn new(id: i64) -> Self {
        Self {
            closed: AtomicBool::new(false),
            id,
            frames: RwLock::new(Vec::new()),
            slots: (0..SLOTS).map(|_| watch::channel(0).0).collect(),
            next_slot: AtomicUsize::new(0),
            readers: AtomicUsize::new(0),
            load_lock: tokio::sync::Mutex::new(()),
            touched: AtomicI64::new(unix_now()),
            pace: Mutex::new(Pace::default()),
            epoch: tokio::time::Instant::now(),
            woken: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            late: AtomicU64::new(0),
            last_late: AtomicU64::new(0),
            sweep_gap: AtomicU64::new(0),
            lateness_counts: Default::default(),
            write_budget: WRITE_BUDGET,
            stretched: AtomicBool::new(false),
            stretch: STRETCH,
            pacer: Mutex::new(Pacer {
                rate: 0.0,
                ceiling: f64::INFINITY,
                tokens: PACER_BURST,
                at: tokio::time::Instant::now(),
                appended: 0,
                hold: 0,
            }),
        }
    }

    /// How long the answer to a write just appended to this room should wait. A crowded
    /// room whose readers run late (many woken readers waiting for their thread more than a
    /// third of a wake gap; see [`Pacer`]) slows its writers' answers, so that a client
    /// posting as fast as it is answered posts no faster than this node reaches the room's
    /// readers. The event itself is not held: it is stored and on its way when its answer
    /// waits.
    pub fn answer_delay(&self) -> Duration {
        let gap = self.wake_gap();
        if gap.is_zero() {
            return Duration::ZERO;
        }
        let mut p = lock(&self.pacer);
        let now = tokio::time::Instant::now();
        if p.rate == 0.0 {
            p.rate = PACER_START / gap.as_secs_f64();
            p.at = now;
        }
        let elapsed = now.saturating_duration_since(p.at).as_secs_f64();
        p.at = now;
        p.tokens = (p.tokens + elapsed * p.rate).min(PACER_BURST) - 1.0;
        if p.tokens >= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((-p.tokens / p.rate).min(MAX_ANSWER_DELAY.as_secs_f64()))
    }

    /// After a sweep: the wake gap's stretch and the pacer's rate follow the sweep's
    /// lateness (see [`Pacer`]).
    fn pace_answers(&self, gap: Duration, late: Lateness) {
        let mut p = lock(&self.pacer);
        let per_gap = 1.0 / gap.as_secs_f64();
        let seen = p.appended as f64 * per_gap;
        p.appended = 0;
        if p.rate == 0.0 {
            return; // nobody has written since the room became crowded
        }
        let stretched = self.stretched.load(Ordering::Relaxed);
        let usual_per_gap = if stretched {
            per_gap * self.stretch
        } else {
            per_gap
        };
        let busy = seen >= PACER_START * usual_per_gap;
        if !busy {
            self.stretched.store(false, Ordering::Relaxed);
        }
        if p.hold > 0 {
            p.hold -= 1;
        } else if late.many * 10 > late.woken {
            if busy && !stretched && self.stretch > 1.0 {
                self.stretched.store(true, Ordering::Relaxed);
            } else {
                p.ceiling = p.rate * 0.85;
                p.rate = p.ceiling.max(PACER_FLOOR * per_gap);
            }
            p.hold = 2;
        } else if late.some * 10 <= late.woken {
            p.rate = if p.rate < p.ceiling {
                (p.rate * 1.25).min(p.ceiling)
            } else {
                p.rate + per_gap
            };
            // Stay within reach of what writers actually send, so that a burst after a
            // quiet spell meets a rate that can still slow it.
            p.rate = p.rate.min(seen * 1.5 + PACER_BURST * per_gap);
        }
    }

    /// A woken reader got to run `ns` after its slot was woken.
    fn note_lateness(&self, ns: u64) {
        self.late.fetch_max(ns, Ordering::Relaxed);
        let gap = self.sweep_gap.load(Ordering::Relaxed);
        let [woken, some, many] = &self.lateness_counts;
        woken.fetch_add(1, Ordering::Relaxed);
        if ns > gap / 6 {
            some.fetch_add(1, Ordering::Relaxed);
            if ns > gap / 3 {
                many.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The counts [`Room::note_lateness`] kept since the last call, and starts again.
    fn take_lateness(&self) -> Lateness {
        let [woken, some, many] = self
            .lateness_counts
            .each_ref()
            .map(|c| c.swap(0, Ordering::Relaxed));
        Lateness { woken, some, many }
    }

    fn clock(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// How late this room's readers ran after being woken, at worst, in the last sweep (a
    /// crowded room only; zero otherwise).
    pub fn lateness(&self) -> Duration {
        Duration::from_nanos(self.last_late.load(Ordering::Relaxed))
    }

    /// The least time between two wake-ups of one reader of this room: with few readers none
    /// (every event goes out at once); with many, events that arrive close together reach
    /// each reader in one write, so that a busy room with thousands of readers costs about
    /// `write_budget` writes a second instead of readers × events.
    /// A busy room whose readers run late stretches it (see [`Pacer`]).
    pub fn wake_gap(&self) -> Duration {
        self.stretched_gap(self.usual_gap())
    }

    fn stretched_gap(&self, usual: Duration) -> Duration {
        if self.stretched.load(Ordering::Relaxed) {
            usual.mul_f64(self.stretch)
        } else {
            usual
        }
    }

    /// The wake gap before any stretch.
    fn usual_gap(&self) -> Duration {
        let gap = Duration::from_secs_f64(self.readers() as f64 / self.write_budget);
        if gap < MIN_WAVE {
            Duration::ZERO
        } else {
            gap.min(MAX_WAKE_GAP)
        }
    }

    /// Tells the readers there is something new. A small room's readers are woken at once.
    /// A crowded room's are woken in a sweep: slot after slot, spread evenly over one wake
    /// gap, so each reader is woken at most once per gap and reached within about one gap of
    /// any event, and the node is never handed thousands of readers at the same instant
    /// (other work, such as a post to the room, would queue behind all of them). Events that
    /// come during a sweep reach the slots it has not woken yet in this sweep, and the others
    /// in the next one, which starts one gap after this one did.
    fn wake(self: &Arc<Self>) {
        let gap = self.wake_gap();
        let mut pace = lock(&self.pace);
        if pace.sweeping {
            pace.dirty = true;
            return;
        }
        // A small room, or no runtime to pace a sweep on: every slot at once.
        let rt = (!gap.is_zero())
            .then(tokio::runtime::Handle::try_current)
            .and_then(Result::ok);
        let Some(rt) = rt else {
            drop(pace);
            return self.wake_slots(0..SLOTS);
        };
        pace.sweeping = true;
        pace.dirty = false;
        drop(pace);
        let room = self.clone();
        rt.spawn(async move { room.sweep().await });
    }

    async fn sweep(self: Arc<Self>) {
        loop {
            let start = tokio::time::Instant::now();
            let usual = self.usual_gap();
            let gap = self.stretched_gap(usual);
            self.sweep_gap
                .store(usual.as_nanos() as u64, Ordering::Relaxed);
            let waves = ((gap.as_micros() / MIN_WAVE.as_micros()) as usize).clamp(1, SLOTS);
            for w in 0..waves {
                if w > 0 {
                    tokio::time::sleep_until(start + gap * w as u32 / waves as u32).await;
                }
                self.wake_slots(w * SLOTS / waves..(w + 1) * SLOTS / waves);
            }
            tokio::time::sleep_until(start + gap).await;
            let late = self.late.swap(0, Ordering::Relaxed);
            self.last_late.store(late, Ordering::Relaxed);
            self.pace_answers(gap, self.take_lateness());
            let mut pace = lock(&self.pace);
            if !pace.dirty || self.closed.load(Ordering::Acquire) {
                pace.sweeping = false;
                return;
            }
            pace.dirty = false;
        }
    }

    fn wake_slots(&self, slots: std::ops::Range<usize>) {
        let last = self.last_seq();
        let now = self.clock();
        for i in slots {
            self.woken[i].store(now, Ordering::Relaxed);
            self.slots[i].send_replace(last);
        }
    }

    pub fn id(&self) -> i64 {
        self.id
    }

    /// The number of the last event in this node's log.
    pub fn last_seq(&self) -> u64 {
        match self.frames.read() {
            Ok(f) => f.len() as u64,
            Err(p) => p.into_inner().len() as u64,
        }
    }

    /// Readers connected to this node now.
    pub fn readers(&self) -> usize {
        self.readers.load(Ordering::Relaxed)
    }

    /// Offers event `seq` (its `kind` and one-line JSON `data`) to the log.
    pub fn append(self: &Arc<Self>, seq: u64, kind: &str, data: &str) -> Appended {
        let mut frames = match self.frames.write() {
            Ok(f) => f,
            Err(p) => p.into_inner(),
        };
        let have = frames.len() as u64;
        if seq <= have {
            return Appended::Known;
        }
        if seq != have + 1 {
            return Appended::Gap;
        }
        frames.push(frame(seq, kind, data));
        drop(frames);
        lock(&self.pacer).appended += 1;
        self.wake();
        Appended::Added
    }

    /// The frames after `after`, joined (up to `MAX_WRITE` bytes, at least one frame), and
    /// the number of the last frame included.
    fn frames_after(&self, after: u64) -> Option<(Bytes, u64)> {
        let frames = match self.frames.read() {
            Ok(f) => f,
            Err(p) => p.into_inner(),
        };
        let start = after as usize;
        if start >= frames.len() {
            return None;
        }
        let pending = &frames[start..];
        if pending.len() == 1 {
            return Some((pending[0].clone(), after + 1));
        }
        let mut size = 0;
        let mut n = 0;
        for f in pending {
            if n > 0 && size + f.len() > MAX_WRITE {
                break;
            }
            size += f.len();
            n += 1;
        }
        let mut out = BytesMut::with_capacity(size);
        for f in &pending[..n] {
            out.extend_from_slice(f);
        }
        Some((out.freeze(), after + n as u64))
    }

    /// A reader's stream: every frame after `after`, then live ones as they are appended,
    /// with a keep-alive comment after `keepalive` of silence. `first` (e.g. a `retry:`
    /// line) is sent before anything else. Counts as a reader while it exists.
    /// A reader woken late (a busy room, a slow connection) gets all its pending frames in
    /// one write.
    pub fn subscribe(
        self: &Arc<Self>,
        after: u64,
        keepalive: Duration,
        first: Option<Bytes>,
    ) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
        self.readers.fetch_add(1, Ordering::Relaxed);
        self.touched.store(unix_now(), Ordering::Relaxed);
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed) % SLOTS;
        let reader = Reader {
            room: self.clone(),
            cursor: after,
            rx: self.slots[slot].subscribe(),
            slot,
            first,
            last_write: tokio::time::Instant::now(),
            quiet: None,
        };
        futures_util::stream::unfold(reader, move |mut r| async move {
            if let Some(f) = r.first.take() {
                r.last_write = tokio::time::Instant::now();
                return Some((Ok(f), r));
            }
            loop {
                // Mark the current number seen first, then look: a change after this point
                // wakes `changed()` below, so neither a new frame nor a close is missed.
                r.rx.borrow_and_update();
                if r.room.closed.load(Ordering::Acquire) {
                    return None;
                }
                if let Some((bytes, upto)) = r.room.frames_after(r.cursor) {
                    r.cursor = upto;
                    r.last_write = tokio::time::Instant::now();
                    return Some((Ok(bytes), r));
                }
                // The timer is set again only when it fires, not on every write: a busy
                // reader's writes cost no timer work.
                let due = r.last_write + keepalive;
                let quiet = r
                    .quiet
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
                tokio::select! {
                    biased;
                    changed = r.rx.changed() => match changed {
                        Ok(()) => {
                            let room = &r.room;
                            let woken = room.woken[r.slot].load(Ordering::Relaxed);
                            room.note_lateness(room.clock().saturating_sub(woken));
                            continue;
                        }
                        Err(_) => return None,
                    },
                    () = quiet.as_mut() => {
                        let now = tokio::time::Instant::now();
                        if now >= due {
                            r.last_write = now;
                            quiet.as_mut().reset(now + keepalive);
                            return Some((Ok(Bytes::from_static(KEEPALIVE)), r));
                        }
                        quiet.as_mut().reset(due);
                    }
                }
            }
        })
    }
}

struct Reader {
    room: Arc<Room>,
    cursor: u64,
    rx: watch::Receiver<u64>,
    slot: usize,
    first: Option<Bytes>,
    last_write: tokio::time::Instant,
    /// Fires when the reader may have been quiet for `keepalive` (made on the first wait).
    quiet: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.room.readers.fetch_sub(1, Ordering::Relaxed);
        self.room.touched.store(unix_now(), Ordering::Relaxed);
    }
}

/// One Server-Sent Events frame. `data` must be one line (compact JSON is).
pub fn frame(seq: u64, kind: &str, data: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(data.len() + kind.len() + 32);
    b.extend_from_slice(b"id: ");
    b.extend_from_slice(seq.to_string().as_bytes());
    b.extend_from_slice(b"\nevent: ");
    b.extend_from_slice(kind.as_bytes());
    b.extend_from_slice(b"\ndata: ");
    // A stray line break would end the field early and let data forge fields; JSON from
    // serde never has one, but the log must stay well-formed whatever it is given.
    for part in data.split(['\n', '\r']) {
        b.extend_from_slice(part.as_bytes());
    }
    b.extend_from_slice(b"\n\n");
    b.freeze()
}

/// Every room this node holds.
#[derive(Default)]
pub struct Hub {
    rooms: Mutex<HashMap<i64, Arc<Room>>>,
    closed: AtomicBool,
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    /// The room for a debate, created empty if this node held none (load it before use).
    pub fn room(&self, debate_id: i64) -> Arc<Room> {
        let mut rooms = match self.rooms.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        let closed = self.closed.load(Ordering::Acquire);
        rooms
            .entry(debate_id)
            .or_insert_with(|| {
                let r = Room::new(debate_id);
                r.closed.store(closed, Ordering::Release);
                Arc::new(r)
            })
            .clone()
    }

    /// Ends every reader's stream, now and for rooms opened later (the node is stopping, and
    /// a graceful shutdown waits for open connections).
    pub fn close_all(&self) {
        self.closed.store(true, Ordering::Release);
        for room in self.rooms() {
            room.closed.store(true, Ordering::Release);
            for s in &room.slots {
                s.send_modify(|_| {});
            }
        }
    }

    /// The room if this node holds it.
    pub fn get(&self, debate_id: i64) -> Option<Arc<Room>> {
        match self.rooms.lock() {
            Ok(r) => r.get(&debate_id).cloned(),
            Err(p) => p.into_inner().get(&debate_id).cloned(),
        }
    }

    pub fn rooms(&self) -> Vec<Arc<Room>> {
        match self.rooms.lock() {
            Ok(r) => r.values().cloned().collect(),
            Err(p) => p.into_inner().values().cloned().collect(),
        }
    }

    /// Drops rooms nobody has read for `idle` seconds; their logs are reloaded on next use.
    pub fn evict_idle(&self, idle: i64) -> usize {
        let cutoff = unix_now() - idle;
        let mut rooms = match self.rooms.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        let before = rooms.len();
        rooms.retain(|_, r| r.readers() > 0 || r.touched.load(Ordering::Relaxed) > cutoff);
        before - rooms.len()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn ids(bytes: &[u8]) -> Vec<u64> {
        String::from_utf8_lossy(bytes)
            .lines()
            .filter_map(|l| l.strip_prefix("id: "))
            .map(|n| n.parse().unwrap())
            .collect()
    }

    #[test]
    fn events_are_appended_only_in_sequence() {
        let room = Arc::new(Room::new(1));
        assert_eq!(room.append(2, "message", "{}"), Appended::Gap);
        assert_eq!(room.append(1, "message", "{}"), Appended::Added);
        assert_eq!(room.append(1, "message", "{}"), Appended::Known);
        assert_eq!(room.append(2, "message", "{}"), Appended::Added);
        assert_eq!(room.last_seq(), 2);
    }

    #[test]
    fn a_frame_cannot_be_split_by_line_breaks_in_data() {
        let f = frame(7, "message", "{\"a\":1}\n\nid: 99\ndata: x");
        let text = String::from_utf8(f.to_vec()).unwrap();
        assert_eq!(ids(text.as_bytes()), vec![7]);
        assert!(text.ends_with("\n\n"));
        assert_eq!(text.matches("\n\n").count(), 1);
    }

    #[tokio::test]
    async fn a_reader_resuming_gets_exactly_what_it_missed_then_live_events() {
        let room = Arc::new(Room::new(1));
        for i in 1..=5 {
            room.append(i, "message", &format!("{{\"id\":{i}}}"));
        }
        let mut s = Box::pin(room.subscribe(3, Duration::from_secs(30), None));
        let backlog = s.next().await.unwrap().unwrap();
        assert_eq!(ids(&backlog), vec![4, 5], "the backlog comes in one write");
        assert_eq!(room.readers(), 1);
        let r2 = room.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            r2.append(6, "hide", "{\"id\":2}");
        });
        let live = s.next().await.unwrap().unwrap();
        assert_eq!(ids(&live), vec![6]);
        drop(s);
        assert_eq!(room.readers(), 0);
    }

    #[tokio::test]
    async fn an_idle_reader_gets_keepalives() {
        let room = Arc::new(Room::new(1));
        let mut s = Box::pin(room.subscribe(
            0,
            Duration::from_millis(10),
            Some(Bytes::from_static(b"retry: 2000\n\n")),
        ));
        assert_eq!(&s.next().await.unwrap().unwrap()[..], b"retry: 2000\n\n");
        assert_eq!(&s.next().await.unwrap().unwrap()[..], KEEPALIVE);
    }

    #[tokio::test(start_paused = true)]
    async fn keepalives_come_only_after_a_quiet_spell() {
        let room = Arc::new(Room::new(1));
        let t0 = tokio::time::Instant::now();
        let mut s = Box::pin(room.subscribe(0, Duration::from_millis(100), None));
        let r = room.clone();
        tokio::spawn(async move {
            for i in 1..=3 {
                tokio::time::sleep(Duration::from_millis(60)).await;
                r.append(i, "message", "{}");
            }
        });
        for i in 1..=3 {
            assert_eq!(ids(&s.next().await.unwrap().unwrap()), vec![i]);
        }
        assert_eq!(t0.elapsed(), Duration::from_millis(180));
        assert_eq!(&s.next().await.unwrap().unwrap()[..], KEEPALIVE);
        assert_eq!(
            t0.elapsed(),
            Duration::from_millis(280),
            "100 ms after the last write"
        );
        assert_eq!(&s.next().await.unwrap().unwrap()[..], KEEPALIVE);
        assert_eq!(t0.elapsed(), Duration::from_millis(380));
    }

    #[tokio::test]
    async fn a_long_backlog_is_split_into_bounded_writes() {
        let room = Arc::new(Room::new(1));
        let body = "x".repeat(1000);
        for i in 1..=1000 {
            room.append(i, "message", &body);
        }
        let mut s = Box::pin(room.subscribe(0, Duration::from_secs(30), None));
        let mut seen = Vec::new();
        while seen.len() < 1000 {
            let chunk = s.next().await.unwrap().unwrap();
            assert!(chunk.len() <= MAX_WRITE + 1100);
            seen.extend(ids(&chunk));
        }
        assert_eq!(seen, (1..=1000).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn closing_the_hub_ends_every_stream() {
        let hub = Hub::new();
        let room = hub.room(1);
        room.append(1, "state", "{}");
        let mut s = Box::pin(room.subscribe(1, Duration::from_secs(30), None));
        let h = tokio::spawn(async move { s.next().await.is_none() });
        tokio::time::sleep(Duration::from_millis(20)).await;
        hub.close_all();
        assert!(h.await.unwrap(), "the waiting stream ended");
        let late = hub.room(2);
        let mut s = Box::pin(late.subscribe(0, Duration::from_secs(30), None));
        assert!(s.next().await.is_none());
    }

    /// What a reader got in each write, and when.
    type Reads = Vec<(Vec<u64>, Duration)>;

    /// Each of `n` waiting readers of `room`, as a task that reports its next `reads`
    /// writes: the event numbers in each and when it came (since `t0`).
    fn waiting_readers(
        room: &Arc<Room>,
        n: usize,
        reads: usize,
        t0: tokio::time::Instant,
    ) -> Vec<tokio::task::JoinHandle<Reads>> {
        (0..n)
            .map(|_| {
                let mut s = Box::pin(room.subscribe(0, Duration::from_secs(30), None));
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    for _ in 0..reads {
                        let chunk = s.next().await.unwrap().unwrap();
                        got.push((ids(&chunk), t0.elapsed()));
                    }
                    got
                })
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_crowded_room_wakes_its_readers_slot_by_slot_once_per_gap() {
        let room = Arc::new(Room {
            write_budget: 100.0, // 10 readers: a 100 ms gap, swept in 32 waves of 3.125 ms
            ..Room::new(1)
        });
        let t0 = tokio::time::Instant::now();
        let readers = waiting_readers(&room, 10, 3, t0);
        tokio::task::yield_now().await; // every reader is waiting
        assert_eq!(room.wake_gap(), Duration::from_millis(100));
        // Five events at once: reader i (slot i) gets all five in one write, i waves later.
        for i in 1..=5 {
            room.append(i, "message", "{}");
        }
        // Mid-sweep (every reader's slot already woken), one more event.
        tokio::time::sleep_until(t0 + Duration::from_millis(50)).await;
        room.append(6, "message", "{}");
        // After a quiet spell, the next event goes to the first slot at once.
        tokio::time::sleep_until(t0 + Duration::from_secs(1)).await;
        room.append(7, "message", "{}");
        for (i, r) in readers.into_iter().enumerate() {
            let got = r.await.unwrap();
            let wave = Duration::from_micros(3125) * i as u32;
            assert_eq!(got[0].0, vec![1, 2, 3, 4, 5], "reader {i}: one write");
            assert!(
                got[0].1 >= wave && got[0].1 <= wave + Duration::from_millis(1),
                "reader {i} was woken in its wave: {:?}",
                got[0].1
            );
            assert_eq!(got[1].0, vec![6], "reader {i}");
            assert!(
                got[1].1 >= Duration::from_millis(100) + wave
                    && got[1].1 <= Duration::from_millis(101) + wave,
                "reader {i} was woken once per gap, in the next sweep: {:?}",
                got[1].1
            );
            assert_eq!(got[2].0, vec![7], "reader {i}");
            let late = got[2].1 - Duration::from_secs(1);
            assert!(
                late <= wave + Duration::from_millis(1),
                "reader {i}: {late:?}"
            );
        }
        assert_eq!(
            Room::new(2).wake_gap(),
            Duration::ZERO,
            "no readers, no wait"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_sweep_reports_how_late_woken_readers_ran() {
        let room = Arc::new(Room {
            write_budget: 100.0, // one reader: a 10 ms gap, so a sweep
            ..Room::new(1)
        });
        let mut s = Box::pin(room.subscribe(0, Duration::from_secs(30), None));
        tokio::select! { biased; _ = s.next() => panic!("nothing to read yet"), () = std::future::ready(()) => {} }
        room.append(1, "message", "{}");
        // The sweep wakes the reader's slot; the thread is then busy for 30 ms before the
        // woken reader gets to run.
        tokio::task::yield_now().await;
        tokio::time::advance(Duration::from_millis(30)).await;
        assert_eq!(ids(&s.next().await.unwrap().unwrap()), vec![1]);
        tokio::time::sleep(Duration::from_millis(20)).await; // the sweep has ended
        let late = room.lateness();
        assert!(
            late >= Duration::from_millis(30) && late < Duration::from_millis(31),
            "{late:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_small_room_wakes_every_reader_at_once() {
        let room = Arc::new(Room::new(1));
        let t0 = tokio::time::Instant::now();
        let readers = waiting_readers(&room, 40, 1, t0);
        tokio::task::yield_now().await;
        assert_eq!(room.wake_gap(), Duration::ZERO);
        room.append(1, "message", "{}");
        for r in readers {
            let got = r.await.unwrap();
            assert_eq!(got[0], (vec![1], Duration::ZERO));
        }
    }

    /// Answers until the pacer holds one; returns how long that one waits.
    fn first_held(room: &Room) -> (usize, Duration) {
        for free in 0..1000 {
            let wait = room.answer_delay();
            if !wait.is_zero() {
                return (free, wait);
            }
        }
        panic!("the pacer never held an answer");
    }

    /// After a quiet second (the burst refilled), how long the first held answer waits.
    async fn held_after_a_rest(room: &Room) -> Duration {
        tokio::time::advance(Duration::from_secs(1)).await;
        first_held(room).1
    }

    fn close_to(a: Duration, b: Duration) -> bool {
        a.abs_diff(b) < Duration::from_micros(50)
    }

    #[tokio::test(start_paused = true)]
    async fn a_small_room_answers_every_writer_at_once() {
        let room = Arc::new(Room::new(1));
        let _readers: Vec<_> = (0..40)
            .map(|_| Box::pin(room.subscribe(0, Duration::from_secs(30), None)))
            .collect();
        for _ in 0..1000 {
            assert_eq!(room.answer_delay(), Duration::ZERO);
        }
    }

    /// The end of a sweep of a room of ten readers in which writers appended `appended`
    /// events and `late` of the readers ran `late_ms` late (the others on time).
    fn sweep_with(room: &Room, appended: u32, late_ms: u64, late: usize) {
        lock(&room.pacer).appended = appended;
        room.sweep_gap
            .store(room.usual_gap().as_nanos() as u64, Ordering::Relaxed);
        for i in 0..10 {
            let ms = if i < late { late_ms } else { 0 };
            room.note_lateness(Duration::from_millis(ms).as_nanos() as u64);
        }
        room.pace_answers(room.wake_gap(), room.take_lateness());
    }

    /// `sweep_with` in which every reader ran `late_ms` late.
    fn sweep(room: &Room, appended: u32, late_ms: u64) {
        sweep_with(room, appended, late_ms, 10)
    }

    /// A room of ten waiting readers with a 100 ms wake gap, stretched by `stretch` when
    /// busy and late.
    fn crowded_room(stretch: f64) -> (Arc<Room>, Vec<impl Stream>) {
        let room = Arc::new(Room {
            write_budget: 100.0, // 10 readers: a 100 ms gap
            stretch,
            ..Room::new(1)
        });
        let readers = (0..10)
            .map(|_| Box::pin(room.subscribe(0, Duration::from_secs(30), None)))
            .collect();
        assert_eq!(room.wake_gap(), Duration::from_millis(100));
        (room, readers)
    }

    #[tokio::test(start_paused = true)]
    async fn a_crowded_rooms_answers_slow_down_when_its_readers_run_late() {
        // The pacer alone (no stretch).
        let (room, _readers) = crowded_room(1.0);
        // It starts at 8 answers a gap (80/s), with a burst of 8 answered at once.
        let (free, wait) = first_held(&room);
        assert_eq!(free, 8);
        assert!(close_to(wait, Duration::from_micros(12_500)), "{wait:?}");
        // Sweeps on time: it grows by a quarter a sweep, but no further than writers could
        // use (half again what they sent, plus a burst a gap).
        sweep(&room, 100, 0);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(
            close_to(first_held(&room).1, Duration::from_millis(10)),
            "100/s"
        );
        sweep(&room, 0, 0);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(
            close_to(first_held(&room).1, Duration::from_micros(12_500)),
            "80/s"
        );
        // A sweep whose readers ran 40 ms late: 85 % of the rate, 68/s.
        sweep(&room, 20, 40);
        tokio::time::advance(Duration::from_secs(1)).await;
        let (free, wait) = first_held(&room);
        assert_eq!(free, 8, "a quiet second refills the burst");
        assert!(
            close_to(wait, Duration::from_secs_f64(1.0 / 68.0)),
            "{wait:?}"
        );
        // The two sweeps after a cut do not count, however late.
        sweep(&room, 20, 90);
        sweep(&room, 20, 90);
        assert!(close_to(
            held_after_a_rest(&room).await,
            Duration::from_secs_f64(1.0 / 68.0)
        ));
        // On time again: at the rate that proved too fast, it grows by one answer a gap.
        sweep(&room, 20, 5);
        assert!(close_to(
            held_after_a_rest(&room).await,
            Duration::from_secs_f64(1.0 / 78.0)
        ));
        // Between a sixth and a third of a gap late: it keeps its rate.
        sweep(&room, 20, 20);
        assert!(close_to(
            held_after_a_rest(&room).await,
            Duration::from_secs_f64(1.0 / 78.0)
        ));
        // One reader of ten far behind, the others on time: not enough to cut (a single
        // slow connection does not throttle a room); it grows.
        sweep_with(&room, 20, 91, 1);
        assert!(close_to(
            held_after_a_rest(&room).await,
            Duration::from_secs_f64(1.0 / 88.0)
        ));
        // However late, never below 4 answers a gap (40/s): 88, 74.8, 63.6, 54, 45.9, 40.
        for _ in 0..6 {
            sweep(&room, 20, 60);
            sweep(&room, 20, 90);
            sweep(&room, 20, 90);
        }
        assert!(close_to(
            held_after_a_rest(&room).await,
            Duration::from_millis(25)
        ));
        // Writers that keep on at once wait longer and longer, but never more than a second.
        let mut last = Duration::ZERO;
        for _ in 0..200 {
            let wait = room.answer_delay();
            assert!(wait >= last && wait <= MAX_ANSWER_DELAY, "{wait:?}");
            last = wait;
        }
        assert_eq!(last, MAX_ANSWER_DELAY);
        assert_eq!(
            room.wake_gap(),
            Duration::from_millis(100),
            "never stretched"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_crowded_room_stretches_its_gap_before_it_slows_writers() {
        let (room, _readers) = crowded_room(STRETCH);
        let (free, _) = first_held(&room); // the pacer starts: 80/s
        assert_eq!(free, 8);
        // A busy sweep (20 events, at least 8 a gap) whose readers all ran 40 ms late: the
        // gap is stretched by an eighth and writers keep their rate.
        sweep(&room, 20, 40);
        assert_eq!(room.wake_gap(), Duration::from_micros(112_500));
        assert!(close_to(
            held_after_a_rest(&room).await,
            Duration::from_micros(12_500)
        ));
        // The two sweeps after it do not count; the next late one, the gap being stretched
        // already, cuts the rate by 15 % (68/s).
        sweep(&room, 20, 90);
        sweep(&room, 20, 90);
        assert!(close_to(
            held_after_a_rest(&room).await,
            Duration::from_micros(12_500)
        ));
        sweep(&room, 20, 40);
        assert_eq!(room.wake_gap(), Duration::from_micros(112_500));
        assert!(close_to(
            held_after_a_rest(&room).await,
            Duration::from_secs_f64(1.0 / 68.0)
        ));
        // Lateness counts against the usual gap: after the two sweeps' grace, a sweep 35 ms
        // late (over a third of 100 ms, though not of 112.5) cuts again, to 57.8/s.
        sweep(&room, 20, 35);
        sweep(&room, 20, 35);
        sweep(&room, 20, 35);
        assert!(close_to(
            held_after_a_rest(&room).await,
            Duration::from_secs_f64(1.0 / 57.8)
        ));
        // A sweep that is not busy (7 events in 112.5 ms: under 8 a usual gap) brings the
        // usual gap back, late or not.
        sweep(&room, 7, 0);
        assert_eq!(room.wake_gap(), Duration::from_millis(100));
        // In a room that is not busy, lateness (once the cut's grace is over) slows writers
        // instead of stretching the gap.
        sweep(&room, 2, 0);
        sweep(&room, 2, 60);
        assert_eq!(room.wake_gap(), Duration::from_millis(100));
        assert!(close_to(
            held_after_a_rest(&room).await,
            Duration::from_secs_f64(1.0 / (57.8 * 0.85))
        ));
    }

    #[test]
    fn idle_rooms_are_evicted_but_read_ones_stay() {
        let hub = Hub::new();
        let a = hub.room(1);
        hub.room(2);
        a.touched.store(0, Ordering::Relaxed);
        hub.get(2).unwrap().touched.store(0, Ordering::Relaxed);
        let _reader = a.subscribe(0, Duration::from_secs(1), None);
        assert_eq!(hub.evict_idle(60), 1);
        assert!(hub.get(1).is_some());
        assert!(hub.get(2).is_none());
    }
}
