//! Thoughts: responses to a post. A comment is one kind; linkbacks (pingbacks, webmentions,
//! reblogs) are others and share the same list, moderation and display.
//!
//! The moderation decision is a pure function of what is known about a submission
//! ([`Submission`]) and the site's rules ([`Rules`]), so every path can be tested alone.

use crate::Invalid;

pub const MAX_BODY_CHARS: usize = 10_000;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_URL_CHARS: usize = 500;
/// Members may edit their own thought for this long after posting it.
pub const EDIT_WINDOW_SECONDS: i64 = 15 * 60;
pub const DEFAULT_DEPTH: u32 = 5;
pub const MAX_DEPTH: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ThoughtKind {
    Comment,
    Pingback,
    Webmention,
    Reblog,
    Reply,
}

impl ThoughtKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Comment => "comment",
            Self::Pingback => "pingback",
            Self::Webmention => "webmention",
            Self::Reblog => "reblog",
            Self::Reply => "reply",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Ok(match s {
            "comment" => Self::Comment,
            "pingback" => Self::Pingback,
            "webmention" => Self::Webmention,
            "reblog" => Self::Reblog,
            "reply" => Self::Reply,
            _ => return Err(Invalid::new("kind", "unknown kind of thought")),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ThoughtStatus {
    Approved,
    Pending,
    Spam,
    Trash,
}

impl ThoughtStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Pending => "pending",
            Self::Spam => "spam",
            Self::Trash => "trash",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Ok(match s {
            "approved" => Self::Approved,
            "pending" => Self::Pending,
            "spam" => Self::Spam,
            "trash" => Self::Trash,
            _ => {
                return Err(Invalid::new(
                    "status",
                    "status must be one of approved, pending, spam, trash",
                ))
            }
        })
    }
}

/// Which thoughts wait for a moderator before they show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldPolicy {
    HoldAll,
    HoldFirstTimeGuests,
    HoldNone,
}

impl HoldPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HoldAll => "hold_all",
            Self::HoldFirstTimeGuests => "hold_first_time_guests",
            Self::HoldNone => "hold_none",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Ok(match s {
            "hold_all" => Self::HoldAll,
            "hold_first_time_guests" => Self::HoldFirstTimeGuests,
            "hold_none" => Self::HoldNone,
            _ => {
                return Err(Invalid::new(
                    "hold_policy",
                    "choose hold_all, hold_first_time_guests or hold_none",
                ))
            }
        })
    }
}

/// Which linkbacks (pingbacks, webmentions, reblogs) wait for a moderator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkbackPolicy {
    Hold,
    /// Approve those from sites that had a linkback approved before; hold the rest.
    ApproveKnownSites,
    Approve,
}

impl LinkbackPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hold => "hold",
            Self::ApproveKnownSites => "approve_known_sites",
            Self::Approve => "approve",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Ok(match s {
            "hold" => Self::Hold,
            "approve_known_sites" => Self::ApproveKnownSites,
            "approve" => Self::Approve,
            _ => {
                return Err(Invalid::new(
                    "linkbacks",
                    "choose hold, approve_known_sites or approve",
                ))
            }
        })
    }
}

/// Where a verified linkback goes: the word lists and the spam filter as for thoughts, then
/// the linkback policy.
pub fn decide_linkback(
    rules: &Rules,
    texts: &[&str],
    site_known: bool,
    spam_score: Option<f64>,
) -> Decision {
    use ThoughtStatus::*;
    if let Some(w) = first_listed_word(&rules.blocked_words, texts) {
        return Decision::to(Spam, format!("contains the blocked word {w:?}"));
    }
    if let Some(p) = spam_score {
        if p >= SPAM_REJECT {
            return Decision::to(Spam, format!("the spam filter scored it {p:.2}"));
        }
        if p >= SPAM_HOLD {
            return Decision::to(Pending, format!("the spam filter scored it {p:.2}"));
        }
    }
    if let Some(w) = first_listed_word(&rules.moderation_words, texts) {
        return Decision::to(Pending, format!("contains the moderation word {w:?}"));
    }
    match (rules.linkbacks, site_known) {
        (LinkbackPolicy::Approve, _) | (LinkbackPolicy::ApproveKnownSites, true) => {
            Decision::to(Approved, "")
        }
        (LinkbackPolicy::ApproveKnownSites, false) => {
            Decision::to(Pending, "first linkback from this site")
        }
        (LinkbackPolicy::Hold, _) => Decision::to(Pending, "every linkback is held (site policy)"),
    }
}

