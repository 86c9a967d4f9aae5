//! Site settings and the demo publication.

use colloquy_core::thought::{parse_word_list, HoldPolicy, Rules};
use colloquy_core::{markdown, Invalid, Slug};
use colloquy_store::{NewPost, NewUser, Store, TermInput};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Settings {
    pub title: String,
    pub tagline: String,
    pub description: String,
    pub timezone: String,
    pub language: String,
    pub posts_per_page: u32,
    /// Discussion rules: who is held, link limit, word lists, nesting, closing.
    pub discussion: Rules,
    /// Time zones a new debate is announced in (IANA names).
    pub debate_zones: Vec<String>,
    /// Words and phrases the debate rooms refuse (moderators are not filtered).
    pub debate_words: Vec<String>,
    /// Who may create an account.
    pub registration: colloquy_core::account::RegistrationPolicy,
    /// Signs form timestamps; made once per site and shared by every node.
    #[serde(skip)]
    pub secret: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            title: "Colloquy".into(),
            tagline: "Opinion and live debate".into(),
            description: "A publication of opinion pieces and scheduled live debates.".into(),
            timezone: "Europe/London".into(),
            language: "en".into(),
            posts_per_page: 10,
            discussion: Rules::default(),
            debate_zones: DEFAULT_DEBATE_ZONES.iter().map(|z| z.to_string()).collect(),
            debate_words: Vec::new(),
            registration: colloquy_core::account::RegistrationPolicy::Open,
            secret: String::new(),
        }
    }
}

pub const DEFAULT_DEBATE_ZONES: &[&str] =
    &["Europe/London", "America/New_York", "America/Los_Angeles"];

impl Settings {
    pub async fn load(store: &Store) -> anyhow::Result<Self> {
        let mut s = Settings::default();
        for (k, v) in store.settings().await? {
            match k.as_str() {
                "title" => s.title = v,
                "tagline" => s.tagline = v,
                "description" => s.description = v,
                "timezone" => s.timezone = v,
                "language" => s.language = v,
                "posts_per_page" => s.posts_per_page = v.parse().unwrap_or(10),
                "thought_hold" => {
                    s.discussion.hold = HoldPolicy::parse(&v).unwrap_or(s.discussion.hold)
                }
                "thought_max_links" => {
                    s.discussion.max_links = v.parse().unwrap_or(s.discussion.max_links)
                }
                "thought_moderation_words" => s.discussion.moderation_words = parse_word_list(&v),
                "thought_blocked_words" => s.discussion.blocked_words = parse_word_list(&v),
                "thought_depth" => s.discussion.depth = v.parse().unwrap_or(s.discussion.depth),
                "thought_close_after_days" => {
                    s.discussion.close_after_days = v.parse().unwrap_or(0)
                }
                "thought_gravatar" => s.discussion.gravatar = v == "1",
                "thought_linkbacks" => {
                    s.discussion.linkbacks = colloquy_core::thought::LinkbackPolicy::parse(&v)
                        .unwrap_or(s.discussion.linkbacks)
                }
                "debate_zones" => {
                    if let Ok(z) = colloquy_core::debate::parse_zone_list(&v) {
                        s.debate_zones = z;
                    }
                }
                "debate_word_filter" => s.debate_words = colloquy_core::debate::parse_word_list(&v),
                "registration" => {
                    if let Ok(p) = colloquy_core::account::RegistrationPolicy::parse(&v) {
                        s.registration = p;
                    }
                }
                "secret" => s.secret = v,
                _ => {}
            }
        }
        if s.secret.is_empty() {
            s.secret = store
                .setting_or_insert("secret", &crate::auth::random_token())
                .await?;
        }
        Ok(s)
    }

