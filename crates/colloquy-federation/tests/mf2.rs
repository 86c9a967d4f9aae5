//! Reading linkback source pages: hand-written HTML, one situation per test.

use colloquy_federation::mf2::{links_to, read_mention, Mention, MentionKind};
use std::time::{Duration, Instant};
use url::Url;

const TARGET: &str = "https://colloquy.example/posts/hello-world";
const SOURCE: &str = "https://alice.example/2025/01/reply";

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn read(body: &str) -> Option<Mention> {
    read_mention(&url(SOURCE), body, &url(TARGET))
}

fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[test]
fn reply() {
    let page = r#"<!doctype html><html><head><title>Re: Hello</title></head><body>
    <article class="h-entry">
      <a class="p-author h-card" href="https://alice.example/">
        <img src="/me.jpg" alt=""> Alice Example</a>
      <p>In reply to <a class="u-in-reply-to" href="https://colloquy.example/posts/hello-world/">Hello world</a></p>
      <div class="e-content"><p>Great post,
         thanks!</p>   <p>Second  paragraph.</p></div>
      <a class="u-url" href="/2025/01/reply"><time class="dt-published" datetime="2025-01-02T03:04:05+01:00">2 Jan</time></a>
    </article></body></html>"#;
    let m = read(page).expect("links to the target");
    assert_eq!(m.kind, MentionKind::Reply);
    assert_eq!(m.author_name, some("Alice Example"));
    assert_eq!(m.author_url, some("https://alice.example/"));
    assert_eq!(m.author_photo, some("https://alice.example/me.jpg"));
    assert_eq!(
        m.content_text,
        some("Great post, thanks! Second paragraph.")
    );
    assert_eq!(
        m.content_html.as_deref().map(str::trim),
        Some("<p>Great post,\n         thanks!</p>   <p>Second  paragraph.</p>")
    );
    assert_eq!(m.published, some("2025-01-02T03:04:05+01:00"));
    assert_eq!(m.url, some("https://alice.example/2025/01/reply"));
    // No p-name: the page title.
    assert_eq!(m.name, some("Re: Hello"));
}

#[test]
fn reply_through_nested_h_cite() {
    let page = r#"<div class="h-entry">
      <div class="u-in-reply-to h-cite"><a class="p-name u-url" href="https://colloquy.example/posts/hello-world#c3">Hello</a></div>
      <p class="e-content">Indeed.</p></div>"#;
    let m = read(page).unwrap();
    assert_eq!(m.kind, MentionKind::Reply);
    assert_eq!(m.content_text, some("Indeed."));
}

#[test]
fn repost_with_comment() {
    let page = r#"<!doctype html><html><head>
      <title>Hello world | Bob's Blog</title>
      <meta property="og:site_name" content="Bob's Blog"></head><body>
      <article class="post h-entry">
        <h1 class="entry-title p-name">Hello world</h1>
        <div class="entry-content e-content">
          <p>Reblogged this on <a href="https://bob.example">Bob's Blog</a> and commented:</p>
          <p>Everyone should read this.</p>
          <div class="u-repost-of h-cite"><a class="u-url" href="https://colloquy.example/posts/hello-world">Hello world</a></div>
        </div>
        <span class="p-author h-card"><span class="p-name">Bob</span> <a class="u-url" href="/about">about</a></span>
      </article></body></html>"#;
    let m = read(page).unwrap();
    assert_eq!(m.kind, MentionKind::Repost);
    assert_eq!(m.name, some("Hello world"));
    assert_eq!(m.site_name, some("Bob's Blog"));
    assert_eq!(m.author_name, some("Bob"));
    assert_eq!(m.author_url, some("https://alice.example/about"));
    assert_eq!(m.author_photo, None);
    let text = m.content_text.unwrap();
    assert!(
        text.starts_with("Reblogged this on Bob's Blog and commented: Everyone should read this."),
        "{text}"
    );
}

