//! What keepalived.conf and haproxy.cfg share below their grammars: one
//! statement per line, numbered from 1 (a byte-order mark and CRLF line
//! ends removed), split into words on whitespace; `"` groups words (and
//! may quote part of one); a comment character outside quotes ends the
//! line. A [`Dialect`] adds what only one of them has: keepalived's `!`
//! comments and braces that are words of their own, HAProxy's backslash
//! escapes and single quotes.

/// One word of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Word {
    pub text: String,
    /// 1-based.
    pub line: usize,
    /// Was written (partly) in quotes or with an escape: kept even when
    /// empty, and never a brace or a keyword.
    pub quoted: bool,
}

impl Word {
    /// This exact word, unquoted.
    pub fn is(&self, s: &str) -> bool {
        !self.quoted && self.text == s
    }
}

/// What one input language adds to the common word syntax.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dialect {
    /// Characters that start a comment outside quotes.
    pub comments: &'static [char],
    /// `{` and `}` are words of their own, even written against a word
    /// (`track_script {chk}`).
    pub braces: bool,
    /// `\` escapes a space, `#`, a quote or a backslash, and writes `\r`,
    /// `\n`, `\t` and `\xHH`; `'...'` quotes without escapes.
    pub escapes: bool,
}

/// The text's lines, numbered from 1, without a byte-order mark or the
/// `\r` of a CRLF line end.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
}

/// The words of line number `no`. No words for a blank or comment line.
pub(crate) fn words(no: usize, line: &str, dialect: Dialect) -> Vec<Word> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let (mut double, mut single) = (false, false);
    let mut flush = |cur: &mut String, quoted: &mut bool| {
        if !cur.is_empty() || *quoted {
            out.push(Word {
                text: std::mem::take(cur),
                line: no,
                quoted: *quoted,
            });
        }
        *quoted = false;
    };
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if single {
            if c == '\'' {
                single = false;
            } else {
                cur.push(c);
            }
            continue;
        }
        if dialect.escapes && c == '\\' {
            quoted = true;
            unescape(&mut chars, &mut cur);
            continue;
        }
        if double {
            if c == '"' {
                double = false;
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                double = true;
                quoted = true;
            }
            '\'' if dialect.escapes => {
                single = true;
                quoted = true;
            }
            c if dialect.comments.contains(&c) => break,
            '{' | '}' if dialect.braces => {
                flush(&mut cur, &mut quoted);
                // The brace itself, a word of its own.
                flush(&mut c.to_string(), &mut false);
            }
            c if c.is_whitespace() => flush(&mut cur, &mut quoted),
            c => cur.push(c),
        }
    }
    flush(&mut cur, &mut quoted);
    out
}

/// The character(s) a backslash and what follows it stand for.
fn unescape(chars: &mut std::str::Chars<'_>, cur: &mut String) {
    match chars.next() {
        Some('r') => cur.push('\r'),
        Some('n') => cur.push('\n'),
        Some('t') => cur.push('\t'),
        Some('x') => {
            let hex: String = chars.by_ref().take(2).collect();
            match u8::from_str_radix(&hex, 16) {
                Ok(b) => cur.push(char::from(b)),
                Err(_) => {
                    cur.push_str("\\x");
                    cur.push_str(&hex);
                }
            }
        }
        Some(n @ (' ' | '#' | '\\' | '"' | '\'')) => cur.push(n),
        Some(n) => {
            cur.push('\\');
            cur.push(n);
        }
        None => cur.push('\\'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_lose_the_bom_and_crlf_and_count_from_one() {
        let got: Vec<(usize, &str)> = lines("\u{feff}a\r\nb\n\nc\r").collect();
        assert_eq!(got, [(1, "a"), (2, "b"), (3, ""), (4, "c")]);
    }

    #[test]
    fn an_empty_quoted_word_is_a_word() {
        let plain = Dialect {
            comments: &['#'],
            braces: false,
            escapes: false,
        };
        let w = words(1, "a \"\" b", plain);
        let texts: Vec<(&str, bool)> = w.iter().map(|w| (w.text.as_str(), w.quoted)).collect();
        assert_eq!(texts, [("a", false), ("", true), ("b", false)]);
    }
}
