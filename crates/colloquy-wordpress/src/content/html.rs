//! Writing a piece of the tree back as HTML, for what Markdown cannot express.
//!
//! The HTML goes into the Markdown, so it is written the way CommonMark needs to see one
//! raw HTML block: it starts with the element's start tag, has no blank line anywhere (a
//! blank line would end the block and let the rest be read as Markdown), and newlines in
//! `<pre>` and attribute values are written as `&#10;`. Elements and attributes the
//! renderer's sanitiser will drop are counted in the report as they are written. The walk is
//! iterative, so any depth the parser let through is fine.

use ego_tree::iter::Edge;
use ego_tree::NodeRef;
use scraper::node::Element;
use scraper::Node;

use super::prepare::Placeholders;
use super::shortcode::Known;
use super::{media_url, note, youtube_url, Report};

/// Elements the renderer's sanitiser keeps (ammonia's defaults plus `figure`, `figcaption`
/// and `input`, see `colloquy_core::markdown`); any other is dropped when the post is shown.
pub(crate) const SANITISER_TAGS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "area",
    "article",
    "aside",
    "b",
    "bdi",
    "bdo",
    "blockquote",
    "br",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "data",
    "dd",
    "del",
    "details",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "i",
    "img",
    "input",
    "ins",
    "kbd",
    "li",
    "map",
    "mark",
    "nav",
    "ol",
    "p",
    "pre",
    "q",
    "rp",
    "rt",
    "rtc",
    "ruby",
    "s",
    "samp",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "time",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
    "wbr",
];

/// Elements with no end tag.
const VOID: &[&str] = &[
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img", "input",
    "keygen", "link", "meta", "param", "source", "track", "wbr",
];

/// Elements whose text is not parsed (written back as is).
const RAW_TEXT: &[&str] = &[
    "script",
    "style",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "noscript",
    "plaintext",
];

/// Elements whose text keeps its newlines.
const KEEPS_NEWLINES: &[&str] = &["pre", "listing", "textarea", "title"];

/// Tag names that start a CommonMark HTML block (kinds 1 and 6) wherever they begin a line;
/// any other element needs its start tag alone on the first line (kind 7).
const BLOCK_START: &[&str] = &[
    "address",
    "article",
    "aside",
    "base",
    "basefont",
    "blockquote",
    "body",
    "caption",
    "center",
    "col",
    "colgroup",
    "dd",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "frame",
    "frameset",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hr",
    "html",
    "iframe",
    "legend",
    "li",
    "link",
    "main",
    "menu",
    "menuitem",
    "nav",
    "noframes",
    "ol",
    "optgroup",
    "option",
    "p",
    "param",
    "pre",
    "script",
    "search",
    "section",
    "style",
    "summary",
    "table",
    "tbody",
    "td",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "track",
    "ul",
];

/// What serialising needs besides the tree.
pub(crate) struct Context<'a> {
    pub placeholders: Option<&'a Placeholders>,
    pub attachments: &'a dyn Fn(i64) -> Option<String>,
}

/// Serialises `node` (an element) as one CommonMark HTML block, counting in `report` what
/// the sanitiser will drop.
pub(crate) fn block(node: NodeRef<'_, Node>, cx: &Context<'_>, report: &mut Report) -> String {
    let mut out = String::with_capacity(256);
    let Some(root) = node.value().as_element() else {
        return out;
    };
    let root_name = root.name();
    // A name CommonMark does not read as a tag, or one that does not start a block by
    // itself, is wrapped so that the block starts with a `<div>`.
    let wrap = !valid_tag_name(root_name);
    if wrap {
        out.push_str("<div>\n");
    }
    let mut keeps_newlines = 0usize;
    // A placeholder whose children were written by `placeholder_open`.
    let mut skipping: Option<ego_tree::NodeId> = None;
    for edge in node.traverse() {
        if let Some(id) = skipping {
            match edge {
                Edge::Close(n) if n.id() == id => skipping = None,
                _ => continue,
            }
        }
        match edge {
            Edge::Open(n) => match n.value() {
                Node::Element(e) => {
                    let name = e.name();
                    account(e, cx, report);
                    match placeholder_open(e, n, cx, report, &mut out) {
                        Placeholder::No => {}
                        Placeholder::Yes => continue,
                        Placeholder::SkipChildren => {
                            skipping = Some(n.id());
                            continue;
                        }
                    }
                    start_tag(e, cx, &mut out);
                    if KEEPS_NEWLINES.contains(&name) {
                        keeps_newlines += 1;
                        // The parser drops a newline just after the start tag.
                        let first = n.first_child();
                        if first
                            .and_then(|c| c.value().as_text())
                            .is_some_and(|t| t.starts_with('\n'))
                        {
                            out.push_str("&#10;");
                        }
                    }
                    if n.id() == node.id() && !wrap && !BLOCK_START.contains(&name) {
                        out.push('\n');
                    }
                }
                Node::Text(t) => {
                    let parent = n
                        .parent()
                        .and_then(|p| p.value().as_element().map(|e| e.name()));
                    if parent.is_some_and(|p| RAW_TEXT.contains(&p)) {
                        raw_text(t, &mut out);
                    } else if keeps_newlines > 0 {
                        escape_text(t, true, &mut out);
                    } else {
                        escape_text(t, false, &mut out);
                    }
                }
                _ => {}
            },
            Edge::Close(n) => {
                if let Node::Element(e) = n.value() {
                    let name = e.name();
                    if placeholder_close(e, cx, &mut out) {
                        continue;
                    }
                    if KEEPS_NEWLINES.contains(&name) {
                        keeps_newlines = keeps_newlines.saturating_sub(1);
                    }
                    if !VOID.contains(&name) {
                        out.push_str("</");
                        out.push_str(name);
                        out.push('>');
                    }
                }
            }
        }
    }
    if wrap {
        out.push_str("\n</div>");
    }
    out
}

