//! Page-number pagination as the tutorial's DRF `PageNumberPagination` does it.

/// A validated page request: `page` from 1 to [`PageRequest::MAX_PAGE`], `size` from 1 to
/// [`PageRequest::MAX_SIZE`], lowered to the configured cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u64,
    size: u64,
}

/// Why a page request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// `page` is not an integer from 1 to [`PageRequest::MAX_PAGE`].
    #[error("page must be an integer from 1 to {max}", max = PageRequest::MAX_PAGE)]
    BadPage,
    /// `size` / `page_size` is not an integer from 1 to [`PageRequest::MAX_SIZE`].
    #[error("page size must be an integer from 1 to {max}", max = PageRequest::MAX_SIZE)]
    BadSize,
}

impl PageRequest {
    /// The highest page number accepted (a page past the last one is a 404; above this, the
    /// request is malformed). The published API spec reads it too.
    pub const MAX_PAGE: u64 = 1_000_000;
    /// The highest page size accepted in a request; a size up to it but above the configured
    /// cap is lowered to the cap (as DRF does). The published API spec reads it too.
    pub const MAX_SIZE: u64 = 1_000;

    /// Builds a request from the raw query values. A missing page is page 1, a missing size
    /// is `default_size`, and a size above `max_size` is lowered to it (as DRF does).
    ///
    /// # Errors
    /// [`PageError`] when a given value is not an integer from 1 to [`Self::MAX_PAGE`] /
    /// [`Self::MAX_SIZE`] (an empty value included).
    pub fn parse(
        page: Option<&str>,
        size: Option<&str>,
        default_size: u64,
        max_size: u64,
    ) -> Result<Self, PageError> {
        let within = |v: &str, max: u64| v.parse::<u64>().ok().filter(|n| (1..=max).contains(n));
        let page = match page {
            None => 1,
            Some(v) => within(v, Self::MAX_PAGE).ok_or(PageError::BadPage)?,
        };
        let size = match size {
            None => default_size,
            Some(v) => within(v, Self::MAX_SIZE).ok_or(PageError::BadSize)?,
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
        assert_eq!(PageRequest::parse(Some(""), None, 2, 50), Err(PageError::BadPage));
    }

    #[test]
    fn bounds_are_the_published_ones() {
        let max_page = PageRequest::MAX_PAGE.to_string();
        let max_size = PageRequest::MAX_SIZE.to_string();
        let over_page = (PageRequest::MAX_PAGE + 1).to_string();
        let over_size = (PageRequest::MAX_SIZE + 1).to_string();
        assert_eq!(PageRequest::parse(Some(&max_page), None, 2, 50).map(PageRequest::page), Ok(1_000_000));
        assert_eq!(PageRequest::parse(Some(&over_page), None, 2, 50), Err(PageError::BadPage));
        assert_eq!(PageRequest::parse(None, Some(&max_size), 2, 50).map(PageRequest::size), Ok(50));
        assert_eq!(PageRequest::parse(None, Some(&over_size), 2, 50), Err(PageError::BadSize));
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
