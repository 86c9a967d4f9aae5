//! Incremental decoder for HTTP/1.1 `Transfer-Encoding: chunked` bodies.
//!
//! Bytes may arrive split anywhere (inside the size line, inside the CRLF after a chunk,
//! inside the data); [`ChunkedDecoder::decode`] keeps its state between calls.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex size (we have seen `digits` hex digits so far).
    Size { digits: u8 },
    /// Skipping a chunk extension (`;name=value`) or trailing spaces up to LF.
    SizeRest,
    /// Reading chunk data; this many bytes remain.
    Data(u64),
    /// After the chunk data: expecting CR LF (or bare LF).
    DataEnd { seen_cr: bool },
    /// After the last (zero-size) chunk: trailer lines until an empty line.
    Trailer { line_len: usize },
    /// The body is complete.
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkError(pub String);

impl std::fmt::Display for ChunkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "chunked encoding: {}", self.0)
    }
}

#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        ChunkedDecoder {
            state: State::Size { digits: 0 },
            size: 0,
        }
    }

    /// True once the terminating zero-size chunk and its trailer have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes `input`, appending body bytes to `out`. Returns the number of input bytes
    /// consumed: all of them unless the body ended inside `input` (then the rest is whatever
    /// follows the body on the connection, e.g. the next pipelined response).
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ChunkError> {
        self.decode_with(input, |data| out.extend_from_slice(data))
    }

    /// As [`ChunkedDecoder::decode`], but hands each run of body bytes to `out` in place
    /// (no copy).
    pub fn decode_with(
        &mut self,
        input: &[u8],
        mut out: impl FnMut(&[u8]),
    ) -> Result<usize, ChunkError> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Size { digits } => {
                    let b = input[i];
                    match b {
                        b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                            if digits >= 15 {
                                return Err(ChunkError("chunk size too large".into()));
                            }
                            let v = (b as char).to_digit(16).unwrap() as u64;
                            self.size = self.size * 16 + v;
                            self.state = State::Size { digits: digits + 1 };
                        }
                        b'\r' | b' ' | b'\t' | b';' if digits > 0 => self.state = State::SizeRest,
                        b'\n' if digits > 0 => self.end_size_line(),
                        _ => {
                            return Err(ChunkError(format!(
                                "unexpected byte {b:#04x} in chunk size"
                            )))
                        }
                    }
                    i += 1;
                }
                State::SizeRest => {
                    if input[i] == b'\n' {
                        self.end_size_line();
                    }
                    i += 1;
                }
                State::Data(remaining) => {
                    let take = remaining.min((input.len() - i) as u64) as usize;
                    out(&input[i..i + take]);
                    i += take;
                    let left = remaining - take as u64;
                    self.state = if left == 0 {
                        State::DataEnd { seen_cr: false }
                    } else {
                        State::Data(left)
                    };
                }
                State::DataEnd { seen_cr } => {
                    match input[i] {
                        b'\r' if !seen_cr => self.state = State::DataEnd { seen_cr: true },
                        b'\n' => self.state = State::Size { digits: 0 },
                        b => {
                            return Err(ChunkError(format!(
                                "expected CRLF after chunk data, got {b:#04x}"
                            )))
                        }
                    }
                    i += 1;
                }
                State::Trailer { line_len } => {
                    match input[i] {
                        b'\n' if line_len == 0 => {
                            self.state = State::Done;
                            return Ok(i + 1);
                        }
                        b'\n' => self.state = State::Trailer { line_len: 0 },
                        b'\r' => {}
                        _ => {
                            self.state = State::Trailer {
                                line_len: line_len + 1,
                            }
                        }
                    }
                    i += 1;
                }
                State::Done => return Ok(i),
            }
        }
        Ok(i)
    }

    fn end_size_line(&mut self) {
        self.state = if self.size == 0 {
            State::Trailer { line_len: 0 }
        } else {
            State::Data(self.size)
        };
        self.size = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(parts: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        for p in parts {
            let n = d.decode(p, &mut out).unwrap();
            if !d.is_done() {
                assert_eq!(n, p.len());
            }
        }
        (out, d.is_done())
    }

    #[test]
    fn whole_body_at_once() {
        let (out, done) = decode_all(&[b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"]);
        assert_eq!(out, b"hello world");
        assert!(done);
    }

    #[test]
    fn every_split_point() {
        let body: &[u8] =
            b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: y\r\n\r\n";
        for cut in 0..=body.len() {
            for cut2 in cut..=body.len() {
                let (out, done) = decode_all(&[&body[..cut], &body[cut..cut2], &body[cut2..]]);
                assert_eq!(out, b"Wikipedia in\r\n\r\nchunks.", "cuts {cut} {cut2}");
                assert!(done);
            }
        }
    }

    #[test]
    fn byte_by_byte_and_bare_lf() {
        let body: &[u8] = b"3\nabc\n1a\n0123456789abcdefghijklmnop\n0\n\n";
        let parts: Vec<&[u8]> = body.chunks(1).collect();
        let (out, done) = decode_all(&parts);
        assert_eq!(out, b"abc0123456789abcdefghijklmnop");
        assert!(done);
    }

    #[test]
    fn stops_at_end_of_body() {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let input = b"2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n";
        let n = d.decode(input, &mut out).unwrap();
        assert!(d.is_done());
        assert_eq!(&input[n..], b"HTTP/1.1 200 OK\r\n");
        assert_eq!(out, b"ok");
    }

    #[test]
    fn rejects_garbage() {
        let mut d = ChunkedDecoder::new();
        assert!(d.decode(b"zz\r\n", &mut Vec::new()).is_err());
        let mut d = ChunkedDecoder::new();
        assert!(d.decode(b"2\r\nokX", &mut Vec::new()).is_err());
    }
}
