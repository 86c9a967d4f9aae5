//! Templates (minijinja, embedded in the binary) and the view models pages are made from.

use crate::site::Settings;
use colloquy_store::{PostRow, TermRow, UserRow};
use minijinja::Environment;
use serde::Serialize;
use std::sync::OnceLock;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "base.html",
    "list.html",
    "post.html",
    "thought_fields.html",
    "thought_form.html",
    "thought_edit.html",
    "message.html",
    "debate_announce.html",
    "debates.html",
    "debate.html",
    "debate_message.html",
    "debate_edit.html",
    "debate_room.html",
    "debate_confirm.html",
    "admin/debates.html",
    "admin/debate_edit.html",
    "following.html",
    "following_manage.html",
    "admin/outbox.html",
    "thoughts_rss.xml",
    "error.html",
    "rss.xml",
    "atom.xml",
    "sitemap.xml",
    "admin/base.html",
    "admin/login.html",
    "account/notice.html",
    "account/confirm.html",
    "account/sign_in.html",
    "account/register.html",
    "account/forgot.html",
    "account/reset.html",
    "account/profile.html",
    "account/sessions.html",
    "account/code.html",
    "account/two_factor.html",
    "account/delete.html",
    "account/person.html",
    "admin/setup.html",
    "admin/dashboard.html",
    "admin/posts.html",
    "admin/editor.html",
    "admin/terms.html",
    "admin/users.html",
    "admin/user_edit.html",
    "admin/settings.html",
    "admin/jobs.html",
    "admin/thoughts.html",
    "admin/thought_edit.html",
    "admin/bans.html",
    "admin/discussion.html",
    "admin/moderation_log.html",
);

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, src) in TEMPLATES {
            env.add_template(name, src)
                .expect("templates are checked by the test suite");
        }
        // Escape what HTML and XML need (& < > " '), but not "/" as minijinja's default does:
        // URLs in feeds and pages stay readable.
        env.set_formatter(|out, state, value| {
            if state.auto_escape() == minijinja::AutoEscape::Html && !value.is_safe() {
                if let Some(s) = value.as_str() {
                    return escape_into(out, s);
                }
            }
            minijinja::escape_formatter(out, state, value)
        });
        // RSS readers treat an item's <description> as HTML: plain text must be escaped as
        // HTML first, then (by the template) as XML.
        env.add_filter("text_as_html", |s: String| -> String { escape_html(&s) });
        env.add_global("css", crate::assets::css_url());
        env.add_global("admin_js", crate::assets::admin_js_url());
        env.add_global("time_js", crate::assets::time_js_url());
        env
    })
}

/// Plain text made safe inside HTML text and double-quoted attributes (for HTML built
/// outside templates: mails, drafts, feed descriptions).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn escape_into(out: &mut minijinja::Output, s: &str) -> Result<(), minijinja::Error> {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.write_str(&s[last..i]).map_err(minijinja::Error::from)?;
        out.write_str(rep).map_err(minijinja::Error::from)?;
        last = i + 1;
    }
    out.write_str(&s[last..]).map_err(minijinja::Error::from)
}

pub struct Templates;

impl Templates {
    pub fn new() -> anyhow::Result<Self> {
        for (name, _) in TEMPLATES {
            env().get_template(name)?;
        }
        Ok(Self)
    }

    pub fn render<S: Serialize>(&self, name: &str, ctx: S) -> anyhow::Result<String> {
        Ok(env().get_template(name)?.render(ctx)?)
    }
}

pub fn error_page(title: &str, message: &str) -> String {
    env()
        .get_template("error.html")
        .and_then(|t| t.render(minijinja::context! { title, message, site => Settings::default() }))
        .unwrap_or_else(|_| format!("<!doctype html><title>{0}</title><h1>{0}</h1>", title))
}

#[derive(Serialize, Clone)]
pub struct Link {
    pub name: String,
    pub url: String,
}

#[derive(Serialize)]
pub struct AuthorView {
    pub name: String,
    pub url: String,
    pub avatar_url: String,
    pub bio_html: String,
}

