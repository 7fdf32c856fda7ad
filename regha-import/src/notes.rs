//! The comments of the output, by key path: where each value came from
//! (`keepalived.conf:19`), why it differs from the original, and what the
//! typed config cannot say (a placeholder, a suggestion commented out).
//!
//! A path names a key as check-config's errors do: `vrrp.priority`,
//! `services[0].backends[1]` (the item), `services[0].health.http.host`.
//! The mapping of one section fills a [`Notes`] with paths relative to it,
//! and its caller mounts that under the section's own path, so that an
//! item gets its index only once it is kept.

use std::collections::BTreeMap;

/// The comments of one key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Note {
    /// A blank line before the key (and before the comments above it).
    pub gap: bool,
    /// Whole-line comments above the key.
    pub above: Vec<String>,
    /// The comment at the end of the key's line.
    pub beside: Option<String>,
    /// Whole-line comments after the key's value (after its whole block).
    pub below: Vec<String>,
}

/// Comments by key path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Notes(BTreeMap<String, Note>);

impl Notes {
    fn note(&mut self, path: &str) -> &mut Note {
        self.0.entry(path.to_owned()).or_default()
    }

    /// A blank line before `path`.
    pub fn gap(&mut self, path: &str) {
        self.note(path).gap = true;
    }

    /// No blank line before `path` after all.
    pub fn no_gap(&mut self, path: &str) {
        if let Some(n) = self.0.get_mut(path) {
            n.gap = false;
        }
    }

    /// A comment line above `path`.
    pub fn above(&mut self, path: &str, text: impl Into<String>) {
        self.note(path).above.push(text.into());
    }

    /// The comment beside `path` (a second one replaces the first).
    pub fn beside(&mut self, path: &str, text: impl Into<String>) {
        self.note(path).beside = Some(text.into());
    }

    /// A comment line after `path`'s value.
    pub fn below(&mut self, path: &str, text: impl Into<String>) {
        self.note(path).below.push(text.into());
    }

    /// The notes of `other`, whose paths are relative to `prefix`.
    pub fn mount(&mut self, prefix: &str, other: Notes) {
        for (path, note) in other.0 {
            self.0.insert(join(prefix, &path), note);
        }
    }

    /// Removes the notes of every path that starts with `prefix`.
    pub fn drop_within(&mut self, prefix: &str) {
        self.0.retain(|p, _| !p.starts_with(prefix));
    }

    pub fn get(&self, path: &str) -> Option<&Note> {
        self.0.get(path)
    }

    /// Whether `path` or a key inside it has a note.
    pub fn has_within(&self, path: &str) -> bool {
        self.0
            .range(path.to_owned()..)
            .take_while(|(p, _)| p.starts_with(path))
            .any(|(p, _)| p.len() == path.len() || p[path.len()..].starts_with(['.', '[']))
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// `prefix` + `rest`: `vrrp` + `priority` is `vrrp.priority`, `backends` +
/// `[1]` is `backends[1]`; an empty side is left out.
pub(crate) fn join(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_owned(),
        (_, true) => prefix.to_owned(),
        _ if rest.starts_with('[') => format!("{prefix}{rest}"),
        _ => format!("{prefix}.{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_and_mount_as_check_config_names_them() {
        assert_eq!(join("vrrp", "priority"), "vrrp.priority");
        assert_eq!(join("backends", "[1]"), "backends[1]");
        assert_eq!(join("", "vrrp"), "vrrp");
        assert_eq!(join("services[0]", ""), "services[0]");
        let mut inner = Notes::default();
        inner.beside("port", "bind :5000");
        inner.above("", "frontend f");
        let mut outer = Notes::default();
        outer.mount("services[2]", inner);
        let paths: Vec<&str> = outer.paths().collect();
        assert_eq!(paths, ["services[2]", "services[2].port"]);
        assert!(outer.has_within("services[2]"));
        assert!(!outer.has_within("services[2].vip"));
        assert!(!outer.has_within("services[20]"));
        assert!(outer.has_within("services"));
        assert!(!outer.has_within("service"));
    }
}
