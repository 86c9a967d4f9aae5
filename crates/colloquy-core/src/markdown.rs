//! Markdown to safe HTML. Authors write CommonMark with tables and footnotes; whatever they
//! write, the HTML that leaves here has passed an allowlist sanitiser (ammonia).

use pulldown_cmark::{html, Event, Options, Parser, Tag, TagEnd};
use std::sync::OnceLock;

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_SMART_PUNCTUATION
}

fn sanitiser() -> &'static ammonia::Builder<'static> {
    static B: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    B.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        b.add_tags(["figure", "figcaption", "input"])
            .add_tag_attributes("div", ["id", "class"])
            .add_tag_attributes("sup", ["class"])
            .add_tag_attributes("span", ["class"])
            .add_tag_attributes("code", ["class"])
            .add_tag_attributes("input", ["type", "checked", "disabled"])
            .add_tag_attributes("ol", ["start"])
            .add_tag_attributes("img", ["loading"])
            .add_generic_attributes(["lang", "title"])
            .link_rel(Some("noopener"))
            .url_schemes(["http", "https", "mailto"].into_iter().collect());
        for cell in ["th", "td"] {
            b.add_tag_attribute_values(
                cell,
                "style",
                [
                    "text-align: left",
                    "text-align: center",
                    "text-align: right",
                ],
            );
        }
        for h in ["h1", "h2", "h3", "h4", "h5", "h6"] {
            b.add_tag_attributes(h, ["id"]);
        }
        b
    })
}

/// Renders a post body or bio: CommonMark + tables + footnotes, sanitised.
pub fn render(markdown: &str) -> String {
    let parser = Parser::new_ext(markdown, options());
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, parser);
    sanitiser().clean(&raw).to_string()
}

/// Plain text of a Markdown document, for excerpts, search and meta descriptions.
pub fn plain_text(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    for ev in Parser::new_ext(markdown, options()) {
        match ev {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            // Runs of spaces are collapsed below.
            Event::SoftBreak
            | Event::HardBreak
            | Event::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item)
            | Event::Start(Tag::Paragraph) => out.push(' '),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first `words` words of a text, with an ellipsis when cut (WordPress uses 55).
pub fn excerpt(plain: &str, words: usize) -> String {
    let mut it = plain.split_whitespace();
    let head: Vec<&str> = it.by_ref().take(words).collect();
    let mut s = head.join(" ");
    if it.next().is_some() {
        s.push_str(" …");
    }
    s
}

/// Words in a text, for reading-time estimates.
pub fn word_count(plain: &str) -> usize {
    plain.split_whitespace().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_handlers_never_pass() {
        let html = render(
            "Hi <script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }

    #[test]
    fn tables_and_footnotes_render() {
        let html = render("| a | b |\n|---|---|\n| 1 | 2 |\n\nText[^n].\n\n[^n]: A note.\n");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("footnote-definition"), "{html}");
    }

    #[test]
    fn excerpts_cut_on_words() {
        let t = plain_text("# Head\n\nOne *two* three four.");
        assert_eq!(t, "Head One two three four.");
        assert_eq!(excerpt(&t, 2), "Head One …");
        assert_eq!(excerpt(&t, 20), t);
    }
}
