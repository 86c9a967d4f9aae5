//! Webmention and Pingback endpoint discovery.
//!
//! Both functions are pure: the caller fetches the target page through the
//! [`Fetcher`](crate::Fetcher) (following redirects) and hands over the final URL, the
//! response headers and the body. Nothing here touches the network.
//!
//! Webmention (W3C Recommendation, §3.1.2 "Sender discovers receiver Webmention endpoint"):
//!
//! 1. Every HTTP `Link` header, in order, with every comma-separated link in it: the first
//!    link whose `rel` lists `webmention` (or the legacy `http://webmention.org/`) wins.
//! 2. Otherwise, when the body is HTML, the first `<link>` or `<a>` element in document
//!    order whose `rel` lists `webmention` and that has an `href` attribute.
//!
//! Relative URLs are resolved against the final URL (in the body, against `<base href>` when
//! present); an empty `href` means the page itself; query strings are kept exactly as
//! written. Only `http` and `https` endpoints are returned: a candidate with another scheme
//! is skipped and the search goes on.
//!
//! Pingback (Pingback 1.0, "Autodiscovery"): the `X-Pingback` header, else the first
//! `<link rel="pingback" href>`.

use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::tree_builder::{Tracer, TreeSink};
use reqwest::header::{HeaderMap, CONTENT_TYPE, LINK};
use scraper::{ElementRef, Html, HtmlTreeSink};
use std::cell::Cell;
use url::Url;

/// The rel values that name a Webmention endpoint (the second is the pre-W3C form).
const WEBMENTION_RELS: &[&str] = &[
    "webmention",
    "http://webmention.org/",
    "http://webmention.org",
];
const PINGBACK_RELS: &[&str] = &["pingback"];

/// Where to send a Webmention for a page fetched from `final_url` (after redirects), given
/// its response headers and body.
pub fn webmention_endpoint(final_url: &Url, headers: &HeaderMap, body: &str) -> Option<Url> {
    for value in headers.get_all(LINK) {
        let value = String::from_utf8_lossy(value.as_bytes());
        for link in parse_link_header(&value) {
            if !rel_matches(link.rel.as_deref().unwrap_or(""), WEBMENTION_RELS) {
                continue;
            }
            if let Some(url) = resolve_endpoint(final_url, final_url, &link.target) {
                return Some(url);
            }
        }
    }
    if !is_html(headers) {
        return None;
    }
    find_in_html(final_url, body, &["link", "a"], WEBMENTION_RELS)
}

/// Where to send a Pingback: the `X-Pingback` header, else the first
/// `<link rel="pingback" href>`.
pub fn pingback_endpoint(final_url: &Url, headers: &HeaderMap, body: &str) -> Option<Url> {
    for value in headers.get_all("x-pingback") {
        let value = String::from_utf8_lossy(value.as_bytes());
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if let Some(url) = resolve_endpoint(final_url, final_url, value) {
            return Some(url);
        }
    }
    if !is_html(headers) {
        return None;
    }
    find_in_html(final_url, body, &["link"], PINGBACK_RELS)
}

/// Whether the body should be read as HTML: yes unless a `Content-Type` says otherwise.
fn is_html(headers: &HeaderMap) -> bool {
    match headers.get(CONTENT_TYPE) {
        None => true,
        Some(value) => {
            let value = String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase();
            value.contains("html") || value.trim().is_empty()
        }
    }
}

/// Whether a space-separated `rel` value lists one of `wanted` (ASCII case-insensitive).
fn rel_matches(rel: &str, wanted: &[&str]) -> bool {
    rel.split(|c: char| c.is_ascii_whitespace())
        .any(|token| wanted.iter().any(|w| token.eq_ignore_ascii_case(w)))
}

/// Resolves an endpoint reference; `None` unless the result is an http(s) URL.
///
/// An empty reference means the page itself.
fn resolve_endpoint(page: &Url, base: &Url, reference: &str) -> Option<Url> {
    let reference = reference.trim_matches(|c: char| c.is_ascii_whitespace());
    let url = if reference.is_empty() {
        page.clone()
    } else {
        base.join(reference).ok()?
    };
    matches!(url.scheme(), "http" | "https").then_some(url)
}