/// The text of a thought: not empty, not huge, no control characters but line breaks and tabs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThoughtBody(String);

impl ThoughtBody {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Invalid::new("body", "write something before posting"));
        }
        if t.chars().count() > MAX_BODY_CHARS {
            return Err(Invalid::new(
                "body",
                format!("a thought is at most {MAX_BODY_CHARS} characters"),
            ));
        }
        if t.chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            return Err(Invalid::new("body", "the text holds control characters"));
        }
        Ok(Self(t.replace("\r\n", "\n")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A guest's name, email (never shown) and optional website.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestIdentity {
    pub name: String,
    pub email: crate::Email,
    pub url: Option<String>,
}

impl GuestIdentity {
    pub fn parse(name: &str, email: &str, url: &str) -> Result<Self, Invalid> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Invalid::new("author_name", "tell us your name"));
        }
        if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(Invalid::new(
                "author_name",
                format!(
                    "a name is at most {MAX_NAME_CHARS} characters, without control characters"
                ),
            ));
        }
        let email = crate::Email::parse(email).map_err(|_| {
            Invalid::new(
                "author_email",
                "give an email address (name@example.org); it is never shown",
            )
        })?;
        let url = parse_website(url)?;
        Ok(Self {
            name: name.to_owned(),
            email,
            url,
        })
    }
}

/// An optional http(s) website address.
pub fn parse_website(url: &str) -> Result<Option<String>, Invalid> {
    let url = url.trim();
    if url.is_empty() {
        return Ok(None);
    }
    let bad = || {
        Invalid::new(
            "author_url",
            "the website must be an http:// or https:// address",
        )
    };
    if url.chars().count() > MAX_URL_CHARS
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad());
    }
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') || host.contains('@') {
        return Err(bad());
    }
    Ok(Some(url.to_owned()))
}

/// The site's discussion rules.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rules {
    pub hold: HoldPolicy,
    /// Hold a thought with more links than this.
    pub max_links: usize,
    /// A thought containing one of these is held for a moderator.
    pub moderation_words: Vec<String>,
    /// A thought containing one of these goes straight to spam.
    pub blocked_words: Vec<String>,
    /// Replies nest this deep at most; deeper replies attach to the deepest allowed level.
    pub depth: u32,
    /// Thoughts close this many days after a post is published (0: never).
    pub close_after_days: u32,
    /// Which linkbacks wait for a moderator.
    pub linkbacks: LinkbackPolicy,
    /// Show guests' Gravatar pictures (a request to gravatar.com from every reader); off by
    /// default: avatars are generated on our side.
    pub gravatar: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            hold: HoldPolicy::HoldFirstTimeGuests,
            max_links: 2,
            moderation_words: vec![],
            blocked_words: vec![],
            depth: DEFAULT_DEPTH,
            close_after_days: 0,
            linkbacks: LinkbackPolicy::ApproveKnownSites,
            gravatar: false,
        }
    }
}

/// Splits a word list as typed by an admin: one entry a line, trimmed, lowercased, blanks out.
pub fn parse_word_list(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .lines()
        .map(|l| l.trim().to_lowercase())
        .filter(|l| !l.is_empty())
        .collect();
    v.dedup();
    v
}

/// The first entry of `list` found in any of `texts`, case-insensitively. An entry that is a
/// single word must match whole words ("ass" does not match "class"); a phrase or a fragment
/// with punctuation (a domain, an IP) matches as a substring.
pub fn first_listed_word<'a>(list: &'a [String], texts: &[&str]) -> Option<&'a str> {
    let lowered: Vec<String> = texts.iter().map(|t| t.to_lowercase()).collect();
    list.iter()
        .find(|w| {
            let whole_word = w.chars().all(char::is_alphanumeric);
            lowered.iter().any(|t| {
                if !whole_word {
                    return t.contains(w.as_str());
                }
                t.match_indices(w.as_str()).any(|(i, _)| {
                    let before = t[..i].chars().next_back();
                    let after = t[i + w.len()..].chars().next();
                    !before.is_some_and(char::is_alphanumeric)
                        && !after.is_some_and(char::is_alphanumeric)
                })
            })
        })
        .map(String::as_str)
}

