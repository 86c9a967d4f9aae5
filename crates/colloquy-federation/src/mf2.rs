//! What a linkback source page says about a target: a small microformats2 reader.
//!
//! Given the HTML of a page that claims to link to one of our posts, [`read_mention`] says
//! whether it is a reply, a repost, a like or a plain mention, who wrote it and what it says;
//! [`links_to`] only checks that the link is really there. Both are pure: the caller fetches
//! the page through the [`Fetcher`](crate::Fetcher).
//!
//! This is a hand-written subset of the microformats2 parsing rules
//! (<https://microformats.org/wiki/microformats2-parsing>), enough for linkbacks:
//!
//! - **Entry.** The first `h-entry` that contains a link to the target (the outermost one,
//!   when entries are nested), else the first `h-entry` of the page, else none (the page
//!   itself, read through its `<title>` and `<meta>` tags).
//! - **Properties.** `p-*`, `u-*`, `dt-*` and `e-*` classes of the entry's descendants,
//!   not descending into nested microformats (`h-*`), whose own property classes still count
//!   (`p-author h-card`, `u-in-reply-to h-cite`). Values follow the parsing rules: `href`,
//!   `src`, `datetime`, `title`, `value`, `alt` attributes where they apply, the simple
//!   value-class pattern, else the text.
//! - **Kind.** `u-in-reply-to` equal to the target is a reply, `u-repost-of` a repost,
//!   `u-like-of` a like, anything else a mention. A nested `h-cite` counts by its `u-url`.
//! - **Author.** The entry's `p-author` (an `h-card`'s `p-name`, `u-url`, `u-photo`, with the
//!   implied name, url and photo rules; or plain text), else the author of an enclosing
//!   `h-feed`, else the page's first top-level `h-card`, else a `rel="author"` link.
//!
//! All URLs are resolved against the source URL (or its `<base href>`). Text is taken
//! without `<script>`, `<style>`, `<template>` and `<noscript>` contents, whitespace
//! collapsed. `content_html` is the `e-content` markup exactly as parsed, scripts included:
//! **the caller must sanitise it** before showing it.
//!
//! Hostile pages are bounded: every tree walk is iterative (no recursion, so deep nesting
//! cannot overflow the stack), and the number of links and values examined is capped.

use crate::discovery::{document_base, parse_html};
use scraper::{ElementRef, Html, Node};
use url::Url;

/// At most this many characters of plain text in [`Mention::content_text`].
pub const MAX_CONTENT_TEXT: usize = 2000;
/// Links to the target examined when choosing the entry.
const MAX_TARGET_LINKS: usize = 100;
/// Values of one property examined (e.g. several `u-in-reply-to`).
const MAX_VALUES: usize = 50;

/// How a source page refers to the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MentionKind {
    /// `u-in-reply-to` the target.
    Reply,
    /// `u-repost-of` the target.
    Repost,
    /// `u-like-of` the target.
    Like,
    /// Any other link to the target.
    Mention,
}

/// What a source page says about a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    pub kind: MentionKind,
    pub author_name: Option<String>,
    pub author_url: Option<String>,
    pub author_photo: Option<String>,
    /// `p-name` of the entry (post title), or the page `<title>` as a fallback.
    pub name: Option<String>,
    /// Plain text of `e-content` (or `p-summary`), whitespace collapsed, at most
    /// [`MAX_CONTENT_TEXT`] characters.
    pub content_text: Option<String>,
    /// The writer's own words in `e-content`: its text without nested microformats (the
    /// `h-cite` a reblog quotes), so "Reblogged this and commented: …" shows the comment,
    /// not the quote again.
    pub comment_text: Option<String>,
    /// The `e-content` inner HTML as found (the caller sanitises it).
    pub content_html: Option<String>,
    /// `dt-published` as written.
    pub published: Option<String>,
    /// `u-url` of the entry, resolved.
    pub url: Option<String>,
    /// `og:site_name`, else the part of the page `<title>` after the last ` « `, ` | ` or
    /// ` – `.
    pub site_name: Option<String>,
}

