//! haproxy.cfg's syntax: words ([`crate::lex`] with `#` comments,
//! backslash escapes and single quotes), grouped into sections.
//!
//! One directive per line; a section starts at a line whose first word is a
//! section keyword. Indentation means nothing: the reference file's last
//! `stats admin if TRUE` is not indented and still belongs to its `listen`.

use crate::lex::{self, Dialect};
use crate::warning::Diag;

const HAPROXY: Dialect = Dialect {
    comments: &['#'],
    braces: false,
    escapes: true,
};

/// Words of one line, unescaped, with its number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    pub no: usize,
    pub words: Vec<String>,
}

impl Line {
    pub fn word(&self, i: usize) -> &str {
        self.words.get(i).map_or("", String::as_str)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Global,
    Defaults,
    Frontend,
    Backend,
    Listen,
    /// peers, resolvers, userlist, mailers, ...: nothing for regha.
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Section {
    pub kind: Kind,
    pub keyword: String,
    pub name: String,
    pub line: usize,
    pub lines: Vec<Line>,
}

/// Splits one line into words. Returns no words for a blank or comment line.
pub(crate) fn tokenize(line: &str) -> Vec<String> {
    lex::words(0, line, HAPROXY)
        .into_iter()
        .map(|w| w.text)
        .collect()
}

/// The file as sections; lines before the first section are reported.
pub(crate) fn sections(text: &str, diag: &mut Diag<'_>) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for (no, raw) in lex::lines(text) {
        let words = tokenize(raw);
        let Some(first) = words.first() else { continue };
        let kind = match first.as_str() {
            "global" => Some(Kind::Global),
            "defaults" => Some(Kind::Defaults),
            "frontend" => Some(Kind::Frontend),
            "backend" => Some(Kind::Backend),
            "listen" => Some(Kind::Listen),
            "peers" | "resolvers" | "userlist" | "mailers" | "program" | "cache"
            | "http-errors" | "ring" | "namespace_list" | "crt-store" | "traces" => {
                Some(Kind::Other)
            }
            _ => None,
        };
        match kind {
            Some(kind) => out.push(Section {
                kind,
                keyword: first.clone(),
                name: words.get(1).cloned().unwrap_or_default(),
                line: no,
                lines: Vec::new(),
            }),
            None => match out.last_mut() {
                Some(s) => s.lines.push(Line { no, words }),
                None => diag.warn(no, format!("`{first}` before any section: ignored"), None),
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str = include_str!("../../tests/golden/reference-master/haproxy.cfg");

    #[test]
    fn haproxy_escapes_comments_and_quotes() {
        assert_eq!(
            tokenize("    stats realm Haproxy\\ Statistics     #登录提示"),
            ["stats", "realm", "Haproxy Statistics"]
        );
        assert_eq!(
            tokenize("option httpchk GET /v2/ HTTP/1.1\\r\\nHost:198.51.100.6"),
            [
                "option",
                "httpchk",
                "GET",
                "/v2/",
                "HTTP/1.1\r\nHost:198.51.100.6"
            ]
        );
        assert_eq!(
            tokenize("a \"b c # d\" 'e\\f' g\\#h #x"),
            ["a", "b c # d", "e\\f", "g#h"]
        );
        assert_eq!(tokenize("  # only a comment"), Vec::<String>::new());
        assert_eq!(tokenize("bind :5000\r"), ["bind", ":5000"]);
    }

    #[test]
    fn haproxy_sections_ignore_indentation() {
        let mut w = Vec::new();
        let s = sections(REFERENCE, &mut Diag::new("h.cfg", &mut w));
        let names: Vec<(&str, &str, usize)> = s
            .iter()
            .map(|s| (s.keyword.as_str(), s.name.as_str(), s.line))
            .collect();
        assert_eq!(
            names,
            [
                ("global", "", 1),
                ("defaults", "", 6),
                ("frontend", "http_server", 14),
                ("backend", "docker-registry", 20),
                ("listen", "admin_stat", 27)
            ]
        );
        // `stats admin if TRUE` at column 0 still belongs to the listen section.
        let last = s[4].lines.last().unwrap();
        assert_eq!(
            (last.no, last.word(0), last.word(1)),
            (35, "stats", "admin")
        );
        assert!(w.is_empty());
    }
}