/// Parsing stops (as if the page ended there) once this many elements are open at once.
pub(crate) const MAX_OPEN_ELEMENTS: usize = 512;
/// Parsing stops before a tag with more attributes than this.
pub(crate) const MAX_ATTRIBUTES: usize = 500;
/// The body is fed to the parser in pieces of about this many bytes.
const CHUNK: usize = 2048;

/// Parses a page that a stranger wrote, in bounded time.
///
/// html5ever follows the HTML standard, whose tree construction walks the stack of open
/// elements on many tags, and whose tokenizer checks each attribute against the tag's
/// earlier ones: both are quadratic, and a 1 MiB page of nested `<div>`s or of one tag with
/// 200,000 attributes takes minutes or seconds. Browsers cap the nesting depth (Blink at 512);
/// here the page is read as if it ended where it first goes past [`MAX_OPEN_ELEMENTS`] open
/// elements (checked between pieces of [`CHUNK`] bytes) or before the first tag with more
/// than [`MAX_ATTRIBUTES`] attributes. Ordinary pages never come near either limit.
pub(crate) fn parse_html(body: &str) -> Html {
    parse_html_bounded(body).0
}

/// [`parse_html`], also saying whether the page was cut short (too deeply nested, or a tag
/// with too many attributes): for callers that must report what they did not read.
pub fn parse_html_bounded(body: &str) -> (Html, bool) {
    let whole = body.len();
    let body = &body[..attribute_bounded_prefix(body)];
    let mut cut = body.len() < whole;
    let mut parser =
        html5ever::parse_document(HtmlTreeSink::new(Html::new_document()), Default::default());
    let mut start = 0;
    while start < body.len() {
        let mut end = (start + CHUNK).min(body.len());
        while !body.is_char_boundary(end) {
            end += 1;
        }
        parser.process(StrTendril::from_slice(&body[start..end]));
        start = end;
        let counter = Counter(Cell::new(0));
        parser.tokenizer.sink.trace_handles(&counter);
        if counter.0.get() > MAX_OPEN_ELEMENTS {
            cut = true;
            break;
        }
    }
    (parser.finish(), cut)
}

/// Counts the handles the tree builder holds: its open elements and active formatting
/// elements (plus the document, head and form).
struct Counter(Cell<usize>);

impl Tracer for Counter {
    type Handle = <HtmlTreeSink as TreeSink>::Handle;

    fn trace_handle(&self, _node: &Self::Handle) {
        self.0.set(self.0.get() + 1);
    }
}

/// Elements whose contents the tokenizer reads as text, up to their end tag.
const RAW_TEXT: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
];

/// The length of the longest prefix of `body` in which no tag has more than
/// [`MAX_ATTRIBUTES`] attributes, by a light scan that follows the tokenizer closely enough:
/// comments, `<!...>`, `<?...>` and the contents of raw-text elements are skipped; in a tag,
/// every run of characters after whitespace or `/` counts as an attribute, and a quoted value
/// after `=` is skipped whole. Over-counting can only cut a page early, never let a tag
/// with many more attributes through.
fn attribute_bounded_prefix(body: &str) -> usize {
    let b = body.as_bytes();
    let n = b.len();
    let mut i = 0;
    while i < n {
        let Some(lt) = b[i..].iter().position(|&c| c == b'<') else {
            return n;
        };
        let tag_start = i + lt;
        i = tag_start + 1;
        if b[i..].starts_with(b"!--") {
            i = find(b, i + 3, b"-->").map_or(n, |p| p + 3);
            continue;
        }
        if i < n && (b[i] == b'!' || b[i] == b'?') {
            i = find(b, i, b">").map_or(n, |p| p + 1);
            continue;
        }
        let end_tag = i < n && b[i] == b'/';
        if end_tag {
            i += 1;
        }
        if i >= n || !b[i].is_ascii_alphabetic() {
            continue;
        }
        let name_start = i;
        while i < n && !b[i].is_ascii_whitespace() && !matches!(b[i], b'/' | b'>') {
            i += 1;
        }
        let name = body[name_start..i].to_ascii_lowercase();
        let mut attributes = 0;
        let mut after_separator = false;
        while i < n && b[i] != b'>' {
            let c = b[i];
            if c.is_ascii_whitespace() || c == b'/' {
                after_separator = true;
                i += 1;
                continue;
            }
            if c == b'=' {
                i += 1;
                while i < n && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i < n && (b[i] == b'"' || b[i] == b'\'') {
                    let quote = b[i];
                    i = b[i + 1..]
                        .iter()
                        .position(|&c| c == quote)
                        .map_or(n, |p| i + 1 + p + 1);
                }
                after_separator = false;
                continue;
            }
            if after_separator {
                attributes += 1;
                if attributes > MAX_ATTRIBUTES {
                    return tag_start;
                }
                after_separator = false;
            }
            i += 1;
        }
        if !end_tag && RAW_TEXT.contains(&name.as_str()) {
            let close = format!("</{name}");
            i = find_ignore_case(b, i, close.as_bytes()).unwrap_or(n);
        }
    }
    n
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

fn find_ignore_case(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| from + p)
}

