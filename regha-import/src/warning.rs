//! What the import could not map, or mapped with a difference: one
//! [`Warning`] per thing, naming the file and line, why, and what to do
//! instead. Harmless lines are grouped into one note rather than warned
//! about one by one ([`lines_list`]).

use std::fmt;

/// How much a [`Warning`] matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Mapped, but differently: read it once.
    Note,
    /// Not mapped, or mapped to something that behaves differently.
    Warning,
}

/// One thing the import could not map, or mapped with a difference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The input's name as given to [`crate::import`].
    pub file: String,
    /// 1-based; 0 when about the file as a whole.
    pub line: usize,
    pub severity: Severity,
    /// What was not mapped and why.
    pub message: String,
    /// What to do instead, if there is something to do.
    pub hint: Option<String>,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Note => "note",
            Severity::Warning => "warning",
        };
        if self.line == 0 {
            write!(f, "{}: {level}: {}", self.file, self.message)?;
        } else {
            write!(f, "{}:{}: {level}: {}", self.file, self.line, self.message)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n    hint: {hint}")?;
        }
        Ok(())
    }
}

/// Sorted by file, then line; a warning said twice (a backend shared by
/// several services is read once per service) kept once.
pub(crate) fn finish(warnings: &mut Vec<Warning>) {
    warnings.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    let mut seen: Vec<(String, usize, String)> = Vec::new();
    warnings.retain(|w| {
        let key = (w.file.clone(), w.line, w.message.clone());
        let new = !seen.contains(&key);
        if new {
            seen.push(key);
        }
        new
    });
}

/// Where warnings go while one file is read.
pub(crate) struct Diag<'a> {
    pub(crate) file: &'a str,
    out: &'a mut Vec<Warning>,
}

impl<'a> Diag<'a> {
    pub(crate) fn new(file: &'a str, out: &'a mut Vec<Warning>) -> Self {
        Self { file, out }
    }

    pub(crate) fn push(
        &mut self,
        line: usize,
        severity: Severity,
        message: String,
        hint: Option<&str>,
    ) {
        self.out.push(Warning {
            file: self.file.to_owned(),
            line,
            severity,
            message,
            hint: hint.map(str::to_owned),
        });
    }

    pub(crate) fn warn(&mut self, line: usize, message: impl Into<String>, hint: Option<&str>) {
        self.push(line, Severity::Warning, message.into(), hint);
    }

    pub(crate) fn note(&mut self, line: usize, message: impl Into<String>, hint: Option<&str>) {
        self.push(line, Severity::Note, message.into(), hint);
    }

    /// `file:line` for comments in the YAML, with the file's last path
    /// component only: the header names the full paths.
    pub(crate) fn at(&self, line: usize) -> String {
        let name = self.file.rsplit('/').next().unwrap_or(self.file);
        format!("{name}:{line}")
    }
}

/// `line 3`, `lines 3, 7, 9`: for grouped warnings.
pub(crate) fn lines_list(lines: &[usize]) -> String {
    let mut lines = lines.to_vec();
    lines.sort_unstable();
    lines.dedup();
    let list: Vec<String> = lines.iter().map(usize::to_string).collect();
    match list.len() {
        1 => format!("line {}", list[0]),
        _ => format!("lines {}", list.join(", ")),
    }
}

/// One note for the settings in `found` ((line, keyword), in file order)
/// that have nothing to map: `{what} ({lines}): {keywords}`.
pub(crate) fn group_note(diag: &mut Diag<'_>, what: &str, found: &[(usize, String)]) {
    let Some((line, _)) = found.first() else {
        return;
    };
    let keys: Vec<&str> = found.iter().map(|(_, k)| k.as_str()).collect();
    let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
    diag.note(
        *line,
        format!("{what} ({}): {}", lines_list(&lines), keys.join(", ")),
        None,
    );
}
