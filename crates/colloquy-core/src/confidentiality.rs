//! The confidentiality guard: finds identifying details in a thought, a post or a live-debate
//! message before it is published, so the writer can be warned.
//!
//! [`scan`] is a warning aid, not a redaction tool. It is tuned for precision first, because a
//! guard that cries wolf on every year or statistic gets ignored, and it will miss details
//! written in ways nobody anticipated. Every rule below also states what it deliberately lets
//! through. Findings never overlap: when two rules claim the same text, the longer match wins,
//! and on a tie the more specific kind (NHS number, then NI number, email, phone, postcode,
//! date of birth, named person) wins.
//!
//! Anything other than an email address that lies inside a URL (`http://…`, `https://…`,
//! `www.…`) is ignored: URLs are full of ids and dates that identify pages, not people.
//!
//! # NHS numbers ([`FindingKind::NhsNumber`])
//! Ten ASCII digits, written solid (`9434765919`) or as 3-3-4 groups split by a space, a
//! hyphen, a no-break or a thin space (`943 476 5919`, `943-476-5919`), whose last digit is the
//! modulus-11 check digit: weights 10 down to 2 on the first nine digits, check = 11 − (sum mod
//! 11), 11 becomes 0 and 10 means the number cannot exist.
//! Not flagged: numbers whose check digit is wrong (9 in 10 random ten-digit numbers); digits
//! glued to letters or to more digits (`ID9434765919`, `1.9434765919`, `9434765919-2`); money
//! (`£9434765919`); the placeholders `0123456789` and repeated digits (`0000000000`), which pass
//! the check by arithmetic accident.
//!
//! # National Insurance numbers ([`FindingKind::NiNumber`])
//! Two prefix letters, six digits (as one run, pairs `12 34 56`, or triples `123 456`) and a
//! suffix A–D, with optional single spaces or hyphens between groups. HMRC's prefix rules apply:
//! the first letter is not D, F, I, Q, U or V; the second is not D, F, I, O, Q, U or V; and BG,
//! GB, KN, NK, NT, TN and ZZ are never allocated. Upper case is flagged anywhere; lower case
//! (`ce 45 67 89 b`) only when "NI", "NINO" or "national insurance" appears in the 48 bytes
//! before it, because lower-case letter-digit strings are usually hashes or codes.
//! Not flagged: HMRC's specimen `QQ 12 34 56 C` (Q is not a valid first letter); numbers
//! without the suffix letter; mixed case (`Ab123456c`).
//!
//! # UK phone numbers ([`FindingKind::PhoneNumber`])
//! A national number of 10 or 11 digits starting 01, 02, 03, 07 or 08 (`07700 900123`,
//! `0161 496 0000`, `01632 960 001`), optionally with the area code in brackets
//! (`(020) 7946 0018`); or `+44`/`0044` followed by 9 or 10 digits, optionally with a bracketed
//! or stray trunk zero (`+44 (0)20 7946 0018`, `+447700900123`). Groups may be split by single
//! spaces or hyphens; every group has at least two digits and the first national group at
//! least three.
//! Not flagged: anything not starting with 0 or +44, so years, statistics, money and times
//! never qualify; numbers starting 00 (other than 0044), 04, 05, 06 or 09; short codes (999,
//! 111); digit runs longer than a phone number; numbers glued to letters, currency signs or
//! decimal points; dotted groups (`07700.900.123`).
//!
//! # Email addresses ([`FindingKind::EmailAddress`])
//! An ASCII local part, `@`, and a dotted domain ending in a 2–24 letter top-level domain.
//! Flagged inside URLs too (`?email=jo@example.org` identifies someone).
//! Not flagged: `@handles`; `user@localhost` (no dot); `react@latest`; retina image names like
//! `logo@2x.png` (top-level domains that are really file extensions); addresses spelled out
//! ("jo at example dot org"); internationalised (non-ASCII) addresses.
//!
//! # Postcodes ([`FindingKind::Postcode`])
//! Upper-case full postcodes in the six standard shapes (`M1 1AE`, `B33 8TH`, `CR2 6XH`,
//! `DN55 1PT`, `W1A 0AX`, `EC1A 1BB`) plus `GIR 0AA`, with Royal Mail's letter rules (first
//! letter not Q, V or X; second not I, J or Z; restricted letters in the third and fourth
//! place; inward letters not C, I, K, M, O or V). Without the space a postcode is flagged
//! when it is clearly one: at least six characters long (`SW1A1AA`, `B338TH`), or preceded
//! within 48 bytes by "postcode", "address", "lives", "moved" and similar.
//! Not flagged: lower or mixed case (`me1 2ab`): lower-case letter-digit mixes are common in
//! chat and rare as deliberate postcodes; outward codes on their own (`SW1A`, `M1`), which name
//! districts of thousands of people; roads (`M62`, `A1`); school years (`KS2`, `Y10`).
//!
//! # Dates of birth ([`FindingKind::DateOfBirth`])
//! A date next to a birth cue ("DOB", "D.O.B.", "date of birth", "birth date", "born",
//! "birthday", any case). Dates are `12/03/2015`, `12.03.15`, `12-03-2015` (one separator
//! kind, day-month or month-day), ISO `2009-07-14`, and written dates with a day
//! (`3rd March 2011`, `3 March`, `March 3, 2014`, `7th Jan`). The cue either comes first,
//! with at most six words between it and the date that can only connect them ("on", "is",
//! "was", "the", "of", "as", "her", "prematurely", "'s", capitalised place names…) and no
//! full stop, `!`, `?` or `;`; or it follows the date directly (`12/06/2013 (DOB)`). The
//! shorthand `b.` counts only straight before a date (`b. 12/05/2001`). Only the first date
//! after a cue counts. The finding covers the date, not the cue.
//! Not flagged: dates with no cue ("the meeting on 12/03/2015", post timestamps, debate
//! announcements); years or month-years alone ("born in 2011", "born in March 2011");
//! "reborn", "newborn"; a cue and a date joined by other words ("born in Leeds and the meeting
//! was held on 12/03/2019").
//!
//! # Named person with age ([`FindingKind::NamedPersonAge`])
//! A capitalised given name (one or two words, optionally after Mr, Mrs, Ms, Miss, Mx or Dr)
//! tied to an age of 1–110 or a number word up to ninety-nine:
//! - `Jack, aged 7`, `Jack aged 7`, `Priya (aged 11)`, `the child, Tom, age 6`;
//! - `Sarah, who is 34`, `Siobhán, who's 16`, `Mohammed, who is nearly 15`, `Dylan, now 12`;
//! - `Ellie is 5 years old`, `Leo was 9.`, `Harvey turned 18 last week`, `Leo is a
//!   9-year-old`, `Connor, a 13-year-old`;
//! - `Jack (7)`, `Kai (15 yrs)`, `Sam (M, 7)`;
//! - `a 9-year-old called Leo`, `10-year-old Marcus`, `the 14-year-old, Amira,`, `my
//!   6-year-old service user, Bella`;
//! - `Amira, 14,` or `Grace — 9 —` when the age is followed by a comma or dash and a lower-case
//!   word, carries a unit
//!   (`14 years old`, `14yrs`), the name has a title (`Mrs Patel, 82`), or a care or family
//!   role ("client", "service user", "young person", "child", "mum"…) appears in the 48 bytes
//!   before the name.
//!
//! Not flagged: sentence openers, pronouns, months, weekdays, role words on their own ("Mum",
//! "Baby"), document parts ("Table (3)", "Step (2)", "Section 47"), demonyms ("a 15-year-old
//! Asian girl"), plural nouns ("Referrals (12)"), a few nations and big cities, and words
//! with English place-name endings ("Bradford (11)", "Kirklees (9)") never count as names; citations (`Munro (2011)`, `Munro, 2011`) because four digits are never an age;
//! counts with units ("Sorry, 5 minutes late", "Leeds, 12%"); ages without names ("children
//! aged 7 to 11", "the boy (7)"); anonymised letters ("Child A, aged 9"); names in scripts
//! without capital letters. A pseudonym is flagged like a real name: the guard cannot tell.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

