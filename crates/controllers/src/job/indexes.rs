//! Sets of completion indexes in Kubernetes' interval notation (`status.completedIndexes`,
//! `status.failedIndexes`, `successPolicy.rules[].succeededIndexes`): ascending, comma
//! separated, runs of three or more written `a-b`, e.g. `1,3-5,7`.

use std::collections::BTreeSet;

/// A set of completion indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexSet(BTreeSet<i32>);

impl IndexSet {
    /// Parses `s`, keeping only indexes below `completions`. Like `parseIndexesFromString`,
    /// it tolerates garbage: malformed intervals are skipped.
    pub fn parse(s: &str, completions: i32) -> IndexSet {
        let mut set = BTreeSet::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (first, last) = match part.split_once('-') {
                Some((a, b)) => match (a.parse::<i32>(), b.parse::<i32>()) {
                    (Ok(a), Ok(b)) if a >= 0 && a <= b => (a, b),
                    _ => continue,
                },
                None => match part.parse::<i32>() {
                    Ok(a) if a >= 0 => (a, a),
                    _ => continue,
                },
            };
            let last = last.min(completions.saturating_sub(1));
            for i in first..=last {
                set.insert(i);
            }
        }
        IndexSet(set)
    }

    /// Adds an index.
    pub fn insert(&mut self, i: i32) -> bool {
        self.0.insert(i)
    }

    /// Whether the set holds `i`.
    pub fn contains(&self, i: i32) -> bool {
        self.0.contains(&i)
    }

    /// The number of indexes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The indexes, ascending.
    pub fn iter(&self) -> impl Iterator<Item = i32> + '_ {
        self.0.iter().copied()
    }

    /// How many of `other`'s indexes are in this set.
    pub fn overlap(&self, other: &IndexSet) -> usize {
        other.0.iter().filter(|i| self.0.contains(i)).count()
    }

    /// The interval notation (`compressed` form of `orderedIntervals.String()`).
    pub fn render(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        let mut it = self.0.iter().copied().peekable();
        while let Some(first) = it.next() {
            let mut last = first;
            while it.peek() == Some(&(last + 1)) {
                last += 1;
                it.next();
            }
            match last - first {
                0 => out.push(first.to_string()),
                1 => {
                    out.push(first.to_string());
                    out.push(last.to_string());
                }
                _ => out.push(format!("{first}-{last}")),
            }
        }
        out.join(",")
    }
}

impl FromIterator<i32> for IndexSet {
    fn from_iter<T: IntoIterator<Item = i32>>(iter: T) -> Self {
        IndexSet(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_intervals() {
        let cases: &[(&[i32], &str)] = &[
            (&[], ""),
            (&[0], "0"),
            (&[0, 1], "0,1"),
            (&[0, 1, 2], "0-2"),
            (&[1, 3, 4, 5, 7], "1,3-5,7"),
            (&[0, 1, 3, 4, 5, 6, 9], "0,1,3-6,9"),
        ];
        for (set, want) in cases {
            let s: IndexSet = set.iter().copied().collect();
            assert_eq!(s.render(), *want, "{set:?}");
        }
    }

    #[test]
    fn parses_tolerantly() {
        let cases: &[(&str, i32, &str)] = &[
            ("1,3-5,7", 10, "1,3-5,7"),
            ("1,3-5,7", 5, "1,3,4"),
            ("x,2,5-3,-1,4", 10, "2,4"),
            ("0-9", 3, "0-2"),
            ("", 3, ""),
        ];
        for (s, c, want) in cases {
            assert_eq!(IndexSet::parse(s, *c).render(), *want, "{s} {c}");
        }
    }
}
