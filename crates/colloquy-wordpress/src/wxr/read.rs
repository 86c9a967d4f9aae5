//! Streaming WXR reader.
//!
//! Exports are often hundreds of megabytes and come from people we do not know, so the reader
//! holds one record at a time, refuses the XML features an attacker could use against the
//! importer (DOCTYPEs and their entities, unbounded nesting, endless fields), and says where in
//! the file a problem is, so that the person importing can look at it in an editor.
//!
//! Accepted on purpose: whitespace before the XML declaration (plugins often print a blank line
//! into WordPress's export), a UTF-8 byte order mark, undeclared prefixes on elements the
//! importer does not use (such elements are skipped), and anything after `</rss>` (never read).

use std::io::{self, BufRead, Read};

use quick_xml::errors::{Error as XmlError, IllFormedError, SyntaxError};
use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesDecl, BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::{Author, Channel, Comment, Error, Item, ItemTerm, Record, Term};

/// Deepest element nesting accepted. WordPress's own exports nest six deep (`rss`, `channel`,
/// `item`, `wp:comment`, `wp:commentmeta`, `wp:meta_key`); the rest is room for plugins.
pub const MAX_DEPTH: usize = 64;

/// Largest single field (a post's content, a meta value), in bytes of UTF-8, and also the largest
/// single tag, text run or CDATA section, which is what bounds the reader's buffers.
pub const MAX_FIELD_BYTES: usize = 16 << 20;

/// Largest single item: everything it holds, its comments included (roughly the memory it
/// takes). A post with a hundred thousand comments fits easily.
pub const MAX_ITEM_BYTES: usize = 64 << 20;

/// Markup around a field's text (`<![CDATA[`, `]]>`, the tag itself) may push one event a little
/// past [`MAX_FIELD_BYTES`] without the field being too long.
const MAX_EVENT_BYTES: usize = MAX_FIELD_BYTES + 4096;

/// quick-xml copies every chunk we hand it into its event buffer before looking for the end of
/// the event; handing it at most this much keeps that copy bounded even for in-memory sources.
const CHUNK: usize = 64 * 1024;

const NOT_WXR: &str = "this is not a WordPress export (WXR) file";
const WP_NS_BASE: &[u8] = b"http://wordpress.org/export/";
const CONTENT_NS: &[u8] = b"http://purl.org/rss/1.0/modules/content/";
const DC_NS: &[u8] = b"http://purl.org/dc/elements/1.1/";
const VERSIONS: [&str; 3] = ["1.0", "1.1", "1.2"];

/// Reads a WXR file as a sequence of [`Record`]s, in file order.
///
/// The first record is always [`Record::Channel`]. After an `Err` the iterator is finished: the
/// reader cannot know what the rest of a broken file means.
pub struct Reader<R: BufRead> {
    xml: NsReader<Source<R>>,
    buf: Vec<u8>,
    st: State,
    done: bool,
}

impl<R: BufRead> Reader<R> {
    /// Wraps a buffered source (a `BufReader<File>`, a byte slice). Nothing is read until the
    /// first call to `next`.
    pub fn new(r: R) -> Self {
        let mut xml = NsReader::from_reader(Source::new(r));
        let config = xml.config_mut();
        config.trim_text(false);
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.check_comments = false;
        Reader {
            xml,
            buf: Vec::with_capacity(8 * 1024),
            st: State::default(),
            done: false,
        }
    }

    /// Bytes taken from the source so far (a byte order mark included), for a progress bar:
    /// compare with the file's length.
    pub fn bytes_read(&self) -> u64 {
        self.xml.get_ref().consumed
    }

