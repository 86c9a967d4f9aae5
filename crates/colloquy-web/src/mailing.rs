//! What each mail says, and the worker that sends the queued ones.
//!
//! The store queues deliveries (one row per mail, idempotent by key); this module turns a
//! delivery into an [`Outgoing`] mail (text and HTML parts, the follower's one-click
//! unsubscribe link) and hands it to the [`colloquy_mail::Mailer`]. Links in mails are signed
//! with the site secret, so they work without a session and cannot be forged.

use crate::render::escape_html as html_escape;
use crate::{AppState, SharedState};
use colloquy_mail::{Outgoing, SendError};
use colloquy_store::{Delivery, NewDelivery};
use std::time::Duration;

/// Deliveries claimed per round, and sent at the same time.
const BATCH: i64 = 64;
const CONCURRENCY: usize = 32;

pub fn sign(state: &AppState, msg: &str) -> String {
    crate::auth::sign(&state.settings().secret, msg)
}

pub fn check(state: &AppState, msg: &str, sig: &str) -> bool {
    crate::auth::same_token(&sign(state, msg), sig)
}

/// The one-click unsubscribe address of a follower (RFC 8058): permanent, signed.
pub fn unsubscribe_url(state: &AppState, subscriber_id: i64) -> String {
    format!(
        "{}/subscriptions/unsubscribe?s={subscriber_id}&t={}",
        state.config.base_url,
        sign(state, &format!("unsub|{subscriber_id}"))
    )
}

/// The signed page where a follower changes what they get.
pub fn manage_url(state: &AppState, subscriber_id: i64) -> String {
    format!(
        "{}/subscriptions/manage?s={subscriber_id}&t={}",
        state.config.base_url,
        sign(state, &format!("manage|{subscriber_id}"))
    )
}

pub fn unwatch_url(state: &AppState, watcher_id: i64) -> String {
    format!(
        "{}/thoughts/unwatch?w={watcher_id}&t={}",
        state.config.base_url,
        sign(state, &format!("unwatch|{watcher_id}"))
    )
}

/// A mail made of paragraphs and one call to action, as text and as simple HTML.
fn letter(paragraphs: &[String], link: Option<(&str, &str)>, footer: &str) -> (String, String) {
    let mut text = paragraphs.join("\n\n");
    let mut html = String::from(
        "<!doctype html><html><body style=\"font-family: Georgia, serif; line-height: 1.5\">",
    );
    for p in paragraphs {
        html.push_str(&format!("<p>{}</p>", html_escape(p)));
    }
    if let Some((label, url)) = link {
        text.push_str(&format!("\n\n{label}: {url}"));
        html.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>",
            html_escape(url),
            html_escape(label)
        ));
    }
    if !footer.is_empty() {
        text.push_str(&format!("\n\n-- \n{footer}"));
        html.push_str(&format!(
            "<hr><p style=\"font-size: small; color: #555\">{}</p>",
            html_escape(footer)
        ));
    }
    html.push_str("</body></html>");
    (text, html)
}

/// Turns a queued delivery into the mail to send, or None when it no longer applies (the
/// follower left, the post is gone).
/// What one round of the worker loads once for all its deliveries.
#[derive(Default)]
struct Prefetched {
    posts: std::collections::HashMap<i64, colloquy_store::PostRow>,
    subscribers: std::collections::HashMap<i64, String>,
}

