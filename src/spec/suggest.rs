//! "Did you mean …?" for misspelt keys and values.

/// The candidate closest to `word` by edit distance, if it is close enough to be a plausible typo.
pub(super) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (distance(&word, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Like [`closest`], but also suggests a key that contains the word or is contained in it
/// (`weight` → `drill_weight`).
pub(super) fn closest_key<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
) -> Option<&'a str> {
    closest(word, candidates.clone()).or_else(|| {
        let word = word.to_ascii_lowercase();
        if word.len() < 3 {
            return None;
        }
        candidates
            .into_iter()
            .find(|c| c.len() >= 3 && (c.contains(word.as_str()) || word.contains(c)))
    })
}

/// Levenshtein distance, counting an adjacent transposition (`nmae`) as one edit.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_plausible_typos_only() {
        let keys = [
            "name",
            "zone",
            "zone_id",
            "traffic",
            "health_check",
            "records",
        ];
        assert_eq!(closest("nmae", keys), Some("name"));
        assert_eq!(closest("trafic", keys), Some("traffic"));
        assert_eq!(closest("healthcheck", keys), Some("health_check"));
        assert_eq!(closest("description", keys), None);
        assert_eq!(
            closest_key("weight", ["name", "drill_weight"]),
            Some("drill_weight")
        );
        assert_eq!(closest_key("ab", ["abc"]), Some("abc"), "one edit away");
        assert_eq!(
            closest_key("xy", ["abcxy"]),
            None,
            "too short to guess from"
        );
    }

    #[test]
    fn transpositions_count_once() {
        assert_eq!(distance("nmae", "name"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