    fn step(&mut self) -> Result<Option<Record>, Error> {
        let Self { xml, buf, st, .. } = self;
        loop {
            let at = xml.buffer_position();
            xml.get_mut().advance_to(at);
            if st.pending_end {
                st.pending_end = false;
                if let Some(record) = st.end(xml.get_ref())? {
                    return Ok(Some(record));
                }
                if st.finished {
                    return Ok(None);
                }
            }
            buf.clear();
            let event = match xml.read_event_into(buf) {
                Ok(event) => event,
                Err(err) => {
                    let offset = xml.error_position();
                    return Err(st.xml_error(err, offset, xml.get_ref()));
                }
            };
            let src = xml.get_ref();
            let record = match event {
                Event::Start(e) => {
                    let (resolved, local) = xml.resolve_element(e.name());
                    let ns = st.classify(&resolved);
                    st.start(&e, ns, local.as_ref(), src)?
                }
                Event::Empty(e) => {
                    let (resolved, local) = xml.resolve_element(e.name());
                    let ns = st.classify(&resolved);
                    st.pending_end = true;
                    st.start(&e, ns, local.as_ref(), src)?
                }
                Event::End(_) => st.end(src)?,
                Event::Text(t) => {
                    st.text(&t, 0, false, src)?;
                    None
                }
                Event::CData(t) => {
                    st.text(&t, "<![CDATA[".len() as u64, true, src)?;
                    None
                }
                Event::Decl(d) => {
                    check_encoding(&d, src)?;
                    None
                }
                Event::DocType(_) => return Err(doctype_error(src.mark.pos())),
                Event::PI(_) | Event::Comment(_) => None,
                Event::Eof => return Err(st.eof_error(src)),
            };
            if record.is_some() {
                return Ok(record);
            }
            if st.finished {
                return Ok(None);
            }
        }
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<Record, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(err) => {
                self.done = true;
                Some(Err(err))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Positions

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pos {
    line: u64,
    column: u64,
}

fn fail(at: Pos, message: impl Into<String>) -> Error {
    Error {
        line: at.line,
        column: at.column,
        message: message.into(),
    }
}

/// A byte offset with its line and column, so that later positions can be found by counting only
/// the bytes in between.
#[derive(Clone, Copy, Debug)]
struct Mark {
    offset: u64,
    line: u64,
    column: u64,
    /// The byte before `offset` was a CR: an LF right at `offset` ends no further line.
    after_cr: bool,
}

impl Mark {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    fn advanced(mut self, bytes: &[u8]) -> Mark {
        if bytes.is_empty() {
            return self;
        }
        self.offset += bytes.len() as u64;
        if !bytes.contains(&b'\r') {
            // The common case, counted with loops the compiler vectorises.
            let mut rest = bytes;
            if self.after_cr && rest[0] == b'\n' {
                rest = &rest[1..];
            }
            self.after_cr = false;
            match rest.iter().rposition(|&b| b == b'\n') {
                Some(last) => {
                    self.line += rest[..=last].iter().filter(|&&b| b == b'\n').count() as u64;
                    self.column = 1 + count_chars(&rest[last + 1..]);
                }
                None => self.column += count_chars(rest),
            }
        } else {
            // XML ends lines with LF, CRLF or a lone CR; count each once.
            for &b in bytes {
                match b {
                    b'\r' => {
                        self.line += 1;
                        self.column = 1;
                        self.after_cr = true;
                    }
                    b'\n' if self.after_cr => self.after_cr = false,
                    b'\n' => {
                        self.line += 1;
                        self.column = 1;
                    }
                    _ => {
                        self.after_cr = false;
                        if b & 0xC0 != 0x80 {
                            self.column += 1;
                        }
                    }
                }
            }
        }
        self
    }
}

/// Characters, not bytes: UTF-8 continuation bytes do not start one.
fn count_chars(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count() as u64
}

/// The byte source under quick-xml. It keeps a copy of the bytes of the event being parsed, so
/// that an error anywhere inside it can be given a line and column without re-reading the file,
/// and it stops quick-xml from buffering more than one event's worth of a hostile file.
struct Source<R> {
    inner: R,
    bom_checked: bool,
    /// Every byte taken from `inner`.
    consumed: u64,
    /// The bytes consumed since `mark` (quick-xml may have consumed one byte past the position
    /// it reports, the `<` after a text).
    pending: Vec<u8>,
    mark: Mark,
    overflowed: bool,
}

impl<R> Source<R> {
    fn new(inner: R) -> Self {
        Source {
            inner,
            bom_checked: false,
            consumed: 0,
            pending: Vec::with_capacity(8 * 1024),
            mark: Mark {
                offset: 0,
                line: 1,
                column: 1,
                after_cr: false,
            },
            overflowed: false,
        }
    }

    /// Moves the mark to `offset` (the start of the next event).
    fn advance_to(&mut self, offset: u64) {
        let n = self.span_to(offset);
        self.mark = self.mark.advanced(&self.pending[..n]);
        self.pending.drain(..n);
    }

    fn pos_at(&self, offset: u64) -> Pos {
        self.mark
            .advanced(&self.pending[..self.span_to(offset)])
            .pos()
    }

    /// Where the bytes read so far end (the end of the file, after an EOF).
    fn end_pos(&self) -> Pos {
        self.mark.advanced(&self.pending).pos()
    }

    fn span_to(&self, offset: u64) -> usize {
        let ahead = offset.saturating_sub(self.mark.offset);
        usize::try_from(ahead).map_or(self.pending.len(), |n| n.min(self.pending.len()))
    }
}

impl<R: BufRead> BufRead for Source<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if !self.bom_checked {
            // Dropped here rather than by quick-xml, whose offsets would then not count it.
            let buf = self.inner.fill_buf()?;
            if buf.starts_with(b"\xEF\xBB\xBF") {
                self.inner.consume(3);
                self.consumed += 3;
            }
            self.bom_checked = true;
        }
        if self.pending.len() > MAX_EVENT_BYTES {
            self.overflowed = true;
            return Err(io::Error::other("one XML event is too large"));
        }
        let buf = self.inner.fill_buf()?;
        Ok(&buf[..buf.len().min(CHUNK)])
    }

    fn consume(&mut self, amt: usize) {
        // `amt` bytes were just returned by `fill_buf`, so they are still buffered and this
        // `fill_buf` does no I/O.
        if let Ok(buf) = self.inner.fill_buf() {
            self.pending.extend_from_slice(&buf[..amt.min(buf.len())]);
        }
        self.inner.consume(amt);
        self.consumed += amt as u64;
    }
}

impl<R: BufRead> Read for Source<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buf = self.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.consume(n);
        Ok(n)
    }
}

// ---------------------------------------------------------------------------------------------
// The WXR structure

/// Which vocabulary an element belongs to, after prefixes are resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ns {
    /// No namespace: RSS's own elements.
    Rss,
    Wp,
    Content,
    Excerpt,
    Dc,
    Other,
}

/// What an open element is to the reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Rss,
    Channel,
    Author,
    Category,
    Tag,
    Term,
    Item,
    Postmeta,
    Comment,
    Commentmeta,
    /// An element whose text is one value.
    Field(F),
    /// Unknown, or known but out of place: its content is ignored.
    Skip,
}

