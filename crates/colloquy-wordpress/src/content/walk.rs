//! From the parsed tree to the [`ir`](super::ir) document.
//!
//! One walk over the tree, with a stack of containers (quotes, lists, items, table cells)
//! that blocks go into and a stack of open inline spans that make up the paragraph being
//! built. HTML lets block elements sit inside inline ones (`<em><p>…</p></em>`); when a
//! block starts, the paragraph so far is closed and the open emphasis is reopened after it,
//! as a browser shows it. Links and other inline elements that contain blocks are kept whole
//! as HTML instead (found beforehand, in one pass), so only emphasis is ever reopened, and at
//! most one of each kind is open: the output stays linear in the input.
//!
//! Recursion is bounded by [`MAX_DEPTH`]; what lies deeper is kept as its text. Quotes and
//! lists deeper than [`MAX_NESTING`] are flattened into their parent, since each level adds
//! a prefix to every line of Markdown inside it.

use std::collections::HashSet;

use ego_tree::iter::Edge;
use ego_tree::{NodeId, NodeRef};
use scraper::node::Element;
use scraper::Node;

use super::html::{self, Context};
use super::ir::{Align, Block, Inline, List, Span, Table};
use super::prepare::Placeholders;
use super::shortcode::Known;
use super::{
    attachment_id, gallery_images, is_url, media_url, note, text_of, youtube_url, Options, Report,
};

/// Elements the walker goes into before it keeps the rest as text.
pub(crate) const MAX_DEPTH: usize = 100;
/// Quotes and lists inside one another before deeper ones are flattened into their parent.
pub(crate) const MAX_NESTING: usize = 8;

/// Elements that sit inside a paragraph; any other element is a block.
const PHRASING: &[&str] = &[
    "a", "abbr", "acronym", "b", "bdi", "bdo", "big", "br", "cite", "code", "data", "del", "dfn",
    "em", "font", "i", "img", "ins", "kbd", "label", "mark", "q", "rp", "rt", "ruby", "s", "samp",
    "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var", "wbr",
];

/// Inline elements Markdown has no syntax for, kept as inline HTML around Markdown content.
const INLINE_KEPT: &[&str] = &[
    "abbr", "acronym", "bdi", "bdo", "big", "data", "dfn", "ins", "kbd", "label", "mark", "q",
    "rp", "rt", "ruby", "samp", "small", "sub", "sup", "time", "u", "var",
];

/// Block containers that are only structure: with no attributes, their content is converted
/// as if they were not there.
const PLAIN_CONTAINERS: &[&str] = &[
    "article", "aside", "body", "header", "footer", "hgroup", "html", "main", "nav", "section",
];

/// Classes of the block editor's layout wrappers (groups, columns), which carry no meaning
/// of their own once the theme that styled them is gone.
const LAYOUT_CLASSES: &[&str] = &[
    "wp-block-group",
    "wp-block-columns",
    "wp-block-column",
    "is-layout-",
    "wp-container-",
    "wp-block-column-is-layout-",
    "has-global-padding",
    "is-stacked-on-mobile",
    "are-vertically-aligned-",
    "is-vertically-aligned-",
];

#[derive(Debug)]
enum Kind {
    Root,
    Quote,
    List { ordered: bool, start: u64 },
    Item,
    Cell,
}

struct Container {
    kind: Kind,
    blocks: Vec<Block>,
    items: Vec<Vec<Block>>,
}

struct Frame {
    span: Option<Span>,
    children: Vec<Inline>,
}

pub(crate) struct Walker<'a> {
    opts: &'a Options<'a>,
    report: &'a mut Report,
    /// Converting a comment: a smaller set of elements, nothing kept as HTML.
    comment: bool,
    placeholders: Option<&'a Placeholders>,
    /// Inline elements with a block inside.
    holds_blocks: HashSet<NodeId>,
    containers: Vec<Container>,
    frames: Vec<Frame>,
    /// Whether the paragraph being built has anything visible.
    has_content: bool,
    heading: Option<u8>,
    depth: usize,
    nesting: usize,
    /// Inside a caption or table cell: paragraphs there are joined into the one line.
    inline_only: usize,
    /// An element already written by its parent's handler (a caption's image).
    skip: Option<NodeId>,
}

impl<'a> Walker<'a> {
    pub(crate) fn new(
        opts: &'a Options<'a>,
        report: &'a mut Report,
        comment: bool,
        placeholders: Option<&'a Placeholders>,
    ) -> Self {
        Walker {
            opts,
            report,
            comment,
            placeholders,
            holds_blocks: HashSet::new(),
            containers: vec![Container::new(Kind::Root)],
            frames: vec![Frame {
                span: None,
                children: Vec::new(),
            }],
            has_content: false,
            heading: None,
            depth: 0,
            nesting: 0,
            inline_only: 0,
            skip: None,
        }
    }

    /// Converts the children of `body`.
    pub(crate) fn run(mut self, body: NodeRef<'_, Node>) -> Vec<Block> {
        self.find_inline_blocks(body);
        self.children(body);
        self.flush();
        self.containers.pop().map(|c| c.blocks).unwrap_or_default()
    }

