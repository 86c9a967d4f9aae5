//! The in-memory page cache. Public pages are the same for every anonymous reader, so a
//! rendered page is kept (with its gzip and brotli forms, compressed once) until what it
//! shows changes. Each page says what it depends on ([`Scope`]): a change to a post, a
//! setting or a user empties the whole cache; a new thought or like on one post drops only
//! the pages of that post (its page and thought feed) and the site-wide thoughts feed.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

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
    pub scope: Scope,
    /// Every header of a full answer but the encoding, built on first use: a cache hit
    /// clones it instead of inserting a dozen headers one by one.
    head: OnceLock<HeaderMap>,
}

/// What a cached page shows besides site-wide content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Posts, terms, users, settings only: dropped on site-wide changes.
    #[default]
    Site,
    /// Also one post's thoughts and likes.
    Post(i64),
    /// Also the newest thoughts of every post.
    AllThoughts,
}

impl Rendered {
    pub fn new(
        status: StatusCode,
        content_type: &'static str,
        body: String,
        last_modified: i64,
    ) -> Self {
        let body = Bytes::from(body);
        // The validator names these exact bytes; 128 bits of xxh3 make two versions of a page
        // with one tag vanishingly unlikely, at a tenth of SHA-256's cost per render.
        let hash = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&body));
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
            scope: Scope::Site,
            head: OnceLock::new(),
        }
    }

    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
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
        let mut headers = self.head().clone();
        if not_modified && self.status == StatusCode::OK {
            headers.remove(header::CONTENT_TYPE);
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
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
        let mut res = Response::new(axum::body::Body::from(body));
        *res.status_mut() = self.status;
        *res.headers_mut() = headers;
        res
    }

    fn head(&self) -> &HeaderMap {
        self.head.get_or_init(|| {
            let mut h = HeaderMap::with_capacity(16);
            h.insert(header::ETAG, self.etag.clone());
            h.insert(header::LAST_MODIFIED, self.last_modified.clone());
            h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=0, must-revalidate"),
            );
            for (k, v) in &self.extra {
                h.insert(k.clone(), v.clone());
            }
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.content_type),
            );
            crate::routes::security_headers(&mut h);
            h
        })
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
    /// Bumped on every clear, whole or partial; a page rendered under an older generation is
    /// not stored, so a render racing a change can never put a stale page back.
    generation: AtomicU64,
    /// Bumped only when the whole cache is cleared: what [`Memo`]s depend on.
    site_generation: AtomicU64,
}

/// Most entries the cache holds before it starts afresh (bounds memory against crawlers).
const MAX_ENTRIES: usize = 5000;

impl PageCache {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            pages: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            site_generation: AtomicU64::new(0),
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

    pub fn site_generation(&self) -> u64 {
        self.site_generation.load(Ordering::Acquire)
    }

    pub fn clear(&self) {
        if let Ok(mut map) = self.pages.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            self.site_generation.fetch_add(1, Ordering::AcqRel);
            map.clear();
        }
    }

    /// Drops the pages that show this post's thoughts or likes, and the site-wide thoughts feed.
    pub fn clear_post(&self, post_id: i64) {
        if let Ok(mut map) = self.pages.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            map.retain(|_, p| match p.scope {
                Scope::Site => true,
                Scope::Post(id) => id != post_id,
                Scope::AllThoughts => false,
            });
        }
    }
}

/// Data derived from the database that every render needs (the menu, authors, the last
/// change), kept until the page cache is next cleared whole. Same rule as pages: a value
/// computed while a change happened is not kept (callers pass `site_generation()`).
pub struct Memo<K, V> {
    map: RwLock<(u64, HashMap<K, V>)>,
}

impl<K: std::hash::Hash + Eq, V: Clone> Memo<K, V> {
    pub fn new() -> Self {
        Self {
            map: RwLock::new((0, HashMap::new())),
        }
    }

    /// Memos stay on when the page cache is off (`COLLOQUY_PAGE_CACHE=off` renders every
    /// page; it does not re-read the menu and the authors for each one).
    pub fn get(&self, cache: &PageCache, key: &K) -> Option<V> {
        let m = self.map.read().ok()?;
        (m.0 == cache.site_generation()).then(|| m.1.get(key).cloned())?
    }

    /// Stores `value`, computed under `generation`, unless the cache was cleared since.
    pub fn put(&self, cache: &PageCache, generation: u64, key: K, value: V) {
        if let Ok(mut m) = self.map.write() {
            let now = cache.site_generation();
            if now != generation {
                return;
            }
            if m.0 != now {
                *m = (now, HashMap::new());
            }
            if m.1.len() >= MAX_ENTRIES {
                m.1.clear();
            }
            m.1.insert(key, value);
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

    #[test]
    fn memo_forgets_on_clear_and_refuses_stale_values() {
        let c = PageCache::new(true);
        let m: Memo<i64, &str> = Memo::new();
        let g = c.site_generation();
        m.put(&c, g, 1, "one");
        assert_eq!(m.get(&c, &1), Some("one"));
        c.clear();
        assert_eq!(m.get(&c, &1), None);
        m.put(&c, g, 1, "stale");
        assert_eq!(m.get(&c, &1), None);
    }

    #[test]
    fn a_thought_drops_only_its_post_and_the_thoughts_feed() {
        let c = PageCache::new(true);
        let page = |scope| {
            Arc::new(Rendered::new(StatusCode::OK, "text/html", "x".into(), 0).with_scope(scope))
        };
        let g = c.generation();
        c.put("/".into(), page(Scope::Site), g);
        c.put("/a/".into(), page(Scope::Post(1)), g);
        c.put("/b/".into(), page(Scope::Post(2)), g);
        c.put("/comments/feed/".into(), page(Scope::AllThoughts), g);
        let site = c.site_generation();
        c.clear_post(1);
        assert!(c.get("/").is_some());
        assert!(c.get("/a/").is_none());
        assert!(c.get("/b/").is_some());
        assert!(c.get("/comments/feed/").is_none());
        assert_eq!(c.site_generation(), site, "memos survive a thought");
        c.put("/a/".into(), page(Scope::Post(1)), g);
        assert!(
            c.get("/a/").is_none(),
            "a render from before the thought is not kept"
        );
    }
}