/// Reads the page at `source_url` and says how it refers to `target` (`None` when no link
/// to the target exists anywhere in the page).
pub fn read_mention(source_url: &Url, body: &str, target: &Url) -> Option<Mention> {
    let doc = parse_html(body);
    let base = document_base(source_url, &doc);
    let links = target_links(&doc, &base, target);
    if links.is_empty() {
        return None;
    }
    let entry = choose_entry(&doc, &links);
    let title = page_title(&doc);
    let site_name = meta_site_name(&doc).or_else(|| title.as_deref().and_then(site_from_title));

    let mut mention = Mention {
        kind: MentionKind::Mention,
        author_name: None,
        author_url: None,
        author_photo: None,
        name: None,
        content_text: None,
        comment_text: None,
        content_html: None,
        published: None,
        url: None,
        site_name,
    };

    let mut author = None;
    if let Some(entry) = entry {
        let props = properties(entry);
        mention.kind = kind_of(&props, &base, target);
        mention.name = first(&props, Prefix::P, "name").and_then(|e| non_empty(p_value(e)));
        if let Some(content) = first(&props, Prefix::E, "content") {
            mention.content_html = Some(content.inner_html());
            mention.content_text = non_empty(truncate(&text_of(content), MAX_CONTENT_TEXT));
            mention.comment_text =
                non_empty(truncate(&text_without(content, true), MAX_CONTENT_TEXT));
        } else if let Some(summary) = first(&props, Prefix::P, "summary") {
            mention.content_text = non_empty(truncate(&p_value(summary), MAX_CONTENT_TEXT));
        }
        mention.published =
            first(&props, Prefix::Dt, "published").and_then(|e| non_empty(dt_value(e)));
        mention.url = first(&props, Prefix::U, "url").and_then(|e| u_value(e, &base));
        author = entry_author(&props, &base).or_else(|| feed_author(entry, &base));
    }
    let author = author
        .or_else(|| top_level_card(&doc).map(|card| card_author(card, &base)))
        .or_else(|| rel_author(&doc, &base));
    if let Some(a) = author {
        mention.author_name = a.name;
        mention.author_url = a.url;
        mention.author_photo = a.photo;
    }
    if mention.name.is_none() {
        // A page `<title>` is usually "Post – Site" (WordPress's themes): the post's name is
        // the part before the site's name, which is shown beside it anyway.
        mention.name = title.map(|t| match &mention.site_name {
            Some(site) => title_without_site(&t, site),
            None => t,
        });
    }
    Some(mention)
}

/// Whether the page links to `target` at all: an `href`, `src`, `cite`, `poster` or
/// `data` attribute equal to the target after resolving, ignoring the fragment and a
/// trailing slash. Scripts, comments and plain text do not count.
pub fn links_to(source_url: &Url, body: &str, target: &Url) -> bool {
    let doc = parse_html(body);
    let base = document_base(source_url, &doc);
    let found = doc
        .root_element()
        .descendent_elements()
        .any(|e| element_links_to(e, &base, target));
    found
}

// ---------------------------------------------------------------------------------------
// URLs

/// Whether two URLs name the same page: fragments ignored, a trailing `/` ignored.
fn same_page(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path().trim_end_matches('/') == b.path().trim_end_matches('/')
        && a.query() == b.query()
}

fn resolve(base: &Url, reference: &str) -> Option<Url> {
    let reference = reference.trim();
    base.join(reference).ok()
}

const LINK_ATTRS: &[&str] = &["href", "src", "cite", "poster", "data"];

fn element_links_to(e: ElementRef<'_>, base: &Url, target: &Url) -> bool {
    let el = e.value();
    if matches!(el.name(), "script" | "base" | "style") {
        return false;
    }
    LINK_ATTRS.iter().any(|attr| {
        el.attr(attr)
            .and_then(|v| resolve(base, v))
            .is_some_and(|u| same_page(&u, target))
    })
}