    /// Records the inline elements that have a block somewhere inside (one pass, bottom-up).
    fn find_inline_blocks(&mut self, body: NodeRef<'_, Node>) {
        let mut stack: Vec<bool> = Vec::new();
        for edge in body.traverse() {
            match edge {
                Edge::Open(n) if n.value().is_element() => stack.push(false),
                Edge::Close(n) => {
                    let Some(e) = n.value().as_element() else {
                        continue;
                    };
                    let inner = stack.pop().unwrap_or(false);
                    let phrasing = self.is_phrasing(e.name());
                    if phrasing && inner {
                        self.holds_blocks.insert(n.id());
                    }
                    if !phrasing || inner {
                        if let Some(top) = stack.last_mut() {
                            *top = true;
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn is_phrasing(&self, name: &str) -> bool {
        PHRASING.contains(&name) || self.placeholders.is_some_and(|p| name == p.inline)
    }

    fn children(&mut self, node: NodeRef<'_, Node>) {
        for child in node.children() {
            self.walk(child);
        }
    }

    fn walk(&mut self, node: NodeRef<'_, Node>) {
        match node.value() {
            Node::Text(t) => self.text(t),
            Node::Element(e) => {
                if Some(node.id()) == self.skip {
                    return;
                }
                if self.depth >= MAX_DEPTH {
                    note(
                        &mut self.report.unsupported,
                        "content nested too deeply (kept as plain text)",
                    );
                    let text = flat_text(node);
                    self.text(&text);
                    return;
                }
                self.depth += 1;
                if self.comment {
                    self.comment_element(node, e);
                } else {
                    self.element(node, e);
                }
                self.depth -= 1;
            }
            _ => {}
        }
    }

    // ---- paragraphs and spans ----

    fn text(&mut self, t: &str) {
        if t.is_empty() {
            return;
        }
        if t.bytes().any(|b| !is_html_space(b)) {
            self.has_content = true;
        }
        let children = &mut self.top_frame().children;
        if let Some(Inline::Text(last)) = children.last_mut() {
            last.push_str(t);
        } else {
            children.push(Inline::Text(t.to_string()));
        }
    }

    fn top_frame(&mut self) -> &mut Frame {
        if self.frames.is_empty() {
            self.frames.push(Frame {
                span: None,
                children: Vec::new(),
            });
        }
        let last = self.frames.len() - 1;
        &mut self.frames[last]
    }

    fn inline(&mut self, inline: Inline) {
        if !matches!(inline, Inline::Break) {
            self.has_content = true;
        }
        self.top_frame().children.push(inline);
    }

    /// Whether the last inline of the paragraph being built is a line break.
    fn ends_with_break(&self) -> bool {
        for f in self.frames.iter().rev() {
            if let Some(last) = f.children.last() {
                return matches!(last, Inline::Break);
            }
        }
        false
    }

    fn open(&mut self, span: Span) {
        self.frames.push(Frame {
            span: Some(span),
            children: Vec::new(),
        });
    }

    fn close(&mut self) {
        if self.frames.len() < 2 {
            return;
        }
        if let Some(Frame {
            span: Some(span),
            children,
        }) = self.frames.pop()
        {
            self.top_frame().children.push(Inline::Span(span, children));
        }
    }

    /// Whether a span of this kind is already open (emphasis inside emphasis says nothing).
    fn is_open(&self, span: &Span) -> bool {
        self.frames.iter().any(|f| {
            f.span
                .as_ref()
                .is_some_and(|s| std::mem::discriminant(s) == std::mem::discriminant(span))
        })
    }

    /// Children inside a span of this kind (unless one is already open).
    fn span(&mut self, node: NodeRef<'_, Node>, span: Span) {
        if self.is_open(&span) {
            self.children(node);
            return;
        }
        self.open(span);
        self.children(node);
        self.close();
    }

    /// Ends the paragraph being built: it goes into the current container, and the open
    /// spans are reopened, empty, for what follows.
    fn flush(&mut self) {
        if !self.has_content {
            for f in &mut self.frames {
                f.children.clear();
            }
            return;
        }
        let spans: Vec<Option<Span>> = self.frames.iter().skip(1).map(|f| f.span.clone()).collect();
        while self.frames.len() > 1 {
            self.close();
        }
        let inlines = std::mem::take(&mut self.top_frame().children);
        for span in spans {
            self.frames.push(Frame {
                span,
                children: Vec::new(),
            });
        }
        self.has_content = false;
        match self.heading {
            Some(level) => self.push_block(Block::Heading(level, inlines)),
            None if self.comment => self.push_block(Block::Para(inlines)),
            None => {
                for para in split_url_lines(inlines) {
                    self.push_block(Block::Para(para));
                }
            }
        }
    }

    fn push_block(&mut self, block: Block) {
        let Some(top) = self.containers.last_mut() else {
            return;
        };
        match top.kind {
            Kind::List { .. } => top.items.push(vec![block]),
            _ => top.blocks.push(block),
        }
    }

    /// A paragraph-like block: its content, in a paragraph of its own.
    fn block_container(&mut self, node: NodeRef<'_, Node>) {
        if self.inline_only > 0 {
            if self.has_content && !self.ends_with_break() {
                self.inline(Inline::Break);
            }
            self.children(node);
            return;
        }
        self.flush();
        self.children(node);
        self.flush();
    }

    fn push_container(&mut self, kind: Kind) {
        self.containers.push(Container::new(kind));
    }

    fn pop_container(&mut self) -> Container {
        if self.containers.len() < 2 {
            return Container::new(Kind::Root);
        }
        self.containers
            .pop()
            .unwrap_or_else(|| Container::new(Kind::Root))
    }

    /// Keeps an element whole as an HTML block.
    fn keep(&mut self, node: NodeRef<'_, Node>, key: &str) {
        if self.comment {
            self.block_container(node);
            return;
        }
        self.flush();
        note(&mut self.report.kept_as_html, key);
        let cx = Context {
            placeholders: self.placeholders,
            attachments: self.opts.attachments,
        };
        let html = html::block(node, &cx, self.report);
        self.push_block(Block::Html(html));
    }

    fn style(&mut self, e: &Element) {
        if e.attr("style").is_some() {
            note(&mut self.report.unsupported, "style attribute (dropped)");
        }
    }

    // ---- posts ----

    fn element(&mut self, node: NodeRef<'_, Node>, e: &Element) {
        let name = e.name();
        if let Some(p) = self.placeholders {
            if name == p.block || name == p.inline {
                self.shortcode(node, e);
                return;
            }
        }
        match name {
            "p" => {
                self.style(e);
                self.block_container(node);
            }
            "div" => {
                if e.attrs().next().is_none() {
                    self.block_container(node);
                } else if is_layout_div(e) {
                    if e.classes().any(|c| c == "wp-block-columns") {
                        note(&mut self.report.unsupported, "columns layout (flattened)");
                    }
                    self.style(e);
                    self.block_container(node);
                } else {
                    self.keep(node, "div with attributes");
                }
            }
            _ if PLAIN_CONTAINERS.contains(&name) => {
                if e.attrs().next().is_none() {
                    self.block_container(node);
                } else {
                    self.keep(node, &format!("{name} with attributes"));
                }
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                if e.attr("id").is_some() {
                    self.keep(node, "heading with id");
                } else if self.inline_only > 0 {
                    self.block_container(node);
                } else {
                    self.style(e);
                    let level = name.as_bytes()[1] - b'0';
                    self.flush();
                    let outer = self.heading.replace(level);
                    self.children(node);
                    self.flush();
                    self.heading = outer;
                }
            }
            "blockquote" => {
                self.style(e);
                self.quote(node);
            }
            "ul" | "ol" => self.list(node, e),
            "li" => {
                self.style(e);
                self.item(node);
            }
            "pre" => self.pre(node, e),
            "hr" => {
                self.flush();
                self.push_block(Block::Rule);
            }
            "br" => self.inline(Inline::Break),
            "table" => self.table(node),
            "figure" => self.figure(node, e),
            "img" => {
                self.style(e);
                if let Some(img) = self.image(e) {
                    self.inline(img);
                }
            }
            "em" | "i" | "cite" => {
                self.style(e);
                self.span(node, Span::Em);
            }
            "strong" | "b" => {
                self.style(e);
                self.span(node, Span::Strong);
            }
            "del" | "s" | "strike" => {
                self.style(e);
                self.span(node, Span::Del);
            }
            "a" => self.link(node, e),
            "code" | "tt" => {
                self.style(e);
                self.inline(Inline::Code(text_of(node)));
            }
            "span" => {
                if e.attr("lang").is_some() || e.attr("title").is_some() {
                    self.inline_kept(node, e, "span with lang or title");
                } else {
                    self.style(e);
                    self.anchor(node, e);
                    self.children(node);
                }
            }
            "font" => {
                note(
                    &mut self.report.unsupported,
                    "font (removed by the sanitiser)",
                );
                self.children(node);
            }
            "video" | "audio" => self.media(node, e),
            "wbr" => {
                note(&mut self.report.kept_as_html, "wbr");
                self.top_frame().children.push(Inline::Html("<wbr>".into()));
            }
            _ if INLINE_KEPT.contains(&name) => self.inline_kept(node, e, name),
            _ => self.keep(node, name),
        }
    }

    /// A `<span id>` or `<a name>` with nothing inside is a link target, which the
    /// sanitiser does not keep.
    fn anchor(&mut self, node: NodeRef<'_, Node>, e: &Element) {
        if (e.attr("id").is_some() || e.attr("name").is_some()) && !node.has_children() {
            note(
                &mut self.report.unsupported,
                "link target (id or name) (dropped)",
            );
        }
    }

    fn inline_kept(&mut self, node: NodeRef<'_, Node>, e: &Element, key: &str) {
        if self.holds_blocks.contains(&node.id()) {
            self.keep(node, key);
            return;
        }
        note(&mut self.report.kept_as_html, key);
        if !html::SANITISER_TAGS.contains(&e.name()) {
            note(
                &mut self.report.unsupported,
                &format!("{} (removed by the sanitiser)", e.name()),
            );
        }
        self.style(e);
        let cx = Context {
            placeholders: self.placeholders,
            attachments: self.opts.attachments,
        };
        let mut open = String::new();
        html::start_tag(e, &cx, &mut open);
        let close = format!("</{}>", e.name());
        self.open(Span::Html { open, close });
        self.children(node);
        self.close();
    }

    fn link(&mut self, node: NodeRef<'_, Node>, e: &Element) {
        let Some(href) = e.attr("href") else {
            self.anchor(node, e);
            self.children(node);
            return;
        };
        if !self.comment && self.holds_blocks.contains(&node.id()) {
            self.keep(node, "link around blocks");
            return;
        }
        if self.comment && self.holds_blocks.contains(&node.id()) {
            self.children(node);
            return;
        }
        self.style(e);
        let href = href.trim();
        if is_script_url(href) {
            if !self.comment {
                note(
                    &mut self.report.unsupported,
                    "link to a script URL (removed by the sanitiser)",
                );
            }
            self.children(node);
            return;
        }
        let title = e
            .attr("title")
            .filter(|t| !t.trim().is_empty() && !self.comment)
            .map(str::to_string);
        let span = Span::Link {
            href: href.to_string(),
            title,
        };
        if self.is_open(&span) {
            self.children(node);
            return;
        }
        self.open(span);
        self.children(node);
        let empty = self
            .frames
            .last()
            .is_some_and(|f| !super::write::has_output(&f.children));
        if empty {
            // Nothing to click on (often left by paragraphing around a link that wrapped
            // blocks): dropped, with its line breaks kept.
            if !self.comment {
                note(&mut self.report.unsupported, "empty link (dropped)");
            }
            if let Some(f) = self.frames.pop() {
                self.top_frame().children.extend(f.children);
            }
        } else {
            self.close();
        }
    }

    /// An `<img>` as Markdown; an attachment's URL wins over the `src`, which is often a
    /// resized copy on the old site that the export does not carry.
    fn image(&mut self, e: &Element) -> Option<Inline> {
        let mut src = e.attr("src").unwrap_or("").trim();
        if src.is_empty() || src.starts_with("data:") {
            // Lazy-loading plugins keep the real source aside.
            if let Some(real) = e.attr("data-src").or_else(|| e.attr("data-lazy-src")) {
                src = real.trim();
            }
        }
        let src = attachment_id(e)
            .and_then(self.opts.attachments)
            .unwrap_or_else(|| src.to_string());
        if src.is_empty() {
            note(
                &mut self.report.unsupported,
                "image without a source (dropped)",
            );
            return None;
        }
        Some(Inline::Image {
            src,
            alt: e.attr("alt").unwrap_or("").to_string(),
            title: e
                .attr("title")
                .filter(|t| !t.trim().is_empty())
                .map(str::to_string),
        })
    }

    fn quote(&mut self, node: NodeRef<'_, Node>) {
        if self.nesting >= MAX_NESTING {
            note(
                &mut self.report.unsupported,
                "quotes or lists nested too deeply (flattened)",
            );
            self.block_container(node);
            return;
        }
        self.flush();
        let heading = self.heading.take();
        self.push_container(Kind::Quote);
        self.nesting += 1;
        self.children(node);
        self.flush();
        self.nesting -= 1;
        let c = self.pop_container();
        self.heading = heading;
        if !c.blocks.is_empty() {
            self.push_block(Block::Quote(c.blocks));
        }
    }

    fn list(&mut self, node: NodeRef<'_, Node>, e: &Element) {
        let ordered = e.name() == "ol";
        if ordered && !self.comment {
            if e.attr("type").is_some_and(|t| t.trim() != "1") {
                self.keep(node, "ol with type");
                return;
            }
            if e.attr("reversed").is_some() {
                self.keep(node, "reversed ol");
                return;
            }
        }
        if self.nesting >= MAX_NESTING {
            note(
                &mut self.report.unsupported,
                "quotes or lists nested too deeply (flattened)",
            );
            self.block_container(node);
            return;
        }
        if !self.comment {
            self.style(e);
        }
        let start = e
            .attr("start")
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map_or(1, |n| n.clamp(0, 999_999_999) as u64);
        self.flush();
        let heading = self.heading.take();
        self.push_container(Kind::List { ordered, start });
        self.nesting += 1;
        self.children(node);
        self.flush();
        self.nesting -= 1;
        let c = self.pop_container();
        self.heading = heading;
        if let Kind::List { ordered, start } = c.kind {
            if !c.items.is_empty() {
                self.push_block(Block::List(List {
                    ordered,
                    start,
                    items: c.items,
                }));
            }
        }
    }

    fn item(&mut self, node: NodeRef<'_, Node>) {
        let in_list = self
            .containers
            .last()
            .is_some_and(|c| matches!(c.kind, Kind::List { .. }));
        if !in_list {
            self.block_container(node);
            return;
        }
        self.flush();
        self.push_container(Kind::Item);
        self.children(node);
        self.flush();
        let c = self.pop_container();
        if let Some(list) = self.containers.last_mut() {
            list.items.push(c.blocks);
        }
    }

    /// `<pre>` as a fenced code block when it holds only text (and formatting, which a code
    /// block cannot show); with links or images in it, as HTML.
    fn pre(&mut self, node: NodeRef<'_, Node>, e: &Element) {
        let mut text = String::new();
        let mut formatted = false;
        for d in node.descendants().skip(1) {
            match d.value() {
                Node::Text(t) => text.push_str(t),
                Node::Element(el) => match el.name() {
                    "br" => text.push('\n'),
                    "code" | "span" | "samp" | "kbd" | "var" | "tt" | "font" => {}
                    "b" | "strong" | "i" | "em" | "u" | "mark" | "small" | "del" | "s" | "ins" => {
                        formatted = true
                    }
                    _ if self.comment => {}
                    _ => {
                        self.keep(node, "pre with links or images");
                        return;
                    }
                },
                _ => {}
            }
        }
        if formatted && !self.comment {
            note(
                &mut self.report.unsupported,
                "formatting inside preformatted text (dropped)",
            );
        }
        if !self.comment {
            self.style(e);
        }
        if text.ends_with('\n') {
            text.pop();
        }
        let lang = code_language(node, e);
        if self.inline_only > 0 {
            self.inline(Inline::Code(text));
            return;
        }
        self.flush();
        self.push_block(Block::Code { lang, text });
    }

    fn media(&mut self, node: NodeRef<'_, Node>, e: &Element) {
        let src = e
            .attr("src")
            .map(str::to_string)
            .or_else(|| {
                node.children()
                    .filter_map(|c| c.value().as_element())
                    .find(|c| c.name() == "source")
                    .and_then(|s| s.attr("src"))
                    .map(str::to_string)
            })
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        match src {
            Some(src) => {
                self.flush();
                self.inline(Inline::AutoLink(src));
                self.flush();
            }
            None => note(
                &mut self.report.unsupported,
                &format!("{} without a source (dropped)", e.name()),
            ),
        }
    }

    // ---- figures and captions ----

    fn figure(&mut self, node: NodeRef<'_, Node>, e: &Element) {
        let mut caption = None;
        let mut media = Vec::new();
        for child in node.children() {
            match child.value() {
                Node::Text(t) if t.bytes().all(is_html_space) => {}
                Node::Element(c) if c.name() == "figcaption" && caption.is_none() => {
                    caption = Some(child)
                }
                Node::Element(_) => media.push(child),
                Node::Comment(_) => {}
                _ => {
                    self.keep(node, "figure");
                    return;
                }
            }
        }
        self.style(e);
        if media.is_empty() {
            if let Some(c) = caption {
                self.caption_paragraph(c);
            }
            return;
        }
        if e.classes().any(|c| c == "wp-block-gallery") {
            // Inner figures (or, in older posts, a list of them): each converted in turn.
            self.flush();
            for m in media {
                self.walk(m);
            }
            if let Some(c) = caption {
                self.caption_paragraph(c);
            }
            return;
        }
        if media.len() > 1 {
            self.keep(node, "figure");
            return;
        }
        let m = media[0];
        let Some(me) = m.value().as_element() else {
            return;
        };
        if let Some(img) = self.figure_image(m, me) {
            self.flush();
            self.inline(img);
            if let Some(c) = caption {
                self.inline(Inline::Break);
                self.caption_inline(c);
            }
            self.flush();
            return;
        }
        let embed = me.classes().any(|c| c == "wp-block-embed__wrapper");
        match me.name() {
            "div" if embed => {
                let url = text_of(m);
                if !is_url(url.trim()) {
                    self.keep(node, "figure");
                    return;
                }
                self.flush();
                self.inline(Inline::AutoLink(url.trim().to_string()));
                self.flush();
            }
            "table" | "blockquote" | "video" | "audio" | "pre" | "p" | "figure" => self.walk(m),
            name if self.placeholders.is_some_and(|p| p.block == name) => self.walk(m),
            _ => {
                self.keep(node, "figure");
                return;
            }
        }
        if let Some(c) = caption {
            self.caption_paragraph(c);
        }
    }

    /// A figure's image, possibly inside a link, as one inline.
    fn figure_image(&mut self, m: NodeRef<'_, Node>, me: &Element) -> Option<Inline> {
        match me.name() {
            "img" => self.image(me),
            "a" => {
                let href = me.attr("href")?.trim();
                let mut kids = m.children().filter(|c| {
                    !c.value()
                        .as_text()
                        .is_some_and(|t| t.bytes().all(is_html_space))
                });
                let only = kids.next()?;
                if kids.next().is_some() || is_script_url(href) {
                    return None;
                }
                let img = only.value().as_element().filter(|i| i.name() == "img")?;
                let inline = self.image(img)?;
                Some(Inline::Span(
                    Span::Link {
                        href: href.to_string(),
                        title: me.attr("title").map(str::to_string),
                    },
                    vec![inline],
                ))
            }
            _ => None,
        }
    }

    /// The caption's content, emphasised, on the current line.
    fn caption_inline(&mut self, caption: NodeRef<'_, Node>) {
        let em = !self.is_open(&Span::Em);
        if em {
            self.open(Span::Em);
        }
        self.inline_only += 1;
        self.children(caption);
        self.inline_only -= 1;
        if em {
            self.close();
        }
    }

    fn caption_paragraph(&mut self, caption: NodeRef<'_, Node>) {
        self.flush();
        self.caption_inline(caption);
        self.flush();
    }

    // ---- tables ----

    fn table(&mut self, node: NodeRef<'_, Node>) {
        let shape = match table_shape(node) {
            Ok(shape) => shape,
            Err(reason) => {
                self.keep(node, reason);
                return;
            }
        };
        self.flush();
        let columns = shape.rows.iter().map(|r| r.len()).max().unwrap_or(0);
        let mut align = vec![Align::None; columns];
        for (i, cell) in shape.rows[0].iter().enumerate() {
            if let Some(e) = cell.value().as_element() {
                align[i] = cell_align(e);
            }
        }
        let mut rows = Vec::with_capacity(shape.rows.len());
        for row in &shape.rows {
            let mut cells = Vec::with_capacity(columns);
            for cell in row {
                self.push_container(Kind::Cell);
                self.inline_only += 1;
                self.children(*cell);
                self.inline_only -= 1;
                self.flush();
                let c = self.pop_container();
                let mut inlines = Vec::new();
                for b in c.blocks {
                    if let Block::Para(mut p) | Block::Heading(_, mut p) = b {
                        if !inlines.is_empty() {
                            inlines.push(Inline::Break);
                        }
                        inlines.append(&mut p);
                    }
                }
                cells.push(inlines);
            }
            cells.resize_with(columns, Vec::new);
            rows.push(cells);
        }
        self.push_block(Block::Table(Table { align, rows }));
        if let Some(c) = shape.caption {
            self.caption_paragraph(c);
        }
    }

    // ---- shortcodes ----

    fn shortcode(&mut self, node: NodeRef<'_, Node>, e: &Element) {
        let name = e.attr("n").unwrap_or("");
        match Known::of(name) {
            Some(Known::Caption) => self.caption_shortcode(node, e),
            Some(Known::Gallery) => {
                let images = gallery_images(e, self.opts.attachments, self.report);
                self.flush();
                for (i, src) in images.into_iter().enumerate() {
                    if i > 0 {
                        self.text(" ");
                    }
                    self.inline(Inline::Image {
                        src,
                        alt: String::new(),
                        title: None,
                    });
                }
                self.flush();
            }
            Some(Known::Embed) => {
                let url = text_of(node);
                let url = url.trim();
                self.flush();
                if is_url(url) {
                    self.inline(Inline::AutoLink(url.to_string()));
                } else {
                    note(
                        &mut self.report.unsupported,
                        "shortcode [embed] without a URL (kept as text)",
                    );
                    self.text(url);
                }
                self.flush();
            }
            Some(Known::Youtube) => match youtube_url(e) {
                Some(url) => {
                    self.flush();
                    self.inline(Inline::AutoLink(url));
                    self.flush();
                }
                None => note(
                    &mut self.report.unsupported,
                    "shortcode [youtube] without a URL (dropped)",
                ),
            },
            Some(Known::Media) => {
                match media_url(e) {
                    Some(url) => self.inline(Inline::AutoLink(url)),
                    None => note(
                        &mut self.report.unsupported,
                        &format!("shortcode [{name}] without a source (dropped)"),
                    ),
                }
                self.children(node);
            }
            None => self.children(node),
        }
    }

    /// `[caption]<a><img></a> Text[/caption]`: the image, then the rest as its caption.
    fn caption_shortcode(&mut self, node: NodeRef<'_, Node>, e: &Element) {
        let media = node
            .descendants()
            .skip(1)
            .find(|d| d.value().as_element().is_some_and(|el| el.name() == "img"))
            .map(|img| {
                let parent = img.parent().filter(|p| {
                    p.value()
                        .as_element()
                        .is_some_and(|pe| pe.name() == "a" && pe.attr("href").is_some())
                        && p.children()
                            .filter(|c| {
                                !c.value()
                                    .as_text()
                                    .is_some_and(|t| t.bytes().all(is_html_space))
                            })
                            .count()
                            == 1
                });
                parent.unwrap_or(img)
            });
        self.flush();
        let mut have_image = false;
        if let Some(m) = media {
            if let Some(me) = m.value().as_element() {
                if let Some(img) = self.figure_image(m, me) {
                    self.inline(img);
                    self.inline(Inline::Break);
                    have_image = true;
                }
            }
        }
        let outer_skip = self.skip;
        if have_image {
            self.skip = media.map(|m| m.id());
        }
        let em = !self.is_open(&Span::Em);
        if em {
            self.open(Span::Em);
        }
        self.inline_only += 1;
        if let Some(text) = e.attr("a-caption") {
            self.text(text);
            self.text(" ");
        }
        self.children(node);
        self.inline_only -= 1;
        if em {
            self.close();
        }
        self.skip = outer_skip;
        self.flush();
    }

    // ---- comments ----

    fn comment_element(&mut self, node: NodeRef<'_, Node>, e: &Element) {
        match e.name() {
            "blockquote" => self.quote(node),
            "ul" | "ol" => self.list(node, e),
            "li" => self.item(node),
            "pre" => self.pre(node, e),
            "br" => self.inline(Inline::Break),
            "a" => self.link(node, e),
            "em" | "i" | "cite" => self.span(node, Span::Em),
            "strong" | "b" => self.span(node, Span::Strong),
            "del" | "s" | "strike" => self.span(node, Span::Del),
            "code" | "tt" => self.inline(Inline::Code(text_of(node))),
            "img" => {
                if let Some(alt) = e.attr("alt") {
                    self.text(alt);
                }
            }
            name if self.is_phrasing(name) => self.children(node),
            _ => self.block_container(node),
        }
    }
}

impl Container {
    fn new(kind: Kind) -> Self {
        Container {
            kind,
            blocks: Vec::new(),
            items: Vec::new(),
        }
    }
}

pub(crate) fn is_html_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

/// A subtree's text, with a space where a block element ends (iterative).
fn flat_text(node: NodeRef<'_, Node>) -> String {
    let mut out = String::new();
    for edge in node.traverse() {
        match edge {
            Edge::Open(n) => {
                if let Node::Text(t) = n.value() {
                    out.push_str(t);
                }
            }
            Edge::Close(n) => {
                if n.value()
                    .as_element()
                    .is_some_and(|e| !PHRASING.contains(&e.name()))
                {
                    out.push(' ');
                }
            }
        }
    }
    out
}

fn is_layout_div(e: &Element) -> bool {
    let mut classes = 0;
    for (name, _) in e.attrs() {
        if name != "class" && name != "style" {
            return false;
        }
    }
    for c in e.classes() {
        classes += 1;
        if !LAYOUT_CLASSES.iter().any(|l| {
            if l.ends_with('-') {
                c.starts_with(l)
            } else {
                c == *l || c.starts_with(&format!("{l}__"))
            }
        }) {
            return false;
        }
    }
    classes > 0
}

fn is_script_url(href: &str) -> bool {
    let squeezed: String = href
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_ascii_control())
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    ["javascript:", "vbscript:", "data:"]
        .iter()
        .any(|s| squeezed.starts_with(s))
}

/// The language of a code block: `class="language-x"` (or `lang-x`) on the `<pre>` or its
/// `<code>`, a `lang` attribute, or SyntaxHighlighter's `class="brush: x"`.
fn code_language(node: NodeRef<'_, Node>, e: &Element) -> Option<String> {
    let code = node
        .children()
        .filter_map(|c| c.value().as_element())
        .find(|c| c.name() == "code");
    for el in std::iter::once(e).chain(code) {
        for c in el.classes() {
            if let Some(lang) = c
                .strip_prefix("language-")
                .or_else(|| c.strip_prefix("lang-"))
            {
                return valid_language(lang);
            }
        }
        if let Some(lang) = el.attr("lang").or_else(|| el.attr("data-lang")) {
            return valid_language(lang);
        }
        if let Some(brush) = el
            .attr("class")
            .and_then(|c| c.trim().strip_prefix("brush:"))
        {
            return valid_language(brush.split(';').next().unwrap_or("").trim());
        }
    }
    None
}

/// A language name as a fence's info string may carry it: a short plain token.
fn valid_language(lang: &str) -> Option<String> {
    let ok = !lang.is_empty()
        && lang.len() <= 32
        && lang
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'#' | b'.'));
    ok.then(|| lang.to_ascii_lowercase())
}

/// A table's rows (header first) and caption, when it is simple enough for GFM; else why not.
struct Shape<'a> {
    rows: Vec<Vec<NodeRef<'a, Node>>>,
    caption: Option<NodeRef<'a, Node>>,
}

fn table_shape(node: NodeRef<'_, Node>) -> Result<Shape<'_>, &'static str> {
    let mut head: Vec<NodeRef<'_, Node>> = Vec::new();
    let mut body: Vec<NodeRef<'_, Node>> = Vec::new();
    let mut foot: Vec<NodeRef<'_, Node>> = Vec::new();
    let mut caption = None;
    for child in node.children() {
        match child.value() {
            Node::Text(t) if t.bytes().all(is_html_space) => {}
            Node::Element(e) => match e.name() {
                "caption" if caption.is_none() => caption = Some(child),
                "colgroup" | "col" => {}
                "thead" => rows_of(child, &mut head)?,
                "tbody" => rows_of(child, &mut body)?,
                "tfoot" => rows_of(child, &mut foot)?,
                "tr" => body.push(child),
                _ => return Err("table with other content"),
            },
            Node::Comment(_) => {}
            _ => return Err("table with other content"),
        }
    }
    let header_ok = match head.first() {
        Some(_) => true,
        None => body.first().is_some_and(|r| {
            let mut cells = r
                .children()
                .filter_map(|c| c.value().as_element())
                .peekable();
            cells.peek().is_some() && cells.all(|c| c.name() == "th")
        }),
    };
    let mut rows: Vec<NodeRef<'_, Node>> = Vec::new();
    rows.extend(head);
    rows.extend(body);
    rows.extend(foot);
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut cells = Vec::new();
        for c in row.children() {
            match c.value() {
                Node::Text(t) if t.bytes().all(is_html_space) => {}
                Node::Element(e) if e.name() == "td" || e.name() == "th" => {
                    for span in ["colspan", "rowspan"] {
                        if e.attr(span)
                            .is_some_and(|v| v.trim().parse::<u32>().map_or(true, |n| n > 1))
                        {
                            return Err(if span == "colspan" {
                                "table with colspan"
                            } else {
                                "table with rowspan"
                            });
                        }
                    }
                    if !cell_is_inline(c) {
                        return Err("table with blocks in a cell");
                    }
                    cells.push(c);
                }
                Node::Comment(_) => {}
                _ => return Err("table with other content"),
            }
        }
        out.push(cells);
    }
    if out.iter().all(|r| r.is_empty()) {
        return Err("table with other content");
    }
    // Checked last, so that a more specific reason is given first.
    if !header_ok {
        return Err("table without a header row");
    }
    Ok(Shape { rows: out, caption })
}

fn rows_of<'a>(
    section: NodeRef<'a, Node>,
    rows: &mut Vec<NodeRef<'a, Node>>,
) -> Result<(), &'static str> {
    for r in section.children() {
        match r.value() {
            Node::Text(t) if t.bytes().all(is_html_space) => {}
            Node::Element(e) if e.name() == "tr" => rows.push(r),
            Node::Comment(_) => {}
            _ => return Err("table with other content"),
        }
    }
    Ok(())
}