/// The values the reader keeps. Numbers and flags are collected as text and parsed at the end
/// tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum F {
    Title,
    Link,
    Description,
    Language,
    WxrVersion,
    BaseSiteUrl,
    BaseBlogUrl,
    AuthorId,
    AuthorLogin,
    AuthorEmail,
    AuthorDisplayName,
    AuthorFirstName,
    AuthorLastName,
    TermId,
    TermTaxonomy,
    TermSlug,
    TermParent,
    TermName,
    TermDescription,
    ItemTitle,
    ItemLink,
    Guid,
    PubDate,
    Creator,
    ItemDescription,
    Content,
    Excerpt,
    PostId,
    PostDate,
    PostDateGmt,
    PostModified,
    PostModifiedGmt,
    CommentStatus,
    PingStatus,
    PostName,
    Status,
    PostParent,
    MenuOrder,
    PostType,
    PostPassword,
    IsSticky,
    AttachmentUrl,
    /// The text of an item's `<category>`; its attributes are read at the start tag.
    ItemTermName,
    MetaKey,
    MetaValue,
    CommentId,
    CommentAuthor,
    CommentAuthorEmail,
    CommentAuthorUrl,
    CommentAuthorIp,
    CommentDate,
    CommentDateGmt,
    CommentContent,
    CommentApproved,
    CommentType,
    CommentParent,
    CommentUserId,
}

impl F {
    fn is_channel(self) -> bool {
        matches!(
            self,
            F::Title
                | F::Link
                | F::Description
                | F::Language
                | F::WxrVersion
                | F::BaseSiteUrl
                | F::BaseBlogUrl
        )
    }
}

/// The element `local` (in `ns`) found inside an element of kind `parent`.
fn child_kind(parent: Kind, ns: Ns, local: &[u8]) -> Kind {
    use F::*;
    let field = Kind::Field;
    match (parent, ns) {
        (Kind::Channel, Ns::Rss) => match local {
            b"title" => field(Title),
            b"link" => field(Link),
            b"description" => field(Description),
            b"language" => field(Language),
            b"item" => Kind::Item,
            _ => Kind::Skip,
        },
        (Kind::Channel, Ns::Wp) => match local {
            b"wxr_version" => field(WxrVersion),
            b"base_site_url" => field(BaseSiteUrl),
            b"base_blog_url" => field(BaseBlogUrl),
            b"author" => Kind::Author,
            b"category" => Kind::Category,
            b"tag" => Kind::Tag,
            b"term" => Kind::Term,
            _ => Kind::Skip,
        },
        (Kind::Author, Ns::Wp) => match local {
            b"author_id" => field(AuthorId),
            b"author_login" => field(AuthorLogin),
            b"author_email" => field(AuthorEmail),
            b"author_display_name" => field(AuthorDisplayName),
            b"author_first_name" => field(AuthorFirstName),
            b"author_last_name" => field(AuthorLastName),
            _ => Kind::Skip,
        },
        (Kind::Category, Ns::Wp) => match local {
            b"term_id" => field(TermId),
            b"category_nicename" => field(TermSlug),
            b"category_parent" => field(TermParent),
            b"cat_name" => field(TermName),
            b"category_description" => field(TermDescription),
            _ => Kind::Skip,
        },
        (Kind::Tag, Ns::Wp) => match local {
            b"term_id" => field(TermId),
            b"tag_slug" => field(TermSlug),
            b"tag_name" => field(TermName),
            b"tag_description" => field(TermDescription),
            _ => Kind::Skip,
        },
        (Kind::Term, Ns::Wp) => match local {
            b"term_id" => field(TermId),
            b"term_taxonomy" => field(TermTaxonomy),
            b"term_slug" => field(TermSlug),
            b"term_parent" => field(TermParent),
            b"term_name" => field(TermName),
            b"term_description" => field(TermDescription),
            _ => Kind::Skip,
        },
        (Kind::Item, Ns::Rss) => match local {
            b"title" => field(ItemTitle),
            b"link" => field(ItemLink),
            b"guid" => field(Guid),
            b"pubDate" => field(PubDate),
            b"description" => field(ItemDescription),
            b"category" => field(ItemTermName),
            _ => Kind::Skip,
        },
        (Kind::Item, Ns::Dc) if local == b"creator" => field(Creator),
        (Kind::Item, Ns::Content) if local == b"encoded" => field(Content),
        (Kind::Item, Ns::Excerpt) if local == b"encoded" => field(Excerpt),
        (Kind::Item, Ns::Wp) => match local {
            b"post_id" => field(PostId),
            b"post_date" => field(PostDate),
            b"post_date_gmt" => field(PostDateGmt),
            b"post_modified" => field(PostModified),
            b"post_modified_gmt" => field(PostModifiedGmt),
            b"comment_status" => field(CommentStatus),
            b"ping_status" => field(PingStatus),
            b"post_name" => field(PostName),
            b"status" => field(Status),
            b"post_parent" => field(PostParent),
            b"menu_order" => field(MenuOrder),
            b"post_type" => field(PostType),
            b"post_password" => field(PostPassword),
            b"is_sticky" => field(IsSticky),
            b"attachment_url" => field(AttachmentUrl),
            b"postmeta" => Kind::Postmeta,
            b"comment" => Kind::Comment,
            _ => Kind::Skip,
        },
        (Kind::Postmeta | Kind::Commentmeta, Ns::Wp) => match local {
            b"meta_key" => field(MetaKey),
            b"meta_value" => field(MetaValue),
            _ => Kind::Skip,
        },
        (Kind::Comment, Ns::Wp) => match local {
            b"comment_id" => field(CommentId),
            b"comment_author" => field(CommentAuthor),
            b"comment_author_email" => field(CommentAuthorEmail),
            b"comment_author_url" => field(CommentAuthorUrl),
            b"comment_author_IP" => field(CommentAuthorIp),
            b"comment_date" => field(CommentDate),
            b"comment_date_gmt" => field(CommentDateGmt),
            b"comment_content" => field(CommentContent),
            b"comment_approved" => field(CommentApproved),
            b"comment_type" => field(CommentType),
            b"comment_parent" => field(CommentParent),
            b"comment_user_id" => field(CommentUserId),
            b"commentmeta" => Kind::Commentmeta,
            _ => Kind::Skip,
        },
        _ => Kind::Skip,
    }
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    kind: Kind,
    at: Pos,
    /// Where the element's name starts in `State::names`.
    name_start: usize,
}