/// What kind of identifying detail a [`Finding`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    NhsNumber,
    NiNumber,
    PhoneNumber,
    EmailAddress,
    Postcode,
    DateOfBirth,
    NamedPersonAge,
}

impl FindingKind {
    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NhsNumber => "nhs_number",
            Self::NiNumber => "ni_number",
            Self::PhoneNumber => "phone_number",
            Self::EmailAddress => "email_address",
            Self::Postcode => "postcode",
            Self::DateOfBirth => "date_of_birth",
            Self::NamedPersonAge => "named_person_age",
        }
    }

    /// A short phrase for warnings: "This looks like {describe}."
    pub fn describe(self) -> &'static str {
        match self {
            Self::NhsNumber => "an NHS number",
            Self::NiNumber => "a National Insurance number",
            Self::PhoneNumber => "a phone number",
            Self::EmailAddress => "an email address",
            Self::Postcode => "a postcode",
            Self::DateOfBirth => "a date of birth",
            Self::NamedPersonAge => "a named person with their age",
        }
    }

    /// Tie-break between equally long overlapping matches: lower wins.
    fn specificity(self) -> u8 {
        match self {
            Self::NhsNumber => 0,
            Self::NiNumber => 1,
            Self::EmailAddress => 2,
            Self::PhoneNumber => 3,
            Self::Postcode => 5,
            Self::DateOfBirth => 6,
            Self::NamedPersonAge => 7,
        }
    }
}

/// One identifying detail found in scanned text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// Byte offset of the first byte of the match (a char boundary).
    pub start: usize,
    /// Byte offset just past the match (a char boundary).
    pub end: usize,
    /// The matched text, `&text[start..end]`.
    pub text: String,
}

/// Finds identifying details in `text`. Findings are sorted by `start` and never overlap.
pub fn scan(text: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    find_nhs_numbers(text, &mut found);
    find_ni_numbers(text, &mut found);
    find_phone_numbers(text, &mut found);
    find_email_addresses(text, &mut found);
    find_postcodes(text, &mut found);
    find_dates_of_birth(text, &mut found);
    find_named_person_ages(text, &mut found);
    drop_inside_urls(text, &mut found);
    resolve_overlaps(text, found)
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    kind: FindingKind,
    start: usize,
    end: usize,
    rank: u8,
}

impl Candidate {
    fn new(kind: FindingKind, start: usize, end: usize) -> Self {
        Self {
            kind,
            start,
            end,
            rank: kind.specificity(),
        }
    }
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("confidentiality patterns are valid")
}

/// Space-like separators people (and word processors) put between digit groups.
const GAP: &str = r"[ \-\x{A0}\x{2009}\x{202F}]";

// ---------------------------------------------------------------------------------------
// Shared helpers

fn char_before(text: &str, i: usize) -> Option<char> {
    text[..i].chars().next_back()
}

fn char_after(text: &str, i: usize) -> Option<char> {
    text[i..].chars().next()
}

/// The largest char boundary at or below `i`.
fn floor_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest char boundary at or above `i`.
fn ceil_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The `len` bytes (or fewer, on a char boundary) before `i`.
fn window_before(text: &str, i: usize, len: usize) -> &str {
    &text[floor_boundary(text, i.saturating_sub(len))..i]
}

/// True when the number at `start..end` is not glued to letters, currency or further digits
/// (`ID9434765919`, `£07700900123`, `1.9434765919`, `9434765919-2`, `07700900123%`).
fn number_stands_alone(text: &str, start: usize, end: usize) -> bool {
    let mut before = text[..start].chars().rev();
    match before.next() {
        Some(c) if c.is_alphanumeric() || c == '_' || matches!(c, '£' | '$' | '€' | '¥') => {
            return false
        }
        Some('.' | ',' | '-' | '/' | ':' | '+')
            if before.next().is_some_and(|d| d.is_ascii_digit()) =>
        {
            return false
        }
        _ => {}
    }
    let mut after = text[end..].chars();
    match after.next() {
        Some(c) if c.is_alphanumeric() || c == '_' || c == '%' => false,
        Some('.' | ',' | '-' | '/' | ':') => !after.next().is_some_and(|d| d.is_ascii_digit()),
        _ => true,
    }
}

fn ascii_digits(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

// ---------------------------------------------------------------------------------------
// NHS numbers

static NHS: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        "[0-9]{{3}}{GAP}[0-9]{{3}}{GAP}[0-9]{{4}}|[0-9]{{10}}"
    ))
});

/// The NHS modulus-11 check over exactly ten digits (each 0–9).
fn nhs_check_digit_ok(digits: &[u8]) -> bool {
    if digits.len() != 10 {
        return false;
    }
    let sum: u32 = digits[..9]
        .iter()
        .zip((2..=10u32).rev())
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return false,
        c => c,
    };
    check == u32::from(digits[9])
}

fn find_nhs_numbers(text: &str, out: &mut Vec<Candidate>) {
    for m in NHS.find_iter(text) {
        if !number_stands_alone(text, m.start(), m.end()) {
            continue;
        }
        let digits = ascii_digits(m.as_str());
        let placeholder =
            digits.iter().all(|&d| d == digits[0]) || digits == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        if placeholder || !nhs_check_digit_ok(&digits) {
            continue;
        }
        let mut c = Candidate::new(FindingKind::NhsNumber, m.start(), m.end());
        if digits[0] == 0 {
            // Leading zero: more likely a phone number that happens to pass the check.
            c.rank = 4;
        }
        out.push(c);
    }
}

// ---------------------------------------------------------------------------------------
// National Insurance numbers

static NI: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?-u:\b)([A-Za-z]{2})[ \-\x{A0}]?(?:[0-9]{2}[ \-\x{A0}]?[0-9]{2}[ \-\x{A0}]?[0-9]{2}|[0-9]{3}[ \-\x{A0}][0-9]{3})[ \-\x{A0}]?([A-Da-d])(?-u:\b)",
    )
});

static NI_CUE: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i-u)\b(?:nino|ni|national\s+insurance)\b|(?i-u)n\.i\."));

/// HMRC's allocation rules for the two prefix letters (upper case).
fn ni_prefix_ok(prefix: &str) -> bool {
    let b = prefix.as_bytes();
    if b.len() != 2 || !b.iter().all(u8::is_ascii_uppercase) {
        return false;
    }
    !b"DFIQUV".contains(&b[0])
        && !b"DFIOQUV".contains(&b[1])
        && !["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"].contains(&prefix)
}

fn find_ni_numbers(text: &str, out: &mut Vec<Candidate>) {
    for caps in NI.captures_iter(text) {
        let m = caps.get(0).expect("whole match");
        let (prefix, suffix) = (&caps[1], &caps[2]);
        if char_before(text, m.start()).is_some_and(char::is_alphanumeric)
            || char_after(text, m.end()).is_some_and(char::is_alphanumeric)
        {
            continue;
        }
        let upper = prefix
            .bytes()
            .chain(suffix.bytes())
            .all(|b| b.is_ascii_uppercase());
        let lower = prefix
            .bytes()
            .chain(suffix.bytes())
            .all(|b| b.is_ascii_lowercase());
        if !(upper || lower) || !ni_prefix_ok(&prefix.to_ascii_uppercase()) {
            continue;
        }
        if lower && !NI_CUE.is_match(window_before(text, m.start(), 48)) {
            continue;
        }
        out.push(Candidate::new(FindingKind::NiNumber, m.start(), m.end()));
    }
}

// ---------------------------------------------------------------------------------------
// Phone numbers

static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    let sep = r"[ \-\x{A0}]";
    regex(&format!(
        concat!(
            r"(?P<intl>\+44|(?-u:\b)0044){sep}?(?:\(0\){sep}?)?(?P<irest>[0-9]+(?:{sep}[0-9]+){{0,4}})",
            r"|\((?P<area>0[0-9]{{2,4}})\){sep}?(?P<arest>[0-9]+(?:{sep}[0-9]+){{0,3}})",
            r"|(?P<nat>0[0-9]*(?:{sep}[0-9]+){{0,4}})",
        ),
        sep = sep
    ))
});

