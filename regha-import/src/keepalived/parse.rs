//! keepalived.conf's syntax: words ([`crate::lex`] with `#` and `!`
//! comments and braces as words), parsed to a tree of statements that keep
//! their line numbers.
//!
//! One statement per line; `{ ... }` opens a block, which may sit on the
//! keyword's line, on the next one, or hold its whole content on one line
//! (`authentication { auth_type PASS auth_pass 1111 }`). For that last case
//! a statement is split again wherever a keyword known to its block starts
//! ([`split_known`]).

use crate::ImportError;
use crate::lex::{self, Dialect, Word};
use crate::warning::Diag;

/// Deeper than this is not a keepalived config (its deepest real block,
/// `virtual_server { real_server { HTTP_GET { url {} } } }`, is 4).
const MAX_DEPTH: usize = 16;

const KEEPALIVED: Dialect = Dialect {
    comments: &['#', '!'],
    braces: true,
    escapes: false,
};

/// One statement: its words and, if one follows, its block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stmt {
    pub line: usize,
    pub words: Vec<Word>,
    pub block: Option<Vec<Stmt>>,
}

/// The words of the whole file.
pub(crate) fn lex(text: &str) -> Vec<Word> {
    lex::lines(text)
        .flat_map(|(no, line)| lex::words(no, line, KEEPALIVED))
        .collect()
}

/// Parses the whole file into statements. Unbalanced braces are warnings
/// (keepalived itself carries on); only absurd nesting is an error.
pub(crate) fn parse(text: &str, diag: &mut Diag<'_>) -> Result<Vec<Stmt>, ImportError> {
    let tokens = lex(text);
    let mut pos = 0;
    parse_block(&tokens, &mut pos, 0, None, diag)
}

fn parse_block(
    toks: &[Word],
    pos: &mut usize,
    depth: usize,
    opened_at: Option<usize>,
    diag: &mut Diag<'_>,
) -> Result<Vec<Stmt>, ImportError> {
    if depth > MAX_DEPTH {
        return Err(ImportError::Syntax {
            file: diag.file.to_owned(),
            line: opened_at.unwrap_or(0),
            message: format!(
                "blocks nested more than {MAX_DEPTH} deep: this is not a keepalived config"
            ),
        });
    }
    let mut out: Vec<Stmt> = Vec::new();
    while let Some(t) = toks.get(*pos) {
        *pos += 1;
        if t.is("}") {
            if opened_at.is_some() {
                return Ok(out);
            }
            diag.warn(t.line, "`}` closes no block: ignored", None);
        } else if t.is("{") {
            // A brace on its own line belongs to the statement above it.
            let block = parse_block(toks, pos, depth + 1, Some(t.line), diag)?;
            match out.last_mut() {
                Some(s) if s.block.is_none() => s.block = Some(block),
                _ => diag.warn(
                    t.line,
                    "a `{` block with no keyword before it: ignored",
                    None,
                ),
            }
        } else {
            let mut words = vec![t.clone()];
            while let Some(n) = toks.get(*pos) {
                if n.line != t.line || n.is("{") || n.is("}") {
                    break;
                }
                words.push(n.clone());
                *pos += 1;
            }
            let mut stmt = Stmt {
                line: t.line,
                words,
                block: None,
            };
            if let Some(n) = toks.get(*pos)
                && n.is("{")
                && n.line == t.line
            {
                *pos += 1;
                stmt.block = Some(parse_block(toks, pos, depth + 1, Some(n.line), diag)?);
            }
            out.push(stmt);
        }
    }
    if let Some(line) = opened_at {
        diag.warn(
            line,
            "this block is never closed: read up to the end of the file",
            Some("add the missing `}`: keepalived reads it the same way, but it is a typo"),
        );
    }
    Ok(out)
}

/// One keyword and its arguments, after [`split_known`].
#[derive(Clone, Debug)]
pub(crate) struct Entry<'a> {
    pub line: usize,
    pub key: String,
    pub args: Vec<&'a Word>,
    pub block: Option<&'a [Stmt]>,
}

impl Entry<'_> {
    /// The first argument.
    pub fn arg(&self) -> Option<&str> {
        self.args.first().map(|t| t.text.as_str())
    }
}