/// Everything but the XML reader itself, so that it can be borrowed while an event (which
/// borrows the reader's buffer) is handled.
#[derive(Default)]
struct State {
    frames: Vec<Frame>,
    /// The open elements' names, end to end (for messages).
    names: Vec<u8>,
    /// The `wp` namespace's version, and the rest of its URI after [`WP_NS_BASE`].
    version: Option<(&'static str, &'static [u8])>,
    seen_rss: bool,
    seen_channel: bool,
    channel_sent: bool,
    finished: bool,
    /// An empty-element tag was read: its end is handled before the next event.
    pending_end: bool,
    channel: Channel,
    author: Author,
    term: Term,
    item: Item,
    item_open: bool,
    item_bytes: usize,
    item_term: ItemTerm,
    comment: Comment,
    meta_key: String,
    meta_value: String,
    /// Text of numeric and flag fields, parsed at their end tag.
    scratch: String,
}

impl State {
    fn classify(&self, resolved: &ResolveResult) -> Ns {
        let uri = match resolved {
            ResolveResult::Unbound => return Ns::Rss,
            ResolveResult::Unknown(_) => return Ns::Other,
            ResolveResult::Bound(ns) => ns.as_ref(),
        };
        if uri == CONTENT_NS {
            return Ns::Content;
        }
        if uri == DC_NS {
            return Ns::Dc;
        }
        let Some(rest) = uri.strip_prefix(WP_NS_BASE) else {
            return Ns::Other;
        };
        if self.version.is_some_and(|(_, tail)| tail == rest) {
            return Ns::Wp;
        }
        // WordPress versioned the excerpt namespace alongside WXR, and never checked that the
        // two agree; neither do we.
        match rest.strip_suffix(b"/excerpt/") {
            Some(v) if VERSIONS.iter().any(|k| k.as_bytes() == v) => Ns::Excerpt,
            _ => Ns::Other,
        }
    }

    fn name(&self, frame: &Frame) -> String {
        String::from_utf8_lossy(&self.names[frame.name_start..]).into_owned()
    }

    fn start(
        &mut self,
        e: &BytesStart,
        ns: Ns,
        local: &[u8],
        src: &Source<impl Sized>,
    ) -> Result<Option<Record>, Error> {
        let at = src.mark.pos();
        if self.frames.len() >= MAX_DEPTH {
            return Err(fail(
                at,
                format!(
                    "elements are nested more than {MAX_DEPTH} deep here; a WordPress export \
                     nests six deep, so the file is damaged or was made to exhaust the importer"
                ),
            ));
        }
        let kind = match self.frames.last() {
            None => {
                if ns != Ns::Rss || local != b"rss" {
                    return Err(fail(
                        at,
                        format!(
                            "{NOT_WXR}: its root element is <{}>, where an export has <rss>; \
                             export again from WordPress (Tools → Export)",
                            String::from_utf8_lossy(e.name().as_ref())
                        ),
                    ));
                }
                self.seen_rss = true;
                Kind::Rss
            }
            Some(top) => match top.kind {
                Kind::Rss if ns == Ns::Rss && local == b"channel" && !self.seen_channel => {
                    Kind::Channel
                }
                parent => match child_kind(parent, ns, local) {
                    Kind::Field(f) if f.is_channel() && self.channel_sent => Kind::Skip,
                    kind => kind,
                },
            },
        };
        let name_start = self.names.len();
        self.names.extend_from_slice(e.name().as_ref());
        self.frames.push(Frame {
            kind,
            at,
            name_start,
        });
        match kind {
            Kind::Rss => self.declare_namespaces(e, src)?,
            Kind::Channel => {
                self.declare_namespaces(e, src)?;
                self.seen_channel = true;
                let Some((version, _)) = self.version else {
                    return Err(fail(
                        at,
                        format!(
                            "{NOT_WXR}: it declares no WordPress namespace \
                             (xmlns:wp=\"http://wordpress.org/export/1.2/\"), so it is probably \
                             an ordinary RSS feed; use the file from WordPress's Tools → Export"
                        ),
                    ));
                };
                self.channel.wxr_version = version.to_owned();
            }
            Kind::Author | Kind::Category | Kind::Tag | Kind::Term | Kind::Item => {
                match kind {
                    Kind::Author => self.author = Author::default(),
                    Kind::Category => self.new_term("category"),
                    Kind::Tag => self.new_term("post_tag"),
                    Kind::Term => self.new_term(""),
                    _ => {
                        self.item = Item::default();
                        self.item_open = true;
                        self.item_bytes = 0;
                    }
                }
                if !self.channel_sent {
                    self.channel_sent = true;
                    return Ok(Some(Record::Channel(std::mem::take(&mut self.channel))));
                }
            }
            Kind::Postmeta | Kind::Commentmeta => {
                self.meta_key.clear();
                self.meta_value.clear();
            }
            Kind::Comment => self.comment = Comment::default(),
            Kind::Field(f) => {
                self.target(f).clear();
                if f == F::ItemTermName {
                    self.item_term = ItemTerm::default();
                    self.read_item_term_attributes(e, src)?;
                }
            }
            Kind::Skip => {}
        }
        Ok(None)
    }