fn digit_groups(s: &str) -> Vec<&str> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect()
}

fn uk_phone_ok(caps: &regex::Captures<'_>) -> bool {
    if let Some(rest) = caps.name("irest") {
        let groups = digit_groups(rest.as_str());
        if groups.iter().any(|g| g.len() < 2) {
            return false;
        }
        let mut nsn: String = groups.concat();
        if nsn.starts_with('0') {
            nsn.remove(0);
        }
        return (9..=10).contains(&nsn.len()) && nsn.starts_with(['1', '2', '3', '7', '8']);
    }
    let (first, rest) = if let (Some(area), Some(rest)) = (caps.name("area"), caps.name("arest")) {
        (area.as_str(), rest.as_str())
    } else if let Some(nat) = caps.name("nat") {
        let groups = digit_groups(nat.as_str());
        match groups.split_first() {
            Some((first, _)) => (*first, &nat.as_str()[first.len()..]),
            None => return false,
        }
    } else {
        return false;
    };
    let rest_groups = digit_groups(rest);
    if first.len() < 3 || rest_groups.iter().any(|g| g.len() < 2) {
        return false;
    }
    let digits = first.len() + rest_groups.iter().map(|g| g.len()).sum::<usize>();
    (10..=11).contains(&digits) && first[1..].starts_with(['1', '2', '3', '7', '8'])
}

fn find_phone_numbers(text: &str, out: &mut Vec<Candidate>) {
    let mut pos = 0;
    while let Some(caps) = PHONE.captures_at(text, pos) {
        let m = caps.get(0).expect("whole match");
        pos = m.end();
        // A match that starts inside a longer digit run ("2013 0161…" matching at "013") would
        // swallow the real number after it, so resume just past the digits it started in.
        if char_before(text, m.start()).is_some_and(|c| c.is_ascii_digit()) {
            let run = text[m.start()..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len() - m.start());
            pos = m.start() + run.max(1);
            continue;
        }
        // The group limit cut a longer run short: that is not a phone number.
        let mut after = text[m.end()..].chars();
        let cut_short = matches!(after.next(), Some(' ' | '-' | '\u{A0}'))
            && after.next().is_some_and(|c| c.is_ascii_digit());
        if cut_short || !number_stands_alone(text, m.start(), m.end()) || !uk_phone_ok(&caps) {
            continue;
        }
        out.push(Candidate::new(FindingKind::PhoneNumber, m.start(), m.end()));
    }
}

// ---------------------------------------------------------------------------------------
// Email addresses

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"[A-Za-z0-9_](?:[A-Za-z0-9._%+\-]*[A-Za-z0-9_%+\-])?@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+(?P<tld>[A-Za-z]{2,24})(?-u:\b)",
    )
});

/// Top-level domains that, after an `@`, are really file extensions (`logo@2x.png`).
const FILE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "css", "js", "json", "html", "htm",
    "php", "txt", "pdf", "md",
];

fn find_email_addresses(text: &str, out: &mut Vec<Candidate>) {
    for caps in EMAIL.captures_iter(text) {
        let m = caps.get(0).expect("whole match");
        let tld = caps["tld"].to_ascii_lowercase();
        if FILE_EXTENSIONS.contains(&tld.as_str()) {
            continue;
        }
        out.push(Candidate::new(
            FindingKind::EmailAddress,
            m.start(),
            m.end(),
        ));
    }
}

// ---------------------------------------------------------------------------------------
// Postcodes

static POSTCODE: LazyLock<Regex> = LazyLock::new(|| {
    regex(concat!(
        r"(?-u:\b)(?:GIR(?P<gsep>[ \x{A0}]?)0AA",
        r"|[A-PR-UWYZ](?:[0-9][0-9]?|[A-HK-Y][0-9][0-9]?|[0-9][A-HJKPSTUW]|[A-HK-Y][0-9][ABEHMNPRVWXY])",
        r"(?P<sep>[ \x{A0}]?)[0-9][ABD-HJLNP-UW-Z]{2})(?-u:\b)",
    ))
});

static POSTCODE_CUE: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"(?i-u)\b(?:post\s?code|address|lives|living|live|moved|based|located)\b")
});

fn find_postcodes(text: &str, out: &mut Vec<Candidate>) {
    for caps in POSTCODE.captures_iter(text) {
        let m = caps.get(0).expect("whole match");
        if char_before(text, m.start()).is_some_and(char::is_alphanumeric)
            || char_after(text, m.end()).is_some_and(char::is_alphanumeric)
        {
            continue;
        }
        let spaced = caps
            .name("sep")
            .or_else(|| caps.name("gsep"))
            .is_some_and(|s| !s.is_empty());
        let clearly =
            spaced || m.len() >= 6 || POSTCODE_CUE.is_match(window_before(text, m.start(), 48));
        if clearly {
            out.push(Candidate::new(FindingKind::Postcode, m.start(), m.end()));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Dates of birth

const MONTH: &str = r"(?:(?i:january|february|march|april|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)|May)";

static DATE: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        concat!(
            r"(?-u:\b)(?:",
            r"(?P<d1>[0-9]{{1,2}})(?P<s1>[/.\-])(?P<m1>[0-9]{{1,2}})(?P<s2>[/.\-])(?:[0-9]{{4}}|[0-9]{{2}})",
            r"|(?:19|20)[0-9]{{2}}(?P<s3>[/.\-])(?P<m3>[0-9]{{1,2}})(?P<s4>[/.\-])(?P<d3>[0-9]{{1,2}})",
            r"|(?P<d5>[0-9]{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+{month}(?:,?\s+[0-9]{{4}})?",
            r"|{month}\.?\s+(?P<d6>[0-9]{{1,2}})(?:st|nd|rd|th)?(?:,?\s+[0-9]{{4}})?",
            r")(?-u:\b)",
        ),
        month = MONTH
    ))
});

static BIRTH_CUE: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"(?i-u)\b(?:d\.?o\.?b\b\.?|(?:date\s+of\s+birth|birth\s?date|birthday|born)\b)")
});

/// `b. 12/05/2001`: genealogical shorthand, only counted when the date follows at once.
static TIGHT_BIRTH_CUE: LazyLock<Regex> = LazyLock::new(|| regex(r"(?-u:\b)b\.[ ]?$"));

/// Words that can sit between a birth cue and its date ("born prematurely on the 3rd…").
const BIRTH_GAP_WORDS: &[&str] = &[
    "on",
    "in",
    "is",
    "was",
    "were",
    "the",
    "of",
    "as",
    "at",
    "a",
    "be",
    "to",
    "her",
    "his",
    "their",
    "its",
    "my",
    "our",
    "your",
    "date",
    "dated",
    "given",
    "recorded",
    "listed",
    "shown",
    "stated",
    "noted",
    "reported",
    "registered",
    "around",
    "about",
    "approximately",
    "approx",
    "circa",
    "early",
    "late",
    "prematurely",
    "sometime",
    "s",
];

fn plausible_day_month(day: &str, month: &str) -> bool {
    let (d, m): (u32, u32) = match (day.parse(), month.parse()) {
        (Ok(d), Ok(m)) => (d, m),
        _ => return false,
    };
    let dmy = (1..=31).contains(&d) && (1..=12).contains(&m);
    let mdy = (1..=12).contains(&d) && (1..=31).contains(&m);
    dmy || mdy
}