#[test]
fn like() {
    let page = r#"<div class="h-entry"><span class="p-author h-card">Carol</span> liked
      <a class="u-like-of" href="https://colloquy.example/posts/hello-world">this</a></div>"#;
    let m = read(page).unwrap();
    assert_eq!(m.kind, MentionKind::Like);
    assert_eq!(m.author_name, some("Carol"));
    assert_eq!(m.content_text, None);
}

#[test]
fn in_reply_to_something_else_is_a_mention() {
    let page = r#"<div class="h-entry">
      <a class="u-in-reply-to" href="https://elsewhere.example/post">other</a>
      <div class="e-content">See also <a href="https://colloquy.example/posts/hello-world">this</a>.</div></div>"#;
    assert_eq!(read(page).unwrap().kind, MentionKind::Mention);
}

#[test]
fn plain_mention() {
    let page = r#"<html><head><title>Links</title></head><body><article class="h-entry">
      <h1 class="p-name">Weekly links</h1>
      <p class="p-summary">Things I read.</p>
      <ul><li><a href="https://colloquy.example/posts/hello-world">Hello world</a></li></ul>
    </article></body></html>"#;
    let m = read(page).unwrap();
    assert_eq!(m.kind, MentionKind::Mention);
    assert_eq!(m.name, some("Weekly links"));
    assert_eq!(m.content_text, some("Things I read."));
    assert_eq!(m.content_html, None);
}

#[test]
fn prefers_the_entry_that_links_to_the_target() {
    let page = r#"<div class="h-feed">
      <div class="h-entry"><p class="p-name">Unrelated</p></div>
      <div class="h-entry"><p class="p-name">The one</p>
        <a class="u-like-of" href="https://colloquy.example/posts/hello-world">x</a></div>
    </div>"#;
    let m = read(page).unwrap();
    assert_eq!(m.name, some("The one"));
    assert_eq!(m.kind, MentionKind::Like);
}

#[test]
fn no_link_at_all() {
    let page = r#"<div class="h-entry"><p class="e-content">Nothing about
      https://colloquy.example/posts/hello-world here, only text.</p>
      <a href="https://colloquy.example/posts/other">other</a></div>"#;
    assert_eq!(read(page), None);
    assert!(!links_to(&url(SOURCE), page, &url(TARGET)));
}

#[test]
fn link_only_in_comment_or_script_is_not_a_link() {
    let page = r#"<html><head><script>var u = '<a href="https://colloquy.example/posts/hello-world">';</script>
      <script src="https://colloquy.example/posts/hello-world"></script></head><body>
      <!-- <a href="https://colloquy.example/posts/hello-world">hidden</a> -->
      <textarea><a href="https://colloquy.example/posts/hello-world">x</a></textarea>
      </body></html>"#;
    assert!(!links_to(&url(SOURCE), page, &url(TARGET)));
    assert_eq!(read(page), None);
}

