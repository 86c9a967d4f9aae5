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
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
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

/// One debate's log and readers on this node.
pub struct Room {
    id: i64,
    frames: RwLock<Vec<Bytes>>,
    latest: watch::Sender<u64>,
    readers: AtomicUsize,
    /// Serialises loads from the store, so two loads do not fetch the same rows twice.
    pub load_lock: tokio::sync::Mutex<()>,
    /// Unix seconds of the last use, for eviction of idle rooms.
    touched: AtomicI64,
    /// Set when the node shuts down: every reader's stream ends (its client reconnects to
    /// another node, or to this one after the restart, and resumes).
    closed: AtomicBool,
    /// When readers were last woken, and whether a wake-up is already scheduled.
    pace: Mutex<Pace>,
    /// Writes per second this room's readers may cost in all (see [`Room::wake_gap`]).
    write_budget: f64,
}

#[derive(Default)]
struct Pace {
    last: Option<tokio::time::Instant>,
    scheduled: bool,
}

/// Writes per second a room's readers may cost in all by default: each write is a system
/// call for one reader, and a few microseconds of the machine.
pub const WRITE_BUDGET: f64 = 80_000.0;
/// The longest a room waits before waking its readers, however many they are.
pub const MAX_WAKE_GAP: Duration = Duration::from_millis(120);

impl Room {
    fn new(id: i64) -> Self {
        Self {
            closed: AtomicBool::new(false),
            id,
            frames: RwLock::new(Vec::new()),
            latest: watch::channel(0).0,
            readers: AtomicUsize::new(0),
            load_lock: tokio::sync::Mutex::new(()),
            touched: AtomicI64::new(unix_now()),
            pace: Mutex::new(Pace::default()),
            write_budget: WRITE_BUDGET,
        }
    }

    /// The least time between two wake-ups of this room's readers: with few readers none
    /// (every event goes out at once); with many, events that arrive close together reach
    /// each reader in one write, so that a busy room with thousands of readers costs about
    /// `write_budget` writes a second instead of readers × events.
    pub fn wake_gap(&self) -> Duration {
        let gap = Duration::from_secs_f64(self.readers() as f64 / self.write_budget);
        if gap < Duration::from_millis(2) {
            Duration::ZERO
        } else {
            gap.min(MAX_WAKE_GAP)
        }
    }

    /// Wakes the readers now, or schedules one wake-up at the end of the current gap.
    fn wake(self: &Arc<Self>) {
        let now = tokio::time::Instant::now();
        let gap = self.wake_gap();
        let mut pace = lock(&self.pace);
        match pace.last {
            Some(last) if now < last + gap => {
                if pace.scheduled {
                    return;
                }
                let Ok(rt) = tokio::runtime::Handle::try_current() else {
                    drop(pace);
                    return self.wake_now();
                };
                pace.scheduled = true;
                let room = self.clone();
                rt.spawn(async move {
                    tokio::time::sleep_until(last + gap).await;
                    room.wake_now();
                });
            }
            _ => {
                pace.last = Some(now);
                drop(pace);
                self.latest.send_replace(self.last_seq());
            }
        }
    }

    fn wake_now(&self) {
        {
            let mut pace = lock(&self.pace);
            pace.scheduled = false;
            pace.last = Some(tokio::time::Instant::now());
        }
        self.latest.send_replace(self.last_seq());
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
        let reader = Reader {
            room: self.clone(),
            cursor: after,
            rx: self.latest.subscribe(),
            first,
        };
        futures_util::stream::unfold(reader, move |mut r| async move {
            if let Some(f) = r.first.take() {
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
                    return Some((Ok(bytes), r));
                }
                match tokio::time::timeout(keepalive, r.rx.changed()).await {
                    Ok(Ok(())) => continue,
                    Ok(Err(_)) => return None,
                    Err(_) => return Some((Ok(Bytes::from_static(KEEPALIVE)), r)),
                }
            }
        })
    }
}

struct Reader {
    room: Arc<Room>,
    cursor: u64,
    rx: watch::Receiver<u64>,
    first: Option<Bytes>,
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
            room.latest.send_modify(|_| {});
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

    #[tokio::test(start_paused = true)]
    async fn a_crowded_room_wakes_its_readers_in_batches() {
        let room = Arc::new(Room {
            write_budget: 100.0, // 10 readers: a 100 ms gap
            ..Room::new(1)
        });
        let mut streams: Vec<_> = (0..10)
            .map(|_| Box::pin(room.subscribe(0, Duration::from_secs(30), None)))
            .collect();
        assert_eq!(room.wake_gap(), Duration::from_millis(100));
        room.append(1, "message", "{}");
        let mut first = streams.remove(0);
        assert_eq!(
            ids(&first.next().await.unwrap().unwrap()),
            vec![1],
            "the first goes at once"
        );
        // The reader waits; four events arrive close together; it is woken once, after the gap.
        let waiting = tokio::spawn(async move {
            let got = ids(&first.next().await.unwrap().unwrap());
            (got, tokio::time::Instant::now())
        });
        tokio::task::yield_now().await;
        let start = tokio::time::Instant::now();
        for i in 2..=5 {
            room.append(i, "message", "{}");
        }
        let (got, at) = waiting.await.unwrap();
        assert_eq!(
            got,
            vec![2, 3, 4, 5],
            "what came meanwhile goes in one write"
        );
        assert!(at - start >= Duration::from_millis(99), "{:?}", at - start);
        for s in streams.iter_mut() {
            let got = ids(&s.next().await.unwrap().unwrap());
            assert_eq!(
                got,
                vec![1, 2, 3, 4, 5],
                "a reader polled late gets it all at once"
            );
        }
        let mut s = Box::pin(room.subscribe(5, Duration::from_secs(30), None));
        tokio::time::sleep(Duration::from_secs(1)).await;
        room.append(6, "message", "{}");
        let t = tokio::time::Instant::now();
        assert_eq!(ids(&s.next().await.unwrap().unwrap()), vec![6]);
        assert!(
            t.elapsed() < Duration::from_millis(1),
            "after a quiet spell there is no wait"
        );
        drop(streams);
        assert_eq!(
            Room::new(2).wake_gap(),
            Duration::ZERO,
            "no readers, no wait"
        );
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
