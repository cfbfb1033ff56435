//! `application/x-www-form-urlencoded`: encoding of request values and strict, decode-exactly-once
//! parsing of notify bodies and return query strings.
//!
//! Encoding keeps only the RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`), turns a space
//! into `+` and percent-encodes every other UTF-8 byte with upper-case hex, byte for byte like
//! Python's `quote_plus` (so `+`→`%2B`, `/`→`%2F`, `=`→`%3D`, `&`→`%26`).
//!
//! Decoding turns `+` into a space and `%XX` into a byte, once; a malformed escape or invalid
//! UTF-8 is an error rather than being silently replaced (the signature would not verify
//! anyway, and the error says why).

/// A form body or query string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// `%` not followed by two hex digits.
    #[error("invalid percent escape at byte {position}")]
    InvalidPercentEscape {
        /// Byte offset of the `%` in the input.
        position: usize,
    },
    /// A decoded key or value is not UTF-8.
    #[error("decoded form field is not valid UTF-8")]
    InvalidUtf8,
}

/// Percent-encodes one key or value for a form body or query string.
#[must_use]
pub fn encode_component(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
    out
}

/// Encodes pairs as `k=v&k=v` (keys and values encoded with [`encode_component`]), in the
/// given order.
#[must_use]
pub fn encode_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encode_component(k.as_ref()));
        out.push('=');
        out.push_str(&encode_component(v.as_ref()));
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode_component(input: &[u8], offset: usize) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        // The bytes up to the next `+` or `%` stand for themselves: copied at once.
        let plain = input[i..].iter().position(|b| matches!(b, b'+' | b'%')).unwrap_or(input.len() - i);
        out.extend_from_slice(&input[i..i + plain]);
        i += plain;
        let Some(&b) = input.get(i) else { break };
        if b == b'+' {
            out.push(b' ');
            i += 1;
            continue;
        }
        // A `%`: two hex digits follow.
        let hi = input.get(i + 1).copied().and_then(hex_value);
        let lo = input.get(i + 2).copied().and_then(hex_value);
        let (Some(hi), Some(lo)) = (hi, lo) else {
            return Err(FormError::InvalidPercentEscape { position: offset + i });
        };
        out.push(hi << 4 | lo);
        i += 3;
    }
    String::from_utf8(out).map_err(|_| FormError::InvalidUtf8)
}

/// Parses an `application/x-www-form-urlencoded` body (or a URL query string without the `?`)
/// into `(key, value)` pairs in received order, decoding exactly once (`+` → space).
///
/// Empty segments (`a=1&&b=2`) are skipped; a segment without `=` is a key with an empty value.
///
/// # Errors
/// [`FormError`] for a malformed `%` escape or decoded bytes that are not UTF-8.
pub fn parse_urlencoded(input: impl AsRef<[u8]>) -> Result<Vec<(String, String)>, FormError> {
    let input = input.as_ref();
    let mut pairs = Vec::new();
    let mut start = 0;
    for segment in input.split(|&b| b == b'&') {
        let seg_start = start;
        start += segment.len() + 1;
        if segment.is_empty() {
            continue;
        }
        let (key, value, value_offset) = match segment.iter().position(|&b| b == b'=') {
            Some(eq) => (&segment[..eq], &segment[eq + 1..], seg_start + eq + 1),
            None => (segment, &segment[segment.len()..], seg_start + segment.len()),
        };
        pairs.push((decode_component(key, seg_start)?, decode_component(value, value_offset)?));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_quote_plus() {
        assert_eq!(encode_component("a+b c/d=e&f~g*h"), "a%2Bb+c%2Fd%3De%26f~g%2Ah");
        assert_eq!(encode_component("课"), "%E8%AF%BE");
        assert_eq!(encode_component(""), "");
    }

    #[test]
    fn decodes_once() {
        let p = parse_urlencoded("a=x%2By+z&b=%252B&c&&d=&=e").expect("parse");
        assert_eq!(
            p,
            vec![
                ("a".into(), "x+y z".into()),
                ("b".into(), "%2B".into()),
                ("c".into(), String::new()),
                ("d".into(), String::new()),
                (String::new(), "e".into()),
            ]
        );
    }

    #[test]
    fn rejects_bad_escapes_and_utf8() {
        assert_eq!(parse_urlencoded("a=1&b=%zz"), Err(FormError::InvalidPercentEscape { position: 6 }));
        assert!(parse_urlencoded("a=%4").is_err());
        assert_eq!(parse_urlencoded("a=%FF"), Err(FormError::InvalidUtf8));
    }

    /// The decoding byte by byte, as it was written first: what the decoder must equal.
    fn decode_byte_by_byte(input: &[u8], offset: usize) -> Result<String, FormError> {
        let mut out = Vec::with_capacity(input.len());
        let mut i = 0;
        while i < input.len() {
            match input[i] {
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                b'%' => match (
                    input.get(i + 1).copied().and_then(hex_value),
                    input.get(i + 2).copied().and_then(hex_value),
                ) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        i += 3;
                    }
                    _ => return Err(FormError::InvalidPercentEscape { position: offset + i }),
                },
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| FormError::InvalidUtf8)
    }

    proptest::proptest! {
        #[test]
        fn decodes_as_byte_by_byte(input in "[a-z0-9+%=&~é中A-F]{0,40}", offset in 0usize..100) {
            proptest::prop_assert_eq!(
                decode_component(input.as_bytes(), offset),
                decode_byte_by_byte(input.as_bytes(), offset)
            );
        }
    }

    #[test]
    fn round_trip() {
        let pairs = vec![("k y".to_owned(), "课程 a+b&c=d/%~".to_owned())];
        assert_eq!(parse_urlencoded(encode_pairs(&pairs)).expect("parse"), pairs);
    }
}