/// The elements that link to the target, in document order (at most [`MAX_TARGET_LINKS`]).
fn target_links<'a>(doc: &'a Html, base: &Url, target: &Url) -> Vec<ElementRef<'a>> {
    doc.root_element()
        .descendent_elements()
        .filter(|e| element_links_to(*e, base, target))
        .take(MAX_TARGET_LINKS)
        .collect()
}

// ---------------------------------------------------------------------------------------
// Microformats structure

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    P,
    U,
    Dt,
    E,
}

/// A name after a microformats prefix: `[a-z0-9]+(-[a-z0-9]+)*`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_root(e: ElementRef<'_>) -> bool {
    e.value()
        .classes()
        .any(|c| c.strip_prefix("h-").is_some_and(valid_name))
}

fn has_class(e: ElementRef<'_>, class: &str) -> bool {
    e.value().classes().any(|c| c == class)
}

fn property_classes(e: ElementRef<'_>) -> impl Iterator<Item = (Prefix, &str)> {
    e.value().classes().filter_map(|c| {
        let (prefix, name) = if let Some(n) = c.strip_prefix("p-") {
            (Prefix::P, n)
        } else if let Some(n) = c.strip_prefix("u-") {
            (Prefix::U, n)
        } else if let Some(n) = c.strip_prefix("dt-") {
            (Prefix::Dt, n)
        } else if let Some(n) = c.strip_prefix("e-") {
            (Prefix::E, n)
        } else {
            return None;
        };
        valid_name(name).then_some((prefix, name))
    })
}

/// One property of a microformat: its prefix, name and the element carrying it.
struct Prop<'a> {
    prefix: Prefix,
    name: &'a str,
    el: ElementRef<'a>,
}

/// The properties of the microformat rooted at `root`, in document order, without
/// descending into nested microformats (whose own property classes are included).
fn properties(root: ElementRef<'_>) -> Vec<Prop<'_>> {
    let mut props = Vec::new();
    let mut stack: Vec<ElementRef<'_>> = root.child_elements().collect();
    stack.reverse();
    while let Some(e) = stack.pop() {
        for (prefix, name) in property_classes(e) {
            props.push(Prop {
                prefix,
                name,
                el: e,
            });
        }
        if !is_root(e) {
            let before = stack.len();
            stack.extend(e.child_elements());
            stack[before..].reverse();
        }
    }
    props
}

fn all<'p, 'a>(
    props: &'p [Prop<'a>],
    prefix: Prefix,
    name: &'p str,
) -> impl Iterator<Item = ElementRef<'a>> + 'p {
    props
        .iter()
        .filter(move |p| p.prefix == prefix && p.name == name)
        .map(|p| p.el)
        .take(MAX_VALUES)
}

fn first<'a>(props: &[Prop<'a>], prefix: Prefix, name: &str) -> Option<ElementRef<'a>> {
    all(props, prefix, name).next()
}