    /// Validates the discussion settings form.
    #[allow(clippy::too_many_arguments)]
    pub fn parse_discussion(
        hold: &str,
        max_links: &str,
        moderation_words: &str,
        blocked_words: &str,
        depth: &str,
        close_after_days: &str,
        gravatar: bool,
        linkbacks: &str,
    ) -> Result<Rules, Invalid> {
        let number = |field: &'static str, s: &str, max: u32, what: &str| {
            s.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| {
                    Invalid::new(
                        field,
                        format!("{what} must be a whole number from 0 to {max}"),
                    )
                })
        };
        let depth = number(
            "thought_depth",
            depth,
            colloquy_core::thought::MAX_DEPTH,
            "nesting depth",
        )?;
        if depth == 0 {
            return Err(Invalid::new(
                "thought_depth",
                "nesting depth must be at least 1",
            ));
        }
        if moderation_words.len() > 50_000 || blocked_words.len() > 50_000 {
            return Err(Invalid::new(
                "thought_blocked_words",
                "a word list is at most 50,000 characters",
            ));
        }
        Ok(Rules {
            hold: HoldPolicy::parse(hold)?,
            max_links: number("thought_max_links", max_links, 1000, "the link limit")? as usize,
            moderation_words: parse_word_list(moderation_words),
            blocked_words: parse_word_list(blocked_words),
            depth,
            close_after_days: number("thought_close_after_days", close_after_days, 36_500, "days")?,
            gravatar,
            linkbacks: colloquy_core::thought::LinkbackPolicy::parse(if linkbacks.is_empty() {
                "approve_known_sites"
            } else {
                linkbacks
            })?,
        })
    }

    pub async fn save_discussion(store: &Store, r: &Rules) -> anyhow::Result<()> {
        store
            .set_settings(&[
                ("thought_hold", r.hold.as_str().to_owned()),
                ("thought_max_links", r.max_links.to_string()),
                ("thought_moderation_words", r.moderation_words.join("\n")),
                ("thought_blocked_words", r.blocked_words.join("\n")),
                ("thought_depth", r.depth.to_string()),
                ("thought_close_after_days", r.close_after_days.to_string()),
                (
                    "thought_gravatar",
                    if r.gravatar { "1" } else { "0" }.to_owned(),
                ),
                ("thought_linkbacks", r.linkbacks.as_str().to_owned()),
            ])
            .await?;
        Ok(())
    }

    pub fn tz(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.timezone).unwrap_or(jiff::tz::TimeZone::UTC)
    }

    /// Validates a settings form: every field has a shape it must fit.
    pub fn parse(
        title: &str,
        tagline: &str,
        description: &str,
        timezone: &str,
        language: &str,
        posts_per_page: &str,
    ) -> Result<Self, Invalid> {
        let title = title.trim();
        if title.is_empty() || title.chars().count() > 200 {
            return Err(Invalid::new(
                "title",
                "the site title must be 1 to 200 characters",
            ));
        }
        if tagline.chars().count() > 300 {
            return Err(Invalid::new(
                "tagline",
                "the tagline is longer than 300 characters",
            ));
        }
        if description.chars().count() > 2000 {
            return Err(Invalid::new(
                "description",
                "the description is longer than 2,000 characters",
            ));
        }
        if jiff::tz::TimeZone::get(timezone.trim()).is_err() {
            return Err(Invalid::new(
                "timezone",
                "unknown time zone: use an IANA name such as Europe/London or America/New_York",
            ));
        }
        let language = language.trim();
        let lang_ok = !language.is_empty()
            && language.len() <= 35
            && language.split('-').all(|p| {
                !p.is_empty() && p.len() <= 8 && p.chars().all(|c| c.is_ascii_alphanumeric())
            });
        if !lang_ok {
            return Err(Invalid::new(
                "language",
                "the language must be a BCP 47 tag such as en or en-GB",
            ));
        }
        let per_page: u32 = posts_per_page
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                Invalid::new("posts_per_page", "posts per page must be from 1 to 100")
            })?;
        Ok(Self {
            title: title.to_owned(),
            tagline: tagline.trim().to_owned(),
            description: description.trim().to_owned(),
            timezone: timezone.trim().to_owned(),
            language: language.to_owned(),
            posts_per_page: per_page,
            ..Self::default()
        })
    }

    pub async fn save(&self, store: &Store) -> anyhow::Result<()> {
        store
            .set_settings(&[
                ("title", self.title.clone()),
                ("tagline", self.tagline.clone()),
                ("description", self.description.clone()),
                ("timezone", self.timezone.clone()),
                ("language", self.language.clone()),
                ("posts_per_page", self.posts_per_page.to_string()),
                ("registration", self.registration.as_str().to_owned()),
            ])
            .await?;
        Ok(())
    }
}

