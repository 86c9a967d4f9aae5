//! Composing and sending every mail Colloquy sends.
//!
//! A [`Mailer`] either speaks SMTP to any server (`COLLOQUY_SMTP_URL`, STARTTLS whenever the
//! server offers it, implicit TLS for `smtps://`), or, when nothing is configured, writes each
//! message as an `.eml` file into the outbox folder, so a fresh installation works and loses
//! nothing. Messages always carry `Message-ID`, `Date`, a `From` with the site's name, and the
//! list headers of RFC 2369 / RFC 8058 where a mail belongs to a subscription. Header text is
//! checked here: no line breaks or control characters reach a header.
//!
//! This crate knows nothing of the database: callers hand it finished [`Outgoing`] mails and
//! decide, from [`SendError`], whether to retry.

use lettre::message::dkim::{DkimConfig, DkimSigningAlgorithm, DkimSigningKey};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server refused for good (5xx): do not try this address again.
    #[error("permanently refused: {0}")]
    Permanent(String),
    /// Try again later (4xx, connection trouble, timeouts).
    #[error("temporarily failed: {0}")]
    Transient(String),
    /// The mail itself is malformed (a bad address or header): retrying cannot help.
    #[error("invalid mail: {0}")]
    Invalid(String),
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

/// One message to one person.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub to_name: Option<String>,
    pub to_email: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// Stable per mail (e.g. derived from what it announces and to whom), so a resend after a
    /// crash carries the same `Message-ID` and mail clients show it once.
    pub message_key: String,
    /// The one-click unsubscribe URL (RFC 8058); also added as `List-Unsubscribe`.
    pub unsubscribe_url: Option<String>,
    /// `Auto-Submitted: auto-generated` (notifications), so auto-responders stay quiet.
    pub auto_generated: bool,
    /// The sender's display name for this mail (the site's current title); the configured
    /// address stays.
    pub from_name: Option<String>,
}

/// Text fit for a header: no control characters, at most `max` characters.
pub fn header_text(field: &str, s: &str, max: usize) -> Result<String, SendError> {
    let t = s.trim();
    if t.chars().any(char::is_control) {
        return Err(SendError::Invalid(format!(
            "the {field} holds a line break or control character"
        )));
    }
    if t.chars().count() > max {
        return Err(SendError::Invalid(format!(
            "the {field} is longer than {max} characters"
        )));
    }
    Ok(t.to_owned())
}

macro_rules! text_header {
    ($ty:ident, $name:literal) => {
        #[derive(Debug, Clone)]
        struct $ty(String);
        impl Header for $ty {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }
            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok(Self(s.to_owned()))
            }
            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}
text_header!(ListUnsubscribe, "List-Unsubscribe");
text_header!(ListUnsubscribePost, "List-Unsubscribe-Post");
text_header!(AutoSubmitted, "Auto-Submitted");

enum Transport {
    Outbox(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Where mail goes and who it comes from.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    /// The right-hand side of every `Message-ID`.
    id_domain: String,
    dkim: Option<DkimConfig>,
    description: String,
}

/// How to reach an SMTP server, read from `smtp://user:pass@host:port` or `smtps://…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub implicit_tls: bool,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    /// `?tls=required` refuses to send without STARTTLS; `?tls=none` never tries it.
    pub tls: TlsMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Opportunistic,
    Required,
    None,
}

impl SmtpUrl {
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let bad = |why: &str| {
            ConfigError(format!(
                "COLLOQUY_SMTP_URL {why}: use smtp://user:password@host:port or smtps://… (got {})",
                redact(url)
            ))
        };
        let (implicit_tls, rest) = if let Some(r) = url.strip_prefix("smtps://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("smtp://") {
            (false, r)
        } else {
            return Err(bad("has an unknown scheme"));
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let rest = rest.trim_end_matches('/');
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad("has a user or password that is not valid UTF-8"))
        };
        let (user, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((a, b)) => (Some(decode(a)?), Some(decode(b)?)),
                None => (Some(decode(u)?), None),
            },
            None => (None, None),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || p.parse::<u16>().is_ok() => (
                h.trim_matches(['[', ']']).to_owned(),
                p.parse::<u16>()
                    .map_err(|_| bad("has a port that is not a number"))?,
            ),
            _ => (
                hostport.trim_matches(['[', ']']).to_owned(),
                if implicit_tls { 465 } else { 587 },
            ),
        };
        if host.is_empty() {
            return Err(bad("names no host"));
        }
        let tls = match query
            .split('&')
            .find_map(|kv| kv.strip_prefix("tls="))
            .unwrap_or("opportunistic")
        {
            "opportunistic" => TlsMode::Opportunistic,
            "required" => TlsMode::Required,
            "none" => TlsMode::None,
            _ => {
                return Err(bad(
                    "has a tls= value other than opportunistic, required or none",
                ))
            }
        };
        Ok(Self {
            implicit_tls,
            host,
            port,
            user,
            password,
            tls,
        })
    }
}