/// Whether a cell holds only inline content (or one paragraph of it).
fn cell_is_inline(cell: NodeRef<'_, Node>) -> bool {
    let only_phrasing = |n: NodeRef<'_, Node>| {
        n.descendants().skip(1).all(|d| {
            d.value()
                .as_element()
                .is_none_or(|e| PHRASING.contains(&e.name()))
        })
    };
    let mut blocks = cell.children().filter(|c| {
        c.value()
            .as_element()
            .is_some_and(|e| !PHRASING.contains(&e.name()))
    });
    match (blocks.next(), blocks.next()) {
        (None, _) => only_phrasing(cell),
        (Some(p), None) => {
            p.value().as_element().is_some_and(|e| e.name() == "p")
                && only_phrasing(p)
                && cell.children().filter(|c| c.id() != p.id()).all(|c| {
                    c.value()
                        .as_text()
                        .is_some_and(|t| t.bytes().all(is_html_space))
                })
        }
        _ => false,
    }
}

/// A header cell's alignment: `style="text-align: …"`, `align`, or the block editor's
/// `has-text-align-…` class / `data-align`.
fn cell_align(e: &Element) -> Align {
    let from = |s: &str| match s.trim() {
        "left" => Some(Align::Left),
        "center" => Some(Align::Center),
        "right" => Some(Align::Right),
        _ => None,
    };
    if let Some(style) = e.attr("style") {
        for decl in style.split(';') {
            if let Some((k, v)) = decl.split_once(':') {
                if k.trim().eq_ignore_ascii_case("text-align") {
                    if let Some(a) = from(&v.to_ascii_lowercase()) {
                        return a;
                    }
                }
            }
        }
    }
    if let Some(a) = e
        .attr("align")
        .or_else(|| e.attr("data-align"))
        .and_then(|v| from(&v.to_ascii_lowercase()))
    {
        return a;
    }
    for c in e.classes() {
        if let Some(a) = c.strip_prefix("has-text-align-").and_then(from) {
            return a;
        }
    }
    Align::None
}

