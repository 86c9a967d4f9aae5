//! Live debates: a scheduled, time-boxed conversation under a post, with questions and
//! answers, reactions and moderation, that ends as a transcript and a summary post.
//!
//! Everything here is pure: the web layer stores messages and pushes them to readers; this
//! module decides what a valid message, start time or zone list is, how the start time is
//! announced around the world, what goes into the calendar file, and how the transcript and
//! the summary read. Times are unix seconds (UTC) throughout; a zone only matters when a time
//! is shown to, or read from, a person.

use crate::Invalid;
use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, Zoned};
use std::fmt::Write as _;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_MESSAGE_CHARS: usize = 2_000;
pub const MAX_ZONES: usize = 8;
pub const MAX_DURATION_MINUTES: i64 = 24 * 60;
/// Shorter than this is a chat, not a debate; it also keeps a typo (`1` for `1 hour`) out.
pub const MIN_DURATION_MINUTES: i64 = 5;
/// A per-minute series never has more buckets than a day has minutes, whatever `end` says.
pub const MAX_MINUTE_BUCKETS: usize = 24 * 60;
/// How many answers per question the summary quotes.
pub const SUMMARY_ANSWERS_PER_QUESTION: usize = 3;

// ---------------------------------------------------------------------------------------------
// States, kinds, reactions, message bodies
// ---------------------------------------------------------------------------------------------

/// Where a debate is in its life. It only moves forward: scheduled, live, ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DebateState {
    Scheduled,
    Live,
    Ended,
}

impl DebateState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Live => "live",
            Self::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Ok(match s {
            "scheduled" => Self::Scheduled,
            "live" => Self::Live,
            "ended" => Self::Ended,
            _ => {
                return Err(Invalid::new(
                    "state",
                    "state must be one of scheduled, live, ended",
                ))
            }
        })
    }
}

/// What a message is to the debate. Questions are numbered (Q1, Q2, …) so that answers and
/// the summary can refer to them; plain messages are the running conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Message,
    Question,
    Answer,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Question => "question",
            Self::Answer => "answer",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Ok(match s {
            "message" => Self::Message,
            "question" => Self::Question,
            "answer" => Self::Answer,
            _ => {
                return Err(Invalid::new(
                    "kind",
                    "kind must be one of message, question, answer",
                ))
            }
        })
    }
}

/// The fixed set of reactions: `(code, emoji, label)`. Fixed, so that a reaction is a count
/// per code (cheap to store and to show) rather than free text anyone could abuse; the code
/// is what is stored and sent, the emoji and label what is shown.
pub const REACTIONS: &[(&str, &str, &str)] = &[
    ("agree", "👍", "Agree"),
    ("insightful", "💡", "Insightful"),
    ("heart", "❤️", "Support"),
    ("question", "❓", "Question"),
    ("disagree", "👎", "Disagree"),
];

/// A reaction code from outside, as the `'static` code of [`REACTIONS`] it names.
pub fn parse_reaction(code: &str) -> Result<&'static str, Invalid> {
    let code = code.trim();
    REACTIONS
        .iter()
        .map(|(c, _, _)| *c)
        .find(|c| *c == code)
        .ok_or_else(|| {
            let codes: Vec<&str> = REACTIONS.iter().map(|(c, _, _)| *c).collect();
            Invalid::new(
                "reaction",
                format!("a reaction is one of {}", codes.join(", ")),
            )
        })
}

/// The text of one debate message: trimmed, not empty, at most [`MAX_MESSAGE_CHARS`], and no
/// control characters but line breaks and tabs. Line breaks are stored as `\n` alone, so that
/// every export (text, Markdown, calendar) has one kind to deal with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody(String);

impl MessageBody {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let normalised = s.replace("\r\n", "\n").replace('\r', "\n");
        let t = normalised.trim();
        if t.is_empty() {
            return Err(Invalid::new("body", "write something before sending"));
        }
        if t.chars().count() > MAX_MESSAGE_CHARS {
            return Err(Invalid::new(
                "body",
                format!("a message is at most {MAX_MESSAGE_CHARS} characters"),
            ));
        }
        if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(Invalid::new("body", "the text holds control characters"));
        }
        Ok(Self(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

// ---------------------------------------------------------------------------------------------
// Time zones and the start time
// ---------------------------------------------------------------------------------------------

/// Longest IANA name is 32 characters (`America/Argentina/ComodRivadavia`); anything much
/// longer is not a zone, and is not worth a lookup or a quote in an error message.
const MAX_ZONE_NAME_CHARS: usize = 64;
/// A hostile form can repeat one zone a million times; dedupe works on a bounded list.
const MAX_ZONE_ENTRIES: usize = 64;

/// The zone for an IANA name, or `None`. Names are checked for shape first so that nothing
/// path-like reaches the database lookup, and `Etc/Unknown` (jiff's stand-in for "no zone")
/// does not pass as a zone.
fn zone_by_name(name: &str) -> Option<TimeZone> {
    let shaped = !name.is_empty()
        && name.len() <= MAX_ZONE_NAME_CHARS
        && !name.starts_with('/')
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'));
    if !shaped {
        return None;
    }
    let tz = TimeZone::get(name).ok()?;
    tz.iana_name()?;
    Some(tz)
}

/// The canonical spelling of a zone name (`europe/london` → `Europe/London`).
fn canonical_zone(name: &str) -> Option<String> {
    zone_by_name(name).and_then(|tz| tz.iana_name().map(str::to_owned))
}

/// A piece of user input fit to quote in an error message: short, on one line.
fn quoted(s: &str) -> String {
    let short: String = s.chars().filter(|c| !c.is_control()).take(40).collect();
    if short.chars().count() < s.chars().count() {
        format!("“{short}…”")
    } else {
        format!("“{short}”")
    }
}

/// Zones to announce the start time in: validated IANA names in their canonical spelling,
/// at least one and at most [`MAX_ZONES`], duplicates removed and the order kept (the first
/// zone is the debate's own: dates elsewhere are shown relative to it). Blank entries are
/// ignored, as a form with empty rows sends them.
pub fn parse_zones(list: &[String]) -> Result<Vec<String>, Invalid> {
    let entries: Vec<&str> = list
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if entries.len() > MAX_ZONE_ENTRIES {
        return Err(Invalid::new(
            "zones",
            format!("list at most {MAX_ZONES} time zones"),
        ));
    }
    let mut zones: Vec<String> = Vec::new();
    for name in entries {
        let canonical = canonical_zone(name).ok_or_else(|| {
            Invalid::new(
                "zones",
                format!(
                    "{} is not a time zone we know; use names such as Europe/London or America/New_York",
                    quoted(name)
                ),
            )
        })?;
        if !zones.contains(&canonical) {
            zones.push(canonical);
        }
    }
    if zones.is_empty() {
        return Err(Invalid::new("zones", "choose at least one time zone"));
    }
    if zones.len() > MAX_ZONES {
        return Err(Invalid::new(
            "zones",
            format!("list at most {MAX_ZONES} time zones"),
        ));
    }
    Ok(zones)
}

/// [`parse_zones`] for a zone list typed into one field, separated by commas or new lines.
pub fn parse_zone_list(text: &str) -> Result<Vec<String>, Invalid> {
    let list: Vec<String> = text.split([',', '\n', '\r']).map(str::to_owned).collect();
    parse_zones(&list)
}

/// Unix seconds covering years 1 to 9999: every format written here (ICS, RFC 3339) needs a
/// four-digit year, so times outside are clamped rather than written wrongly.
const MIN_SECONDS: i64 = -62_135_596_800;
const MAX_SECONDS: i64 = 253_402_300_799;

fn timestamp(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds.clamp(MIN_SECONDS, MAX_SECONDS)).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn utc(seconds: i64) -> DateTime {
    TimeZone::UTC.to_datetime(timestamp(seconds))
}

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn weekday_name(w: Weekday) -> &'static str {
    WEEKDAYS[w.to_monday_zero_offset() as usize]
}

fn month_name(d: Date) -> &'static str {
    MONTHS[(d.month() - 1) as usize]
}

/// "Sunday 27 January 2013".
fn long_date(d: Date) -> String {
    format!(
        "{} {} {} {}",
        weekday_name(d.weekday()),
        d.day(),
        month_name(d),
        d.year()
    )
}

/// "Tue 28 Jan".
fn short_date(d: Date) -> String {
    format!(
        "{} {} {}",
        &weekday_name(d.weekday())[..3],
        d.day(),
        &month_name(d)[..3]
    )
}

/// A clock time as people write it in announcements: "8:00 PM", "12:00 Noon",
/// "12:00 Midnight" (noon and midnight named, since "12:00 AM" confuses half the readers).
fn clock_time(hour: i8, minute: i8) -> String {
    match (hour, minute) {
        (12, 0) => "12:00 Noon".to_owned(),
        (0, 0) => "12:00 Midnight".to_owned(),
        _ => {
            let h12 = match hour % 12 {
                0 => 12,
                h => h,
            };
            let half = if hour < 12 { "AM" } else { "PM" };
            format!("{h12}:{minute:02} {half}")
        }
    }
}

