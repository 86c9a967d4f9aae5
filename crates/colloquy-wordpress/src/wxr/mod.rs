//! The WXR data model, shared by the [`read`] and [`write`] halves.
//!
//! Strings are as WordPress wrote them, decoded from XML (CDATA joined, character references
//! resolved) but otherwise untouched: `content` is WordPress HTML, slugs may be
//! percent-encoded UTF-8 (`%d8%b3`), dates are WordPress's `YYYY-MM-DD HH:MM:SS` (local time
//! and GMT). Interpreting them is the importer's job.

pub mod read;
pub mod write;

/// The `<channel>`'s own elements (everything before the first author, term or item).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Channel {
    pub title: String,
    pub link: String,
    pub description: String,
    pub language: String,
    /// `1.0`, `1.1` or `1.2` (from the `wp` namespace, checked against `<wp:wxr_version>`).
    pub wxr_version: String,
    pub base_site_url: String,
    pub base_blog_url: String,
}

/// `<wp:author>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Author {
    pub id: Option<i64>,
    pub login: String,
    pub email: String,
    pub display_name: String,
    pub first_name: String,
    pub last_name: String,
}

/// `<wp:category>` (taxonomy `category`), `<wp:tag>` (`post_tag`) or `<wp:term>` (any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Term {
    pub id: Option<i64>,
    /// `category`, `post_tag`, or another taxonomy's name (`nav_menu`, `post_format`, …).
    pub taxonomy: String,
    pub slug: String,
    pub name: String,
    /// The parent's slug (WXR names parents by slug); empty for none.
    pub parent: String,
    pub description: String,
}

/// An `<item>`'s `<category domain=… nicename=…>`: a term the item carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemTerm {
    /// `category`, `post_tag`, or another taxonomy.
    pub domain: String,
    pub slug: String,
    pub name: String,
}

/// `<wp:comment>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comment {
    pub id: i64,
    pub author: String,
    pub author_email: String,
    pub author_url: String,
    pub author_ip: String,
    pub date: String,
    pub date_gmt: String,
    pub content: String,
    /// `1`, `0`, `spam`, `trash` (as WordPress wrote it).
    pub approved: String,
    /// empty or `comment`, `pingback`, `trackback`, or a plugin's own type.
    pub comment_type: String,
    /// The parent comment's id, 0 for none.
    pub parent: i64,
    pub user_id: i64,
    pub meta: Vec<(String, String)>,
}

/// An `<item>`: a post, page, attachment, menu item, … (`post_type`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Item {
    pub title: String,
    pub link: String,
    pub guid: String,
    pub pub_date: String,
    /// The author's login (`dc:creator`).
    pub creator: String,
    pub description: String,
    /// `content:encoded`: WordPress HTML.
    pub content: String,
    /// `excerpt:encoded`.
    pub excerpt: String,
    pub post_id: i64,
    pub post_date: String,
    pub post_date_gmt: String,
    pub post_modified: String,
    pub post_modified_gmt: String,
    pub comment_status: String,
    pub ping_status: String,
    pub post_name: String,
    /// `publish`, `draft`, `future`, `private`, `pending`, `trash`, `inherit`, …
    pub status: String,
    pub post_parent: i64,
    pub menu_order: i64,
    /// `post`, `page`, `attachment`, `nav_menu_item`, …
    pub post_type: String,
    pub post_password: String,
    pub is_sticky: bool,
    /// `wp:attachment_url` (attachments only).
    pub attachment_url: String,
    pub terms: Vec<ItemTerm>,
    pub meta: Vec<(String, String)>,
    pub comments: Vec<Comment>,
}

/// One thing read from a WXR file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Always first, exactly once.
    Channel(Channel),
    Author(Author),
    Term(Term),
    Item(Box<Item>),
}

/// Why a file could not be read: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct Error {
    /// 1-based.
    pub line: u64,
    /// 1-based, in characters.
    pub column: u64,
    pub message: String,
}