    fn new_term(&mut self, taxonomy: &str) {
        self.term = Term {
            taxonomy: taxonomy.to_owned(),
            ..Term::default()
        };
    }

    /// Finds the `wp` namespace among `xmlns` attributes. Only `<rss>` and `<channel>` are
    /// looked at: that is where WordPress declares it, and a file that declares it nowhere near
    /// the top is not an export we can trust to mean what it says.
    fn declare_namespaces(
        &mut self,
        e: &BytesStart,
        src: &Source<impl Sized>,
    ) -> Result<(), Error> {
        let at = src.mark.pos();
        for attr in e.attributes() {
            let attr = attr.map_err(|err| attr_error(err, src))?;
            let key = attr.key.as_ref();
            if key != b"xmlns" && !key.starts_with(b"xmlns:") {
                continue;
            }
            let Some(rest) = attr.value.strip_prefix(WP_NS_BASE) else {
                continue;
            };
            let Some(version) = rest.strip_suffix(b"/") else {
                continue;
            };
            if version.contains(&b'/') {
                continue; // the excerpt namespace
            }
            let Some(known) = VERSIONS.iter().position(|v| v.as_bytes() == version) else {
                return Err(fail(
                    at,
                    format!(
                        "{NOT_WXR} this importer knows: it declares the namespace {}, a WXR \
                         version other than 1.0, 1.1 and 1.2; export again from WordPress \
                         (Tools → Export)",
                        String::from_utf8_lossy(&attr.value)
                    ),
                ));
            };
            let tail: &'static [u8] = match known {
                0 => b"1.0/",
                1 => b"1.1/",
                _ => b"1.2/",
            };
            match self.version {
                Some((old, _)) if old != VERSIONS[known] => {
                    return Err(fail(
                        at,
                        format!(
                            "the file declares two WordPress namespaces (WXR {old} and {}); \
                             export again from WordPress",
                            VERSIONS[known]
                        ),
                    ))
                }
                _ => self.version = Some((VERSIONS[known], tail)),
            }
        }
        Ok(())
    }

    fn read_item_term_attributes(
        &mut self,
        e: &BytesStart,
        src: &Source<impl Sized>,
    ) -> Result<(), Error> {
        let at = src.mark.pos();
        for attr in e.attributes() {
            let attr = attr.map_err(|err| attr_error(err, src))?;
            let (what, target) = match attr.key.as_ref() {
                b"domain" => ("domain", &mut self.item_term.domain),
                b"nicename" => ("nicename", &mut self.item_term.slug),
                _ => continue,
            };
            target.clear();
            let value = std::str::from_utf8(&attr.value).map_err(|_| {
                fail(
                    at,
                    format!("the {what} attribute of <category> is not valid UTF-8"),
                )
            })?;
            push_unescaped(target, value, true).map_err(|(_, message)| {
                fail(
                    at,
                    format!("in the {what} attribute of <category>: {message}"),
                )
            })?;
            self.item_bytes += target.len();
        }
        Ok(())
    }

    fn target(&mut self, f: F) -> &mut String {
        use F::*;
        match f {
            Title => &mut self.channel.title,
            Link => &mut self.channel.link,
            Description => &mut self.channel.description,
            Language => &mut self.channel.language,
            BaseSiteUrl => &mut self.channel.base_site_url,
            BaseBlogUrl => &mut self.channel.base_blog_url,
            AuthorLogin => &mut self.author.login,
            AuthorEmail => &mut self.author.email,
            AuthorDisplayName => &mut self.author.display_name,
            AuthorFirstName => &mut self.author.first_name,
            AuthorLastName => &mut self.author.last_name,
            TermTaxonomy => &mut self.term.taxonomy,
            TermSlug => &mut self.term.slug,
            TermParent => &mut self.term.parent,
            TermName => &mut self.term.name,
            TermDescription => &mut self.term.description,
            ItemTitle => &mut self.item.title,
            ItemLink => &mut self.item.link,
            Guid => &mut self.item.guid,
            PubDate => &mut self.item.pub_date,
            Creator => &mut self.item.creator,
            ItemDescription => &mut self.item.description,
            Content => &mut self.item.content,
            Excerpt => &mut self.item.excerpt,
            PostDate => &mut self.item.post_date,
            PostDateGmt => &mut self.item.post_date_gmt,
            PostModified => &mut self.item.post_modified,
            PostModifiedGmt => &mut self.item.post_modified_gmt,
            CommentStatus => &mut self.item.comment_status,
            PingStatus => &mut self.item.ping_status,
            PostName => &mut self.item.post_name,
            Status => &mut self.item.status,
            PostType => &mut self.item.post_type,
            PostPassword => &mut self.item.post_password,
            AttachmentUrl => &mut self.item.attachment_url,
            ItemTermName => &mut self.item_term.name,
            MetaKey => &mut self.meta_key,
            MetaValue => &mut self.meta_value,
            CommentAuthor => &mut self.comment.author,
            CommentAuthorEmail => &mut self.comment.author_email,
            CommentAuthorUrl => &mut self.comment.author_url,
            CommentAuthorIp => &mut self.comment.author_ip,
            CommentDate => &mut self.comment.date,
            CommentDateGmt => &mut self.comment.date_gmt,
            CommentContent => &mut self.comment.content,
            CommentApproved => &mut self.comment.approved,
            CommentType => &mut self.comment.comment_type,
            WxrVersion | AuthorId | TermId | PostId | PostParent | MenuOrder | IsSticky
            | CommentId | CommentParent | CommentUserId => &mut self.scratch,
        }
    }

    /// Text or CDATA (`cdata`) whose raw bytes start `skip` bytes after the event start.
    fn text(
        &mut self,
        raw: &[u8],
        skip: u64,
        cdata: bool,
        src: &Source<impl Sized>,
    ) -> Result<(), Error> {
        let Some(top) = self.frames.last().copied() else {
            if raw.iter().all(u8::is_ascii_whitespace) {
                return Ok(());
            }
            return Err(fail(
                src.mark.pos(),
                format!(
                    "{NOT_WXR}, or something was printed into it: it has text before its first \
                     tag; if that is a PHP warning or a plugin's output, delete it (up to \
                     \"<?xml\") and try again"
                ),
            ));
        };
        let Kind::Field(f) = top.kind else {
            return Ok(());
        };
        let start = src.mark.offset + skip;
        let text = std::str::from_utf8(raw).map_err(|err| {
            fail(
                src.pos_at(start + err.valid_up_to() as u64),
                "this is not valid UTF-8; WordPress writes its exports in UTF-8, so the file was \
                 converted or damaged on the way (re-export it, or convert it with iconv)",
            )
        })?;
        let target = self.target(f);
        let before = target.len();
        if cdata {
            push_normalized(target, text);
        } else {
            push_unescaped(target, text, false)
                .map_err(|(offset, message)| fail(src.pos_at(start + offset as u64), message))?;
        }
        let len = target.len();
        if len > MAX_FIELD_BYTES {
            return Err(fail(
                top.at,
                format!(
                    "<{}> holds more than {} MiB, more than this importer accepts in one field; \
                     remove what is in it (a pasted file?) from the post and export again",
                    self.name(&top),
                    MAX_FIELD_BYTES >> 20
                ),
            ));
        }
        self.count_item_bytes(len - before)
    }

    fn count_item_bytes(&mut self, n: usize) -> Result<(), Error> {
        if !self.item_open {
            return Ok(());
        }
        self.item_bytes += n;
        if self.item_bytes <= MAX_ITEM_BYTES {
            return Ok(());
        }
        let at = self
            .frames
            .iter()
            .find(|f| f.kind == Kind::Item)
            .map_or(Pos { line: 0, column: 0 }, |f| f.at);
        Err(fail(
            at,
            format!(
                "this <item> holds more than {} MiB (its post, meta and comments together), more \
                 than this importer accepts; export that post separately, or remove its spam \
                 comments first",
                MAX_ITEM_BYTES >> 20
            ),
        ))
    }

    fn end(&mut self, src: &Source<impl Sized>) -> Result<Option<Record>, Error> {
        let Some(frame) = self.frames.last().copied() else {
            return Ok(None);
        };
        let record = self.close(&frame, src);
        self.frames.pop();
        self.names.truncate(frame.name_start);
        record
    }

    fn close(&mut self, frame: &Frame, src: &Source<impl Sized>) -> Result<Option<Record>, Error> {
        use std::mem::{size_of, take};
        Ok(match frame.kind {
            Kind::Field(f) => {
                self.finish_field(f, frame)?;
                None
            }
            Kind::Postmeta => {
                let pair = (take(&mut self.meta_key), take(&mut self.meta_value));
                self.item.meta.push(pair);
                self.count_item_bytes(size_of::<(String, String)>())?;
                None
            }
            Kind::Commentmeta => {
                let pair = (take(&mut self.meta_key), take(&mut self.meta_value));
                self.comment.meta.push(pair);
                self.count_item_bytes(size_of::<(String, String)>())?;
                None
            }
            Kind::Comment => {
                self.item.comments.push(take(&mut self.comment));
                self.count_item_bytes(size_of::<Comment>())?;
                None
            }
            Kind::Author => Some(Record::Author(take(&mut self.author))),
            Kind::Category | Kind::Tag | Kind::Term => Some(Record::Term(take(&mut self.term))),
            Kind::Item => {
                self.item_open = false;
                Some(Record::Item(Box::new(take(&mut self.item))))
            }
            Kind::Channel if !self.channel_sent => {
                self.channel_sent = true;
                Some(Record::Channel(take(&mut self.channel)))
            }
            Kind::Rss => {
                if !self.seen_channel {
                    return Err(fail(
                        src.mark.pos(),
                        format!("{NOT_WXR}: its <rss> has no <channel>"),
                    ));
                }
                self.finished = true;
                None
            }
            Kind::Channel | Kind::Skip => None,
        })
    }

    fn finish_field(&mut self, f: F, frame: &Frame) -> Result<(), Error> {
        use F::*;
        match f {
            ItemTermName => {
                self.item.terms.push(std::mem::take(&mut self.item_term));
                self.count_item_bytes(std::mem::size_of::<ItemTerm>())?;
            }
            WxrVersion => {
                let said = self.scratch.trim();
                let ns = self.version.map_or("", |(v, _)| v);
                if !said.is_empty() && said != ns {
                    let why = if VERSIONS.contains(&said) {
                        format!("but its wp namespace is WXR {ns}; one of the two was edited")
                    } else {
                        "a version this importer does not know (1.0, 1.1, 1.2 are)".to_owned()
                    };
                    return Err(fail(
                        frame.at,
                        format!(
                            "the file says <wp:wxr_version>{}</wp:wxr_version>, {why}; export \
                             again from WordPress",
                            clip(said)
                        ),
                    ));
                }
            }
            AuthorId => self.author.id = self.number(frame)?,
            TermId => self.term.id = self.number(frame)?,
            PostId => self.item.post_id = self.number(frame)?.unwrap_or(0),
            PostParent => self.item.post_parent = self.number(frame)?.unwrap_or(0),
            MenuOrder => self.item.menu_order = self.number(frame)?.unwrap_or(0),
            CommentId => self.comment.id = self.number(frame)?.unwrap_or(0),
            CommentParent => self.comment.parent = self.number(frame)?.unwrap_or(0),
            CommentUserId => self.comment.user_id = self.number(frame)?.unwrap_or(0),
            IsSticky => self.item.is_sticky = self.scratch.trim() == "1",
            _ => {}
        }
        Ok(())
    }

    fn number(&self, frame: &Frame) -> Result<Option<i64>, Error> {
        let text = self.scratch.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|_| {
            fail(
                frame.at,
                format!(
                    "<{}> should hold a whole number, but holds \"{}\"; the file was edited or \
                     made by another tool: fix that value and try again",
                    self.name(frame),
                    clip(text)
                ),
            )
        })
    }

    /// Where the open elements were opened, innermost first (and the record holding them).
    fn open_elements(&self) -> String {
        let Some(inner) = self.frames.last() else {
            return String::new();
        };
        let mut out = format!(
            " inside <{}> (opened at line {})",
            self.name(inner),
            inner.at.line
        );
        let record = self.frames.iter().rev().skip(1).find(|f| {
            matches!(
                f.kind,
                Kind::Item | Kind::Author | Kind::Category | Kind::Tag | Kind::Term
            )
        });
        if let Some(record) = record {
            let end = self
                .frames
                .iter()
                .find(|f| f.name_start > record.name_start)
                .map_or(self.names.len(), |f| f.name_start);
            let name = String::from_utf8_lossy(&self.names[record.name_start..end]);
            out += &format!(" in <{name}> (opened at line {})", record.at.line);
        }
        out
    }

    fn eof_error(&self, src: &Source<impl Sized>) -> Error {
        let at = src.end_pos();
        if !self.seen_rss {
            return fail(at, format!("{NOT_WXR}: it has no XML elements at all"));
        }
        fail(
            at,
            format!(
                "the file ends{}; it may be truncated: check that the download or upload \
                 finished, or export again",
                self.open_elements()
            ),
        )
    }

    fn xml_error(&self, err: XmlError, offset: u64, src: &Source<impl Sized>) -> Error {
        let at = src.pos_at(offset);
        match err {
            XmlError::Io(_) if src.overflowed => {
                let doctype = b"<!DOCTYPE";
                let starts = src.pending.get(..doctype.len());
                if starts.is_some_and(|s| s.eq_ignore_ascii_case(doctype)) {
                    return doctype_error(src.mark.pos());
                }
                fail(
                    src.mark.pos(),
                    format!(
                        "a single tag, text or CDATA section here is larger than {} MiB, more \
                         than this importer accepts; the file is damaged or not an export",
                        MAX_FIELD_BYTES >> 20
                    ),
                )
            }
            XmlError::Io(e) => fail(src.end_pos(), format!("could not read the file: {e}")),
            XmlError::Syntax(SyntaxError::UnclosedDoctype) => doctype_error(at),
            XmlError::Syntax(
                s @ (SyntaxError::UnclosedComment
                | SyntaxError::UnclosedCData
                | SyntaxError::UnclosedTag
                | SyntaxError::UnclosedPIOrXmlDecl),
            ) => {
                let what = match s {
                    SyntaxError::UnclosedComment => "a comment",
                    SyntaxError::UnclosedCData => "a CDATA section",
                    SyntaxError::UnclosedTag => "a tag",
                    _ => "a processing instruction",
                };
                fail(
                    src.end_pos(),
                    format!(
                        "the file ends in the middle of {what} (which starts at line {}, column \
                         {}){}; it may be truncated: check that the download or upload \
                         finished, or export again",
                        at.line,
                        at.column,
                        self.open_elements()
                    ),
                )
            }
            XmlError::IllFormed(IllFormedError::MismatchedEndTag { expected, found }) => {
                let opened = self
                    .frames
                    .last()
                    .map(|f| format!(" (opened at line {}, column {})", f.at.line, f.at.column))
                    .unwrap_or_default();
                fail(
                    at,
                    format!(
                        "</{found}> where </{expected}> was expected, to close <{expected}>\
                         {opened}; the file is not well-formed XML (was it edited by hand?)"
                    ),
                )
            }
            XmlError::IllFormed(IllFormedError::UnmatchedEndTag(name)) => fail(
                at,
                format!(
                    "</{name}> closes an element that is not open; the file is not well-formed \
                     XML (was it edited by hand?)"
                ),
            ),
            other => fail(at, format!("the file is not well-formed XML: {other}")),
        }
    }
}

