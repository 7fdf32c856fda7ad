//! Documents nested deeper than any config could be: refused at the first
//! collection past the limit, with its position, before serde_yaml parses
//! them (whose time would grow with the square of the nesting). No timing
//! is asserted: a document of 100,000 levels answering at all is the test.

use super::*;
use crate::nesting::MAX_DEPTH;

/// The one error of a refused document.
fn only_error(yaml: &str) -> ConfigError {
    let errors = errors(yaml);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap()
}

const TOO_DEEP: &str =
    "collections nested more than 64 levels deep; a regha config needs at most 6";
const UNCLOSED: &str = "look for a `[` or `{` that is never closed";
const INDENTED: &str = "look for entries indented ever deeper";

#[test]
fn a_hundred_thousand_nested_brackets_are_refused_at_the_limit() {
    let e = only_error(&"[".repeat(100_000));
    assert_eq!(e.path, "");
    assert_eq!(
        e.message,
        format!("line 1 column 65: {TOO_DEEP}: {UNCLOSED}")
    );
    assert_eq!(e.to_string(), e.message);
}

#[test]
fn nested_flow_mappings_are_refused_at_the_limit() {
    // The worst case for libyaml: every level's key slot stays in its walk.
    let e = only_error(&"{a: ".repeat(100_000));
    assert_eq!(
        e.message,
        format!("line 1 column 257: {TOO_DEEP}: {UNCLOSED}")
    );
}

#[test]
fn block_nesting_counts_as_well() {
    let e = only_error(&"- ".repeat(100_000));
    assert_eq!(
        e.message,
        format!("line 1 column 129: {TOO_DEEP}: {INDENTED}")
    );
    let indented: String = (0..1000)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    let e = only_error(&indented);
    assert_eq!(
        e.message,
        format!("line 65 column 65: {TOO_DEEP}: {INDENTED}")
    );
    // Block and flow add up.
    let mixed = format!("a:\n  b:\n    - {}", "[".repeat(100));
    let e = only_error(&mixed);
    assert_eq!(
        e.message,
        format!("line 3 column {}: {TOO_DEEP}: {UNCLOSED}", 7 + 61)
    );
}

#[test]
fn the_limit_itself_is_left_to_the_schema() {
    // The document's mapping is one level: `services:` then 63 `[` is 64.
    let at_limit = format!(
        "role: master\nservices: {}{}\n",
        "[".repeat(MAX_DEPTH - 1),
        "]".repeat(MAX_DEPTH - 1)
    );
    let e = only_error(&at_limit);
    assert!(!e.message.contains("nested more than"), "{e}");
    assert_eq!(e.path, "services[0]", "serde's type error: {e}");
    let past = format!(
        "role: master\nservices: {}{}\n",
        "[".repeat(MAX_DEPTH),
        "]".repeat(MAX_DEPTH)
    );
    let e = only_error(&past);
    assert_eq!(
        e.message,
        format!("line 2 column 74: {TOO_DEEP}: {UNCLOSED}")
    );
}

#[test]
fn brackets_in_comments_quotes_and_block_scalars_are_not_nesting() {
    let brackets = "[{".repeat(5_000);
    let yaml = edit(&[
        (
            "interface: eth0\n",
            &format!("interface: eth0 # {brackets}\n"),
        ),
        ("path: /v2/,", &format!("path: \"/v2/{brackets}\",")),
        (
            "  track_backends:",
            &format!(
                "  track_scripts:\n    - name: chk\n      script: >-\n        /bin/true\n        '{brackets}\n  track_backends:"
            ),
        ),
    ]);
    let c = parse(&yaml);
    let HealthKind::Http { path, .. } = &c.services[0].health.kind else {
        panic!("an HTTP check");
    };
    assert_eq!(*path, format!("/v2/{brackets}"));
    let script = &c.vrrp[0].track_scripts[0];
    assert_eq!(script.args, [format!("'{brackets}")]);
}