/// Counts what the sanitiser will drop from this element.
fn account(e: &Element, cx: &Context<'_>, report: &mut Report) {
    let name = e.name();
    if !SANITISER_TAGS.contains(&name) && !is_placeholder(name, cx) {
        note(
            &mut report.unsupported,
            &format!("{name} (removed by the sanitiser)"),
        );
    }
    if e.attr("style").is_some() {
        note(&mut report.unsupported, "style attribute (dropped)");
    }
}

fn is_placeholder(name: &str, cx: &Context<'_>) -> bool {
    cx.placeholders
        .is_some_and(|p| name == p.block || name == p.inline)
}

enum Placeholder {
    No,
    Yes,
    /// Its children are already accounted for.
    SkipChildren,
}

/// Writes the HTML a shortcode placeholder stands for, in place of its start tag.
fn placeholder_open(
    e: &Element,
    node: NodeRef<'_, Node>,
    cx: &Context<'_>,
    report: &mut Report,
    out: &mut String,
) -> Placeholder {
    if !is_placeholder(e.name(), cx) {
        return Placeholder::No;
    }
    let link = |url: &str, out: &mut String| {
        out.push_str("<a href=\"");
        escape_attr(url, out);
        out.push_str("\">");
        escape_text(url, false, out);
        out.push_str("</a>");
    };
    match Known::of(e.attr("n").unwrap_or("")) {
        Some(Known::Caption) => out.push_str("<figure>"),
        Some(Known::Gallery) => {
            for src in super::gallery_images(e, cx.attachments, report) {
                out.push_str("<img src=\"");
                escape_attr(&src, out);
                out.push_str("\">");
            }
        }
        Some(Known::Embed) => {
            let url = super::text_of(node);
            out.push_str("<p>");
            link(url.trim(), out);
            out.push_str("</p>");
            return Placeholder::SkipChildren;
        }
        Some(Known::Youtube) => {
            if let Some(url) = youtube_url(e) {
                out.push_str("<p>");
                link(&url, out);
                out.push_str("</p>");
            }
        }
        Some(Known::Media) => {
            if let Some(url) = media_url(e) {
                link(&url, out);
            }
        }
        None => {}
    }
    Placeholder::Yes
}

/// The end of what [`placeholder_open`] wrote.
fn placeholder_close(e: &Element, cx: &Context<'_>, out: &mut String) -> bool {
    if !is_placeholder(e.name(), cx) {
        return false;
    }
    if e.attr("n").and_then(Known::of) == Some(Known::Caption) {
        out.push_str("</figure>");
    }
    true
}

/// Writes an element's start tag with its attributes (those CommonMark can read as
/// attributes; the sanitiser would drop the others anyway). An image known as an attachment
/// points at the attachment's URL.
pub(crate) fn start_tag(e: &Element, cx: &Context<'_>, out: &mut String) {
    out.push('<');
    out.push_str(e.name());
    let attachment = (e.name() == "img")
        .then(|| super::attachment_id(e).and_then(cx.attachments))
        .flatten();
    for (name, value) in e.attrs() {
        if !valid_attr_name(name) {
            continue;
        }
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        match (&attachment, name) {
            (Some(url), "src") => escape_attr(url, out),
            _ => escape_attr(value, out),
        }
        out.push('"');
    }
    out.push('>');
}

/// Whether CommonMark reads `name` as a tag name: an ASCII letter, then letters, digits
/// or `-`.
fn valid_tag_name(name: &str) -> bool {
    let mut b = name.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

/// Whether CommonMark reads `name` as an attribute name.
fn valid_attr_name(name: &str) -> bool {
    let mut b = name.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, b'_' | b':'))
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'-'))
}

pub(crate) fn escape_attr(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// Escapes text; outside `<pre>` a run of whitespace holding a newline becomes one newline
/// (the same to a browser, and never a blank line), inside it newlines become `&#10;`.
fn escape_text(t: &str, keep_newlines: bool, out: &mut String) {
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' if keep_newlines => out.push_str(if c == '\n' { "&#10;" } else { "&#13;" }),
            ' ' | '\t' | '\n' | '\r' | '\x0c' if !keep_newlines => {
                let mut newline = c == '\n' || c == '\r';
                let mut run = String::new();
                run.push(c);
                while let Some(&n) = chars.peek() {
                    if !matches!(n, ' ' | '\t' | '\n' | '\r' | '\x0c') {
                        break;
                    }
                    newline |= n == '\n' || n == '\r';
                    run.push(n);
                    chars.next();
                }
                if newline {
                    if !out.ends_with('\n') {
                        out.push('\n');
                    }
                } else {
                    out.push_str(&run);
                }
            }
            c => out.push(c),
        }
    }
}

/// Writes the text of a raw-text element as is, without its blank lines, and with `</` that
/// would end CommonMark's HTML block early (`</pre>`, `</script>`, `</style>`, `</textarea>`)
/// written `<\/`, as scripts spell it in strings.
fn raw_text(t: &str, out: &mut String) {
    let mut first = true;
    for line in t.split('\n') {
        if line.trim().is_empty() {
            continue;
        }
        if !first {
            out.push('\n');
        }
        first = false;
        let mut rest = line;
        while let Some(p) = rest.find("</") {
            out.push_str(&rest[..p]);
            let after = &rest[p + 2..];
            let ends = ["pre", "script", "style", "textarea"].iter().any(|n| {
                after
                    .get(..n.len())
                    .is_some_and(|a| a.eq_ignore_ascii_case(n))
            });
            out.push_str(if ends { "<\\/" } else { "</" });
            rest = after;
        }
        out.push_str(rest);
    }
}
