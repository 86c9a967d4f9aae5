//! The WXR reader and writer against hand-written exports (tests/fixtures/wxr/), hostile and
//! broken files, and each other.

use std::io::BufReader;
use std::path::PathBuf;

use colloquy_wordpress::wxr::read::{Reader, MAX_DEPTH, MAX_FIELD_BYTES, MAX_ITEM_BYTES};
use colloquy_wordpress::wxr::write::Writer;
use colloquy_wordpress::wxr::{Author, Channel, Comment, Error, Item, ItemTerm, Record, Term};

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wxr")
        .join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).expect("fixture exists")
}

/// Everything read before the first error, and that error.
fn read_bytes(bytes: &[u8]) -> (Vec<Record>, Option<Error>) {
    let mut records = Vec::new();
    let mut reader = Reader::new(bytes);
    for result in reader.by_ref() {
        match result {
            Ok(record) => records.push(record),
            Err(err) => {
                assert!(reader.next().is_none(), "the reader goes on after {err}");
                return (records, Some(err));
            }
        }
    }
    (records, None)
}

fn read_ok(bytes: &[u8]) -> Vec<Record> {
    match read_bytes(bytes) {
        (records, None) => records,
        (_, Some(err)) => panic!("unexpected error: {err}"),
    }
}

fn read_err(bytes: &[u8]) -> (Vec<Record>, Error) {
    match read_bytes(bytes) {
        (records, Some(err)) => (records, err),
        (records, None) => panic!("no error; read {records:#?}"),
    }
}

fn read_fixture(name: &str) -> Vec<Record> {
    // Through a small BufReader, so that events straddle many buffer refills.
    let file = std::fs::File::open(fixture_path(name)).expect("fixture exists");
    let reader = Reader::new(BufReader::with_capacity(64, file));
    reader
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|err| panic!("{name}: {err}"))
}

fn channel(records: &[Record]) -> &Channel {
    match records.first() {
        Some(Record::Channel(c)) => c,
        other => panic!("first record is not the channel: {other:?}"),
    }
}

fn authors(records: &[Record]) -> Vec<&Author> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Author(a) => Some(a),
            _ => None,
        })
        .collect()
}

fn terms(records: &[Record]) -> Vec<&Term> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Term(t) => Some(t),
            _ => None,
        })
        .collect()
}

fn items(records: &[Record]) -> Vec<&Item> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Item(i) => Some(&**i),
            _ => None,
        })
        .collect()
}

fn write(records: &[Record]) -> Vec<u8> {
    let mut writer = Writer::new(Vec::new(), channel(records)).expect("header");
    for record in &records[1..] {
        match record {
            Record::Channel(_) => panic!("a second channel"),
            Record::Author(a) => writer.author(a),
            Record::Term(t) => writer.term(t),
            Record::Item(i) => writer.item(i),
        }
        .expect("written");
    }
    writer.finish().expect("finished")
}

/// A minimal export around `body` (the channel's content), for tests of one thing.
fn wxr(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n\
         <rss version=\"2.0\" xmlns:wp=\"http://wordpress.org/export/1.2/\" \
         xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">\n\
         <channel>\n\
         <wp:wxr_version>1.2</wp:wxr_version>\n\
         {body}\n\
         </channel>\n\
         </rss>\n"
    )
}

