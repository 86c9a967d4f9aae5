//! Writing the [`ir`](super::ir) document as CommonMark (with GFM tables and strikethrough).
//!
//! Text is escaped so that it reads back as the same text: characters that are always
//! syntax (`*`, `` ` ``, `[`, `]`, `~`, `|`, `\` before punctuation), those that are syntax
//! only at the start of a line (`#`, `>`, `-`, `+`, `=`, `1.`), and those that are syntax
//! only before certain characters (`<` before a letter, `&` before an entity name, `_` at
//! a word boundary). Quotes, apostrophes and dashes are not escaped: the renderer makes them
//! typographic, as WordPress's own display did.
//!
//! Emphasis is written with `*`, `**` and `~~` only where CommonMark's flanking rules are
//! sure to read it back (decided from the characters on both sides), and as `<em>`,
//! `<strong>` or `<del>` elsewhere (in comments, where raw HTML is not allowed, the
//! formatting is dropped instead and the text kept).

use super::ir::{Align, Block, Inline, List, Span, Table};

/// Writes `blocks`; also returns how many top-level blocks became Markdown (not HTML).
pub(crate) fn write(blocks: &[Block], comment: bool) -> (String, usize) {
    let mut w = Writer {
        out: String::new(),
        prefixes: Vec::new(),
        pending: None,
        comment,
        converted: 0,
    };
    w.blocks(blocks, Sep::Blank);
    while w.out.ends_with('\n') {
        w.out.pop();
    }
    if !w.out.is_empty() {
        w.out.push('\n');
    }
    (w.out, w.converted)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sep {
    Newline,
    Blank,
}

/// A container's line prefix: `> `, or a list marker on the item's first line and its
/// width in spaces after.
struct Prefix {
    first: String,
    rest: String,
    used: bool,
}

struct Writer {
    out: String,
    prefixes: Vec<Prefix>,
    /// The separator owed before the next line, and how many prefixes it is written with.
    pending: Option<(Sep, usize)>,
    comment: bool,
    converted: usize,
}

impl Writer {
    fn line(&mut self, text: &str) {
        if let Some((sep, depth)) = self.pending.take() {
            if sep == Sep::Blank {
                let mut blank = String::new();
                for p in &self.prefixes[..depth.min(self.prefixes.len())] {
                    blank.push_str(if p.used { &p.rest } else { &p.first });
                }
                self.out.push_str(blank.trim_end());
                self.out.push('\n');
            }
        }
        let start = self.out.len();
        for p in &mut self.prefixes {
            if p.used {
                self.out.push_str(&p.rest);
            } else {
                self.out.push_str(&p.first);
                p.used = true;
            }
        }
        self.out.push_str(text);
        // No trailing whitespace (an empty item's marker, a blank line in a quote).
        while self.out.len() > start && self.out.ends_with([' ', '\t']) {
            self.out.pop();
        }
        self.out.push('\n');
    }

    fn lines(&mut self, text: &str) {
        for l in text.split('\n') {
            self.line(l);
        }
    }

    /// Writes blocks one after the other, `sep` apart.
    fn blocks(&mut self, blocks: &[Block], sep: Sep) {
        let mut prev_list: Option<(bool, bool)> = None;
        for b in blocks {
            let written_before = self.out.len();
            let top = self.prefixes.is_empty();
            match b {
                Block::List(list) => {
                    // Two lists in a row would read back as one: change the marker.
                    let alt = match prev_list {
                        Some((ordered, alt)) if ordered == list.ordered => !alt,
                        _ => false,
                    };
                    self.list(list, alt);
                    prev_list = Some((list.ordered, alt));
                }
                _ => {
                    self.block(b);
                    prev_list = None;
                }
            }
            if self.out.len() > written_before {
                if top && !matches!(b, Block::Html(_)) {
                    self.converted += 1;
                }
                self.pending = Some((sep, self.prefixes.len()));
            }
        }
    }

    fn block(&mut self, b: &Block) {
        match b {
            Block::Para(inlines) => {
                let s = inline_string(inlines, Ctx::Para, self.comment);
                if !s.is_empty() {
                    self.lines(&s);
                }
            }
            Block::Heading(level, inlines) => {
                let s = inline_string(inlines, Ctx::Heading, self.comment);
                if !s.is_empty() {
                    let hashes = "#".repeat(usize::from((*level).clamp(1, 6)));
                    self.line(&format!("{hashes} {s}"));
                }
            }
            Block::Quote(blocks) => {
                self.prefixes.push(Prefix {
                    first: "> ".into(),
                    rest: "> ".into(),
                    used: false,
                });
                self.blocks(blocks, Sep::Blank);
                self.prefixes.pop();
            }
            Block::List(list) => self.list(list, false),
            Block::Code { lang, text } => {
                let longest = longest_run(text, '`');
                let fence = "`".repeat(longest.max(2) + 1);
                self.line(&format!("{fence}{}", lang.as_deref().unwrap_or("")));
                if !text.is_empty() {
                    for l in text.split('\n') {
                        self.line(l.strip_suffix('\r').unwrap_or(l));
                    }
                }
                self.line(&fence);
            }
            Block::Rule => self.line("---"),
            Block::Table(t) => self.table(t),
            Block::Html(html) => {
                if !html.is_empty() {
                    self.lines(html);
                }
            }
        }
    }

    fn list(&mut self, list: &List, alt: bool) {
        let tight = list.items.iter().all(|item| match item.as_slice() {
            [] | [_] => true,
            [Block::Para(_), Block::List(inner)] => can_interrupt(inner),
            _ => false,
        });
        let inner_sep = if tight { Sep::Newline } else { Sep::Blank };
        for (i, item) in list.items.iter().enumerate() {
            let marker = if list.ordered {
                let n = (list.start + i as u64).min(999_999_999);
                format!("{n}{} ", if alt { ')' } else { '.' })
            } else {
                format!("{} ", if alt { '*' } else { '-' })
            };
            let width = marker.len();
            self.prefixes.push(Prefix {
                first: marker,
                rest: " ".repeat(width),
                used: false,
            });
            let before = self.out.len();
            self.blocks(item, inner_sep);
            if self.out.len() == before {
                // An empty item still shows its marker.
                self.line("");
            }
            self.prefixes.pop();
            self.pending = Some((inner_sep, self.prefixes.len()));
        }
    }

    fn table(&mut self, t: &Table) {
        let row = |cells: &[Vec<Inline>], comment: bool| {
            let mut s = String::from("|");
            for cell in cells {
                let c = inline_string(cell, Ctx::Cell, comment).replace('|', "\\|");
                s.push(' ');
                s.push_str(&c);
                s.push_str(" |");
            }
            s
        };
        let Some((header, body)) = t.rows.split_first() else {
            return;
        };
        self.line(&row(header, self.comment));
        let mut delim = String::from("|");
        for a in &t.align {
            delim.push_str(match a {
                Align::None => " --- |",
                Align::Left => " :--- |",
                Align::Center => " :---: |",
                Align::Right => " ---: |",
            });
        }
        self.line(&delim);
        for r in body {
            self.line(&row(r, self.comment));
        }
    }
}

/// Whether a list can start right after a paragraph line (so a tight item may hold a
/// paragraph and then it): bullet lists, and ordered ones starting at 1, with a first item.
fn can_interrupt(list: &List) -> bool {
    (!list.ordered || list.start == 1) && list.items.first().is_some_and(|i| !i.is_empty())
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut longest, mut run) = (0, 0);
    for ch in s.chars() {
        if ch == c {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

// ---- inline content ----

/// Where inline content goes, which decides how a line break is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// A paragraph: `\` and a newline.
    Para,
    /// A heading or table cell, which must stay on one line: `<br>`.
    Heading,
    Cell,
    /// An image's description: a space.
    Alt,
}

/// Whitespace owed before the next content.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Pending {
    None,
    Space,
    Breaks(usize),
}

impl Pending {
    fn merge(self, other: Pending) -> Pending {
        match (self, other) {
            (Pending::Breaks(a), Pending::Breaks(b)) => Pending::Breaks(a + b),
            (Pending::Breaks(a), _) | (_, Pending::Breaks(a)) => Pending::Breaks(a),
            (Pending::Space, _) | (_, Pending::Space) => Pending::Space,
            _ => Pending::None,
        }
    }
}

fn inline_string(inlines: &[Inline], ctx: Ctx, comment: bool) -> String {
    let mut w = Inl::new(ctx, comment, true, None);
    w.cell = ctx == Ctx::Cell;
    w.inlines(inlines, true);
    w.s
}

/// One paragraph of a plain-text comment: its lines, escaped, with line breaks between.
pub(crate) fn plain_lines(lines: &[&str]) -> String {
    let mut w = Inl::new(Ctx::Para, true, true, None);
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            w.owe(Pending::Breaks(1));
        }
        w.text(line, false);
    }
    w.s
}

