//! A light tokenizer over raw HTML text, for the passes that run before the real parser
//! (block comments, shortcodes, paragraphing).
//!
//! Those passes must not look inside tags, comments or raw-text elements (a `[gallery]` in an
//! `alt` attribute or a blank line inside a `<script>` is not content), so they need to know
//! where those are; they do not need a tree. This follows the HTML tokenizer closely enough
//! for that: quoted attribute values may hold `>`, comments end at `-->` (or `--!>`), and the
//! contents of `<script>`, `<style>` and the other raw-text elements run to their end tag.
//! Every byte of the input is in exactly one token, so a pass that copies tokens through
//! reproduces the input exactly.

/// One piece of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// Character data outside tags.
    Text(&'a str),
    /// A start or end tag, `raw` being the whole `<…>` (possibly unterminated at the end).
    Tag {
        raw: &'a str,
        name: &'a str,
        end: bool,
    },
    /// `<!--…-->`, with `body` between the delimiters.
    Comment { raw: &'a str, body: &'a str },
    /// Markup the parser ignores or reads as a bogus comment: `<!DOCTYPE…>`, `<?…>`, `</>`.
    Other(&'a str),
    /// The contents of a raw-text element (`script`, `style`, …), up to its end tag.
    RawText(&'a str),
}

/// Elements whose contents the HTML tokenizer reads as text up to their end tag.
const RAW_TEXT: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
];

/// Iterator over the [`Token`]s of a string.
pub(crate) struct Scanner<'a> {
    s: &'a str,
    pos: usize,
    /// Set after the start tag of a raw-text element: its name, whose end tag ends the text.
    raw_text: Option<&'static str>,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Scanner {
            s,
            pos: 0,
            raw_text: None,
        }
    }

    /// The byte offset of the next token.
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Scanner<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let s = self.s;
        let b = s.as_bytes();
        let start = self.pos;
        if start >= b.len() {
            return None;
        }
        if let Some(name) = self.raw_text.take() {
            let end = find_end_tag(b, start, name).unwrap_or(b.len());
            if end > start {
                self.pos = end;
                return Some(Token::RawText(&s[start..end]));
            }
        }
        if b[start] == b'<' {
            if let Some((end, token)) = markup(s, start) {
                self.pos = end;
                if let Token::Tag {
                    name, end: false, ..
                } = token
                {
                    self.raw_text = RAW_TEXT
                        .iter()
                        .find(|raw| raw.eq_ignore_ascii_case(name))
                        .copied();
                }
                return Some(token);
            }
        }
        // Text runs up to the next `<` that opens markup.
        let mut i = start + 1;
        loop {
            match b[i.min(b.len())..].iter().position(|&c| c == b'<') {
                None => {
                    i = b.len();
                    break;
                }
                Some(p) => {
                    i += p;
                    if starts_markup(b, i) {
                        break;
                    }
                    i += 1;
                }
            }
        }
        self.pos = i;
        Some(Token::Text(&s[start..i]))
    }
}

/// Whether the `<` at `i` opens a tag, comment or other markup (rather than being text).
fn starts_markup(b: &[u8], i: usize) -> bool {
    match b.get(i + 1) {
        Some(c) if c.is_ascii_alphabetic() => true,
        Some(b'!' | b'?') => true,
        Some(b'/') => b
            .get(i + 2)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'>'),
        _ => false,
    }
}

/// The markup token starting at the `<` at `start`, and the offset just past it.
fn markup(s: &str, start: usize) -> Option<(usize, Token<'_>)> {
    let b = s.as_bytes();
    if !starts_markup(b, start) {
        return None;
    }
    let rest = &b[start..];
    if rest.starts_with(b"<!--") {
        let body_start = start + 4;
        // `<!-->` and `<!--->` are complete (empty) comments.
        for empty in [&b"<!-->"[..], b"<!--->"] {
            if rest.starts_with(empty) {
                let end = start + empty.len();
                return Some((
                    end,
                    Token::Comment {
                        raw: &s[start..end],
                        body: "",
                    },
                ));
            }
        }
        let (body_end, end) = comment_end(b, body_start);
        return Some((
            end,
            Token::Comment {
                raw: &s[start..end],
                body: &s[body_start..body_end],
            },
        ));
    }
    if matches!(rest[1], b'!' | b'?') || rest.starts_with(b"</>") {
        let end = find_byte(b, start + 1, b'>').map_or(b.len(), |p| p + 1);
        return Some((end, Token::Other(&s[start..end])));
    }
    let end_tag = rest[1] == b'/';
    let name_start = start + if end_tag { 2 } else { 1 };
    let mut i = name_start;
    while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'/' | b'>') {
        i += 1;
    }
    let name = &s[name_start..i];
    let end = tag_end(b, i);
    Some((
        end,
        Token::Tag {
            raw: &s[start..end],
            name,
            end: end_tag,
        },
    ))
}