/// The document's base URL: the first `<base href>`, resolved against the page URL.
pub(crate) fn document_base(page: &Url, doc: &Html) -> Url {
    doc.root_element()
        .descendent_elements()
        .find(|e| e.value().name() == "base" && e.value().attr("href").is_some())
        .and_then(|e| page.join(e.value().attr("href")?.trim()).ok())
        .filter(|base| matches!(base.scheme(), "http" | "https"))
        .unwrap_or_else(|| page.clone())
}

fn find_in_html(page: &Url, body: &str, elements: &[&str], rels: &[&str]) -> Option<Url> {
    if body.is_empty() {
        return None;
    }
    let doc = parse_html(body);
    let base = document_base(page, &doc);
    let found = doc
        .root_element()
        .descendent_elements()
        .filter(|e| element_matches(e, elements, rels))
        .find_map(|e| resolve_endpoint(page, &base, e.value().attr("href")?));
    found
}

fn element_matches(e: &ElementRef<'_>, elements: &[&str], rels: &[&str]) -> bool {
    let el = e.value();
    elements.contains(&el.name())
        && el.attr("href").is_some()
        && el.attr("rel").is_some_and(|rel| rel_matches(rel, rels))
}

/// One link of a `Link` header: its target and its first `rel` parameter.
#[derive(Debug, PartialEq, Eq)]
struct HeaderLink {
    target: String,
    rel: Option<String>,
}

