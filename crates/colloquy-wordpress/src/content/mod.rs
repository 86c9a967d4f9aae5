//! WordPress post and comment HTML to Colloquy's Markdown.
//!
//! A post body arrives as WordPress stored it: classic-editor text (paragraphs implied by
//! blank lines, as `wpautop` makes them on display) or block-editor HTML (between
//! `<!-- wp:… -->` delimiters), with shortcodes in either. [`to_markdown`] turns it into
//! CommonMark with tables and strikethrough, in four passes, none of which recurses without
//! bound or produces more than linear output:
//!
//! 1. [`prepare`]: block delimiters and other comments come out; shortcodes outside `<pre>`
//!    and `<code>` become placeholder elements (unknown ones stay text).
//! 2. [`autop`] (classic content only): paragraphs and line breaks.
//! 3. Parsing with [`colloquy_federation::parse_html_bounded`] (which cuts hostile nesting),
//!    then [`walk`]: the tree becomes a small document model ([`ir`]).
//! 4. [`write`]: that model as Markdown, escaped so that it renders as the same text.
//!
//! What Markdown cannot say is kept as raw HTML (which the renderer sanitises) and counted in
//! [`Report::kept_as_html`]; what even that loses is counted in [`Report::unsupported`].
//! Nothing is dropped without a count.
//!
//! Choices worth knowing:
//!
//! - A figure with one image and a caption becomes the image, a line break and the caption
//!   in italics, in one paragraph (so do `[caption]` shortcodes): it is the most common thing
//!   in a WordPress post, and as Markdown it stays editable, which a `<figure>` block would
//!   not be. Figures holding anything else are kept as HTML.
//! - Inline elements without Markdown syntax (`<sup>`, `<u>`, `<mark>`, …) are kept as
//!   inline HTML around Markdown content, not by turning their whole paragraph into HTML.
//! - Presentational attributes (`class`, alignment) on converted elements are dropped
//!   without a count; `style` attributes are counted, since they can carry meaning (colour).
//!   A `<div>` with attributes other than the block editor's layout classes is kept as HTML.
//! - Comments other than block delimiters are invisible on the page but dropped with a count
//!   (`<!--more-->` and `<!--nextpage-->` under their own names, as they mark the excerpt
//!   and the page breaks).
//! - An image known as an attachment (`class="wp-image-12"`) points at the attachment's URL,
//!   not at its `src`: the `src` is usually a resized copy that the export does not carry.

mod autop;
mod html;
mod ir;
mod prepare;
mod scan;
mod shortcode;
mod walk;
mod write;

use std::collections::BTreeMap;

use ego_tree::NodeRef;
use scraper::node::Element;
use scraper::Node;

use prepare::Placeholders;

/// What [`to_markdown`] needs besides the HTML.
#[derive(Clone, Copy)]
pub struct Options<'a> {
    /// Attachment post id → its URL (for `[gallery ids=…]` and images with a
    /// `wp-image-<id>` class, which the block editor gives every image block).
    pub attachments: &'a dyn Fn(i64) -> Option<String>,
}

impl Default for Options<'_> {
    /// No attachments known.
    fn default() -> Self {
        Options {
            attachments: &|_| None,
        }
    }
}

/// A converted post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    pub markdown: String,
    pub report: Report,
}

/// What the conversion did not bring over as Markdown.
#[derive(Default, Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// How many top-level blocks became Markdown.
    pub converted_blocks: usize,
    /// Element or block names kept as HTML, with counts (e.g. `"table with colspan": 1`,
    /// `"iframe": 2`).
    pub kept_as_html: BTreeMap<String, usize>,
    /// Things not brought over at all or changed in meaning (unknown shortcodes kept as
    /// text, iframes and scripts the sanitiser will drop, a gallery whose images are
    /// unknown, content cut because it was nested too deeply), with counts.
    pub unsupported: BTreeMap<String, usize>,
}

/// Converts one post's HTML (classic or block editor) to Markdown.
pub fn to_markdown(html: &str, opts: &Options<'_>) -> Converted {
    let mut report = Report::default();
    if html.trim().is_empty() {
        return Converted {
            markdown: String::new(),
            report,
        };
    }
    let block_editor = html.contains("<!-- wp:");
    let placeholders = html.contains('[').then(|| Placeholders::for_input(html));
    let prepared = prepare::prepare(html, placeholders.as_ref(), &mut report);
    let prepared = if block_editor {
        prepared
    } else {
        let extra: Vec<&str> = placeholders.iter().map(|p| p.block.as_str()).collect();
        autop::autop(&prepared, &extra)
    };
    let blocks = parse_and_walk(&prepared, opts, &mut report, false, placeholders.as_ref());
    let (markdown, converted) = write::write(&blocks, false);
    report.converted_blocks = converted;
    Converted { markdown, report }
}