/// The URL with its password hidden, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(a)) if a > s => format!("{}://…@{}", &url[..s], &url[a + 1..]),
        _ => url.to_owned(),
    }
}

/// DKIM signing: the selector, the signing domain, and an RSA private key in PEM.
pub struct DkimSettings {
    pub selector: String,
    pub domain: String,
    pub private_key_pem: String,
}

impl Mailer {
    /// `smtp_url` None writes mail into `outbox` instead of sending it.
    pub fn new(
        smtp_url: Option<&str>,
        outbox: PathBuf,
        site_name: &str,
        from_email: &str,
        reply_to: Option<&str>,
        dkim: Option<DkimSettings>,
    ) -> Result<Self, ConfigError> {
        let from_addr = from_email.parse().map_err(|e| {
            ConfigError(format!(
                "the sender address {from_email:?} is not valid: {e}"
            ))
        })?;
        let name =
            header_text("site name", site_name, 200).map_err(|e| ConfigError(e.to_string()))?;
        let from = Mailbox::new(Some(name), from_addr);
        let reply_to = match reply_to {
            Some(r) => Some(Mailbox::new(
                None,
                r.parse().map_err(|e| {
                    ConfigError(format!("the reply-to address {r:?} is not valid: {e}"))
                })?,
            )),
            None => None,
        };
        let id_domain = from_email
            .rsplit_once('@')
            .map(|d| d.1.to_owned())
            .unwrap_or_else(|| "colloquy.invalid".into());
        let (transport, description) = match smtp_url {
            None => {
                std::fs::create_dir_all(&outbox).map_err(|e| {
                    ConfigError(format!(
                        "cannot create the outbox {}: {e}",
                        outbox.display()
                    ))
                })?;
                let d = format!(
                    "writing mail to {} (no SMTP server configured)",
                    outbox.display()
                );
                (Transport::Outbox(outbox), d)
            }
            Some(url) => {
                let u = SmtpUrl::parse(url)?;
                let params = TlsParameters::new(u.host.clone())
                    .map_err(|e| ConfigError(format!("TLS set-up for {} failed: {e}", u.host)))?;
                let tls = if u.implicit_tls {
                    Tls::Wrapper(params)
                } else {
                    match u.tls {
                        TlsMode::Opportunistic => Tls::Opportunistic(params),
                        TlsMode::Required => Tls::Required(params),
                        TlsMode::None => Tls::None,
                    }
                };
                let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&u.host)
                    .port(u.port)
                    .tls(tls)
                    .timeout(Some(Duration::from_secs(30)))
                    .pool_config(
                        lettre::transport::smtp::PoolConfig::new()
                            .max_size(32)
                            .idle_timeout(Duration::from_secs(60)),
                    );
                if let (Some(user), Some(pw)) = (u.user.clone(), u.password.clone()) {
                    b = b.credentials(Credentials::new(user, pw));
                }
                let d = format!("sending mail through {}", redact(url));
                (Transport::Smtp(b.build()), d)
            }
        };
        let dkim = match dkim {
            Some(d) => {
                let key = DkimSigningKey::new(&d.private_key_pem, DkimSigningAlgorithm::Rsa)
                    .map_err(|e| ConfigError(format!("the DKIM key cannot be read: {e}")))?;
                Some(DkimConfig::default_config(d.selector, d.domain, key))
            }
            None => None,
        };
        Ok(Self {
            transport,
            from,
            reply_to,
            id_domain,
            dkim,
            description,
        })
    }

    /// Whether mail actually leaves (false: it waits in the outbox folder).
    pub fn delivers(&self) -> bool {
        matches!(self.transport, Transport::Smtp(_))
    }

    pub fn describe(&self) -> &str {
        &self.description
    }

    pub fn outbox_dir(&self) -> Option<&std::path::Path> {
        match &self.transport {
            Transport::Outbox(p) => Some(p),
            Transport::Smtp(_) => None,
        }
    }

    /// Builds the message: multipart/alternative when there is HTML, headers checked.
    pub fn compose(&self, m: &Outgoing) -> Result<Message, SendError> {
        let to_addr = m
            .to_email
            .parse()
            .map_err(|e| SendError::Invalid(format!("{:?} is not an address: {e}", m.to_email)))?;
        let to_name = match &m.to_name {
            Some(n) => Some(header_text("name", n, 200)?),
            None => None,
        };
        let subject = header_text("subject", &m.subject, 300)?;
        let key_hash = hex::encode(&sha2::Sha256::digest_bytes(m.message_key.as_bytes())[..16]);
        let from = match &m.from_name {
            Some(n) => Mailbox::new(
                Some(header_text("site name", n, 200)?),
                self.from.email.clone(),
            ),
            None => self.from.clone(),
        };
        let mut b = Message::builder()
            .from(from)
            .to(Mailbox::new(to_name, to_addr))
            .subject(subject)
            .message_id(Some(format!("<{key_hash}@{}>", self.id_domain)))
            .date_now();
        if let Some(r) = &self.reply_to {
            b = b.reply_to(r.clone());
        }
        if let Some(u) = &m.unsubscribe_url {
            let u = header_text("unsubscribe address", u, 2000)?;
            b = b
                .header(ListUnsubscribe(format!("<{u}>")))
                .header(ListUnsubscribePost("List-Unsubscribe=One-Click".into()));
        }
        if m.auto_generated {
            b = b.header(AutoSubmitted("auto-generated".into()));
        }
        let msg = match &m.html {
            Some(html) => b.multipart(MultiPart::alternative_plain_html(
                m.text.clone(),
                html.clone(),
            )),
            None => b.singlepart(SinglePart::plain(m.text.clone())),
        }
        .map_err(|e| SendError::Invalid(e.to_string()))?;
        let mut msg = msg;
        if let Some(d) = &self.dkim {
            msg.sign(d);
        }
        Ok(msg)
    }

    /// Sends one mail (or files it in the outbox).
    pub async fn send(&self, m: &Outgoing) -> Result<(), SendError> {
        let msg = self.compose(m)?;
        match &self.transport {
            Transport::Smtp(t) => t.send(msg).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    SendError::Permanent(e.to_string())
                } else {
                    SendError::Transient(e.to_string())
                }
            }),
            Transport::Outbox(dir) => {
                let bytes = msg.formatted();
                let name = format!(
                    "{}-{}.eml",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_millis())
                        .unwrap_or(0),
                    &hex::encode(sha2::Sha256::digest_bytes(m.message_key.as_bytes()))[..16]
                );
                let tmp = dir.join(format!(".{name}.tmp"));
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                    use std::io::Write;
                    let mut f = std::fs::File::create(&tmp)?;
                    f.write_all(&bytes)?;
                    f.sync_all()?;
                    std::fs::rename(&tmp, dir.join(name))
                })
                .await
                .map_err(|e| SendError::Transient(e.to_string()))?
                .map_err(|e| SendError::Transient(format!("cannot write to the outbox: {e}")))
            }
        }
    }
}