/// The end of a tag whose name ends at `i`: just past its `>`, skipping quoted attribute
/// values (which may hold `>`); the end of the input when it is never closed.
fn tag_end(b: &[u8], mut i: usize) -> usize {
    let mut after_equals = false;
    while i < b.len() {
        match b[i] {
            b'>' => return i + 1,
            b'=' => after_equals = true,
            q @ (b'"' | b'\'') if after_equals => {
                i = find_byte(b, i + 1, q).unwrap_or(b.len());
                after_equals = false;
            }
            c if c.is_ascii_whitespace() => {}
            _ => after_equals = false,
        }
        i += 1;
    }
    b.len()
}

/// The end of a comment's body and of the comment, for a body starting at `from`.
fn comment_end(b: &[u8], from: usize) -> (usize, usize) {
    let mut i = from;
    while let Some(p) = find_byte(b, i, b'-') {
        if b[p..].starts_with(b"-->") {
            return (p, p + 3);
        }
        if b[p..].starts_with(b"--!>") {
            return (p, p + 4);
        }
        i = p + 1;
    }
    (b.len(), b.len())
}

fn find_byte(b: &[u8], from: usize, needle: u8) -> Option<usize> {
    b.get(from..)?
        .iter()
        .position(|&c| c == needle)
        .map(|p| from + p)
}

/// The offset of the `</name` (ASCII case-insensitive) that ends a raw-text element, at or
/// after `from`, followed by whitespace, `/` or `>` as the tokenizer requires.
fn find_end_tag(b: &[u8], from: usize, name: &str) -> Option<usize> {
    let name = name.as_bytes();
    let mut i = from;
    while let Some(p) = find_byte(b, i, b'<') {
        let after = p + 2 + name.len();
        if b.get(p + 1) == Some(&b'/')
            && b.len() >= after
            && b[p + 2..after].eq_ignore_ascii_case(name)
            && b.get(after)
                .is_none_or(|c| c.is_ascii_whitespace() || matches!(c, b'/' | b'>'))
        {
            return Some(p);
        }
        i = p + 1;
    }
    None
}

/// Lowercases an ASCII tag name into `buf` for matching against lists of names; names that
/// do not fit are not in any list and come back empty.
pub(crate) fn lower<'b>(name: &str, buf: &'b mut [u8; 16]) -> &'b str {
    let bytes = name.as_bytes();
    if bytes.len() > buf.len() || !bytes.is_ascii() {
        return "";
    }
    for (slot, c) in buf.iter_mut().zip(bytes) {
        *slot = c.to_ascii_lowercase();
    }
    std::str::from_utf8(&buf[..bytes.len()]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(s: &str) -> Vec<Token<'_>> {
        Scanner::new(s).collect()
    }

    #[test]
    fn every_byte_is_in_one_token() {
        let s = "a <b title='x>y'>c</b><!-- d --><script>if (a<b) {}</script> e < f <!x> <";
        let joined: String = tokens(s)
            .iter()
            .map(|t| match t {
                Token::Text(r) | Token::Other(r) | Token::RawText(r) => *r,
                Token::Tag { raw, .. } | Token::Comment { raw, .. } => *raw,
            })
            .collect();
        assert_eq!(joined, s);
    }

    #[test]
    fn quoted_values_and_raw_text_are_skipped() {
        let t = tokens("<a title=\"1 > 2\">x</a><style>p>a{}</style>");
        assert_eq!(
            t[0],
            Token::Tag {
                raw: "<a title=\"1 > 2\">",
                name: "a",
                end: false
            }
        );
        assert_eq!(
            t[3],
            Token::Tag {
                raw: "<style>",
                name: "style",
                end: false
            }
        );
        assert_eq!(t[4], Token::RawText("p>a{}"));
    }

    #[test]
    fn comments_end_where_the_parser_ends_them() {
        assert_eq!(
            tokens("<!-- wp:paragraph -->x")[0],
            Token::Comment {
                raw: "<!-- wp:paragraph -->",
                body: " wp:paragraph "
            }
        );
        assert_eq!(
            tokens("<!-->x")[0],
            Token::Comment {
                raw: "<!-->",
                body: ""
            }
        );
        assert_eq!(tokens("a < b")[0], Token::Text("a < b"));
    }
}
