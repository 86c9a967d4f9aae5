//! Markdown to safe HTML. Authors write CommonMark with tables and footnotes; whatever they
//! write, the HTML that leaves here has passed an allowlist sanitiser (ammonia).

use pulldown_cmark::{html, CodeBlockKind, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_SMART_PUNCTUATION
}

fn sanitiser() -> &'static ammonia::Builder<'static> {
    static B: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    B.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        b.add_tags(["figure", "figcaption", "input"])
            .add_tag_attributes("div", ["id", "class"])
            // Microformats classes (a reblog's `h-cite u-repost-of`, `u-url p-name`).
            .add_tag_attributes("blockquote", ["class"])
            .add_tag_attributes("a", ["class"])
            .add_tag_attributes("p", ["class"])
            .add_tag_attributes("sup", ["class"])
            .add_tag_attributes("span", ["class"])
            .add_tag_attributes("code", ["class"])
            .add_tag_attributes("input", ["type", "checked", "disabled"])
            // Task-list markers are the only inputs: whatever an author typed, a disabled
            // checkbox, never a text or password field.
            .set_tag_attribute_value("input", "type", "checkbox")
            .set_tag_attribute_value("input", "disabled", "")
            .add_tag_attributes("ol", ["start"])
            .add_tag_attributes("img", ["loading"])
            .add_generic_attributes(["lang", "title"])
            .link_rel(Some("noopener"))
            .url_schemes(["http", "https", "mailto"].into_iter().collect())
            .attribute_filter(|_, attribute, value| {
                url_attribute_ok(attribute, value).then_some(Cow::Borrowed(value))
            });
        for cell in ["th", "td"] {
            b.add_tag_attribute_values(
                cell,
                "style",
                [
                    "text-align: left",
                    "text-align: center",
                    "text-align: right",
                ],
            );
        }
        for h in ["h1", "h2", "h3", "h4", "h5", "h6"] {
            b.add_tag_attributes(h, ["id"]);
        }
        b
    })
}

/// Renders a post body or bio: CommonMark + tables + footnotes, sanitised.
pub fn render(markdown: &str) -> String {
    let parser = Parser::new_ext(markdown, options());
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, parser);
    sanitiser().clean(&raw).to_string()
}

/// Attributes whose value is a URL to some reader of the HTML, including those ammonia does
/// not scheme-check itself (`cite`).
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "cite",
    "action",
    "formaction",
    "data",
    "poster",
    "ping",
    "xlink:href",
    "longdesc",
    "srcset",
    "background",
];

/// Second line of defence after ammonia's own scheme check: a URL attribute is dropped when,
/// with ASCII whitespace and control characters removed and percent-escapes decoded, it
/// spells a scheme other than http, https or mailto (`java\u{1}script:`, `java%09script:`,
/// which browsers treat as relative today but no reader of our HTML should have to).
fn url_attribute_ok(attribute: &str, value: &str) -> bool {
    if !URL_ATTRIBUTES.contains(&attribute) {
        return true;
    }
    let squeeze = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_ascii_whitespace() && !c.is_ascii_control())
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let squeezed = squeeze(value);
    let decoded = squeeze(&percent_decode(&squeezed));
    [squeezed, decoded].iter().all(|url| match url_scheme(url) {
        None => true,
        Some(scheme) => matches!(scheme, "http" | "https" | "mailto"),
    })
}

/// A URL's scheme as the URL standard reads it (an ASCII letter, then letters, digits, `+`,
/// `-` or `.`, up to a colon), or `None` when the URL is relative.
fn url_scheme(url: &str) -> Option<&str> {
    let scheme = &url[..url.find(':')?];
    let mut bytes = scheme.bytes();
    let first = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let rest = bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    (first && rest).then_some(scheme)
}

/// Decodes `%XX` escapes; invalid UTF-8 is replaced.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Markdown extensions a reader's comment may use: no tables, footnotes or task lists, and no
/// smart punctuation, so that what a reader typed reads back as typed.
fn comment_options() -> Options {
    Options::ENABLE_STRIKETHROUGH
}

/// Open elements a comment may nest before deeper markup is flattened to its text. Keeps the
/// HTML that the sanitiser parses shallow, however many `>` or `-` a reader types.
const COMMENT_MAX_NESTING: usize = 16;

/// The `rel` every link in a comment carries.
const COMMENT_LINK_REL: &str = "nofollow ugc noopener";

/// A fenced code block's language, kept only when it is a short plain token such as `rust`
/// or `c++`; anything else becomes an unlabelled block.
fn code_language(info: &str) -> Option<&str> {
    let lang = info.split_whitespace().next()?;
    let ok = lang.len() <= 32
        && lang
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'#' | b'.'));
    ok.then_some(lang)
}

