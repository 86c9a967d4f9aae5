//! Live debates: the rooms, their event log, messages, reactions, registrations.
//!
//! Every change a reader of the room must see (a message, an edit, a hide, a reaction, a pin,
//! the room opening or closing) is one row in `debate_events` with a sequence number that
//! the database assigns within the debate: the transaction first increments
//! `debates.last_seq`, which takes the debate row's write lock, so two writers to one room
//! commit in the order of their numbers. A reader that sees number `n` committed can
//! therefore read every number below it: catching up from the log never skips an event.
//! A message's id is the number of the event that created it.

use crate::{now, record_change, Backend, Result, Store, StoreError, Tx, SITE_SCOPE};
use sqlx::any::AnyRow;
use sqlx::Row;

/// The PostgreSQL channel that carries `"<debate id>:<seq>"` to every node when an event
/// commits.
pub const DEBATE_CHANNEL: &str = "colloquy_debates";

#[derive(Debug, Clone, serde::Serialize)]
pub struct DebateRow {
    pub id: i64,
    pub post_id: i64,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub starts_at: i64,
    pub duration_minutes: i64,
    /// IANA names, comma-separated.
    pub zones: String,
    pub host_id: i64,
    pub state: String,
    pub opened_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub last_seq: i64,
    pub questions: i64,
    pub calendar_sequence: i64,
    pub locked: bool,
    pub slow_seconds: i64,
    pub pinned_id: Option<i64>,
    pub peak_readers: i64,
    pub prepared_questions: String,
    pub summary_post_id: Option<i64>,
    /// The summary post's status (`draft` until the host publishes it).
    pub summary_status: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl DebateRow {
    pub fn zone_list(&self) -> Vec<String> {
        self.zones
            .split(',')
            .filter(|z| !z.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn planned_end(&self) -> i64 {
        self.starts_at + self.duration_minutes * 60
    }
}

const DEBATE_COLS: &str = "id, post_id, slug, title, description, starts_at, duration_minutes, zones, host_id, state, \
     opened_at, ended_at, last_seq, questions, calendar_sequence, locked, slow_seconds, pinned_id, peak_readers, \
     prepared_questions, summary_post_id, created_at, updated_at, \
     (SELECT p.status FROM posts p WHERE p.id = debates.summary_post_id) AS summary_status";

fn debate(r: &AnyRow) -> DebateRow {
    DebateRow {
        id: r.get("id"),
        post_id: r.get("post_id"),
        slug: r.get("slug"),
        title: r.get("title"),
        description: r.get("description"),
        starts_at: r.get("starts_at"),
        duration_minutes: r.get("duration_minutes"),
        zones: r.get("zones"),
        host_id: r.get("host_id"),
        state: r.get("state"),
        opened_at: r.get("opened_at"),
        ended_at: r.get("ended_at"),
        last_seq: r.get("last_seq"),
        questions: r.get("questions"),
        calendar_sequence: r.get("calendar_sequence"),
        locked: r.get::<i64, _>("locked") != 0,
        slow_seconds: r.get("slow_seconds"),
        pinned_id: r.get("pinned_id"),
        peak_readers: r.get("peak_readers"),
        prepared_questions: r.get("prepared_questions"),
        summary_post_id: r.get("summary_post_id"),
        summary_status: r.get("summary_status"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

#[derive(Debug, Clone)]
pub struct NewDebate {
    pub post_id: i64,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub starts_at: i64,
    pub duration_minutes: i64,
    pub zones: Vec<String>,
    pub host_id: i64,
    pub moderators: Vec<i64>,
    pub prepared_questions: String,
}

/// What an edit of a debate's announcement changes; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct DebatePatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub starts_at: Option<i64>,
    pub duration_minutes: Option<i64>,
    pub zones: Option<Vec<String>>,
    pub prepared_questions: Option<String>,
    pub moderators: Option<Vec<i64>>,
}

/// An event as stored and as sent to readers: `data` is the JSON the stream carries.
#[derive(Debug, Clone)]
pub struct DebateEvent {
    pub seq: i64,
    pub kind: String,
    pub data: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct MessageRow {
    pub id: i64,
    pub user_id: Option<i64>,
    pub author_name: String,
    pub kind: String,
    /// For a question its number; for an answer the number of the question it answers.
    pub question: Option<i64>,
    pub reply_to: Option<i64>,
    pub body: String,
    pub body_html: String,
    pub hidden: bool,
    pub reactions: i64,
    pub edited_at: Option<i64>,
    pub created_at: i64,
}

const MESSAGE_COLS: &str = "id, user_id, author_name, kind, question, reply_to, body, body_html, hidden, reactions, edited_at, created_at";

fn message(r: &AnyRow) -> MessageRow {
    MessageRow {
        id: r.get("id"),
        user_id: r.get("user_id"),
        author_name: r.get("author_name"),
        kind: r.get("kind"),
        question: r.get("question"),
        reply_to: r.get("reply_to"),
        body: r.get("body"),
        body_html: r.get("body_html"),
        hidden: r.get::<i64, _>("hidden") != 0,
        reactions: r.get("reactions"),
        edited_at: r.get("edited_at"),
        created_at: r.get("created_at"),
    }
}

/// A message as checked by the caller (text parsed, HTML rendered, role known).
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub debate_id: i64,
    pub user_id: i64,
    pub author_name: String,
    /// `message`, `question` or `answer`.
    pub kind: String,
    /// For an answer: the number of the question it answers.
    pub question: Option<i64>,
    pub reply_to: Option<i64>,
    pub body: String,
    pub body_html: String,
    /// Host, moderators and staff: may ask questions, are not slowed, may write while locked.
    pub staff: bool,
}

/// Why a message was not posted. Checked inside the writing transaction, so two nodes cannot
/// both let a person past slow mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotLive(String),
    Locked,
    Muted,
    Banned,
    /// Seconds to wait.
    SlowMode(i64),
    NoSuchQuestion(i64),
    NoSuchMessage(i64),
    OnlyStaffAsk,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RegistrationRow {
    pub id: i64,
    pub debate_id: i64,
    pub user_id: Option<i64>,
    pub email: String,
    pub name: String,
    pub status: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    /// A new registration waiting for its email to be confirmed (guests).
    Pending(i64),
    /// Registered and confirmed (members, or a guest who had confirmed before).
    Confirmed(i64),
}

/// The figures of one debate, for the summary and the room's header.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DebateFigures {
    pub participants: i64,
    pub messages: i64,
    pub peak_readers: i64,
}

fn flag(b: bool) -> i64 {
    b as i64
}

/// The debate row's counters after taking its write lock for one more event.
struct Locked {
    seq: i64,
    state: String,
    locked: bool,
    slow_seconds: i64,
    questions: i64,
}

async fn next_seq(tx: &mut Tx<'_>, debate_id: i64) -> Result<Locked> {
    let r = sqlx::query(
        "UPDATE debates SET last_seq = last_seq + 1 WHERE id = $1 \
         RETURNING last_seq, state, locked, slow_seconds, questions",
    )
    .bind(debate_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(Locked {
        seq: r.get(0),
        state: r.get(1),
        locked: r.get::<i64, _>(2) != 0,
        slow_seconds: r.get(3),
        questions: r.get(4),
    })
}

impl Store {
    async fn insert_event(
        &self,
        tx: &mut Tx<'_>,
        debate_id: i64,
        seq: i64,
        kind: &str,
        message_id: Option<i64>,
        mut data: serde_json::Value,
    ) -> Result<DebateEvent> {
        data["seq"] = seq.into();
        data["type"] = kind.into();
        let data = data.to_string();
        sqlx::query(
            "INSERT INTO debate_events (debate_id, seq, kind, message_id, data, at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(debate_id)
        .bind(seq)
        .bind(kind)
        .bind(message_id)
        .bind(&data)
        .bind(now())
        .execute(&mut **tx)
        .await?;
        if self.backend == Backend::Postgres {
            // Delivered to listeners when (and only if) the transaction commits.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(DEBATE_CHANNEL)
                .bind(format!("{debate_id}:{seq}"))
                .execute(&mut **tx)
                .await?;
        }
        Ok(DebateEvent {
            seq,
            kind: kind.into(),
            data,
        })
    }

    pub async fn create_debate(&self, d: &NewDebate) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let t = now();
        let id: i64 = sqlx::query(
            "INSERT INTO debates (post_id, slug, title, description, starts_at, duration_minutes, zones, host_id, \
             prepared_questions, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
        )
        .bind(d.post_id)
        .bind(&d.slug)
        .bind(&d.title)
        .bind(&d.description)
        .bind(d.starts_at)
        .bind(d.duration_minutes)
        .bind(d.zones.join(","))
        .bind(d.host_id)
        .bind(&d.prepared_questions)
        .bind(t)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if crate::is_unique_violation(&e) {
                StoreError::Conflict(format!("a debate with the slug {:?} exists", d.slug))
            } else {
                e.into()
            }
        })?
        .get(0);
        set_moderators(&mut tx, id, &d.moderators).await?;
        record_change(&mut tx, SITE_SCOPE).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Changes a debate's announcement. A new start time, duration or title bumps the
    /// calendar `SEQUENCE`; returns the row after the change and whether the time moved.
    pub async fn update_debate(&self, id: i64, p: &DebatePatch) -> Result<(DebateRow, bool)> {
        let mut tx = self.begin_write().await?;
        let before = sqlx::query(&format!("SELECT {DEBATE_COLS} FROM debates WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| debate(&r))
            .ok_or(StoreError::NotFound)?;
        let starts_at = p.starts_at.unwrap_or(before.starts_at);
        let duration = p.duration_minutes.unwrap_or(before.duration_minutes);
        let title = p.title.clone().unwrap_or_else(|| before.title.clone());
        let moved = starts_at != before.starts_at || duration != before.duration_minutes;
        let calendar_changed = moved || title != before.title;
        sqlx::query(
            "UPDATE debates SET title = $1, description = $2, starts_at = $3, duration_minutes = $4, zones = $5, \
             prepared_questions = $6, calendar_sequence = calendar_sequence + $7, updated_at = $8 WHERE id = $9",
        )
        .bind(&title)
        .bind(p.description.as_ref().unwrap_or(&before.description))
        .bind(starts_at)
        .bind(duration)
        .bind(p.zones.as_ref().map(|z| z.join(",")).unwrap_or(before.zones.clone()))
        .bind(p.prepared_questions.as_ref().unwrap_or(&before.prepared_questions))
        .bind(flag(calendar_changed))
        .bind(now())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let Some(m) = &p.moderators {
            set_moderators(&mut tx, id, m).await?;
        }
        record_change(&mut tx, SITE_SCOPE).await?;
        let after = sqlx::query(&format!("SELECT {DEBATE_COLS} FROM debates WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((debate(&after), moved))
    }

    pub async fn debate(&self, id: i64) -> Result<DebateRow> {
        sqlx::query(&format!("SELECT {DEBATE_COLS} FROM debates WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| debate(&r))
            .ok_or(StoreError::NotFound)
    }

    pub async fn debate_by_slug(&self, slug: &str) -> Result<DebateRow> {
        sqlx::query(&format!(
            "SELECT {DEBATE_COLS} FROM debates WHERE slug = $1"
        ))
        .bind(slug)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| debate(&r))
        .ok_or(StoreError::NotFound)
    }

    /// Debates in one state (`scheduled` soonest first; others newest first).
    pub async fn debates_in_state(&self, state: &str, limit: i64) -> Result<Vec<DebateRow>> {
        let order = if state == "scheduled" {
            "starts_at ASC"
        } else {
            "starts_at DESC"
        };
        Ok(sqlx::query(&format!(
            "SELECT {DEBATE_COLS} FROM debates WHERE state = $1 ORDER BY {order}, id LIMIT $2"
        ))
        .bind(state)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(debate)
        .collect())
    }

    pub async fn debate_moderators(&self, id: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query(
            "SELECT user_id FROM debate_moderators WHERE debate_id = $1 ORDER BY user_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
    }

    /// Opens (`live`) or ends (`ended`) a room, with its `state` event. Opening an ended room
    /// or ending a scheduled one that never opened is refused (`Conflict`). Returns `None` when
    /// the room already was in that state (two nodes' timers, a double click).
    pub async fn set_debate_state(&self, id: i64, state: &str) -> Result<Option<DebateEvent>> {
        let mut tx = self.begin_write().await?;
        let l = next_seq(&mut tx, id).await?;
        if l.state == state {
            return Ok(None); // rolled back: the number is not used
        }
        let allowed = matches!(
            (l.state.as_str(), state),
            ("scheduled", "live") | ("live", "ended") | ("scheduled", "ended")
        );
        if !allowed {
            return Err(StoreError::Conflict(format!(
                "the debate is {}; it cannot become {state}",
                l.state
            )));
        }
        let t = now();
        let col = if state == "live" {
            "opened_at"
        } else {
            "ended_at"
        };
        sqlx::query(&format!(
            "UPDATE debates SET state = $1, {col} = $2, updated_at = $2 WHERE id = $3"
        ))
        .bind(state)
        .bind(t)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let data = serde_json::json!({"state": state, "locked": l.locked, "slow_seconds": l.slow_seconds, "at": t});
        let ev = self
            .insert_event(&mut tx, id, l.seq, "state", None, data)
            .await?;
        record_change(&mut tx, SITE_SCOPE).await?;
        tx.commit().await?;
        Ok(Some(ev))
    }

    /// Locks or unlocks the room and sets slow mode (0 = off), with a `state` event.
    pub async fn set_room_rules(
        &self,
        id: i64,
        locked: bool,
        slow_seconds: i64,
    ) -> Result<DebateEvent> {
        let mut tx = self.begin_write().await?;
        let l = next_seq(&mut tx, id).await?;
        sqlx::query("UPDATE debates SET locked = $1, slow_seconds = $2 WHERE id = $3")
            .bind(flag(locked))
            .bind(slow_seconds)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let data = serde_json::json!({"state": l.state, "locked": locked, "slow_seconds": slow_seconds, "at": now()});
        let ev = self
            .insert_event(&mut tx, id, l.seq, "state", None, data)
            .await?;
        tx.commit().await?;
        Ok(ev)
    }

    /// Posts a message, question or answer, or says why not.
    pub async fn post_debate_message(
        &self,
        m: &NewMessage,
    ) -> Result<std::result::Result<(MessageRow, DebateEvent), Refusal>> {
        let mut tx = self.begin_write().await?;
        let l = next_seq(&mut tx, m.debate_id).await?;
        let t = now();
        // Dropping `tx` on a refusal rolls back, so the number is not used.
        if l.state != "live" {
            return Ok(Err(Refusal::NotLive(l.state)));
        }
        if l.locked && !m.staff {
            return Ok(Err(Refusal::Locked));
        }
        let banned = sqlx::query("SELECT 1 FROM debate_bans WHERE user_id = $1")
            .bind(m.user_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if banned && !m.staff {
            return Ok(Err(Refusal::Banned));
        }
        let part = sqlx::query(
            "SELECT muted, last_post_at FROM debate_participants WHERE debate_id = $1 AND user_id = $2",
        )
        .bind(m.debate_id)
        .bind(m.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(p) = &part {
            if p.get::<i64, _>(0) != 0 && !m.staff {
                return Ok(Err(Refusal::Muted));
            }
            let last: Option<i64> = p.get(1);
            if !m.staff {
                if let Some(wait) = colloquy_core::debate::slow_mode_wait(last, t, l.slow_seconds) {
                    return Ok(Err(Refusal::SlowMode(wait)));
                }
            }
        }
        let mut question = m.question;
        match m.kind.as_str() {
            "question" => {
                if !m.staff {
                    return Ok(Err(Refusal::OnlyStaffAsk));
                }
                question = Some(l.questions + 1);
                sqlx::query("UPDATE debates SET questions = questions + 1 WHERE id = $1")
                    .bind(m.debate_id)
                    .execute(&mut *tx)
                    .await?;
            }
            "answer" => match m.question {
                Some(q) if q >= 1 && q <= l.questions => {}
                other => return Ok(Err(Refusal::NoSuchQuestion(other.unwrap_or(0)))),
            },
            _ => question = None,
        }
        if let Some(r) = m.reply_to {
            let exists =
                sqlx::query("SELECT 1 FROM debate_messages WHERE debate_id = $1 AND id = $2")
                    .bind(m.debate_id)
                    .bind(r)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
            if !exists {
                return Ok(Err(Refusal::NoSuchMessage(r)));
            }
        }
        sqlx::query(
            "INSERT INTO debate_messages (debate_id, id, user_id, author_name, kind, question, reply_to, body, body_html, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(m.debate_id)
        .bind(l.seq)
        .bind(m.user_id)
        .bind(&m.author_name)
        .bind(&m.kind)
        .bind(question)
        .bind(m.reply_to)
        .bind(&m.body)
        .bind(&m.body_html)
        .bind(t)
        .execute(&mut *tx)
        .await?;
        if part.is_some() {
            sqlx::query(
                "UPDATE debate_participants SET messages = messages + 1, last_post_at = $1 WHERE debate_id = $2 AND user_id = $3",
            )
        } else {
            sqlx::query(
                "INSERT INTO debate_participants (debate_id, user_id, messages, last_post_at) VALUES ($2, $3, 1, $1)",
            )
        }
        .bind(t)
        .bind(m.debate_id)
        .bind(m.user_id)
        .execute(&mut *tx)
        .await?;
        let row = MessageRow {
            id: l.seq,
            user_id: Some(m.user_id),
            author_name: m.author_name.clone(),
            kind: m.kind.clone(),
            question,
            reply_to: m.reply_to,
            body: m.body.clone(),
            body_html: m.body_html.clone(),
            hidden: false,
            reactions: 0,
            edited_at: None,
            created_at: t,
        };
        let data = serde_json::json!({
            "id": row.id, "kind": row.kind, "question": row.question, "reply_to": row.reply_to,
            "author": {"id": m.user_id, "name": row.author_name, "staff": m.staff},
            "body": row.body, "html": row.body_html, "at": t,
        });
        let ev = self
            .insert_event(&mut tx, m.debate_id, l.seq, "message", Some(l.seq), data)
            .await?;
        tx.commit().await?;
        Ok(Ok((row, ev)))
    }

    pub async fn debate_message(&self, debate_id: i64, id: i64) -> Result<MessageRow> {
        sqlx::query(&format!(
            "SELECT {MESSAGE_COLS} FROM debate_messages WHERE debate_id = $1 AND id = $2"
        ))
        .bind(debate_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| message(&r))
        .ok_or(StoreError::NotFound)
    }

    /// Every message of a debate in order (the transcript).
    pub async fn debate_messages(&self, debate_id: i64) -> Result<Vec<MessageRow>> {
        Ok(sqlx::query(&format!(
            "SELECT {MESSAGE_COLS} FROM debate_messages WHERE debate_id = $1 ORDER BY id"
        ))
        .bind(debate_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(message)
        .collect())
    }

    /// Replaces a message's text, with an `edit` event.
    pub async fn edit_debate_message(
        &self,
        debate_id: i64,
        id: i64,
        body: &str,
        body_html: &str,
    ) -> Result<DebateEvent> {
        let mut tx = self.begin_write().await?;
        let l = next_seq(&mut tx, debate_id).await?;
        let t = now();
        let n = sqlx::query(
            "UPDATE debate_messages SET body = $1, body_html = $2, edited_at = $3 WHERE debate_id = $4 AND id = $5",
        )
        .bind(body)
        .bind(body_html)
        .bind(t)
        .bind(debate_id)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let data = serde_json::json!({"id": id, "body": body, "html": body_html, "at": t});
        let ev = self
            .insert_event(&mut tx, debate_id, l.seq, "edit", Some(id), data)
            .await?;
        tx.commit().await?;
        Ok(ev)
    }

    /// Hides (or shows again) a message, with a `hide` event.
    pub async fn hide_debate_message(
        &self,
        debate_id: i64,
        id: i64,
        hidden: bool,
    ) -> Result<DebateEvent> {
        let mut tx = self.begin_write().await?;
        let l = next_seq(&mut tx, debate_id).await?;
        let n =
            sqlx::query("UPDATE debate_messages SET hidden = $1 WHERE debate_id = $2 AND id = $3")
                .bind(flag(hidden))
                .bind(debate_id)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let mut data = serde_json::json!({"id": id, "hidden": hidden});
        if !hidden {
            let html: String = sqlx::query(
                "SELECT body_html FROM debate_messages WHERE debate_id = $1 AND id = $2",
            )
            .bind(debate_id)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .get(0);
            data["html"] = html.into();
        }
        let ev = self
            .insert_event(&mut tx, debate_id, l.seq, "hide", Some(id), data)
            .await?;
        tx.commit().await?;
        Ok(ev)
    }

    /// Pins a message to the top of the room (or unpins with `None`), with a `pin` event.
    pub async fn pin_debate_message(&self, debate_id: i64, id: Option<i64>) -> Result<DebateEvent> {
        let mut tx = self.begin_write().await?;
        let l = next_seq(&mut tx, debate_id).await?;
        if let Some(id) = id {
            sqlx::query("SELECT 1 FROM debate_messages WHERE debate_id = $1 AND id = $2")
                .bind(debate_id)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
        }
        sqlx::query("UPDATE debates SET pinned_id = $1 WHERE id = $2")
            .bind(id)
            .bind(debate_id)
            .execute(&mut *tx)
            .await?;
        let ev = self
            .insert_event(
                &mut tx,
                debate_id,
                l.seq,
                "pin",
                id,
                serde_json::json!({ "id": id }),
            )
            .await?;
        tx.commit().await?;
        Ok(ev)
    }

    /// Adds a person's reaction to a message, or takes it back if they had given it. The
    /// event carries the message's counts per reaction after the change.
    pub async fn toggle_reaction(
        &self,
        debate_id: i64,
        id: i64,
        user_id: i64,
        reaction: &str,
    ) -> Result<DebateEvent> {
        let mut tx = self.begin_write().await?;
        let l = next_seq(&mut tx, debate_id).await?;
        sqlx::query("SELECT 1 FROM debate_messages WHERE debate_id = $1 AND id = $2")
            .bind(debate_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let removed = sqlx::query(
            "DELETE FROM debate_reactions WHERE debate_id = $1 AND message_id = $2 AND user_id = $3 AND reaction = $4",
        )
        .bind(debate_id)
        .bind(id)
        .bind(user_id)
        .bind(reaction)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if removed == 0 {
            sqlx::query(
                "INSERT INTO debate_reactions (debate_id, message_id, user_id, reaction, at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(debate_id)
            .bind(id)
            .bind(user_id)
            .bind(reaction)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE debate_messages SET reactions = (SELECT COUNT(*) FROM debate_reactions r \
             WHERE r.debate_id = $1 AND r.message_id = $2) WHERE debate_id = $1 AND id = $2",
        )
        .bind(debate_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let counts = reaction_counts(&mut tx, debate_id, id).await?;
        let data = serde_json::json!({
            "id": id,
            "counts": counts.into_iter().map(|(_, r, n)| (r, serde_json::Value::from(n))).collect::<serde_json::Map<String, serde_json::Value>>(),
        });
        let ev = self
            .insert_event(&mut tx, debate_id, l.seq, "reaction", Some(id), data)
            .await?;
        tx.commit().await?;
        Ok(ev)
    }

    /// Reactions per message and kind: `(message id, reaction, count)`.
    pub async fn debate_reaction_counts(&self, debate_id: i64) -> Result<Vec<(i64, String, i64)>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT message_id, reaction, COUNT(*) FROM debate_reactions WHERE debate_id = $1 GROUP BY message_id, reaction ORDER BY message_id, reaction",
        )
        .bind(debate_id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    /// Events after `after`, in order, at most `limit`.
    pub async fn debate_events_after(
        &self,
        debate_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<DebateEvent>> {
        Ok(sqlx::query(
            "SELECT seq, kind, data FROM debate_events WHERE debate_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(debate_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| DebateEvent {
            seq: r.get(0),
            kind: r.get(1),
            data: r.get(2),
        })
        .collect())
    }

    /// Mutes (or unmutes) a person in one debate.
    pub async fn mute_participant(&self, debate_id: i64, user_id: i64, muted: bool) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE debate_participants SET muted = $1 WHERE debate_id = $2 AND user_id = $3",
        )
        .bind(flag(muted))
        .bind(debate_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            sqlx::query(
                "INSERT INTO debate_participants (debate_id, user_id, muted) VALUES ($1, $2, $3)",
            )
            .bind(debate_id)
            .bind(user_id)
            .bind(flag(muted))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Bans a person from every debate's room (or lifts the ban).
    pub async fn ban_from_debates(
        &self,
        user_id: i64,
        banned: bool,
        reason: &str,
        by: i64,
    ) -> Result<()> {
        if banned {
            sqlx::query(
                "INSERT INTO debate_bans (user_id, reason, banned_by, at) VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(user_id)
            .bind(reason)
            .bind(by)
            .bind(now())
            .execute(&self.pool)
            .await?;
        } else {
            sqlx::query("DELETE FROM debate_bans WHERE user_id = $1")
                .bind(user_id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    pub async fn debate_figures(&self, debate_id: i64) -> Result<DebateFigures> {
        let r = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM debate_participants WHERE debate_id = $1 AND messages > 0), \
             (SELECT COUNT(*) FROM debate_messages WHERE debate_id = $1), \
             (SELECT peak_readers FROM debates WHERE id = $1)",
        )
        .bind(debate_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(DebateFigures {
            participants: r.get(0),
            messages: r.get(1),
            peak_readers: r.get::<Option<i64>, _>(2).unwrap_or(0),
        })
    }

    /// Records this node's count of readers of a room and returns the count over all nodes
    /// that reported in the last `fresh` seconds; keeps the debate's peak.
    pub async fn report_readers(
        &self,
        node: &str,
        debate_id: i64,
        readers: i64,
        fresh: i64,
    ) -> Result<i64> {
        let t = now();
        sqlx::query(
            "INSERT INTO debate_presence (node, debate_id, readers, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (node, debate_id) DO UPDATE SET readers = excluded.readers, at = excluded.at",
        )
        .bind(node)
        .bind(debate_id)
        .bind(readers)
        .bind(t)
        .execute(&self.pool)
        .await?;
        let total: i64 = sqlx::query(
            "SELECT CAST(COALESCE(SUM(readers), 0) AS BIGINT) FROM debate_presence WHERE debate_id = $1 AND at >= $2",
        )
        .bind(debate_id)
        .bind(t - fresh)
        .fetch_one(&self.pool)
        .await?
        .get(0);
        sqlx::query("UPDATE debates SET peak_readers = $1 WHERE id = $2 AND peak_readers < $1")
            .bind(total)
            .bind(debate_id)
            .execute(&self.pool)
            .await?;
        Ok(total)
    }

    /// Has this person accepted this version of the code of conduct?
    pub async fn has_accepted_conduct(&self, user_id: i64, version: &str) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 FROM conduct_acceptances WHERE user_id = $1 AND version = $2")
                .bind(user_id)
                .bind(version)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// Records that a person accepted a version of the code of conduct (the first time counts).
    pub async fn accept_conduct(&self, user_id: i64, version: &str) -> Result<i64> {
        sqlx::query(
            "INSERT INTO conduct_acceptances (user_id, version, accepted_at) VALUES ($1, $2, $3) ON CONFLICT (user_id, version) DO NOTHING",
        )
        .bind(user_id)
        .bind(version)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(sqlx::query(
            "SELECT accepted_at FROM conduct_acceptances WHERE user_id = $1 AND version = $2",
        )
        .bind(user_id)
        .bind(version)
        .fetch_one(&self.pool)
        .await?
        .get(0))
    }

    /// Registers a member (confirmed at once) or a guest (pending until the mail's link is
    /// used). Registering again is harmless: a member stays confirmed; a guest who has not
    /// confirmed gets a new token.
    pub async fn register_for_debate(
        &self,
        debate_id: i64,
        user_id: Option<i64>,
        email: &str,
        name: &str,
        token_hash: Option<&str>,
    ) -> Result<Registered> {
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query(
            "SELECT id, status FROM debate_registrations WHERE debate_id = $1 AND email = $2",
        )
        .bind(debate_id)
        .bind(email)
        .fetch_optional(&mut *tx)
        .await?;
        let t = now();
        let out = match existing {
            Some(r) if r.get::<String, _>(1) == "confirmed" => Registered::Confirmed(r.get(0)),
            Some(r) => {
                let id: i64 = r.get(0);
                let status = if user_id.is_some() {
                    "confirmed"
                } else {
                    "pending"
                };
                sqlx::query(
                    "UPDATE debate_registrations SET status = $1, token_hash = $2, user_id = COALESCE($3, user_id), \
                     confirmed_at = CASE WHEN $1 = 'confirmed' THEN $4 ELSE NULL END WHERE id = $5",
                )
                .bind(status)
                .bind(token_hash)
                .bind(user_id)
                .bind(t)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if user_id.is_some() {
                    Registered::Confirmed(id)
                } else {
                    Registered::Pending(id)
                }
            }
            None => {
                let status = if user_id.is_some() {
                    "confirmed"
                } else {
                    "pending"
                };
                let id: i64 = sqlx::query(
                    "INSERT INTO debate_registrations (debate_id, user_id, email, name, status, token_hash, created_at, confirmed_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $5 = 'confirmed' THEN $7 ELSE NULL END) RETURNING id",
                )
                .bind(debate_id)
                .bind(user_id)
                .bind(email)
                .bind(name)
                .bind(status)
                .bind(token_hash)
                .bind(t)
                .fetch_one(&mut *tx)
                .await?
                .get(0);
                if user_id.is_some() {
                    Registered::Confirmed(id)
                } else {
                    Registered::Pending(id)
                }
            }
        };
        tx.commit().await?;
        Ok(out)
    }

    /// Confirms a guest's registration by the token from their mail.
    pub async fn confirm_registration(&self, token_hash: &str) -> Result<RegistrationRow> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE debate_registrations SET status = 'confirmed', confirmed_at = $1, token_hash = NULL \
             WHERE token_hash = $2 RETURNING id, debate_id, user_id, email, name, status, created_at",
        )
        .bind(now())
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(registration(&r))
    }

    pub async fn unregister(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM debate_registrations WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A member's registration for a debate, if any.
    pub async fn member_registration(
        &self,
        debate_id: i64,
        user_id: i64,
    ) -> Result<Option<RegistrationRow>> {
        Ok(sqlx::query(
            "SELECT id, debate_id, user_id, email, name, status, created_at FROM debate_registrations WHERE debate_id = $1 AND user_id = $2",
        )
        .bind(debate_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| registration(&r)))
    }

    pub async fn confirmed_registrations(&self, debate_id: i64) -> Result<Vec<RegistrationRow>> {
        Ok(sqlx::query(
            "SELECT id, debate_id, user_id, email, name, status, created_at FROM debate_registrations \
             WHERE debate_id = $1 AND status = 'confirmed' ORDER BY id",
        )
        .bind(debate_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(registration)
        .collect())
    }

    /// Scheduled debates whose start time has come.
    pub async fn debates_due_to_open(&self, at: i64) -> Result<Vec<i64>> {
        Ok(
            sqlx::query("SELECT id FROM debates WHERE state = 'scheduled' AND starts_at <= $1")
                .bind(at)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect(),
        )
    }

    /// Live debates whose planned end is more than `grace` seconds past.
    pub async fn debates_overdue(&self, at: i64, grace: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query(
            "SELECT id FROM debates WHERE state = 'live' AND starts_at + duration_minutes * 60 + $1 <= $2",
        )
        .bind(grace)
        .bind(at)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
    }

    /// Ended debates with no summary drafted yet.
    pub async fn debates_needing_summary(&self) -> Result<Vec<i64>> {
        Ok(
            sqlx::query("SELECT id FROM debates WHERE state = 'ended' AND summary_post_id IS NULL")
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect(),
        )
    }

    /// Records the drafted summary, unless another node did first; returns whether this call won.
    pub async fn set_summary_post(&self, debate_id: i64, post_id: i64) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE debates SET summary_post_id = $1 WHERE id = $2 AND summary_post_id IS NULL",
        )
        .bind(post_id)
        .bind(debate_id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Waits for committed debate events from any node (PostgreSQL `LISTEN`); `None` on SQLite,
    /// where there is one node and it knows its own writes.
    pub async fn listen_for_debate_events(&self) -> Result<Option<sqlx::postgres::PgListener>> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut l = sqlx::postgres::PgListener::connect(&self.url).await?;
        l.listen(DEBATE_CHANNEL).await?;
        Ok(Some(l))
    }
}

fn registration(r: &AnyRow) -> RegistrationRow {
    RegistrationRow {
        id: r.get("id"),
        debate_id: r.get("debate_id"),
        user_id: r.get("user_id"),
        email: r.get("email"),
        name: r.get("name"),
        status: r.get("status"),
        created_at: r.get("created_at"),
    }
}

async fn set_moderators(tx: &mut Tx<'_>, debate_id: i64, users: &[i64]) -> Result<()> {
    sqlx::query("DELETE FROM debate_moderators WHERE debate_id = $1")
        .bind(debate_id)
        .execute(&mut **tx)
        .await?;
    for u in users {
        sqlx::query(
            "INSERT INTO debate_moderators (debate_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(debate_id)
        .bind(u)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn reaction_counts(
    tx: &mut Tx<'_>,
    debate_id: i64,
    message: i64,
) -> Result<Vec<(i64, String, i64)>> {
    let rows = sqlx::query(
        "SELECT message_id, reaction, COUNT(*) FROM debate_reactions WHERE debate_id = $1 AND message_id = $2 \
         GROUP BY message_id, reaction ORDER BY message_id, reaction",
    )
    .bind(debate_id)
    .bind(message)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}