/// An offset as "UTC+3", "UTC-3", "UTC+5:30" (or "UTC" for zero).
fn utc_offset_text(seconds: i32) -> String {
    if seconds == 0 {
        return "UTC".to_owned();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    let (h, m) = (abs / 3600, abs % 3600 / 60);
    if m == 0 {
        format!("UTC{sign}{h}")
    } else {
        format!("UTC{sign}{h}:{m:02}")
    }
}

/// The zone's abbreviation at that instant from the tz database ("GMT" in winter, "BST" in
/// summer). Where the database has no letters for a zone it writes the offset ("-03"), which
/// readers take for a typo; those become "UTC-3".
fn abbreviation(tz: &TimeZone, at: Timestamp) -> String {
    let info = tz.to_offset_info(at);
    let abbr = info.abbreviation();
    if !abbr.is_empty() && abbr.bytes().all(|b| b.is_ascii_alphabetic()) {
        abbr.to_owned()
    } else {
        utc_offset_text(info.offset().seconds())
    }
}

/// The start time in one zone, as an announcement writes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ZoneTime {
    /// The IANA name, for a `<time>` element's title or a zone picker.
    pub zone: String,
    /// "8:00 PM GMT", or "9:00 AM AEDT (Tue 28 Jan)" when the date differs from the first
    /// zone's.
    pub text: String,
    pub abbreviation: String,
    /// RFC 3339 with the zone's offset, for `<time datetime=…>`.
    pub local_iso: String,
}

/// The start time in each zone. Names that are not zones (the list should have passed
/// [`parse_zones`]) are skipped, so a stale setting shows fewer zones rather than an error.
pub fn zone_times(start_utc_seconds: i64, zones: &[String]) -> Vec<ZoneTime> {
    let at = timestamp(start_utc_seconds);
    let mut first_date: Option<Date> = None;
    let mut out = Vec::new();
    for name in zones {
        let Some(tz) = zone_by_name(name) else {
            continue;
        };
        let local: Zoned = at.to_zoned(tz.clone());
        let abbr = abbreviation(&tz, at);
        let mut text = format!("{} {abbr}", clock_time(local.hour(), local.minute()));
        match first_date {
            None => first_date = Some(local.date()),
            Some(d) if d != local.date() => {
                let _ = write!(text, " ({})", short_date(local.date()));
            }
            Some(_) => {}
        }
        out.push(ZoneTime {
            zone: name.clone(),
            text,
            abbreviation: abbr,
            local_iso: local.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        });
    }
    out
}

/// The whole announcement line: "8:00 PM GMT / 3:00 PM EST / 12:00 Noon PST".
pub fn announce_line(start_utc_seconds: i64, zones: &[String]) -> String {
    zone_times(start_utc_seconds, zones)
        .into_iter()
        .map(|z| z.text)
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The date in the debate's own zone: "Sunday 27 January 2013". An unknown zone falls back to
/// UTC, so that the date is never missing from an announcement.
pub fn announce_date(start_utc_seconds: i64, zone: &str) -> String {
    let tz = zone_by_name(zone).unwrap_or(TimeZone::UTC);
    long_date(tz.to_datetime(timestamp(start_utc_seconds)).date())
}

const START_FIELD: &str = "starts_at";

/// The start time a person gave, as unix seconds. Either an instant with its offset
/// (`2026-12-03T20:00:00Z`, `2026-12-03T15:00:00-05:00`), or a wall-clock time
/// (`2026-12-03T20:00`, what `<input type=datetime-local>` sends) read in `zone`.
///
/// A wall-clock time the zone skips (the hour the clocks go forward) is refused: guessing
/// would announce a time the organiser never chose. One the zone has twice (the hour the
/// clocks go back) is taken the first time round, so the debate starts no later than meant.
pub fn parse_start(text: &str, zone: &str) -> Result<i64, Invalid> {
    let t = text.trim();
    if t.is_empty() {
        return Err(Invalid::new(
            START_FIELD,
            "give the date and time the debate starts",
        ));
    }
    let shape_error = || {
        Invalid::new(
            START_FIELD,
            "give the start as a date and time, such as 2026-12-03T20:00 (in the debate's time zone) or 2026-12-03T20:00:00Z",
        )
    };
    // A date alone parses as midnight; that is never what someone meant by a start time.
    if t.len() > 64 || !t.contains(':') {
        return Err(shape_error());
    }
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts.as_second());
    }
    let civil: DateTime = t.parse().map_err(|_| shape_error())?;
    let tz = zone_by_name(zone).ok_or_else(|| {
        Invalid::new(
            START_FIELD,
            format!(
                "{} is not a time zone we know, so the start time cannot be read in it",
                quoted(zone)
            ),
        )
    })?;
    let ambiguous = tz.to_ambiguous_timestamp(civil);
    if let AmbiguousOffset::Gap { before, after } = ambiguous.offset() {
        return Err(Invalid::new(
            START_FIELD,
            format!(
                "{} does not exist in {zone}: the clocks go forward from UTC{before} to UTC{after} then; choose another time",
                civil.strftime("%Y-%m-%d %H:%M"),
            ),
        ));
    }
    let ts = ambiguous.earlier().map_err(|_| {
        Invalid::new(
            START_FIELD,
            "that start time is outside the range of dates we can handle",
        )
    })?;
    Ok(ts.as_second())
}