pub(crate) fn term_inputs(
    field: &'static str,
    names: &[String],
) -> Result<Vec<TermInput>, Invalid> {
    if names.len() > colloquy_core::post::MAX_TERMS_PER_POST {
        return Err(Invalid::new(
            field,
            format!(
                "at most {} {field} per post",
                colloquy_core::post::MAX_TERMS_PER_POST
            ),
        ));
    }
    let mut out: Vec<TermInput> = Vec::with_capacity(names.len());
    for n in names {
        let name = colloquy_core::post::parse_term_name(field, n)?;
        let slug = Slug::from_title(&name).map_err(|_| {
            Invalid::new(
                field,
                format!("{name:?} has no letters or digits to make a slug from"),
            )
        })?;
        if !out.iter().any(|t| t.slug == slug.as_str()) {
            out.push(TermInput {
                name,
                slug: slug.as_str().to_owned(),
            });
        }
    }
    Ok(out)
}

/// A whole post as an author sent it (API body or editor form), before any rule looked at it.
pub(crate) struct DraftFields<'a> {
    pub kind: &'a str,
    pub title: &'a str,
    /// `None` derives the slug from the title.
    pub slug: Option<&'a str>,
    pub body_markdown: &'a str,
    pub status: &'a str,
    pub publish_at: Option<i64>,
    pub tags: &'a [String],
    pub categories: &'a [String],
}

/// A post that passed every rule: the one place where the API and the editor validate posts.
pub(crate) struct PostDraft {
    pub kind: colloquy_core::PostKind,
    pub title: colloquy_core::Title,
    pub slug: Slug,
    pub slug_derived: bool,
    pub status: colloquy_core::PostStatus,
    pub publish_at: Option<i64>,
    pub tags: Vec<TermInput>,
    pub categories: Vec<TermInput>,
}

impl PostDraft {
    pub fn parse(f: &DraftFields<'_>) -> Result<Self, Invalid> {
        use colloquy_core::{PostKind, PostStatus, Title};
        let kind = match f.kind {
            "post" | "" => PostKind::Post,
            "page" => PostKind::Page,
            _ => return Err(Invalid::new("kind", "kind must be post or page")),
        };
        let title = Title::parse(f.title)?;
        let (slug, slug_derived) = match f.slug.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => (Slug::parse(s)?, false),
            None => (Slug::from_title(title.as_str())?, true),
        };
        if kind == PostKind::Page && crate::routes::RESERVED_PAGE_SLUGS.contains(&slug.as_str()) {
            return Err(Invalid::new(
                "slug",
                format!("{slug} is a reserved address; choose another slug"),
            ));
        }
        colloquy_core::post::check_body(f.body_markdown)?;
        let status = PostStatus::parse(if f.status.is_empty() {
            "draft"
        } else {
            f.status
        })?;
        let (status, publish_at) =
            colloquy_core::post::resolve_schedule(status, f.publish_at, colloquy_store::now())?;
        Ok(Self {
            kind,
            title,
            slug,
            slug_derived,
            status,
            publish_at,
            tags: term_inputs("tags", f.tags)?,
            categories: term_inputs("categories", f.categories)?,
        })
    }

    pub fn into_new_post(
        self,
        body_markdown: String,
        author_id: i64,
        featured_image: Option<String>,
    ) -> NewPost {
        let (html, plain, excerpt) = body_parts(&body_markdown);
        NewPost {
            kind: self.kind.as_str().into(),
            title: self.title.as_str().into(),
            slug: self.slug.as_str().into(),
            slug_was_derived: self.slug_derived,
            body_markdown,
            body_html: html,
            plain_text: plain,
            excerpt,
            status: self.status.as_str().into(),
            publish_at: self.publish_at,
            author_id,
            featured_image,
            tags: self.tags,
            categories: self.categories,
        }
    }
}

