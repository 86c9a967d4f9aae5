//! Moving from WordPress.
//!
//! - [`wxr`]: the WordPress eXtended RSS format (1.0, 1.1, 1.2): a streaming reader that
//!   refuses what a hostile file could use against us (DOCTYPEs, entities, unbounded depth),
//!   and a writer of WXR 1.2.
//! - [`content`]: WordPress post HTML (classic or block editor, shortcodes) to our Markdown,
//!   keeping as (later sanitised) HTML what Markdown cannot say, and reporting both.
//!
//! No I/O but the `Read`/`Write` given, no SQL: the binary's `import`/`export` commands wire
//! these to the store.

pub mod content;
pub mod wxr;
