//! An inverted index of the character bigrams (and single characters) of folded names:
//! the candidates of a substring search, found in time that follows the matches rather
//! than the catalog. It only narrows: every candidate is still checked by the one matching
//! rule ([`shop_domain::search::rank_course`]), so the index can never change a result.
use std::collections::HashMap;

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
