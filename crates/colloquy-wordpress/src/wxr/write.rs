//! WXR 1.2 writer.
//!
//! The output is meant for WordPress's own importer (and for anything else that reads what
//! WordPress writes), so it follows WordPress's exporter: the same elements in the same order,
//! CDATA where WordPress uses CDATA, escaped text where it does not. It is streamed: each
//! record goes out as it is given.
//!
//! Two things WordPress does not do, so that any conforming XML reader gets back exactly the
//! strings that were written:
//!
//! - Characters XML 1.0 cannot carry are **dropped**: the C0 control characters other than tab,
//!   line feed and carriage return, and U+FFFE and U+FFFF. (Rust strings hold no lone
//!   surrogates.) No XML reader would accept the file with them in it, and there is no escape
//!   for them.
//! - A carriage return is written as `&#13;` (outside CDATA, which is closed and reopened around
//!   it), because XML readers turn a literal CR or CRLF into LF.
//!
//! `]]>` inside CDATA is split the way WordPress does it: `]]]]><![CDATA[>`.

use std::io::{self, BufWriter, Write};

use super::{Author, Channel, Comment, Item, Term};

const HEADER: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<!-- This is a WordPress eXtended RSS file (WXR 1.2), written by Colloquy. -->
<!-- It can be imported into WordPress with Tools → Import → WordPress. -->
<rss version="2.0"
	xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:wfw="http://wellformedweb.org/CommentAPI/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:wp="http://wordpress.org/export/1.2/"
>

<channel>
"#;

/// Writes a WXR 1.2 file: [`Writer::new`] with the channel, then authors, terms and items in
/// that order (WordPress's importer accepts any order, but this is the one it writes), then
/// [`Writer::finish`], without which the file is incomplete.
pub struct Writer<W: Write> {
    out: BufWriter<W>,
}

impl<W: Write> Writer<W> {
    /// Writes everything up to the first author. The version written is always 1.2, whatever
    /// `channel.wxr_version` says: it is the format this writer produces.
    pub fn new(w: W, channel: &Channel) -> io::Result<Self> {
        let mut writer = Writer {
            out: BufWriter::with_capacity(64 * 1024, w),
        };
        writer.out.write_all(HEADER.as_bytes())?;
        writer.text(1, "title", &channel.title)?;
        writer.text(1, "link", &channel.link)?;
        writer.text(1, "description", &channel.description)?;
        writer.text(1, "language", &channel.language)?;
        writer.raw(1, "wp:wxr_version", "1.2")?;
        writer.text(1, "wp:base_site_url", &channel.base_site_url)?;
        writer.text(1, "wp:base_blog_url", &channel.base_blog_url)?;
        writer.out.write_all(b"\n")?;
        Ok(writer)
    }

    pub fn author(&mut self, author: &Author) -> io::Result<()> {
        self.out.write_all(b"\t<wp:author>")?;
        self.opt_number(0, "wp:author_id", author.id)?;
        self.cdata(0, "wp:author_login", &author.login)?;
        self.cdata(0, "wp:author_email", &author.email)?;
        self.cdata(0, "wp:author_display_name", &author.display_name)?;
        self.cdata(0, "wp:author_first_name", &author.first_name)?;
        self.cdata(0, "wp:author_last_name", &author.last_name)?;
        self.out.write_all(b"</wp:author>\n")
    }

    /// `category` and `post_tag` get WordPress's dedicated elements; every other taxonomy is a
    /// `<wp:term>`. As WordPress does, empty descriptions are left out.
    pub fn term(&mut self, term: &Term) -> io::Result<()> {
        match term.taxonomy.as_str() {
            "category" => {
                self.out.write_all(b"\t<wp:category>\n")?;
                self.opt_number(2, "wp:term_id", term.id)?;
                self.cdata(2, "wp:category_nicename", &term.slug)?;
                self.cdata(2, "wp:category_parent", &term.parent)?;
                self.cdata(2, "wp:cat_name", &term.name)?;
                if !term.description.is_empty() {
                    self.cdata(2, "wp:category_description", &term.description)?;
                }
                self.out.write_all(b"\t</wp:category>\n")
            }
            "post_tag" => {
                self.out.write_all(b"\t<wp:tag>\n")?;
                self.opt_number(2, "wp:term_id", term.id)?;
                self.cdata(2, "wp:tag_slug", &term.slug)?;
                self.cdata(2, "wp:tag_name", &term.name)?;
                if !term.description.is_empty() {
                    self.cdata(2, "wp:tag_description", &term.description)?;
                }
                self.out.write_all(b"\t</wp:tag>\n")
            }
            taxonomy => {
                self.out.write_all(b"\t<wp:term>\n")?;
                self.opt_number(2, "wp:term_id", term.id)?;
                self.cdata(2, "wp:term_taxonomy", taxonomy)?;
                self.cdata(2, "wp:term_slug", &term.slug)?;
                self.cdata(2, "wp:term_parent", &term.parent)?;
                self.cdata(2, "wp:term_name", &term.name)?;
                if !term.description.is_empty() {
                    self.cdata(2, "wp:term_description", &term.description)?;
                }
                self.out.write_all(b"\t</wp:term>\n")
            }
        }
    }