struct Inl {
    s: String,
    ctx: Ctx,
    comment: bool,
    line_start: bool,
    /// The character taken to precede the start of `s` (`None`: a line start, or a
    /// delimiter of the span this content is in).
    base_prev: Option<char>,
    pending: Pending,
    /// What was pending while `s` was still empty: for the caller to put before the span.
    leading: Pending,
    in_em: bool,
    in_strong: bool,
    in_del: bool,
    in_link: bool,
    /// Inside a table cell, whose `|` are all escaped afterwards.
    cell: bool,
}

impl Inl {
    fn new(ctx: Ctx, comment: bool, line_start: bool, base_prev: Option<char>) -> Self {
        Inl {
            s: String::new(),
            ctx,
            comment,
            line_start,
            base_prev,
            pending: Pending::None,
            leading: Pending::None,
            in_em: false,
            in_strong: false,
            in_del: false,
            in_link: false,
            cell: false,
        }
    }

    /// A writer for a span's content.
    fn child(&self) -> Inl {
        let base_prev = if self.comment { self.prev() } else { None };
        let mut c = Inl::new(
            self.ctx,
            self.comment,
            self.line_start || matches!(self.pending, Pending::Breaks(_)),
            base_prev,
        );
        c.in_em = self.in_em;
        c.in_strong = self.in_strong;
        c.in_del = self.in_del;
        c.in_link = self.in_link;
        c.cell = self.cell;
        c
    }

