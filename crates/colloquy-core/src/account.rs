//! Accounts: who may register, what a password must be, how long the links we mail work,
//! and how sign-in failures slow an attacker down without locking a member out.

use crate::Invalid;

/// Who may create an account on the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationPolicy {
    /// Anyone, with an email address they prove.
    Open,
    /// Only people an admin invited (by email).
    Invitation,
    /// Nobody; admins add users.
    Closed,
}

impl RegistrationPolicy {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "open" => Ok(Self::Open),
            "invitation" => Ok(Self::Invitation),
            "closed" => Ok(Self::Closed),
            _ => Err(Invalid::new(
                "registration",
                "registration must be open, invitation or closed",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Invitation => "invitation",
            Self::Closed => "closed",
        }
    }
}

/// What a single-use link we mail is for, and how long it works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Sign in without a password ("magic link").
    SignIn,
    /// Prove the address of a new account.
    Verify,
    /// Choose a new password.
    Reset,
    /// Create an account on an invitation-only site.
    Invite,
    /// Join a sign-in provider to the existing account of the same address.
    LinkIdentity,
    /// The first factor passed; the one-time code is still to come (a cookie, not a mail).
    SecondFactor,
    /// A two-factor key shown for setting up, until a code from it confirms it.
    TwoFactorSetup,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::Verify => "verify",
            Self::Reset => "reset",
            Self::Invite => "invite",
            Self::LinkIdentity => "link_identity",
            Self::SecondFactor => "second_factor",
            Self::TwoFactorSetup => "two_factor_setup",
        }
    }

    /// Seconds the link works.
    pub fn ttl(self) -> i64 {
        match self {
            Self::SignIn => 15 * 60,
            Self::Verify => 7 * 86_400,
            Self::Reset => 60 * 60,
            Self::Invite => 14 * 86_400,
            Self::LinkIdentity => 60 * 60,
            Self::SecondFactor => 5 * 60,
            Self::TwoFactorSetup => 15 * 60,
        }
    }
}

const COMMON: &str = include_str!("common_passwords.txt");