fn doctype_error(at: Pos) -> Error {
    fail(
        at,
        "the file declares a DOCTYPE; WordPress exports never do, and the entities a DOCTYPE \
         can define could be used to attack the importer (reading local files, entity bombs), \
         so it is refused; use the file exactly as WordPress's Tools → Export wrote it",
    )
}

fn attr_error(err: AttrError, src: &Source<impl Sized>) -> Error {
    let within = match err {
        AttrError::ExpectedEq(p)
        | AttrError::ExpectedValue(p)
        | AttrError::UnquotedValue(p)
        | AttrError::ExpectedQuote(p, _)
        | AttrError::Duplicated(p, _) => p,
    };
    // The position is counted from just after the tag's `<`.
    let at = src.pos_at(src.mark.offset + 1 + within as u64);
    fail(at, format!("the file is not well-formed XML: {err}"))
}

fn check_encoding(decl: &BytesDecl, src: &Source<impl Sized>) -> Result<(), Error> {
    let Some(Ok(encoding)) = decl.encoding() else {
        return Ok(());
    };
    let utf8 = [b"utf-8".as_slice(), b"utf8", b"us-ascii", b"ascii"]
        .iter()
        .any(|e| encoding.eq_ignore_ascii_case(e));
    if utf8 {
        return Ok(());
    }
    let name = String::from_utf8_lossy(&encoding);
    Err(fail(
        src.mark.pos(),
        format!(
            "the file says it is encoded in {name}; this importer reads UTF-8 only: convert it \
             (iconv -f {name} -t UTF-8 export.xml > export-utf8.xml), change encoding=\"{name}\" \
             to encoding=\"UTF-8\" in its first line, and try again"
        ),
    ))
}

