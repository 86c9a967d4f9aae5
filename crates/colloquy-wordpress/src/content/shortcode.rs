//! Shortcodes: `[name attr="v" attr2='v' bare]…[/name]`, their self-closing forms, and
//! `[[escaped]]` ones.
//!
//! The grammar is WordPress's as its documentation describes it: a name of letters, digits,
//! `_` and `-`; attributes up to the first `]` (so a value cannot hold `]`), each one
//! `name="v"`, `name='v'`, `name=v`, `"v"`, `'v'` or a bare word (the last three
//! positional); a trailing `/` makes the tag self-closing; an enclosing tag's content runs
//! to the first `[/name]`. A tag written with doubled brackets is shown literally with one
//! bracket removed on each side.

/// A shortcode tag found in text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tag {
    /// Byte range of the tag itself (`[` to `]`).
    pub start: usize,
    pub end: usize,
    /// Lowercased.
    pub name: String,
    pub close: bool,
    pub self_closing: bool,
    /// Named attributes (lowercased names) and positional ones (`None`), in order.
    pub attrs: Vec<(Option<String>, String)>,
    /// Preceded by another `[` (in the same text), as in `[[name]]`.
    pub esc_open: bool,
    /// Followed by another `]`.
    pub esc_close: bool,
}

/// What WordPress (core or a very common plugin) does with a shortcode we convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    /// `[caption]…[/caption]`: an image and its caption.
    Caption,
    /// `[gallery ids=…]`.
    Gallery,
    /// `[embed]URL[/embed]`.
    Embed,
    /// `[youtube URL]` (Jetpack).
    Youtube,
    /// `[audio src=…]`, `[video src=…]`.
    Media,
}

impl Known {
    pub(crate) fn of(name: &str) -> Option<Known> {
        Some(match name {
            "caption" | "wp_caption" => Known::Caption,
            "gallery" => Known::Gallery,
            "embed" => Known::Embed,
            "youtube" => Known::Youtube,
            "audio" | "video" => Known::Media,
            _ => return None,
        })
    }

    /// Whether the shortcode may enclose content up to a closing tag.
    pub(crate) fn encloses(self) -> bool {
        matches!(self, Known::Caption | Known::Embed | Known::Media)
    }

    /// Whether its output is a block of its own (so paragraphing must not wrap it).
    pub(crate) fn is_block(self) -> bool {
        !matches!(self, Known::Media)
    }
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-')
}

/// Finds the shortcode tags in `text` (which starts at byte `base` of the document), in
/// order. Linear: each attempt at a `[` reads at most up to the next `[` or `]`.
pub(crate) fn find_tags(text: &str, base: usize, out: &mut Vec<Tag>) {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(p) = b[i..].iter().position(|&c| c == b'[') {
        let at = i + p;
        match parse_tag(text, at) {
            Some(mut tag) => {
                i = tag.end;
                tag.esc_open = at > 0 && b[at - 1] == b'[';
                tag.esc_close = b.get(tag.end) == Some(&b']');
                tag.start += base;
                tag.end += base;
                out.push(tag);
            }
            None => i = at + 1,
        }
        if i >= b.len() {
            break;
        }
    }
}

