//! Colloquy's domain: the types that cannot hold bad data, and the rules that act on them.
//!
//! This crate does no I/O, has no async code and writes no SQL. Everything that comes from
//! outside (a form, an API body, a CLI flag) is parsed into one of these types once, at the
//! edge, so the rest of the program never validates again.

pub mod account;
pub mod avatar;
pub mod confidentiality;
pub mod debate;
pub mod markdown;
pub mod paging;
pub mod post;
pub mod slug;
pub mod spam;
pub mod thought;
pub mod user;

pub use paging::Page;
pub use post::{PostKind, PostStatus, Title};
pub use slug::Slug;
pub use user::{Email, Role};

/// A rule was broken by input from outside. `field` names the offending input where one does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