/// Builds a `NewPost` from validated parts; the body is rendered and summarised here once.
pub(crate) fn body_parts(markdown_src: &str) -> (String, String, String) {
    let html = markdown::render(markdown_src);
    let plain = markdown::plain_text(markdown_src);
    let excerpt = markdown::excerpt(&plain, 55);
    (html, plain, excerpt)
}

const DEMO_BODY: &str = r#"Every week, somebody in our profession is described in a newspaper as either a saint or a villain. Neither picture helps the families we work with, and neither helps the public understand what social work is for.

## What the coverage leaves out

Most of the work is slow, careful and invisible: a visit that keeps a family together, a conversation that makes a carer feel heard. None of it makes a headline. When the news does arrive, it is usually about a tragedy, told without the context of caseloads, budgets and the law.

> We cannot ask the press to be kinder. We can ask ourselves to be more present.

## What we can do

Write about the work, in our own words, without breaking anyone's confidence.[^1] Answer journalists when they ask. And talk with each other in public, so that the conversation about social work includes social workers.

| Step | Who | When |
|------|-----|------|
| Write a piece | any of us | this month |
| Join the live debate | everyone | Thursday |

[^1]: Never a name, a place or a detail that could identify a person you work with.
"#;

/// Seeds a small publication (an author with a bio, an opinion piece with tags, a page)
/// when the database holds no posts yet. Returns false when there was already content.
pub async fn seed_demo(store: &Store) -> anyhow::Result<bool> {
    let (_, total) = store.all_posts("post", 1, 0).await?;
    if total > 0 {
        return Ok(false);
    }
    let author_id = match store.user_by_email("demo.author@example.org").await {
        Ok(u) => u.id,
        Err(_) => {
            let bio =
                "Social worker for twenty years, now writing about practice, policy and the media.";
            store
                .create_user(NewUser {
                    email: "demo.author@example.org",
                    name: "Alex Morgan",
                    slug: "alex-morgan",
                    role: "author",
                    password_hash: None,
                    bio_markdown: bio,
                    bio_html: &markdown::render(bio),
                })
                .await?
        }
    };
    let tags: Vec<String> = ["social work", "media", "journalism", "ethics", "practice"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let cats = vec!["Opinion".to_string()];
    let (html, plain, excerpt) = body_parts(DEMO_BODY);
    store
        .create_post(NewPost {
            kind: "post".into(),
            title: "Social work and the media: saints, villains and the rest of us".into(),
            slug: "social-work-and-the-media".into(),
            slug_was_derived: true,
            body_markdown: DEMO_BODY.into(),
            body_html: html,
            plain_text: plain,
            excerpt,
            status: "published".into(),
            publish_at: Some(colloquy_store::now() - 3600),
            author_id,
            featured_image: None,
            tags: term_inputs("tags", &tags)?,
            categories: term_inputs("categories", &cats)?,
        })
        .await?;
    let about = "This publication is written by social workers and social-care writers. We publish opinion pieces and hold scheduled live debates on them.\n\nEveryone taking part accepts our code of conduct: no identifying details of the people we work with, respect for each other, and honesty about what we know.";
    let (html, plain, excerpt) = body_parts(about);
    store
        .create_post(NewPost {
            kind: "page".into(),
            title: "About".into(),
            slug: "about".into(),
            slug_was_derived: true,
            body_markdown: about.into(),
            body_html: html,
            plain_text: plain,
            excerpt,
            status: "published".into(),
            publish_at: Some(colloquy_store::now() - 3600),
            author_id,
            featured_image: None,
            tags: vec![],
            categories: vec![],
        })
        .await?;
    Ok(true)
}