fn comment_sanitiser() -> &'static ammonia::Builder<'static> {
    static B: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    B.get_or_init(|| {
        let tags: HashSet<&str> = [
            "a",
            "blockquote",
            "br",
            "code",
            "del",
            "em",
            "li",
            "ol",
            "p",
            "pre",
            "strong",
            "ul",
        ]
        .into_iter()
        .collect();
        let tag_attributes: HashMap<&str, HashSet<&str>> = [
            ("a", ["href"].into_iter().collect()),
            ("ol", ["start"].into_iter().collect()),
            ("code", ["class"].into_iter().collect()),
        ]
        .into_iter()
        .collect();
        let mut b = ammonia::Builder::empty();
        b.tags(tags)
            .clean_content_tags(["script", "style"].into_iter().collect())
            .tag_attributes(tag_attributes)
            .generic_attributes(HashSet::new())
            .url_schemes(["http", "https", "mailto"].into_iter().collect())
            .url_relative(ammonia::UrlRelative::Deny)
            .link_rel(Some(COMMENT_LINK_REL))
            .strip_comments(true)
            .id_prefix(None)
            .attribute_filter(|element, attribute, value| match (element, attribute) {
                _ if !url_attribute_ok(attribute, value) => None,
                ("code", "class") => value
                    .strip_prefix("language-")
                    .and_then(code_language)
                    .filter(|lang| lang.len() + "language-".len() == value.len())
                    .map(|_| Cow::Borrowed(value)),
                ("ol", "start") => value.parse::<u32>().is_ok().then_some(Cow::Borrowed(value)),
                _ => Some(Cow::Borrowed(value)),
            });
        b
    })
}

/// What became of a start tag in a comment, so that its end tag is treated alike.
enum Opened {
    /// Emitted as this tag; its end is emitted too.
    Kept,
    /// A heading, emitted as a paragraph of strong text.
    Heading,
    /// Raw HTML block, emitted as a paragraph of escaped text.
    HtmlBlock,
    /// An image: its alt text is emitted as text, or its URL as text when it has no alt.
    Image { url: String },
    /// Dropped (too deep, or not allowed); the text inside is still emitted.
    Dropped,
}

/// Rewrites a comment's events to the allowed subset: no headings, images, raw HTML, rules,
/// or nesting deeper than [`COMMENT_MAX_NESTING`].
fn comment_events(markdown: &str) -> Vec<Event<'_>> {
    let mut out = Vec::new();
    let mut open: Vec<Opened> = Vec::new();
    // `Some(had_text)` while inside an image (images inside images are only alt text).
    let mut image: Option<bool> = None;
    for ev in Parser::new_ext(markdown, comment_options()) {
        match ev {
            Event::Start(tag) => {
                if image.is_some() {
                    // Everything inside an image is alt text: keep the words, drop the markup.
                    open.push(Opened::Dropped);
                    continue;
                }
                let too_deep = open.len() >= COMMENT_MAX_NESTING;
                let opened = match tag {
                    Tag::Image { dest_url, .. } => {
                        image = Some(false);
                        Opened::Image {
                            url: dest_url.into_string(),
                        }
                    }
                    _ if too_deep => Opened::Dropped,
                    Tag::Heading { .. } => {
                        out.push(Event::Start(Tag::Paragraph));
                        out.push(Event::Start(Tag::Strong));
                        Opened::Heading
                    }
                    Tag::HtmlBlock => {
                        out.push(Event::Start(Tag::Paragraph));
                        Opened::HtmlBlock
                    }
                    Tag::CodeBlock(kind) => {
                        let kind = match kind {
                            CodeBlockKind::Fenced(info) => match code_language(&info) {
                                Some(lang) => CodeBlockKind::Fenced(CowStr::from(lang.to_string())),
                                None => CodeBlockKind::Indented,
                            },
                            CodeBlockKind::Indented => CodeBlockKind::Indented,
                        };
                        out.push(Event::Start(Tag::CodeBlock(kind)));
                        Opened::Kept
                    }
                    Tag::BlockQuote(_) => {
                        out.push(Event::Start(Tag::BlockQuote(None)));
                        Opened::Kept
                    }
                    Tag::Link {
                        link_type,
                        dest_url,
                        id,
                        ..
                    } => {
                        out.push(Event::Start(Tag::Link {
                            link_type,
                            dest_url,
                            title: CowStr::Borrowed(""),
                            id,
                        }));
                        Opened::Kept
                    }
                    tag @ (Tag::Paragraph
                    | Tag::List(_)
                    | Tag::Item
                    | Tag::Emphasis
                    | Tag::Strong
                    | Tag::Strikethrough) => {
                        out.push(Event::Start(tag));
                        Opened::Kept
                    }
                    _ => Opened::Dropped,
                };
                open.push(opened);
            }
            Event::End(end) => match open.pop() {
                Some(Opened::Kept) => out.push(Event::End(end)),
                Some(Opened::Heading) => {
                    out.push(Event::End(TagEnd::Strong));
                    out.push(Event::End(TagEnd::Paragraph));
                }
                Some(Opened::HtmlBlock) => out.push(Event::End(TagEnd::Paragraph)),
                Some(Opened::Image { url }) => {
                    if image.take() != Some(true) {
                        out.push(Event::Text(CowStr::from(url)));
                    }
                }
                Some(Opened::Dropped) | None => {}
            },
            Event::Text(t) | Event::Code(t) if image.is_some() => {
                if !t.trim().is_empty() {
                    image = Some(true);
                }
                out.push(Event::Text(t));
            }
            // Raw HTML is shown as the text the reader typed, escaped on output.
            Event::Html(t) | Event::InlineHtml(t) => out.push(Event::Text(t)),
            ev @ (Event::Text(_) | Event::Code(_) | Event::SoftBreak | Event::HardBreak) => {
                out.push(ev)
            }
            // Rules, footnote references, task markers, maths: not in a comment.
            _ => {}
        }
    }
    out
}