    fn prev(&self) -> Option<char> {
        if self.line_start {
            return None;
        }
        self.s.chars().next_back().or(self.base_prev)
    }

    fn owe(&mut self, p: Pending) {
        if p == Pending::None {
            return;
        }
        if self.s.is_empty() {
            self.leading = self.leading.merge(p);
            // The caller writes a leading break before this content, which so starts a line.
            if matches!(p, Pending::Breaks(_)) && self.ctx == Ctx::Para {
                self.line_start = true;
            }
        } else {
            self.pending = self.pending.merge(p);
        }
    }

    /// Writes what whitespace is owed, before some content.
    fn settle(&mut self) {
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::None => {}
            Pending::Space => {
                if !self.line_start {
                    self.s.push(' ');
                }
            }
            Pending::Breaks(n) => {
                for _ in 0..n {
                    match self.ctx {
                        Ctx::Para => {
                            self.s.push_str("\\\n");
                            self.line_start = true;
                        }
                        Ctx::Heading | Ctx::Cell => self.s.push_str("<br>"),
                        Ctx::Alt => self.s.push(' '),
                    }
                }
            }
        }
    }

    fn inlines(&mut self, items: &[Inline], outer_next_ok: bool) {
        for (i, item) in items.iter().enumerate() {
            match item {
                Inline::Text(t) => {
                    let bracket_next = matches!(
                        items.get(i + 1),
                        Some(Inline::Span(..) | Inline::AutoLink(_))
                    );
                    self.text(t, bracket_next);
                }
                Inline::Break => self.owe(Pending::Breaks(1)),
                Inline::Code(c) => self.code(c),
                Inline::Span(span, kids) => {
                    let next_ok = next_ok(&items[i + 1..], outer_next_ok);
                    self.span(span, kids, next_ok);
                }
                Inline::Image { src, alt, title } => {
                    self.settle();
                    let mut a = Inl::new(Ctx::Alt, self.comment, false, Some('['));
                    a.cell = self.cell;
                    a.text(alt, false);
                    self.s.push_str("![");
                    self.s.push_str(&a.s);
                    self.s.push_str("](");
                    destination(src, title.as_deref(), &mut self.s);
                    self.s.push(')');
                    self.line_start = false;
                }
                Inline::AutoLink(url) => {
                    self.settle();
                    if autolink_ok(url) {
                        self.s.push('<');
                        self.s.push_str(url);
                        self.s.push('>');
                    } else {
                        let mut t = Inl::new(self.ctx, self.comment, false, Some('['));
                        t.cell = self.cell;
                        t.text(url, false);
                        self.s.push('[');
                        self.s.push_str(&t.s);
                        self.s.push_str("](");
                        destination(url, None, &mut self.s);
                        self.s.push(')');
                    }
                    self.line_start = false;
                }
                Inline::Html(h) => {
                    if !self.comment {
                        self.settle();
                        self.s.push_str(h);
                        self.line_start = false;
                    }
                }
            }
        }
    }

    fn code(&mut self, code: &str) {
        let collapsed: String = {
            let mut c = String::with_capacity(code.len());
            let mut space = false;
            for ch in code.chars() {
                if ch.is_ascii() && super::walk::is_html_space(ch as u8) {
                    space = true;
                } else {
                    if space && !c.is_empty() {
                        c.push(' ');
                    }
                    space = false;
                    c.push(ch);
                }
            }
            c
        };
        if code.starts_with(|c: char| c.is_ascii_whitespace()) {
            self.owe(Pending::Space);
        }
        if collapsed.is_empty() {
            return;
        }
        self.settle();
        if self.prev() == Some('`') {
            // Backticks right after backticks would join their run.
            if self.comment {
                self.text(&collapsed, false);
            } else {
                // Inline HTML does not stop Markdown: the content is escaped as text.
                self.s.push_str("<code>");
                self.line_start = false;
                self.text(&collapsed, false);
                self.s.push_str("</code>");
            }
            if code.ends_with(|c: char| c.is_ascii_whitespace()) {
                self.owe(Pending::Space);
            }
            return;
        }
        let ticks = "`".repeat(longest_run(&collapsed, '`') + 1);
        let pad = collapsed.starts_with('`') || collapsed.ends_with('`');
        self.s.push_str(&ticks);
        if pad {
            self.s.push(' ');
        }
        self.s.push_str(&collapsed);
        if pad {
            self.s.push(' ');
        }
        self.s.push_str(&ticks);
        self.line_start = false;
        if code.ends_with(|c: char| c.is_ascii_whitespace()) {
            self.owe(Pending::Space);
        }
    }

    fn span(&mut self, span: &Span, kids: &[Inline], next_ok: bool) {
        let (delim, open_tag, close_tag) = match span {
            Span::Em if !self.in_em => ("*", "<em>", "</em>"),
            Span::Strong if !self.in_strong => ("**", "<strong>", "</strong>"),
            Span::Del if !self.in_del => ("~~", "<del>", "</del>"),
            Span::Link { href, title } if !self.in_link => {
                let mut c = self.child();
                c.in_link = true;
                c.inlines(kids, true);
                self.owe(c.leading);
                self.settle();
                self.s.push('[');
                self.s.push_str(&c.s);
                self.s.push_str("](");
                let title = if self.comment { None } else { title.as_deref() };
                destination(href, title, &mut self.s);
                self.s.push(')');
                self.line_start = false;
                self.owe(c.pending);
                return;
            }
            Span::Html { open, close } if !self.comment => {
                let mut c = self.child();
                c.inlines(kids, true);
                self.owe(c.leading);
                if !c.s.is_empty() {
                    self.settle();
                    self.s.push_str(open);
                    self.s.push_str(&c.s);
                    self.s.push_str(close);
                    self.line_start = false;
                }
                self.owe(c.pending);
                return;
            }
            // Already inside one (or not expressible here): only the content.
            _ => {
                self.inlines(kids, next_ok);
                return;
            }
        };
        let mut c = self.child();
        match span {
            Span::Em => c.in_em = true,
            Span::Strong => c.in_strong = true,
            _ => c.in_del = true,
        }
        // After the content comes a closing delimiter or tag (punctuation), except in a
        // comment, where the delimiters may be dropped and what follows is what follows.
        c.inlines(kids, !self.comment || next_ok);
        self.owe(c.leading);
        if c.s.is_empty() {
            self.owe(c.pending);
            return;
        }
        self.settle();
        let (first, last) = match (c.s.chars().next(), c.s.chars().next_back()) {
            (Some(f), Some(l)) => (f, l),
            _ => return,
        };
        let ch = delim.chars().next().unwrap_or('*');
        if delimiters_ok(ch, self.prev(), first, last, next_ok) {
            self.s.push_str(delim);
            self.s.push_str(&c.s);
            self.s.push_str(delim);
        } else if self.comment {
            self.s.push_str(&c.s);
        } else {
            self.s.push_str(open_tag);
            self.s.push_str(&c.s);
            self.s.push_str(close_tag);
        }
        self.line_start = false;
        self.owe(c.pending);
    }

    /// Writes text: whitespace runs collapse to one space (HTML shows them so), and
    /// Markdown syntax characters are escaped. `bracket_next` when what follows the text
    /// may start with `[` (a link), which would make a final `!` an image.
    fn text(&mut self, t: &str, bracket_next: bool) {
        let b = t.as_bytes();
        let mut i = 0;
        let mut prev: Option<char> = None;
        let heading = self.ctx == Ctx::Heading;
        while i < t.len() {
            if super::walk::is_html_space(b[i]) {
                self.owe(Pending::Space);
                prev = Some(' ');
                i += 1;
                continue;
            }
            self.settle();
            // Fast path: a run of characters that never need escaping mid-line.
            if !self.line_start && is_plain(b[i], heading) {
                let end = b[i..]
                    .iter()
                    .position(|&c| !is_plain(c, heading))
                    .map_or(b.len(), |p| i + p);
                self.s.push_str(&t[i..end]);
                prev = t[i..end].chars().next_back();
                i = end;
                continue;
            }
            let Some(c) = t[i..].chars().next() else {
                break;
            };
            let len = c.len_utf8();
            let next = t[i + len..].chars().next();
            if self.line_start {
                self.line_start = false;
                if c.is_ascii_digit() {
                    let digits = b[i..].iter().take_while(|d| d.is_ascii_digit()).count();
                    if digits <= 9 && matches!(b.get(i + digits), Some(b'.' | b')')) {
                        self.s.push_str(&t[i..i + digits]);
                        self.s.push('\\');
                        self.s.push(b[i + digits] as char);
                        prev = Some(b[i + digits] as char);
                        i += digits + 1;
                        continue;
                    }
                }
                if matches!(c, '#' | '>' | '-' | '+' | '=') {
                    self.s.push('\\');
                    self.s.push(c);
                    prev = Some(c);
                    i += len;
                    continue;
                }
            }
            let escape = match c {
                // Before whitespace too: the whitespace may be dropped and a delimiter follow.
                '\\' => next.is_none_or(|n| n.is_ascii_punctuation() || n.is_whitespace()),
                // `!` then a link would be an image.
                '!' => next.map_or(bracket_next, |n| n == '['),
                '`' | '*' | '[' | ']' => true,
                '~' => true,
                '|' => !self.cell && !self.comment,
                '#' => self.ctx == Ctx::Heading,
                '_' => {
                    !(prev.is_some_and(char::is_alphanumeric)
                        && next.is_some_and(char::is_alphanumeric))
                }
                '<' => {
                    next.is_none_or(|n| n.is_ascii_alphanumeric() || matches!(n, '/' | '!' | '?'))
                }
                '&' => entity_like(&t[i + 1..]),
                _ => false,
            };
            if escape {
                self.s.push('\\');
            }
            self.s.push(c);
            prev = Some(c);
            i += len;
        }
    }
}

