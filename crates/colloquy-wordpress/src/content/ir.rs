//! What the HTML tree is turned into before it is written as Markdown: a small document
//! model with only what Markdown can say, plus raw HTML for the rest.
//!
//! Building this first, and writing it second, lets the writer see a whole paragraph before
//! deciding how to spell its emphasis (CommonMark's `*` rules depend on the characters on
//! both sides) and a whole list before deciding whether it is tight.

/// A block-level piece of the document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    Para(Vec<Inline>),
    Heading(u8, Vec<Inline>),
    Quote(Vec<Block>),
    List(List),
    Code {
        lang: Option<String>,
        text: String,
    },
    Rule,
    Table(Table),
    /// Raw HTML, serialised so that CommonMark reads it as one HTML block.
    Html(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct List {
    pub ordered: bool,
    pub start: u64,
    pub items: Vec<Vec<Block>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    None,
    Left,
    Center,
    Right,
}

/// A table whose first row is its header; every row has `align.len()` cells.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    pub align: Vec<Align>,
    pub rows: Vec<Vec<Vec<Inline>>>,
}

/// Inline content.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Inline {
    /// Text as in the DOM (character references decoded, whitespace not yet collapsed).
    Text(String),
    Code(String),
    Span(Span, Vec<Inline>),
    Image {
        src: String,
        alt: String,
        title: Option<String>,
    },
    /// A URL shown as itself (`<https://…>`).
    AutoLink(String),
    Break,
    /// A self-contained piece of inline HTML (a void element such as `<wbr>`).
    Html(String),
}

/// Inline markup with content.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Span {
    Em,
    Strong,
    Del,
    Link {
        href: String,
        title: Option<String>,
    },
    /// An element Markdown has no syntax for, kept as its start and end tags around content
    /// that is still Markdown (`<sup>[1](#n1)</sup>`).
    Html {
        open: String,
        close: String,
    },
}
