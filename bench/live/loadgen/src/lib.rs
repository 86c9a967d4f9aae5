//! Load generator for Colloquy's live-debate room: many Server-Sent Events subscribers over
//! raw HTTP/1.1, message posters at a fixed rate or closed loop, an optional reconnect storm
//! with exact-sequence verification, and a report (text and one JSON line).

#![recursion_limit = "256"]

pub mod chunked;
pub mod hist;
pub mod http;
pub mod procfs;
pub mod run;
pub mod sse;

pub use run::{run, Config, Mode, Report, ResumeBy};

/// Built-in check of the stream decoding (chunked + SSE) on a synthetic stream cut at
/// pseudo-random points, in LF, CRLF and CR line-end styles. Returns a summary line.
pub fn selftest() -> Result<String, String> {
    let mut rounds = 0;
    for style in ["\n", "\r\n", "\r"] {
        let mut events = String::new();
        let mut expect = Vec::new();
        for seq in 1..=200u64 {
            if seq % 7 == 0 {
                events.push_str(": ping");
                events.push_str(style);
            }
            let (ty, data) = if seq % 5 == 0 {
                (
                    "reaction",
                    format!(r#"{{"seq":{seq},"type":"reaction","emoji":"+1"}}"#),
                )
            } else {
                let nanos = 1_700_000_000_000_000_000u64 + seq;
                (
                    "message",
                    format!(
                        r#"{{"seq":{seq},"type":"message","id":{},"body":"bench {nanos}"}}"#,
                        seq + 1000
                    ),
                )
            };
            for line in [format!("id: {seq}"), format!("event: {ty}")] {
                events.push_str(&line);
                events.push_str(style);
            }
            if seq % 11 == 0 {
                // Multi-line data: two data lines joined by LF.
                events.push_str("data: {\"seq\":");
                events.push_str(style);
                events.push_str(&format!("data: {seq},\"type\":\"{ty}\"}}"));
                events.push_str(style);
                expect.push((
                    seq,
                    ty.to_string(),
                    format!("{{\"seq\":\n{seq},\"type\":\"{ty}\"}}"),
                ));
            } else {
                events.push_str(&format!("data: {data}"));
                events.push_str(style);
                expect.push((seq, ty.to_string(), data));
            }
            events.push_str(style);
        }
        // Chunk the body with varying chunk sizes (chunk boundaries fall anywhere).
        let bytes = events.as_bytes();
        let mut wire = Vec::new();
        let mut rng = 0x1234_5678u64;
        let mut i = 0;
        while i < bytes.len() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let n = (1 + rng % 300) as usize;
            let n = n.min(bytes.len() - i);
            wire.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            wire.extend_from_slice(&bytes[i..i + n]);
            wire.extend_from_slice(b"\r\n");
            i += n;
        }
        wire.extend_from_slice(b"0\r\n\r\n");
        // Feed the wire bytes in reads of varying sizes.
        for seed in 1..=20u64 {
            let mut dec = chunked::ChunkedDecoder::new();
            let mut sse = sse::SseParser::new();
            let mut got = Vec::new();
            let mut body = Vec::new();
            let mut r = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut pos = 0;
            while pos < wire.len() {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                let n = ((1 + r % 700) as usize).min(wire.len() - pos);
                body.clear();
                dec.decode(&wire[pos..pos + n], &mut body)
                    .map_err(|e| e.to_string())?;
                sse.feed(&body, |e| {
                    got.push((
                        e.id.and_then(sse::parse_u64).unwrap_or(0),
                        String::from_utf8_lossy(e.event).into_owned(),
                        String::from_utf8_lossy(e.data).into_owned(),
                    ))
                });
                pos += n;
            }
            if !dec.is_done() {
                return Err("chunked body did not end".into());
            }
            if got != expect {
                let first = got.iter().zip(&expect).position(|(a, b)| a != b);
                return Err(format!(
                    "style {style:?} seed {seed}: {} events decoded, {} expected, first difference at {first:?}",
                    got.len(),
                    expect.len()
                ));
            }
            for (seq, ty, data) in &got {
                if ty == "message"
                    && seq % 11 != 0
                    && sse::bench_nanos(data.as_bytes()) != Some(1_700_000_000_000_000_000 + seq)
                {
                    return Err(format!("bench body not parsed in event {seq}"));
                }
            }
            if sse.comments != 28 {
                return Err(format!("{} comments seen, 28 expected", sse.comments));
            }
            rounds += 1;
        }
    }
    Ok(format!(
        "selftest ok: {rounds} decodes of a 200-event chunked stream (LF, CRLF, CR; random cuts)"
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn selftest_passes() {
        let s = super::selftest().unwrap();
        assert!(s.starts_with("selftest ok"), "{s}");
    }
}