/// Bytes that never need escaping except at the start of a line: letters, digits, any
/// byte of a non-ASCII character, and punctuation without inline meaning (`#` has one in
/// headings).
fn is_plain(b: u8, heading: bool) -> bool {
    b.is_ascii_alphanumeric()
        || b >= 0x80
        || matches!(
            b,
            b'.' | b','
                | b':'
                | b';'
                | b'\''
                | b'"'
                | b'?'
                | b'/'
                | b'('
                | b')'
                | b'%'
                | b'$'
                | b'@'
                | b'^'
                | b'{'
                | b'}'
                | b'='
                | b'+'
                | b'-'
                | b'>'
        )
        || (b == b'#' && !heading)
}

/// Whether the first thing after a span (among `rest`, else `outer`) is whitespace,
/// punctuation or the end: what a closing delimiter after punctuation needs.
fn next_ok(rest: &[Inline], outer: bool) -> bool {
    for item in rest {
        match item {
            Inline::Text(t) => match t.chars().next() {
                None => continue,
                Some(c) => return c.is_ascii_whitespace() || c.is_ascii_punctuation(),
            },
            Inline::Span(Span::Em | Span::Strong | Span::Del, kids) => {
                if has_output(kids) {
                    return next_ok(kids, true);
                }
            }
            Inline::Span(_, kids) => {
                if has_output(kids) {
                    return true;
                }
            }
            _ => return true,
        }
    }
    outer
}

