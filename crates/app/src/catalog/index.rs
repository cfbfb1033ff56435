//! The name indexes of search, whose cost follows the matches rather than the catalog.
//!
//! - [`SuffixIndex`] (course names): every occurrence of a term in the folded names, with its
//!   class, read off a suffix array without comparing a name per match.
//! - [`GramIndex`] (teacher names, which are few): an inverted index of the character bigrams
//!   (and single characters) of folded names, giving candidates that the one matching rule
//!   ([`shop_domain::search::SearchTerm::match_folded`]) then checks.
use std::collections::HashMap;

use shop_domain::search::MatchClass;

/// Ends each name in [`SuffixIndex`]'s text: never a byte of UTF-8, and greater than all of them.
const END: u8 = 0xFF;

/// Marks, in [`SuffixIndex::owner`], a suffix that starts its name.
const START: u32 = 1 << 31;

/// A suffix array over folded names: the sorted suffixes (starting at a character boundary,
/// ending at their name's end) of every name. The suffixes that start with a term are one
/// range, found by two binary searches; each is one occurrence of the term, whose class
/// (whole name, prefix, substring) is known from where it starts and what follows it.
#[derive(Debug, Default)]
pub(super) struct SuffixIndex {
    /// The names, each followed by [`END`].
    text: Vec<u8>,
    /// The start in `text` of each suffix, in the suffixes' byte order ([`END`] included).
    suffixes: Vec<u32>,
    /// For each entry of `suffixes`: the position of its name, with [`START`] when the
    /// suffix is the whole name.
    owner: Vec<u32>,
}

/// Orders the suffixes at `a` and `b` of `text` (each ends at the first [`END`]).
fn cmp_suffixes(text: &[u8], a: usize, b: usize) -> std::cmp::Ordering {
    for (x, y) in text[a..].iter().zip(&text[b..]) {
        if x != y {
            return x.cmp(y);
        }
        if *x == END {
            break;
        }
    }
    std::cmp::Ordering::Equal
}

/// The first eight bytes of the suffix at `at` as a number that orders as the suffix does:
/// the bytes after its [`END`] are [`END`] too.
fn head(text: &[u8], at: usize) -> u64 {
    let mut key = [END; 8];
    for (k, b) in key.iter_mut().zip(&text[at..]) {
        *k = *b;
        if *b == END {
            break;
        }
    }
    u64::from_be_bytes(key)
}

impl SuffixIndex {
    /// Indexes `names` (already folded); a name's position is its index in the iterator.
    pub(super) fn build<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut text = Vec::new();
        let mut entries: Vec<(u64, u32, u32)> = Vec::new();
        for (position, name) in names.into_iter().enumerate() {
            let position = u32::try_from(position).expect("fewer than 2^31 names");
            assert!(position < START, "fewer than 2^31 names");
            let start = text.len();
            text.extend_from_slice(name.as_bytes());
            text.push(END);
            for (i, _) in name.char_indices() {
                let at = u32::try_from(start + i).expect("names shorter than 4 GB in all");
                entries.push((0, at, position | if i == 0 { START } else { 0 }));
            }
        }
        for entry in &mut entries {
            entry.0 = head(&text, entry.1 as usize);
        }
        // By the first eight bytes, then (rarely) by the rest.
        entries.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| {
                if a.0 & 0xFF == u64::from(END) {
                    // Both suffixes end within their first eight bytes, equal.
                    std::cmp::Ordering::Equal
                } else {
                    cmp_suffixes(&text, a.1 as usize + 8, b.1 as usize + 8)
                }
            })
        });
        let suffixes = entries.iter().map(|e| e.1).collect();
        let owner = entries.iter().map(|e| e.2).collect();
        drop(entries);
        text.shrink_to_fit();
        SuffixIndex { text, suffixes, owner }
    }

    /// Bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.text.capacity() + 4 * (self.suffixes.capacity() + self.owner.capacity())
    }

    /// Calls `found` with the position of the name and the class of every occurrence of
    /// `term` (folded, non-empty) in the names, in no particular order; a name containing the
    /// term twice is reported twice.
    pub(super) fn occurrences(&self, term: &str, mut found: impl FnMut(u32, MatchClass)) {
        let term = term.as_bytes();
        // A suffix's first `term.len()` bytes (fewer at the very end: then it holds END).
        let probe = |at: &u32| {
            let at = *at as usize;
            &self.text[at..(at + term.len()).min(self.text.len())]
        };
        let low = self.suffixes.partition_point(|at| probe(at) < term);
        let high = low + self.suffixes[low..].partition_point(|at| probe(at) <= term);
        for (at, owner) in self.suffixes[low..high].iter().zip(&self.owner[low..high]) {
            let at_start = owner & START != 0;
            // Only a suffix that starts its name is checked for the name's end.
            let at_end = at_start && self.text[*at as usize + term.len()] == END;
            found(owner & !START, MatchClass::of_occurrence(at_start, at_end));
        }
    }
}