trait DigestBytes {
    fn digest_bytes(b: &[u8]) -> Vec<u8>;
}

impl DigestBytes for sha2::Sha256 {
    fn digest_bytes(b: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        sha2::Sha256::digest(b).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_parse() {
        let u = SmtpUrl::parse("smtp://user%40x:p%3Ass@mail.example.org:2525").unwrap();
        assert_eq!(u.host, "mail.example.org");
        assert_eq!(u.port, 2525);
        assert_eq!(u.user.as_deref(), Some("user@x"));
        assert_eq!(u.password.as_deref(), Some("p:ss"));
        assert_eq!(u.tls, TlsMode::Opportunistic);
        assert!(!u.implicit_tls);
        let s = SmtpUrl::parse("smtps://mail.example.org").unwrap();
        assert!(s.implicit_tls);
        assert_eq!(s.port, 465);
        assert_eq!(
            SmtpUrl::parse("smtp://127.0.0.1:25?tls=none").unwrap().tls,
            TlsMode::None
        );
        assert!(SmtpUrl::parse("http://x").is_err());
        assert!(SmtpUrl::parse("smtp://:25").is_err());
        assert!(SmtpUrl::parse("smtp://h:port").is_err());
        assert!(SmtpUrl::parse("smtp://h?tls=maybe").is_err());
        assert_eq!(redact("smtp://u:secret@h:25"), "smtp://…@h:25");
    }

    fn outbox_mailer(dir: &std::path::Path) -> Mailer {
        Mailer::new(
            None,
            dir.to_path_buf(),
            "Care Voices – Ünïcode",
            "news@example.org",
            Some("editors@example.org"),
            None,
        )
        .unwrap()
    }

    #[test]
    fn headers_refuse_injection_and_encode_unicode() {
        let dir = std::env::temp_dir().join(format!("colloquy-mail-test-{}", std::process::id()));
        let m = outbox_mailer(&dir);
        let mut o = Outgoing {
            to_email: "reader@example.org".into(),
            to_name: Some("Zoë Reader".into()),
            subject: "Nouveau : « débat » ce soir".into(),
            text: "Hello".into(),
            html: Some("<p>Hello</p>".into()),
            message_key: "post:1:sub:2".into(),
            unsubscribe_url: Some("https://example.org/subscriptions/unsubscribe?token=abc".into()),
            auto_generated: true,
            from_name: None,
        };
        let raw = String::from_utf8(m.compose(&o).unwrap().formatted()).unwrap();
        assert!(raw.contains(
            "List-Unsubscribe: <https://example.org/subscriptions/unsubscribe?token=abc>"
        ));
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(raw.contains("Auto-Submitted: auto-generated"));
        assert!(raw.contains("Message-ID: <"));
        assert!(raw.contains("multipart/alternative"));
        let head = raw.split("\r\n\r\n").next().unwrap();
        assert!(
            head.is_ascii(),
            "every header is 7-bit, encoded words for the rest: {head}"
        );
        let subject = head.lines().find(|l| l.starts_with("Subject:")).unwrap();
        assert!(subject.contains("=?utf-8?"), "{subject}");
        o.subject = "Hi\r\nBcc: victim@example.org".into();
        assert!(matches!(m.compose(&o), Err(SendError::Invalid(_))));
        o.subject = "ok".into();
        o.to_name = Some("Eve\nBcc: x@example.org".into());
        assert!(matches!(m.compose(&o), Err(SendError::Invalid(_))));
        o.to_name = None;
        o.to_email = "not an address".into();
        assert!(matches!(m.compose(&o), Err(SendError::Invalid(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_same_key_gives_the_same_message_id() {
        let dir = std::env::temp_dir().join(format!("colloquy-mail-id-{}", std::process::id()));
        let m = outbox_mailer(&dir);
        let o = Outgoing {
            to_email: "a@example.org".into(),
            subject: "s".into(),
            text: "t".into(),
            message_key: "k".into(),
            ..Default::default()
        };
        let id = |raw: Vec<u8>| {
            let s = String::from_utf8(raw).unwrap();
            s.lines()
                .find(|l| l.starts_with("Message-ID:"))
                .unwrap()
                .to_owned()
        };
        assert_eq!(
            id(m.compose(&o).unwrap().formatted()),
            id(m.compose(&o).unwrap().formatted())
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn the_outbox_keeps_every_mail_as_a_file() {
        let dir = std::env::temp_dir().join(format!("colloquy-mail-outbox-{}", std::process::id()));
        let m = outbox_mailer(&dir);
        assert!(!m.delivers());
        for i in 0..3 {
            m.send(&Outgoing {
                to_email: "a@example.org".into(),
                subject: format!("n{i}"),
                text: "t".into(),
                message_key: format!("k{i}"),
                ..Default::default()
            })
            .await
            .unwrap();
        }
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".eml"))
            .collect();
        assert_eq!(files.len(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