async fn compose(
    state: &AppState,
    d: &Delivery,
    pre: &Prefetched,
) -> anyhow::Result<Option<Outgoing>> {
    let site = state.settings();
    let base = &state.config.base_url;
    let payload: serde_json::Value = if d.payload.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&d.payload)?
    };
    let mut out = Outgoing {
        to_email: d.to_email.clone(),
        message_key: d.dedupe_key.clone(),
        from_name: Some(site.title.clone()),
        ..Default::default()
    };
    match d.kind.as_str() {
        "confirm" => {
            let token = payload["token"].as_str().unwrap_or_default();
            let url = format!("{base}/subscriptions/confirm?token={token}");
            out.subject = format!("Confirm that you want to follow {}", site.title);
            let (t, h) = letter(
                &[
                    format!("Someone, probably you, asked to follow {} by email.", site.title),
                    "Nothing will be sent until you confirm. The link works once, for 7 days. If it was not you, ignore this mail.".into(),
                ],
                Some(("Confirm", &url)),
                "",
            );
            (out.text, out.html) = (t, Some(h));
        }
        "account_sign_in"
        | "account_verify"
        | "account_reset"
        | "account_invite"
        | "account_link_identity" => {
            let token = payload["token"].as_str().unwrap_or_default();
            let (path, subject, lines, button) = match d.kind.as_str() {
                "account_sign_in" => (
                    "/sign-in/link/use",
                    format!("Your sign-in link for {}", site.title),
                    vec![
                        format!("Someone, probably you, asked to sign in to {} with this address.", site.title),
                        "The link works once, for 15 minutes. If it was not you, ignore this mail: nothing happens without the link.".to_string(),
                    ],
                    "Sign in",
                ),
                "account_verify" => (
                    "/verify",
                    format!("Confirm your address for {}", site.title),
                    vec![
                        format!("Someone, probably you, created an account on {} with this address.", site.title),
                        "Confirm it to write thoughts and take part in debates. The link works once, for 7 days. If it was not you, ignore this mail.".to_string(),
                    ],
                    "Confirm my address",
                ),
                "account_reset" => (
                    "/password/reset",
                    format!("Choose a new password for {}", site.title),
                    vec![
                        format!("Someone, probably you, asked to choose a new password for your account on {}.", site.title),
                        "The link works once, for an hour. If it was not you, ignore this mail: your password stays as it is.".to_string(),
                    ],
                    "Choose a new password",
                ),
                "account_invite" => (
                    "/register",
                    format!("You are invited to {}", site.title),
                    vec![format!("You are invited to create an account on {}. The invitation works once, for 14 days.", site.title)],
                    "Create my account",
                ),
                _ => (
                    "/sign-in/join",
                    format!("Join a sign-in to your account on {}", site.title),
                    vec![
                        format!("Someone signed in to {} with another provider, using this address, which your account here has.", site.title),
                        "If it was you, follow the link to join that sign-in to your account. If it was not, ignore this mail: nothing is joined without the link, which works once, for an hour.".to_string(),
                    ],
                    "Join and sign in",
                ),
            };
            let param = if d.kind == "account_invite" {
                "invite"
            } else {
                "token"
            };
            let url = format!("{base}{path}?{param}={token}");
            out.subject = subject;
            let (t, h) = letter(&lines, Some((button, &url)), "");
            (out.text, out.html) = (t, Some(h));
        }
        "already" => {
            let sid = d.subscriber_id.unwrap_or(0);
            out.subject = format!("You already follow {}", site.title);
            out.unsubscribe_url = Some(unsubscribe_url(state, sid));
            let (t, h) = letter(
                &[format!(
                    "Someone asked to follow {} with this address, which already follows it. Nothing has changed.",
                    site.title
                )],
                Some(("Stop following", out.unsubscribe_url.as_deref().unwrap_or(""))),
                "",
            );
            (out.text, out.html) = (t, Some(h));
        }
        "post" => {
            let (Some(pid), Some(sid)) = (d.post_id, d.subscriber_id) else {
                return Ok(None);
            };
            if pre.subscribers.get(&sid).map(String::as_str) != Some("confirmed") {
                return Ok(None);
            }
            let Some(p) = pre.posts.get(&pid) else {
                return Ok(None);
            };
            if p.status != "published" {
                return Ok(None);
            }
            let url = format!(
                "{base}{}",
                crate::render::post_path(&p.kind, &p.slug, p.publish_at, &site.tz())
            );
            out.subject = format!("{} – {}", p.title, site.title);
            out.unsubscribe_url = Some(unsubscribe_url(state, sid));
            let footer = format!(
                "You follow {} by email. Change what you get: {} — or stop with one click: {}",
                site.title,
                manage_url(state, sid),
                out.unsubscribe_url.as_deref().unwrap_or("")
            );
            let (t, h) = letter(
                &[
                    format!("New on {}: {}", site.title, p.title),
                    format!("by {}", p.author_name),
                    p.excerpt.clone(),
                ],
                Some(("Read it", &url)),
                &footer,
            );
            (out.text, out.html) = (t, Some(h));
        }
        "thought_pending" | "thought_new" | "thought_reply" => {
            let tid = payload["thought_id"].as_i64().unwrap_or(0);
            let Ok(t) = state.store.thought_by_id(tid).await else {
                return Ok(None);
            };
            let Ok(p) = state.store.post_by_id(t.post_id).await else {
                return Ok(None);
            };
            let post_url = format!(
                "{base}{}",
                crate::render::post_path(&p.kind, &p.slug, p.publish_at, &site.tz())
            );
            out.auto_generated = true;
            let plain = colloquy_core::markdown::plain_text(&t.body_markdown);
            if d.kind == "thought_pending" {
                out.subject = format!("A thought awaits moderation on “{}”", p.title);
                let (tx, h) = letter(
                    &[
                        format!("{} wrote on “{}”:", t.author_name, p.title),
                        plain,
                        format!("Why it waits: {}", t.held_reason),
                    ],
                    Some(("Moderate", &format!("{base}/admin/thoughts/{tid}/edit"))),
                    "",
                );
                (out.text, out.html) = (tx, Some(h));
            } else {
                if t.status != "approved" {
                    return Ok(None);
                }
                let wid = payload["watcher_id"].as_i64().unwrap_or(0);
                out.subject = if d.kind == "thought_reply" {
                    format!("{} replied to your thought on “{}”", t.author_name, p.title)
                } else {
                    format!("New thought on “{}”", p.title)
                };
                out.unsubscribe_url = Some(unwatch_url(state, wid));
                let footer = format!(
                    "You asked to hear of new thoughts on this post. Stop: {}",
                    out.unsubscribe_url.as_deref().unwrap_or("")
                );
                let (tx, h) = letter(
                    &[format!("{} wrote on “{}”:", t.author_name, p.title), plain],
                    Some(("Read it", &format!("{post_url}#thought-{tid}"))),
                    &footer,
                );
                (out.text, out.html) = (tx, Some(h));
            }
        }
        "digest" => {
            let Some(sid) = d.subscriber_id else {
                return Ok(None);
            };
            match state.store.subscriber_by_id(sid).await {
                Ok(s) if s.status == "confirmed" => {}
                _ => return Ok(None),
            }
            let ids: Vec<i64> = payload["post_ids"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_i64()).collect())
                .unwrap_or_default();
            let mut paragraphs = vec![];
            let mut n = 0;
            for id in ids {
                let Ok(p) = state.store.post_by_id(id).await else {
                    continue;
                };
                if p.status != "published" {
                    continue;
                }
                n += 1;
                let url = format!(
                    "{base}{}",
                    crate::render::post_path(&p.kind, &p.slug, p.publish_at, &site.tz())
                );
                paragraphs.push(format!(
                    "{} (by {})\n{}\n{url}",
                    p.title, p.author_name, p.excerpt
                ));
            }
            if n == 0 {
                return Ok(None);
            }
            let when = if payload["frequency"] == "weekly" {
                "this week"
            } else {
                "today"
            };
            out.subject = if n == 1 {
                format!("1 new post on {} {when}", site.title)
            } else {
                format!("{n} new posts on {} {when}", site.title)
            };
            out.unsubscribe_url = Some(unsubscribe_url(state, sid));
            let footer = format!(
                "You get a digest of {} by email. Change what you get: {} — or stop with one click: {}",
                site.title,
                manage_url(state, sid),
                out.unsubscribe_url.as_deref().unwrap_or("")
            );
            let (t, h) = letter(&paragraphs, None, &footer);
            (out.text, out.html) = (t, Some(h));
        }
        k if k.starts_with("debate_") => {
            let Some((subject, paragraphs, link, footer)) =
                crate::live::compose_mail(state, k, &payload).await?
            else {
                return Ok(None);
            };
            out.subject = subject;
            if let Some(r) = payload["registration_id"].as_i64() {
                out.unsubscribe_url = Some(crate::live::cancel_url(state, r));
            }
            let link = link.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
            let (t, h) = letter(&paragraphs, link, &footer);
            (out.text, out.html) = (t, Some(h));
        }
        other => anyhow::bail!("unknown kind of mail {other:?}"),
    }
    Ok(Some(out))
}

