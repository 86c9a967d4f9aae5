//! The first pass over a post's raw text, before anything parses it as HTML: block-editor
//! delimiters and other comments come out, and shortcodes become placeholder elements.
//!
//! Shortcodes are text-level syntax that may straddle HTML (`[caption]<img …> Text[/caption]`),
//! so they are found here, in the text between tags, and turned into elements the HTML
//! parser then nests properly: `<x-wpsc-b n="caption" a-width="300">…</x-wpsc-b>`. Their
//! attribute values go through the parser too, which decodes character references the way a
//! browser would have read WordPress's output. The placeholder names are chosen so that the
//! input does not contain them, so a post cannot forge one.

use super::scan::{lower, Scanner, Token};
use super::shortcode::{find_tags, Known, Tag};
use super::{note, Report};

/// The element names standing for shortcodes in this document.
#[derive(Debug, Clone)]
pub(crate) struct Placeholders {
    /// For shortcodes whose output is a block of its own (caption, gallery, embed, …).
    pub block: String,
    /// For those whose output sits inside a paragraph (audio, video: a link).
    pub inline: String,
}

impl Placeholders {
    /// Names that do not occur in `input` (ASCII case-insensitively).
    pub(crate) fn for_input(input: &str) -> Placeholders {
        let mut base = String::from("x-wpsc");
        let mut n = 0u32;
        while contains_ignore_case(input.as_bytes(), base.as_bytes()) {
            n += 1;
            base = format!("x-wpsc{n}");
        }
        Placeholders {
            block: format!("{base}-b"),
            inline: format!("{base}-i"),
        }
    }
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len()
        && hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// What a shortcode tag becomes in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Left as the text it is.
    Literal,
    /// `[[name]]`: the doubled brackets become single ones.
    EscapedWhole,
    /// The opening tag of an escaped pair `[[name]…[/name]]`: its extra `[` goes.
    EscapedOpen,
    /// The closing tag of an escaped pair: its extra `]` goes.
    EscapedClose,
    /// Start of a placeholder whose end is a later closing tag.
    Open(Known),
    /// End of a placeholder.
    Close(Known),
    /// A placeholder with nothing inside.
    Whole(Known),
}

/// Removes comments (block-editor delimiters silently, others reported) and, when
/// `placeholders` is given, replaces known shortcodes outside `<pre>`, `<code>`, tags and
/// raw-text elements by placeholder elements. Unknown shortcodes stay as text and are
/// reported.
pub(crate) fn prepare(
    input: &str,
    placeholders: Option<&Placeholders>,
    report: &mut Report,
) -> String {
    let tokens: Vec<(usize, Token<'_>)> = {
        let mut scanner = Scanner::new(input);
        let mut v = Vec::with_capacity(input.len() / 16 + 4);
        loop {
            let offset = scanner.offset();
            match scanner.next() {
                Some(t) => v.push((offset, t)),
                None => break,
            }
        }
        v
    };

    let mut tags: Vec<Tag> = Vec::new();
    if placeholders.is_some() && input.contains('[') {
        let (mut pre, mut code) = (0usize, 0usize);
        for &(offset, token) in &tokens {
            match token {
                Token::Tag { name, end, .. } => {
                    let mut buf = [0u8; 16];
                    let counter = match lower(name, &mut buf) {
                        "pre" | "listing" | "plaintext" => &mut pre,
                        "code" => &mut code,
                        _ => continue,
                    };
                    *counter = if end {
                        counter.saturating_sub(1)
                    } else {
                        *counter + 1
                    };
                }
                Token::Text(text) if pre == 0 && code == 0 && text.contains('[') => {
                    find_tags(text, offset, &mut tags)
                }
                _ => {}
            }
        }
    }
    let fates = decide(&tags, report);

    let mut out = String::with_capacity(input.len() + input.len() / 8);
    let mut next_tag = 0;
    for &(offset, token) in &tokens {
        match token {
            Token::Text(text) => {
                let end = offset + text.len();
                let mut copied = offset;
                while next_tag < tags.len() && tags[next_tag].start < end {
                    let tag = &tags[next_tag];
                    let fate = fates[next_tag];
                    next_tag += 1;
                    let inner = &input[tag.start..tag.end];
                    let (from, to) = match fate {
                        Fate::Literal => continue,
                        Fate::EscapedWhole => (tag.start - 1, tag.end + 1),
                        Fate::EscapedOpen => (tag.start - 1, tag.end),
                        Fate::EscapedClose => (tag.start, tag.end + 1),
                        Fate::Open(_) | Fate::Close(_) | Fate::Whole(_) => (tag.start, tag.end),
                    };
                    if from < copied {
                        continue;
                    }
                    out.push_str(&input[copied..from]);
                    copied = to;
                    let Some(names) = placeholders else {
                        out.push_str(inner);
                        continue;
                    };
                    match fate {
                        Fate::Open(known) => open_placeholder(&mut out, names, known, tag),
                        Fate::Close(known) => {
                            out.push_str("</");
                            out.push_str(name_for(names, known));
                            out.push('>');
                        }
                        Fate::Whole(known) => {
                            open_placeholder(&mut out, names, known, tag);
                            out.push_str("</");
                            out.push_str(name_for(names, known));
                            out.push('>');
                        }
                        _ => out.push_str(inner),
                    }
                }
                out.push_str(&input[copied..end]);
            }
            Token::Tag { raw, .. } => out.push_str(raw),
            Token::RawText(raw) => out.push_str(raw),
            Token::Comment { body, .. } => comment(body, report),
            Token::Other(raw) => {
                // A DOCTYPE in a post means nothing; `<?php …>` and `<!…>` were shown as
                // nothing (the parser reads them as comments) but were meant as something.
                let doctype = raw
                    .get(2..9)
                    .is_some_and(|d| d.eq_ignore_ascii_case("doctype"));
                if !doctype {
                    note(
                        &mut report.unsupported,
                        "processing instruction or <!…> markup (dropped)",
                    );
                }
            }
        }
    }
    out
}