fn meta(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn item_term(domain: &str, slug: &str, name: &str) -> ItemTerm {
    ItemTerm {
        domain: domain.into(),
        slug: slug.into(),
        name: name.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// A realistic export

#[test]
fn reads_a_realistic_export_in_file_order() {
    let records = read_fixture("site-1.2.xml");
    let kinds: String = records
        .iter()
        .map(|r| match r {
            Record::Channel(_) => 'C',
            Record::Author(_) => 'A',
            Record::Term(_) => 'T',
            Record::Item(_) => 'I',
        })
        .collect();
    assert_eq!(kinds, "CAATTTTTTIIIIIIII");

    assert_eq!(
        *channel(&records),
        Channel {
            title: "The Riverside Reading Circle".into(),
            link: "https://circle.example.org".into(),
            description: "Books, tea & arguments".into(),
            language: "en-GB".into(),
            wxr_version: "1.2".into(),
            base_site_url: "https://circle.example.org".into(),
            base_blog_url: "https://circle.example.org".into(),
        }
    );

    let authors = authors(&records);
    assert_eq!(
        *authors[0],
        Author {
            id: Some(1),
            login: "margit".into(),
            email: "margit@circle.example.org".into(),
            display_name: "Margit Olsen".into(),
            first_name: "Margit".into(),
            last_name: "Olsen".into(),
        }
    );
    assert_eq!(authors[1].login, "tobi");
    assert_eq!(authors[1].first_name, "");

    let terms = terms(&records);
    assert_eq!(
        *terms[2],
        Term {
            id: Some(5),
            taxonomy: "category".into(),
            slug: "crime".into(),
            name: "Crime & Mystery".into(),
            parent: "fiction".into(),
            description: "Whodunits, <em>noir</em> and the odd cosy.".into(),
        }
    );
    assert_eq!(
        terms[1].description,
        "Novels and short stories we read together."
    );
    assert_eq!(terms[0].description, "");
    assert_eq!(
        *terms[4],
        Term {
            id: Some(8),
            taxonomy: "post_tag".into(),
            slug: "scandi".into(),
            name: "Scandi".into(),
            parent: "".into(),
            description: "Nordic authors.".into(),
        }
    );
    assert_eq!(
        *terms[5],
        Term {
            id: Some(9),
            taxonomy: "nav_menu".into(),
            slug: "main-menu".into(),
            name: "Main menu".into(),
            parent: "".into(),
            description: "".into(),
        }
    );

    let items = items(&records);
    let post = items[0];
    assert_eq!(post.title, "May meeting: The Snowman");
    assert_eq!(post.link, "https://circle.example.org/2024/05/may-meeting/");
    assert_eq!(post.guid, "https://circle.example.org/?p=10");
    assert_eq!(post.pub_date, "Wed, 01 May 2024 18:00:00 +0000");
    assert_eq!(post.creator, "margit");
    assert_eq!(
        post.content,
        "<!-- wp:paragraph -->\n<p>We met at the library &amp; argued about Harry Hole until \
         closing time.</p>\n<!-- /wp:paragraph -->\n\n[gallery ids=\"12\"]"
    );
    assert_eq!(post.excerpt, "Harry Hole, again.");
    assert_eq!(post.post_id, 10);
    assert_eq!(post.post_date, "2024-05-01 19:00:00");
    assert_eq!(post.post_date_gmt, "2024-05-01 18:00:00");
    assert_eq!(post.post_modified, "2024-05-02 08:30:12");
    assert_eq!(post.post_modified_gmt, "2024-05-02 07:30:12");
    assert_eq!(post.comment_status, "open");
    assert_eq!(post.ping_status, "open");
    assert_eq!(post.post_name, "may-meeting");
    assert_eq!(post.status, "publish");
    assert_eq!(post.post_type, "post");
    assert!(post.is_sticky);
    assert_eq!(
        post.terms,
        vec![
            item_term("category", "crime", "Crime & Mystery"),
            item_term("post_tag", "meeting-notes", "meeting notes"),
            item_term("post_tag", "scandi", "Scandi"),
        ]
    );
    assert_eq!(
        post.meta,
        meta(&[("_edit_last", "1"), ("_thumbnail_id", "12")])
    );

    let c = &post.comments;
    assert_eq!(c.len(), 5);
    assert_eq!(
        c[0],
        Comment {
            id: 21,
            author: "Ines".into(),
            author_email: "ines@mail.example".into(),
            author_url: "https://ines.example.net/".into(),
            author_ip: "192.0.2.17".into(),
            date: "2024-05-01 21:12:40".into(),
            date_gmt: "2024-05-01 20:12:40".into(),
            content: "The ending was obvious from chapter 3.".into(),
            approved: "1".into(),
            comment_type: "comment".into(),
            parent: 0,
            user_id: 0,
            meta: meta(&[
                ("akismet_result", "false"),
                (
                    "akismet_history",
                    "a:2:{s:4:\"time\";d:1714594360.5;s:5:\"event\";s:10:\"check-ham\";}"
                ),
            ]),
        }
    );
    // Threaded: 23 answers 22, which answers 21.
    assert_eq!((c[1].id, c[1].parent, c[1].user_id), (22, 21, 1));
    assert_eq!(c[1].author_ip, "2001:db8::5");
    assert_eq!(
        (c[2].id, c[2].parent, c[2].approved.as_str()),
        (23, 22, "0")
    );
    assert_eq!(c[3].comment_type, "pingback");
    assert_eq!(
        c[3].content,
        "[&#8230;] the Riverside circle read it too [&#8230;]"
    );
    assert_eq!(c[4].comment_type, "trackback");
    assert!(c[4].content.contains("\n\nWe link"));

    let attachment = items[1];
    assert_eq!(attachment.post_type, "attachment");
    assert_eq!(attachment.status, "inherit");
    assert_eq!(attachment.post_parent, 10);
    assert_eq!(
        attachment.attachment_url,
        "https://circle.example.org/wp-content/uploads/2024/05/snowman-cover.jpg"
    );
    assert_eq!(attachment.meta[1].1, "A snowman in a dark garden");

    let page = items[2];
    assert_eq!((page.post_type.as_str(), page.menu_order), ("page", 3));
    assert_eq!(page.comment_status, "closed");

    let draft = items[3];
    assert_eq!(draft.status, "draft");
    assert_eq!(draft.post_name, "");
    assert_eq!(draft.post_date_gmt, "0000-00-00 00:00:00");
    assert_eq!(draft.creator, "tobi");

    assert_eq!(items[4].status, "future");
    assert_eq!(items[5].status, "private");
    assert_eq!(items[6].post_password, "hygge&tea");
    assert!(!items[6].is_sticky);
    let menu_item = items[7];
    assert_eq!(menu_item.post_type, "nav_menu_item");
    assert_eq!(menu_item.content, " ");
    assert_eq!(
        menu_item.terms,
        vec![item_term("nav_menu", "main-menu", "Main menu")]
    );
}

#[test]
fn reads_wxr_1_0_and_1_1() {
    let old = read_fixture("wxr-1.0.xml");
    assert_eq!(channel(&old).wxr_version, "1.0");
    assert_eq!(channel(&old).title, "An Old Blog");
    assert!(authors(&old).is_empty());
    let terms_1_0 = terms(&old);
    assert_eq!(terms_1_0[0].id, None);
    assert_eq!(terms_1_0[0].slug, "uncategorized");
    assert_eq!(terms_1_0[1].taxonomy, "post_tag");
    let post = items(&old)[0];
    assert_eq!(post.title, "Hello world!");
    assert_eq!(post.excerpt, "");
    assert_eq!(post.post_date, "2005-01-01 00:00:00");
    // WXR 1.0 also lists each category without its domain, as WordPress 2.x did.
    assert_eq!(
        post.terms,
        vec![
            item_term("", "", "Uncategorized"),
            item_term("category", "uncategorized", "Uncategorized")
        ]
    );
    assert_eq!(post.comments[0].author, "Mr WordPress");
    assert_eq!(post.comments[0].comment_type, "");

    let middle = read_fixture("wxr-1.1.xml");
    assert_eq!(channel(&middle).wxr_version, "1.1");
    assert_eq!(channel(&middle).language, "de-DE");
    let jo = authors(&middle)[0];
    assert_eq!((jo.id, jo.login.as_str()), (None, "jo"));
    let post = items(&middle)[0];
    assert_eq!(
        (post.title.as_str(), post.post_name.as_str()),
        ("Grüße", "gruse")
    );
    assert_eq!(post.terms[0].slug, "allgemein");
}

#[test]
fn resolves_namespaces_by_uri_not_by_prefix() {
    let records = read_fixture("other-prefixes.xml");
    assert_eq!(channel(&records).wxr_version, "1.2");
    assert_eq!(channel(&records).base_site_url, "https://p.example");
    let post = items(&records)[0];
    assert_eq!(post.creator, "ann");
    assert_eq!(post.content, "<p>Body</p>");
    assert_eq!(post.excerpt, "Short");
    // The plugin's own `wp:post_id` is skipped, not taken for WordPress's.
    assert_eq!(post.post_id, 3);
    assert_eq!(post.meta, meta(&[("k", "v")]));
    assert_eq!(post.post_type, "post");
}

// ---------------------------------------------------------------------------------------------
// Text

#[test]
fn joins_cdata_and_resolves_references_only_outside_it() {
    let records = read_fixture("cdata-and-entities.xml");
    assert_eq!(
        channel(&records).title,
        "Fish & Chips <> \"Q\" 'A' \u{a9} \u{263a} \u{1f600}"
    );
    let post = items(&records)[0];
    assert_eq!(post.title, "Half and half: &amp; stays & goes");
    // `]]>` split the way WordPress splits it comes back whole.
    assert_eq!(post.content, "<pre>if (a[b[0]]> 1) { x = \"]]>\"; }</pre>");
    // Inside CDATA everything is literal, unknown entities included: it is HTML.
    assert_eq!(post.excerpt, "&amp; &lt;b&gt; &#8217; &nbsp; &unknown;");
    assert_eq!(
        post.description,
        "<p>escaped HTML</p> and a CDATA end outside CDATA: ]]>"
    );
    assert_eq!(post.post_id, 7);
    // A comment between two CDATA sections is not part of the value.
    assert_eq!(post.post_name, "split-slug");
    assert_eq!((post.post_parent, post.menu_order), (0, 0));
    assert_eq!(post.terms, vec![item_term("post_tag", "a&b", "A & B")]);
    assert_eq!(post.meta, meta(&[("_multi", "line one\nline two")]));
}

#[test]
fn keeps_rtl_zero_width_and_emoji_text_and_percent_encoded_slugs() {
    let records = read_fixture("unicode.xml");
    assert_eq!(
        channel(&records).title,
        "\u{5de}\u{5e2}\u{5d2}\u{5dc} \u{5e7}\u{5e8}\u{5d9}\u{5d0}\u{5d4} \u{2014} \
         \u{62d}\u{644}\u{642}\u{629} \u{627}\u{644}\u{642}\u{631}\u{627}\u{621}\u{629}"
    );
    let category = terms(&records)[0];
    assert_eq!(category.slug, "%d8%b3%d9%84%d8%a7%d9%85");
    assert_eq!(category.name, "\u{633}\u{644}\u{627}\u{645}");
    let items = items(&records);
    assert_eq!(
        items[0].title,
        "\u{633}\u{644}\u{627}\u{645} \u{639}\u{644}\u{64a}\u{643}\u{645} \u{200f}(\u{634}\u{639}\
         \u{631})\u{200f} \u{2014} \u{5e9}\u{5dc}\u{5d5}\u{5dd}"
    );
    assert_eq!(
        items[0].post_name,
        "%d8%b3%d9%84%d8%a7%d9%85-%d8%b9%d9%84%d9%8a%d9%83%d9%85"
    );
    assert_eq!(items[0].terms[0].slug, "%d8%b3%d9%84%d8%a7%d9%85");
    assert_eq!(
        items[1].title,
        "zero\u{200b}width space, joiner: \u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467} and \
         \u{1f3f3}\u{fe0f}\u{200d}\u{1f308}"
    );
    assert_eq!(items[1].post_name, "%f0%9f%98%80-%d7%a9%d7%9c%d7%95%d7%9d");
    assert_eq!(
        items[2].title,
        "\u{1f600}\u{1f389} emoji \u{2764}\u{fe0f} & \u{1f1f3}\u{1f1f4}"
    );
}

#[test]
fn reads_a_very_long_title() {
    let long: String = "Ab\u{e9}\u{1f600} ".repeat(2_000); // 10,000 characters
    assert_eq!(long.chars().count(), 10_000);
    let escaped = long.replace('\u{e9}', "&#233;");
    let body = format!(
        "<item><title><![CDATA[{long}]]></title><description>{escaped}</description>\
         </item>"
    );
    let records = read_ok(wxr(&body).as_bytes());
    let item = items(&records)[0];
    assert_eq!(item.title, long);
    assert_eq!(item.description, long);
}

#[test]
fn normalises_line_ends_and_counts_crlf_lines_once() {
    let body = "<item><title>a\r\nb\rc</title><content:encoded><![CDATA[x\r\ny]]>\
                </content:encoded><description>&#13;</description></item>";
    let text = wxr("BODY").replace('\n', "\r\n").replace("BODY", body);
    let records = read_ok(text.as_bytes());
    let item = items(&records)[0];
    assert_eq!(item.title, "a\nb\nc");
    assert_eq!(item.content, "x\ny");
    // A character reference is not a line end: it survives.
    assert_eq!(item.description, "\r");

    let broken = "<?xml version=\"1.0\"?>\r\n<rss>\r\n<x></y>";
    let (_, err) = read_err(broken.as_bytes());
    assert_eq!((err.line, err.column), (3, 4), "{err}");
}

#[test]
fn accepts_a_bom_and_blank_lines_before_the_declaration() {
    let mut bytes = b"\xEF\xBB\xBF\n\n".to_vec();
    bytes.extend_from_slice(wxr("<item><title>t</title></item>").as_bytes());
    let records = read_ok(&bytes);
    assert_eq!(items(&records)[0].title, "t");
}

#[test]
fn skips_unknown_elements_without_losing_the_item() {
    let body = "<?my-plugin do=\"something\"?>\
        <wp:unknown><item><title>not an item</title></item></wp:unknown>\
        <item>\
          <title>kept</title>\
          <plugin:data xmlns:plugin=\"urn:x-plugin\"><wp:post_id>99</wp:post_id><deep><deeper/></deep></plugin:data>\
          <undeclared:thing>x</undeclared:thing>\
          <wp:post_id>5</wp:post_id>\
          <wp:comment><wp:comment_id>1</wp:comment_id><wp:rating>5</wp:rating></wp:comment>\
          <wp:postmeta><wp:meta_key>k</wp:meta_key><extra>ignored</extra><wp:meta_value>v</wp:meta_value></wp:postmeta>\
        </item>\
        <generator>https://wordpress.org/?v=6.5</generator>";
    let records = read_ok(wxr(body).as_bytes());
    assert_eq!(records.len(), 2);
    let item = items(&records)[0];
    assert_eq!((item.title.as_str(), item.post_id), ("kept", 5));
    assert_eq!(item.comments.len(), 1);
    assert_eq!(item.meta, meta(&[("k", "v")]));
}

#[test]
fn sends_the_channel_at_its_end_when_it_holds_nothing_else() {
    let records = read_ok(wxr("<title>Empty site</title>").as_bytes());
    assert_eq!(records.len(), 1);
    assert_eq!(channel(&records).title, "Empty site");
    assert_eq!(channel(&records).wxr_version, "1.2");
}

#[test]
fn counts_bytes_read_for_a_progress_bar() {
    let bytes = fixture("site-1.2.xml");
    let mut reader = Reader::new(bytes.as_slice());
    assert_eq!(reader.bytes_read(), 0);
    let mut last = 0;
    while let Some(record) = reader.next() {
        record.expect("fixture reads");
        assert!(reader.bytes_read() >= last);
        last = reader.bytes_read();
    }
    last = reader.bytes_read();
    // Everything up to `</rss>`; only the final newline is never needed.
    assert!(last + 1 >= bytes.len() as u64, "{last} of {}", bytes.len());
}

// ---------------------------------------------------------------------------------------------
// Not WXR, broken, hostile

#[test]
fn refuses_a_doctype_before_reading_anything() {
    for name in ["doctype-external-entity.xml", "entity-bomb.xml"] {
        let (records, err) = read_err(&fixture(name));
        assert!(records.is_empty(), "{name}: {records:?}");
        assert!(err.message.contains("DOCTYPE"), "{name}: {err}");
        assert_eq!((err.line, err.column), (2, 1), "{name}: {err}");
    }
    let err = "<!doctype rss><rss/>";
    let (records, err) = read_err(err.as_bytes());
    assert!(records.is_empty());
    assert!(err.message.contains("DOCTYPE"), "{err}");
}

#[test]
fn refuses_an_unknown_wxr_namespace() {
    let (records, err) = read_err(&fixture("wrong-namespace.xml"));
    assert!(records.is_empty());
    assert!(
        err.message
            .starts_with("this is not a WordPress export (WXR) file"),
        "{err}"
    );
    assert!(
        err.message.contains("http://wordpress.org/export/9.9/"),
        "{err}"
    );
    assert_eq!((err.line, err.column), (2, 1));
}

#[test]
fn refuses_an_ordinary_rss_feed() {
    let (records, err) = read_err(&fixture("plain-rss.xml"));
    assert!(records.is_empty());
    assert!(
        err.message
            .starts_with("this is not a WordPress export (WXR) file"),
        "{err}"
    );
    assert!(err.message.contains("namespace"), "{err}");
    assert_eq!((err.line, err.column), (3, 1));
}

#[test]
fn refuses_other_roots_and_an_rss_without_channel() {
    let atom = "<?xml version=\"1.0\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"></feed>";
    let (_, err) = read_err(atom.as_bytes());
    assert!(err.message.contains("root element is <feed>"), "{err}");
    assert_eq!((err.line, err.column), (2, 1));

    let (_, err) = read_err(b"<rss xmlns:wp=\"http://wordpress.org/export/1.2/\"></rss>");
    assert!(err.message.contains("no <channel>"), "{err}");

    let (_, err) = read_err(b"");
    assert!(err.message.contains("not a WordPress export"), "{err}");

    let (_, err) = read_err(b"Warning: Cannot modify header information\n<?xml version=\"1.0\"?>");
    assert!(err.message.contains("text before its first tag"), "{err}");
    assert_eq!((err.line, err.column), (1, 1));

    let (_, err) = read_err(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<rss/>");
    assert!(err.message.contains("ISO-8859-1"), "{err}");
}

#[test]
fn refuses_a_wxr_version_that_disagrees_with_the_namespace() {
    let text = wxr("").replace(
        "<wp:wxr_version>1.2</wp:wxr_version>",
        "<title>t</title>\n<wp:wxr_version>1.1</wp:wxr_version>",
    );
    let (records, err) = read_err(text.as_bytes());
    assert!(records.is_empty());
    assert!(err.message.contains("1.1"), "{err}");
    assert!(err.message.contains("namespace is WXR 1.2"), "{err}");
    assert_eq!((err.line, err.column), (5, 1));

    let text = wxr("").replace(">1.2</wp:wxr_version>", ">1.3</wp:wxr_version>");
    let (_, err) = read_err(text.as_bytes());
    assert!(err.message.contains("does not know"), "{err}");
}

#[test]
fn reports_a_mismatched_tag_with_its_line_and_column() {
    let (records, err) = read_err(&fixture("mismatched-tag.xml"));
    assert_eq!(records.len(), 1, "the channel comes before the broken item");
    // `\t\t<title>Café ☕</titel>`: the column counts characters, not bytes.
    assert_eq!((err.line, err.column), (7, 16), "{err}");
    assert!(err.message.contains("</titel>"), "{err}");
    assert!(err.message.contains("opened at line 7, column 3"), "{err}");
    assert_eq!(
        err.to_string(),
        format!("line 7, column 16: {}", err.message)
    );
}

#[test]
fn reports_where_a_truncated_file_ends() {
    let (records, err) = read_err(&fixture("truncated.xml"));
    assert_eq!(records.len(), 2, "the channel and the first item");
    assert_eq!((err.line, err.column), (14, 17), "{err}");
    assert!(
        err.message
            .contains("CDATA section (which starts at line 13, column 20)"),
        "{err}"
    );
    assert!(
        err.message
            .contains("inside <content:encoded> (opened at line 13)"),
        "{err}"
    );
    assert!(
        err.message.contains("in <item> (opened at line 10)"),
        "{err}"
    );
    assert!(err.message.contains("truncated"), "{err}");

    // Cut at a line end, inside a comment of the first post.
    let whole = String::from_utf8(fixture("site-1.2.xml")).expect("UTF-8");
    let cut: String = whole.lines().take(110).map(|l| format!("{l}\n")).collect();
    let (records, err) = read_err(cut.as_bytes());
    assert_eq!(records.len(), 9, "channel, authors and terms: {records:?}");
    assert_eq!((err.line, err.column), (111, 1), "{err}");
    assert!(
        err.message.starts_with(
            "the file ends inside <wp:comment> (opened at line 104) in <item> (opened at line 66)"
        ),
        "{err}"
    );
}

#[test]
fn reports_bad_numbers_and_entities_where_they_are() {
    let text = wxr("<item>\n  <wp:post_id>12a</wp:post_id></item>");
    let (records, err) = read_err(text.as_bytes());
    assert_eq!(records.len(), 1);
    assert_eq!((err.line, err.column), (6, 3), "{err}");
    assert!(
        err.message
            .contains("<wp:post_id> should hold a whole number"),
        "{err}"
    );
    assert!(err.message.contains("\"12a\""), "{err}");

    let text = wxr("<item><title>caf\u{e9} &nbsp; x</title></item>");
    let (_, err) = read_err(text.as_bytes());
    assert_eq!((err.line, err.column), (5, 19), "{err}");
    assert!(err.message.contains("unknown entity &nbsp;"), "{err}");

    let text = wxr("<item><title>a & b</title></item>");
    let (_, err) = read_err(text.as_bytes());
    assert_eq!((err.line, err.column), (5, 16), "{err}");

    let text = wxr("<item><category domain=\"a&bogus;\">x</category></item>");
    let (_, err) = read_err(text.as_bytes());
    assert!(err.message.contains("domain attribute"), "{err}");

    let mut bytes = wxr("<item><title>ab\u{0}</title></item>").into_bytes();
    let at = bytes.iter().position(|&b| b == 0).expect("marker");
    bytes[at] = 0xFF;
    let (_, err) = read_err(&bytes);
    assert!(err.message.contains("UTF-8"), "{err}");
    assert_eq!((err.line, err.column), (5, 16), "{err}");
}

#[test]
fn bounds_depth_field_and_item_size() {
    let deep = format!("{}{}", "<x>".repeat(MAX_DEPTH), "</x>".repeat(MAX_DEPTH));
    let (_, err) = read_err(wxr(&format!("<item>{deep}</item>")).as_bytes());
    assert!(err.message.contains("nested more than 64 deep"), "{err}");
    // Depth counts inside skipped elements too, and the limit is not hit before it is reached.
    let fits = format!(
        "{}{}",
        "<x>".repeat(MAX_DEPTH - 4),
        "</x>".repeat(MAX_DEPTH - 4)
    );
    read_ok(wxr(&format!("<item>{fits}</item>")).as_bytes());

    let big = "a".repeat(MAX_FIELD_BYTES / 2);
    let body = format!(
        "<item><title>t</title><content:encoded><![CDATA[{big}]]><![CDATA[{big}]]>b\
         </content:encoded></item>"
    );
    let (records, err) = read_err(wxr(&body).as_bytes());
    assert_eq!(records.len(), 1);
    assert!(
        err.message
            .contains("<content:encoded> holds more than 16 MiB"),
        "{err}"
    );
    assert_eq!((err.line, err.column), (5, 23), "{err}");

    // Text nobody keeps is bounded too, since the parser buffers it whole.
    let huge = "a".repeat(MAX_FIELD_BYTES + (1 << 20));
    let one_event = format!("<item><wp:unknown>{huge}</wp:unknown></item>");
    let (_, err) = read_err(wxr(&one_event).as_bytes());
    assert!(err.message.contains("larger than 16 MiB"), "{err}");
    assert_eq!((err.line, err.column), (5, 19), "{err}");
    let doctype = format!("<!DOCTYPE rss [<!-- {huge} -->]>\n<rss/>");
    let (records, err) = read_err(doctype.as_bytes());
    assert!(records.is_empty());
    assert!(err.message.contains("DOCTYPE"), "{err}");
    assert_eq!((err.line, err.column), (1, 1), "{err}");

    let chunk = "c".repeat(MAX_FIELD_BYTES - 1024);
    let comments = format!(
        "<wp:comment><wp:comment_content><![CDATA[{chunk}]]></wp:comment_content></wp:comment>"
    )
    .repeat(MAX_ITEM_BYTES / MAX_FIELD_BYTES + 1);
    let (_, err) = read_err(wxr(&format!("<item>{comments}</item>")).as_bytes());
    assert!(
        err.message.contains("this <item> holds more than 64 MiB"),
        "{err}"
    );
    assert_eq!((err.line, err.column), (5, 1), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Writing

#[test]
fn round_trips_the_fixtures() {
    for name in [
        "site-1.2.xml",
        "cdata-and-entities.xml",
        "unicode.xml",
        "other-prefixes.xml",
        "wxr-1.0.xml",
        "wxr-1.1.xml",
    ] {
        let mut records = read_fixture(name);
        let written = write(&records);
        let again = read_ok(&written);
        // The writer writes WXR 1.2, whatever it read.
        if let Some(Record::Channel(c)) = records.first_mut() {
            c.wxr_version = "1.2".into();
        }
        assert_eq!(records, again, "{name}");
    }
}

/// Strings that need every kind of care, and what they read back as.
fn tricky() -> Vec<(&'static str, &'static str)> {
    vec![
        ("]]>", "]]>"),
        ("a]]]]>b]]", "a]]]]>b]]"),
        (
            "<script>alert('&amp;')</script> & < > \" '",
            "<script>alert('&amp;')</script> & < > \" '",
        ),
        ("tab\tnewline\ncr\rcrlf\r\n", "tab\tnewline\ncr\rcrlf\r\n"),
        ("nul\u{0}bell\u{7}esc\u{1b}vt\u{b}ff\u{c}", "nulbellescvtff"),
        (
            "nonchars\u{fffe}\u{ffff}kept\u{fffd}\u{80}\u{9f}",
            "noncharskept\u{fffd}\u{80}\u{9f}",
        ),
        (
            "\u{1f600} \u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467} \u{200b}",
            "\u{1f600} \u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467} \u{200b}",
        ),
        (
            "\u{5e9}\u{5dc}\u{5d5}\u{5dd} \u{633}\u{644}\u{627}\u{645} \u{202e}rtl override",
            "\u{5e9}\u{5dc}\u{5d5}\u{5dd} \u{633}\u{644}\u{627}\u{645} \u{202e}rtl override",
        ),
        ("&#8217; &nbsp; &bogus;", "&#8217; &nbsp; &bogus;"),
        ("", ""),
    ]
}

fn tricky_records(value: &str) -> Vec<Record> {
    let channel = Channel {
        title: value.into(),
        link: value.into(),
        description: value.into(),
        language: value.into(),
        wxr_version: "1.2".into(),
        base_site_url: value.into(),
        base_blog_url: value.into(),
    };
    let author = Author {
        id: None,
        login: value.into(),
        email: value.into(),
        display_name: value.into(),
        first_name: value.into(),
        last_name: value.into(),
    };
    let term = |taxonomy: &str| Term {
        id: Some(-3),
        taxonomy: taxonomy.into(),
        slug: value.into(),
        name: value.into(),
        // WordPress's tags are flat: WXR has no element for a tag's parent.
        parent: if taxonomy == "post_tag" { "" } else { value }.into(),
        description: value.into(),
    };
    let comment = Comment {
        id: i64::MAX,
        author: value.into(),
        author_email: value.into(),
        author_url: value.into(),
        author_ip: value.into(),
        date: value.into(),
        date_gmt: value.into(),
        content: value.into(),
        approved: value.into(),
        comment_type: value.into(),
        parent: 1,
        user_id: i64::MIN,
        meta: vec![(value.into(), value.into())],
    };
    let item = Item {
        title: value.into(),
        link: value.into(),
        guid: value.into(),
        pub_date: value.into(),
        creator: value.into(),
        description: value.into(),
        content: value.into(),
        excerpt: value.into(),
        post_id: 1,
        post_date: value.into(),
        post_date_gmt: value.into(),
        post_modified: value.into(),
        post_modified_gmt: value.into(),
        comment_status: value.into(),
        ping_status: value.into(),
        post_name: value.into(),
        status: value.into(),
        post_parent: 2,
        menu_order: -1,
        post_type: value.into(),
        post_password: value.into(),
        is_sticky: true,
        attachment_url: value.into(),
        terms: vec![ItemTerm {
            domain: value.into(),
            slug: value.into(),
            name: value.into(),
        }],
        meta: vec![(value.into(), value.into())],
        comments: vec![comment.clone(), comment],
    };
    vec![
        Record::Channel(channel),
        Record::Author(author),
        Record::Term(term("category")),
        Record::Term(term("post_tag")),
        Record::Term(term("post_format")),
        Record::Item(Box::new(item)),
    ]
}

#[test]
fn writes_tricky_strings_that_read_back_identically() {
    for (value, expected) in tricky() {
        let written = write(&tricky_records(value));
        let again = read_ok(&written);
        assert_eq!(again, tricky_records(expected), "{value:?}");
    }
}

#[test]
fn writes_what_wordpress_writes() {
    let records = read_fixture("site-1.2.xml");
    let text = String::from_utf8(write(&records)).expect("UTF-8");
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n"));
    for expected in [
        "<rss version=\"2.0\"",
        "xmlns:excerpt=\"http://wordpress.org/export/1.2/excerpt/\"",
        "xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"",
        "xmlns:wfw=\"http://wellformedweb.org/CommentAPI/\"",
        "xmlns:dc=\"http://purl.org/dc/elements/1.1/\"",
        "xmlns:wp=\"http://wordpress.org/export/1.2/\"",
        "\t<description>Books, tea &amp; arguments</description>\n",
        "\t<wp:wxr_version>1.2</wp:wxr_version>\n",
        "\t<wp:base_site_url>https://circle.example.org</wp:base_site_url>\n",
        "\t<wp:author><wp:author_id>1</wp:author_id><wp:author_login><![CDATA[margit]]></wp:author_login>",
        "\t\t<wp:category_parent><![CDATA[fiction]]></wp:category_parent>\n",
        "\t\t<wp:cat_name><![CDATA[Crime & Mystery]]></wp:cat_name>\n",
        "\t\t<wp:tag_slug><![CDATA[scandi]]></wp:tag_slug>\n",
        "\t\t<wp:term_taxonomy><![CDATA[nav_menu]]></wp:term_taxonomy>\n",
        "\t\t<title><![CDATA[May meeting: The Snowman]]></title>\n",
        "\t\t<guid isPermaLink=\"false\">https://circle.example.org/?p=10</guid>\n",
        "\t\t<wp:post_id>10</wp:post_id>\n",
        "\t\t<wp:is_sticky>1</wp:is_sticky>\n",
        "\t\t<category domain=\"post_tag\" nicename=\"scandi\"><![CDATA[Scandi]]></category>\n",
        "\t\t\t<wp:meta_key><![CDATA[_thumbnail_id]]></wp:meta_key>\n",
        "\t\t\t<wp:comment_author_url>https://ines.example.net/</wp:comment_author_url>\n",
        "\t\t\t<wp:comment_author_IP><![CDATA[192.0.2.17]]></wp:comment_author_IP>\n",
        "\t\t\t<wp:comment_parent>21</wp:comment_parent>\n",
        "\t\t\t\t<wp:meta_key><![CDATA[akismet_result]]></wp:meta_key>\n",
        "\t\t<wp:attachment_url><![CDATA[https://circle.example.org/wp-content/uploads/2024/05/snowman-cover.jpg]]></wp:attachment_url>\n",
        "</channel>\n</rss>\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    // Only attachments carry an attachment URL; empty descriptions are left out.
    assert_eq!(text.matches("<wp:attachment_url>").count(), 1);
    assert_eq!(text.matches("<wp:category_description>").count(), 2);
}

/// A conforming XML parser (Python's) reads the writer's output, tricky strings included, and
/// gets the same strings back.
#[test]
fn python_minidom_reads_what_the_writer_writes() {
    let python = std::process::Command::new("python3")
        .args(["-c", "import xml.dom.minidom"])
        .output();
    if !python.is_ok_and(|out| out.status.success()) {
        eprintln!("\n*** SKIPPED: python3 with xml.dom.minidom is not available ***\n");
        return;
    }
    let script = r#"
import json, sys, xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])
def text(node):
    return "".join(c.data for c in node.childNodes if c.nodeType in (c.TEXT_NODE, c.CDATA_SECTION_NODE))
items = doc.getElementsByTagName("item")
out = [text(i.getElementsByTagName("title")[0]) for i in items]
out += [text(i.getElementsByTagName("wp:comment_author_url")[0]) for i in items]
out += [i.getElementsByTagName("category")[0].getAttribute("nicename") for i in items]
json.dump(out, sys.stdout)
"#;
    let mut records = read_fixture("site-1.2.xml");
    records.truncate(1);
    let mut expected = Vec::new();
    for (value, read_back) in tricky() {
        let Record::Item(item) = tricky_records(value).remove(5) else {
            unreachable!("the sixth record is the item");
        };
        records.push(Record::Item(item));
        expected.push(read_back);
    }
    let written = write(&records);
    let path =
        std::env::temp_dir().join(format!("colloquy-wxr-minidom-{}.xml", std::process::id()));
    std::fs::write(&path, &written).expect("temp file");
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .output()
        .expect("python3 runs");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "minidom refused the file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<String> = serde_json::from_slice(&out.stdout).expect("JSON from python");
    let want: Vec<String> = [expected.clone(), expected.clone(), expected]
        .concat()
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(got, want);
}
