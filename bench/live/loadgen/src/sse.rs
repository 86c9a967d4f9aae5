//! Incremental Server-Sent Events parser (the WHATWG "event stream interpretation").
//!
//! Lines end in LF, CRLF or a lone CR (a CR at the end of one read and the LF at the start
//! of the next are one line end). `data:` lines are joined with LF; `id:` and `event:` apply
//! to the event being built; lines starting with `:` are comments (keep-alives); an empty
//! line dispatches the event. An event without any `data:` line is not dispatched.

/// One dispatched event. Slices borrow the parser's buffers until the callback returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// The `id:` field of this event, if it had one.
    pub id: Option<&'a [u8]>,
    /// The `event:` field, or `message` when absent (the SSE default).
    pub event: &'a [u8],
    /// The data lines joined with `\n`.
    pub data: &'a [u8],
}

#[derive(Debug, Default)]
struct Pending {
    data: Vec<u8>,
    has_data: bool,
    event: Vec<u8>,
    /// The `id:` value (kept in one buffer for the life of the parser: no allocation per
    /// event at a million events a second).
    id: Vec<u8>,
    has_id: bool,
}

#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    skip_lf: bool,
    started: bool,
    pending: Pending,
    /// Comment lines seen (`: ping` keep-alives and the like).
    pub comments: u64,
    /// The last `id:` value seen (persists across events, as in the spec).
    pub last_event_id: Vec<u8>,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes of an incomplete line kept for the next call.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Feeds body bytes; calls `on_event` for every event completed by them.
    pub fn feed<F: FnMut(Event<'_>)>(&mut self, input: &[u8], mut on_event: F) {
        if !self.started {
            // A UTF-8 byte-order mark at the very start of the stream is ignored; hold
            // the first bytes back until we know whether they are one.
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            self.buf.extend_from_slice(input);
            let n = self.buf.len().min(3);
            if self.buf.len() < 3 && self.buf[..n] == BOM[..n] {
                return;
            }
            self.started = true;
            let joined = std::mem::take(&mut self.buf);
            let skip = if joined.starts_with(BOM) { 3 } else { 0 };
            self.feed_started(&joined[skip..], &mut on_event);
            return;
        }
        self.feed_started(input, &mut on_event);
    }

    fn feed_started<F: FnMut(Event<'_>)>(&mut self, input: &[u8], on_event: &mut F) {
        // Fast path: nothing buffered, parse straight from the input; keep only the tail.
        if self.buf.is_empty() {
            let used = self.parse_lines(input, on_event);
            self.buf.extend_from_slice(&input[used..]);
        } else {
            let mut buf = std::mem::take(&mut self.buf);
            buf.extend_from_slice(input);
            let used = self.parse_lines(&buf, on_event);
            buf.drain(..used);
            self.buf = buf;
        }
    }

    /// Parses complete lines in `bytes`; returns how many bytes were consumed.
    fn parse_lines<F: FnMut(Event<'_>)>(&mut self, bytes: &[u8], on_event: &mut F) -> usize {
        let mut start = 0;
        while start < bytes.len() {
            if self.skip_lf {
                self.skip_lf = false;
                if bytes[start] == b'\n' {
                    start += 1;
                    continue;
                }
            }
            let rest = &bytes[start..];
            let Some(i) = memchr::memchr2(b'\n', b'\r', rest) else {
                break;
            };
            if rest[i] == b'\r' {
                self.skip_lf = true;
            }
            self.line(&rest[..i], on_event);
            start += i + 1;
        }
        start
    }

    fn line<F: FnMut(Event<'_>)>(&mut self, line: &[u8], on_event: &mut F) {
        if line.is_empty() {
            let p = &mut self.pending;
            if p.has_data {
                on_event(Event {
                    id: p.has_id.then_some(&p.id[..]),
                    event: if p.event.is_empty() {
                        b"message"
                    } else {
                        &p.event
                    },
                    data: &p.data,
                });
            }
            p.data.clear();
            p.has_data = false;
            p.event.clear();
            p.has_id = false;
            return;
        }
        if line[0] == b':' {
            self.comments += 1;
            return;
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(c) => {
                let v = &line[c + 1..];
                (&line[..c], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        let p = &mut self.pending;
        match name {
            b"data" => {
                if p.has_data {
                    p.data.push(b'\n');
                }
                p.data.extend_from_slice(value);
                p.has_data = true;
            }
            b"event" => {
                p.event.clear();
                p.event.extend_from_slice(value);
            }
            // An id containing NUL is ignored, as the spec says.
            b"id" if !value.contains(&0) => {
                p.id.clear();
                p.id.extend_from_slice(value);
                p.has_id = true;
                self.last_event_id.clear();
                self.last_event_id.extend_from_slice(value);
            }
            _ => {} // `retry:` and unknown fields are ignored
        }
    }
}

/// Parses an ASCII decimal u64 (no sign, no spaces).
pub fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay, needle)
}

/// A searcher for a fixed pattern, built once (building one per event was 3 % of a run).
fn finder(
    cell: &'static std::sync::OnceLock<memchr::memmem::Finder<'static>>,
    pat: &'static [u8],
) -> &'static memchr::memmem::Finder<'static> {
    cell.get_or_init(|| memchr::memmem::Finder::new(pat))
}

fn leading_digits(b: &[u8]) -> Option<u64> {
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    parse_u64(&b[..n])
}

