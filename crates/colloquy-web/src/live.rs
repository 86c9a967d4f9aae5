//! Live debates: what the room's pages, forms, API and timers share. Keeps this node's rooms
//! (`colloquy_live`) in step with the store's event log, runs the posting pipeline, opens and
//! closes rooms on time, sends reminders, drafts the Debate Summary.
//!
//! How an event reaches readers: the writer's transaction stores it with the next number;
//! after the commit, the writing node appends it to its room (or, if another writer's event
//! is not there yet, reloads the log from the store); other nodes hear of it by PostgreSQL
//! `NOTIFY` (and a one-second check as the safety net) and load it from the store. A room's
//! log only ever grows by the next number, so no reader sees a gap or a repeat.

use crate::error::WebError;
use crate::{AppState, SharedState};
use colloquy_core::confidentiality;
use colloquy_core::debate::{self, MessageBody, MessageKind};
use colloquy_core::Role;
use colloquy_live::{Appended, Hub, Room};
use colloquy_store::{
    DebateEvent, DebateRow, MessageRow, NewDelivery, Refusal, RegistrationRow, UserRow,
};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Seconds after the planned end when a room nobody closed ends by itself.
pub const OVERTIME_GRACE: i64 = 60 * 60;
/// How often each node checks its rooms against the store (the safety net under `NOTIFY`).
pub const CHECK_EVERY: Duration = Duration::from_secs(1);
/// A keep-alive comment after this much silence on a reader's stream.
pub const KEEPALIVE: Duration = Duration::from_secs(15);
/// Guest registrations one address may make per hour.
const GUEST_REGISTRATIONS_PER_HOUR: usize = 10;
/// How many events one load from the store reads at a time.
const LOAD_BATCH: i64 = 2000;
/// What a client refused one more event stream is told to wait (`Retry-After`).
const STREAM_RETRY_SECONDS: u64 = 10;

/// The code of conduct the room asks people to accept: the site's `code-of-conduct` page
/// when it has one, otherwise a short default. Its version is a hash of the text, so
/// changing the text asks everyone to accept it again.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Conduct {
    pub version: String,
    pub title: String,
    pub html: String,
    pub url: Option<String>,
}

const DEFAULT_CONDUCT: &str = "Be kind, and argue with ideas, not people.\n\n\
Never share details that could identify a person you work with or for: names, places, dates, case details. \
Speak from your own practice and keep professional boundaries.\n\n\
Moderators may hide messages, slow the room down, mute or ban. What you write here stays in the public transcript.";