fn plausible_date(caps: &regex::Captures<'_>) -> bool {
    let same =
        |a: &str, b: &str| caps.name(a).map(|m| m.as_str()) == caps.name(b).map(|m| m.as_str());
    if let (Some(d), Some(m)) = (caps.name("d1"), caps.name("m1")) {
        return same("s1", "s2") && plausible_day_month(d.as_str(), m.as_str());
    }
    if let (Some(d), Some(m)) = (caps.name("d3"), caps.name("m3")) {
        let (d, m): (u32, u32) = (
            d.as_str().parse().unwrap_or(0),
            m.as_str().parse().unwrap_or(0),
        );
        return same("s3", "s4") && (1..=31).contains(&d) && (1..=12).contains(&m);
    }
    let day = caps.name("d5").or_else(|| caps.name("d6"));
    day.and_then(|d| d.as_str().parse::<u32>().ok())
        .is_some_and(|d| (1..=31).contains(&d))
}

/// True when the text between a birth cue and a date only connects the two.
fn birth_gap_ok(gap: &str) -> bool {
    if gap.len() > 60 || gap.contains(['.', '!', '?', ';', '\n']) {
        return false;
    }
    let words: Vec<&str> = gap
        .split(|c: char| c.is_whitespace() || ":,()[]-–—'’\"".contains(c))
        .filter(|w| !w.is_empty())
        .collect();
    words.len() <= 6
        && words.iter().all(|w| {
            BIRTH_GAP_WORDS.contains(&w.to_lowercase().as_str())
                || (w.chars().next().is_some_and(char::is_uppercase)
                    && w.chars().skip(1).all(char::is_lowercase))
        })
}

fn find_dates_of_birth(text: &str, out: &mut Vec<Candidate>) {
    let dates: Vec<(usize, usize)> = DATE
        .captures_iter(text)
        .filter(|c| plausible_date(c))
        .map(|c| {
            let m = c.get(0).expect("whole match");
            (m.start(), m.end())
        })
        .collect();
    if dates.is_empty() {
        return;
    }
    let mut flagged = vec![false; dates.len()];
    for cue in BIRTH_CUE.find_iter(text) {
        let i = dates.partition_point(|&(start, _)| start < cue.end());
        if let Some(&(start, _)) = dates.get(i) {
            if birth_gap_ok(&text[cue.end()..start]) {
                flagged[i] = true;
            }
        }
    }
    for (i, &(start, _)) in dates.iter().enumerate() {
        if TIGHT_BIRTH_CUE.is_match(window_before(text, start, 4)) {
            flagged[i] = true;
        }
    }
    for (i, &(_, end)) in dates.iter().enumerate() {
        if flagged[i] {
            continue;
        }
        // "12/06/2013 (DOB)": the cue straight after the date.
        let tail = &text[end..ceil_boundary(text, end + 24)];
        let lead = tail.len()
            - tail
                .trim_start_matches(|c: char| c.is_whitespace() || "([,-–:".contains(c))
                .len();
        if lead <= 3
            && BIRTH_CUE
                .find(&tail[lead..])
                .is_some_and(|m| m.start() == 0)
        {
            flagged[i] = true;
        }
    }
    for (i, &(start, end)) in dates.iter().enumerate() {
        if flagged[i] {
            out.push(Candidate::new(FindingKind::DateOfBirth, start, end));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Named person with age

/// One capitalised name word: `Jack`, `Zoë`, `McDonald`, `Anne-Marie`, `O'Neill`.
const NAME_WORD: &str =
    r"(?:\p{Lu}\p{Ll}+(?:\p{Lu}\p{Ll}+)?(?:-\p{Lu}?\p{Ll}+)?|\p{Lu}['’]\p{Lu}\p{Ll}+)";
/// Words that soften an age without changing what it says: "who is nearly 15".
const QUALIFIER: &str = r"(?:now|only|just|nearly|almost|about|around|barely|over|under)";
const TITLE: &str = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?";
const AGE_WORD: &str = r"(?i:thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|eleven|twelve|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?|one|two|three|four|five|six|seven|eight|nine|ten)";

/// The name, preceded by something that is not part of a word (consumed, so the regex needs no
/// Unicode word boundary and stays on the fast engines).
fn name_prefix() -> String {
    format!(
        r"(?:^|[^\p{{L}}\p{{N}}_'’\-])(?P<name>(?:{TITLE}[ \x{{A0}}]+)?{NAME_WORD}(?:[ \x{{A0}}]+{NAME_WORD})?)"
    )
}

fn age() -> String {
    format!(r"(?P<age>[0-9]{{1,3}}|{AGE_WORD})(?-u:\b)")
}

/// `Jack, aged 7`, `Jack (aged 7)`, `Tom, age 6`.
static AGED: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"{}(?:,[ ]*|[ ]+)\(?(?:(?:is|now)[ ]+)?aged?[ ]+{}",
        name_prefix(),
        age()
    ))
});

/// `Sarah, who is 34`, `Siobhán, who's 16`, `Dylan, now 12`.
static WHO_IS: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"{},[ ]+(?:(?:who|that)(?:[ ]+is|[ ]+was|['’]s)(?:[ ]+{QUALIFIER})?|{QUALIFIER})[ ]+{}",
        name_prefix(),
        age()
    ))
});

/// `Ellie is 5 years old`, `Leo was 9.`, `Leo is a 9-year-old`, `Connor, a 13-year-old`.
static IS_AGE: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"{}(?:[ ]+(?P<verb>is|was|(?:has[ ]+)?(?:just[ ]+)?turned|turns|will[ ]+be)[ ]+{}|(?:,[ ]+|[ ]+(?:is|was)[ ]+)an?[ ]+(?P<age2>[0-9]{{1,3}}|{AGE_WORD})[- ](?:year|yr)s?[- ]old)",
        name_prefix(),
        age()
    ))
});

/// `Jack (7)`, `Kai (15 yrs)`, `Sam (M, 7)`.
static PAREN_AGE: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"{}[ ]?\([ ]*(?:[MFmf][ ]*,[ ]*)?(?P<age>[0-9]{{1,3}})[ ]*(?:yrs?|years?(?:[ ]+old)?|y/?o|months?|mths?)?(?:[ ]*,[ ]*[MFmf])?[ ]*\)",
        name_prefix()
    ))
});

/// `Amira, 14,` or `Grace — 9 —`: needs more evidence, checked in code.
static COMMA_AGE: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"{}(?:,[ ]+|[ ]+[-–—][ ]+|[–—]){}(?P<unit>[ ]*(?:years?[ -]old|yrs?(?:[ ]+old)?|y/?o|months?[ -]old))?",
        name_prefix(),
        age()
    ))
});

/// `a 9-year-old called Leo`, `10-year-old Marcus`, `the 14-year-old, Amira,`.
static AGE_THEN_NAME: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"(?-u:\b)(?P<age>[0-9]{{1,3}}|{AGE_WORD})[- ](?:year|yr)s?[- ]old(?:[ ]+(?:boy|girl|child|son|daughter|lad|baby|toddler|teenager|man|woman|client|service[ ]user|young[ ]person|pupil|resident|patient|foster[ ]child))?(?P<link>,?[ ]+(?:called|named|known[ ]+as))?,?[ ]+(?P<name>(?:{TITLE}[ ]+)?{NAME_WORD}(?:[ ]+{NAME_WORD})?)"
    ))
});

static CARE_ROLE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i-u)\b(?:client|service[ -]user|child|children|boy|girl|son|daughter|young[ ]person|young[ ]people|baby|toddler|infant|teen|teenager|pupil|student|resident|patient|sibling|brother|sister|mum|mother|dad|father|grandmother|grandfather|grandma|grandad|nan|gran|grandson|granddaughter|niece|nephew|cousin|aunt|auntie|uncle|carer|man|woman|lad|kid|adult|person|tenant|neighbour|partner|wife|husband|care[ ]leaver|foster)s?\b",
    )
});