/// Splits a paragraph where a line (between line breaks) is a URL alone, which WordPress
/// shows as an embed: that line becomes a paragraph of its own with the URL as a link.
fn split_url_lines(inlines: Vec<Inline>) -> Vec<Vec<Inline>> {
    let has_candidate = inlines
        .iter()
        .any(|i| matches!(i, Inline::Text(t) if t.contains("http")));
    if !has_candidate {
        return vec![inlines];
    }
    let mut paras: Vec<Vec<Inline>> = Vec::new();
    let mut current: Vec<Inline> = Vec::new();
    let mut line: Vec<Inline> = Vec::new();
    let finish_line = |line: &mut Vec<Inline>,
                       current: &mut Vec<Inline>,
                       paras: &mut Vec<Vec<Inline>>,
                       brk: bool| {
        let url = match line.as_slice() {
            [Inline::Text(t)] => {
                let t = t.trim_matches(|c: char| c.is_ascii() && is_html_space(c as u8));
                is_url(t).then(|| t.to_string())
            }
            _ => None,
        };
        match url {
            Some(url) => {
                while matches!(current.last(), Some(Inline::Break)) {
                    current.pop();
                }
                if !current.is_empty() {
                    paras.push(std::mem::take(current));
                }
                paras.push(vec![Inline::AutoLink(url)]);
                line.clear();
            }
            None => {
                current.append(line);
                if brk {
                    current.push(Inline::Break);
                }
            }
        }
    };
    for inline in inlines {
        if matches!(inline, Inline::Break) {
            finish_line(&mut line, &mut current, &mut paras, true);
        } else {
            line.push(inline);
        }
    }
    finish_line(&mut line, &mut current, &mut paras, false);
    if !current.is_empty() {
        paras.push(current);
    }
    paras
}