/// Not a `char` (those end at `0x10FFFF`): marks a single-character key.
const ONE: u64 = 0x1F_FFFF;

fn key(a: char, b: Option<char>) -> u64 {
    (u64::from(a) << 21) | b.map_or(ONE, u64::from)
}

/// The keys of a folded text: its single characters and its bigrams.
fn keys_of(text: &str, out: &mut Vec<u64>) {
    out.clear();
    let mut previous = None;
    for c in text.chars() {
        out.push(key(c, None));
        if let Some(p) = previous {
            out.push(key(p, Some(c)));
        }
        previous = Some(c);
    }
    out.sort_unstable();
    out.dedup();
}

/// Positions of the texts containing each single character and bigram, in ascending order.
#[derive(Debug, Default)]
pub(super) struct GramIndex {
    postings: HashMap<u64, Vec<u32>>,
}

impl GramIndex {
    /// Indexes `texts` (already folded); a text's position is its index in the iterator.
    pub(super) fn build<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut postings: HashMap<u64, Vec<u32>> = HashMap::new();
        let mut keys = Vec::new();
        for (position, text) in texts.into_iter().enumerate() {
            let position = u32::try_from(position).expect("fewer than 2^32 texts");
            keys_of(text, &mut keys);
            for k in &keys {
                postings.entry(*k).or_default().push(position);
            }
        }
        for list in postings.values_mut() {
            list.shrink_to_fit();
        }
        GramIndex { postings }
    }

    /// A superset of the positions of the texts that contain `term` (folded, non-empty), in
    /// ascending order: the shortest posting list among the term's bigrams (its one
    /// character when it has only one).
    pub(super) fn candidates(&self, term: &str) -> &[u32] {
        let chars: Vec<char> = term.chars().collect();
        let keys: Vec<u64> = match chars.as_slice() {
            [] => return &[],
            [one] => vec![key(*one, None)],
            _ => chars.windows(2).map(|w| key(w[0], Some(w[1]))).collect(),
        };
        let mut best: &[u32] = &[];
        for (i, k) in keys.iter().enumerate() {
            let Some(list) = self.postings.get(k) else {
                return &[];
            };
            if i == 0 || list.len() < best.len() {
                best = list;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_is_found_with_its_class() {
        let names =
            ["python 数据分析", "go 运维", "django", "数据库", "a", "", "go", "go go", "ago", "gō", "aaaa"];
        let index = SuffixIndex::build(names.iter().copied());
        for term in [
            "go", "o", "数据", "据", "python", "n", "a", "分析", "zz", "据库", "go ", "go go", "ō", "gō",
            "ag", "aa", "aaaa",
        ] {
            let mut found = Vec::new();
            index.occurrences(term, |position, class| found.push((position, class)));
            found.sort();
            let mut expected = Vec::new();
            for (position, name) in (0u32..).zip(names) {
                for (at, _) in name.char_indices().filter(|(at, _)| name[*at..].starts_with(term)) {
                    let class = MatchClass::of_occurrence(at == 0, at + term.len() == name.len());
                    expected.push((position, class));
                }
            }
            expected.sort();
            assert_eq!(found, expected, "{term}");
        }
    }

    #[test]
    fn candidates_include_every_text_containing_the_term() {
        let texts = ["python 数据分析", "go 运维", "django", "数据库", "a"];
        let index = GramIndex::build(texts.iter().copied());
        for term in ["go", "o", "数据", "据", "python", "n", "a", "分析", "zz", "据库", "go 运"] {
            let found = index.candidates(term);
            let expected: Vec<u32> =
                (0u32..).zip(texts).filter(|(_, t)| t.contains(term)).map(|(i, _)| i).collect();
            for e in &expected {
                assert!(found.contains(e), "{term}: {found:?} lacks {e}");
            }
            assert!(found.windows(2).all(|w| w[0] < w[1]), "{term}: ascending");
        }
        assert!(index.candidates("zz").is_empty());
        assert_eq!(index.candidates("据库"), &[3]);
    }
}