/// Everything known about one submission when deciding where it goes.
#[derive(Debug, Clone, Default)]
pub struct Submission<'a> {
    pub body: &'a str,
    pub author_name: &'a str,
    pub author_email: &'a str,
    pub author_url: &'a str,
    /// Posted by a signed-in member (or staff).
    pub is_member: bool,
    /// The guest's email already has an approved thought on this site.
    pub guest_known: bool,
    pub link_count: usize,
    /// The form's hidden field was filled in (only robots see it).
    pub honeypot_filled: bool,
    /// The form came back sooner than a person could have written it.
    pub too_fast: bool,
    /// The confidentiality guard found something and the writer confirmed anyway.
    pub confirmed_sensitive: Vec<String>,
    /// The learning filter's probability that this is spam, once it has been trained.
    pub spam_score: Option<f64>,
}

/// Scores at or above this go to spam; at or above `SPAM_HOLD` wait for a moderator.
pub const SPAM_REJECT: f64 = 0.9;
pub const SPAM_HOLD: f64 = 0.6;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub status: ThoughtStatus,
    /// Why it was held or marked spam, for the moderator; empty when approved.
    pub reason: String,
}

impl Decision {
    fn to(status: ThoughtStatus, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
        }
    }
}

/// Where a new thought goes: spam, the moderation queue, or straight onto the page.
/// Spam signals are checked first, then the reasons to hold, then the policy.
pub fn decide(rules: &Rules, s: &Submission<'_>) -> Decision {
    use ThoughtStatus::*;
    if s.honeypot_filled {
        return Decision::to(Spam, "the hidden form field was filled in");
    }
    if s.too_fast {
        return Decision::to(Spam, "the form was sent back too fast for a person");
    }
    let texts = [s.body, s.author_name, s.author_email, s.author_url];
    if let Some(w) = first_listed_word(&rules.blocked_words, &texts) {
        return Decision::to(Spam, format!("contains the blocked word {w:?}"));
    }
    if let Some(p) = s.spam_score {
        if p >= SPAM_REJECT {
            return Decision::to(Spam, format!("the spam filter scored it {p:.2}"));
        }
    }
    let mut held = Vec::new();
    if !s.confirmed_sensitive.is_empty() && !s.is_member {
        held.push(format!(
            "the confidentiality guard found {} (the writer confirmed)",
            s.confirmed_sensitive.join(", ")
        ));
    }
    if s.link_count > rules.max_links {
        held.push(format!(
            "{} links (more than {})",
            s.link_count, rules.max_links
        ));
    }
    if let Some(w) = first_listed_word(&rules.moderation_words, &texts) {
        held.push(format!("contains the moderation word {w:?}"));
    }
    if let Some(p) = s.spam_score {
        if p >= SPAM_HOLD {
            held.push(format!("the spam filter scored it {p:.2}"));
        }
    }
    match rules.hold {
        HoldPolicy::HoldAll => held.push("every thought is held (site policy)".into()),
        HoldPolicy::HoldFirstTimeGuests if !s.is_member && !s.guest_known => {
            held.push("first thought from this guest".into())
        }
        _ => {}
    }
    if held.is_empty() {
        Decision::to(Approved, "")
    } else {
        Decision::to(Pending, held.join("; "))
    }
}

/// Whether thoughts are still open on a post published at `published_at`.
pub fn open_for_thoughts(
    post_open: bool,
    published_at: Option<i64>,
    close_after_days: u32,
    now: i64,
) -> bool {
    if !post_open {
        return false;
    }
    match (close_after_days, published_at) {
        (0, _) | (_, None) => true,
        (days, Some(p)) => now < p + i64::from(days) * 86_400,
    }
}

/// One thought's place in a thread: (index into the input, depth from 0).
pub type Placed = (usize, u32);

