use crate::Invalid;

/// A URL path segment: lowercase ASCII letters, digits and single hyphens, 1 to 200 chars.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Slug(String);

pub const MAX_SLUG_LEN: usize = 200;

impl Slug {
    /// Accepts an already-formed slug exactly as given, or explains what is wrong.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if s.is_empty() {
            return Err(Invalid::new("slug", "the slug is empty"));
        }
        if s.len() > MAX_SLUG_LEN {
            return Err(Invalid::new(
                "slug",
                format!("the slug is longer than {MAX_SLUG_LEN} characters"),
            ));
        }
        let ok = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--");
        if !ok {
            return Err(Invalid::new(
                "slug",
                "a slug may hold only lowercase letters, digits and single hyphens between them",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// Derives a slug from free text ("Social Work & Media" → "social-work-media").
    /// Letters with accents are folded to ASCII where that is obvious; other characters split words.
    pub fn from_title(title: &str) -> Result<Self, Invalid> {
        let mut out = String::with_capacity(title.len());
        for ch in title.chars().flat_map(char::to_lowercase) {
            let folded = fold(ch);
            match folded {
                Some(c) if c.is_ascii_alphanumeric() => out.push(c),
                Some('\'') | Some('’') => {}
                _ => {
                    if !out.is_empty() && !out.ends_with('-') {
                        out.push('-');
                    }
                }
            }
            if out.len() >= MAX_SLUG_LEN {
                break;
            }
        }
        let trimmed = out.trim_matches('-');
        let mut s: String = trimmed.chars().take(MAX_SLUG_LEN).collect();
        while s.ends_with('-') {
            s.pop();
        }
        if s.is_empty() {
            return Err(Invalid::new(
                "slug",
                "no slug can be made from this text; give one explicitly",
            ));
        }
        Self::parse(&s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The slug with a numeric suffix, used to find a free slug ("post" → "post-2").
    pub fn with_suffix(&self, n: u32) -> Self {
        Self(suffixed(&self.0, n))
    }
}

/// `slug-N`, shortened first so that it stays within [`MAX_SLUG_LEN`] (for callers that
/// hold a slug as text, as the store does).
pub fn suffixed(slug: &str, n: u32) -> String {
    let suffix = format!("-{n}");
    let keep = MAX_SLUG_LEN.saturating_sub(suffix.len());
    let base = if slug.len() > keep {
        slug[..keep].trim_end_matches('-')
    } else {
        slug
    };
    format!("{base}{suffix}")
}

fn fold(c: char) -> Option<char> {
    if c.is_ascii() {
        return Some(c);
    }
    let base = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' => 'i',
        'ñ' | 'ń' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' => 'u',
        'ý' | 'ÿ' => 'y',
        'ß' => 's',
        'ł' => 'l',
        'ś' | 'š' => 's',
        'ź' | 'ż' | 'ž' => 'z',
        '’' => '\'',
        _ => return None,
    };
    Some(base)
}

impl std::fmt::Display for Slug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_becomes_readable_slug() {
        assert_eq!(
            Slug::from_title("Social Work & the Media: Café Talk!")
                .unwrap()
                .as_str(),
            "social-work-the-media-cafe-talk"
        );
        assert_eq!(
            Slug::from_title("Don’t panic").unwrap().as_str(),
            "dont-panic"
        );
    }

    #[test]
    fn bad_slugs_are_refused() {
        for bad in ["", "Upper", "a b", "-x", "x-", "a--b", "ümlaut", "a/b"] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Slug::parse(&"a".repeat(201)).is_err());
        assert!(Slug::from_title("!!!").is_err());
    }

    #[test]
    fn suffix_stays_within_length() {
        let long = Slug::parse(&"a".repeat(200)).unwrap();
        let s = long.with_suffix(12);
        assert!(s.as_str().len() <= MAX_SLUG_LEN);
        assert!(s.as_str().ends_with("-12"));
        assert!(Slug::parse(s.as_str()).is_ok());
    }
}