/// Capitalised words that are never a given name here: sentence openers, pronouns, calendar
/// words, role words, document parts, demonyms and a few places. Compared in lower case.
const NOT_NAMES: &[&str] = &[
    // articles, pronouns, determiners, conjunctions, prepositions, openers
    "a",
    "an",
    "the",
    "this",
    "that",
    "these",
    "those",
    "it",
    "its",
    "we",
    "you",
    "he",
    "she",
    "they",
    "me",
    "him",
    "her",
    "us",
    "them",
    "my",
    "our",
    "your",
    "his",
    "their",
    "who",
    "whom",
    "whose",
    "what",
    "which",
    "why",
    "how",
    "where",
    "when",
    "whenever",
    "if",
    "unless",
    "whether",
    "and",
    "but",
    "or",
    "nor",
    "so",
    "yet",
    "for",
    "because",
    "since",
    "as",
    "though",
    "although",
    "while",
    "whilst",
    "whereas",
    "after",
    "before",
    "during",
    "until",
    "till",
    "once",
    "then",
    "than",
    "now",
    "here",
    "there",
    "today",
    "tonight",
    "tomorrow",
    "yesterday",
    "yes",
    "no",
    "not",
    "nope",
    "yeah",
    "yep",
    "ok",
    "okay",
    "oh",
    "hi",
    "hello",
    "hey",
    "dear",
    "thanks",
    "thank",
    "cheers",
    "sorry",
    "please",
    "well",
    "also",
    "again",
    "still",
    "just",
    "only",
    "even",
    "some",
    "any",
    "all",
    "both",
    "each",
    "every",
    "either",
    "neither",
    "many",
    "much",
    "more",
    "most",
    "few",
    "several",
    "such",
    "other",
    "another",
    "in",
    "on",
    "at",
    "by",
    "to",
    "from",
    "of",
    "off",
    "up",
    "down",
    "out",
    "over",
    "under",
    "into",
    "onto",
    "with",
    "within",
    "without",
    "about",
    "above",
    "below",
    "between",
    "among",
    "across",
    "around",
    "through",
    "throughout",
    "against",
    "along",
    "behind",
    "beyond",
    "near",
    "per",
    "via",
    "like",
    "unlike",
    "including",
    "except",
    "perhaps",
    "maybe",
    "really",
    "actually",
    "basically",
    "honestly",
    "sadly",
    "luckily",
    "fortunately",
    "unfortunately",
    "thankfully",
    "hopefully",
    "clearly",
    "obviously",
    "recently",
    "currently",
    "previously",
    "initially",
    "eventually",
    "finally",
    "meanwhile",
    "otherwise",
    "however",
    "therefore",
    "instead",
    "overall",
    "anyway",
    "indeed",
    "agreed",
    "absolutely",
    "exactly",
    "definitely",
    "great",
    "good",
    "nice",
    "interesting",
    "true",
    "right",
    "sure",
    "fine",
    "lol",
    "note",
    "see",
    "ask",
    "let",
    "can",
    "could",
    "would",
    "should",
    "will",
    "shall",
    "might",
    "must",
    "do",
    "does",
    "did",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "have",
    "has",
    "had",
    "get",
    "got",
    "make",
    "take",
    "look",
    "try",
    "keep",
    "think",
    "know",
    "remember",
    "imagine",
    "consider",
    "welcome",
    "join",
    "reply",
    "update",
    "edit",
    "edited",
    "re",
    "fwd",
    "ps",
    "nb",
    "everyone",
    "everybody",
    "someone",
    "somebody",
    "anyone",
    "anybody",
    "nobody",
    "none",
    "aged",
    "age",
    "ages",
    "born",
    "last",
    "next",
    "first",
    "second",
    "third",
    "final",
    "number",
    "total",
    "new",
    "old",
    "young",
    "older",
    "elderly",
    // number words
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "hundred",
    "thousand",
    "million",
    // calendar
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "mon",
    "tue",
    "tues",
    "wed",
    "thu",
    "thur",
    "thurs",
    "fri",
    "sat",
    "sun",
    "christmas",
    "easter",
    "ramadan",
    "eid",
    "diwali",
    "hanukkah",
    "week",
    "weeks",
    "day",
    "days",
    "month",
    "months",
    "year",
    "years",
    "hour",
    "hours",
    "minute",
    "minutes",
    "term",
    "spring",
    "summer",
    "autumn",
    "winter",
    // roles on their own
    "child",
    "children",
    "kid",
    "kids",
    "baby",
    "babies",
    "boy",
    "boys",
    "girl",
    "girls",
    "son",
    "sons",
    "daughter",
    "daughters",
    "mum",
    "mom",
    "mummy",
    "mother",
    "dad",
    "daddy",
    "father",
    "parent",
    "parents",
    "nan",
    "nana",
    "nanna",
    "gran",
    "granny",
    "grandma",
    "grandad",
    "grandpa",
    "grandmother",
    "grandfather",
    "auntie",
    "aunt",
    "uncle",
    "brother",
    "sister",
    "sibling",
    "siblings",
    "twins",
    "client",
    "clients",
    "person",
    "people",
    "adult",
    "adults",
    "man",
    "men",
    "woman",
    "women",
    "teen",
    "teens",
    "teenager",
    "teenagers",
    "pupil",
    "pupils",
    "student",
    "students",
    "learner",
    "learners",
    "resident",
    "residents",
    "patient",
    "patients",
    "carer",
    "carers",
    "family",
    "families",
    "worker",
    "workers",
    "staff",
    "manager",
    "practitioner",
    "member",
    "members",
    "participant",
    "participants",
    "service",
    "user",
    "users",
    "youth",
    "infant",
    "toddler",
    "toddlers",
    "partner",
    "wife",
    "husband",
    "social",
    "foster",
    "mp",
    "councillor",
    "judge",
    "officer",
    "nurse",
    "doctor",
    "teacher",
    "head",
    "chair",
    "author",
    "guest",
    "host",
    "moderator",
    "admin",
    "team",
    "group",
    "panel",
    "council",
    "trust",
    "court",
    "school",
    "class",
    "ward",
    "unit",
    "case",
    "cases",
    // document and debate parts
    "page",
    "pages",
    "section",
    "sections",
    "chapter",
    "chapters",
    "figure",
    "fig",
    "table",
    "appendix",
    "annex",
    "paragraph",
    "para",
    "line",
    "lines",
    "item",
    "items",
    "point",
    "points",
    "step",
    "steps",
    "stage",
    "stages",
    "level",
    "levels",
    "phase",
    "module",
    "part",
    "parts",
    "question",
    "questions",
    "answer",
    "answers",
    "option",
    "options",
    "version",
    "rule",
    "rules",
    "article",
    "act",
    "regulation",
    "standard",
    "grade",
    "band",
    "tier",
    "room",
    "floor",
    "box",
    "key",
    "top",
    "bottom",
    "round",
    "session",
    "sessions",
    "topic",
    "topics",
    "debate",
    "debates",
    "poll",
    "polls",
    "vote",
    "votes",
    "comment",
    "comments",
    "thought",
    "thoughts",
    "post",
    "posts",
    "thread",
    "threads",
    "likes",
    "views",
    "slide",
    "slides",
    "video",
    "episode",
    "issue",
    "issues",
    "task",
    "goal",
    "plan",
    "review",
    // demonyms, faiths, descriptions
    "asian",
    "black",
    "white",
    "mixed",
    "british",
    "english",
    "scottish",
    "welsh",
    "irish",
    "northern",
    "pakistani",
    "indian",
    "bangladeshi",
    "chinese",
    "african",
    "caribbean",
    "arab",
    "polish",
    "romanian",
    "roma",
    "traveller",
    "gypsy",
    "somali",
    "syrian",
    "afghan",
    "eritrean",
    "sudanese",
    "kurdish",
    "iranian",
    "iraqi",
    "albanian",
    "vietnamese",
    "nigerian",
    "ghanaian",
    "european",
    "american",
    "muslim",
    "christian",
    "jewish",
    "sikh",
    "hindu",
    "catholic",
    "deaf",
    "autistic",
    "disabled",
    "lgbt",
    "lgbtq",
    // nations and big cities, which appear with counts in reports
    "uk",
    "britain",
    "england",
    "scotland",
    "wales",
    "ireland",
    "london",
    "birmingham",
    "manchester",
    "leeds",
    "liverpool",
    "sheffield",
    "bristol",
    "newcastle",
    "glasgow",
    "edinburgh",
    "cardiff",
    "belfast",
    "europe",
    "covid",
    "brexit",
    "ofsted",
    "cafcass",
    "google",
    "zoom",
    "teams",
    "twitter",
    "facebook",
    "instagram",
    "tiktok",
    "youtube",
];