/// Pairs opening and closing tags of known enclosing shortcodes (an opening tag takes the
/// first closing tag after it; same-name tags between them stay text) and reports unknown
/// shortcodes.
fn decide(tags: &[Tag], report: &mut Report) -> Vec<Fate> {
    let mut fates = vec![Fate::Literal; tags.len()];
    // For each known enclosing name seen: (name, indices of its closing tags, cursor, the
    // index of the closing tag of the pair currently open).
    let mut closes: Vec<(&str, Vec<usize>, usize, usize)> = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        if tag.close && Known::of(&tag.name).is_some_and(Known::encloses) {
            match closes.iter_mut().find(|c| c.0 == tag.name) {
                Some(c) => c.1.push(i),
                None => closes.push((&tag.name, vec![i], 0, 0)),
            }
        }
    }
    for (i, tag) in tags.iter().enumerate() {
        if tag.close {
            if fates[i] == Fate::Literal && Known::of(&tag.name).is_some() {
                note(
                    &mut report.unsupported,
                    &format!(
                        "shortcode [/{}] without its opening tag (kept as text)",
                        tag.name
                    ),
                );
            }
            continue;
        }
        let Some(known) = Known::of(&tag.name) else {
            if tag.esc_open && tag.esc_close {
                fates[i] = Fate::EscapedWhole;
            } else {
                note(
                    &mut report.unsupported,
                    &format!("shortcode [{}] (kept as text)", tag.name),
                );
            }
            continue;
        };
        let pair = closes.iter_mut().find(|c| c.0 == tag.name);
        if let Some(c) = &pair {
            if c.3 > i {
                note(
                    &mut report.unsupported,
                    &format!("shortcode [{}] inside another (kept as text)", tag.name),
                );
                continue;
            }
        }
        let close = match pair {
            Some(c) if known.encloses() && !tag.self_closing => {
                while c.2 < c.1.len() && c.1[c.2] < i {
                    c.2 += 1;
                }
                let j = c.1.get(c.2).copied();
                if let Some(j) = j {
                    c.2 += 1;
                    c.3 = j;
                }
                j
            }
            _ => None,
        };
        match close {
            Some(j) if tag.esc_open && tags[j].esc_close => {
                fates[i] = Fate::EscapedOpen;
                fates[j] = Fate::EscapedClose;
            }
            Some(j) => {
                fates[i] = Fate::Open(known);
                fates[j] = Fate::Close(known);
            }
            None if tag.esc_open && tag.esc_close => fates[i] = Fate::EscapedWhole,
            None => fates[i] = Fate::Whole(known),
        }
    }
    fates
}

fn name_for(names: &Placeholders, known: Known) -> &str {
    if known.is_block() {
        &names.block
    } else {
        &names.inline
    }
}

/// Writes `<placeholder n="name" a-attr="value" p0="positional" …>`.
fn open_placeholder(out: &mut String, names: &Placeholders, known: Known, tag: &Tag) {
    out.push('<');
    out.push_str(name_for(names, known));
    out.push_str(" n=\"");
    out.push_str(&tag.name);
    out.push('"');
    let mut positional = 0;
    for (name, value) in &tag.attrs {
        out.push(' ');
        match name {
            Some(name) => {
                out.push_str("a-");
                out.push_str(name);
            }
            None => {
                out.push('p');
                out.push_str(&positional.to_string());
                positional += 1;
            }
        }
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '"' => out.push_str("&quot;"),
                '<' => out.push_str("&lt;"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('>');
}

/// Accounts for a removed comment: block-editor delimiters are editor metadata (the HTML
/// between them is the content), except self-closing blocks, whose content WordPress renders
/// at view time and which are therefore not in the export at all.
fn comment(body: &str, report: &mut Report) {
    let trimmed = body.trim();
    if let Some(block) = trimmed.strip_prefix("wp:") {
        if trimmed.ends_with("/") {
            let name: String = block
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '/' && *c != '{')
                .collect();
            note(
                &mut report.unsupported,
                &format!("block wp:{name} (rendered by WordPress; no content in the export)"),
            );
        }
        return;
    }
    if trimmed.starts_with("/wp:") {
        return;
    }
    let key = match trimmed.split_whitespace().next() {
        Some("more") => "<!--more--> marker (dropped)",
        Some("nextpage") => "<!--nextpage--> marker (dropped)",
        _ => "HTML comment (dropped)",
    };
    note(&mut report.unsupported, key);
}