/// Whether inline content shows anything (a link's URL does not count).
pub(crate) fn has_output(items: &[Inline]) -> bool {
    items.iter().any(|i| match i {
        Inline::Text(t) => t.bytes().any(|b| !super::walk::is_html_space(b)),
        Inline::Break => false,
        Inline::Span(_, kids) => has_output(kids),
        Inline::Html(h) => h != "<wbr>",
        _ => true,
    })
}

/// Whether delimiters of `ch` (`*`, `**`, `~~`) around content from `first` to `last`,
/// after `prev`, with what follows being whitespace or punctuation when `next_ok`, are read
/// back as emphasis.
///
/// CommonMark: an opener must not be followed by whitespace, and if followed by
/// punctuation must be preceded by whitespace or punctuation; a closer likewise mirrored.
/// Letters and digits are neither, so content starting and ending with one is always safe.
/// Anything else non-ASCII counts as unsure. A neighbour that is the delimiter character
/// itself would merge into one delimiter run, so that is avoided.
fn delimiters_ok(ch: char, prev: Option<char>, first: char, last: char, next_ok: bool) -> bool {
    if first == ch || last == ch || prev == Some(ch) {
        return false;
    }
    if first.is_whitespace() || last.is_whitespace() {
        return false;
    }
    let open_ok = first.is_alphanumeric()
        || prev.is_none_or(|p| p.is_ascii_whitespace() || p.is_ascii_punctuation());
    let close_ok = last.is_alphanumeric() || next_ok;
    open_ok && close_ok
}

