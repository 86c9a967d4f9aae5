use crate::Invalid;

pub const MAX_TITLE_CHARS: usize = 300;
pub const MAX_BODY_BYTES: usize = 1_000_000;
pub const MAX_TERMS_PER_POST: usize = 100;

/// A post body: at most 1 MB, and no control characters but tabs and line breaks (XML 1.0,
/// and so every feed, cannot carry them).
pub fn check_body(md: &str) -> Result<(), Invalid> {
    if md.len() > MAX_BODY_BYTES {
        return Err(Invalid::new(
            "body_markdown",
            "the body is larger than 1 MB",
        ));
    }
    if let Some(c) = md
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(Invalid::new(
            "body_markdown",
            format!(
                "the body holds the control character U+{:04X}; remove it (it often comes from pasting)",
                c as u32
            ),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Title(String);

impl Title {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Invalid::new("title", "the title is empty"));
        }
        if t.chars().count() > MAX_TITLE_CHARS {
            return Err(Invalid::new(
                "title",
                format!("the title is longer than {MAX_TITLE_CHARS} characters"),
            ));
        }
        if t.chars().any(char::is_control) {
            return Err(Invalid::new("title", "the title holds control characters"));
        }
        Ok(Self(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a post is in its life. A scheduled post becomes published by itself at `publish_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PostStatus {
    Draft,
    Scheduled,
    Published,
}

impl PostStatus {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "draft" => Ok(Self::Draft),
            "scheduled" => Ok(Self::Scheduled),
            "published" => Ok(Self::Published),
            _ => Err(Invalid::new(
                "status",
                "status must be one of draft, scheduled, published",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Scheduled => "scheduled",
            Self::Published => "published",
        }
    }
}

/// A post is dated and listed; a page (About, Code of conduct) lives at `/<slug>/` outside listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PostKind {
    Post,
    Page,
}

impl PostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Post => "post",
            Self::Page => "page",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "post" => Ok(Self::Post),
            "page" => Ok(Self::Page),
            _ => Err(Invalid::new("kind", "kind must be post or page")),
        }
    }
}

/// Resolves what status and time a post should be stored with.
///
/// `published` with a future time becomes `scheduled`; `scheduled` needs a time, and a
/// scheduled time already in the past publishes at once. Times are Unix seconds, UTC.
pub fn resolve_schedule(
    status: PostStatus,
    publish_at: Option<i64>,
    now: i64,
) -> Result<(PostStatus, Option<i64>), Invalid> {
    match (status, publish_at) {
        (PostStatus::Draft, at) => Ok((PostStatus::Draft, at)),
        (PostStatus::Scheduled, None) => Err(Invalid::new(
            "publish_at",
            "a scheduled post needs publish_at",
        )),
        (PostStatus::Scheduled | PostStatus::Published, Some(at)) if at > now => {
            Ok((PostStatus::Scheduled, Some(at)))
        }
        (PostStatus::Scheduled | PostStatus::Published, Some(at)) => {
            Ok((PostStatus::Published, Some(at)))
        }
        (PostStatus::Published, None) => Ok((PostStatus::Published, Some(now))),
    }
}

/// Parses an RFC 3339 timestamp ("2026-12-01T20:00:00Z" or with an offset) to Unix seconds.
pub fn parse_timestamp(field: &'static str, s: &str) -> Result<i64, Invalid> {
    let ts: jiff::Timestamp = s.trim().parse().map_err(|_| {
        Invalid::new(
            field,
            format!("{field} must be an RFC 3339 time such as 2026-12-01T20:00:00Z"),
        )
    })?;
    let secs = ts.as_second();
    // Years 1970..=9999 only: earlier or later dates are typos, not posts.
    if !(0..=253_402_300_799).contains(&secs) {
        return Err(Invalid::new(field, format!("{field} is out of range")));
    }
    Ok(secs)
}

/// Tag and category names: 1 to 100 characters, no control characters.
pub fn parse_term_name(field: &'static str, s: &str) -> Result<String, Invalid> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Invalid::new(field, format!("an entry in {field} is empty")));
    }
    if t.chars().count() > 100 || t.chars().any(char::is_control) {
        return Err(Invalid::new(
            field,
            format!(
                "an entry in {field} is longer than 100 characters or holds control characters"
            ),
        ));
    }
    Ok(t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_rules() {
        let now = 1_000;
        assert_eq!(
            resolve_schedule(PostStatus::Published, Some(2_000), now).unwrap(),
            (PostStatus::Scheduled, Some(2_000))
        );
        assert_eq!(
            resolve_schedule(PostStatus::Scheduled, Some(10), now).unwrap(),
            (PostStatus::Published, Some(10))
        );
        assert!(resolve_schedule(PostStatus::Scheduled, None, now).is_err());
        assert_eq!(
            resolve_schedule(PostStatus::Published, None, now).unwrap(),
            (PostStatus::Published, Some(now))
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("t", "1970-01-01T00:01:00Z").unwrap(), 60);
        assert_eq!(
            parse_timestamp("t", "2026-01-01T01:00:00+01:00").unwrap(),
            1_767_225_600
        );
        for bad in ["tomorrow", "2026-13-01T00:00:00Z", "", "2026-01-01"] {
            assert!(parse_timestamp("t", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn titles() {
        assert!(Title::parse(&"x".repeat(301)).is_err());
        assert!(Title::parse("  ").is_err());
        assert_eq!(Title::parse(" Hello ").unwrap().as_str(), "Hello");
    }
}
