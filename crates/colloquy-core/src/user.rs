use crate::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Moderator,
    Author,
    Editor,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Ok(match s {
            "admin" => Role::Admin,
            "editor" => Role::Editor,
            "author" => Role::Author,
            "moderator" => Role::Moderator,
            "member" => Role::Member,
            _ => {
                return Err(Invalid::new(
                    "role",
                    "role must be one of admin, editor, author, moderator, member",
                ))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Author => "author",
            Role::Moderator => "moderator",
            Role::Member => "member",
        }
    }

    /// May write posts of their own.
    pub fn can_write(self) -> bool {
        matches!(self, Role::Author | Role::Editor | Role::Admin)
    }

    /// May edit anybody's posts and manage pages, tags and categories.
    pub fn can_edit_others(self) -> bool {
        matches!(self, Role::Editor | Role::Admin)
    }

    /// May manage users and site settings.
    pub fn can_administer(self) -> bool {
        self == Role::Admin
    }
}

/// An email address in a plausible shape (local@domain.tld), lowercased in the domain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        let bad = || Invalid::new("email", "this is not an email address (name@example.org)");
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || local.len() > 64
            || local.contains('@')
            || domain.len() < 3
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
            || !domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
            || domain
                .split('.')
                .any(|label| label.starts_with('-') || label.ends_with('-'))
        {
            return Err(bad());
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: 1 to 100 visible characters.
pub fn parse_display_name(s: &str) -> Result<String, Invalid> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Invalid::new("name", "the name is empty"));
    }
    if t.chars().count() > 100 {
        return Err(Invalid::new(
            "name",
            "the name is longer than 100 characters",
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(Invalid::new("name", "the name holds control characters"));
    }
    Ok(t.to_owned())
}

/// Passwords: at least 10 characters, at most 1,000 (argon2 would happily hash a megabyte).
pub fn check_password(p: &str) -> Result<(), Invalid> {
    let n = p.chars().count();
    if n < 10 {
        return Err(Invalid::new(
            "password",
            "the password must be at least 10 characters long",
        ));
    }
    if n > 1000 {
        return Err(Invalid::new("password", "the password is too long"));
    }
    Ok(())
}

/// A new password account, validated once for every way of making one (CLI, admin, setup).
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: Email,
    pub name: String,
    pub role: Role,
    /// The author-archive slug wanted; the store adds a suffix when it is taken.
    pub slug: crate::Slug,
}

impl NewAccount {
    pub fn parse(email: &str, name: &str, role: &str, password: &str) -> Result<Self, Invalid> {
        let name = parse_display_name(name)?;
        let email = Email::parse(email)?;
        let role = Role::parse(role)?;
        check_password(password)?;
        let slug = crate::Slug::from_title(&name)
            .unwrap_or_else(|_| crate::Slug::parse("user").expect("a valid literal slug"));
        Ok(Self {
            email,
            name,
            role,
            slug,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Ann@Example.ORG ").unwrap().as_str(),
            "Ann@example.org"
        );
        for bad in [
            "",
            "a",
            "a@b",
            "@x.org",
            "a@x..org",
            "a b@x.org",
            "a@-x.org\n",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn roles_order_by_power() {
        assert!(Role::Admin.can_administer());
        assert!(!Role::Editor.can_administer());
        assert!(Role::Author.can_write() && !Role::Author.can_edit_others());
        assert!(!Role::Member.can_write());
        assert!(Role::parse("owner").is_err());
    }
}