/// Whether `rest` (after an `&`) starts like a character reference CommonMark would decode.
fn entity_like(rest: &str) -> bool {
    let b = rest.as_bytes();
    let (start, ok): (usize, fn(u8) -> bool) = match b {
        [b'#', b'x' | b'X', ..] => (2, |c| c.is_ascii_hexdigit()),
        [b'#', ..] => (1, |c| c.is_ascii_digit()),
        _ => (0, |c| c.is_ascii_alphanumeric()),
    };
    let n = b[start..].iter().take(33).take_while(|c| ok(**c)).count();
    n > 0 && b.get(start + n) == Some(&b';')
}

/// Whether a URL can be written as `<url>`: a scheme, then no spaces, controls or angle
/// brackets.
fn autolink_ok(url: &str) -> bool {
    let Some(colon) = url.find(':') else {
        return false;
    };
    let scheme = &url.as_bytes()[..colon];
    (2..=32).contains(&scheme.len())
        && scheme[0].is_ascii_alphabetic()
        && scheme
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'-'))
        && !url
            .chars()
            .any(|c| c.is_ascii_control() || c == ' ' || c == '<' || c == '>')
}

/// Writes a link destination (bare, or in `<…>` when it has spaces, brackets or unbalanced
/// parentheses) and an optional title.
fn destination(url: &str, title: Option<&str>, out: &mut String) {
    let mut depth: i32 = 0;
    let mut balanced = true;
    for c in url.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    balanced = false;
                }
            }
            _ => {}
        }
    }
    let bare = !url.is_empty()
        && balanced
        && depth == 0
        && !url
            .chars()
            .any(|c| c.is_ascii_control() || c == ' ' || c == '<' || c == '>' || c == '\\');
    if !bare {
        out.push('<');
    }
    for (i, c) in url.char_indices() {
        match c {
            '<' | '>' | '\\' if !bare => {
                out.push('\\');
                out.push(c);
            }
            '&' if entity_like(&url[i + 1..]) => out.push_str("\\&"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            c => out.push(c),
        }
    }
    if !bare {
        out.push('>');
    }
    if let Some(title) = title {
        out.push_str(" \"");
        let mut space = false;
        for (i, c) in title.char_indices() {
            if c.is_ascii_whitespace() {
                space = true;
                continue;
            }
            if space {
                out.push(' ');
                space = false;
            }
            match c {
                '"' | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                '&' if entity_like(&title[i + 1..]) => out.push_str("\\&"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn para(inlines: Vec<Inline>) -> String {
        inline_string(&inlines, Ctx::Para, false)
    }

    fn t(s: &str) -> Inline {
        Inline::Text(s.into())
    }

    #[test]
    fn emphasis_falls_back_to_html_where_stars_would_not_read_back() {
        assert_eq!(
            para(vec![t("a "), Inline::Span(Span::Em, vec![t("b")]), t(" c")]),
            "a *b* c"
        );
        assert_eq!(
            para(vec![
                t("a"),
                Inline::Span(Span::Em, vec![t("\"q\"")]),
                t("b")
            ]),
            "a<em>\"q\"</em>b"
        );
        assert_eq!(
            para(vec![Inline::Span(Span::Em, vec![t(" spaced ")]), t("x")]),
            "*spaced* x"
        );
    }

    #[test]
    fn line_start_characters_are_escaped() {
        assert_eq!(para(vec![t("# no")]), "\\# no");
        assert_eq!(para(vec![t("2019. A year")]), "2019\\. A year");
        assert_eq!(para(vec![t("a"), Inline::Break, t("- b")]), "a\\\n\\- b");
        assert_eq!(
            para(vec![t("a_b _c_ *d* [e] <f> &amp; 1 < 2")]),
            "a_b \\_c\\_ \\*d\\* \\[e\\] \\<f> \\&amp; 1 < 2"
        );
    }
}