/// Parses the tag whose `[` is at `at`, if it is one.
fn parse_tag(text: &str, at: usize) -> Option<Tag> {
    let b = text.as_bytes();
    let mut i = at + 1;
    let close = b.get(i) == Some(&b'/');
    if close {
        i += 1;
    }
    if !b.get(i).copied().is_some_and(is_name_start) {
        return None;
    }
    let name_start = i;
    while i < b.len() && is_name_char(b[i]) {
        i += 1;
    }
    let name = text[name_start..i].to_ascii_lowercase();
    if close {
        return (b.get(i) == Some(&b']')).then(|| Tag {
            start: at,
            end: i + 1,
            name,
            close: true,
            self_closing: false,
            attrs: Vec::new(),
            esc_open: false,
            esc_close: false,
        });
    }
    match b.get(i) {
        Some(b']' | b'/' | b'=') => {}
        Some(c) if c.is_ascii_whitespace() => {}
        _ => return None,
    }
    let attrs_start = i;
    let close_bracket = loop {
        match b.get(i) {
            None | Some(b'[') => return None,
            Some(b']') => break i,
            _ => i += 1,
        }
    };
    let mut attrs_text = &text[attrs_start..close_bracket];
    let self_closing = attrs_text.trim_end().ends_with('/');
    if self_closing {
        attrs_text = attrs_text.trim_end();
        attrs_text = &attrs_text[..attrs_text.len() - 1];
    }
    Some(Tag {
        start: at,
        end: close_bracket + 1,
        name,
        close: false,
        self_closing,
        attrs: parse_attrs(attrs_text),
        esc_open: false,
        esc_close: false,
    })
}

/// Parses a shortcode's attribute text.
pub(crate) fn parse_attrs(s: &str) -> Vec<(Option<String>, String)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= b.len() {
            break;
        }
        // `name = value`?
        let name_start = i;
        let mut j = i;
        while j < b.len() && is_name_char(b[j]) {
            j += 1;
        }
        let mut k = j;
        skip_ws(&mut k);
        if j > name_start && b.get(k) == Some(&b'=') {
            let name = s[name_start..j].to_ascii_lowercase();
            k += 1;
            skip_ws(&mut k);
            let (value, next) = value_at(s, k, false);
            out.push((Some(name), value.to_string()));
            i = next;
            continue;
        }
        let (value, next) = value_at(s, i, true);
        out.push((None, value.to_string()));
        i = next;
    }
    out
}

/// A (possibly quoted) value starting at `i` and the offset after it. A positional bare
/// value runs to whitespace; a named unquoted one also stops at a quote.
fn value_at(s: &str, i: usize, positional: bool) -> (&str, usize) {
    let b = s.as_bytes();
    match b.get(i) {
        Some(&q @ (b'"' | b'\'')) => {
            let end = b[i + 1..]
                .iter()
                .position(|&c| c == q)
                .map_or(b.len(), |p| i + 1 + p);
            (&s[i + 1..end], (end + 1).min(b.len()))
        }
        _ => {
            let mut end = i;
            while end < b.len()
                && !b[end].is_ascii_whitespace()
                && (positional || !matches!(b[end], b'"' | b'\''))
            {
                end += 1;
            }
            // A lone quote that did not open a value: step over it.
            let end = end.max(i + 1).min(b.len());
            (&s[i..end], end)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(s: &str) -> Vec<Tag> {
        let mut v = Vec::new();
        find_tags(s, 0, &mut v);
        v
    }

    #[test]
    fn attributes_in_every_form() {
        let t = &tags(r#"[gallery ids="1,2" size='large' columns=3 "q" 'r' bare /]"#)[0];
        assert_eq!(t.name, "gallery");
        assert!(t.self_closing);
        let a: Vec<(Option<&str>, &str)> = t
            .attrs
            .iter()
            .map(|(k, v)| (k.as_deref(), v.as_str()))
            .collect();
        assert_eq!(
            a,
            [
                (Some("ids"), "1,2"),
                (Some("size"), "large"),
                (Some("columns"), "3"),
                (None, "q"),
                (None, "r"),
                (None, "bare"),
            ]
        );
    }

    #[test]
    fn not_shortcodes() {
        assert!(tags("[1] [ x] [a[b] [a").iter().all(|t| t.name == "b"));
        assert_eq!(tags("[/caption] [caption]").len(), 2);
        assert!(tags("[/caption ]").is_empty());
    }

    #[test]
    fn youtube_equals_form() {
        let t = &tags("[youtube=https://youtu.be/x]")[0];
        assert_eq!(t.attrs, [(None, "=https://youtu.be/x".to_string())]);
    }
}