/// Endings of plural and abstract nouns that given names do not share ("Referrals",
/// "Assessments"). Checked on the first name word only: surnames end in anything.
const NOUN_ENDINGS: &[&str] = &[
    "tions", "sions", "ments", "ings", "ness", "ities", "als", "ers", "ors", "ists",
];

/// Endings of English place names, which turn up with counts ("Bradford (11)", "Kirklees (9)").
/// Not checked after a title: "Mr Bradford" is a person.
const PLACE_ENDINGS: &[&str] = &[
    "ford", "dale", "lees", "shire", "bury", "caster", "chester", "cester", "borough", "brough",
    "mouth", "field", "pool", "wich", "minster", "ington",
];

fn is_title(word: &str) -> bool {
    matches!(
        word.trim_end_matches('.'),
        "Mr" | "Mrs" | "Ms" | "Miss" | "Mx" | "Dr"
    )
}

fn is_not_a_name(word: &str) -> bool {
    NOT_NAMES.contains(&word.to_lowercase().as_str())
}

fn looks_like_a_noun_or_place(word: &str) -> bool {
    let lower = word.to_lowercase();
    let ends = |endings: &[&str]| {
        endings
            .iter()
            .any(|e| lower.len() >= e.len() + 2 && lower.ends_with(e))
    };
    ends(NOUN_ENDINGS) || ends(PLACE_ENDINGS)
}

/// Trims leading non-names ("When Dylan" → "Dylan") and rejects what is left if it is not a
/// name. Returns the name's span and whether it carries a title.
fn clean_name(text: &str, start: usize, end: usize) -> Option<(usize, usize, bool)> {
    let words: Vec<(usize, &str)> = text[start..end]
        .split_whitespace()
        .map(|w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
        .collect();
    let mut rest = &words[..];
    if let Some(((_, w), tail)) = rest.split_first() {
        if is_title(w) {
            if tail.is_empty() || tail.iter().any(|(_, w)| is_not_a_name(w)) {
                return None;
            }
            return Some((start, end, true));
        }
    }
    while let Some(((_, w), tail)) = rest.split_first() {
        if !is_not_a_name(w) {
            break;
        }
        rest = tail;
    }
    let (first, first_word) = rest.first()?;
    if looks_like_a_noun_or_place(first_word)
        || rest.iter().any(|(_, w)| is_not_a_name(w) || is_title(w))
    {
        return None;
    }
    Some((*first, end, false))
}

fn age_value_ok(age: &str) -> bool {
    match age.parse::<u32>() {
        Ok(n) => (1..=110).contains(&n),
        Err(_) => true, // a number word, which the pattern limits to 1–99
    }
}

/// Words after a number that make it a count, not an age ("5 minutes late", "12 per 1,000").
const COUNT_UNITS: &[&str] = &[
    "minutes",
    "minute",
    "mins",
    "min",
    "hours",
    "hour",
    "hrs",
    "seconds",
    "miles",
    "mile",
    "km",
    "metres",
    "meters",
    "percent",
    "per",
    "pounds",
    "pence",
    "quid",
    "people",
    "children",
    "kids",
    "referrals",
    "cases",
    "times",
    "days",
    "weeks",
    "pages",
    "points",
    "sessions",
    "families",
    "members",
    "visits",
    "calls",
    "hundred",
    "thousand",
    "million",
    "am",
    "pm",
    "of",
    "out",
    "to",
    "or",
    "more",
    "less",
    "other",
    "others",
    "new",
    "x",
];

/// What follows an age must end the phrase or carry on the sentence, not turn the number
/// into a count, a decimal or a time.
fn age_end_ok(text: &str, end: usize) -> bool {
    let rest = &text[end..];
    let mut chars = rest.chars();
    match chars.next() {
        None => return true,
        Some(c) if c.is_ascii_digit() || c == '%' => return false,
        Some('.' | ',' | ':' | '/') if chars.next().is_some_and(|c| c.is_ascii_digit()) => {
            return false
        }
        _ => {}
    }
    let next_word: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphabetic())
        .collect::<String>()
        .to_lowercase();
    !COUNT_UNITS.contains(&next_word.as_str())
}

/// After `Amira, 14` the phrase must stop: punctuation, the end, or "and"/"who".
fn comma_age_closed(text: &str, end: usize) -> bool {
    let rest = &text[end..];
    let mut chars = rest.chars();
    match chars.next() {
        None => true,
        Some(',' | ';' | ':' | '!' | '?' | ')' | '.' | '–' | '—') => {
            !chars.next().is_some_and(|c| c.is_ascii_digit())
        }
        Some(' ') => {
            let word: String = rest[1..]
                .chars()
                .take_while(|c| c.is_alphabetic() || matches!(c, '-' | '–' | '—'))
                .collect();
            matches!(word.as_str(), "and" | "who" | "-" | "–" | "—")
        }
        _ => false,
    }
}

/// `Amira, 14, has…`, `Grace — 9 — lives…`: the aside closes and a lower-case word carries the
/// sentence on about the person.
fn continues_about_person(text: &str, end: usize) -> bool {
    let rest = text[end..].trim_start_matches(' ');
    let Some(rest) = rest
        .strip_prefix(',')
        .or_else(|| rest.strip_prefix(['-', '–', '—']))
    else {
        return false;
    };
    rest.strip_prefix(' ')
        .and_then(|r| r.chars().next())
        .is_some_and(char::is_lowercase)
}

fn find_named_person_ages(text: &str, out: &mut Vec<Candidate>) {
    let kind = FindingKind::NamedPersonAge;
    let named = |caps: &regex::Captures<'_>| {
        let name = caps.name("name").expect("name group");
        clean_name(text, name.start(), name.end())
    };

    for caps in AGED.captures_iter(text) {
        let age = caps.name("age").expect("age group");
        if let Some((start, _, _)) = named(&caps) {
            if age_value_ok(age.as_str()) {
                out.push(Candidate::new(kind, start, age.end()));
            }
        }
    }
    for caps in WHO_IS.captures_iter(text) {
        let age = caps.name("age").expect("age group");
        if let Some((start, _, _)) = named(&caps) {
            if age_value_ok(age.as_str()) && age_end_ok(text, age.end()) {
                out.push(Candidate::new(kind, start, age.end()));
            }
        }
    }
    for caps in IS_AGE.captures_iter(text) {
        let Some((start, _, _)) = named(&caps) else {
            continue;
        };
        let m = caps.get(0).expect("whole match");
        if let Some(age) = caps.name("age") {
            // "Harvey turned 18 last week" is unambiguous; "Leeds is 12 miles away" is not,
            // so "is" and "was" need the phrase to close or to say "years old".
            let turned = caps
                .name("verb")
                .is_some_and(|v| !matches!(v.as_str(), "is" | "was"));
            let closed = if turned {
                age_end_ok(text, age.end())
            } else {
                comma_age_closed(text, age.end())
                    || text[age.end()..].starts_with(" years old")
                    || text[age.end()..].starts_with(" year old")
                    || text[age.end()..].starts_with(" when")
            };
            if age_value_ok(age.as_str()) && closed {
                out.push(Candidate::new(kind, start, age.end()));
            }
        } else if caps.name("age2").is_some_and(|a| age_value_ok(a.as_str())) {
            out.push(Candidate::new(kind, start, m.end()));
        }
    }
    for caps in PAREN_AGE.captures_iter(text) {
        let m = caps.get(0).expect("whole match");
        if let Some((start, _, _)) = named(&caps) {
            if age_value_ok(&caps["age"]) {
                out.push(Candidate::new(kind, start, m.end()));
            }
        }
    }
    for caps in COMMA_AGE.captures_iter(text) {
        let m = caps.get(0).expect("whole match");
        let Some((start, _, titled)) = named(&caps) else {
            continue;
        };
        let age = caps.name("age").expect("age group");
        let has_unit = caps.name("unit").is_some();
        if !age_value_ok(age.as_str()) || !comma_age_closed(text, m.end()) {
            continue;
        }
        let evidence = titled
            || has_unit
            || continues_about_person(text, m.end())
            || CARE_ROLE.is_match(window_before(text, start, 48));
        if evidence {
            out.push(Candidate::new(kind, start, m.end()));
        }
    }
    for caps in AGE_THEN_NAME.captures_iter(text) {
        let age = caps.name("age").expect("age group");
        let name = caps.name("name").expect("name group");
        if char_before(text, age.start()).is_some_and(char::is_alphanumeric)
            || !age_value_ok(age.as_str())
        {
            continue;
        }
        // The name must follow the age directly: no opener or role word in between.
        let Some((start, end, _)) = clean_name(text, name.start(), name.end()) else {
            continue;
        };
        if start != name.start() {
            continue;
        }
        // "a 15-year-old Asian girl": a description followed by a person noun.
        let linked = caps.name("link").is_some();
        let next: String = text[end..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphabetic())
            .collect();
        if !linked && CARE_ROLE.is_match(&next) && !next.is_empty() {
            continue;
        }
        out.push(Candidate::new(kind, age.start(), end));
    }
}