/// Every element with a class `h-entry`, the outermost entry around each target link, the
/// first such entry (in the order of the links) wins; else the page's first `h-entry`.
fn choose_entry<'a>(doc: &'a Html, links: &[ElementRef<'a>]) -> Option<ElementRef<'a>> {
    for link in links {
        let outermost =
            std::iter::successors(Some(*link), |e| e.parent().and_then(ElementRef::wrap))
                .filter(|e| has_class(*e, "h-entry"))
                .last();
        if outermost.is_some() {
            return outermost;
        }
    }
    doc.root_element()
        .descendent_elements()
        .find(|e| has_class(*e, "h-entry"))
}

fn kind_of(props: &[Prop<'_>], base: &Url, target: &Url) -> MentionKind {
    let refers = |name: &str| {
        all(props, Prefix::U, name)
            .any(|e| reference_urls(e, base).iter().any(|u| same_page(u, target)))
    };
    if refers("in-reply-to") {
        MentionKind::Reply
    } else if refers("repost-of") {
        MentionKind::Repost
    } else if refers("like-of") {
        MentionKind::Like
    } else {
        MentionKind::Mention
    }
}

/// The URLs a `u-in-reply-to` (or similar) element stands for: its own u-value and, for a
/// nested microformat such as an `h-cite`, its `u-url`s.
fn reference_urls(e: ElementRef<'_>, base: &Url) -> Vec<Url> {
    let mut urls = Vec::new();
    if let Some(u) = u_value(e, base).and_then(|s| Url::parse(&s).ok()) {
        urls.push(u);
    }
    if is_root(e) {
        let nested = properties(e);
        urls.extend(
            all(&nested, Prefix::U, "url")
                .filter_map(|u| u_value(u, base))
                .filter_map(|s| Url::parse(&s).ok()),
        );
    }
    urls
}

// ---------------------------------------------------------------------------------------
// Authors

struct Author {
    name: Option<String>,
    url: Option<String>,
    photo: Option<String>,
}

fn entry_author(props: &[Prop<'_>], base: &Url) -> Option<Author> {
    let e = props
        .iter()
        .find(|p| p.name == "author" && matches!(p.prefix, Prefix::P | Prefix::U))?;
    if has_class(e.el, "h-card") {
        return Some(card_author(e.el, base));
    }
    let url = if e.prefix == Prefix::U || e.el.value().name() == "a" {
        u_value(e.el, base)
    } else {
        None
    };
    let name = non_empty(p_value(e.el)).filter(|n| Some(n) != url.as_ref());
    (name.is_some() || url.is_some()).then_some(Author {
        name,
        url,
        photo: None,
    })
}

/// The author of an `h-feed` around the entry.
fn feed_author(entry: ElementRef<'_>, base: &Url) -> Option<Author> {
    std::iter::successors(entry.parent().and_then(ElementRef::wrap), |e| {
        e.parent().and_then(ElementRef::wrap)
    })
    .filter(|e| has_class(*e, "h-feed"))
    .find_map(|feed| entry_author(&properties(feed), base))
}

fn card_author(card: ElementRef<'_>, base: &Url) -> Author {
    let props = properties(card);
    let name = first(&props, Prefix::P, "name")
        .and_then(|e| non_empty(p_value(e)))
        .or_else(|| non_empty(implied_name(card)));
    let url = first(&props, Prefix::U, "url")
        .and_then(|e| u_value(e, base))
        .or_else(|| implied_url(card, base));
    let photo = first(&props, Prefix::U, "photo")
        .and_then(|e| u_value(e, base))
        .or_else(|| implied_photo(card, base));
    Author { name, url, photo }
}

fn implied_name(card: ElementRef<'_>) -> String {
    let el = card.value();
    match el.name() {
        "img" | "area" => el.attr("alt").unwrap_or("").trim().to_string(),
        "abbr" if el.attr("title").is_some() => el.attr("title").unwrap_or("").trim().to_string(),
        _ => text_of(card),
    }
}

fn only_child<'a>(card: ElementRef<'a>, names: &[&str]) -> Option<ElementRef<'a>> {
    let mut children = card.child_elements().filter(|c| !is_root(*c));
    let child = children.next()?;
    (children.next().is_none() && names.contains(&child.value().name())).then_some(child)
}

fn implied_url(card: ElementRef<'_>, base: &Url) -> Option<String> {
    let href = |e: ElementRef<'_>| {
        matches!(e.value().name(), "a" | "area")
            .then(|| e.value().attr("href"))
            .flatten()
            .and_then(|h| resolve(base, h))
            .map(String::from)
    };
    href(card).or_else(|| {
        let child = card
            .child_elements()
            .filter(|c| {
                matches!(c.value().name(), "a" | "area") && c.value().attr("href").is_some()
            })
            .collect::<Vec<_>>();
        (child.len() == 1).then(|| href(child[0])).flatten()
    })
}

