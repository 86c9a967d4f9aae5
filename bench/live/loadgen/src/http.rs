//! Just enough HTTP/1.1 for the load generator: `http://` URLs, response heads, and a
//! keep-alive client for JSON requests (Content-Length, chunked or close-delimited bodies).

use crate::chunked::ChunkedDecoder;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    /// Path plus query, always starting with `/`.
    pub target: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, String> {
        let rest = s
            .strip_prefix("http://")
            .ok_or_else(|| format!("only http:// URLs are supported: {s:?}"))?;
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        let target = match target.find('#') {
            Some(i) => target[..i].to_string(),
            None => target,
        };
        let (host, port) = if let Some(h) = authority.strip_prefix('[') {
            let end = h
                .find(']')
                .ok_or_else(|| format!("bad IPv6 host in {s:?}"))?;
            let port = match &h[end + 1..] {
                "" => 80,
                p => p
                    .strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| format!("bad port in {s:?}"))?,
            };
            (h[..end].to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse().map_err(|_| format!("bad port in {s:?}"))?,
                ),
                None => (authority.to_string(), 80),
            }
        };
        if host.is_empty() {
            return Err(format!("no host in {s:?}"));
        }
        Ok(Url { host, port, target })
    }

    /// The `Host:` header value.
    pub fn host_header(&self) -> String {
        let h = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            h
        } else {
            format!("{h}:{}", self.port)
        }
    }

    /// The request target with `key=value` added to the query string.
    pub fn target_with_query(&self, key: &str, value: &str) -> String {
        let sep = if self.target.contains('?') { '&' } else { '?' };
        format!("{}{sep}{key}={value}", self.target)
    }

    pub async fn resolve(&self) -> Result<SocketAddr, String> {
        tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("cannot resolve {}: {e}", self.host))?
            .next()
            .ok_or_else(|| format!("{} resolves to no address", self.host))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Chunked,
    Length(u64),
    UntilClose,
}

#[derive(Debug, Clone)]
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: BodyKind,
    pub keep_alive: bool,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a response head from the start of `buf`. `Ok(None)`: incomplete, read more.
/// On success returns the head and its length in bytes (the body starts there).
pub fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, String> {
    let end = match find_head_end(buf) {
        Some(e) => e,
        None if buf.len() > 64 * 1024 => return Err("response head over 64 KiB".into()),
        None => return Ok(None),
    };
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| "response head is not UTF-8")?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP/1.x response: {status_line:?}"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut head = Head {
        status,
        headers,
        body: BodyKind::UntilClose,
        keep_alive: version != "HTTP/1.0",
    };
    if let Some(c) = head.header("connection") {
        let c = c.to_ascii_lowercase();
        if c.contains("close") {
            head.keep_alive = false;
        } else if c.contains("keep-alive") {
            head.keep_alive = true;
        }
    }
    let chunked = head
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    head.body = if chunked {
        BodyKind::Chunked
    } else if let Some(l) = head.header("content-length") {
        BodyKind::Length(l.parse().map_err(|_| format!("bad Content-Length {l:?}"))?)
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        BodyKind::Length(0)
    } else {
        BodyKind::UntilClose
    };
    if head.body == BodyKind::UntilClose {
        head.keep_alive = false;
    }
    Ok(Some((head, end)))
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

/// Reads from `stream` into `buf` until a full response head is there; returns the head
/// and leaves the bytes after it (the start of the body) in `buf`.
pub async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Head> {
    loop {
        match parse_head(buf) {
            Ok(Some((head, len))) => {
                buf.drain(..len);
                return Ok(head);
            }
            Ok(None) => {}
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        }
        let mut tmp = [0u8; 4096];
        let n = stream.read(&mut tmp).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the response head",
            ));
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub head: Head,
    pub body: Vec<u8>,
}

/// One keep-alive HTTP/1.1 connection for request/response traffic (no pipelining).
pub struct Client {
    addr: SocketAddr,
    host: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    timeout: Duration,
    pub connects: u64,
}

impl Client {
    pub fn new(addr: SocketAddr, host_header: String, timeout: Duration) -> Self {
        Client {
            addr,
            host: host_header,
            stream: None,
            buf: Vec::with_capacity(4096),
            timeout,
            connects: 0,
        }
    }

