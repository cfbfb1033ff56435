//! Page-number pagination as the tutorial's DRF `PageNumberPagination` does it.

/// A validated page request: `page` from 1, `size` from 1 to the configured cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u64,
    size: u64,
}

/// Why a page request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// `page` is not a positive integer.
    #[error("page must be a positive integer")]
    BadPage,
    /// `size` / `page_size` is not a positive integer.
    #[error("page size must be a positive integer")]
    BadSize,
}

impl PageRequest {
    /// Builds a request from the raw query values. A missing page is page 1, a missing size
    /// is `default_size`, and a size above `max_size` is lowered to it (as DRF does).
    ///
    /// # Errors
    /// [`PageError`] when a given value is not a positive integer.
    pub fn parse(
        page: Option<&str>,
        size: Option<&str>,
        default_size: u64,
        max_size: u64,
    ) -> Result<Self, PageError> {
        let positive = |v: &str| v.parse::<u64>().ok().filter(|n| *n > 0);
        let page = match page {
            None => 1,
            Some(v) => positive(v).ok_or(PageError::BadPage)?,
        };
        let size = match size {
            None => default_size,
            Some(v) => positive(v).ok_or(PageError::BadSize)?,
        };
        Ok(PageRequest { page, size: size.clamp(1, max_size.max(1)) })
    }

    /// The page number, from 1.
    pub fn page(self) -> u64 {
        self.page
    }

    /// Items per page.
    pub fn size(self) -> u64 {
        self.size
    }

    /// Index of the first item of this page.
    pub fn offset(self) -> u64 {
        (self.page - 1).saturating_mul(self.size)
    }

    /// Whether this page exists for `count` items (page 1 always exists, even when empty).
    pub fn exists_for(self, count: u64) -> bool {
        self.page == 1 || self.offset() < count
    }

    /// Whether a page follows this one.
    pub fn has_next(self, count: u64) -> bool {
        self.offset().saturating_add(self.size) < count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_caps_and_rejects() {
        let p = PageRequest::parse(None, None, 2, 50).expect("valid");
        assert_eq!((p.page(), p.size(), p.offset()), (1, 2, 0));
        let p = PageRequest::parse(Some("3"), Some("500"), 2, 50).expect("valid");
        assert_eq!((p.page(), p.size(), p.offset()), (3, 50, 100));
        assert_eq!(PageRequest::parse(Some("0"), None, 2, 50), Err(PageError::BadPage));
        assert_eq!(PageRequest::parse(Some("x"), None, 2, 50), Err(PageError::BadPage));
        assert_eq!(PageRequest::parse(None, Some("-1"), 2, 50), Err(PageError::BadSize));
    }

    #[test]
    fn page_existence_and_next() {
        let p = PageRequest::parse(Some("2"), Some("5"), 2, 50).expect("valid");
        assert!(p.exists_for(6));
        assert!(!p.exists_for(5));
        assert!(!p.has_next(10));
        assert!(p.has_next(11));
        let first = PageRequest::parse(None, Some("5"), 2, 50).expect("valid");
        assert!(first.exists_for(0));
    }
}
