//! Absolute URLs in responses: media files and pagination links, from the configured (or
//! bound) public base URL.

/// Builds absolute links.
#[derive(Debug, Clone)]
pub struct Links {
    base: String,
}

impl Links {
    /// Links under `base` (no trailing slash), e.g. `http://127.0.0.1:8000`.
    pub fn new(base: impl Into<String>) -> Self {
        Links { base: base.into().trim_end_matches('/').to_owned() }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of a media path (`courses/1.svg` → `{base}/media/courses/1.svg`); absolute
    /// `http(s)` URLs pass through, an empty path stays empty.
    pub fn media(&self, path: &str) -> String {
        if path.is_empty() || path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}/media/{}", self.base, path.trim_start_matches('/'))
        }
    }

    /// The same request with `page` replaced (`None` removes it, as DRF does for page 1).
    pub fn page_url(&self, path: &str, query: &str, page: Option<u64>) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != "page") {
            out.append_pair(&k, &v);
        }
        if let Some(p) = page {
            out.append_pair("page", &p.to_string());
        }
        let query = out.finish();
        if query.is_empty() {
            format!("{}{}", self.base, path)
        } else {
            format!("{}{}?{}", self.base, path, query)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_and_page_links() {
        let links = Links::new("http://api.example.com/");
        assert_eq!(links.media("courses/1.svg"), "http://api.example.com/media/courses/1.svg");
        assert_eq!(links.media("https://cdn.example.com/a.png"), "https://cdn.example.com/a.png");
        assert_eq!(links.media(""), "");
        assert_eq!(
            links.page_url(
                "/api/v1/course/search/",
                "search=python%20%E5%85%A5%E9%97%A8&page=2&size=5",
                Some(3)
            ),
            "http://api.example.com/api/v1/course/search/?search=python+%E5%85%A5%E9%97%A8&size=5&page=3"
        );
        assert_eq!(
            links.page_url("/api/v1/course/list/", "page=2", None),
            "http://api.example.com/api/v1/course/list/"
        );
    }
}
