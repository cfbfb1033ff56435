//! Canonical strings to sign and to verify.
//!
//! * Requests (protocol §3): every parameter except `sign`; `sign_type` **included**; empty
//!   values dropped; sorted by key (byte order); `k=v` joined by `&`; raw, un-encoded values.
//! * Notifies and synchronous returns (§5, §6): every received parameter except `sign` **and
//!   `sign_type`**; empty values dropped; sorted; raw values exactly as form-decoded once (no
//!   trimming); unknown parameters kept.
//!
//! Inputs are `(key, value)` pairs that are already form-decoded once. Sorting is stable, so
//! (malformed) repeated keys keep their received order.

/// How to build a verification string; [`notify_sign_content`] is the default
/// ([`CanonicalOptions::NOTIFY`]), the other combinations exist for tolerant verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanonicalOptions {
    /// Keep the `sign_type` parameter (request signing; "V2" notify verification).
    pub keep_sign_type: bool,
    /// Keep parameters with an empty value (the Java SDK's `rsaCheckV1` keeps them).
    pub keep_empty: bool,
}

impl CanonicalOptions {
    /// Request signing: keep `sign_type`, drop empty values.
    pub const REQUEST: CanonicalOptions = CanonicalOptions { keep_sign_type: true, keep_empty: false };
    /// Notify / return verification: drop `sign_type` and empty values.
    pub const NOTIFY: CanonicalOptions = CanonicalOptions { keep_sign_type: false, keep_empty: false };
}

/// Builds the canonical string with explicit [`CanonicalOptions`]. `sign` is always excluded.
#[must_use]
pub fn canonical_content<K: AsRef<str>, V: AsRef<str>>(
    params: &[(K, V)],
    options: CanonicalOptions,
) -> String {
    let mut kept: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, v)| {
            *k != "sign"
                && (options.keep_sign_type || *k != "sign_type")
                && (options.keep_empty || !v.is_empty())
        })
        .collect();
    kept.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::with_capacity(kept.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (k, v)) in kept.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// The string to sign for a request: all parameters except `sign`, `sign_type` included,
/// empty values dropped, sorted by key, `k=v` joined by `&`, raw values.
#[must_use]
pub fn request_sign_content<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> String {
    canonical_content(params, CanonicalOptions::REQUEST)
}

/// The string Alipay signed for a notify or a synchronous return: all parameters except `sign`
/// and `sign_type`, empty values dropped, sorted by key, raw decoded values, nothing trimmed.
#[must_use]
pub fn notify_sign_content<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> String {
    canonical_content(params, CanonicalOptions::NOTIFY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_content_sorts_drops_empty_and_sign_keeps_sign_type() {
        let p = [
            ("method", "alipay.trade.query"),
            ("sign", "xxx"),
            ("app_id", "1"),
            ("notify_url", ""),
            ("sign_type", "RSA2"),
            ("biz_content", "{\"a\":\"b c+d&e=f\"}"),
        ];
        assert_eq!(
            request_sign_content(&p),
            "app_id=1&biz_content={\"a\":\"b c+d&e=f\"}&method=alipay.trade.query&sign_type=RSA2"
        );
    }

    #[test]
    fn notify_content_drops_sign_type_keeps_unknown_and_spaces() {
        let p = [("zz_new", " x "), ("sign_type", "RSA2"), ("sign", "xxx"), ("a", ""), ("subject", "a+b c")];
        assert_eq!(notify_sign_content(&p), "subject=a+b c&zz_new= x ");
        let keep = CanonicalOptions { keep_sign_type: true, keep_empty: true };
        assert_eq!(canonical_content(&p, keep), "a=&sign_type=RSA2&subject=a+b c&zz_new= x ");
    }

    #[test]
    fn sorting_is_by_bytes() {
        let p = [("b", "1"), ("B", "2"), ("a_b", "3"), ("a", "4"), ("ab", "5")];
        assert_eq!(notify_sign_content(&p), "B=2&a=4&a_b=3&ab=5&b=1");
    }
}