/// Orders thoughts into threads, depth first, each level oldest first. `items` are
/// `(id, parent_id)` in any order; a parent that is missing (not shown) makes a thought a
/// top-level one; replies deeper than `max_depth` levels sit at the deepest level.
pub fn thread(items: &[(i64, Option<i64>)], max_depth: u32) -> Vec<Placed> {
    use std::collections::HashMap;
    let max_depth = max_depth.clamp(1, MAX_DEPTH);
    let index: HashMap<i64, usize> = items.iter().enumerate().map(|(i, t)| (t.0, i)).collect();
    let mut children: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (i, (_, parent)) in items.iter().enumerate() {
        let p = parent
            .and_then(|p| index.get(&p).copied())
            .filter(|p| *p != i);
        children.entry(p).or_default().push(i);
    }
    for v in children.values_mut() {
        v.sort_by_key(|i| items[*i].0);
    }
    let mut out = Vec::with_capacity(items.len());
    let mut seen = vec![false; items.len()];
    // Explicit stack: a hostile chain of replies cannot overflow the call stack.
    let mut stack: Vec<(usize, u32)> = children
        .get(&None)
        .map(|v| v.iter().rev().map(|i| (*i, 0)).collect())
        .unwrap_or_default();
    while let Some((i, depth)) = stack.pop() {
        if seen[i] {
            continue;
        }
        seen[i] = true;
        out.push((i, depth));
        if let Some(kids) = children.get(&Some(i)) {
            let d = (depth + 1).min(max_depth - 1);
            stack.extend(kids.iter().rev().map(|k| (*k, d)));
        }
    }
    // Cycles (only possible in damaged data) are still shown, at the top level.
    for (i, s) in seen.iter().enumerate() {
        if !s {
            out.push((i, 0));
        }
    }
    out
}