fn implied_photo(card: ElementRef<'_>, base: &Url) -> Option<String> {
    let src = |e: ElementRef<'_>| {
        let el = e.value();
        match el.name() {
            "img" => el.attr("src"),
            "object" => el.attr("data"),
            _ => None,
        }
        .and_then(|s| resolve(base, s))
        .map(String::from)
    };
    src(card)
        .or_else(|| only_child(card, &["img", "object"]).and_then(src))
        .or_else(|| {
            only_child(card, &["a", "span", "div"])
                .and_then(|c| only_child(c, &["img", "object"]))
                .and_then(src)
        })
}

/// The page's first microformat root that is an `h-card` and not inside another one.
fn top_level_card(doc: &Html) -> Option<ElementRef<'_>> {
    let mut stack: Vec<ElementRef<'_>> = doc.root_element().child_elements().collect();
    stack.reverse();
    while let Some(e) = stack.pop() {
        if is_root(e) {
            if has_class(e, "h-card") {
                return Some(e);
            }
            continue;
        }
        let before = stack.len();
        stack.extend(e.child_elements());
        stack[before..].reverse();
    }
    None
}

fn rel_author(doc: &Html, base: &Url) -> Option<Author> {
    let link = doc.root_element().descendent_elements().find(|e| {
        let el = e.value();
        matches!(el.name(), "a" | "link")
            && el.attr("href").is_some()
            && el.attr("rel").is_some_and(|rel| {
                rel.split_ascii_whitespace()
                    .any(|t| t.eq_ignore_ascii_case("author"))
            })
    })?;
    let url = resolve(base, link.value().attr("href")?).map(String::from);
    let name = if link.value().name() == "a" {
        non_empty(text_of(link))
    } else {
        None
    };
    Some(Author {
        name,
        url,
        photo: None,
    })
}

// ---------------------------------------------------------------------------------------
// Page-level fallbacks

fn page_title(doc: &Html) -> Option<String> {
    doc.root_element()
        .descendent_elements()
        .find(|e| e.value().name() == "title")
        .and_then(|t| non_empty(collapse(&t.text().collect::<String>())))
}

fn meta_site_name(doc: &Html) -> Option<String> {
    doc.root_element()
        .descendent_elements()
        .find(|e| {
            let el = e.value();
            el.name() == "meta"
                && (el.attr("property").or(el.attr("name")))
                    .is_some_and(|p| p.trim().eq_ignore_ascii_case("og:site_name"))
        })
        .and_then(|e| e.value().attr("content"))
        .and_then(|c| non_empty(collapse(c)))
}

/// "Post – Site" without " – Site" (any separator `site_from_title` knows); the title as it
/// is when it does not end with the site's name or nothing would be left.
fn title_without_site(title: &str, site: &str) -> String {
    for sep in [" « ", " | ", " – "] {
        if let Some(head) = title.strip_suffix(site).and_then(|h| h.strip_suffix(sep)) {
            if !head.trim().is_empty() {
                return head.trim().to_string();
            }
        }
    }
    title.to_string()
}

fn site_from_title(title: &str) -> Option<String> {
    [" « ", " | ", " – "]
        .iter()
        .filter_map(|sep| title.rfind(sep).map(|i| i + sep.len()))
        .max()
        .and_then(|i| non_empty(title[i..].trim().to_string()))
}

// ---------------------------------------------------------------------------------------
// Values

/// The value-class pattern: the values of `.value` / `.value-title` descendants, if any.
fn value_class(e: ElementRef<'_>) -> Option<String> {
    let mut parts = Vec::new();
    let mut stack: Vec<ElementRef<'_>> = e.child_elements().collect();
    stack.reverse();
    while let Some(c) = stack.pop() {
        if is_root(c) {
            continue;
        }
        if has_class(c, "value-title") {
            parts.push(c.value().attr("title").unwrap_or("").to_string());
        } else if has_class(c, "value") {
            let el = c.value();
            let v = match el.name() {
                "img" | "area" => el.attr("alt").map(str::to_string),
                "data" | "input" => el.attr("value").map(str::to_string),
                "abbr" => el.attr("title").map(str::to_string),
                "time" | "ins" | "del" => el.attr("datetime").map(str::to_string),
                _ => None,
            };
            parts.push(v.unwrap_or_else(|| text_of(c)));
        } else {
            let before = stack.len();
            stack.extend(c.child_elements());
            stack[before..].reverse();
        }
        if parts.len() >= MAX_VALUES {
            break;
        }
    }
    (!parts.is_empty()).then(|| parts.concat())
}

