use crate::Invalid;

/// A 1-based page number of a listing, bounded so offsets never overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page(u32);

/// No listing is longer than this many pages; larger numbers are refused rather than clamped.
pub const MAX_PAGE: u32 = 1_000_000;

impl Page {
    pub const FIRST: Page = Page(1);

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let n: u64 = s.trim().parse().map_err(|_| {
            Invalid::new(
                "page",
                format!("page must be a whole number from 1 to {MAX_PAGE}"),
            )
        })?;
        Self::new(n)
    }

    pub fn new(n: u64) -> Result<Self, Invalid> {
        if n == 0 || n > MAX_PAGE as u64 {
            return Err(Invalid::new(
                "page",
                format!("page must be a whole number from 1 to {MAX_PAGE}"),
            ));
        }
        Ok(Self(n as u32))
    }

    pub fn number(self) -> u32 {
        self.0
    }

    pub fn offset(self, per_page: u32) -> i64 {
        (self.0 as i64 - 1) * per_page as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_page_numbers_are_refused() {
        for bad in [
            "-1",
            "0",
            "99999999999999999999",
            "abc",
            "",
            "1.5",
            "1000001",
        ] {
            assert!(Page::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(Page::parse("3").unwrap().offset(10), 20);
    }
}