/// An IPv4 or IPv6 address, or a CIDR range of them, as a ban entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpRange {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let bad = || {
            Invalid::new(
                "value",
                "give an IP address or range such as 203.0.113.7 or 203.0.113.0/24",
            )
        };
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: std::net::IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::*;
        let ip = match ip {
            V6(v6) => v6.to_ipv4_mapped().map(V4).unwrap_or(V6(v6)),
            v4 => v4,
        };
        match (self.addr, ip) {
            (V4(r), V4(i)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(r) & mask == u32::from(i) & mask
            }
            (V6(r), V6(i)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(r) & mask == u128::from(i) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for IpRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest(body: &str) -> Submission<'_> {
        Submission {
            body,
            author_name: "Sam",
            author_email: "sam@example.org",
            ..Default::default()
        }
    }

    #[test]
    fn first_time_guests_are_held_and_known_guests_and_members_are_not() {
        let r = Rules::default();
        assert_eq!(decide(&r, &guest("Hello")).status, ThoughtStatus::Pending);
        let known = Submission {
            guest_known: true,
            ..guest("Hello")
        };
        assert_eq!(decide(&r, &known).status, ThoughtStatus::Approved);
        let member = Submission {
            is_member: true,
            ..guest("Hello")
        };
        assert_eq!(decide(&r, &member).status, ThoughtStatus::Approved);
    }

    #[test]
    fn each_rule_holds_or_rejects_with_a_reason() {
        let r = Rules {
            hold: HoldPolicy::HoldNone,
            moderation_words: vec!["council".into()],
            blocked_words: vec!["casino".into(), "cheap-pills.example".into()],
            ..Rules::default()
        };
        let d = decide(&r, &guest("the council said"));
        assert_eq!(d.status, ThoughtStatus::Pending);
        assert!(d.reason.contains("council"), "{}", d.reason);
        assert_eq!(decide(&r, &guest("a Casino!")).status, ThoughtStatus::Spam);
        assert_eq!(
            decide(&r, &guest("visit cheap-pills.example now")).status,
            ThoughtStatus::Spam
        );
        // Whole words only for single words.
        assert_eq!(
            decide(&r, &guest("casinos")).status,
            ThoughtStatus::Approved
        );
        let links = Submission {
            link_count: 3,
            ..guest("x")
        };
        assert!(decide(&r, &links).reason.contains("3 links"));
        let honey = Submission {
            honeypot_filled: true,
            is_member: true,
            ..guest("x")
        };
        assert_eq!(decide(&r, &honey).status, ThoughtStatus::Spam);
        let fast = Submission {
            too_fast: true,
            ..guest("x")
        };
        assert_eq!(decide(&r, &fast).status, ThoughtStatus::Spam);
        let spammy = Submission {
            spam_score: Some(0.95),
            ..guest("x")
        };
        assert_eq!(decide(&r, &spammy).status, ThoughtStatus::Spam);
        let doubtful = Submission {
            spam_score: Some(0.7),
            ..guest("x")
        };
        assert_eq!(decide(&r, &doubtful).status, ThoughtStatus::Pending);
        let sensitive = Submission {
            confirmed_sensitive: vec!["an NHS number".into()],
            ..guest("x")
        };
        let d = decide(&r, &sensitive);
        assert_eq!(d.status, ThoughtStatus::Pending);
        assert!(d.reason.contains("NHS number"));
        let all = Rules {
            hold: HoldPolicy::HoldAll,
            ..Rules::default()
        };
        let member = Submission {
            is_member: true,
            ..guest("x")
        };
        assert_eq!(decide(&all, &member).status, ThoughtStatus::Pending);
    }

    #[test]
    fn linkbacks_follow_their_policy_after_the_word_lists() {
        let r = Rules {
            blocked_words: vec!["casino".into()],
            ..Rules::default()
        };
        assert_eq!(
            decide_linkback(&r, &["a post"], true, None).status,
            ThoughtStatus::Approved
        );
        let d = decide_linkback(&r, &["a post"], false, None);
        assert_eq!(d.status, ThoughtStatus::Pending);
        assert!(d.reason.contains("first linkback"));
        assert_eq!(
            decide_linkback(&r, &["casino news"], true, None).status,
            ThoughtStatus::Spam
        );
        let hold = Rules {
            linkbacks: LinkbackPolicy::Hold,
            ..Rules::default()
        };
        assert_eq!(
            decide_linkback(&hold, &["x"], true, None).status,
            ThoughtStatus::Pending
        );
        let open = Rules {
            linkbacks: LinkbackPolicy::Approve,
            ..Rules::default()
        };
        assert_eq!(
            decide_linkback(&open, &["x"], false, None).status,
            ThoughtStatus::Approved
        );
        assert_eq!(
            decide_linkback(&open, &["x"], false, Some(0.95)).status,
            ThoughtStatus::Spam
        );
    }

    #[test]
    fn threads_nest_depth_first_and_cap_depth() {
        // 1 ← 2 ← 3 ← 4, and 5 top level; 6 replies to a missing thought.
        let items = [
            (5, None),
            (3, Some(2)),
            (1, None),
            (2, Some(1)),
            (4, Some(3)),
            (6, Some(99)),
        ];
        let placed = thread(&items, 3);
        let ids: Vec<(i64, u32)> = placed.iter().map(|(i, d)| (items[*i].0, *d)).collect();
        assert_eq!(ids, vec![(1, 0), (2, 1), (3, 2), (4, 2), (5, 0), (6, 0)]);
    }

    #[test]
    fn a_cycle_in_damaged_data_still_shows_every_thought() {
        let items = [(1, Some(2)), (2, Some(1))];
        assert_eq!(thread(&items, 5).len(), 2);
    }

    #[test]
    fn ip_ranges_match() {
        let r = IpRange::parse("203.0.113.0/24").unwrap();
        assert!(r.contains("203.0.113.77".parse().unwrap()));
        assert!(!r.contains("203.0.114.1".parse().unwrap()));
        assert!(r.contains("::ffff:203.0.113.9".parse().unwrap()));
        let one = IpRange::parse("2001:db8::1").unwrap();
        assert!(one.contains("2001:db8::1".parse().unwrap()));
        assert!(!one.contains("2001:db8::2".parse().unwrap()));
        assert!(IpRange::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(IpRange::parse("10.0.0.0/33").is_err());
        assert!(IpRange::parse("example.org").is_err());
    }

    #[test]
    fn guests_must_give_a_name_and_a_real_email() {
        assert!(GuestIdentity::parse("", "a@example.org", "").is_err());
        assert!(GuestIdentity::parse("Ann", "nope", "").is_err());
        assert!(GuestIdentity::parse("Ann", "a@example.org", "javascript:alert(1)").is_err());
        assert!(GuestIdentity::parse("Ann\r\nBcc: x", "a@example.org", "").is_err());
        let g = GuestIdentity::parse(" Ann ", "a@example.org", "https://ann.example/").unwrap();
        assert_eq!(g.name, "Ann");
        assert_eq!(g.url.as_deref(), Some("https://ann.example/"));
    }

    #[test]
    fn closing_after_days() {
        assert!(open_for_thoughts(true, Some(0), 0, 10_000_000));
        assert!(!open_for_thoughts(false, Some(0), 0, 0));
        assert!(open_for_thoughts(true, Some(0), 1, 86_399));
        assert!(!open_for_thoughts(true, Some(0), 1, 86_400));
    }
}
