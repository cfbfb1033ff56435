//! Search terms and the ranking rule of course search.
//!
//! A course matches when the term occurs in its name or in its teacher's name, compared
//! case-insensitively. Results are ranked by how the term matched (exact, then prefix,
//! then substring), a course-name match before a teacher-name match of the same kind, then
//! by the course's display priority `orders`, then by id.
//!
//! A term that is a price (`99`, `99.9`, `99.00`, `¥99`, `99元`: the amount rule of
//! `shop-yuan`, after an optional `¥`/`￥` and before an optional `元`) also matches the courses
//! with exactly that price, as the tutorial's search box promises ("输入课程名字, 价格"): an
//! exact match, after name matches of the same class ([`rank_course`]).

use crate::Money;

/// How a term matched a name. Ordered: better matches compare smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchClass {
    /// The whole name equals the term.
    Exact,
    /// The name starts with the term.
    Prefix,
    /// The term occurs inside the name.
    Substring,
}

impl MatchClass {
    /// The class of one occurrence of a term in a name: starting at the name's start and
    /// ending at its end (the whole name), starting at its start, or elsewhere. The one rule
    /// of [`SearchTerm::match_folded`] and of the catalog's name index.
    pub fn of_occurrence(at_start: bool, at_end: bool) -> MatchClass {
        match (at_start, at_end) {
            (true, true) => MatchClass::Exact,
            (true, false) => MatchClass::Prefix,
            (false, _) => MatchClass::Substring,
        }
    }
}

/// A validated, normalised search term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerm(String, Option<Money>);

/// Why a search term was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchTermError {
    /// Longer than the configured limit.
    #[error("search term is longer than {max} characters")]
    TooLong {
        /// The limit in characters.
        max: usize,
    },
}

impl SearchTerm {
    /// The most characters a search term may have: the parser's limit and the published API
    /// spec's `maxLength`.
    pub const MAX_CHARS: usize = 50;

    /// Normalises a raw term: surrounding whitespace removed, inner runs of whitespace
    /// folded to one space, lower-cased. `Ok(None)` for an empty term (no filtering).
    ///
    /// # Errors
    /// [`SearchTermError::TooLong`] when the raw term has more than `max_chars` characters.
    pub fn parse(raw: &str, max_chars: usize) -> Result<Option<Self>, SearchTermError> {
        if raw.chars().count() > max_chars {
            return Err(SearchTermError::TooLong { max: max_chars });
        }
        let folded = fold(raw);
        let price = price_of(&folded);
        Ok((!folded.is_empty()).then_some(SearchTerm(folded, price)))
    }

    /// The price the term names, when it is one.
    pub fn price(&self) -> Option<Money> {
        self.1
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How this term matches a name already passed through [`fold`].
    /// The best class is that of the first occurrence: only it can start the name.
    pub fn match_folded(&self, folded_name: &str) -> Option<MatchClass> {
        let at = folded_name.find(&self.0)?;
        Some(MatchClass::of_occurrence(at == 0, at + self.0.len() == folded_name.len()))
    }
}

/// The amount a folded term names: `shop-yuan`'s rule, with an optional currency sign before
/// and `元` after.
fn price_of(folded: &str) -> Option<Money> {
    let text = folded.strip_prefix('¥').or_else(|| folded.strip_prefix('￥')).unwrap_or(folded).trim_start();
    let text = text.strip_suffix('元').unwrap_or(text).trim_end();
    Money::parse_yuan(text).ok()
}

/// The comparison form of a name: trimmed, whitespace runs folded to one space,
/// lower-cased (Unicode-aware; Chinese is unchanged).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// The sort key of a search hit: best match class first, a course-name match before a
/// teacher-name match, then display priority and id.
pub fn rank(
    term: &SearchTerm,
    folded_course_name: &str,
    folded_teacher_name: &str,
    orders: i32,
    id: i64,
) -> Option<(MatchClass, u8, i32, i64)> {
    let by_course = term.match_folded(folded_course_name).map(|c| (c, 0u8));
    let by_teacher = term.match_folded(folded_teacher_name).map(|c| (c, 1u8));
    let best = match (by_course, by_teacher) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }?;
    Some((best.0, best.1, orders, id))
}