/// A value quoted in a message, cut short if long.
fn clip(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Text

/// Appends CDATA content: literal, but with line ends normalised as XML requires (what every
/// other XML reader, WordPress's importer included, would give).
fn push_normalized(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|&b| b == b'\r') {
        let cr = i + off;
        out.push_str(&text[run..cr]);
        out.push('\n');
        i = cr + 1;
        if bytes.get(i) == Some(&b'\n') {
            i += 1;
        }
        run = i;
    }
    out.push_str(&text[run..]);
}

/// Appends text found outside CDATA (or an attribute value, `attr`): line ends normalised,
/// character references and the five predefined entities resolved. An error carries the byte
/// offset in `text` it is about.
fn push_unescaped(out: &mut String, text: &str, attr: bool) -> Result<(), (usize, String)> {
    let bytes = text.as_bytes();
    let special = |b: &[u8]| {
        if attr {
            b.iter()
                .position(|&c| matches!(c, b'&' | b'\r' | b'\n' | b'\t'))
        } else {
            b.iter().position(|&c| c == b'&' || c == b'\r')
        }
    };
    let mut run = 0;
    let mut i = 0;
    while let Some(off) = special(&bytes[i..]) {
        let at = i + off;
        out.push_str(&text[run..at]);
        i = at + 1;
        match bytes[at] {
            b'\r' => {
                if bytes.get(i) == Some(&b'\n') {
                    i += 1;
                }
                out.push(if attr { ' ' } else { '\n' });
            }
            b'\n' | b'\t' => out.push(' '),
            _ => {
                // Entity names are short; looking further only finds a later reference's `;`.
                let window = &bytes[i..bytes.len().min(i + 40)];
                let Some(len) = window.iter().position(|&c| c == b';') else {
                    return Err((
                        at,
                        "a bare & (one that does not start a reference such as &amp;); the \
                         file was edited or made by another tool: write it as &amp;"
                            .to_owned(),
                    ));
                };
                let name = &text[i..i + len];
                let c = resolve_reference(name).map_err(|message| (at, message))?;
                out.push(c);
                i += len + 1;
            }
        }
        run = i;
    }
    out.push_str(&text[run..]);
    Ok(())
}