pub fn parse_duration_minutes(n: i64) -> Result<i64, Invalid> {
    if (MIN_DURATION_MINUTES..=MAX_DURATION_MINUTES).contains(&n) {
        Ok(n)
    } else {
        Err(Invalid::new(
            "duration_minutes",
            format!(
                "a debate lasts from {MIN_DURATION_MINUTES} minutes to {} hours",
                MAX_DURATION_MINUTES / 60
            ),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Calendar: ICS file and add-to-calendar links
// ---------------------------------------------------------------------------------------------
//
// The ICS is written here by hand rather than with the `icalendar` crate. One event with
// fixed properties needs only RFC 5545's TEXT escaping, CRLF line ends and 75-octet folding,
// about fifty lines; the crate (0.17) needs Rust 1.88 where the workspace promises 1.85, and
// brings chrono, uuid and a nom parser into a crate that has so far kept to a handful of
// dependencies. Writing it also fixes what we emit: UTC times only (`…Z`, no VTIMEZONE to
// keep in step with the tz database) and no properties we did not choose.

/// One debate as a calendar entry.
#[derive(Debug, Clone, Copy)]
pub struct CalendarEvent<'a> {
    /// Stable across updates (e.g. `debate-42@example.org`), so calendars replace the entry.
    pub uid: &'a str,
    /// Bumped on every change to the time or status, so calendars take the new version.
    pub sequence: i64,
    /// When this version was made (unix seconds).
    pub stamp: i64,
    pub start: i64,
    pub duration_minutes: i64,
    pub title: &'a str,
    pub description: &'a str,
    pub url: &'a str,
    pub cancelled: bool,
}

impl CalendarEvent<'_> {
    /// The end, with the duration held to what [`parse_duration_minutes`] allows so that the
    /// end is always after the start.
    fn end(&self) -> i64 {
        let minutes = self.duration_minutes.clamp(1, MAX_DURATION_MINUTES);
        self.start.saturating_add(minutes * 60)
    }
}

fn ics_time(seconds: i64) -> String {
    let dt = utc(seconds);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// RFC 5545 TEXT: backslash, semicolon, comma and line breaks escaped; other control
/// characters (which TEXT cannot hold) dropped.
fn ics_text(s: &str) -> String {
    let s = s.replace("\r\n", "\n");
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' | '\r' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A URI value: no escaping in RFC 5545, but no control characters or spaces either.
fn ics_uri(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.trim().chars() {
        match c {
            ' ' => out.push_str("%20"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Writes one content line, folded so that no line is longer than 75 octets (CRLF not
/// counted; a continuation's leading space is), never inside a UTF-8 character.
fn ics_line(out: &mut String, name: &str, value: &str) {
    const LIMIT: usize = 75;
    let mut used = 0;
    for c in name.chars().chain([':']).chain(value.chars()) {
        let n = c.len_utf8();
        if used + n > LIMIT {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
}

/// An RFC 5545 calendar holding the one debate, in UTC.
pub fn ics(ev: &CalendarEvent) -> String {
    let mut out = String::new();
    let line = ics_line;
    line(&mut out, "BEGIN", "VCALENDAR");
    line(&mut out, "VERSION", "2.0");
    line(&mut out, "PRODID", "-//Colloquy//Debates//EN");
    line(&mut out, "CALSCALE", "GREGORIAN");
    line(&mut out, "METHOD", "PUBLISH");
    line(&mut out, "BEGIN", "VEVENT");
    line(&mut out, "UID", &ics_text(ev.uid));
    line(&mut out, "SEQUENCE", &ev.sequence.max(0).to_string());
    line(&mut out, "DTSTAMP", &ics_time(ev.stamp));
    line(&mut out, "DTSTART", &ics_time(ev.start));
    line(&mut out, "DTEND", &ics_time(ev.end()));
    line(&mut out, "SUMMARY", &ics_text(ev.title));
    if !ev.description.trim().is_empty() {
        line(&mut out, "DESCRIPTION", &ics_text(ev.description));
    }
    let url = ics_uri(ev.url);
    if !url.is_empty() {
        line(&mut out, "URL", &url);
    }
    let status = if ev.cancelled {
        "CANCELLED"
    } else {
        "CONFIRMED"
    };
    line(&mut out, "STATUS", status);
    line(&mut out, "END", "VEVENT");
    line(&mut out, "END", "VCALENDAR");
    out
}

/// Percent-encodes a query component: everything but RFC 3986's unreserved characters.
fn url_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Title and description fit for a query parameter: line breaks as `\n`, no other controls.
fn link_text(s: &str) -> String {
    s.replace("\r\n", "\n")
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect()
}

/// The details text of an add-to-calendar link: the description, then the debate's address.
fn link_details(ev: &CalendarEvent) -> String {
    let description = link_text(ev.description.trim());
    let url = ics_uri(ev.url);
    match (description.is_empty(), url.is_empty()) {
        (_, true) => description,
        (true, false) => url,
        (false, false) => format!("{description}\n\n{url}"),
    }
}

/// Google Calendar's "add event" template link.
pub fn google_calendar_url(ev: &CalendarEvent) -> String {
    let mut s = String::from("https://calendar.google.com/calendar/render?action=TEMPLATE");
    let _ = write!(
        s,
        "&text={}&dates={}/{}&details={}",
        url_component(&link_text(ev.title)),
        ics_time(ev.start),
        ics_time(ev.end()),
        url_component(&link_details(ev)),
    );
    let url = ics_uri(ev.url);
    if !url.is_empty() {
        let _ = write!(s, "&location={}", url_component(&url));
    }
    s
}

fn iso_utc(seconds: i64) -> String {
    let dt = utc(seconds);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// Outlook.com's compose deeplink.
pub fn outlook_calendar_url(ev: &CalendarEvent) -> String {
    let mut s = String::from(
        "https://outlook.live.com/calendar/0/deeplink/compose?path=%2Fcalendar%2Faction%2Fcompose&rru=addevent",
    );
    let _ = write!(
        s,
        "&subject={}&startdt={}&enddt={}&body={}",
        url_component(&link_text(ev.title)),
        url_component(&iso_utc(ev.start)),
        url_component(&iso_utc(ev.end())),
        url_component(&link_details(ev)),
    );
    let url = ics_uri(ev.url);
    if !url.is_empty() {
        let _ = write!(s, "&location={}", url_component(&url));
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Activity: messages per minute and its chart
// ---------------------------------------------------------------------------------------------

/// Messages in each minute from `start` to `end`: one bucket per started minute (so a last
/// partial minute counts), at least one, at most [`MAX_MINUTE_BUCKETS`]. A message at exactly
/// `end` counts in the last bucket; times outside are ignored.
pub fn messages_per_minute(times: &[i64], start: i64, end: i64) -> Vec<u32> {
    let span = i128::from(end) - i128::from(start);
    let buckets = if span <= 0 {
        1
    } else {
        ((span + 59) / 60).min(MAX_MINUTE_BUCKETS as i128) as usize
    };
    let end = end.max(start);
    let mut counts = vec![0u32; buckets];
    for &t in times {
        if t < start || t > end {
            continue;
        }
        let i = ((i128::from(t) - i128::from(start)) / 60) as usize;
        let slot = if i < buckets {
            Some(i)
        } else if t == end && i == buckets {
            Some(buckets - 1)
        } else {
            None
        };
        if let Some(i) = slot {
            counts[i] = counts[i].saturating_add(1);
        }
    }
    counts
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Peak count and the 1-based minute it first happened in, if any message was sent.
fn peak(counts: &[u32]) -> Option<(u32, usize)> {
    let mut best: Option<(u32, usize)> = None;
    for (i, &c) in counts.iter().enumerate() {
        if c > 0 && best.is_none_or(|(b, _)| c > b) {
            best = Some((c, i + 1));
        }
    }
    best
}

fn total(counts: &[u32]) -> u64 {
    counts.iter().map(|&c| u64::from(c)).sum()
}

/// What the chart shows, in words, for people who cannot see it.
fn chart_description(counts: &[u32]) -> String {
    let minutes = plural(counts.len() as u64, "minute", "minutes");
    match peak(counts) {
        None => format!("Messages per minute over {minutes}; no messages"),
        Some((p, at)) => format!(
            "Messages per minute over {minutes}; peak {p} at minute {at}; {} in all",
            total(counts)
        ),
    }
}

/// Text for XML content and attribute values: markup characters escaped, and characters
/// XML 1.0 cannot hold at all (most controls, U+FFFE, U+FFFF) dropped.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(' '),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// An id prefix fit for XML ids and for `aria-labelledby` (which splits on spaces): ASCII
/// letters, digits, `-` and `_`, starting with a letter.
fn svg_id(id: &str) -> String {
    let mut s: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(64)
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        s.insert_str(0, "chart-");
    }
    s
}

/// The smallest of 1, 2, 5 × 10ⁿ at or above `n`, so the y axis has round labels.
fn nice_ceiling(n: u32) -> u32 {
    let mut step: u32 = 1;
    loop {
        for m in [1u32, 2, 5] {
            let v = step.saturating_mul(m);
            if v >= n || v == u32::MAX {
                return v;
            }
        }
        step = step.saturating_mul(10);
    }
}

/// Minutes between x-axis labels, so that a chart has at most a dozen.
fn label_step(n: usize) -> usize {
    [1, 2, 5, 10, 15, 30, 60, 120, 180, 240]
        .into_iter()
        .find(|s| n.div_ceil(*s) <= 12)
        .unwrap_or(240)
}

/// Two decimals at most, no trailing zeros: coordinates stay short and exact enough.
fn num(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// A bar chart of messages per minute as an inline SVG, drawn on the server so that it shows
/// without scripts and reads out to screen readers: `role="img"`, labelled by its `<title>`
/// and a `<desc>` that says what the bars show. No scripts, styles or external references;
/// colours are `currentColor`, so it takes the page's text colour. Valid standalone XML.
///
/// `id` prefixes the element ids (`{id}-title`, `{id}-desc`); it is cut down to characters
/// safe in an id, so two charts on one page need different prefixes.
pub fn svg_chart(id: &str, title: &str, counts: &[u32]) -> String {
    const W: f64 = 640.0;
    const H: f64 = 240.0;
    const LEFT: f64 = 52.0;
    const RIGHT: f64 = 12.0;
    const TOP: f64 = 12.0;
    const BOTTOM: f64 = 44.0;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let base = TOP + plot_h;
    let id = svg_id(id);
    let n = counts.len().max(1);
    let y_max = nice_ceiling(counts.iter().copied().max().unwrap_or(0).max(1));
    let bar_w = plot_w / n as f64;
    let gap = if bar_w > 4.0 { bar_w * 0.15 } else { 0.0 };

    let mut s = String::new();
    // The open tag alone on its line, and no blank line anywhere, so that the chart is one
    // CommonMark HTML block when placed in Markdown.
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" role="img" aria-labelledby="{id}-title {id}-desc" class="debate-chart">"#,
        num(W),
        num(H)
    );
    let _ = writeln!(s, r#"<title id="{id}-title">{}</title>"#, xml_escape(title));
    let _ = writeln!(
        s,
        r#"<desc id="{id}-desc">{}</desc>"#,
        xml_escape(&chart_description(counts))
    );
    let _ = writeln!(
        s,
        r#"<g fill="currentColor" stroke="none" font-family="sans-serif" font-size="11">"#
    );
    // Bars.
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let h = plot_h * f64::from(c) / f64::from(y_max);
        let x = LEFT + i as f64 * bar_w + gap / 2.0;
        let _ = writeln!(
            s,
            r#"<rect x="{}" y="{}" width="{}" height="{}" opacity="0.8"/>"#,
            num(x),
            num(base - h),
            num((bar_w - gap).max(0.5)),
            num(h)
        );
    }
    // Axes.
    let _ = writeln!(
        s,
        r#"<path d="M{l} {t}V{b}H{r}" fill="none" stroke="currentColor" stroke-width="1"/>"#,
        l = num(LEFT),
        t = num(TOP),
        b = num(base),
        r = num(W - RIGHT)
    );
    // Y labels: 0, half way when it is a whole number, top.
    let mut y_labels = vec![0, y_max];
    if y_max & 1 == 0 {
        y_labels.insert(1, y_max / 2);
    }
    for v in y_labels {
        let y = base - plot_h * f64::from(v) / f64::from(y_max);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{v}</text>"#,
            num(LEFT - 6.0),
            num(y + 4.0)
        );
    }
    // X labels: minute 1, then every `step` minutes.
    let step = label_step(counts.len());
    let minutes = (1..=counts.len()).filter(|m| *m == 1 || m % step == 0);
    for m in minutes {
        let x = LEFT + (m as f64 - 0.5) * bar_w;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{m}</text>"#,
            num(x),
            num(base + 16.0)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">Minute</text>"#,
        num(LEFT + plot_w / 2.0),
        num(H - 6.0)
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(14 {}) rotate(-90)" text-anchor="middle">Messages</text>"#,
        num(TOP + plot_h / 2.0)
    );
    s.push_str("</g>\n</svg>");
    s
}

// ---------------------------------------------------------------------------------------------
// Moderation helpers
// ---------------------------------------------------------------------------------------------

/// Slow mode: how many seconds someone who last posted at `last` must still wait at `now`
/// when one message per `every_seconds` is allowed, or `None` when they may post. A `last`
/// in the future (clock skew between servers) never makes the wait longer than one period.
pub fn slow_mode_wait(last: Option<i64>, now: i64, every_seconds: i64) -> Option<i64> {
    let last = last?;
    if every_seconds <= 0 {
        return None;
    }
    let next = last.saturating_add(every_seconds);
    (now < next).then(|| next.saturating_sub(now).min(every_seconds))
}

/// Combining marks and joiners belong to the word they follow: "café" written with a
/// combining accent must not count as "caf" + a word break.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
        || c == '_'
        || matches!(c,
            '\u{0300}'..='\u{036F}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{200C}'
            | '\u{200D}')
}

/// Lower case, runs of white space as one space, trimmed: the form both sides of a word
/// filter are compared in.
fn fold_text(s: &str) -> String {
    s.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `needle` occurs in `haystack` (both folded) as a whole word: where the needle
/// starts (ends) with a word character, the character before (after) it must not be one.
fn contains_whole(haystack: &str, needle: &str) -> bool {
    let (Some(first), Some(last)) = (needle.chars().next(), needle.chars().next_back()) else {
        return false;
    };
    haystack.match_indices(needle).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + needle.len()..].chars().next();
        let open = !is_word_char(first) || !before.is_some_and(is_word_char);
        let close = !is_word_char(last) || !after.is_some_and(is_word_char);
        open && close
    })
}

/// The first word or phrase of `words` (in list order) that `body` holds as a whole word,
/// ignoring case and how much white space separates a phrase's words. "ass" does not match
/// "class"; "free money" matches "FREE\n money!". Returns the entry as listed.
pub fn filtered_word(body: &str, words: &[String]) -> Option<String> {
    let haystack = fold_text(body);
    words
        .iter()
        .find(|w| {
            let needle = fold_text(w);
            !needle.is_empty() && contains_whole(&haystack, &needle)
        })
        .map(|w| w.trim().to_owned())
}

/// A word-filter setting: entries separated by commas or new lines, trimmed, blanks
/// dropped, inner white space collapsed, and repeats (ignoring case) removed.
pub fn parse_word_list(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for entry in text.split([',', '\n', '\r']) {
        let word = entry.split_whitespace().collect::<Vec<_>>().join(" ");
        if word.is_empty() {
            continue;
        }
        let folded = fold_text(&word);
        if !seen.contains(&folded) {
            seen.push(folded);
            out.push(word);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Markdown helpers for user text
// ---------------------------------------------------------------------------------------------

/// Escapes one line of user text so that Markdown reads it as plain inline text: every
/// character that opens inline markup is backslash-escaped, and so is whatever at the start
/// of a line would begin a block (heading, quote, list, rule, setext underline, table row).
/// Leading white space is removed (it would make a code block). The line holds no newline.
fn md_line(line: &str) -> String {
    let line = line.trim();
    let mut out = String::with_capacity(line.len() + 8);
    // Digits at the start followed by `.` or `)` would make an ordered list.
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    let bytes = line.as_bytes();
    for (i, c) in line.char_indices() {
        let escape = match c {
            // Smart punctuation would turn a typed `--` or `---` into a dash.
            '-' if bytes.get(i + 1) == Some(&b'-') || (i > 0 && bytes[i - 1] == b'-') => true,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '!' | '|' | '~' | '&' => true,
            '-' | '+' | '=' => i == 0,
            '.' | ')' => digits > 0 && i == digits,
            _ => false,
        };
        if c.is_control() && c != '\t' {
            continue;
        }
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// User text on one line (for a heading or a list item): white space collapsed, escaped,
/// and cut to `max` characters with an ellipsis.
fn md_one_line(s: &str, max: usize) -> String {
    let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = collapsed.chars().take(max).collect();
    let ellipsis = if cut.len() < collapsed.len() {
        "…"
    } else {
        ""
    };
    format!("{}{ellipsis}", md_line(cut.trim_end()))
}

/// User text as a Markdown blockquote: every line escaped and prefixed with `> `, and
/// ended with a hard break when another line of the same paragraph follows, so the quote
/// keeps the line breaks as typed.
fn md_quote(out: &mut String, s: &str) {
    let lines: Vec<String> = s.replace("\r\n", "\n").lines().map(md_line).collect();
    for (i, escaped) in lines.iter().enumerate() {
        if escaped.is_empty() {
            out.push_str(">\n");
            continue;
        }
        let more = lines.get(i + 1).is_some_and(|next| !next.is_empty());
        let _ = writeln!(out, "> {escaped}{}", if more { "\\" } else { "" });
    }
}

/// User text as one Markdown paragraph's content: lines escaped and joined by hard breaks
/// (blank lines dropped, so the paragraph cannot be split into blocks).
fn md_paragraph_text(s: &str) -> String {
    s.replace("\r\n", "\n")
        .lines()
        .map(md_line)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\\\n")
}

/// A link destination written `<…>`: characters that could end it or break the line are
/// percent-encoded.
fn md_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.trim().chars() {
        match c {
            ' ' => out.push_str("%20"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '\\' => out.push_str("%5C"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `[text](<url>)`, or the text alone when there is no URL.
fn md_link(text: &str, url: &str) -> String {
    let text = md_one_line(text, MAX_TITLE_CHARS);
    let url = md_url(url);
    if url.is_empty() {
        text
    } else {
        format!("[{text}](<{url}>)")
    }
}

// ---------------------------------------------------------------------------------------------
// The Debate Summary post
// ---------------------------------------------------------------------------------------------

/// One question for the summary, with its answers in posting order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryQuestion {
    pub number: i64,
    pub text: String,
    pub answers: Vec<SummaryAnswer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryAnswer {
    pub author: String,
    pub text: String,
    pub reactions: i64,
}

/// Everything the summary post says.
#[derive(Debug, Clone, Copy)]
pub struct SummaryInput<'a> {
    /// The debate's title.
    pub title: &'a str,
    /// The post the debate was about, and where it is.
    pub original_title: &'a str,
    pub original_url: &'a str,
    pub transcript_url: &'a str,
    pub questions: &'a [SummaryQuestion],
    pub participants: i64,
    pub messages: i64,
    pub peak_readers: i64,
    pub duration_minutes: i64,
    /// The chart as ready Markdown, written as given between the figures and the table;
    /// empty for none. The post renderer (`markdown::render`) allows no SVG, so this is an
    /// image of the debate's chart address, whose alt text says what it shows. Ours, never
    /// user text: it is not escaped.
    pub chart_markdown: &'a str,
    pub per_minute: &'a [u32],
}

/// Indices of the answers to quote: the most reacted first, ties in posting order.
fn top_answers(answers: &[SummaryAnswer]) -> Vec<&SummaryAnswer> {
    let mut ranked: Vec<&SummaryAnswer> = answers.iter().collect();
    // A stable sort keeps posting order among equals.
    ranked.sort_by_key(|a| std::cmp::Reverse(a.reactions));
    ranked.truncate(SUMMARY_ANSWERS_PER_QUESTION);
    ranked
}

fn plural_i(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The per-minute table: one row a minute up to 30 minutes, five-minute rows beyond.
fn per_minute_table(out: &mut String, per_minute: &[u32]) {
    let width = if per_minute.len() > 30 { 5 } else { 1 };
    let header = if width == 1 { "Minute" } else { "Minutes" };
    let _ = writeln!(out, "| {header} | Messages |\n| ---: | ---: |");
    for (i, chunk) in per_minute.chunks(width).enumerate() {
        let first = i * width + 1;
        let last = first + chunk.len() - 1;
        let label = if first == last {
            first.to_string()
        } else {
            format!("{first}–{last}")
        };
        let _ = writeln!(out, "| {label} | {} |", total(chunk));
    }
}

/// The body of the Debate Summary post, in Markdown. All user text (titles, questions,
/// answers, names) is escaped so that it reads as typed and cannot add headings, quotes,
/// tables, links or HTML; numbers and URLs are ours.
pub fn summary_markdown(input: &SummaryInput) -> String {
    let mut out = String::new();
    let original = md_link(input.original_title, input.original_url);
    let same_title =
        input.title.trim().is_empty() || fold_text(input.title) == fold_text(input.original_title);
    if same_title {
        let _ = write!(out, "This is a summary of the live debate on {original}.");
    } else {
        let _ = write!(
            out,
            "This is a summary of the live debate “{}” on {original}.",
            md_one_line(input.title, MAX_TITLE_CHARS)
        );
    }
    let transcript = md_url(input.transcript_url);
    if transcript.is_empty() {
        out.push_str("\n\n");
    } else {
        let _ = write!(
            out,
            " Every message is in the [full transcript](<{transcript}>).\n\n"
        );
    }

    if input.questions.is_empty() {
        out.push_str("No questions were asked.\n\n");
    }
    for q in input.questions {
        let _ = writeln!(out, "## Q{}: {}\n", q.number, md_one_line(&q.text, 300));
        let answers = top_answers(&q.answers);
        if answers.is_empty() {
            out.push_str("No answers were given.\n\n");
        }
        for a in answers {
            md_quote(&mut out, &a.text);
            let _ = writeln!(
                out,
                ">\n> — {}, {}\n",
                md_one_line(&a.author, 100),
                plural_i(a.reactions.max(0), "reaction", "reactions")
            );
        }
    }

    out.push_str("## The debate in figures\n\n");
    let _ = writeln!(
        out,
        "- Duration: {}",
        plural_i(input.duration_minutes.max(0), "minute", "minutes")
    );
    let _ = writeln!(out, "- Participants: {}", input.participants.max(0));
    let _ = writeln!(out, "- Messages: {}", input.messages.max(0));
    let _ = writeln!(out, "- Questions: {}", input.questions.len());
    let _ = writeln!(out, "- Most readers at once: {}", input.peak_readers.max(0));
    if let Some((p, at)) = peak(input.per_minute) {
        let _ = writeln!(
            out,
            "- Busiest minute: minute {at}, with {}",
            plural(u64::from(p), "message", "messages")
        );
    }
    out.push('\n');

    let chart = input.chart_markdown.trim();
    if !chart.is_empty() {
        let _ = write!(out, "{chart}\n\n");
    }
    if !input.per_minute.is_empty() {
        out.push_str("### Messages per minute\n\n");
        per_minute_table(&mut out, input.per_minute);
    }
    // One final newline, however the last section ended.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// Ends a string that was cut: no dangling joiner or variation selector (which would glue
/// the ellipsis into an emoji), no trailing space.
fn trim_cut(s: &str) -> &str {
    s.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, '\u{200D}' | '\u{FE0F}'))
}

/// The summary post's title: "<title> – Debate Summary", the debate title cut (on a
/// character, with an ellipsis) so that the whole fits [`MAX_TITLE_CHARS`].
pub fn summary_title(title: &str) -> String {
    const SUFFIX: &str = " – Debate Summary";
    let clean: String = title
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let room = MAX_TITLE_CHARS - SUFFIX.chars().count();
    let head = if clean.chars().count() <= room {
        clean
    } else {
        let cut: String = clean.chars().take(room - 1).collect();
        format!("{}…", trim_cut(&cut))
    };
    if head.is_empty() {
        "Debate Summary".to_owned()
    } else {
        format!("{head}{SUFFIX}")
    }
}

// ---------------------------------------------------------------------------------------------
// Transcripts
// ---------------------------------------------------------------------------------------------

/// One message of a debate as the transcript shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TranscriptLine {
    pub id: i64,
    /// When it was sent (unix seconds).
    pub at: i64,
    pub author: String,
    pub kind: MessageKind,
    /// The question number: its own for a question, the one it answers for an answer.
    pub question: Option<i64>,
    /// The id of the message this replies to.
    pub reply_to: Option<i64>,
    pub body: String,
    pub hidden: bool,
}

const HIDDEN: &str = "(message hidden by a moderator)";

/// "Q1 ", "A1 " or nothing.
fn line_label(line: &TranscriptLine) -> String {
    match (line.kind, line.question) {
        (MessageKind::Question, Some(n)) => format!("Q{n} "),
        (MessageKind::Question, None) => "Q ".to_owned(),
        (MessageKind::Answer, Some(n)) => format!("A{n} "),
        (MessageKind::Answer, None) => "A ".to_owned(),
        (MessageKind::Message, _) => String::new(),
    }
}

/// A name on one line, without control characters.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn hh_mm(seconds: i64) -> String {
    let dt = utc(seconds);
    format!("{:02}:{:02}", dt.hour(), dt.minute())
}

/// The author of the message `reply_to` points at, when it is in the transcript and shown.
fn replied_author(lines: &[TranscriptLine], line: &TranscriptLine) -> Option<String> {
    let target = lines.iter().find(|l| Some(l.id) == line.reply_to)?;
    (!target.hidden).then(|| one_line(&target.author))
}

/// The transcript's opening line after the title.
fn transcript_intro(lines: &[TranscriptLine]) -> String {
    match lines.first() {
        Some(first) => format!(
            "Transcript of the live debate, {}. Times are UTC.",
            long_date(utc(first.at).date())
        ),
        None => "Transcript of the live debate. No messages were sent.".to_owned(),
    }
}

/// The transcript as plain text, one message a line: "[20:03] Q1 Alice: …". A body's further
/// lines are indented under the first; a change of (UTC) day gets a line of its own.
pub fn transcript_text(title: &str, lines: &[TranscriptLine]) -> String {
    let mut out = String::new();
    let _ = write!(out, "{}\n{}\n\n", one_line(title), transcript_intro(lines));
    let mut day = lines.first().map(|l| utc(l.at).date());
    for line in lines {
        let today = utc(line.at).date();
        if day != Some(today) {
            let _ = write!(out, "\n--- {} ---\n\n", long_date(today));
            day = Some(today);
        }
        let label = line_label(line);
        let _ = write!(out, "[{}] {label}", hh_mm(line.at));
        if line.hidden {
            out.push_str(HIDDEN);
            out.push('\n');
            continue;
        }
        out.push_str(&one_line(&line.author));
        if let Some(to) = replied_author(lines, line) {
            let _ = write!(out, " (replying to {to})");
        }
        out.push(':');
        let body = line.body.replace("\r\n", "\n");
        let mut body_lines = body
            .lines()
            .map(|l| {
                l.chars()
                    .filter(|c| !c.is_control() || *c == '\t')
                    .collect::<String>()
            })
            .filter(|l| !l.trim().is_empty());
        if let Some(first) = body_lines.next() {
            let _ = write!(out, " {}", first.trim_end());
        }
        out.push('\n');
        for more in body_lines {
            let _ = writeln!(out, "        {}", more.trim_end());
        }
    }
    out
}

/// One message as a Markdown paragraph: "**[20:04] A1 Bob:** …".
fn md_message(out: &mut String, lines: &[TranscriptLine], line: &TranscriptLine) {
    let label = line_label(line);
    let time = hh_mm(line.at);
    if line.hidden {
        let who = format!("\\[{time}\\] {label}");
        let _ = write!(out, "**{}** *{HIDDEN}*\n\n", who.trim_end());
        return;
    }
    let who = format!("\\[{time}\\] {label}{}", md_one_line(&line.author, 100));
    let body = md_paragraph_text(&line.body);
    match replied_author(lines, line) {
        Some(to) => {
            let to = md_one_line(&to, 100);
            let _ = write!(out, "**{who}** (replying to {to}): {body}\n\n");
        }
        None => {
            let _ = write!(out, "**{who}:** {body}\n\n");
        }
    }
}

/// The transcript as Markdown: each question under its own heading with its answers after
/// it, then the other messages in the order they were sent.
pub fn transcript_markdown(title: &str, lines: &[TranscriptLine]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "# {}\n\n{}\n\n",
        md_one_line(title, MAX_TITLE_CHARS),
        transcript_intro(lines)
    );
    // The first question line for each number heads that number's group.
    let mut heads: Vec<(i64, usize)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let (MessageKind::Question, Some(n)) = (line.kind, line.question) {
            if !heads.iter().any(|(m, _)| *m == n) {
                heads.push((n, i));
            }
        }
    }
    let mut grouped = vec![false; lines.len()];
    for &(n, head) in &heads {
        let q = &lines[head];
        let text = if q.hidden {
            "(hidden by a moderator)".to_owned()
        } else {
            md_one_line(&q.body, 120)
        };
        let _ = write!(out, "## Q{n}: {text}\n\n");
        md_message(&mut out, lines, q);
        grouped[head] = true;
        for (i, line) in lines.iter().enumerate() {
            if line.kind == MessageKind::Answer && line.question == Some(n) {
                md_message(&mut out, lines, line);
                grouped[i] = true;
            }
        }
    }
    let rest: Vec<&TranscriptLine> = lines
        .iter()
        .zip(&grouped)
        .filter(|(_, g)| !**g)
        .map(|(l, _)| l)
        .collect();
    if !rest.is_empty() {
        if !heads.is_empty() {
            out.push_str("## Other messages\n\n");
        }
        for line in rest {
            md_message(&mut out, lines, line);
        }
    }
    // One final newline, however the last section ended.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> i64 {
        rfc3339.parse::<Timestamp>().unwrap().as_second()
    }

    fn zones(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn transatlantic() -> Vec<String> {
        zones(&["Europe/London", "America/New_York", "America/Los_Angeles"])
    }

    // --- announcements -------------------------------------------------------------------

    #[test]
    fn the_seed_example_reads_as_people_write_it() {
        assert_eq!(
            announce_line(at("2013-01-27T20:00:00Z"), &transatlantic()),
            "8:00 PM GMT / 3:00 PM EST / 12:00 Noon PST"
        );
        assert_eq!(
            announce_date(at("2013-01-27T20:00:00Z"), "Europe/London"),
            "Sunday 27 January 2013"
        );
    }

    #[test]
    fn summer_time_on_both_sides_of_the_atlantic() {
        assert_eq!(
            announce_line(at("2026-07-01T19:00:00Z"), &transatlantic()),
            "8:00 PM BST / 3:00 PM EDT / 12:00 Noon PDT"
        );
    }

    #[test]
    fn march_weeks_when_the_us_has_changed_and_the_uk_has_not() {
        assert_eq!(
            announce_line(at("2026-03-15T20:00:00Z"), &transatlantic()),
            "8:00 PM GMT / 4:00 PM EDT / 1:00 PM PDT"
        );
        // After 29 March both are on summer time again: five hours apart.
        assert_eq!(
            announce_line(at("2026-04-01T19:00:00Z"), &transatlantic()),
            "8:00 PM BST / 3:00 PM EDT / 12:00 Noon PDT"
        );
    }

    #[test]
    fn autumn_week_when_the_uk_has_gone_back_and_the_us_has_not() {
        // UK back on 25 October 2026, US on 1 November 2026.
        assert_eq!(
            announce_line(at("2026-10-28T20:00:00Z"), &transatlantic()),
            "8:00 PM GMT / 4:00 PM EDT / 1:00 PM PDT"
        );
        assert_eq!(
            announce_line(at("2026-11-04T20:00:00Z"), &transatlantic()),
            "8:00 PM GMT / 3:00 PM EST / 12:00 Noon PST"
        );
    }

    #[test]
    fn midnight_is_named_and_a_different_date_is_shown() {
        let t = at("2026-01-27T23:00:00Z");
        assert_eq!(
            announce_line(t, &zones(&["Europe/Paris"])),
            "12:00 Midnight CET"
        );
        assert_eq!(
            announce_line(t, &zones(&["Europe/London", "Europe/Paris"])),
            "11:00 PM GMT / 12:00 Midnight CET (Wed 28 Jan)"
        );
        assert_eq!(
            announce_line(at("2026-01-27T00:30:00Z"), &zones(&["UTC"])),
            "12:30 AM UTC"
        );
        assert_eq!(
            announce_line(at("2026-01-27T12:05:00Z"), &zones(&["UTC"])),
            "12:05 PM UTC"
        );
    }

    #[test]
    fn india_has_letters_and_a_half_hour_offset() {
        let z = zone_times(at("2026-01-27T14:30:00Z"), &zones(&["Asia/Kolkata"]));
        assert_eq!(z[0].text, "8:00 PM IST");
        assert_eq!(z[0].abbreviation, "IST");
        assert_eq!(z[0].local_iso, "2026-01-27T20:00:00+05:30");
    }

    #[test]
    fn numeric_abbreviations_become_utc_offsets() {
        let t = at("2026-01-27T20:00:00Z");
        assert_eq!(
            announce_line(t, &zones(&["America/Sao_Paulo"])),
            "5:00 PM UTC-3"
        );
        assert_eq!(
            announce_line(t, &zones(&["Asia/Kathmandu"])),
            "1:45 AM UTC+5:45"
        );
        assert_eq!(utc_offset_text(5 * 3600 + 1800), "UTC+5:30");
        assert_eq!(utc_offset_text(-3 * 3600), "UTC-3");
        assert_eq!(utc_offset_text(0), "UTC");
    }

    #[test]
    fn sydney_shows_its_own_date_when_it_is_already_tomorrow() {
        let z = zone_times(
            at("2013-01-27T20:00:00Z"),
            &zones(&["Europe/London", "Australia/Sydney"]),
        );
        assert_eq!(z[0].text, "8:00 PM GMT");
        assert_eq!(z[1].text, "7:00 AM AEDT (Mon 28 Jan)");
        assert_eq!(z[1].abbreviation, "AEDT");
        assert_eq!(z[1].local_iso, "2013-01-28T07:00:00+11:00");
    }

    #[test]
    fn zone_times_carry_rfc3339_with_the_local_offset() {
        let z = zone_times(at("2013-01-27T20:00:00Z"), &transatlantic());
        let iso: Vec<&str> = z.iter().map(|z| z.local_iso.as_str()).collect();
        assert_eq!(
            iso,
            [
                "2013-01-27T20:00:00+00:00",
                "2013-01-27T15:00:00-05:00",
                "2013-01-27T12:00:00-08:00"
            ]
        );
        assert_eq!(z[1].zone, "America/New_York");
    }

    #[test]
    fn unknown_zones_are_skipped_when_announcing() {
        let list = zones(&["Mars/Olympus", "Europe/London"]);
        assert_eq!(
            announce_line(at("2013-01-27T20:00:00Z"), &list),
            "8:00 PM GMT"
        );
        assert_eq!(
            announce_date(at("2013-01-27T23:30:00Z"), "Mars/Olympus"),
            "Sunday 27 January 2013"
        );
    }

    // --- zone lists ----------------------------------------------------------------------

    #[test]
    fn zones_are_canonical_deduplicated_and_in_order() {
        let got = parse_zones(&zones(&[
            " america/new_york ",
            "",
            "Europe/London",
            "AMERICA/NEW_YORK",
        ]))
        .unwrap();
        assert_eq!(got, ["America/New_York", "Europe/London"]);
        let got = parse_zone_list("Europe/London, Asia/Tokyo\nEurope/London\r\n\nUTC").unwrap();
        assert_eq!(got, ["Europe/London", "Asia/Tokyo", "UTC"]);
    }

    #[test]
    fn zone_lists_refuse_unknown_empty_and_too_many() {
        for bad in [
            "Mars/Olympus",
            "../../etc/passwd",
            "/etc/localtime",
            "Etc/Unknown",
        ] {
            let e = parse_zones(&zones(&[bad])).unwrap_err();
            assert_eq!(e.field, "zones", "{bad}");
        }
        assert!(parse_zone_list(" , \n").is_err());
        let nine = "Europe/London,Europe/Paris,Europe/Berlin,Europe/Madrid,Europe/Rome,\
                    Asia/Tokyo,Asia/Kolkata,America/New_York,America/Chicago";
        assert!(parse_zone_list(nine).is_err());
        assert_eq!(
            parse_zone_list(&nine[..nine.rfind(',').unwrap()])
                .unwrap()
                .len(),
            8
        );
        let e = parse_zone_list(&"x".repeat(10_000)).unwrap_err();
        assert!(e.message.chars().count() < 200, "{}", e.message);
    }

    // --- start times ---------------------------------------------------------------------

    #[test]
    fn start_times_with_an_offset_ignore_the_zone() {
        let z = at("2026-12-03T20:00:00Z");
        assert_eq!(parse_start("2026-12-03T20:00:00Z", "Asia/Tokyo"), Ok(z));
        assert_eq!(
            parse_start(" 2026-12-03T15:00:00-05:00 ", "Europe/London"),
            Ok(z)
        );
    }

    #[test]
    fn civil_start_times_are_read_in_the_debate_zone() {
        assert_eq!(
            parse_start("2026-01-10T20:00", "Europe/London"),
            Ok(at("2026-01-10T20:00:00Z"))
        );
        assert_eq!(
            parse_start("2026-07-01T20:00", "Europe/London"),
            Ok(at("2026-07-01T19:00:00Z"))
        );
        assert_eq!(
            parse_start("2026-07-01T20:00:00", "America/New_York"),
            Ok(at("2026-07-02T00:00:00Z"))
        );
    }

    #[test]
    fn a_time_skipped_by_the_clocks_going_forward_is_refused() {
        let e = parse_start("2026-03-29T01:30", "Europe/London").unwrap_err();
        assert_eq!(e.field, "starts_at");
        assert!(e.message.contains("does not exist"), "{}", e.message);
        assert!(e.message.contains("Europe/London"), "{}", e.message);
    }

    #[test]
    fn a_time_that_happens_twice_is_taken_the_first_time() {
        // 01:30 on 25 October 2026 in London: first in BST (00:30Z), then in GMT (01:30Z).
        assert_eq!(
            parse_start("2026-10-25T01:30", "Europe/London"),
            Ok(at("2026-10-25T00:30:00Z"))
        );
    }

    #[test]
    fn garbage_start_times_are_refused() {
        for bad in [
            "",
            "tomorrow evening",
            "2026-12-03",
            "2026-13-03T20:00",
            "2026-12-03T25:00",
            "20:00",
            &"9".repeat(100),
        ] {
            let e = parse_start(bad, "Europe/London").unwrap_err();
            assert_eq!(e.field, "starts_at", "{bad}");
        }
        assert!(parse_start("2026-12-03T20:00", "Nowhere/City").is_err());
    }

    #[test]
    fn durations_run_from_five_minutes_to_a_day() {
        assert_eq!(parse_duration_minutes(5), Ok(5));
        assert_eq!(parse_duration_minutes(1440), Ok(1440));
        for bad in [0, 4, 1441, -60] {
            assert_eq!(
                parse_duration_minutes(bad).unwrap_err().field,
                "duration_minutes"
            );
        }
    }

    // --- states, kinds, reactions, bodies -----------------------------------------------

    #[test]
    fn states_kinds_and_reactions_round_trip() {
        for s in [
            DebateState::Scheduled,
            DebateState::Live,
            DebateState::Ended,
        ] {
            assert_eq!(DebateState::parse(s.as_str()), Ok(s));
        }
        for k in [
            MessageKind::Message,
            MessageKind::Question,
            MessageKind::Answer,
        ] {
            assert_eq!(MessageKind::parse(k.as_str()), Ok(k));
        }
        assert_eq!(DebateState::parse("over").unwrap_err().field, "state");
        assert_eq!(MessageKind::parse("Question").unwrap_err().field, "kind");
        for (code, _, _) in REACTIONS {
            assert_eq!(parse_reaction(code), Ok(*code));
        }
        assert_eq!(parse_reaction("💩").unwrap_err().field, "reaction");
        assert_eq!(REACTIONS.len(), 5);
    }

    #[test]
    fn message_bodies_are_trimmed_normalised_and_bounded() {
        let b = MessageBody::parse("  one\r\ntwo\rthree\tfour \n").unwrap();
        assert_eq!(b.as_str(), "one\ntwo\nthree\tfour");
        assert_eq!(b.into_inner(), "one\ntwo\nthree\tfour");
        for bad in ["", " \n\t ", "a\0b", "bell\u{7}", "esc\u{1b}[31m"] {
            assert_eq!(
                MessageBody::parse(bad).unwrap_err().field,
                "body",
                "{bad:?}"
            );
        }
        assert!(MessageBody::parse(&"é".repeat(MAX_MESSAGE_CHARS)).is_ok());
        assert!(MessageBody::parse(&"é".repeat(MAX_MESSAGE_CHARS + 1)).is_err());
    }

    // --- calendar ------------------------------------------------------------------------

    fn event<'a>(description: &'a str) -> CalendarEvent<'a> {
        CalendarEvent {
            uid: "debate-42@example.org",
            sequence: 3,
            stamp: at("2026-11-20T09:15:00Z"),
            start: at("2026-12-03T20:00:00Z"),
            duration_minutes: 90,
            title: "Is tea better than coffee?",
            description,
            url: "https://example.org/debates/42",
            cancelled: false,
        }
    }

    fn unfold(ics: &str) -> String {
        ics.replace("\r\n ", "")
    }

    #[test]
    fn ics_has_crlf_lines_and_the_event_properties() {
        let s = ics(&event("Bring arguments."));
        assert!(s.ends_with("\r\n"));
        assert!(!s.replace("\r\n", "").contains('\n'), "bare LF");
        assert!(!s.replace("\r\n", "").contains('\r'), "bare CR");
        let lines: Vec<&str> = s.split("\r\n").collect();
        for want in [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Colloquy//Debates//EN",
            "METHOD:PUBLISH",
            "CALSCALE:GREGORIAN",
            "BEGIN:VEVENT",
            "UID:debate-42@example.org",
            "SEQUENCE:3",
            "DTSTAMP:20261120T091500Z",
            "DTSTART:20261203T200000Z",
            "DTEND:20261203T213000Z",
            "SUMMARY:Is tea better than coffee?",
            "DESCRIPTION:Bring arguments.",
            "URL:https://example.org/debates/42",
            "STATUS:CONFIRMED",
            "END:VEVENT",
            "END:VCALENDAR",
        ] {
            assert!(lines.contains(&want), "{want} missing from\n{s}");
        }
        let cancelled = ics(&CalendarEvent {
            cancelled: true,
            ..event("")
        });
        assert!(cancelled.contains("\r\nSTATUS:CANCELLED\r\n"));
        assert!(!cancelled.contains("DESCRIPTION"));
    }

    #[test]
    fn ics_text_escapes_backslash_semicolon_comma_and_newline() {
        let s = ics(&event("a;b,c\\d\r\ne\nf"));
        assert!(
            unfold(&s).contains("\r\nDESCRIPTION:a\\;b\\,c\\\\d\\ne\\nf\r\n"),
            "{s}"
        );
        assert_eq!(ics_text("x\u{0}y\u{7}z\tw"), "xyz\tw");
    }

    #[test]
    fn ics_folds_long_lines_at_75_octets_without_splitting_characters() {
        let long = "Débat sur l’avenir — ☕ contre 🍵, ".repeat(12);
        let s = ics(&event(&long));
        for line in s.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        }
        let folded: Vec<&str> = s
            .split("\r\n")
            .skip_while(|l| !l.starts_with("DESCRIPTION:"))
            .take_while(|l| l.starts_with("DESCRIPTION:") || l.starts_with(' '))
            .collect();
        assert!(folded.len() > 5, "{folded:?}");
        // Lines are filled: each but the last is within a character of the limit.
        for l in &folded[..folded.len() - 1] {
            assert!(l.len() > 75 - 4, "{l:?}");
        }
        assert!(unfold(&s).contains(&format!("DESCRIPTION:{}\r\n", ics_text(&long))));
    }

    #[test]
    fn ics_end_is_after_start_even_for_a_bad_duration() {
        let s = ics(&CalendarEvent {
            duration_minutes: 0,
            sequence: -2,
            ..event("")
        });
        assert!(s.contains("DTEND:20261203T200100Z"), "{s}");
        assert!(s.contains("SEQUENCE:0"), "{s}");
    }

    #[test]
    fn calendar_links_are_percent_encoded() {
        let ev = CalendarEvent {
            title: "Tea & coffee: 100% #1?",
            ..event("Line one\nline two")
        };
        let g = google_calendar_url(&ev);
        assert!(g.starts_with("https://calendar.google.com/calendar/render?action=TEMPLATE&"));
        assert!(
            g.contains("&text=Tea%20%26%20coffee%3A%20100%25%20%231%3F&"),
            "{g}"
        );
        assert!(
            g.contains("&dates=20261203T200000Z/20261203T213000Z&"),
            "{g}"
        );
        assert!(
            g.contains(
                "&details=Line%20one%0Aline%20two%0A%0Ahttps%3A%2F%2Fexample.org%2Fdebates%2F42"
            ),
            "{g}"
        );
        let o = outlook_calendar_url(&ev);
        assert!(o.starts_with("https://outlook.live.com/calendar/0/deeplink/compose?"));
        assert!(
            o.contains("&subject=Tea%20%26%20coffee%3A%20100%25%20%231%3F&"),
            "{o}"
        );
        assert!(o.contains("&startdt=2026-12-03T20%3A00%3A00Z&"), "{o}");
        assert!(o.contains("&enddt=2026-12-03T21%3A30%3A00Z&"), "{o}");
        for url in [g, o] {
            assert!(!url.contains(' ') && !url.contains('\n') && !url.contains('#'));
        }
    }

    // --- activity ------------------------------------------------------------------------

    #[test]
    fn messages_are_counted_per_started_minute() {
        let s = 1_000_000;
        let times = [s, s + 59, s + 60, s + 150, s + 150, s - 1, s + 1000];
        // 2.5 minutes: three buckets, the last partial.
        assert_eq!(messages_per_minute(&times, s, s + 150), [2, 1, 2]);
        // A message at exactly the end of a whole minute counts in the last one.
        assert_eq!(messages_per_minute(&[s + 120], s, s + 120), [0, 1]);
        assert_eq!(messages_per_minute(&[], s, s), [0]);
        assert_eq!(messages_per_minute(&[s], s, s - 100), [1]);
        let week = messages_per_minute(&[s, s + 7 * 86_400], s, s + 7 * 86_400);
        assert_eq!(week.len(), MAX_MINUTE_BUCKETS);
        assert_eq!(week.iter().sum::<u32>(), 1);
        assert_eq!(messages_per_minute(&[0], i64::MIN, i64::MAX).len(), 1440);
    }

    /// A small well-formedness check: tags balance, one root, text and attribute values
    /// hold no raw `<`, and every `&` starts an entity.
    fn assert_well_formed(xml: &str) {
        let mut stack: Vec<String> = Vec::new();
        let mut roots = 0;
        let mut rest = xml;
        let check_text = |t: &str| {
            for (i, _) in t.match_indices('&') {
                let tail = &t[i..];
                let ok = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                    .iter()
                    .any(|e| tail.starts_with(e));
                assert!(ok, "bare & in {t:?}");
            }
        };
        while let Some(open) = rest.find('<') {
            let text = &rest[..open];
            if stack.is_empty() {
                assert!(text.trim().is_empty(), "text outside the root: {text:?}");
            }
            check_text(text);
            let close = rest[open..].find('>').expect("unclosed tag") + open;
            let tag = &rest[open + 1..close];
            assert!(!tag.contains('<'), "< inside a tag: {tag:?}");
            check_text(tag);
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(
                    stack.pop().as_deref(),
                    Some(name.trim()),
                    "mismatched </{name}>"
                );
            } else {
                let self_closing = tag.ends_with('/');
                let name: String = tag
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '/')
                    .collect();
                assert!(!name.is_empty());
                assert_eq!(
                    tag.matches('"').count() % 2,
                    0,
                    "unbalanced quotes: {tag:?}"
                );
                if stack.is_empty() {
                    roots += 1;
                }
                if !self_closing {
                    stack.push(name);
                }
            }
            rest = &rest[close + 1..];
        }
        assert!(rest.trim().is_empty());
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        assert_eq!(roots, 1);
    }

    #[test]
    fn the_chart_is_well_formed_labelled_and_escaped() {
        let counts = messages_per_minute(&[0, 10, 70, 70, 130, 130, 130, 200], 0, 45 * 60);
        let svg = svg_chart(
            "debate-7",
            "Tea <script>alert(1)</script> & \"coffee\"",
            &counts,
        );
        assert_well_formed(&svg);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains(r#"aria-labelledby="debate-7-title debate-7-desc""#));
        assert!(svg.contains(r#"viewBox="0 0 640 240""#));
        assert!(svg.contains(
            r#"<title id="debate-7-title">Tea &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;coffee&quot;</title>"#
        ));
        assert!(svg.contains(
            r#"<desc id="debate-7-desc">Messages per minute over 45 minutes; peak 3 at minute 3; 8 in all</desc>"#
        ));
        assert!(svg.contains(">Minute</text>") && svg.contains(">Messages</text>"));
        assert_eq!(svg.matches("<rect").count(), 4);
        assert!(!svg.contains("<script") && !svg.contains("href") && !svg.contains("style"));
        assert!(
            !svg.contains("\n\n"),
            "a blank line would end the HTML block"
        );
    }

    #[test]
    fn the_chart_of_a_silent_debate_says_so() {
        let svg = svg_chart("c", "Quiet", &[0; 10]);
        assert_well_formed(&svg);
        assert!(svg.contains("over 10 minutes; no messages</desc>"), "{svg}");
        assert!(!svg.contains("<rect"));
        let empty = svg_chart("", "", &[]);
        assert_well_formed(&empty);
        assert!(
            empty.contains(r#"aria-labelledby="chart--title chart--desc""#),
            "{empty}"
        );
    }

    #[test]
    fn chart_ids_are_made_safe() {
        let svg = svg_chart("a\" onload=\"x", "t", &[1]);
        assert_well_formed(&svg);
        assert!(svg.contains(r#"id="aonloadx-title""#), "{svg}");
        assert!(!svg.contains("onload="));
    }

    #[test]
    fn long_charts_label_every_few_minutes() {
        let counts = vec![1u32; 180];
        let svg = svg_chart("c", "t", &counts);
        assert_well_formed(&svg);
        // Minus the two axis titles.
        let labels = svg.matches(r#"text-anchor="middle">"#).count() - 2;
        assert!(labels <= 13, "{labels}");
        assert!(svg.contains(">15</text>") && svg.contains(">180</text>"));
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(12), 20);
        assert_eq!(nice_ceiling(u32::MAX), u32::MAX);
    }

    // --- moderation ----------------------------------------------------------------------

    #[test]
    fn slow_mode_counts_down_from_the_last_message() {
        assert_eq!(slow_mode_wait(None, 100, 30), None);
        assert_eq!(slow_mode_wait(Some(100), 110, 30), Some(20));
        assert_eq!(slow_mode_wait(Some(100), 130, 30), None);
        assert_eq!(slow_mode_wait(Some(100), 129, 30), Some(1));
        assert_eq!(slow_mode_wait(Some(100), 110, 0), None);
        assert_eq!(slow_mode_wait(Some(500), 110, 30), Some(30));
        assert_eq!(slow_mode_wait(Some(i64::MAX), i64::MIN, 30), Some(30));
    }

    #[test]
    fn the_word_filter_matches_whole_words_only() {
        let words = parse_word_list("ass");
        assert_eq!(filtered_word("a class act", &words), None);
        assert_eq!(filtered_word("assess this", &words), None);
        assert_eq!(filtered_word("what an ass!", &words), Some("ass".into()));
        assert_eq!(filtered_word("ASS", &words), Some("ass".into()));
        assert_eq!(filtered_word("snake_ass", &words), None);
    }

    #[test]
    fn the_word_filter_takes_phrases_case_and_unicode() {
        let words = parse_word_list("Free Money,\n  straße \n\nПривет, c++, free money");
        assert_eq!(words, ["Free Money", "straße", "Привет", "c++"]);
        assert_eq!(
            filtered_word("get FREE\n   money now", &words),
            Some("Free Money".into())
        );
        assert_eq!(filtered_word("freemoney", &words), None);
        assert_eq!(filtered_word("Die STRASSE", &words), None);
        assert_eq!(filtered_word("Die Straße.", &words), Some("straße".into()));
        assert_eq!(filtered_word("ПРИВЕТ мир", &words), Some("Привет".into()));
        assert_eq!(filtered_word("приветствую", &words), None);
        assert_eq!(filtered_word("I like c++.", &words), Some("c++".into()));
        assert_eq!(filtered_word("abc++", &words), None);
        // A combining accent belongs to the word: "cafe" + U+0301 is not "cafe".
        assert_eq!(filtered_word("cafe\u{301}", &parse_word_list("cafe")), None);
        assert_eq!(filtered_word("anything", &[]), None);
        assert_eq!(filtered_word("anything", &["  ".to_owned()]), None);
    }

    #[test]
    fn the_first_listed_word_is_reported() {
        let words = parse_word_list("zebra\nant");
        assert_eq!(filtered_word("ant and zebra", &words), Some("zebra".into()));
    }

    // --- summary -------------------------------------------------------------------------

    fn answer(author: &str, text: &str, reactions: i64) -> SummaryAnswer {
        SummaryAnswer {
            author: author.into(),
            text: text.into(),
            reactions,
        }
    }

    fn input<'a>(questions: &'a [SummaryQuestion], per_minute: &'a [u32]) -> SummaryInput<'a> {
        SummaryInput {
            title: "Tea or coffee",
            original_title: "Why tea wins",
            original_url: "https://example.org/why-tea-wins",
            transcript_url: "https://example.org/debates/42/transcript",
            questions,
            participants: 12,
            messages: 230,
            peak_readers: 57,
            duration_minutes: 45,
            chart_markdown: "![Messages per minute](https://example.org/debates/42/chart.svg)",
            per_minute,
        }
    }

    #[test]
    fn the_summary_quotes_the_three_most_reacted_answers_ties_in_order() {
        let qs = [SummaryQuestion {
            number: 1,
            text: "Milk first?".into(),
            answers: vec![
                answer("Ann", "first-two", 2),
                answer("Ben", "top", 5),
                answer("Cat", "second-two", 2),
                answer("Dan", "third-two", 2),
                answer("Eve", "none", 0),
            ],
        }];
        let md = summary_markdown(&input(&qs, &[1, 2]));
        let top = md.find("> top").unwrap();
        let first = md.find("> first-two").expect(&md);
        let second = md.find("> second-two").unwrap();
        assert!(top < first && first < second, "{md}");
        assert!(!md.contains("third") && !md.contains("none"), "{md}");
        assert!(md.contains("> — Ben, 5 reactions"), "{md}");
        assert!(md.contains("## Q1: Milk first?"), "{md}");
    }

    #[test]
    fn the_summary_links_the_piece_transcript_and_figures() {
        let md = summary_markdown(&input(&[], &[0, 3, 1]));
        assert!(md.starts_with(
            "This is a summary of the live debate “Tea or coffee” on [Why tea wins](<https://example.org/why-tea-wins>)."
        ), "{md}");
        assert!(md.contains("[full transcript](<https://example.org/debates/42/transcript>)"));
        for want in [
            "## The debate in figures",
            "- Duration: 45 minutes",
            "- Participants: 12",
            "- Messages: 230",
            "- Most readers at once: 57",
            "- Busiest minute: minute 2, with 3 messages",
            "| Minute | Messages |",
            "| 2 | 3 |",
        ] {
            assert!(md.contains(want), "{want} missing:\n{md}");
        }
        let chart = md
            .find("\n\n![Messages per minute](https://example.org/debates/42/chart.svg)\n\n")
            .expect(&md);
        assert!(
            md.find("- Busiest minute").unwrap() < chart
                && chart < md.find("### Messages per minute").unwrap(),
            "the chart sits between the figures and their table: {md}"
        );
    }

    #[test]
    fn long_debates_are_tabled_in_five_minute_rows() {
        let per_minute: Vec<u32> = (0..43).map(|i| i % 3).collect();
        let md = summary_markdown(&input(&[], &per_minute));
        assert!(md.contains("| Minutes | Messages |"), "{md}");
        assert!(md.contains("| 1–5 | 4 |"), "{md}");
        assert!(md.contains("| 41–43 | 3 |"), "{md}");
        assert_eq!(md.matches("\n| ").count(), 2 + 9, "{md}");
    }

    #[test]
    fn user_text_is_escaped_line_by_line() {
        assert_eq!(md_line("  # heading"), "\\# heading");
        assert_eq!(md_line("> quote"), "\\> quote");
        assert_eq!(md_line("| a | b |"), "\\| a \\| b \\|");
        assert_eq!(md_line("- item"), "\\- item");
        assert_eq!(md_line("1. item"), "1\\. item");
        assert_eq!(md_line("2026) x"), "2026\\) x");
        assert_eq!(md_line("==="), "\\===");
        assert_eq!(md_line("<script>"), "\\<script\\>");
        assert_eq!(md_line("[x](javascript:y)"), "\\[x\\](javascript:y)");
        assert_eq!(md_line("a-b 1.5 &amp;"), "a-b 1.5 \\&amp;");
        assert_eq!(md_line("a -- b---c"), "a \\-\\- b\\-\\-\\-c");
        let mut q = String::new();
        md_quote(&mut q, "one\ntwo\n\nthree");
        assert_eq!(q, "> one\\\n> two\n>\n> three\n");
        assert_eq!(
            md_url("https://x.example/a b<c>"),
            "https://x.example/a%20b%3Cc%3E"
        );
    }

    #[test]
    fn the_summary_title_has_an_en_dash_and_fits() {
        assert_eq!(
            summary_title("Tea or coffee"),
            "Tea or coffee – Debate Summary"
        );
        assert_eq!(summary_title("  a\n b "), "a b – Debate Summary");
        let long = summary_title(&"é".repeat(500));
        assert_eq!(long.chars().count(), MAX_TITLE_CHARS);
        assert!(long.ends_with("… – Debate Summary"));
        let emoji = summary_title(&"👩‍👩‍👧 ".repeat(100));
        assert!(emoji.chars().count() <= MAX_TITLE_CHARS);
        assert!(!emoji.contains("\u{200D}…"), "{emoji}");
        assert_eq!(summary_title(""), "Debate Summary");
    }

    // --- transcripts ---------------------------------------------------------------------

    fn line(
        id: i64,
        at: &str,
        author: &str,
        kind: MessageKind,
        question: Option<i64>,
        body: &str,
    ) -> TranscriptLine {
        TranscriptLine {
            id,
            at: super::tests::at(at),
            author: author.into(),
            kind,
            question,
            reply_to: None,
            body: body.into(),
            hidden: false,
        }
    }

    fn sample() -> Vec<TranscriptLine> {
        use MessageKind::*;
        let mut v = vec![
            line(1, "2026-12-03T20:01:00Z", "Zoe", Message, None, "Hello all"),
            line(
                2,
                "2026-12-03T20:03:10Z",
                "Alice",
                Question,
                Some(1),
                "Milk first?",
            ),
            line(
                3,
                "2026-12-03T20:03:40Z",
                "Carl",
                Question,
                Some(2),
                "# Sugar?",
            ),
            line(
                4,
                "2026-12-03T20:04:00Z",
                "Bob",
                Answer,
                Some(1),
                "Never.\nNot once.",
            ),
            line(
                5,
                "2026-12-03T20:05:00Z",
                "Dee",
                Message,
                None,
                "rude words",
            ),
            line(6, "2026-12-03T20:06:00Z", "Eve", Answer, Some(2), "| no |"),
            line(7, "2026-12-03T20:07:00Z", "Fay", Message, None, "agreed"),
        ];
        v[4].hidden = true;
        v[6].reply_to = Some(4);
        v
    }

    #[test]
    fn the_text_transcript_has_one_line_per_message() {
        let t = transcript_text("Tea or coffee", &sample());
        let want = "Tea or coffee\n\
            Transcript of the live debate, Thursday 3 December 2026. Times are UTC.\n\n\
            [20:01] Zoe: Hello all\n\
            [20:03] Q1 Alice: Milk first?\n\
            [20:03] Q2 Carl: # Sugar?\n\
            [20:04] A1 Bob: Never.\n        Not once.\n\
            [20:05] (message hidden by a moderator)\n\
            [20:06] A2 Eve: | no |\n\
            [20:07] Fay (replying to Bob): agreed\n";
        assert_eq!(t, want);
    }

    #[test]
    fn the_text_transcript_marks_a_new_day() {
        let mut lines = sample();
        lines[6].at = at("2026-12-04T00:02:00Z");
        let t = transcript_text("T", &lines);
        assert!(
            t.contains("\n\n--- Friday 4 December 2026 ---\n\n[00:02] Fay"),
            "{t}"
        );
    }

    #[test]
    fn the_markdown_transcript_groups_answers_under_their_question() {
        let md = transcript_markdown("Tea # coffee", &sample());
        let want = "# Tea \\# coffee\n\n\
            Transcript of the live debate, Thursday 3 December 2026. Times are UTC.\n\n\
            ## Q1: Milk first?\n\n\
            **\\[20:03\\] Q1 Alice:** Milk first?\n\n\
            **\\[20:04\\] A1 Bob:** Never.\\\nNot once.\n\n\
            ## Q2: \\# Sugar?\n\n\
            **\\[20:03\\] Q2 Carl:** \\# Sugar?\n\n\
            **\\[20:06\\] A2 Eve:** \\| no \\|\n\n\
            ## Other messages\n\n\
            **\\[20:01\\] Zoe:** Hello all\n\n\
            **\\[20:05\\]** *(message hidden by a moderator)*\n\n\
            **\\[20:07\\] Fay** (replying to Bob): agreed\n";
        assert_eq!(md, want);
    }

    #[test]
    fn empty_transcripts_say_so() {
        assert!(transcript_text("T", &[]).contains("No messages were sent."));
        assert!(transcript_markdown("T", &[]).ends_with("No messages were sent.\n"));
    }
}