/// The sort key of a course for a term: [`rank`] over its names, or, when the term is the
/// course's price, an exact match placed after name matches of that class.
pub fn rank_course(
    term: &SearchTerm,
    folded_course_name: &str,
    folded_teacher_name: &str,
    price: Money,
    orders: i32,
    id: i64,
) -> Option<(MatchClass, u8, i32, i64)> {
    let by_name = rank(term, folded_course_name, folded_teacher_name, orders, id);
    let by_price = (term.price() == Some(price)).then_some((MatchClass::Exact, 2u8, orders, id));
    match (by_name, by_price) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(s: &str) -> SearchTerm {
        SearchTerm::parse(s, 50).expect("valid").expect("non-empty")
    }

    #[test]
    fn folding_is_case_and_space_insensitive() {
        assert_eq!(fold("  Python   全栈\tDEV "), "python 全栈 dev");
        assert_eq!(term("LINUX").as_str(), "linux");
        assert_eq!(SearchTerm::parse("   ", 50), Ok(None));
        assert_eq!(SearchTerm::parse(&"长".repeat(51), 50), Err(SearchTermError::TooLong { max: 50 }));
        assert!(SearchTerm::parse(&"长".repeat(50), 50).is_ok());
    }

    #[test]
    fn exact_beats_prefix_beats_substring_then_orders() {
        let t = term("linux");
        let mut hits: Vec<_> = [
            ("精通 linux 运维", "egon", 1, 1),
            ("linux 系统基础", "alex", 9, 2),
            ("linux", "alex", 50, 3),
            ("python", "linux torvalds", 2, 4),
            ("go", "alex", 3, 5),
            ("linux 网络", "alex", 4, 6),
        ]
        .into_iter()
        .filter_map(|(name, teacher, orders, id)| rank(&t, name, teacher, orders, id))
        .collect();
        hits.sort();
        let ids: Vec<i64> = hits.iter().map(|h| h.3).collect();
        assert_eq!(ids, vec![3, 6, 2, 4, 1]);
    }

    #[test]
    fn a_price_term_matches_that_price_and_names() {
        let money = |t: &str| Money::parse_yuan(t).expect("amount");
        for text in ["99", "99.0", "99.00", "¥99", "￥99.00", "99元", "¥ 99 元", " 99元 "] {
            assert_eq!(term(text).price(), Some(money("99")), "{text}");
        }
        assert_eq!(term("99.9").price(), Some(money("99.90")));
        for text in ["99.999", "-99", "python", "99 元 python", "1e2", "99块"] {
            assert_eq!(term(text).price(), None, "{text}");
        }
        let t = term("99元");
        assert_eq!(rank_course(&t, "go", "alex", money("99"), 5, 1), Some((MatchClass::Exact, 2, 5, 1)));
        assert_eq!(rank_course(&t, "go", "alex", money("99.90"), 5, 1), None);
        let t = term("99");
        let mut hits: Vec<_> =
            [("python 99 练习", "alex", "10", 1, 1), ("go", "alex", "99", 9, 2), ("99", "bob", "1", 50, 3)]
                .into_iter()
                .filter_map(|(name, teacher, price, orders, id)| {
                    rank_course(&t, name, teacher, money(price), orders, id)
                })
                .collect();
        hits.sort();
        let ids: Vec<i64> = hits.iter().map(|h| h.3).collect();
        assert_eq!(ids, vec![3, 2, 1], "an exact name, then the price, then a substring");
    }

    #[test]
    fn chinese_terms_match_inside_names() {
        let t = term("运维");
        assert_eq!(t.match_folded("精通 linux 运维"), Some(MatchClass::Substring));
        assert_eq!(t.match_folded("运维"), Some(MatchClass::Exact));
        assert_eq!(t.match_folded("运维开发"), Some(MatchClass::Prefix));
        assert_eq!(t.match_folded("python"), None);
        assert_eq!(t.match_folded("运维 运维"), Some(MatchClass::Prefix), "the first occurrence counts");
        assert_eq!(
            t.match_folded("精通运维"),
            Some(MatchClass::Substring),
            "ending the name is not a prefix"
        );
    }
}