#[test]
fn links_to_ignores_fragment_and_trailing_slash() {
    let src = url(SOURCE);
    let t = url(TARGET);
    for href in [
        "https://colloquy.example/posts/hello-world",
        "https://colloquy.example/posts/hello-world/",
        "https://colloquy.example/posts/hello-world#comments",
        "HTTPS://COLLOQUY.example:443/posts/hello-world",
        "//colloquy.example/posts/hello-world",
    ] {
        let page = format!(r#"<a href="{href}">x</a>"#);
        assert!(links_to(&src, &page, &t), "{href}");
    }
    for href in [
        "http://colloquy.example/posts/hello-world",
        "https://colloquy.example/posts/hello-world?x=1",
        "https://colloquy.example/posts/hello",
    ] {
        let page = format!(r#"<a href="{href}">x</a>"#);
        assert!(!links_to(&src, &page, &t), "{href}");
    }
    assert!(links_to(
        &src,
        r#"<img src="https://colloquy.example/posts/hello-world">"#,
        &t
    ));
    assert!(links_to(
        &src,
        r#"<blockquote cite="https://colloquy.example/posts/hello-world">q</blockquote>"#,
        &t
    ));
}

#[test]
fn relative_urls_are_resolved() {
    let source = url("https://colloquy.example/posts/reply-from-same-site");
    let page = r#"<div class="h-entry">
      <a class="u-in-reply-to" href="hello-world">Hello</a>
      <a class="u-url" href="?p=12">link</a>
      <div class="p-author h-card"><img class="u-photo" src="../img/me.png" alt="Dee"><a class="p-name u-url" href="/">Dee</a></div>
    </div>"#;
    let m = read_mention(&source, page, &url(TARGET)).unwrap();
    assert_eq!(m.kind, MentionKind::Reply);
    assert_eq!(
        m.url,
        some("https://colloquy.example/posts/reply-from-same-site?p=12")
    );
    assert_eq!(m.author_photo, some("https://colloquy.example/img/me.png"));
    assert_eq!(m.author_url, some("https://colloquy.example/"));
    assert_eq!(m.author_name, some("Dee"));
}

#[test]
fn base_href_is_used() {
    let page = r#"<html><head><base href="https://colloquy.example/posts/"></head><body>
      <a href="hello-world">x</a></body></html>"#;
    assert!(links_to(&url(SOURCE), page, &url(TARGET)));
}

// ---------------------------------------------------------------------------------------
// Authors

#[test]
fn author_from_top_level_h_card() {
    let page = r#"<header class="h-card"><a class="u-url p-name" href="https://erin.example/">Erin</a>
      <img class="u-photo" src="https://erin.example/e.png" alt=""></header>
      <article class="h-entry"><p class="e-content">Re <a class="u-in-reply-to" href="https://colloquy.example/posts/hello-world">this</a></p></article>"#;
    let m = read(page).unwrap();
    assert_eq!(m.author_name, some("Erin"));
    assert_eq!(m.author_url, some("https://erin.example/"));
    assert_eq!(m.author_photo, some("https://erin.example/e.png"));
}

#[test]
fn author_from_h_card_with_implied_properties() {
    let page = r#"<article class="h-entry">
      <a class="p-author h-card" href="https://fay.example/"><img src="/fay.png" alt="Fay"></a>
      <a href="https://colloquy.example/posts/hello-world">x</a></article>"#;
    let m = read(page).unwrap();
    assert_eq!(m.author_name, some("Fay"));
    assert_eq!(m.author_url, some("https://fay.example/"));
    assert_eq!(m.author_photo, some("https://alice.example/fay.png"));
}

#[test]
fn author_from_plain_p_author() {
    let page = r#"<article class="h-entry"><span class="p-author">Gus</span>
      <a href="https://colloquy.example/posts/hello-world">x</a></article>"#;
    let m = read(page).unwrap();
    assert_eq!(m.author_name, some("Gus"));
    assert_eq!(m.author_url, None);
}

#[test]
fn author_from_rel_author() {
    let page = r#"<html><head><title>A post</title></head><body>
      <p>By <a rel="author" href="/about/hal">Hal</a></p>
      <p><a href="https://colloquy.example/posts/hello-world">this</a></p></body></html>"#;
    let m = read(page).unwrap();
    assert_eq!(m.kind, MentionKind::Mention);
    assert_eq!(m.author_name, some("Hal"));
    assert_eq!(m.author_url, some("https://alice.example/about/hal"));
}

#[test]
fn no_author() {
    let page = r#"<p><a href="https://colloquy.example/posts/hello-world">this</a></p>"#;
    let m = read(page).unwrap();
    assert_eq!(
        m,
        Mention {
            kind: MentionKind::Mention,
            author_name: None,
            author_url: None,
            author_photo: None,
            name: None,
            content_text: None,
            comment_text: None,
            content_html: None,
            published: None,
            url: None,
            site_name: None,
        }
    );
}

#[test]
fn nested_h_card_in_content_is_not_the_entry_author() {
    let page = r#"<div class="h-entry"><div class="e-content">Thanks
      <span class="h-card"><span class="p-name">Ivy</span></span> for
      <a href="https://colloquy.example/posts/hello-world">this</a></div>
      <span class="p-author h-card"><span class="p-name">Jo</span></span></div>"#;
    let m = read(page).unwrap();
    assert_eq!(m.author_name, some("Jo"));
}

// ---------------------------------------------------------------------------------------
// Pages without microformats

#[test]
fn wordpress_like_page_without_microformats() {
    let page = r#"<!DOCTYPE html><html lang="en"><head>
      <meta charset="UTF-8">
      <title>Thoughts on Colloquy &#8211; Ken&#039;s Notes</title>
      <meta property="og:site_name" content="Ken's Notes">
      <link rel="pingback" href="https://ken.example/xmlrpc.php"></head>
      <body class="post-template-default single single-post">
      <article id="post-42" class="post-42 post type-post status-publish">
        <header class="entry-header"><h1 class="entry-title">Thoughts on Colloquy</h1></header>
        <div class="entry-content"><p>I tried <a href="https://colloquy.example/posts/hello-world">Colloquy</a>.</p></div>
      </article></body></html>"#;
    let m = read(page).unwrap();
    assert_eq!(m.kind, MentionKind::Mention);
    assert_eq!(
        m.name,
        some("Thoughts on Colloquy"),
        "the site's name is not repeated"
    );
    assert_eq!(m.site_name, some("Ken's Notes"));
    assert_eq!(m.content_text, None);
}

#[test]
fn site_name_from_title_separators() {
    let link = r#"<a href="https://colloquy.example/posts/hello-world">x</a>"#;
    for (title, site, name) in [
        ("Post « Old Blog", Some("Old Blog"), "Post"),
        ("Post | Pipe Site", Some("Pipe Site"), "Post"),
        ("Post – Dash Site", Some("Dash Site"), "Post"),
        ("A | B | Last Part", Some("Last Part"), "A | B"),
        ("No separator-here", None, "No separator-here"),
    ] {
        let page = format!("<html><head><title>{title}</title></head><body>{link}</body></html>");
        let m = read(&page).unwrap();
        assert_eq!(m.site_name.as_deref(), site, "{title}");
        assert_eq!(m.name.as_deref(), Some(name), "{title}");
    }
}

// ---------------------------------------------------------------------------------------
// Hostile input

#[test]
fn script_in_content_is_kept_only_as_html() {
    let page = r#"<div class="h-entry"><div class="e-content">Hi <script>alert("pwned")</script><style>p{}</style>
      <img src="x" onerror="alert(2)" alt="a picture"> <a href="https://colloquy.example/posts/hello-world">there</a></div></div>"#;
    let m = read(page).unwrap();
    assert_eq!(m.content_text, some("Hi a picture there"));
    let html = m.content_html.unwrap();
    assert!(html.contains("<script>alert(\"pwned\")</script>"), "{html}");
    assert!(html.contains("onerror"), "{html}");
}

#[test]
fn content_text_is_capped() {
    let words = "word ".repeat(2000);
    let page = format!(
        r#"<div class="h-entry"><div class="e-content">{words}<a href="{TARGET}">x</a></div></div>"#
    );
    let m = read(&page).unwrap();
    let text = m.content_text.unwrap();
    assert!(text.chars().count() <= 2000, "{}", text.chars().count());
    assert!(text.ends_with('…'));
    assert!(m.content_html.unwrap().len() > 10_000);
}

fn nested(open: &str, close: &str, depth: usize, inner: &str) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

#[test]
fn deep_but_reasonable_nesting_is_read() {
    let link = format!(r#"<a class="u-in-reply-to" href="{TARGET}">x</a>"#);
    let page = format!(
        r#"<div class="h-entry">{}</div>"#,
        nested("<div><span>", "</span></div>", 200, &link)
    );
    let m = read(&page).unwrap();
    assert_eq!(m.kind, MentionKind::Reply);
}

#[test]
fn deeply_nested_html_finishes_fast() {
    // html5ever is quadratic in the nesting depth of <div>s; past 512 open elements the
    // page is read as if it ended there, so the link at the bottom is not seen.
    let link = format!(r#"<a href="{TARGET}">x</a>"#);
    let started = Instant::now();
    for (open, close) in [
        ("<div>", "</div>"),
        ("<div><span>", "</span></div>"),
        (
            r#"<div class="h-entry h-card p-author p-name u-in-reply-to e-content value">"#,
            "",
        ),
        ("<h1><div>", ""),
        ("<b><div></b>", ""),
    ] {
        let depth = 1024 * 1024 / open.len();
        let page = nested(open, close, depth, &link);
        let page = &page[..page.len().min(1024 * 1024)];
        assert_eq!(read(page), None);
        assert!(!links_to(&url(SOURCE), page, &url(TARGET)));
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn churning_just_below_the_nesting_limit_finishes_fast() {
    let started = Instant::now();
    for churn in [
        "<div></div>",
        "<b x=1><p></b>",
        "<a><div></a>",
        "</p>",
        "<span></x>",
    ] {
        let mut page = "<span>".repeat(500);
        while page.len() < 1024 * 1024 {
            page.push_str(churn);
        }
        page.push_str(&format!(r#"<a href="{TARGET}">x</a>"#));
        let _ = read(&page);
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn links_before_the_deep_part_are_still_read() {
    let page = format!(
        r#"<div class="h-entry"><a class="u-like-of" href="{TARGET}">x</a>{}</div>"#,
        "<div>".repeat(200_000)
    );
    let started = Instant::now();
    assert_eq!(read(&page).unwrap().kind, MentionKind::Like);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn tag_with_a_huge_number_of_attributes_finishes_fast() {
    let mut attrs = String::new();
    let mut i = 0;
    while attrs.len() < 1024 * 1024 {
        attrs.push_str(&format!(" a{i}"));
        i += 1;
    }
    let page = format!(r#"<div class="h-entry"><a href="{TARGET}">x</a><p{attrs}>"#);
    let started = Instant::now();
    assert_eq!(read(&page).unwrap().kind, MentionKind::Mention);
    let page = format!(r#"<p{attrs}><a href="{TARGET}">x</a>"#);
    assert_eq!(read(&page), None);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn one_megabyte_body_finishes_fast() {
    let mut page =
        String::from(r#"<html><head><title>Big</title></head><body><div class="h-feed">"#);
    let mut i = 0;
    while page.len() < 1024 * 1024 {
        page.push_str(&format!(
            r#"<div class="h-entry"><p class="p-name">Entry {i}</p><div class="e-content"><p>Some <b>text</b> and <a href="https://elsewhere.example/{i}">a link</a>.</p></div></div>"#
        ));
        i += 1;
    }
    page.push_str(&format!(
        r#"<div class="h-entry"><p class="p-name">Last</p><a class="u-like-of" href="{TARGET}">x</a></div></div></body></html>"#
    ));
    let started = Instant::now();
    let m = read(&page).unwrap();
    assert_eq!(m.kind, MentionKind::Like);
    assert_eq!(m.name, some("Last"));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn garbage_input_does_not_panic() {
    for page in [
        "",
        "<",
        "<<<>>>",
        "\u{0}\u{feff}<a href='\u{0}'>",
        "<a href=\"http://[::1\">x</a>",
        "<base href=\"javascript:x\"><a href=\"hello-world\">x</a>",
        "<div class=\"h-entry\"><div class=\"p-author h-card\"></div><a href=\"https://colloquy.example/posts/hello-world\"></a></div>",
    ] {
        let _ = read(page);
        let _ = links_to(&url(SOURCE), page, &url(TARGET));
    }
}

#[test]
fn a_reblogs_comment_leaves_out_the_quote() {
    let page = r#"<div class="h-entry"><div class="e-content"><p>A fair summary; read it.</p>
      <blockquote class="h-cite u-repost-of"><p><a class="u-url p-name" href="https://colloquy.example/posts/hello-world">Hello</a></p>
      <p class="p-content">The whole quoted text.</p></blockquote></div></div>"#;
    let m = read(page).unwrap();
    assert_eq!(m.kind, MentionKind::Repost);
    assert_eq!(m.comment_text, some("A fair summary; read it."));
    assert!(m.content_text.unwrap().contains("The whole quoted text."));
}