fn p_value(e: ElementRef<'_>) -> String {
    let el = e.value();
    let attr = match el.name() {
        "abbr" | "link" => el.attr("title"),
        "data" | "input" => el.attr("value"),
        "img" | "area" => el.attr("alt"),
        _ => None,
    };
    match attr {
        Some(a) => collapse(a),
        None => value_class(e)
            .map(|v| collapse(&v))
            .unwrap_or_else(|| text_of(e)),
    }
}

fn u_value(e: ElementRef<'_>, base: &Url) -> Option<String> {
    let el = e.value();
    let attr = match el.name() {
        "a" | "area" | "link" => el.attr("href"),
        "img" | "audio" | "video" | "source" | "iframe" => {
            el.attr("src").or_else(|| el.attr("poster"))
        }
        "object" => el.attr("data"),
        "abbr" => el.attr("title"),
        "data" | "input" => el.attr("value"),
        _ => None,
    };
    let raw = match attr {
        Some(a) => a.trim().to_string(),
        None => value_class(e).unwrap_or_else(|| text_of(e)),
    };
    if raw.is_empty() && attr.is_none() {
        return None;
    }
    resolve(base, &raw).map(String::from)
}

fn dt_value(e: ElementRef<'_>) -> String {
    let el = e.value();
    let attr = match el.name() {
        "time" | "ins" | "del" => el.attr("datetime"),
        "abbr" => el.attr("title"),
        "data" | "input" => el.attr("value"),
        _ => None,
    };
    match attr {
        Some(a) => a.trim().to_string(),
        None => value_class(e)
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| text_of(e)),
    }
}

/// Elements whose contents are not text a reader sees.
fn is_hidden(name: &str) -> bool {
    matches!(name, "script" | "style" | "template" | "noscript")
}

/// Elements that separate words (a space is put around them).
fn is_block(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "br"
            | "dd"
            | "div"
            | "dl"
            | "dt"
            | "figcaption"
            | "figure"
            | "footer"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "header"
            | "hr"
            | "li"
            | "main"
            | "nav"
            | "ol"
            | "p"
            | "pre"
            | "section"
            | "table"
            | "td"
            | "th"
            | "tr"
            | "ul"
    )
}

/// The visible text of an element: no script, style, template or noscript contents,
/// `<img alt>` in place of images, whitespace collapsed.
fn text_of(e: ElementRef<'_>) -> String {
    text_without(e, false)
}

/// `text_of`, leaving out nested microformat roots (`h-*` classes) when `nested` is true.
fn text_without(e: ElementRef<'_>, nested: bool) -> String {
    enum Step<N> {
        Open(N),
        Close(N),
    }
    let mut out = String::new();
    let mut stack = vec![Step::Open(*e)];
    while let Some(step) = stack.pop() {
        match step {
            Step::Open(node) => match node.value() {
                Node::Text(t) => out.push_str(t),
                Node::Element(el) => {
                    let name = el.name();
                    if is_hidden(name) {
                        continue;
                    }
                    if nested && node.id() != e.id() && el.classes().any(|c| c.starts_with("h-")) {
                        continue;
                    }
                    if name == "img" {
                        if let Some(alt) = el.attr("alt") {
                            out.push(' ');
                            out.push_str(alt);
                            out.push(' ');
                        }
                    }
                    if is_block(name) {
                        out.push(' ');
                    }
                    stack.push(Step::Close(node));
                    let before = stack.len();
                    stack.extend(node.children().map(Step::Open));
                    stack[before..].reverse();
                }
                _ => {}
            },
            Step::Close(node) => {
                if node
                    .value()
                    .as_element()
                    .is_some_and(|el| is_block(el.name()))
                {
                    out.push(' ');
                }
            }
        }
    }
    collapse(&out)
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}
