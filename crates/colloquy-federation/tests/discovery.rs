//! Webmention and Pingback endpoint discovery, one test per rule (after the kinds of cases
//! webmention.rocks checks, written here from the W3C Webmention spec §3.1.2).

use colloquy_federation::discovery::{pingback_endpoint, webmention_endpoint};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

const PAGE: &str = "https://target.example/posts/7/hello";

fn page() -> Url {
    Url::parse(PAGE).unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn html(head: &str, body: &str) -> String {
    format!("<!doctype html><html><head><title>t</title>{head}</head><body>{body}</body></html>")
}

fn wm(hdrs: &[(&str, &str)], body: &str) -> Option<String> {
    webmention_endpoint(&page(), &headers(hdrs), body).map(String::from)
}

fn wm_body(body: &str) -> Option<String> {
    wm(&[("content-type", "text/html; charset=utf-8")], body)
}

fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

// ---------------------------------------------------------------------------------------
// HTTP Link header

#[test]
fn relative_link_header() {
    assert_eq!(
        wm(
            &[("link", "</webmention/endpoint>; rel=\"webmention\"")],
            ""
        ),
        some("https://target.example/webmention/endpoint")
    );
    assert_eq!(
        wm(&[("link", "<../wm>; rel=\"webmention\"")], ""),
        some("https://target.example/posts/wm")
    );
}

#[test]
fn absolute_link_header() {
    assert_eq!(
        wm(
            &[("link", "<https://hooks.example/wm>; rel=\"webmention\"")],
            ""
        ),
        some("https://hooks.example/wm")
    );
}

#[test]
fn link_header_rel_with_multiple_values() {
    assert_eq!(
        wm(&[("link", "</wm>; rel=\"somethingelse webmention\"")], ""),
        some("https://target.example/wm")
    );
    assert_eq!(
        wm(&[("link", "</wm>; rel=\"webmention somethingelse\"")], ""),
        some("https://target.example/wm")
    );
}

#[test]
fn link_header_rel_is_case_insensitive() {
    assert_eq!(
        wm(&[("link", "</wm>; REL=\"WebMention\"")], ""),
        some("https://target.example/wm")
    );
}

#[test]
fn link_header_unquoted_rel() {
    assert_eq!(
        wm(&[("link", "</wm>; rel=webmention")], ""),
        some("https://target.example/wm")
    );
}

#[test]
fn link_header_params_in_any_order() {
    assert_eq!(
        wm(
            &[(
                "link",
                "</wm>; title=\"rel=webmention, yes; really\"; rel=webmention; type=x"
            )],
            ""
        ),
        some("https://target.example/wm")
    );
}

#[test]
fn multiple_link_headers() {
    assert_eq!(
        wm(
            &[
                ("link", "</style.css>; rel=\"stylesheet\""),
                ("link", "</wm-second>; rel=\"webmention\""),
                ("link", "</wm-third>; rel=\"webmention\""),
            ],
            ""
        ),
        some("https://target.example/wm-second")
    );
}

#[test]
fn link_header_with_several_links() {
    assert_eq!(
        wm(
            &[(
                "link",
                "<https://a.example/>; rel=\"other\", </wm?x=1>; rel=\"webmention\", </no>; rel=webmention"
            )],
            ""
        ),
        some("https://target.example/wm?x=1")
    );
}

#[test]
fn link_header_url_with_commas_and_semicolons() {
    assert_eq!(
        wm(
            &[(
                "link",
                "</wm;a=1,b=2?c=3,4>; rel=\"webmention\", </other>; rel=\"x\""
            )],
            ""
        ),
        some("https://target.example/wm;a=1,b=2?c=3,4")
    );
}

#[test]
fn link_header_not_webmention_rel_is_ignored() {
    assert_eq!(wm(&[("link", "</nope>; rel=\"not-webmention\"")], ""), None);
}

#[test]
fn link_header_beats_the_body() {
    let body = html(r#"<link rel="webmention" href="/from-body">"#, "");
    assert_eq!(
        wm(
            &[
                ("content-type", "text/html"),
                ("link", "</from-header>; rel=webmention")
            ],
            &body
        ),
        some("https://target.example/from-header")
    );
}

#[test]
fn legacy_rel() {
    assert_eq!(
        wm(&[("link", "</legacy>; rel=\"http://webmention.org/\"")], ""),
        some("https://target.example/legacy")
    );
    let body = html(
        r#"<link rel="http://webmention.org/" href="/legacy-body">"#,
        "",
    );
    assert_eq!(wm_body(&body), some("https://target.example/legacy-body"));
}

// ---------------------------------------------------------------------------------------
// HTML <link> and <a>

#[test]
fn relative_link_element() {
    let body = html(r#"<link rel="webmention" href="/wm/endpoint">"#, "");
    assert_eq!(wm_body(&body), some("https://target.example/wm/endpoint"));
    let body = html(r#"<link rel="webmention" href="endpoint">"#, "");
    assert_eq!(
        wm_body(&body),
        some("https://target.example/posts/7/endpoint")
    );
}

#[test]
fn absolute_link_element() {
    let body = html(
        r#"<link rel="webmention" href="https://hooks.example/x">"#,
        "",
    );
    assert_eq!(wm_body(&body), some("https://hooks.example/x"));
}

#[test]
fn relative_a_element() {
    let body = html(
        "",
        r#"<p>Send <a rel="webmention" href="/wm-a">webmentions</a></p>"#,
    );
    assert_eq!(wm_body(&body), some("https://target.example/wm-a"));
}

#[test]
fn absolute_a_element() {
    let body = html(
        "",
        r#"<a href="https://hooks.example/a" rel="webmention">x</a>"#,
    );
    assert_eq!(wm_body(&body), some("https://hooks.example/a"));
}

#[test]
fn a_before_link_wins_in_document_order() {
    // The <link> is moved into <body> by its position; the <a> comes first.
    let body = r#"<!doctype html><html><head><title>t</title></head><body>
        <a rel="webmention" href="/first-a">a</a>
        <link rel="webmention" href="/second-link">
        </body></html>"#;
    assert_eq!(wm_body(body), some("https://target.example/first-a"));
}

#[test]
fn link_in_head_before_a_in_body() {
    let body = html(
        r#"<link rel="webmention" href="/head-link">"#,
        r#"<a rel="webmention" href="/body-a">a</a>"#,
    );
    assert_eq!(wm_body(&body), some("https://target.example/head-link"));
}

#[test]
fn element_rel_with_multiple_values() {
    let body = html(r#"<link rel="  me WEBMENTION  other" href="/multi">"#, "");
    assert_eq!(wm_body(&body), some("https://target.example/multi"));
}

#[test]
fn link_in_html_comment_is_ignored() {
    let body = html(
        r#"<!-- <link rel="webmention" href="/commented"> -->"#,
        r#"<!-- <a rel="webmention" href="/commented-a">x</a> --><a rel="webmention" href="/real">x</a>"#,
    );
    assert_eq!(wm_body(&body), some("https://target.example/real"));
}

#[test]
fn element_without_href_is_skipped() {
    let body = html(
        r#"<link rel="webmention"><link rel="webmention" href="/with-href">"#,
        "",
    );
    assert_eq!(wm_body(&body), some("https://target.example/with-href"));
}

#[test]
fn empty_href_means_the_page_itself() {
    let body = html(r#"<link rel="webmention" href="">"#, "");
    assert_eq!(wm_body(&body), some(PAGE));
    assert_eq!(wm(&[("link", "<>; rel=webmention")], ""), some(PAGE));
}

#[test]
fn query_string_is_kept() {
    let body = html(
        r#"<link rel="webmention" href="/wm?query=yes&amp;b=%20c&a">"#,
        "",
    );
    assert_eq!(
        wm_body(&body),
        some("https://target.example/wm?query=yes&b=%20c&a")
    );
}

#[test]
fn not_webmention_rel_is_not_matched() {
    let body = html(
        r#"<link rel="not-webmention" href="/wrong"><a rel="webmentions" href="/wrong2">x</a>"#,
        r#"<a rel="webmention" href="/right">x</a>"#,
    );
    assert_eq!(wm_body(&body), some("https://target.example/right"));
    let body = html(r#"<link rel="not-webmention" href="/wrong">"#, "");
    assert_eq!(wm_body(&body), None);
}

#[test]
fn endpoint_with_a_fragment() {
    let body = html(r#"<link rel="webmention" href="/wm?x=1#frag">"#, "");
    assert_eq!(wm_body(&body), some("https://target.example/wm?x=1#frag"));
}

#[test]
fn base_href_is_used_for_relative_body_urls() {
    let body = html(
        r#"<base href="https://cdn.example/dir/"><link rel="webmention" href="wm">"#,
        "",
    );
    assert_eq!(wm_body(&body), some("https://cdn.example/dir/wm"));
    // A relative <base> is itself resolved against the page.
    let body = html(
        r#"<base href="/other/"><link rel="webmention" href="wm">"#,
        "",
    );
    assert_eq!(wm_body(&body), some("https://target.example/other/wm"));
}

#[test]
fn base_href_does_not_apply_to_link_headers() {
    let body = html(r#"<base href="https://cdn.example/dir/">"#, "");
    assert_eq!(
        wm(
            &[
                ("content-type", "text/html"),
                ("link", "<wm>; rel=webmention")
            ],
            &body
        ),
        some("https://target.example/posts/7/wm")
    );
}

#[test]
fn non_http_endpoint_is_ignored() {
    assert_eq!(
        wm(
            &[("link", "<mailto:me@target.example>; rel=webmention")],
            ""
        ),
        None
    );
    let body = html(
        r#"<link rel="webmention" href="javascript:alert(1)"><link rel="webmention" href="ftp://x.example/">"#,
        r#"<a rel="webmention" href="http://plain.example/wm">x</a>"#,
    );
    assert_eq!(wm_body(&body), some("http://plain.example/wm"));
}

#[test]
fn no_endpoint() {
    assert_eq!(wm(&[], ""), None);
    assert_eq!(wm_body(&html("", "<p>nothing</p>")), None);
}

#[test]
fn non_html_body_is_not_searched() {
    let body = r#"<link rel="webmention" href="/wm">"#;
    assert_eq!(wm(&[("content-type", "application/json")], body), None);
    assert_eq!(wm(&[], body), some("https://target.example/wm"));
}

// ---------------------------------------------------------------------------------------
// Pingback

fn pb(hdrs: &[(&str, &str)], body: &str) -> Option<String> {
    pingback_endpoint(&page(), &headers(hdrs), body).map(String::from)
}

#[test]
fn pingback_header_beats_link() {
    let body = html(
        r#"<link rel="pingback" href="https://target.example/from-link.php">"#,
        "",
    );
    assert_eq!(
        pb(
            &[("x-pingback", "https://target.example/xmlrpc.php")],
            &body
        ),
        some("https://target.example/xmlrpc.php")
    );
}

#[test]
fn pingback_link_element() {
    let body = html(r#"<link rel="pingback" href="/xmlrpc.php">"#, "");
    assert_eq!(pb(&[], &body), some("https://target.example/xmlrpc.php"));
}

#[test]
fn pingback_ignores_a_elements_and_comments() {
    let body = html(
        r#"<!-- <link rel="pingback" href="/commented.php"> -->"#,
        r#"<a rel="pingback" href="/a.php">x</a>"#,
    );
    assert_eq!(pb(&[], &body), None);
}

#[test]
fn pingback_non_http_is_ignored() {
    let body = html(r#"<link rel="pingback" href="/xmlrpc.php">"#, "");
    assert_eq!(
        pb(&[("x-pingback", "javascript:alert(1)")], &body),
        some("https://target.example/xmlrpc.php")
    );
    assert_eq!(pb(&[("x-pingback", "file:///etc/passwd")], ""), None);
}