/// This node's share of the live debates.
pub struct Live {
    pub hub: Hub,
    /// Names this node in the presence table.
    pub node: String,
    accepted: Mutex<HashSet<(i64, String)>>,
    readers: Mutex<HashMap<i64, i64>>,
    guest_registrations: Mutex<HashMap<String, Vec<i64>>>,
    /// Per scheduled debate, the reminder window this node last queued and for which start
    /// time, so that the timer queues each window once.
    reminded: Mutex<HashMap<i64, (&'static str, i64)>>,
    conduct: crate::cache::Memo<(), Arc<Conduct>>,
    /// Event streams open on this node, per client address.
    streams: Arc<Mutex<HashMap<String, u32>>>,
    /// Recent answers of `/debates/<slug>/presence`, by slug.
    presence: Mutex<HashMap<String, (std::time::Instant, serde_json::Value)>>,
}

/// How long a presence answer is reused.
const PRESENCE_FRESH: Duration = Duration::from_secs(3);

pub fn cached_presence(state: &AppState, slug: &str) -> Option<serde_json::Value> {
    let map = lock(&state.live.presence);
    map.get(slug)
        .filter(|(at, _)| at.elapsed() < PRESENCE_FRESH)
        .map(|(_, v)| v.clone())
}

pub fn keep_presence(state: &AppState, slug: &str, body: serde_json::Value) {
    let mut map = lock(&state.live.presence);
    if map.len() > 1000 {
        map.retain(|_, (at, _)| at.elapsed() < PRESENCE_FRESH);
    }
    map.insert(slug.to_owned(), (std::time::Instant::now(), body));
}

impl Default for Live {
    fn default() -> Self {
        Self {
            hub: Hub::new(),
            node: crate::auth::random_token()[..12].to_string(),
            accepted: Mutex::default(),
            readers: Mutex::default(),
            guest_registrations: Mutex::default(),
            reminded: Mutex::default(),
            streams: Arc::default(),
            conduct: crate::cache::Memo::new(),
            presence: Mutex::default(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

pub fn debate_path(slug: &str) -> String {
    format!("/debates/{slug}/")
}

pub struct DebateUrls {
    pub url: String,
    pub live_url: String,
    pub events_url: String,
    pub ics_url: String,
}

pub fn urls(state: &AppState, d: &DebateRow) -> DebateUrls {
    let base = &state.config.base_url;
    let slug = &d.slug;
    DebateUrls {
        url: format!("{base}/debates/{slug}/"),
        live_url: format!("{base}/debates/{slug}/live"),
        events_url: format!("{base}/debates/{slug}/events"),
        ics_url: format!("{base}/debates/{slug}/debate.ics"),
    }
}

pub async fn conduct(state: &AppState) -> Result<Arc<Conduct>, WebError> {
    if let Some(c) = state.live.conduct.get(&state.cache, &()) {
        return Ok(c);
    }
    let generation = state.cache.site_generation();
    let page = state
        .store
        .post_by_slug("page", "code-of-conduct")
        .await
        .ok()
        .filter(|p| p.status == "published");
    let (title, markdown, url) = match page {
        Some(p) => (
            p.title.clone(),
            p.body_markdown.clone(),
            Some(format!("{}/code-of-conduct/", state.config.base_url)),
        ),
        None => (
            "Code of conduct".to_string(),
            DEFAULT_CONDUCT.to_string(),
            None,
        ),
    };
    use sha2::Digest;
    let version = hex::encode(&sha2::Sha256::digest(markdown.as_bytes())[..6]);
    let c = Arc::new(Conduct {
        version,
        title,
        html: colloquy_core::markdown::render(&markdown),
        url,
    });
    state
        .live
        .conduct
        .put(&state.cache, generation, (), c.clone());
    Ok(c)
}

pub async fn has_accepted(state: &AppState, user_id: i64) -> Result<bool, WebError> {
    let c = conduct(state).await?;
    let key = (user_id, c.version.clone());
    if lock(&state.live.accepted).contains(&key) {
        return Ok(true);
    }
    let ok = state
        .store
        .has_accepted_conduct(user_id, &c.version)
        .await?;
    if ok {
        lock(&state.live.accepted).insert(key);
    }
    Ok(ok)
}

/// Records acceptance of the current code of conduct; returns its version and when.
pub async fn accept(state: &AppState, user_id: i64) -> Result<(String, i64), WebError> {
    let c = conduct(state).await?;
    let at = state.store.accept_conduct(user_id, &c.version).await?;
    lock(&state.live.accepted).insert((user_id, c.version.clone()));
    Ok((c.version.clone(), at))
}

/// The host, the debate's moderators, and the site's moderators, editors and admins run
/// the room.
pub async fn is_staff(
    state: &AppState,
    d: &DebateRow,
    user: &UserRow,
    role: Role,
) -> Result<bool, WebError> {
    if runs_the_room(d, user.id, role, &[]) {
        return Ok(true);
    }
    let moderators = state.store.debate_moderators(d.id).await?;
    Ok(runs_the_room(d, user.id, role, &moderators))
}

/// The rule behind [`is_staff`], for callers that have the debate's moderators at hand.
pub fn runs_the_room(d: &DebateRow, user_id: i64, role: Role, moderators: &[i64]) -> bool {
    d.host_id == user_id
        || role == Role::Moderator
        || role >= Role::Editor
        || moderators.contains(&user_id)
}

/// This node's room for a debate, with every event the store had when it was asked for.
pub async fn loaded_room(state: &AppState, d: &DebateRow) -> Result<Arc<Room>, WebError> {
    let room = state.live.hub.room(d.id);
    if (room.last_seq() as i64) < d.last_seq {
        load(state, &room).await?;
    }
    Ok(room)
}

/// Appends to a room every event the store has after the room's last one.
pub async fn load(state: &AppState, room: &Arc<Room>) -> Result<(), WebError> {
    let _one_at_a_time = room.load_lock.lock().await;
    loop {
        let after = room.last_seq() as i64;
        let events = state
            .store
            .debate_events_after(room.id(), after, LOAD_BATCH)
            .await?;
        let n = events.len() as i64;
        for e in events {
            room.append(e.seq as u64, &e.kind, &e.data);
        }
        if n < LOAD_BATCH {
            return Ok(());
        }
    }
}

/// After a committed write: gives the event to this node's readers at once.
pub fn publish(state: &SharedState, debate_id: i64, ev: &DebateEvent) {
    let Some(room) = state.live.hub.get(debate_id) else {
        return; // nobody reads this room here; it loads from the store when someone does
    };
    if room.append(ev.seq as u64, &ev.kind, &ev.data) == Appended::Gap {
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = load(&state, &room).await {
                tracing::warn!(error = %e, debate = room.id(), "could not load a room's events");
            }
        });
    }
}

/// One event stream's place among its address's streams on this node; dropped with the
/// stream (the reader left, or the node is stopping), it frees the place.
pub struct StreamPlace {
    streams: Arc<Mutex<HashMap<String, u32>>>,
    ip: String,
}

impl Drop for StreamPlace {
    fn drop(&mut self) {
        let mut map = lock(&self.streams);
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// A place for one more event stream from `ip`, or a refusal when the address holds
/// `debate_streams_per_ip` streams on this node already (each costs memory while open).
/// `None` when there is no limit.
pub fn admit_stream(state: &AppState, ip: &str) -> Result<Option<StreamPlace>, WebError> {
    let limit = state.config.debate_streams_per_ip;
    if limit == 0 {
        return Ok(None);
    }
    let mut map = lock(&state.live.streams);
    let open = map.entry(ip.to_owned()).or_insert(0);
    if *open >= limit {
        metrics::counter!("debate_streams_refused_total").increment(1);
        return Err(WebError::TooManyStreams {
            limit,
            retry_after: STREAM_RETRY_SECONDS,
        });
    }
    *open += 1;
    Ok(Some(StreamPlace {
        streams: state.live.streams.clone(),
        ip: ip.to_owned(),
    }))
}

/// A message as it came in (form or API), before any check.
pub struct MessageInput {
    pub body: String,
    pub kind: String,
    pub question: Option<i64>,
    pub reply_to: Option<i64>,
    pub confirm_sensitive: bool,
}

/// The one path a message takes into a room: code of conduct → text → word filter →
/// confidentiality guard → the room's rules (checked in the writing transaction) → readers.
pub async fn post_message(
    state: &SharedState,
    d: &DebateRow,
    user: &UserRow,
    role: Role,
    input: MessageInput,
) -> Result<(MessageRow, DebateEvent), WebError> {
    let r = checked_post(state, d, user, role, input).await;
    match &r {
        Ok(_) => metrics::counter!("debate_messages_total").increment(1),
        Err(e) => {
            metrics::counter!("debate_messages_refused_total", "code" => e.code()).increment(1)
        }
    }
    r
}

async fn checked_post(
    state: &SharedState,
    d: &DebateRow,
    user: &UserRow,
    role: Role,
    input: MessageInput,
) -> Result<(MessageRow, DebateEvent), WebError> {
    if user.email_verified_at.is_none() {
        return Err(WebError::Forbidden(
            "confirm your email address first: follow the link we mailed you (your account page can send it again)".into(),
        ));
    }
    if !has_accepted(state, user.id).await? {
        return Err(WebError::Forbidden(
            "accept the code of conduct before taking part: read it in the room and tick the box (API: POST /api/v1/debates/{id}/code-of-conduct)".into(),
        ));
    }
    let kind = MessageKind::parse(&input.kind)?;
    let body = MessageBody::parse(&input.body)?;
    let staff = is_staff(state, d, user, role).await?;
    let settings = state.settings();
    if !staff {
        if let Some(w) = debate::filtered_word(body.as_str(), &settings.debate_words) {
            return Err(colloquy_core::Invalid::new(
                "body",
                format!("the room does not allow the word or phrase “{w}”; please rephrase"),
            )
            .into());
        }
    }
    let findings = confidentiality::scan(body.as_str());
    if !findings.is_empty() && !input.confirm_sensitive {
        return Err(WebError::Sensitive(findings));
    }
    if kind == MessageKind::Answer && input.question.is_none() {
        return Err(
            colloquy_core::Invalid::new("question", "say which question this answers").into(),
        );
    }
    let html = colloquy_core::markdown::render_comment(body.as_str());
    let m = colloquy_store::NewMessage {
        debate_id: d.id,
        user_id: user.id,
        author_name: user.name.clone(),
        kind: kind.as_str().into(),
        question: input.question,
        reply_to: input.reply_to,
        body: body.into_inner(),
        body_html: html,
        staff,
    };
    match state.store.post_debate_message(&m).await? {
        Ok((row, ev)) => {
            publish(state, d.id, &ev);
            // A crowded room whose readers run late slows its writers' answers (the event
            // is stored and on its way; only the answer waits).
            if let Some(room) = state.live.hub.get(d.id) {
                let wait = room.answer_delay();
                if !wait.is_zero() {
                    metrics::counter!("debate_answers_paced_total").increment(1);
                    tokio::time::sleep(wait).await;
                }
            }
            Ok((row, ev))
        }
        Err(r) => Err(refused(r)),
    }
}

fn refused(r: Refusal) -> WebError {
    use colloquy_core::Invalid;
    match r {
        Refusal::NotLive(s) => WebError::Conflict(match s.as_str() {
            "scheduled" => "the room is not open yet; it opens at the start time".into(),
            _ => "the debate has ended; its transcript is read-only".into(),
        }),
        Refusal::Locked => {
            WebError::Forbidden("the moderators have locked the room for now".into())
        }
        Refusal::Muted => WebError::Forbidden("a moderator has muted you in this debate".into()),
        Refusal::Banned => WebError::Forbidden("you are banned from taking part in debates".into()),
        Refusal::SlowMode(wait) => WebError::TooManyRequests(wait.max(1) as u64),
        Refusal::NoSuchQuestion(n) => WebError::Invalid(Invalid::new(
            "question",
            format!("there is no question Q{n} yet"),
        )),
        Refusal::NoSuchMessage(n) => WebError::Invalid(Invalid::new(
            "reply_to",
            format!("there is no message {n} in this debate"),
        )),
        Refusal::OnlyStaffAsk => {
            WebError::Forbidden("only the host and the moderators ask the questions".into())
        }
    }
}

/// Opens or ends a room (by the host, the API, or the timer).
pub async fn set_state(state: &SharedState, debate_id: i64, to: &str) -> Result<bool, WebError> {
    let ev = state.store.set_debate_state(debate_id, to).await?;
    let changed = ev.is_some();
    if let Some(ev) = ev {
        publish(state, debate_id, &ev);
        state.content_changed().await;
        tracing::info!(debate = debate_id, state = to, "debate room changed state");
        if to == "ended" {
            if let Err(e) = draft_summary(state, debate_id).await {
                tracing::warn!(error = %e, debate = debate_id, "could not draft the debate summary; the timer will try again");
            }
        }
    }
    Ok(changed)
}

/// Drafts the "<title> – Debate Summary" post for the host, once per debate.
pub async fn draft_summary(state: &SharedState, debate_id: i64) -> anyhow::Result<Option<i64>> {
    let d = state.store.debate(debate_id).await?;
    if d.summary_post_id.is_some() || d.state != "ended" {
        return Ok(None);
    }
    let original = state.store.post_by_id(d.post_id).await?;
    let site = state.settings();
    let base = &state.config.base_url;
    let original_url = format!(
        "{base}{}",
        crate::render::post_path(
            &original.kind,
            &original.slug,
            original.publish_at,
            &site.tz()
        )
    );
    let messages = state.store.debate_messages(d.id).await?;
    let questions = summary_questions(&messages);
    let figures = state.store.debate_figures(d.id).await?;
    let start = d.opened_at.unwrap_or(d.starts_at);
    let end = d.ended_at.unwrap_or(start).max(start);
    let times: Vec<i64> = messages.iter().map(|m| m.created_at).collect();
    let per_minute = debate::messages_per_minute(&times, start, end);
    let urls = urls(state, &d);
    // The post renderer allows no SVG: the chart is an image of the room's chart address,
    // which survives the host's edits; the table under it carries the same figures.
    let chart = format!(
        "![Messages per minute during the debate (the table below gives the figures)]({base}/debates/{}/chart.svg)",
        d.slug
    );
    let body = debate::summary_markdown(&debate::SummaryInput {
        title: &d.title,
        original_title: &original.title,
        original_url: &original_url,
        transcript_url: &urls.live_url,
        questions: &questions,
        participants: figures.participants,
        messages: figures.messages,
        peak_readers: figures.peak_readers,
        duration_minutes: ((end - start) + 59) / 60,
        chart_markdown: &chart,
        per_minute: &per_minute,
    });
    let (html, plain, excerpt) = crate::site::body_parts(&body);
    let title = debate::summary_title(&d.title);
    let slug = colloquy_core::Slug::from_title(&title)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("debate-summary-{}", d.id));
    let post_id = state
        .store
        .create_post(colloquy_store::NewPost {
            kind: "post".into(),
            title,
            slug,
            slug_was_derived: true,
            body_markdown: body,
            body_html: html,
            plain_text: plain,
            excerpt,
            status: "draft".into(),
            publish_at: None,
            author_id: d.host_id,
            featured_image: None,
            tags: vec![],
            categories: vec![],
        })
        .await?;
    if !state.store.set_summary_post(d.id, post_id).await? {
        // Another node drafted it first: remove ours.
        state.store.delete_post(post_id).await?;
        return Ok(None);
    }
    tracing::info!(debate = d.id, post = post_id, "drafted the debate summary");
    Ok(Some(post_id))
}

/// The questions with their answers in posting order (hidden ones left out).
pub fn summary_questions(messages: &[MessageRow]) -> Vec<debate::SummaryQuestion> {
    let mut qs: Vec<debate::SummaryQuestion> = messages
        .iter()
        .filter(|m| m.kind == "question" && !m.hidden)
        .map(|m| debate::SummaryQuestion {
            number: m.question.unwrap_or(0),
            text: m.body.clone(),
            answers: vec![],
        })
        .collect();
    for m in messages.iter().filter(|m| m.kind == "answer" && !m.hidden) {
        if let Some(q) = qs.iter_mut().find(|q| Some(q.number) == m.question) {
            q.answers.push(debate::SummaryAnswer {
                author: m.author_name.clone(),
                text: m.body.clone(),
                reactions: m.reactions,
            });
        }
    }
    qs
}

/// Counts a guest registration from `ip`, or refuses it with the seconds to wait.
pub fn allow_guest_registration(state: &AppState, ip: &str) -> Result<(), WebError> {
    let now = colloquy_store::now();
    let mut map = lock(&state.live.guest_registrations);
    let times = map.entry(ip.to_string()).or_default();
    times.retain(|t| *t > now - 3600);
    if times.len() >= GUEST_REGISTRATIONS_PER_HOUR {
        let wait = times.first().map(|t| t + 3600 - now).unwrap_or(3600).max(1);
        return Err(WebError::TooManyRequests(wait as u64));
    }
    times.push(now);
    Ok(())
}

/// Readers of a room over all nodes, as last counted (this node's own count until then).
pub fn readers(state: &AppState, debate_id: i64) -> i64 {
    let local = state
        .live
        .hub
        .get(debate_id)
        .map(|r| r.readers() as i64)
        .unwrap_or(0);
    lock(&state.live.readers)
        .get(&debate_id)
        .copied()
        .unwrap_or(local)
        .max(local)
}

/// What a debate's calendar entry says beyond the debate row: the same in the `.ics` file
/// and in the add-to-calendar links.
pub struct CalendarText {
    uid: String,
    description: String,
    url: String,
}

pub fn calendar_text(state: &AppState, d: &DebateRow) -> CalendarText {
    let u = urls(state, d);
    let host = url::Url::parse(&state.config.base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "colloquy".into());
    let description = if d.description.is_empty() {
        format!("Live debate. Join at {}", u.live_url)
    } else {
        format!("{}\n\nJoin at {}", d.description, u.live_url)
    };
    CalendarText {
        uid: format!("debate-{}@{host}", d.id),
        description,
        url: u.live_url,
    }
}

impl CalendarText {
    pub fn event<'a>(&'a self, d: &'a DebateRow) -> debate::CalendarEvent<'a> {
        debate::CalendarEvent {
            uid: &self.uid,
            sequence: d.calendar_sequence,
            stamp: d.updated_at,
            start: d.starts_at,
            duration_minutes: d.duration_minutes,
            title: &d.title,
            description: &self.description,
            url: &self.url,
            cancelled: false,
        }
    }
}

/// The calendar entry of a debate.
pub fn ics(state: &AppState, d: &DebateRow) -> String {
    debate::ics(&calendar_text(state, d).event(d))
}

/// Mails the people registered for a debate whose time changed.
pub async fn queue_time_change(state: &AppState, d: &DebateRow) -> Result<u64, WebError> {
    let regs = state.store.confirmed_registrations(d.id).await?;
    let items: Vec<NewDelivery> = regs
        .iter()
        .map(|r| NewDelivery {
            dedupe_key: format!("debate:{}:changed:{}:{}", d.id, r.id, d.calendar_sequence),
            kind: "debate_changed".into(),
            to_email: r.email.clone(),
            subscriber_id: None,
            post_id: None,
            payload: serde_json::json!({"debate_id": d.id, "registration_id": r.id}).to_string(),
        })
        .collect();
    Ok(state.store.queue_mail(&items).await?)
}

/// The reminder window a debate `until` seconds away is in: the last 15 minutes, or the
/// day before; `None` outside both.
fn reminder_window(until: i64) -> Option<(&'static str, i64)> {
    match until {
        i64::MIN..=0 => None,
        1..=900 => Some(("15m", 15 * 60)),
        901..=86_400 => Some(("24h", 86_400)),
        _ => None,
    }
}

/// The reminder of `window` for one registration, or `None` when they registered inside
/// the window (they just did; no reminder for it). Keys carry the start time, so a moved
/// debate reminds again for its new time, and several nodes do not double a mail.
fn reminder(d: &DebateRow, r: &RegistrationRow, window: (&str, i64)) -> Option<NewDelivery> {
    if r.created_at >= d.starts_at - window.1 {
        return None;
    }
    Some(NewDelivery {
        dedupe_key: format!(
            "debate:{}:remind:{}:{}:{}",
            d.id, window.0, r.id, d.starts_at
        ),
        kind: "debate_reminder".into(),
        to_email: r.email.clone(),
        subscriber_id: None,
        post_id: None,
        payload:
            serde_json::json!({"debate_id": d.id, "registration_id": r.id, "window": window.0})
                .to_string(),
    })
}

/// Queues the reminders that are due: 24 hours and 15 minutes before the start, to people
/// who registered before that moment. Each window is queued once per start time on this
/// node (remembered in `Live::reminded`; the keys keep several nodes, or a restart, from
/// doubling a mail); who confirms later is reminded at confirmation
/// ([`remind_late_registration`]).
pub async fn queue_reminders(state: &AppState) -> Result<u64, WebError> {
    let now = colloquy_store::now();
    let scheduled = state.store.debates_in_state("scheduled", 200).await?;
    let mut n = 0;
    for d in &scheduled {
        let Some(window) = reminder_window(d.starts_at - now) else {
            continue;
        };
        let done = (window.0, d.starts_at);
        if lock(&state.live.reminded).get(&d.id) == Some(&done) {
            continue;
        }
        let items: Vec<NewDelivery> = state
            .store
            .confirmed_registrations(d.id)
            .await?
            .iter()
            .filter_map(|r| reminder(d, r, window))
            .collect();
        if !items.is_empty() {
            n += state.store.queue_mail(&items).await?;
        }
        lock(&state.live.reminded).insert(d.id, done);
    }
    lock(&state.live.reminded).retain(|id, _| scheduled.iter().any(|d| d.id == *id));
    Ok(n)
}

/// A registration was just confirmed (a guest's link, or a member registering an address
/// a guest had registered): if a window it qualifies for is open already, so the timer has
/// queued it, its reminder is queued now. A failure is logged: the registration stands.
pub async fn remind_late_registration(state: &AppState, d: &DebateRow, r: &RegistrationRow) {
    if d.state != "scheduled" || r.status != "confirmed" {
        return;
    }
    let Some(window) = reminder_window(d.starts_at - colloquy_store::now()) else {
        return;
    };
    if let Some(item) = reminder(d, r, window) {
        if let Err(e) = state.store.queue_mail(&[item]).await {
            tracing::warn!(error = %e, debate = d.id, registration = r.id, "could not queue a late registration's reminder");
        }
    }
}

/// [`remind_late_registration`] for a member who just registered.
pub async fn remind_late_member(state: &AppState, d: &DebateRow, user_id: i64) {
    if d.state != "scheduled" || reminder_window(d.starts_at - colloquy_store::now()).is_none() {
        return;
    }
    match state.store.member_registration(d.id, user_id).await {
        Ok(Some(r)) => remind_late_registration(state, d, &r).await,
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, debate = d.id, "could not read a member's registration")
        }
    }
}

/// The signed link that cancels a registration (works without a session).
pub fn cancel_url(state: &AppState, registration_id: i64) -> String {
    let sig = crate::auth::sign(
        &state.settings().secret,
        &format!("debate-reg:{registration_id}"),
    );
    format!(
        "{}/debates/registrations/{registration_id}/cancel?sig={sig}",
        state.config.base_url
    )
}

pub fn check_cancel(state: &AppState, registration_id: i64, sig: &str) -> bool {
    let expected = crate::auth::sign(
        &state.settings().secret,
        &format!("debate-reg:{registration_id}"),
    );
    crate::auth::same_token(&expected, sig)
}

/// What a debate mail says, or `None` when it no longer applies.
pub async fn compose_mail(
    state: &AppState,
    kind: &str,
    payload: &serde_json::Value,
) -> anyhow::Result<Option<(String, Vec<String>, Option<(String, String)>, String)>> {
    let Some(debate_id) = payload["debate_id"].as_i64() else {
        return Ok(None);
    };
    let d = match state.store.debate(debate_id).await {
        Ok(d) => d,
        Err(colloquy_store::StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let u = urls(state, &d);
    let zones = d.zone_list();
    let when = format!(
        "{}, {}",
        debate::announce_date(
            d.starts_at,
            zones.first().map(String::as_str).unwrap_or("UTC")
        ),
        debate::announce_line(d.starts_at, &zones)
    );
    let reg = payload["registration_id"].as_i64();
    let footer = reg
        .map(|r| format!("You get this mail because you registered for this debate. Cancel your registration: {}", cancel_url(state, r)))
        .unwrap_or_default();
    Ok(Some(match kind {
        "debate_confirm" => {
            let token = payload["token"].as_str().unwrap_or_default();
            (
                format!("Confirm your place at “{}”", d.title),
                vec![
                    format!("Someone, probably you, registered this address for the live debate “{}”.", d.title),
                    format!("It starts {when}."),
                    "Confirm to get a reminder the day before and 15 minutes before. If it was not you, ignore this mail.".into(),
                ],
                Some(("Confirm my registration".into(), format!("{}/debates/registrations/confirm?token={token}", state.config.base_url))),
                String::new(),
            )
        }
        "debate_reminder" => {
            if d.state == "ended" {
                return Ok(None);
            }
            let soon = payload["window"].as_str() == Some("15m");
            (
                if soon {
                    format!("Starting in 15 minutes: “{}”", d.title)
                } else {
                    format!("Tomorrow: “{}”", d.title)
                },
                vec![
                    format!("The live debate “{}” starts {when}.", d.title),
                    format!("Add it to your calendar: {}", u.ics_url),
                ],
                Some(("Go to the debate room".into(), u.live_url.clone())),
                footer,
            )
        }
        "debate_changed" => (
            format!("New time for “{}”", d.title),
            vec![
                format!(
                    "The live debate “{}” has moved. It now starts {when}.",
                    d.title
                ),
                format!("The calendar entry is updated: {}", u.ics_url),
            ],
            Some(("See the debate".into(), u.url.clone())),
            footer,
        ),
        _ => return Ok(None),
    }))
}

/// One round of the debate timer: opens rooms whose time has come, ends forgotten ones,
/// drafts missing summaries, queues reminders.
pub async fn tick(state: &SharedState) -> anyhow::Result<()> {
    let now = colloquy_store::now();
    for id in state.store.debates_due_to_open(now).await? {
        set_state(state, id, "live").await?;
    }
    for id in state.store.debates_overdue(now, OVERTIME_GRACE).await? {
        set_state(state, id, "ended").await?;
    }
    for id in state.store.debates_needing_summary().await? {
        draft_summary(state, id).await?;
    }
    let n = queue_reminders(state).await?;
    if n > 0 {
        tracing::info!(mails = n, "queued debate reminders");
    }
    Ok(())
}

/// Checks every room this node holds against the store, reports its readers, and drops
/// idle rooms.
pub async fn check_rooms(state: &SharedState, report: bool) {
    let rooms = state.live.hub.rooms();
    if report {
        let readers: usize = rooms.iter().map(|r| r.readers()).sum();
        metrics::gauge!("debate_readers").set(readers as f64);
        metrics::gauge!("debate_rooms_held").set(rooms.len() as f64);
        // How long woken readers waited for their thread at worst (crowded rooms only), and
        // the longest wake gap (a busy room whose readers run late stretches its gap, then
        // slows its writers).
        let late = rooms.iter().map(|r| r.lateness()).max().unwrap_or_default();
        metrics::gauge!("debate_reader_lateness_seconds").set(late.as_secs_f64());
        let gap = rooms.iter().map(|r| r.wake_gap()).max().unwrap_or_default();
        metrics::gauge!("debate_wake_gap_seconds").set(gap.as_secs_f64());
    }
    for room in rooms {
        if let Err(e) = load(state, &room).await {
            tracing::warn!(error = %e, debate = room.id(), "could not check a room");
        }
        if report {
            match state
                .store
                .report_readers(&state.live.node, room.id(), room.readers() as i64, 15)
                .await
            {
                Ok(total) => {
                    lock(&state.live.readers).insert(room.id(), total);
                }
                Err(e) => tracing::warn!(error = %e, "could not report readers"),
            }
        }
    }
    if report {
        state.live.hub.evict_idle(600);
    }
}

/// Loads events other nodes committed as soon as PostgreSQL tells of them. Returns when
/// `stop` turns true; on SQLite it returns at once (one node knows its own writes).
pub async fn listen(state: SharedState, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        let mut listener = match state.store.listen_for_debate_events().await {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for debate events; retrying in 1 s");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = stop.changed() => return,
                }
            }
        };
        loop {
            let n = tokio::select! {
                n = listener.recv() => n,
                _ = stop.changed() => return,
            };
            match n {
                Ok(n) => {
                    let mut parts = n.payload().split(':');
                    let id: Option<i64> = parts.next().and_then(|s| s.parse().ok());
                    let seq: Option<u64> = parts.next().and_then(|s| s.parse().ok());
                    if let (Some(id), Some(seq)) = (id, seq) {
                        if let Some(room) = state.live.hub.get(id) {
                            if room.last_seq() < seq {
                                if let Err(e) = load(&state, &room).await {
                                    tracing::warn!(error = %e, "could not load a room's events");
                                }
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lost the debate events listener; reconnecting");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reminder_window;

    #[test]
    fn the_reminder_windows_are_the_day_before_and_the_last_quarter_hour() {
        let name = |until| reminder_window(until).map(|w| w.0);
        assert_eq!(name(-5), None, "started");
        assert_eq!(name(0), None, "starting now");
        assert_eq!(name(1), Some("15m"));
        assert_eq!(name(15 * 60), Some("15m"));
        assert_eq!(name(15 * 60 + 1), Some("24h"));
        assert_eq!(name(86_400), Some("24h"));
        assert_eq!(name(86_401), None, "more than a day away");
    }
}