/// Converts a WordPress comment (plain text with newlines and a few inline tags, which
/// WordPress paragraphs on display) to comment Markdown.
///
/// Plain text, the common case, is escaped directly; otherwise `a`, `em`/`i`,
/// `strong`/`b`, `del`, `code`, `pre`, `blockquote`, lists, `br` and `p` are converted and
/// any other element becomes its text (comment Markdown shows raw HTML as text).
pub fn comment_to_markdown(html: &str) -> String {
    if !html.contains(['<', '&']) {
        return plain_comment(html);
    }
    let mut report = Report::default();
    let prepared = prepare::prepare(html, None, &mut report);
    let prepared = autop::autop(&prepared, &[]);
    let opts = Options::default();
    let blocks = parse_and_walk(&prepared, &opts, &mut report, true, None);
    write::write(&blocks, true).0
}

/// Paragraphs at blank lines, line breaks at single newlines, text escaped.
fn plain_comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8 + 1);
    let mut para: Vec<&str> = Vec::new();
    let flush = |para: &mut Vec<&str>, out: &mut String| {
        if para.is_empty() {
            return;
        }
        let s = write::plain_lines(para);
        if !s.is_empty() {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&s);
        }
        para.clear();
    };
    // Lines end at `\n`, `\r\n` or a lone `\r`.
    let lines = text
        .split('\n')
        .flat_map(|l| l.strip_suffix('\r').unwrap_or(l).split('\r'));
    for line in lines {
        if line.bytes().all(walk::is_html_space) {
            flush(&mut para, &mut out);
        } else {
            para.push(line);
        }
    }
    flush(&mut para, &mut out);
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

fn parse_and_walk(
    prepared: &str,
    opts: &Options<'_>,
    report: &mut Report,
    comment: bool,
    placeholders: Option<&Placeholders>,
) -> Vec<ir::Block> {
    // Starting in <body> keeps leading <script>, <style> or <meta> in the body, in order.
    let mut source = String::with_capacity(prepared.len() + 6);
    source.push_str("<body>");
    source.push_str(prepared);
    let (doc, cut) = colloquy_federation::parse_html_bounded(&source);
    if cut {
        note(&mut report.unsupported, "content nested too deeply (cut)");
    }
    let Some(body) = child_element(doc.tree.root(), "html").and_then(|h| child_element(h, "body"))
    else {
        return Vec::new();
    };
    walk::Walker::new(opts, report, comment, placeholders).run(body)
}

fn child_element<'a>(node: NodeRef<'a, Node>, name: &str) -> Option<NodeRef<'a, Node>> {
    node.children()
        .find(|c| c.value().as_element().is_some_and(|e| e.name() == name))
}

/// Adds one to a count.
fn note(map: &mut BTreeMap<String, usize>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

/// The concatenated text of a subtree.
fn text_of(node: NodeRef<'_, Node>) -> String {
    let mut s = String::new();
    for d in node.descendants() {
        if let Node::Text(t) = d.value() {
            s.push_str(t);
        }
    }
    s
}

/// An `http(s)` URL with nothing that could not be part of one.
fn is_url(s: &str) -> bool {
    let lower = s.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    (lower.starts_with("http://") && s.len() > 7 || lower.starts_with("https://") && s.len() > 8)
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
}

/// The attachment id of an image from its `wp-image-<id>` class.
fn attachment_id(e: &Element) -> Option<i64> {
    e.classes()
        .find_map(|c| c.strip_prefix("wp-image-")?.parse().ok())
}

/// The image URLs of a `[gallery]` placeholder, counting what cannot be shown.
fn gallery_images(
    e: &Element,
    attachments: &dyn Fn(i64) -> Option<String>,
    report: &mut Report,
) -> Vec<String> {
    let Some(ids) = e.attr("a-ids").or_else(|| e.attr("a-include")) else {
        note(
            &mut report.unsupported,
            "gallery without ids (the post's own attachments; dropped)",
        );
        return Vec::new();
    };
    let mut images = Vec::new();
    for id in ids.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match id.parse().ok().and_then(attachments) {
            Some(url) => images.push(url),
            None => note(
                &mut report.unsupported,
                "gallery image with an unknown attachment id (dropped)",
            ),
        }
    }
    images
}

/// The URL of an `[audio]` or `[video]` placeholder: `src`, else the first format-named
/// attribute (`mp3=`, `mp4=`, …), else a positional URL.
fn media_url(e: &Element) -> Option<String> {
    const FORMATS: &[&str] = &[
        "a-src", "a-mp3", "a-m4a", "a-ogg", "a-wav", "a-wma", "a-mp4", "a-m4v", "a-webm", "a-ogv",
        "a-wmv", "a-flv",
    ];
    FORMATS
        .iter()
        .filter_map(|a| e.attr(a))
        .chain(e.attr("p0"))
        .map(str::trim)
        .find(|u| is_url(u))
        .map(str::to_string)
}

/// The URL of a `[youtube]` placeholder: `[youtube URL]`, `[youtube=URL]` or
/// `[youtube url=…]`; a bare video id is made into a watch URL.
fn youtube_url(e: &Element) -> Option<String> {
    let raw = e
        .attr("p0")
        .map(|p| p.trim_start_matches('='))
        .or_else(|| e.attr("a-url"))
        .or_else(|| e.attr("a-id"))?
        .trim();
    if is_url(raw) {
        return Some(raw.to_string());
    }
    let id_like = raw.len() == 11
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    id_like.then(|| format!("https://www.youtube.com/watch?v={raw}"))
}
