//! The in-memory page cache. Public pages are the same for every reader, so a rendered page
//! is kept (with its gzip and brotli forms, compressed once) until anything on the site
//! changes. A change anywhere empties the whole cache: coarse, but never stale.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// A rendered public response and its compressed forms.
pub struct Rendered {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
    pub gzip: Option<Bytes>,
    pub br: Option<Bytes>,
    pub etag: HeaderValue,
    pub last_modified: HeaderValue,
    pub extra: Vec<(header::HeaderName, HeaderValue)>,
}

impl Rendered {
    pub fn new(
        status: StatusCode,
        content_type: &'static str,
        body: String,
        last_modified: i64,
    ) -> Self {
        let body = Bytes::from(body);
        let hash = {
            use sha2::Digest;
            hex::encode(&sha2::Sha256::digest(&body)[..12])
        };
        let lm =
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(last_modified.max(0) as u64);
        Self {
            status,
            content_type,
            body,
            gzip: None,
            br: None,
            etag: HeaderValue::from_str(&format!("\"{hash}\"")).expect("hex"),
            last_modified: HeaderValue::from_str(&httpdate::fmt_http_date(lm)).expect("date"),
            extra: vec![],
        }
    }

    pub fn with_header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.extra.push((name, v));
        }
        self
    }

    /// Compresses the body both ways, once, for keeping in the cache.
    pub fn compress(mut self) -> Self {
        if self.body.len() > 512 {
            self.gzip = Some(gzip(&self.body, 6));
            let mut out = Vec::with_capacity(self.body.len() / 3);
            let params = brotli::enc::BrotliEncoderParams {
                quality: 9,
                ..Default::default()
            };
            if brotli::BrotliCompress(&mut &self.body[..], &mut out, &params).is_ok() {
                self.br = Some(Bytes::from(out));
            }
        }
        self
    }

    /// Answers one request: 304 when the client has this version, else the best encoding.
    pub fn respond(&self, req: &HeaderMap, compress_on_the_fly: bool) -> Response {
        let not_modified = match req.get(header::IF_NONE_MATCH) {
            Some(inm) => inm
                .to_str()
                .map(|v| {
                    v.split(',')
                        .any(|t| t.trim().trim_start_matches("W/") == self.etag || t.trim() == "*")
                })
                .unwrap_or(false),
            None => req
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| httpdate::parse_http_date(v).ok())
                .zip(
                    self.last_modified
                        .to_str()
                        .ok()
                        .and_then(|v| httpdate::parse_http_date(v).ok()),
                )
                .map(|(since, lm)| lm <= since)
                .unwrap_or(false),
        };
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(header::LAST_MODIFIED, self.last_modified.clone());
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=0, must-revalidate"),
        );
        for (k, v) in &self.extra {
            headers.insert(k.clone(), v.clone());
        }
        if not_modified && self.status == StatusCode::OK {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        let accept = req
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let (body, enc) = if accepts(accept, "br") && self.br.is_some() {
            (self.br.clone().unwrap_or_default(), Some("br"))
        } else if accepts(accept, "gzip") && self.gzip.is_some() {
            (self.gzip.clone().unwrap_or_default(), Some("gzip"))
        } else if compress_on_the_fly && accepts(accept, "gzip") && self.body.len() > 512 {
            (gzip(&self.body, 1), Some("gzip"))
        } else {
            (self.body.clone(), None)
        };
        if let Some(e) = enc {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
        }
        (self.status, headers, body).into_response()
    }
}

fn gzip(data: &[u8], level: u32) -> Bytes {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 3),
        flate2::Compression::new(level),
    );
    let _ = enc.write_all(data);
    Bytes::from(enc.finish().unwrap_or_default())
}

/// True when the Accept-Encoding value lists `coding` without `q=0`.
fn accepts(header_value: &str, coding: &str) -> bool {
    header_value.split(',').any(|part| {
        let mut it = part.split(';');
        let name = it.next().unwrap_or("").trim();
        let q_zero = it.any(|p| {
            let p = p.trim();
            p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
        });
        name.eq_ignore_ascii_case(coding) && !q_zero
    })
}

pub struct PageCache {
    enabled: bool,
    pages: RwLock<HashMap<String, Arc<Rendered>>>,
    /// Bumped on every clear; a page rendered under an older generation is not stored, so a
    /// render racing a change can never put a stale page back.
    generation: AtomicU64,
}

/// Most entries the cache holds before it starts afresh (bounds memory against crawlers).
const MAX_ENTRIES: usize = 5000;

impl PageCache {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            pages: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, key: &str) -> Option<Arc<Rendered>> {
        if !self.enabled {
            return None;
        }
        self.pages.read().ok()?.get(key).cloned()
    }

    pub fn put(&self, key: String, page: Arc<Rendered>, generation: u64) {
        if !self.enabled {
            return;
        }
        if let Ok(mut map) = self.pages.write() {
            if self.generation.load(Ordering::Acquire) != generation {
                return;
            }
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(key, page);
        }
    }

    pub fn clear(&self) {
        if let Ok(mut map) = self.pages.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            map.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_parsing() {
        assert!(accepts("gzip, deflate, br", "br"));
        assert!(accepts("GZIP", "gzip"));
        assert!(!accepts("gzip;q=0, br", "gzip"));
        assert!(!accepts("identity", "gzip"));
    }

    #[test]
    fn a_render_racing_a_change_is_not_stored() {
        let c = PageCache::new(true);
        let g = c.generation();
        c.clear();
        let page = Arc::new(Rendered::new(StatusCode::OK, "text/html", "x".into(), 0));
        c.put("/".into(), page.clone(), g);
        assert!(c.get("/").is_none());
        c.put("/".into(), page, c.generation());
        assert!(c.get("/").is_some());
    }
}