    /// Sends one request; `headers` are extra header lines, each ending in CRLF.
    pub async fn request(
        &mut self,
        method: &str,
        target: &str,
        headers: &str,
        body: &[u8],
    ) -> io::Result<Response> {
        match tokio::time::timeout(
            self.timeout,
            self.request_inner(method, target, headers, body),
        )
        .await
        {
            Ok(r) => {
                if r.is_err() {
                    self.stream = None;
                }
                r
            }
            Err(_) => {
                self.stream = None;
                Err(io::Error::new(io::ErrorKind::TimedOut, "request timed out"))
            }
        }
    }

    async fn request_inner(
        &mut self,
        method: &str,
        target: &str,
        headers: &str,
        body: &[u8],
    ) -> io::Result<Response> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
            self.buf.clear();
            self.connects += 1;
        }
        let stream = self.stream.as_mut().unwrap();
        let mut req = Vec::with_capacity(256 + body.len());
        req.extend_from_slice(
            format!(
                "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n{headers}\r\n",
                self.host,
                body.len()
            )
            .as_bytes(),
        );
        req.extend_from_slice(body);
        stream.write_all(&req).await?;
        let head = read_head(stream, &mut self.buf).await?;
        let mut out = Vec::new();
        match head.body {
            BodyKind::Length(n) => {
                let n = n as usize;
                while self.buf.len() < n {
                    read_more(stream, &mut self.buf).await?;
                }
                out.extend(self.buf.drain(..n));
            }
            BodyKind::Chunked => {
                let mut dec = ChunkedDecoder::new();
                loop {
                    let used = dec
                        .decode(&self.buf, &mut out)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                    self.buf.drain(..used);
                    if dec.is_done() {
                        break;
                    }
                    read_more(stream, &mut self.buf).await?;
                }
            }
            BodyKind::UntilClose => {
                out.append(&mut self.buf);
                stream.read_to_end(&mut out).await?;
            }
        }
        if !head.keep_alive {
            self.stream = None;
        }
        Ok(Response { head, body: out })
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut tmp = [0u8; 4096];
    let n = stream.read(&mut tmp).await?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed inside the response body",
        ));
    }
    buf.extend_from_slice(&tmp[..n]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("http://127.0.0.1:8080/api/v1/debates/3/events?x=1#frag").unwrap();
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, 8080);
        assert_eq!(u.target, "/api/v1/debates/3/events?x=1");
        assert_eq!(
            u.target_with_query("after", "5"),
            "/api/v1/debates/3/events?x=1&after=5"
        );
        assert_eq!(u.host_header(), "127.0.0.1:8080");
        let u = Url::parse("http://localhost").unwrap();
        assert_eq!(
            (u.port, u.target.as_str(), u.host_header().as_str()),
            (80, "/", "localhost")
        );
        assert_eq!(u.target_with_query("after", "5"), "/?after=5");
        let u = Url::parse("http://[::1]:9000?q").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.target.as_str()),
            ("::1", 9000, "/?q")
        );
        assert_eq!(u.host_header(), "[::1]:9000");
        assert!(Url::parse("https://x/").is_err());
        assert!(Url::parse("http://:80/").is_err());
    }

    #[test]
    fn heads() {
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n")
                .unwrap()
                .is_none()
        );
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n";
        let (h, n) = parse_head(raw).unwrap().unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(h.body, BodyKind::Chunked);
        assert!(h.keep_alive);
        assert_eq!(h.header("Content-Type"), Some("text/event-stream"));
        assert_eq!(&raw[n..], b"5\r\n");
        let (h, _) = parse_head(b"HTTP/1.1 429 Too Many Requests\nretry-after: 2\ncontent-length: 10\nconnection: close\n\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            (h.status, h.body, h.keep_alive),
            (429, BodyKind::Length(10), false)
        );
        assert_eq!(h.header("Retry-After"), Some("2"));
        let (h, _) = parse_head(b"HTTP/1.0 200 OK\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.body, h.keep_alive), (BodyKind::UntilClose, false));
        assert!(parse_head(b"SSH-2.0\r\n\r\n").is_err());
    }
}