/// The sending time in a bench message's JSON data: the body is `bench <unix-nanos>`.
/// Looks for `"body":"bench N` textually (with or without a space after the colon) and
/// falls back to a JSON parse when the data mentions `bench` in some other layout.
pub fn bench_nanos(data: &[u8]) -> Option<u64> {
    use std::sync::OnceLock;
    static TIGHT: OnceLock<memchr::memmem::Finder<'static>> = OnceLock::new();
    static SPACED: OnceLock<memchr::memmem::Finder<'static>> = OnceLock::new();
    for f in [
        finder(&TIGHT, b"\"body\":\"bench "),
        finder(&SPACED, b"\"body\": \"bench "),
    ] {
        if let Some(i) = f.find(data) {
            return leading_digits(&data[i + f.needle().len()..]);
        }
    }
    find(data, b"bench")?;
    let v: serde_json::Value = serde_json::from_slice(data).ok()?;
    let body = v.get("body")?.as_str()?;
    let rest = body.strip_prefix("bench ")?;
    leading_digits(rest.as_bytes())
}

/// The `"seq"` number in an event's JSON data (used when the event has no `id:` line).
pub fn json_seq(data: &[u8]) -> Option<u64> {
    for pat in [&b"\"seq\":"[..], &b"\"seq\": "[..]] {
        if let Some(i) = find(data, pat) {
            if let Some(v) = leading_digits(&data[i + pat.len()..]) {
                return Some(v);
            }
        }
    }
    let v: serde_json::Value = serde_json::from_slice(data).ok()?;
    v.get("seq")?.as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    struct Owned {
        id: Option<String>,
        event: String,
        data: String,
    }

    fn collect(parts: &[&[u8]]) -> (Vec<Owned>, SseParser) {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for part in parts {
            p.feed(part, |e| {
                out.push(Owned {
                    id: e.id.map(|i| String::from_utf8(i.to_vec()).unwrap()),
                    event: String::from_utf8(e.event.to_vec()).unwrap(),
                    data: String::from_utf8(e.data.to_vec()).unwrap(),
                })
            });
        }
        (out, p)
    }

    fn ev(id: Option<&str>, event: &str, data: &str) -> Owned {
        Owned {
            id: id.map(str::to_string),
            event: event.into(),
            data: data.into(),
        }
    }

    const STREAM: &str = ": ping\n\nid: 1\nevent: state\ndata: {\"seq\":1,\"type\":\"state\"}\n\n\
id: 2\nevent: message\ndata: {\"seq\":2,\"type\":\"message\",\"id\":7,\"body\":\"bench 123\"}\n\n\
: ping\nid: 3\ndata: line one\ndata: line two\ndata\ndata:no-space\n\n";

    fn expected() -> Vec<Owned> {
        vec![
            ev(Some("1"), "state", "{\"seq\":1,\"type\":\"state\"}"),
            ev(
                Some("2"),
                "message",
                "{\"seq\":2,\"type\":\"message\",\"id\":7,\"body\":\"bench 123\"}",
            ),
            ev(Some("3"), "message", "line one\nline two\n\nno-space"),
        ]
    }

    #[test]
    fn several_events_in_one_read() {
        let (out, p) = collect(&[STREAM.as_bytes()]);
        assert_eq!(out, expected());
        assert_eq!(p.comments, 2);
        assert_eq!(p.last_event_id, b"3");
        assert_eq!(p.buffered(), 0);
    }

    #[test]
    fn every_split_point_lf_crlf_cr() {
        let crlf = STREAM.replace('\n', "\r\n");
        let cr = STREAM.replace('\n', "\r");
        for s in [STREAM.to_string(), crlf, cr] {
            let b = s.as_bytes();
            for cut in 0..=b.len() {
                let (out, p) = collect(&[&b[..cut], &b[cut..]]);
                assert_eq!(out, expected(), "cut at {cut} of {s:?}");
                assert_eq!(p.comments, 2);
            }
            let bytes: Vec<&[u8]> = b.chunks(1).collect();
            assert_eq!(collect(&bytes).0, expected());
        }
    }

    #[test]
    fn crlf_split_between_cr_and_lf_is_one_line_end() {
        let (out, _) = collect(&[b"id: 5\r", b"\ndata: x\r", b"\n\r", b"\n"]);
        assert_eq!(out, vec![ev(Some("5"), "message", "x")]);
    }

    #[test]
    fn incomplete_event_waits_for_blank_line() {
        let (out, p) = collect(&[b"id: 9\ndata: partial\n"]);
        assert!(out.is_empty());
        assert_eq!(p.buffered(), 0);
        let (out, _) = collect(&[b"id: 9\ndata: partial\n", b"\n"]);
        assert_eq!(out, vec![ev(Some("9"), "message", "partial")]);
    }

    #[test]
    fn no_data_no_dispatch_and_bom() {
        let (out, _) = collect(&[b"\xEF\xBB", b"\xBFid: 1\nevent: x\n\ndata: y\n\n"]);
        // The first block has no data: not dispatched; id/event are reset by the blank line.
        assert_eq!(out, vec![ev(None, "message", "y")]);
    }

    #[test]
    fn bench_and_seq_extraction() {
        let d = br#"{"seq":42,"type":"message","id":9,"body":"bench 1712345678901234567"}"#;
        assert_eq!(bench_nanos(d), Some(1712345678901234567));
        assert_eq!(json_seq(d), Some(42));
        let spaced = br#"{ "type": "message", "body": "bench 77", "seq": 5 }"#;
        assert_eq!(bench_nanos(spaced), Some(77));
        assert_eq!(json_seq(spaced), Some(5));
        let reordered = br#"{"type":"message","author":{"name":"bench"},"body" : "bench 88"}"#;
        assert_eq!(bench_nanos(reordered), Some(88));
        assert_eq!(bench_nanos(br#"{"body":"hello"}"#), None);
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"12a"), None);
    }
}
