//! The local learning spam filter: a naive-Bayes classifier over word tokens, trained only
//! by this site's moderators ("spam" / "not spam"), with no third-party service.
//!
//! The store keeps, for each token, in how many spam and how many good thoughts it appeared,
//! plus the number of each kind of thought trained. [`score`] smooths each token's
//! probability towards neutral when it has been seen rarely (Robinson), then combines the
//! most telling tokens with the naive-Bayes product, in log space.

use std::collections::BTreeSet;

/// The filter says nothing until it has seen at least this many of each kind.
pub const MIN_TRAINING: i64 = 5;
/// Only this many tokens, the furthest from neutral, decide the score.
pub const TELLING_TOKENS: usize = 15;
const MAX_TOKENS: usize = 400;

/// The tokens of a thought: lowercased words (2–30 chars), link hosts, and the author's
/// email domain and website host, prefixed so they do not mix with words.
pub fn tokens(body: &str, author_email: &str, author_url: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let lower = body.to_lowercase();
    for word in lower.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '$' || c == '£'))
    {
        let w = word.trim_matches('\'');
        let n = w.chars().count();
        if (2..=30).contains(&n) && !w.chars().all(|c| c.is_ascii_digit()) {
            out.insert(w.to_owned());
        }
        if out.len() >= MAX_TOKENS {
            break;
        }
    }
    for part in lower.split_whitespace() {
        if let Some(host) = url_host(part) {
            out.insert(format!("host:{host}"));
        }
    }
    if let Some((_, domain)) = author_email.trim().to_lowercase().rsplit_once('@') {
        out.insert(format!("email:{domain}"));
    }
    if let Some(host) = url_host(&author_url.to_lowercase()) {
        out.insert(format!("site:{host}"));
    }
    out
}

fn url_host(s: &str) -> Option<String> {
    let start = s.find("http://").or_else(|| s.find("https://"))?;
    let rest = &s[start..];
    let rest = rest.split_once("://")?.1;
    let host: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    (!host.is_empty()).then_some(host)
}

/// What the filter has learnt so far about the tokens of one thought.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub spam_docs: i64,
    pub ham_docs: i64,
    /// (times in spam, times in good thoughts) for each token seen before.
    pub counts: Vec<(i64, i64)>,
}

/// The probability that a thought is spam, or `None` while the filter is untrained.
pub fn score(e: &Evidence) -> Option<f64> {
    if e.spam_docs < MIN_TRAINING || e.ham_docs < MIN_TRAINING {
        return None;
    }
    let (ns, nh) = (e.spam_docs as f64, e.ham_docs as f64);
    // Robinson: f(w) = (s·x + n·p(w)) / (s + n), with strength s = 1 and prior x = 0.5.
    let mut probs: Vec<f64> = e
        .counts
        .iter()
        .map(|&(s, h)| {
            let ps = (s as f64 / ns).min(1.0);
            let ph = (h as f64 / nh).min(1.0);
            let p = if ps + ph == 0.0 { 0.5 } else { ps / (ps + ph) };
            let n = (s + h) as f64;
            ((0.5 + n * p) / (1.0 + n)).clamp(0.01, 0.99)
        })
        .collect();
    if probs.is_empty() {
        return Some(0.5);
    }
    probs.sort_by(|a, b| {
        (b - 0.5)
            .abs()
            .partial_cmp(&(a - 0.5).abs())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    probs.truncate(TELLING_TOKENS);
    let (ls, lh) = probs.iter().fold((0.0f64, 0.0f64), |(ls, lh), p| {
        (ls + p.ln(), lh + (1.0 - p).ln())
    });
    // p = Πp / (Πp + Π(1-p)), computed in log space so long texts do not underflow.
    Some(1.0 / (1.0 + (lh - ls).exp()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A tiny in-memory trainer, the same arithmetic the store does in SQL.
    #[derive(Default)]
    struct Model {
        spam: i64,
        ham: i64,
        t: HashMap<String, (i64, i64)>,
    }

    impl Model {
        fn train(&mut self, text: &str, spam: bool) {
            for tok in tokens(text, "", "") {
                let e = self.t.entry(tok).or_default();
                if spam {
                    e.0 += 1
                } else {
                    e.1 += 1
                }
            }
            if spam {
                self.spam += 1
            } else {
                self.ham += 1
            }
        }
        fn score(&self, text: &str) -> Option<f64> {
            let counts = tokens(text, "", "")
                .iter()
                .filter_map(|t| self.t.get(t).copied())
                .collect();
            score(&Evidence {
                spam_docs: self.spam,
                ham_docs: self.ham,
                counts,
            })
        }
    }

    #[test]
    fn untrained_filter_abstains() {
        let m = Model::default();
        assert_eq!(m.score("buy cheap watches"), None);
    }

    #[test]
    fn learns_from_marks() {
        let mut m = Model::default();
        let spam = [
            "Buy cheap watches online, best price, visit http://watches.example now",
            "Cheap pills online best price http://pills.example",
            "Earn money fast from home, visit http://money.example",
            "Best casino bonus online, cheap spins http://casino.example",
            "Cheap loans fast approval, best price online",
            "Visit our online shop for cheap designer bags",
        ];
        let ham = [
            "I agree with the point about caseloads; our team sees the same thing.",
            "Thank you for writing this. Supervision matters more than ever.",
            "The section on the press coverage of social work rang true for me.",
            "Could you say more about how the local authority handled the review?",
            "As a foster carer I found this piece thoughtful and fair.",
            "Our team discussed this article in supervision last week.",
        ];
        for s in spam {
            m.train(s, true);
        }
        for h in ham {
            m.train(h, false);
        }
        let p = m.score("cheap watches, best price online").unwrap();
        assert!(p > 0.9, "spam scored {p}");
        let q = m
            .score("Supervision and caseloads: thank you for this piece.")
            .unwrap();
        assert!(q < 0.2, "good thought scored {q}");
    }

    #[test]
    fn tokens_include_hosts_and_domains() {
        let t = tokens(
            "see https://Spam.Example/path and 2024",
            "x@Mail.Example",
            "http://site.example/",
        );
        assert!(t.contains("host:spam.example"));
        assert!(t.contains("email:mail.example"));
        assert!(t.contains("site:site.example"));
        assert!(!t.contains("2024"));
    }
}