/// The statements of a block as keyword entries, split again wherever an
/// unquoted known keyword appears after the first word: the content of a
/// block written on one line is one statement to the parser.
pub(crate) fn split_known<'a>(stmts: &'a [Stmt], known: &[&str]) -> Vec<Entry<'a>> {
    let mut out: Vec<Entry<'a>> = Vec::new();
    for s in stmts {
        let Some((first, rest)) = s.words.split_first() else {
            continue;
        };
        out.push(Entry {
            line: first.line,
            key: first.text.clone(),
            args: Vec::new(),
            block: None,
        });
        for w in rest {
            if !w.quoted && known.contains(&w.text.as_str()) {
                out.push(Entry {
                    line: w.line,
                    key: w.text.clone(),
                    args: Vec::new(),
                    block: None,
                });
            } else if let Some(e) = out.last_mut() {
                e.args.push(w);
            }
        }
        if let Some(e) = out.last_mut() {
            e.block = s.block.as_deref();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warning::{Severity, Warning};

    fn words(s: &Stmt) -> Vec<&str> {
        s.words.iter().map(|t| t.text.as_str()).collect()
    }

    fn parse_k(text: &str) -> (Vec<Stmt>, Vec<Warning>) {
        let mut w = Vec::new();
        let stmts = parse(text, &mut Diag::new("k.conf", &mut w)).unwrap();
        (stmts, w)
    }

    #[test]
    fn keepalived_comments_quotes_and_braces() {
        let toks = lex("a \"b # c\" d # e\nf ! g\ntrack_script {chk}\n");
        let texts: Vec<&str> = toks.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(
            texts,
            ["a", "b # c", "d", "f", "track_script", "{", "chk", "}"]
        );
        assert!(toks[1].quoted);
        assert_eq!(toks[3].line, 2);
        assert_eq!(toks[7].line, 3);
    }

    #[test]
    fn keepalived_non_ascii_comments_and_crlf() {
        let (stmts, w) = parse_k(
            "vrrp_instance VI_1 {\r\n    state BACKUP #状态为BACKUP\r\n    priority 100  #权重\r\n}\r\n",
        );
        assert!(w.is_empty(), "{w:?}");
        let block = stmts[0].block.as_ref().unwrap();
        assert_eq!(words(&block[0]), ["state", "BACKUP"]);
        assert_eq!(words(&block[1]), ["priority", "100"]);
        assert_eq!(block[1].line, 3);
    }

    #[test]
    fn keepalived_brace_on_the_next_line_and_one_line_blocks() {
        let (stmts, w) = parse_k(
            "vrrp_instance VI_1\n{\n  authentication { auth_type PASS auth_pass 1111 }\n  virtual_ipaddress {\n 198.51.100.70 }\n}\n",
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(stmts.len(), 1);
        let block = stmts[0].block.as_ref().unwrap();
        let auth = block[0].block.as_ref().unwrap();
        let entries = split_known(auth, &["auth_type", "auth_pass"]);
        let pairs: Vec<(&str, Option<&str>, usize)> = entries
            .iter()
            .map(|e| (e.key.as_str(), e.arg(), e.line))
            .collect();
        assert_eq!(
            pairs,
            [
                ("auth_type", Some("PASS"), 3),
                ("auth_pass", Some("1111"), 3)
            ]
        );
        assert_eq!(
            words(&block[1].block.as_ref().unwrap()[0]),
            ["198.51.100.70"]
        );
    }

    #[test]
    fn keepalived_unbalanced_braces_are_warnings_with_lines() {
        let (_, w) = parse_k("}\nvrrp_instance X {\n  state MASTER\n");
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!((w[0].line, w[0].severity), (1, Severity::Warning));
        assert!(w[0].message.contains("closes no block"));
        assert_eq!(w[1].line, 2);
        assert!(w[1].message.contains("never closed"));
    }

    #[test]
    fn keepalived_absurd_nesting_is_an_error_not_a_stack_overflow() {
        let text = "a {".repeat(100_000);
        let mut w = Vec::new();
        let err = parse(&text, &mut Diag::new("k.conf", &mut w)).unwrap_err();
        assert!(matches!(err, ImportError::Syntax { line: 1, .. }), "{err}");
    }

    // ---- HAProxy tokenizer and sections ----
}