fn common_stems() -> &'static std::collections::HashSet<&'static str> {
    static SET: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// A password for a new account or a reset: [`crate::user::check_password`]'s length rules,
/// and not one of the passwords people guess first: a common word with digits or symbols
/// around it (`Password2024!`), no letters at all (`1234567890`), one character repeated, or
/// the account's own email or name.
pub fn check_new_password(password: &str, email: &str, name: &str) -> Result<(), Invalid> {
    crate::user::check_password(password)?;
    let lower = password.to_lowercase();
    let stem: String = lower
        .trim_matches(|c: char| !c.is_alphabetic())
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_' | '.'))
        .collect();
    let weak = |why: &str| {
        Err(Invalid::new(
            "password",
            format!("{why}; choose a longer phrase of a few unrelated words"),
        ))
    };
    if stem.is_empty() {
        return weak("a password of only digits and symbols is guessed quickly");
    }
    let first = lower.chars().next().unwrap_or(' ');
    if lower.chars().all(|c| c == first) {
        return weak("a password of one repeated character is guessed first");
    }
    if common_stems().contains(stem.as_str()) {
        return weak("this password is built on one of the words guessed first");
    }
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    let name = name.to_lowercase().replace(' ', "");
    if (!local.is_empty() && (stem == local || lower.contains(&local) && local.len() >= 6))
        || (!name.is_empty() && stem == name)
    {
        return weak("a password made of your own email or name is guessed first");
    }
    Ok(())
}

/// Sign-in failures counted per account and per address.
pub const FREE_FAILURES: i64 = 5;
/// The window the failures are counted in.
pub const FAILURE_WINDOW: i64 = 15 * 60;
/// The longest an account's sign-in is slowed: an attacker who keeps failing cannot keep a
/// member out for longer than this at a time (and a mailed sign-in link always works).
pub const MAX_DELAY: i64 = 5 * 60;

/// How long to wait before the next password attempt, given the failures in the window
/// (`failures`) and the time of the latest one: none for the first [`FREE_FAILURES`], then a
/// delay doubling from 15 s with each failure, at most [`MAX_DELAY`].
pub fn retry_after(failures: i64, latest_failure_at: i64, now: i64) -> Option<u64> {
    if failures < FREE_FAILURES {
        return None;
    }
    let doublings = (failures - FREE_FAILURES).min(10) as u32;
    let delay = (15i64 << doublings).min(MAX_DELAY);
    let wait = latest_failure_at + delay - now;
    (wait > 0).then_some(wait as u64)
}

/// Time-based one-time codes (RFC 6238: SHA-1, 6 digits, 30 s) for staff two-factor
/// sign-in, as every authenticator app reads them.
pub mod totp {
    use totp_rs::{Builder, Secret, Totp};

    fn totp(secret: &[u8], issuer: &str, account: &str) -> Option<Totp> {
        Builder::new()
            .with_secret(Secret::from(secret.to_vec()))
            .with_issuer(Some(issuer))
            .with_account_name(account)
            .build()
            .ok()
    }

    /// The key in the form people type into an app (base32).
    pub fn key_text(secret: &[u8]) -> String {
        Secret::from(secret.to_vec()).to_base32()
    }

    /// The `otpauth://` address an app's QR reader or link handler takes.
    pub fn setup_url(secret: &[u8], issuer: &str, account: &str) -> Option<String> {
        totp(secret, issuer, account)?.to_url().ok()
    }

    /// The time step a code is valid for (the one before or after allowed for clock
    /// drift), if it is right. The caller refuses a step at or before the last one used,
    /// so a code works once.
    pub fn check(secret: &[u8], code: &str, now: i64) -> Option<u64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        totp(secret, "colloquy", "check")?.check(&code, now.max(0) as u64)
    }

    /// The code an authenticator app set up with `key_text` shows at a moment.
    pub fn code_for_key_text(key_text: &str, now: i64) -> Option<String> {
        let secret = Secret::try_from_base32(key_text.trim()).ok()?;
        Some(code_at(secret.as_ref(), now))
    }

    /// The code for a moment (tests, and showing that a set-up works).
    pub fn code_at(secret: &[u8], now: i64) -> String {
        totp(secret, "colloquy", "check")
            .map(|t| t.generate(now.max(0) as u64).to_string())
            .unwrap_or_default()
    }

    /// Recovery codes are ten groups like `k7f3-9qxm`: letters and digits without look-alikes.
    pub fn recovery_code(random: &[u8; 8]) -> String {
        const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
        let chars: String = random
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect();
        format!("{}-{}", &chars[..4], &chars[4..])
    }

    /// A typed recovery code as stored (lower case, without spaces or hyphens).
    pub fn normal_recovery_code(typed: &str) -> String {
        typed
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        for p in [
            "Password2024!",
            "qwertyuiop123",
            "1234567890",
            "!!!!!!!!!!!!",
            "aaaaaaaaaaaa",
            "iloveyou12345",
            "jane.doe.1234",
            "Social-Work-2026",
        ] {
            let e = check_new_password(p, "jane.doe@example.org", "Jane Doe").unwrap_err();
            assert_eq!(e.field, "password", "{p}");
        }
        assert!(check_new_password("short", "a@b.c", "A").is_err());
    }

    #[test]
    fn ordinary_passphrases_pass() {
        for p in [
            "correct horse battery staple",
            "tea at the allotment on thursdays",
            "Kettle-Orbit-Mango-41",
        ] {
            assert!(
                check_new_password(p, "jane.doe@example.org", "Jane Doe").is_ok(),
                "{p}"
            );
        }
    }

    #[test]
    fn failures_slow_sign_in_down_but_not_for_long() {
        assert_eq!(retry_after(4, 1000, 1000), None);
        assert_eq!(retry_after(5, 1000, 1000), Some(15));
        assert_eq!(retry_after(6, 1000, 1000), Some(30));
        assert_eq!(retry_after(5, 1000, 1016), None);
        assert_eq!(retry_after(50, 1000, 1000), Some(MAX_DELAY as u64));
        assert_eq!(retry_after(50, 1000, 1000 + MAX_DELAY), None);
    }

    #[test]
    fn one_time_codes_follow_rfc_6238() {
        // RFC 6238's SHA-1 test key and its 8-digit vectors, truncated to our 6 digits.
        let key = b"12345678901234567890";
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(totp::code_at(key, t), code, "{t}");
            assert!(totp::check(key, code, t).is_some());
        }
        // The step before and after are accepted (clock drift), others not.
        assert!(totp::check(key, "287082", 59 + 30).is_some());
        assert!(totp::check(key, "287082", 59 + 90).is_none());
        assert!(totp::check(key, "28708", 59).is_none());
        assert!(totp::check(key, "abcdef", 59).is_none());
        assert!(totp::setup_url(key, "Voices", "jane@example.org")
            .unwrap()
            .starts_with("otpauth://totp/Voices:jane%40example.org?secret="));
        assert_eq!(totp::normal_recovery_code(" K7F3-9QXM "), "k7f39qxm");
        assert_eq!(totp::recovery_code(&[0; 8]), "aaaa-aaaa");
    }

    #[test]
    fn policies_parse() {
        for p in ["open", "invitation", "closed"] {
            assert_eq!(RegistrationPolicy::parse(p).unwrap().as_str(), p);
        }
        assert!(RegistrationPolicy::parse("anyone").is_err());
    }
}
