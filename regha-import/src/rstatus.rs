//! `http-check expect rstatus <regex>` as the list of status codes it
//! accepts: the regex is tried against every code from 100 to 599, as
//! HAProxy tries it against the status (a search, unanchored unless the
//! pattern says `^`/`$`).
//!
//! The `regex` crate has no back-references or look-arounds; HAProxy's
//! PCRE has, but a pattern for a three-digit status never needs them, so
//! such a pattern is refused and the caller warns.

use regex::RegexBuilder;

/// Longer than this is not a pattern for a status code.
const MAX_PATTERN: usize = 200;
/// Bounds the compiled program, so that `a{99999999}` is refused rather
/// than built.
const MAX_COMPILED: usize = 1 << 16;

/// The codes in 100..=599 the regex accepts, or None when it is not a
/// regex the `regex` crate compiles (within bounds).
pub(crate) fn codes(pattern: &str) -> Option<Vec<u16>> {
    if pattern.len() > MAX_PATTERN {
        return None;
    }
    let re = RegexBuilder::new(pattern)
        .size_limit(MAX_COMPILED)
        .dfa_size_limit(MAX_COMPILED)
        .build()
        .ok()?;
    Some(
        (100u16..=599)
            .filter(|code| re.is_match(&code.to_string()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::codes;

    #[test]
    fn regexes_become_code_lists() {
        assert_eq!(codes("^(200|401)$"), Some(vec![200, 401]));
        assert_eq!(
            codes("^2[0-9]{2}$").map(|c| (c.len(), c[0], c[99])),
            Some((100, 200, 299))
        );
        assert_eq!(codes("^20[04]$"), Some(vec![200, 204]));
        assert_eq!(codes("^(2|3)\\d\\d$").map(|c| c.len()), Some(200));
        // Unanchored: a search, as HAProxy does it.
        assert_eq!(codes("401"), Some(vec![401]));
        assert_eq!(codes("^[^45]..$").map(|c| c.len()), Some(300));
        assert_eq!(codes("(?=2)"), None);
        assert_eq!(codes("\\1"), None);
        assert_eq!(codes("a{99999999}"), None);
        assert_eq!(codes("(((("), None);
        assert_eq!(codes(&"2".repeat(201)), None);
    }
}