// ---------------------------------------------------------------------------------------
// Putting it together

static URL: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)(?:https?://|(?-u:\b)www\.)[^\s<>\x22']+"));

fn drop_inside_urls(text: &str, found: &mut Vec<Candidate>) {
    if found.is_empty() {
        return;
    }
    let urls: Vec<(usize, usize)> = URL.find_iter(text).map(|m| (m.start(), m.end())).collect();
    if urls.is_empty() {
        return;
    }
    found.retain(|c| {
        if c.kind == FindingKind::EmailAddress {
            return true;
        }
        // The last URL starting before this candidate ends.
        let i = urls.partition_point(|&(start, _)| start < c.end);
        !(i > 0 && urls[i - 1].1 > c.start)
    });
}

/// Longest match first, then the most specific kind; keeps only non-overlapping findings.
fn resolve_overlaps(text: &str, mut found: Vec<Candidate>) -> Vec<Finding> {
    found.sort_by_key(|c| (std::cmp::Reverse(c.end - c.start), c.rank, c.start));
    let mut kept: BTreeMap<usize, Candidate> = BTreeMap::new();
    for c in found {
        let clash = kept
            .range(..c.end)
            .next_back()
            .is_some_and(|(_, k)| k.end > c.start);
        if !clash {
            kept.insert(c.start, c);
        }
    }
    kept.into_values()
        .map(|c| Finding {
            kind: c.kind,
            start: c.start,
            end: c.end,
            text: text[c.start..c.end].to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn kinds(text: &str) -> Vec<(FindingKind, &str)> {
        scan(text)
            .into_iter()
            .map(|f| (f.kind, &text[f.start..f.end]))
            .collect()
    }

    fn digits(s: &str) -> Vec<u8> {
        ascii_digits(s)
    }

    #[test]
    fn nhs_check_digit_follows_modulus_11() {
        assert!(nhs_check_digit_ok(&digits("9434765919")));
        assert!(nhs_check_digit_ok(&digits("4010232137")));
        // 9*10 + 9*9 + 9*8 + 1*3 + 2*2 = 250; 250 mod 11 = 8; 11 - 8 = 3.
        assert!(nhs_check_digit_ok(&digits("9990000123")));
        // Remainder 0 → 11 → check digit 0.
        let zero = (0..=9)
            .map(|d| format!("99900000{d}"))
            .find_map(|base| {
                let n = format!("{base}0");
                nhs_check_digit_ok(&digits(&n)).then_some(n)
            })
            .expect("some nine-digit base has check digit 0");
        assert!(zero.ends_with('0'));
        // Wrong check digit.
        assert!(!nhs_check_digit_ok(&digits("9434765918")));
        // Remainder 1 → 10 → no valid number with this base, whatever the last digit.
        assert!((0..=9).all(|d| !nhs_check_digit_ok(&digits(&format!("999123456{d}")))));
        assert!(!nhs_check_digit_ok(&digits("943476591")));
    }

    #[test]
    fn nhs_numbers_in_common_spacings_are_flagged() {
        for s in [
            "9434765919",
            "943 476 5919",
            "943-476-5919",
            "943\u{a0}476\u{a0}5919",
            "943\u{2009}476\u{2009}5919",
        ] {
            let text = format!("NHS {s}.");
            assert_eq!(kinds(&text), vec![(FindingKind::NhsNumber, s)], "{s}");
        }
    }

    #[test]
    fn nhs_lookalikes_are_not_flagged() {
        for text in [
            "ref 9434765918",      // wrong check digit
            "ID9434765919",        // glued to letters
            "19434765919",         // longer digit run
            "1.9434765919",        // decimal
            "9434765919-2",        // longer run
            "£9434765919",         // money
            "0000000000",          // placeholder that passes the check
            "call 0123456789 now", // placeholder that passes the check
        ] {
            assert!(
                !kinds(text)
                    .iter()
                    .any(|(k, _)| *k == FindingKind::NhsNumber),
                "{text}: {:?}",
                kinds(text)
            );
        }
    }

    #[test]
    fn ni_prefix_rules_follow_hmrc() {
        assert!(ni_prefix_ok("AB"));
        assert!(ni_prefix_ok("JG"));
        assert!(ni_prefix_ok("ZA"));
        for bad_first in ["DA", "FA", "IA", "QA", "UA", "VA"] {
            assert!(!ni_prefix_ok(bad_first), "{bad_first}");
        }
        for bad_second in ["AD", "AF", "AI", "AO", "AQ", "AU", "AV"] {
            assert!(!ni_prefix_ok(bad_second), "{bad_second}");
        }
        for banned in ["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"] {
            assert!(!ni_prefix_ok(banned), "{banned}");
        }
        assert!(!ni_prefix_ok("ab"), "the caller upper-cases");
    }

    #[test]
    fn ni_numbers_need_valid_prefix_suffix_and_case() {
        let ni = |t: &str| kinds(t).iter().any(|(k, _)| *k == FindingKind::NiNumber);
        assert!(ni("AB 12 34 56 C"));
        assert!(ni("AB123456C"));
        assert!(ni("AB 123456 C"));
        assert!(ni("NI number: ab 12 34 56 c"));
        assert!(!ni("QQ 12 34 56 C"), "HMRC specimen");
        assert!(!ni("AB123456E"), "suffix beyond D");
        assert!(!ni("AB123456"), "no suffix");
        assert!(!ni("commit ab123456c"), "lower case without a cue");
        assert!(!ni("Ab123456c"), "mixed case");
        assert!(!ni("XAB123456C"), "glued to a letter");
    }

    #[test]
    fn uk_phone_numbers_in_common_forms_are_flagged() {
        for s in [
            "07700 900123",
            "07700900123",
            "+44 7700 900123",
            "+447700900123",
            "0044 7700 900123",
            "(020) 7946 0018",
            "0161 496 0000",
            "01632 960 001",
            "+44 (0)20 7946 0018",
            "0121-496-0123",
            "0808 157 0192",
        ] {
            let text = format!("Call {s} today");
            assert_eq!(kinds(&text), vec![(FindingKind::PhoneNumber, s)], "{s}");
        }
    }

    #[test]
    fn numbers_in_prose_are_not_phone_numbers() {
        for text in [
            "In 2013 we had 1,234 referrals and £2,500,000.",
            "The debate is at 8:00 PM GMT.",
            "Call 999 or 111.",
            "0 complaints, 0.5% growth, pages 101-115.",
            "Order ref: 0012 3456 7890",
            "07700 900123 4567 is too long",
            "x07700900123",
        ] {
            assert_eq!(kinds(text), vec![], "{text}");
        }
    }

    #[test]
    fn emails_are_flagged_but_handles_and_image_names_are_not() {
        assert_eq!(
            kinds("mail jo.bloggs+x@example.co.uk."),
            vec![(FindingKind::EmailAddress, "jo.bloggs+x@example.co.uk")]
        );
        assert_eq!(
            kinds("thanks @Sarah, see logo@2x.png and react@latest"),
            vec![]
        );
    }

    #[test]
    fn postcodes_need_upper_case_and_the_royal_mail_shape() {
        for s in [
            "SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "EC1A 1BB", "W1A 0AX",
            "GIR 0AA",
        ] {
            let text = format!("at {s}, today");
            assert_eq!(kinds(&text), vec![(FindingKind::Postcode, s)], "{s}");
        }
        assert_eq!(kinds("SW1A1AA"), vec![(FindingKind::Postcode, "SW1A1AA")]);
        assert_eq!(
            kinds("postcode M11AE"),
            vec![(FindingKind::Postcode, "M11AE")]
        );
        for text in [
            "me1 2ab",
            "M11AE",
            "SW1A area",
            "the M62",
            "KS2 SATs",
            "QA1 1AA",
            "M1 1CA",
        ] {
            assert_eq!(kinds(text), vec![], "{text}");
        }
    }

    #[test]
    fn dates_need_a_birth_cue() {
        let dob = |t: &str| -> Vec<String> {
            scan(t)
                .into_iter()
                .filter(|f| f.kind == FindingKind::DateOfBirth)
                .map(|f| f.text)
                .collect()
        };
        assert_eq!(dob("DOB 12/03/2015"), ["12/03/2015"]);
        assert_eq!(dob("D.O.B.: 12/03/2015"), ["12/03/2015"]);
        assert_eq!(dob("born 3rd March 2011"), ["3rd March 2011"]);
        assert_eq!(dob("date of birth: 2009-07-14"), ["2009-07-14"]);
        assert_eq!(dob("born on 12.03.15"), ["12.03.15"]);
        assert_eq!(dob("her birthday's 3 May"), ["3 May"]);
        assert_eq!(dob("12/06/2013 (DOB)"), ["12/06/2013"]);
        assert_eq!(dob("b. 12/05/2001"), ["12/05/2001"]);
        assert!(dob("the meeting on 12/03/2015").is_empty());
        assert!(dob("born in 2011").is_empty());
        assert!(dob("born in Leeds and the review was on 12/03/2019").is_empty());
        assert!(dob("Happy birthday! The debate is on 12 March").is_empty());
        assert!(dob("born 31/13/2011").is_empty(), "no such month");
        assert!(dob("born 12/03-2011").is_empty(), "mixed separators");
        assert!(dob("we may 3 times").is_empty());
    }

    #[test]
    fn named_people_with_ages_are_flagged() {
        for (text, want) in [
            ("Jack, aged 7, said", "Jack, aged 7"),
            ("Jack (7) said", "Jack (7)"),
            ("Amira, 14, has gone", "Amira, 14"),
            ("a 9-year-old called Leo", "9-year-old called Leo"),
            ("my client Sarah, who is 34", "Sarah, who is 34"),
            ("the child, Tom, age 6", "Tom, age 6"),
            ("service user Mrs Patel, 82", "Mrs Patel, 82"),
            ("When Dylan, now 12, arrived", "Dylan, now 12"),
            ("Sam (M, 7) was seen", "Sam (M, 7)"),
            ("Siân, aged nine, said", "Siân, aged nine"),
        ] {
            assert_eq!(
                kinds(text),
                vec![(FindingKind::NamedPersonAge, want)],
                "{text}"
            );
        }
    }

    #[test]
    fn capitalised_words_that_are_not_names_do_not_count() {
        for text in [
            "The, 7 of them",
            "When, 12 months on, nothing changed.",
            "Today (7) we met.",
            "Thursday, 8:00 works.",
            "Children aged 7 to 11.",
            "Munro (2011) said so.",
            "Table (3) and Step (2).",
            "Referrals (12) rose.",
            "May, 12, was wet.",
            "a 15-year-old Asian girl",
            "Child A, aged 9",
            "Sorry, 5 minutes late",
        ] {
            assert_eq!(kinds(text), vec![], "{text}");
        }
    }

    #[test]
    fn findings_inside_urls_are_ignored_except_emails() {
        assert_eq!(
            kinds("see https://example.org/a/9434765919/SW1A-1AA"),
            vec![]
        );
        assert_eq!(
            kinds("https://example.org/?to=jo@example.org"),
            vec![(FindingKind::EmailAddress, "jo@example.org")]
        );
    }

    #[test]
    fn overlapping_claims_keep_one_finding() {
        // The phone number is part of the email address: the longer match wins.
        assert_eq!(
            kinds("07700900123@sms.example.com"),
            vec![(FindingKind::EmailAddress, "07700900123@sms.example.com")]
        );
    }

    #[test]
    fn offsets_land_on_char_boundaries_around_emoji_and_rtl_text() {
        let text = "👋🏽 مرحبا Jack (7) שלום DOB 12/03/2015 🙏 07700 900123 ✅ \u{202e}SW1A 1AA\u{202c} é jo@example.org 👩‍👩‍👧";
        let found = scan(text);
        let got: Vec<FindingKind> = found.iter().map(|f| f.kind).collect();
        assert_eq!(
            got,
            vec![
                FindingKind::NamedPersonAge,
                FindingKind::DateOfBirth,
                FindingKind::PhoneNumber,
                FindingKind::Postcode,
                FindingKind::EmailAddress,
            ]
        );
        for f in &found {
            assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
            assert_eq!(&text[f.start..f.end], f.text);
        }
    }

    #[test]
    fn findings_are_sorted_and_never_overlap() {
        let text = "Jack (7), DOB 12/03/2015, NHS 943 476 5919, 07700 900123, AB123456C, \
                    jo@example.org, SW1A 1AA. "
            .repeat(50);
        let found = scan(&text);
        assert_eq!(found.len(), 7 * 50);
        for pair in found.windows(2) {
            assert!(pair[0].end <= pair[1].start, "{pair:?}");
        }
    }

    #[test]
    fn non_digit_unicode_numbers_are_not_read_as_digits() {
        // Arabic-Indic digits for 9434765919 and a phone number.
        assert_eq!(kinds("٩٤٣٤٧٦٥٩١٩ ٠٧٧٠٠٩٠٠١٢٣"), vec![]);
    }

    #[test]
    fn kinds_have_stable_names() {
        assert_eq!(FindingKind::NhsNumber.as_str(), "nhs_number");
        assert_eq!(FindingKind::NamedPersonAge.as_str(), "named_person_age");
        assert_eq!(FindingKind::NhsNumber.describe(), "an NHS number");
        assert_eq!(
            FindingKind::NiNumber.describe(),
            "a National Insurance number"
        );
    }

    fn megabyte_of(unit: &str) -> String {
        unit.repeat(1_000_000 / unit.len() + 1)
    }

    #[test]
    fn a_megabyte_of_text_scans_quickly() {
        let mixed = megabyte_of(
            "Jack (7) 👋 مرحبا 943 476 5919 and 0161 496 0000; SW1A 1AA, DOB 12/03/2015, \
             1,234 referrals in 2013 for £2,500,000 at 8:00 PM — Munro (2011). ",
        );
        let hostile = [
            mixed,
            megabyte_of("0"),
            megabyte_of("0 "),
            megabyte_of("1-"),
            megabyte_of("Jack "),
            megabyte_of("Jack, "),
            megabyte_of("born "),
            megabyte_of("a@b."),
            megabyte_of("AB12 "),
            megabyte_of("é"),
        ];
        for text in &hostile {
            let started = Instant::now();
            let _ = scan(text);
            let took = started.elapsed();
            // Generous for unoptimised test builds; a release build is far faster.
            assert!(
                took < Duration::from_secs(10),
                "{took:?} for {:?}…",
                &text[..16.min(text.len())]
            );
        }
    }
}