fn resolve_reference(name: &str) -> Result<char, String> {
    let code = match name {
        "amp" => return Ok('&'),
        "lt" => return Ok('<'),
        "gt" => return Ok('>'),
        "quot" => return Ok('"'),
        "apos" => return Ok('\''),
        _ => match name.strip_prefix('#') {
            None => {
                return Err(format!(
                    "unknown entity &{name}; XML itself knows only &amp; &lt; &gt; &quot; \
                     &apos; and numeric references, and WordPress puts HTML inside CDATA, so the \
                     file was edited or made by another tool: write it as a numeric reference \
                     (&nbsp; is &#160;)"
                ))
            }
            Some(number) => match number.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16),
                None => number.parse(),
            },
        },
    };
    match code {
        Ok(0) => Err("&#0; (the NUL character) is not allowed in XML".to_owned()),
        Ok(code) => {
            char::from_u32(code).ok_or_else(|| format!("&{name}; is not a Unicode character"))
        }
        Err(_) => Err(format!("&{name}; is not a valid character reference")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lines_and_columns_in_characters() {
        let start = Mark {
            offset: 0,
            line: 1,
            column: 1,
            after_cr: false,
        };
        assert_eq!(start.advanced(b"ab").pos(), Pos { line: 1, column: 3 });
        assert_eq!(start.advanced(b"a\nb").pos(), Pos { line: 2, column: 2 });
        assert_eq!(
            start.advanced("a\n\u{e9}\u{1f600}".as_bytes()).pos(),
            Pos { line: 2, column: 3 }
        );
        assert_eq!(start.advanced(b"a\r\nb").pos(), Pos { line: 2, column: 2 });
        assert_eq!(start.advanced(b"a\rb\r").pos(), Pos { line: 3, column: 1 });
        // A CRLF split between two events is one line end.
        let split = start.advanced(b"a\r").advanced(b"\nb");
        assert_eq!(split.pos(), Pos { line: 2, column: 2 });
    }

    #[test]
    fn resolves_references_outside_cdata() {
        let mut out = String::new();
        push_unescaped(&mut out, "a &amp; b &lt;&#233;&#x1F600;\r\nz", false).unwrap();
        assert_eq!(out, "a & b <\u{e9}\u{1f600}\nz");
        let mut out = String::new();
        push_unescaped(&mut out, "a\tb\r\nc&#10;", true).unwrap();
        assert_eq!(out, "a b c\n");
        assert!(push_unescaped(&mut String::new(), "x &nbsp;", false).is_err());
        assert!(push_unescaped(&mut String::new(), "x & y", false).is_err());
        assert!(push_unescaped(&mut String::new(), "&#0;", false).is_err());
        assert!(push_unescaped(&mut String::new(), "&#xD800;", false).is_err());
    }
}