/// Queues the confirmation mail for a new or returning follower.
pub async fn queue_confirmation(
    state: &AppState,
    subscriber_id: i64,
    email: &str,
    token: &str,
) -> Result<(), colloquy_store::StoreError> {
    let nonce = crate::auth::random_token();
    state
        .store
        .queue_mail(&[NewDelivery {
            dedupe_key: format!("confirm:{subscriber_id}:{nonce}"),
            kind: "confirm".into(),
            to_email: email.into(),
            subscriber_id: Some(subscriber_id),
            post_id: None,
            payload: serde_json::json!({ "token": token }).to_string(),
        }])
        .await
        .map(|_| ())
}

pub async fn queue_already(
    state: &AppState,
    subscriber_id: i64,
    email: &str,
) -> Result<(), colloquy_store::StoreError> {
    let nonce = crate::auth::random_token();
    state
        .store
        .queue_mail(&[NewDelivery {
            dedupe_key: format!("already:{subscriber_id}:{nonce}"),
            kind: "already".into(),
            to_email: email.into(),
            subscriber_id: Some(subscriber_id),
            post_id: None,
            payload: String::new(),
        }])
        .await
        .map(|_| ())
}

/// The handlers of the thought notices queued by the thoughts pipeline: they fan the notice
/// out into one delivery per recipient.
pub async fn fan_out_thought_notice(
    state: &AppState,
    kind: &str,
    payload: &str,
) -> anyhow::Result<()> {
    let v: serde_json::Value = serde_json::from_str(payload)?;
    let tid = v["thought_id"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("the job names no thought"))?;
    let t = match state.store.thought_by_id(tid).await {
        Ok(t) => t,
        Err(colloquy_store::StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let items: Vec<NewDelivery> = if kind == colloquy_store::JOB_THOUGHT_PENDING {
        state
            .store
            .moderation_recipients(t.post_id)
            .await?
            .into_iter()
            .map(|email| NewDelivery {
                dedupe_key: format!("thought_pending:{tid}:{email}"),
                kind: "thought_pending".into(),
                to_email: email,
                subscriber_id: None,
                post_id: Some(t.post_id),
                payload: serde_json::json!({ "thought_id": tid }).to_string(),
            })
            .collect()
    } else {
        // A watcher whose own thought this one answers gets "… replied to your thought".
        let parent_email = match t.parent_id {
            Some(p) => state
                .store
                .thought_by_id(p)
                .await
                .map(|p| p.author_email.to_lowercase())
                .unwrap_or_default(),
            None => String::new(),
        };
        state
            .store
            .thought_watchers(t.post_id)
            .await?
            .into_iter()
            // Nobody needs to hear of their own thought.
            .filter(|(_, email)| !email.eq_ignore_ascii_case(&t.author_email))
            .map(|(wid, email)| NewDelivery {
                dedupe_key: format!("thought_new:{tid}:{wid}"),
                kind: if !parent_email.is_empty() && email.eq_ignore_ascii_case(&parent_email) {
                    "thought_reply".into()
                } else {
                    "thought_new".into()
                },
                to_email: email,
                subscriber_id: None,
                post_id: Some(t.post_id),
                payload: serde_json::json!({ "thought_id": tid, "watcher_id": wid }).to_string(),
            })
            .collect()
    };
    state.store.queue_mail(&items).await?;
    Ok(())
}

/// Queues the daily digest once a day and the weekly one on Mondays, from 07:00 in the
/// site's time zone (any node may do it; the period is claimed in the database).
pub async fn queue_due_digests(state: &AppState) -> anyhow::Result<u64> {
    let now = jiff::Timestamp::now().to_zoned(state.settings().tz());
    if now.hour() < 7 {
        return Ok(0);
    }
    let day = now.strftime("%Y-%m-%d").to_string();
    let mut n = state.store.queue_digests("daily", &day).await?;
    if now.weekday() == jiff::civil::Weekday::Monday {
        let week = now.strftime("%G-W%V").to_string();
        n += state.store.queue_digests("weekly", &week).await?;
    }
    Ok(n)
}

/// One round of the mail worker: announce new posts, then send what is due. Returns how
/// many deliveries it handled.
pub async fn run_once(state: &SharedState) -> anyhow::Result<usize> {
    let announced = state.store.announce_due().await?;
    if !announced.is_empty() {
        tracing::info!(posts = ?announced, "announced new posts to followers");
    }
    // A post that just became public also tells the sites it links to.
    for id in &announced {
        if let Ok(p) = state.store.post_by_id(*id).await {
            crate::routes::queue_send(state, p.id, crate::routes::content_version(&p)).await?;
        }
    }
    let batch = state.store.claim_mail(BATCH).await?;
    let n = batch.len();
    if n == 0 {
        return Ok(0);
    }
    // Load once what many of these mails share: the posts announced and the followers'
    // current status (someone may have left since the mail was queued).
    let mut pre = Prefetched::default();
    let mut post_ids: Vec<i64> = batch.iter().filter_map(|d| d.post_id).collect();
    post_ids.sort_unstable();
    post_ids.dedup();
    for id in post_ids {
        if let Ok(p) = state.store.post_by_id(id).await {
            pre.posts.insert(id, p);
        }
    }
    let sub_ids: Vec<i64> = batch.iter().filter_map(|d| d.subscriber_id).collect();
    pre.subscribers = state.store.subscriber_statuses(&sub_ids).await?;
    use futures_util::stream::{self, StreamExt};
    let pre = &pre;
    let sent: Vec<i64> = stream::iter(batch)
        .map(|d| async move { deliver(state, d, pre).await })
        .buffer_unordered(CONCURRENCY)
        .filter_map(|id| async move { id })
        .collect()
        .await;
    // One write marks the round's mails: only a crash within this round can resend them
    // (with the same Message-ID).
    if let Err(e) = state.store.mails_sent(&sent).await {
        tracing::error!(error = %e, "could not mark sent mails; their lease will expire and they will be sent again");
    }
    Ok(n)
}

/// Sends one delivery; returns its id when it is done (sent, or nothing left to say).
#[tracing::instrument(skip(state, d, pre), fields(delivery.id = d.id, delivery.kind = %d.kind, attempt = d.attempts))]
async fn deliver(state: &SharedState, d: Delivery, pre: &Prefetched) -> Option<i64> {
    let outcome = match compose(state, &d, pre).await {
        Ok(Some(mail)) => match state.mailer.send(&mail).await {
            Ok(()) => return Some(d.id),
            Err(SendError::Permanent(e)) => {
                tracing::warn!(error = %e, "the receiving server refused this address for good");
                state.store.mail_refused(&d, &e).await
            }
            Err(SendError::Invalid(e)) => state.store.mail_failed(&d, &e, true).await,
            Err(SendError::Transient(e)) => {
                tracing::warn!(error = %e, "mail delayed; it will be retried");
                state.store.mail_failed(&d, &e, false).await
            }
        },
        // Nothing to say any more (the follower left, the post went): done.
        Ok(None) => return Some(d.id),
        Err(e) => state.store.mail_failed(&d, &e.to_string(), true).await,
    };
    if let Err(e) = outcome {
        tracing::error!(error = %e, "could not record a delivery's outcome; its lease will expire and it will be tried again");
    }
    None
}

/// How long the worker rests when nothing was due.
pub const IDLE: Duration = Duration::from_millis(250);
