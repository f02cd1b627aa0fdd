//! "Did you mean" for every kind of name: bindings, stages, parameters, enum
//! strings, units. One function so every help line ranks candidates the same way.

/// The candidate closest to `wrong`, if any is close enough to be a plausible typo.
pub fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = wrong.to_lowercase();
    let mut best: Option<(&str, f64)> = None;
    for cand in candidates {
        if cand == wrong {
            continue;
        }
        // Most names are lower case already: no allocation for them.
        let folded = match cand
            .bytes()
            .any(|b| !b.is_ascii() || b.is_ascii_uppercase())
        {
            true => std::borrow::Cow::Owned(cand.to_lowercase()),
            false => std::borrow::Cow::Borrowed(cand),
        };
        let score = if *folded == *lower {
            1.0
        } else {
            strsim::jaro_winkler(&lower, &folded)
        };
        if score >= 0.8 && best.is_none_or(|(_, s)| score > s) {
            best = Some((cand, score));
        }
    }
    best.map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn finds_typos_and_ignores_strangers() {
        let params = ["population", "cycles", "passes", "seed"];
        assert_eq!(closest("populaton", params), Some("population"));
        assert_eq!(closest("cylces", params), Some("cycles"));
        assert_eq!(closest("zebra", params), None);
        assert_eq!(closest("kib", ["KiB", "MiB"]), Some("KiB"));
    }
}
