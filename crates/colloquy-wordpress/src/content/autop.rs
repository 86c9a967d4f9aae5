//! Paragraphs for classic-editor content, as WordPress's `wpautop` makes them on display.
//!
//! Classic posts are stored with their paragraphs implied: a blank line separates two, a
//! single newline inside one is a line break. The rules reproduced here (not the code):
//! text and inline markup between block-level tags is split at blank lines into `<p>`s; a
//! single newline inside becomes `<br>` unless a `<br>` is already there; nothing changes
//! inside `<pre>` or raw-text elements (`<script>`, `<style>`, …) or inside tags; whitespace
//! next to block-level tags is not a line break.

use super::scan::{lower, Scanner, Token};

/// Block-level elements, around which WordPress does not make paragraphs.
const BLOCKS: &[&str] = &[
    "address",
    "area",
    "article",
    "aside",
    "blockquote",
    "caption",
    "col",
    "colgroup",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "legend",
    "li",
    "main",
    "map",
    "math",
    "menu",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "style",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
];

/// A piece of a run of inline content: text, in which newlines mean something, or markup
/// (a tag, or a whole raw-text element), in which they do not.
#[derive(Clone, Copy)]
enum Piece<'a> {
    Text(&'a str),
    Markup { raw: &'a str, br: bool },
}

/// Applies the paragraph rules to `html`. `extra_blocks` are further element names to treat
/// as block-level (the placeholders of block shortcodes).
pub(crate) fn autop(html: &str, extra_blocks: &[&str]) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 4 + 16);
    let mut run: Vec<Piece<'_>> = Vec::new();
    let mut tokens = Scanner::new(html);
    // Inside `<pre>`: copied as is up to the matching end tag.
    let mut pre = 0usize;
    // Just after a block's start tag: WordPress leaves the text up to the first blank line
    // there (`<td>text</td>`, `<p>text</p>`) without a paragraph of its own.
    let mut after_open = false;
    while let Some(token) = tokens.next() {
        match token {
            Token::Tag { raw, name, end } => {
                let mut buf = [0u8; 16];
                let lname = lower(name, &mut buf);
                if pre > 0 {
                    if lname == "pre" {
                        pre = if end { pre - 1 } else { pre + 1 };
                        after_open = false;
                    }
                    out.push_str(raw);
                    continue;
                }
                let is_block = BLOCKS.contains(&lname)
                    || extra_blocks.iter().any(|b| b.eq_ignore_ascii_case(name));
                if is_block {
                    flush(&mut run, &mut out, after_open);
                    after_open = !end;
                    out.push_str(raw);
                    if lname == "pre" && !end {
                        pre = 1;
                    }
                    if lname == "style" && !end {
                        // Its text and end tag follow; keep them out of any paragraph.
                        for t in tokens.by_ref() {
                            let (raw, done) = match t {
                                Token::RawText(r) => (r, false),
                                Token::Tag { raw, .. } => (raw, true),
                                Token::Text(r) | Token::Other(r) => (r, false),
                                Token::Comment { raw, .. } => (raw, false),
                            };
                            out.push_str(raw);
                            if done {
                                break;
                            }
                        }
                        after_open = false;
                    }
                } else {
                    run.push(Piece::Markup {
                        raw,
                        br: lname == "br" && !end,
                    });
                }
            }
            Token::Text(t) => {
                if pre > 0 {
                    out.push_str(t);
                } else {
                    run.push(Piece::Text(t));
                }
            }
            Token::RawText(r) | Token::Other(r) | Token::Comment { raw: r, .. } => {
                if pre > 0 {
                    out.push_str(r);
                } else {
                    run.push(Piece::Markup { raw: r, br: false });
                }
            }
        }
    }
    flush(&mut run, &mut out, after_open);
    out
}

/// Writes a run of inline content as paragraphs; `after_open` when it follows a block's
/// start tag, so that its first paragraph needs no `<p>`.
fn flush(run: &mut Vec<Piece<'_>>, out: &mut String, after_open: bool) {
    if run.is_empty() {
        return;
    }
    let mut state = State {
        bare: after_open,
        open: false,
        started: false,
        newlines: 0,
        space: false,
        after_br: false,
    };
    for piece in run.drain(..) {
        match piece {
            Piece::Markup { raw, br } => {
                state.separate(out);
                out.push_str(raw);
                state.after_br = br;
            }
            Piece::Text(text) => {
                let mut rest = text;
                while !rest.is_empty() {
                    let ws_len = rest
                        .bytes()
                        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c'))
                        .count();
                    if ws_len > 0 {
                        let ws = &rest[..ws_len];
                        // `\n`, `\r\n` and a lone `\r` (old Mac exports) are all line ends.
                        let wb = ws.as_bytes();
                        state.newlines += (0..wb.len())
                            .filter(|&i| {
                                wb[i] == b'\n' || (wb[i] == b'\r' && wb.get(i + 1) != Some(&b'\n'))
                            })
                            .count();
                        state.space = true;
                        rest = &rest[ws_len..];
                        continue;
                    }
                    let word_len = rest
                        .bytes()
                        .position(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c'))
                        .unwrap_or(rest.len());
                    state.separate(out);
                    out.push_str(&rest[..word_len]);
                    state.after_br = false;
                    rest = &rest[word_len..];
                }
            }
        }
    }
    if state.open {
        out.push_str("</p>\n");
    }
}

struct State {
    /// Whether the first paragraph goes without a `<p>`.
    bare: bool,
    /// Whether a `<p>` is open in the output.
    open: bool,
    /// Whether content was written since the run began.
    started: bool,
    /// Whitespace seen since the last content: how many newlines it held, and whether any.
    newlines: usize,
    space: bool,
    /// Whether the last content was a `<br>`.
    after_br: bool,
}

impl State {
    /// Before content: opens a paragraph, or turns the pending whitespace into a paragraph
    /// break, a line break or a space.
    fn separate(&mut self, out: &mut String) {
        if !self.started {
            if !self.bare {
                out.push_str("<p>");
                self.open = true;
            }
            self.started = true;
        } else if self.newlines >= 2 {
            out.push_str(if self.open { "</p>\n<p>" } else { "\n<p>" });
            self.open = true;
        } else if self.newlines == 1 {
            out.push_str(if self.after_br { "\n" } else { "<br>\n" });
        } else if self.space {
            out.push(' ');
        }
        self.newlines = 0;
        self.space = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_and_newlines() {
        assert_eq!(
            autop("One\ntwo\n\nThree", &[]),
            "<p>One<br>\ntwo</p>\n<p>Three</p>\n"
        );
    }

    #[test]
    fn blocks_and_pre_are_left_alone() {
        assert_eq!(
            autop("<ul>\n<li>a</li>\n</ul>\n<pre>x\n\ny</pre>\nz", &[]),
            "<ul><li>a</li></ul><pre>x\n\ny</pre><p>z</p>\n"
        );
    }

    #[test]
    fn explicit_paragraphs_are_not_wrapped_again() {
        assert_eq!(autop("<p>a\nb</p>\n\nc", &[]), "<p>a<br>\nb</p><p>c</p>\n");
        assert_eq!(autop("<div>a\n\nb</div>", &[]), "<div>a\n<p>b</p>\n</div>");
    }

    #[test]
    fn existing_breaks_are_not_doubled() {
        assert_eq!(autop("a<br />\nb", &[]), "<p>a<br />\nb</p>\n");
    }
}