/// Renders a reader's comment: limited Markdown, sanitised.
///
/// Allowed: paragraphs, line breaks, emphasis, strong, strikethrough, links (absolute
/// `http`, `https` and `mailto` only, each with `rel="nofollow ugc noopener"`), blockquotes,
/// lists, inline code and code blocks. Headings become strong paragraphs, images their alt
/// text (or their URL as plain text), and raw HTML is shown as escaped text.
pub fn render_comment(markdown: &str) -> String {
    let events = comment_events(markdown);
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, events.into_iter());
    comment_sanitiser().clean(&raw).to_string()
}

/// Whether a link destination is one [`count_links`] counts: `http`, `https` or `mailto`.
fn is_counted_href(dest: &str) -> bool {
    let dest = dest.trim_start().as_bytes();
    ["http:", "https:", "mailto:"].iter().any(|scheme| {
        dest.len() >= scheme.len() && dest[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
    })
}

/// Bare `http://` and `https://` URLs in a run of text.
fn count_bare_urls(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut count = 0;
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let scheme_len = [&b"https://"[..], &b"http://"[..]]
            .iter()
            .find(|s| rest.len() > s.len() && rest[..s.len()].eq_ignore_ascii_case(s))
            .map(|s| s.len());
        let at_word_start = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        match scheme_len {
            Some(n) if at_word_start && !rest[n].is_ascii_whitespace() => {
                count += 1;
                i += n;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    count
}

/// Number of links (http/https/mailto hrefs and bare URLs) a comment's text holds, for the
/// "hold when more than N links" rule.
///
/// Counts Markdown inline and reference links, autolinks (`<https://…>`, `<a@b.example>`)
/// and bare `http(s)://` URLs anywhere in the text, code and raw HTML included; a URL that is
/// the text of a counted link is not counted twice. Images are not links.
pub fn count_links(markdown: &str) -> usize {
    let mut count = 0;
    let mut link_depth = 0usize;
    let mut text = String::new();
    for ev in Parser::new_ext(markdown, comment_options()) {
        match ev {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                if link_depth == 0 {
                    text.push_str(&t);
                }
                continue;
            }
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                ..
            }) => {
                // An email autolink's destination is the bare address; it renders as mailto:.
                if link_type == LinkType::Email || is_counted_href(&dest_url) {
                    count += 1;
                }
                link_depth += 1;
            }
            Event::End(TagEnd::Link) => link_depth = link_depth.saturating_sub(1),
            _ => {}
        }
        count += count_bare_urls(&text);
        text.clear();
    }
    count + count_bare_urls(&text)
}

/// Plain text of a Markdown document, for excerpts, search and meta descriptions.
pub fn plain_text(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    for ev in Parser::new_ext(markdown, options()) {
        match ev {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            // Runs of spaces are collapsed below.
            Event::SoftBreak
            | Event::HardBreak
            | Event::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item)
            | Event::Start(Tag::Paragraph) => out.push(' '),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first `words` words of a text, with an ellipsis when cut (WordPress uses 55).
pub fn excerpt(plain: &str, words: usize) -> String {
    let mut it = plain.split_whitespace();
    let head: Vec<&str> = it.by_ref().take(words).collect();
    let mut s = head.join(" ");
    if it.next().is_some() {
        s.push_str(" …");
    }
    s
}

/// Words in a text, for reading-time estimates.
pub fn word_count(plain: &str) -> usize {
    plain.split_whitespace().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_handlers_never_pass() {
        let html = render(
            "Hi <script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }

    #[test]
    fn tables_and_footnotes_render() {
        let html = render("| a | b |\n|---|---|\n| 1 | 2 |\n\nText[^n].\n\n[^n]: A note.\n");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("footnote-definition"), "{html}");
    }

    #[test]
    fn excerpts_cut_on_words() {
        let t = plain_text("# Head\n\nOne *two* three four.");
        assert_eq!(t, "Head One two three four.");
        assert_eq!(excerpt(&t, 2), "Head One …");
        assert_eq!(excerpt(&t, 20), t);
    }
}