#[derive(Serialize)]
pub struct PostView {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub url: String,
    pub path: String,
    pub published_iso: String,
    pub published_human: String,
    pub published_rfc2822: String,
    pub updated_iso: String,
    pub excerpt: String,
    pub body_html: String,
    pub reading_minutes: i64,
    pub author: AuthorView,
    pub tags: Vec<Link>,
    pub categories: Vec<Link>,
    pub featured_image_url: Option<String>,
}

pub fn iso(ts: i64) -> String {
    jiff::Timestamp::from_second(ts)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

pub fn rfc2822(ts: i64) -> String {
    jiff::Timestamp::from_second(ts)
        .map(|t| {
            jiff::fmt::rfc2822::to_string(&t.to_zoned(jiff::tz::TimeZone::UTC)).unwrap_or_default()
        })
        .unwrap_or_default()
}

/// "25 November 2026" in the site's time zone.
pub fn human_date(ts: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_second(ts)
        .map(|t| t.to_zoned(tz.clone()).strftime("%-d %B %Y").to_string())
        .unwrap_or_default()
}

/// `/YYYY/MM/DD/slug/` for posts (date in the site's time zone), `/slug/` for pages.
pub fn post_path(
    kind: &str,
    slug: &str,
    publish_at: Option<i64>,
    tz: &jiff::tz::TimeZone,
) -> String {
    if kind == "page" {
        return format!("/{slug}/");
    }
    let ts = publish_at.unwrap_or_else(colloquy_store::now);
    let z = jiff::Timestamp::from_second(ts)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(tz.clone());
    format!("/{:04}/{:02}/{:02}/{slug}/", z.year(), z.month(), z.day())
}

pub fn term_path(t: &TermRow) -> String {
    if t.taxonomy == "tag" {
        format!("/tag/{}/", t.slug)
    } else {
        format!("/category/{}/", t.slug)
    }
}

/// Where an uploaded file is; an image an import left at its remote address stays there.
pub fn upload_url(base: &str, name: &str) -> String {
    if name.starts_with("https://") || name.starts_with("http://") {
        name.to_owned()
    } else {
        format!("{base}/uploads/{name}")
    }
}

pub fn avatar_url(user_slug: &str, avatar_file: Option<&str>) -> String {
    match avatar_file {
        Some(f) => format!("/uploads/{f}"),
        None => format!("/avatar/{user_slug}.svg"),
    }
}

pub fn post_view(
    p: &PostRow,
    terms: &[TermRow],
    author: Option<&UserRow>,
    base: &str,
    tz: &jiff::tz::TimeZone,
) -> PostView {
    let path = post_path(&p.kind, &p.slug, p.publish_at, tz);
    let published = p.publish_at.unwrap_or(p.created_at);
    let links = |tax: &str| -> Vec<Link> {
        terms
            .iter()
            .filter(|t| t.taxonomy == tax)
            .map(|t| Link {
                name: t.name.clone(),
                url: format!("{base}{}", term_path(t)),
            })
            .collect()
    };
    PostView {
        id: p.id,
        kind: p.kind.clone(),
        title: p.title.clone(),
        url: format!("{base}{path}"),
        path,
        published_iso: iso(published),
        published_human: human_date(published, tz),
        published_rfc2822: rfc2822(published),
        updated_iso: iso(p.updated_at),
        excerpt: p.excerpt.clone(),
        body_html: p.body_html.clone(),
        reading_minutes: (p.word_count / 200).max(1),
        author: AuthorView {
            name: p.author_name.clone(),
            url: format!("{base}/author/{}/", p.author_slug),
            avatar_url: format!(
                "{base}{}",
                avatar_url(
                    &p.author_slug,
                    author.and_then(|a| a.avatar_file.as_deref())
                )
            ),
            bio_html: author.map(|a| a.bio_html.clone()).unwrap_or_default(),
        },
        tags: links("tag"),
        categories: links("category"),
        featured_image_url: p.featured_image.as_deref().map(|f| upload_url(base, f)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        super::Templates::new().unwrap();
    }

    #[test]
    fn post_paths_use_the_site_time_zone() {
        let tz = jiff::tz::TimeZone::get("America/Los_Angeles").unwrap();
        // 2026-01-01T03:00Z is still 31 December in Los Angeles.
        assert_eq!(
            super::post_path("post", "x", Some(1_767_236_400), &tz),
            "/2025/12/31/x/"
        );
        assert_eq!(super::post_path("page", "about", None, &tz), "/about/");
    }
}
