//! Durations in the config file: humantime text such as `5s`, `500ms`, `1m`
//! or `1.5s`.
//!
//! A bare number is rejected rather than guessed at: keepalived's
//! `advert_int 1` means seconds, HAProxy's `inter 5000` means milliseconds,
//! and an operator moving from either would get a value off by a factor of a
//! thousand. The message says what to write instead.
//!
//! [`parse`] is what the validator uses (it reports every bad field at once);
//! [`deserialize`] and [`serialize`] make the same rules a serde helper, for
//! `#[serde(with = "regha_config::duration")]` on a `std::time::Duration`.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;

/// Why a text is not a duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// A number without a unit (`5`, `1.5`).
    #[error("{0} has no unit: write it with one, e.g. `{0}s` or `{0}ms`")]
    NoUnit(String),
    /// Anything else humantime cannot read (`5 parsecs`, `-1s`, `""`).
    #[error("{text:?} is not a duration ({reason}): write e.g. `5s`, `500ms` or `1m`")]
    Invalid { text: String, reason: String },
}

/// Parses `text` as a humantime duration (`5s`, `500ms`, `1m`, `1.5s`,
/// `1m 30s`). Surrounding whitespace is ignored; a bare number is an error.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.parse::<f64>().is_ok() {
        return Err(DurationError::NoUnit(text.to_owned()));
    }
    humantime::parse_duration(text).map_err(|e| DurationError::Invalid {
        text: text.to_owned(),
        reason: e.to_string(),
    })
}

/// Formats a duration the way [`parse`] reads it back (`1s 500ms`).
pub fn format(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

/// serde helper: a duration from a string, with the rules of [`parse`]. A YAML
/// or JSON number is refused with the "has no unit" message.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

/// serde helper: writes a duration as humantime text (`1s 500ms`).
pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*duration))
}

struct DurationVisitor;

impl DurationVisitor {
    fn no_unit<E: de::Error>(number: impl fmt::Display) -> E {
        E::custom(DurationError::NoUnit(number.to_string()))
    }
}

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration with a unit, such as \"5s\" or \"500ms\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        parse(text).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Duration, E> {
        Err(Self::no_unit(n))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Duration, E> {
        Err(Self::no_unit(n))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Duration, E> {
        Err(Self::no_unit(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_humantime_units_and_fractions() {
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse(" 1m 30s "), Ok(Duration::from_secs(90)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_a_bare_number_and_says_what_to_write() {
        let err = parse("5").unwrap_err();
        assert_eq!(err, DurationError::NoUnit("5".into()));
        assert_eq!(
            err.to_string(),
            "5 has no unit: write it with one, e.g. `5s` or `5ms`"
        );
        assert!(matches!(parse("1.5"), Err(DurationError::NoUnit(_))));
    }

    #[test]
    fn refuses_unknown_units_and_garbage() {
        let msg = parse("5 parsecs").unwrap_err().to_string();
        assert!(msg.starts_with("\"5 parsecs\" is not a duration (unknown time unit \"parsecs\""));
        assert!(msg.ends_with("write e.g. `5s`, `500ms` or `1m`"), "{msg}");
        assert!(matches!(parse(""), Err(DurationError::Invalid { .. })));
        assert!(matches!(parse("-1s"), Err(DurationError::Invalid { .. })));
    }

    #[derive(Debug, serde::Deserialize, serde::Serialize)]
    struct Holder {
        #[serde(with = "super")]
        every: Duration,
    }

    #[test]
    fn serde_helper_round_trips_and_refuses_numbers() {
        let held: Holder = serde_yaml::from_str("every: 1.5s").unwrap();
        assert_eq!(held.every, Duration::from_millis(1500));
        assert_eq!(serde_yaml::to_string(&held).unwrap(), "every: 1s 500ms\n");
        let err = serde_yaml::from_str::<Holder>("every: 5").unwrap_err();
        assert!(err.to_string().contains("5 has no unit"), "{err}");
        let err = serde_yaml::from_str::<Holder>("every: 5 parsecs").unwrap_err();
        assert!(err.to_string().contains("unknown time unit"), "{err}");
    }
}