    /// `wp:attachment_url` is written for attachments (and for any item that has one), as
    /// WordPress writes it only for attachments.
    pub fn item(&mut self, item: &Item) -> io::Result<()> {
        self.out.write_all(b"\n\t<item>\n")?;
        self.cdata(2, "title", &item.title)?;
        self.text(2, "link", &item.link)?;
        self.text(2, "pubDate", &item.pub_date)?;
        self.cdata(2, "dc:creator", &item.creator)?;
        self.out.write_all(b"\t\t<guid isPermaLink=\"false\">")?;
        write_escaped(&mut self.out, &item.guid, false)?;
        self.out.write_all(b"</guid>\n")?;
        self.text(2, "description", &item.description)?;
        self.cdata(2, "content:encoded", &item.content)?;
        self.cdata(2, "excerpt:encoded", &item.excerpt)?;
        self.number(2, "wp:post_id", item.post_id)?;
        self.cdata(2, "wp:post_date", &item.post_date)?;
        self.cdata(2, "wp:post_date_gmt", &item.post_date_gmt)?;
        self.cdata(2, "wp:post_modified", &item.post_modified)?;
        self.cdata(2, "wp:post_modified_gmt", &item.post_modified_gmt)?;
        self.cdata(2, "wp:comment_status", &item.comment_status)?;
        self.cdata(2, "wp:ping_status", &item.ping_status)?;
        self.cdata(2, "wp:post_name", &item.post_name)?;
        self.cdata(2, "wp:status", &item.status)?;
        self.number(2, "wp:post_parent", item.post_parent)?;
        self.number(2, "wp:menu_order", item.menu_order)?;
        self.cdata(2, "wp:post_type", &item.post_type)?;
        self.cdata(2, "wp:post_password", &item.post_password)?;
        self.raw(2, "wp:is_sticky", if item.is_sticky { "1" } else { "0" })?;
        if item.post_type == "attachment" || !item.attachment_url.is_empty() {
            self.cdata(2, "wp:attachment_url", &item.attachment_url)?;
        }
        for term in &item.terms {
            self.out.write_all(b"\t\t<category")?;
            if !term.domain.is_empty() || !term.slug.is_empty() {
                self.out.write_all(b" domain=\"")?;
                write_escaped(&mut self.out, &term.domain, true)?;
                self.out.write_all(b"\" nicename=\"")?;
                write_escaped(&mut self.out, &term.slug, true)?;
                self.out.write_all(b"\"")?;
            }
            self.out.write_all(b">")?;
            write_cdata(&mut self.out, &term.name)?;
            self.out.write_all(b"</category>\n")?;
        }
        for (key, value) in &item.meta {
            self.out.write_all(b"\t\t<wp:postmeta>\n")?;
            self.cdata(3, "wp:meta_key", key)?;
            self.cdata(3, "wp:meta_value", value)?;
            self.out.write_all(b"\t\t</wp:postmeta>\n")?;
        }
        for comment in &item.comments {
            self.comment(comment)?;
        }
        self.out.write_all(b"\t</item>\n")
    }

    fn comment(&mut self, c: &Comment) -> io::Result<()> {
        self.out.write_all(b"\t\t<wp:comment>\n")?;
        self.number(3, "wp:comment_id", c.id)?;
        self.cdata(3, "wp:comment_author", &c.author)?;
        self.cdata(3, "wp:comment_author_email", &c.author_email)?;
        self.text(3, "wp:comment_author_url", &c.author_url)?;
        self.cdata(3, "wp:comment_author_IP", &c.author_ip)?;
        self.cdata(3, "wp:comment_date", &c.date)?;
        self.cdata(3, "wp:comment_date_gmt", &c.date_gmt)?;
        self.cdata(3, "wp:comment_content", &c.content)?;
        self.cdata(3, "wp:comment_approved", &c.approved)?;
        self.cdata(3, "wp:comment_type", &c.comment_type)?;
        self.number(3, "wp:comment_parent", c.parent)?;
        self.number(3, "wp:comment_user_id", c.user_id)?;
        for (key, value) in &c.meta {
            self.out.write_all(b"\t\t\t<wp:commentmeta>\n")?;
            self.cdata(4, "wp:meta_key", key)?;
            self.cdata(4, "wp:meta_value", value)?;
            self.out.write_all(b"\t\t\t</wp:commentmeta>\n")?;
        }
        self.out.write_all(b"\t\t</wp:comment>\n")
    }