/// Parses one `Link` header value (RFC 8288 §3) into its links, leniently.
///
/// The target is everything between `<` and `>` (so commas and semicolons inside it are
/// fine); parameters come in any order, with quoted (backslash escapes allowed) or bare
/// values; a repeated `rel` is ignored after its first occurrence. Anything unparsable is
/// skipped up to the next comma outside a quoted string.
fn parse_link_header(value: &str) -> Vec<HeaderLink> {
    let chars: Vec<char> = value.chars().collect();
    let mut links = Vec::new();
    let mut i = 0;
    let n = chars.len();
    let skip_ws = |i: &mut usize| {
        while *i < n && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    while i < n {
        skip_ws(&mut i);
        if i < n && chars[i] == ',' {
            i += 1;
            continue;
        }
        if i >= n {
            break;
        }
        if chars[i] != '<' {
            // Not a link: skip to the next top-level comma.
            i = skip_to_comma(&chars, i);
            continue;
        }
        let start = i + 1;
        let Some(close) = chars[start..].iter().position(|&c| c == '>') else {
            break;
        };
        let target: String = chars[start..start + close].iter().collect();
        i = start + close + 1;
        let mut rel = None;
        // Parameters.
        loop {
            skip_ws(&mut i);
            if i >= n {
                break;
            }
            match chars[i] {
                ',' => {
                    i += 1;
                    break;
                }
                ';' => {
                    i += 1;
                    skip_ws(&mut i);
                    let name_start = i;
                    while i < n && !matches!(chars[i], '=' | ';' | ',') && !chars[i].is_whitespace()
                    {
                        i += 1;
                    }
                    let name: String = chars[name_start..i].iter().collect();
                    skip_ws(&mut i);
                    let mut param_value = String::new();
                    if i < n && chars[i] == '=' {
                        i += 1;
                        skip_ws(&mut i);
                        if i < n && chars[i] == '"' {
                            i += 1;
                            while i < n && chars[i] != '"' {
                                if chars[i] == '\\' && i + 1 < n {
                                    i += 1;
                                }
                                param_value.push(chars[i]);
                                i += 1;
                            }
                            i += 1; // the closing quote
                        } else {
                            let value_start = i;
                            while i < n && !matches!(chars[i], ';' | ',') {
                                i += 1;
                            }
                            param_value = chars[value_start..i].iter().collect::<String>();
                            param_value = param_value.trim().to_string();
                        }
                    }
                    if rel.is_none() && name.eq_ignore_ascii_case("rel") {
                        rel = Some(param_value);
                    }
                }
                _ => {
                    // Junk after the target or a parameter: skip to the next link.
                    i = skip_to_comma(&chars, i);
                    break;
                }
            }
        }
        links.push(HeaderLink { target, rel });
    }
    links
}

/// The index just past the next comma at or after `i` that is outside a quoted string.
fn skip_to_comma(chars: &[char], mut i: usize) -> usize {
    let mut quoted = false;
    while i < chars.len() {
        match chars[i] {
            '"' => quoted = !quoted,
            '\\' if quoted => i += 1,
            ',' if !quoted => return i + 1,
            _ => {}
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_parser_handles_commas_semicolons_and_param_order() {
        let links = parse_link_header(
            r#"<https://a.example/x,y;z>; title="a, \"b\"; c"; rel=webmention, </p>;rel="other""#,
        );
        assert_eq!(
            links,
            vec![
                HeaderLink {
                    target: "https://a.example/x,y;z".into(),
                    rel: Some("webmention".into())
                },
                HeaderLink {
                    target: "/p".into(),
                    rel: Some("other".into())
                },
            ]
        );
    }

    #[test]
    fn attribute_scan_cuts_before_a_tag_with_too_many_attributes() {
        let ok = format!("<p {}>", "a ".repeat(MAX_ATTRIBUTES));
        assert_eq!(attribute_bounded_prefix(&ok), ok.len());
        let bad = format!("<p>fine</p><a {}>", "a ".repeat(MAX_ATTRIBUTES + 1));
        assert_eq!(attribute_bounded_prefix(&bad), "<p>fine</p>".len());
        // Quoted values, comments and scripts do not count.
        let quoted = format!("<a title=\"{}\">", "a ".repeat(10 * MAX_ATTRIBUTES));
        assert_eq!(attribute_bounded_prefix(&quoted), quoted.len());
        let script = format!(
            "<script>if (a<b {}) {{}}</script><p>",
            "x ".repeat(10 * MAX_ATTRIBUTES)
        );
        assert_eq!(attribute_bounded_prefix(&script), script.len());
        let comment = format!("<!-- <a {} -->", "x ".repeat(10 * MAX_ATTRIBUTES));
        assert_eq!(attribute_bounded_prefix(&comment), comment.len());
    }

    #[test]
    fn parse_stops_at_the_nesting_limit() {
        let page = format!("{}<a href=\"/deep\">x</a>", "<div>".repeat(100_000));
        let doc = parse_html(&page);
        let divs = doc.root_element().descendent_elements().count();
        assert!(
            (MAX_OPEN_ELEMENTS..MAX_OPEN_ELEMENTS + CHUNK).contains(&divs),
            "{divs}"
        );
        let shallow = parse_html(&"<p>x</p>".repeat(10_000));
        assert_eq!(shallow.root_element().descendent_elements().count(), 10_003);
    }

    #[test]
    fn link_header_parser_survives_junk() {
        let links = parse_link_header(r#"junk, "x,y", <a>; rel="webmention" junk, <b>; rel=x"#);
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].target, "a");
        assert_eq!(links[1].rel.as_deref(), Some("x"));
        assert!(parse_link_header("<unterminated; rel=webmention").is_empty());
    }
}