    /// Closes the document and flushes it; returns the destination so that the caller can
    /// sync or close it.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(b"</channel>\n</rss>\n")?;
        self.out.into_inner().map_err(|e| e.into_error())
    }

    fn open(&mut self, indent: usize, name: &str) -> io::Result<()> {
        self.out.write_all(&b"\t\t\t\t"[..indent.min(4)])?;
        write!(self.out, "<{name}>")
    }

    fn close(&mut self, indent: usize, name: &str) -> io::Result<()> {
        write!(self.out, "</{name}>")?;
        if indent > 0 {
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Indentation 0 writes the element on the current line (WordPress writes each author on
    /// one line).
    fn cdata(&mut self, indent: usize, name: &str, value: &str) -> io::Result<()> {
        self.open(indent, name)?;
        write_cdata(&mut self.out, value)?;
        self.close(indent, name)
    }

    fn text(&mut self, indent: usize, name: &str, value: &str) -> io::Result<()> {
        self.open(indent, name)?;
        write_escaped(&mut self.out, value, false)?;
        self.close(indent, name)
    }

    fn raw(&mut self, indent: usize, name: &str, value: &str) -> io::Result<()> {
        self.open(indent, name)?;
        self.out.write_all(value.as_bytes())?;
        self.close(indent, name)
    }

    fn number(&mut self, indent: usize, name: &str, value: i64) -> io::Result<()> {
        self.open(indent, name)?;
        write!(self.out, "{value}")?;
        self.close(indent, name)
    }

    /// `None` is an empty element, which the reader reads back as `None`.
    fn opt_number(&mut self, indent: usize, name: &str, value: Option<i64>) -> io::Result<()> {
        match value {
            Some(n) => self.number(indent, name, n),
            None => self.raw(indent, name, ""),
        }
    }
}

/// U+FFFE and U+FFFF in UTF-8 start with these two bytes, then 0xBE or 0xBF.
fn is_nonchar(bytes: &[u8], at: usize) -> bool {
    bytes[at] == 0xEF
        && bytes.get(at + 1) == Some(&0xBF)
        && matches!(bytes.get(at + 2), Some(0xBE | 0xBF))
}

/// Escaped text (or, with `attr`, a double-quoted attribute value, where tab and line feed are
/// escaped too so that attribute-value normalisation leaves them alone).
fn write_escaped(out: &mut impl Write, s: &str, attr: bool) -> io::Result<()> {
    let bytes = s.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        let (replacement, len): (&[u8], usize) = match bytes[i] {
            b'<' => (b"&lt;", 1),
            b'>' => (b"&gt;", 1),
            b'&' => (b"&amp;", 1),
            b'"' if attr => (b"&quot;", 1),
            b'\r' => (b"&#13;", 1),
            b'\n' if attr => (b"&#10;", 1),
            b'\t' if attr => (b"&#9;", 1),
            b'\t' | b'\n' => {
                i += 1;
                continue;
            }
            0..=0x1F => (b"", 1),
            0xEF if is_nonchar(bytes, i) => (b"", 3),
            _ => {
                i += 1;
                continue;
            }
        };
        out.write_all(&bytes[run..i])?;
        out.write_all(replacement)?;
        i += len;
        run = i;
    }
    out.write_all(&bytes[run..])
}

/// A CDATA section (several, if `s` holds `]]>` or a CR).
fn write_cdata(out: &mut impl Write, s: &str) -> io::Result<()> {
    let bytes = s.as_bytes();
    out.write_all(b"<![CDATA[")?;
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        let (replacement, len): (&[u8], usize) = match bytes[i] {
            b']' if bytes[i + 1..].starts_with(b"]>") => (b"]]]]><![CDATA[>", 3),
            b'\r' => (b"]]>&#13;<![CDATA[", 1),
            b'\t' | b'\n' => {
                i += 1;
                continue;
            }
            0..=0x1F => (b"", 1),
            0xEF if is_nonchar(bytes, i) => (b"", 3),
            _ => {
                i += 1;
                continue;
            }
        };
        out.write_all(&bytes[run..i])?;
        out.write_all(replacement)?;
        i += len;
        run = i;
    }
    out.write_all(&bytes[run..])?;
    out.write_all(b"]]>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdata(s: &str) -> String {
        let mut out = Vec::new();
        write_cdata(&mut out, s).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn escaped(s: &str, attr: bool) -> String {
        let mut out = Vec::new();
        write_escaped(&mut out, s, attr).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn splits_cdata_end_the_wordpress_way() {
        assert_eq!(cdata("a]]>b"), "<![CDATA[a]]]]><![CDATA[>b]]>");
        assert_eq!(cdata("]]]>"), "<![CDATA[]]]]]><![CDATA[>]]>");
        assert_eq!(cdata("a]]"), "<![CDATA[a]]]]>");
        assert_eq!(cdata("a\r\nb"), "<![CDATA[a]]>&#13;<![CDATA[\nb]]>");
    }

    #[test]
    fn drops_what_xml_cannot_carry() {
        assert_eq!(
            cdata("a\u{0}b\u{1b}c\u{fffe}d\u{ffff}e\u{fffd}"),
            "<![CDATA[abcde\u{fffd}]]>"
        );
        assert_eq!(
            escaped("<a & \"b\">\t\u{7}", false),
            "&lt;a &amp; \"b\"&gt;\t"
        );
        assert_eq!(escaped("\"x\"\ty\n", true), "&quot;x&quot;&#9;y&#10;");
    }
}
