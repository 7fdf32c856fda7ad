//! The YAML that `Config::to_yaml` wrote, with the [`Notes`] put in: the
//! lines are walked once, each key's path is worked out from the
//! indentation, and a note goes above, beside or below the line (or block)
//! of its path. Short leaf collections with nothing inside to comment on
//! are laid out on one line (`expect: [200, 401]`,
//! `- { address: 198.51.100.5, port: 5000, weight: 1 }`), and the items of
//! a sequence are indented under their key, as regha.example.yaml writes
//! them.
//!
//! Nothing here changes a value: comments are whole lines or follow a
//! value, a sequence moves right as a whole (the lines of a block scalar
//! with it, unchanged), and a collection goes on one line only when each
//! of its scalars means the same there.
//! The tests (and the fuzz target) read the result back and compare it with
//! what `to_yaml` wrote.
//!
//! The walk knows the block YAML `to_yaml` writes, not YAML at large: keys
//! are plain words, a sequence may sit at its key's indentation or deeper,
//! the first key of a mapping in a sequence shares the item's line, and a
//! multi-line string is a block scalar (`|-`). A line outside that shape
//! passes through unchanged, and no note is put on it.

use std::collections::HashMap;

use crate::notes::{Notes, join};

/// Comments beside values start at this column, for a block that reads
/// as a table.
const NOTE_COLUMN: usize = 34;
/// A collection goes on one line only if that line is at most this long.
const FLOW_WIDTH: usize = 80;

/// What [`annotate`] wrote, and the paths of notes it found no line for.
pub(crate) struct Annotated {
    pub text: String,
    pub unplaced: Vec<String>,
}

/// `yaml` with `notes` in it.
pub(crate) fn annotate(yaml: &str, notes: &Notes) -> Annotated {
    let lines = flow(walk(yaml), notes);
    let opened: std::collections::HashSet<&str> = lines
        .iter()
        .flat_map(|l| l.opens.iter().map(String::as_str))
        .collect();
    let unplaced = notes
        .paths()
        .filter(|p| !opened.contains(p))
        .map(str::to_owned)
        .collect();
    Annotated {
        text: write(&lines, notes),
        unplaced,
    }
}

/// One line of the document, as the walk understood it.
#[derive(Clone, Debug)]
struct Line {
    text: String,
    indent: usize,
    /// Spaces to add before the text: two per enclosing sequence that sits
    /// at its key's indentation.
    shift: usize,
    /// The paths that start here, outermost first: a sequence item's, a
    /// key's, or both (`- name: x`).
    opens: Vec<String>,
    /// The paths whose value ends here, innermost first, each with the
    /// indentation (shifted) of the line it started on.
    closes: Vec<(String, usize)>,
    shape: Shape,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Shape {
    /// `key: value`, or `key:` with a block below.
    Key { key: String, value: Option<String> },
    /// `- value`, or `- key: value` starting a mapping.
    Item {
        key: Option<String>,
        value: Option<String>,
    },
    /// Anything else: block scalar content, a comment, an unknown shape.
    Other,
}

#[derive(Debug)]
struct Frame {
    /// The column of its key, or of the content of its item (after `- `).
    col: usize,
    path: String,
    item: bool,
    /// Items of the sequence under this key so far.
    items: usize,
    /// The indentation (shifted) of the line it started on.
    indent: usize,
    /// What the lines inside it are shifted by.
    shift: usize,
}

/// Every line with the paths it opens and closes.
fn walk(yaml: &str) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    let mut frames: Vec<Frame> = Vec::new();
    // Inside a block scalar: the indentation of its key or item, and the
    // shift of its lines.
    let mut block: Option<(usize, usize)> = None;
    let close = |frames: &mut Vec<Frame>, lines: &mut Vec<Line>, keep: &dyn Fn(&Frame) -> bool| {
        while let Some(f) = frames.last() {
            if keep(f) {
                break;
            }
            let f = frames.pop().expect("a frame");
            if let Some(last) = lines.last_mut() {
                last.closes.push((f.path, f.indent));
            }
        }
    };
    for text in yaml.lines() {
        let indent = text.len() - text.trim_start_matches(' ').len();
        let content = &text[indent..];
        let mut line = Line {
            text: text.to_owned(),
            indent,
            shift: frames.last().map_or(0, |f| f.shift),
            opens: Vec::new(),
            closes: Vec::new(),
            shape: Shape::Other,
        };
        if let Some((parent, shift)) = block {
            if content.is_empty() || indent > parent {
                line.shift = shift;
                lines.push(line);
                continue;
            }
            block = None;
        }
        if content.is_empty() || content.starts_with('#') {
            lines.push(line);
            continue;
        }
        let value_of =
            |v: Option<&str>, col: usize, shift: usize, block: &mut Option<(usize, usize)>| {
                if v.is_some_and(|v| v.starts_with(['|', '>'])) {
                    *block = Some((col, shift));
                }
                v.map(str::to_owned)
            };
        if let Some(rest) = content
            .strip_prefix('-')
            .filter(|r| r.is_empty() || r.starts_with(' '))
        {
            close(&mut frames, &mut lines, &|f| f.col <= indent);
            let Some(owner) = frames.last_mut().filter(|f| !f.item) else {
                lines.push(line);
                continue;
            };
            let item = format!("{}[{}]", owner.path, owner.items);
            owner.items += 1;
            let shift = owner.shift + if owner.col == indent { 2 } else { 0 };
            line.shift = shift;
            let at = indent + shift;
            let rest = rest.trim_start();
            match split_key(rest) {
                Some((key, value)) => {
                    let key_path = join(&item, key);
                    line.shape = Shape::Item {
                        key: Some(key.to_owned()),
                        value: value_of(value, indent + 2, shift, &mut block),
                    };
                    frames.push(Frame::new(indent + 2, item.clone(), true, at, shift));
                    frames.push(Frame::new(
                        indent + 2,
                        key_path.clone(),
                        false,
                        at + 2,
                        shift,
                    ));
                    line.opens = vec![item, key_path];
                }
                None => {
                    line.shape = Shape::Item {
                        key: None,
                        value: value_of(Some(rest), indent, shift, &mut block),
                    };
                    line.closes.push((item.clone(), at));
                    line.opens = vec![item];
                }
            }
        } else if let Some((key, value)) = split_key(content) {
            close(&mut frames, &mut lines, &|f| {
                if f.item {
                    f.col <= indent
                } else {
                    f.col < indent
                }
            });
            let (parent, shift) = frames
                .last()
                .map_or(("", 0), |f| (f.path.as_str(), f.shift));
            let path = join(parent, key);
            line.shift = shift;
            line.shape = Shape::Key {
                key: key.to_owned(),
                value: value_of(value, indent, shift, &mut block),
            };
            frames.push(Frame::new(
                indent,
                path.clone(),
                false,
                indent + shift,
                shift,
            ));
            line.opens = vec![path];
        }
        lines.push(line);
    }
    close(&mut frames, &mut lines, &|_| false);
    lines
}

impl Frame {
    fn new(col: usize, path: String, item: bool, indent: usize, shift: usize) -> Self {
        Self {
            col,
            path,
            item,
            items: 0,
            indent,
            shift,
        }
    }
}

/// `key: value` or `key:`, where the key is a plain word as `to_yaml`
/// writes every key.
fn split_key(text: &str) -> Option<(&str, Option<&str>)> {
    let (key, value) = match text.strip_suffix(':') {
        Some(key) if !key.contains(": ") => (key, None),
        _ => {
            let (key, value) = text.split_once(": ")?;
            (key, Some(value))
        }
    };
    let word = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    word.then_some((key, value))
}

/// The lines, with each collection that can go on one line put there.
fn flow(lines: Vec<Line>, notes: &Notes) -> Vec<Line> {
    let close_of: HashMap<&str, usize> = lines
        .iter()
        .enumerate()
        .flat_map(|(i, l)| l.closes.iter().map(move |(p, _)| (p.as_str(), i)))
        .collect();
    let mut out = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        match flowed(&lines, i, &close_of, notes) {
            Some((line, end)) => {
                out.push(line);
                i = end + 1;
            }
            None => {
                out.push(lines[i].clone());
                i += 1;
            }
        }
    }
    out
}

/// Line `i` and the block under it as one line, and the index of the
/// block's last line; None when it is not a leaf collection, something in
/// it has a note, a scalar would not mean the same in flow style, or the
/// line would be too long.
fn flowed(
    lines: &[Line],
    i: usize,
    close_of: &HashMap<&str, usize>,
    notes: &Notes,
) -> Option<(Line, usize)> {
    let first = &lines[i];
    let outer = first.opens.first()?;
    let end = *close_of.get(outer.as_str())?;
    let inner = lines.get(i + 1..=end)?;
    let quiet = |l: &Line| l.opens.iter().all(|p| !notes.has_within(p));
    let body = match &first.shape {
        // `key:` over `- scalar` items: `key: [a, b]`.
        Shape::Key { key, value: None } => {
            let mut items = Vec::new();
            for l in inner {
                match &l.shape {
                    Shape::Item {
                        key: None,
                        value: Some(v),
                    } if flow_safe(v) && quiet(l) => {
                        items.push(v.as_str());
                    }
                    _ => return None,
                }
            }
            if items.is_empty() {
                return None;
            }
            let one = format!(
                "{:indent$}{key}: [{}]",
                "",
                items.join(", "),
                indent = first.indent
            );
            if first.shift + one.len() <= FLOW_WIDTH || notes.get(outer).is_some() {
                one
            } else {
                wrapped(first, key, &items)?
            }
        }
        // `- k: v` over `k: v` lines: `- { k: v, k: v }`.
        Shape::Item {
            key: Some(key),
            value: Some(v),
        } => {
            let key_path = first.opens.get(1)?;
            if !flow_safe(v) || notes.has_within(key_path) {
                return None;
            }
            let mut pairs = vec![format!("{key}: {v}")];
            for l in inner {
                match &l.shape {
                    Shape::Key {
                        key,
                        value: Some(v),
                    } if l.indent == first.indent + 2 && flow_safe(v) && quiet(l) => {
                        pairs.push(format!("{key}: {v}"));
                    }
                    _ => return None,
                }
            }
            format!(
                "{:indent$}- {{ {} }}",
                "",
                pairs.join(", "),
                indent = first.indent
            )
        }
        _ => return None,
    };
    // The lines after the first of a wrapped list carry their shift.
    let too_long = (body.lines().enumerate())
        .any(|(n, l)| l.len() + if n == 0 { first.shift } else { 0 } > FLOW_WIDTH);
    if too_long {
        return None;
    }
    let closes = lines[i..=end]
        .iter()
        .flat_map(|l| l.closes.clone())
        .collect();
    let line = Line {
        text: body,
        indent: first.indent,
        shift: first.shift,
        opens: vec![outer.clone()],
        closes,
        shape: Shape::Other,
    };
    Some((line, end))
}

/// `key: [a, b, ...]` over several lines (a long list of status codes),
/// the lines after the first aligned after its `[`: a flow sequence may
/// span lines. None when an item alone is too long for a line.
fn wrapped(first: &Line, key: &str, items: &[&str]) -> Option<String> {
    let head = format!("{:indent$}{key}: [", "", indent = first.indent);
    // Later lines get no shift from `write`: they carry it themselves.
    let pad = first.shift + head.len();
    let mut out = head;
    let mut col = first.shift + out.len();
    for (n, item) in items.iter().enumerate() {
        let last = n + 1 == items.len();
        let piece = format!("{item}{}", if last { "]" } else { "," });
        if n > 0 {
            if col + 1 + piece.len() > FLOW_WIDTH {
                out.push('\n');
                out.push_str(&" ".repeat(pad));
                col = pad;
            } else {
                out.push(' ');
                col += 1;
            }
        }
        if pad + piece.len() > FLOW_WIDTH {
            return None;
        }
        out.push_str(&piece);
        col += piece.len();
    }
    Some(out)
}

/// Whether a scalar, as `to_yaml` wrote it in block style, reads the same
/// inside `[...]` or `{...}`: a quoted one always (it is on one line), a
/// plain one unless it holds a flow indicator or a `: `.
fn flow_safe(value: &str) -> bool {
    match value.chars().next() {
        Some(q @ ('\'' | '"')) => value.len() >= 2 && value.ends_with(q),
        Some('|' | '>' | '[' | '{') | None => false,
        Some(_) => {
            !value.contains([',', '[', ']', '{', '}', '#'])
                && !value.contains(": ")
                && !value.ends_with(':')
        }
    }
}

/// The text, with the notes.
fn write(lines: &[Line], notes: &Notes) -> String {
    let mut out = String::new();
    let comment = |out: &mut String, indent: usize, text: &str| {
        out.push_str(&comment_line(indent, text));
    };
    for line in lines {
        let here: Vec<_> = line.opens.iter().filter_map(|p| notes.get(p)).collect();
        for n in &here {
            if n.gap && !out.is_empty() && !out.ends_with("\n\n") {
                out.push('\n');
            }
            for text in &n.above {
                comment(&mut out, line.indent + line.shift, text);
            }
        }
        let beside: Vec<String> = here
            .iter()
            .filter_map(|n| n.beside.as_deref())
            .map(clean)
            .collect();
        let text = format!("{:shift$}{}", "", line.text, shift = line.shift);
        if beside.is_empty() {
            out.push_str(&text);
        } else {
            out.push_str(&format!("{text:<NOTE_COLUMN$} # {}", beside.join("; ")));
        }
        out.push('\n');
        for (path, indent) in &line.closes {
            for text in notes
                .get(path)
                .map(|n| n.below.as_slice())
                .unwrap_or_default()
            {
                comment(&mut out, *indent, text);
            }
        }
    }
    out
}

/// `# text` on a line of its own, indented.
pub(crate) fn comment_line(indent: usize, text: &str) -> String {
    let text = clean(text);
    let sep = if text.is_empty() { "" } else { " " };
    format!("{:indent$}#{sep}{text}\n", "")
}

/// A comment's text on one line: control characters and what YAML cannot
/// hold become spaces, so that nothing from the sources ends a comment
/// early or makes the document unreadable.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if printable(c) { c } else { ' ' })
        .collect()
}

/// YAML 1.2's printable set (c-printable) without tab and line breaks.
fn printable(c: char) -> bool {
    matches!(c as u32, 0x20..=0x7e | 0xa0..=0xd7ff | 0xe000..=0xfffd | 0x1_0000..=0x10_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use regha_config::{Config, PasswordSource, StatsAuth, StatsConfig, TrackInterface};

    fn value(yaml: &str) -> serde_yaml::Value {
        serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("not YAML: {e}\n{yaml}"))
    }

    #[test]
    fn notes_go_above_beside_and_below_their_keys() {
        let yaml = "a: 1\nb:\n  c: x\n  d:\n  - 1\n  - 2\ne:\n- k: v\n  l: w\n- k: |-\n    two\n    lines\n  l: z\nf: {}\n";
        let mut notes = Notes::default();
        notes.gap("b");
        notes.above("b", "about b");
        notes.beside("b.c", "c's source");
        notes.below("b", "after b");
        notes.beside("e[0]", "the first");
        notes.above("e[1]", "the second");
        notes.beside("e[1].k", "a block");
        notes.below("e[1].k", "after the block");
        notes.beside("f", "empty");
        notes.beside("nowhere", "lost");
        let out = annotate(yaml, &notes);
        let expected = "\
a: 1

# about b
b:
  c: x                             # c's source
  d: [1, 2]
# after b
e:
  - { k: v, l: w }                 # the first
  # the second
  - k: |-                          # a block
      two
      lines
    # after the block
    l: z
f: {}                              # empty
";
        assert_eq!(out.text, expected);
        assert_eq!(out.unplaced, ["nowhere"]);
        assert_eq!(value(&out.text), value(yaml));
    }

    #[test]
    fn a_long_list_of_scalars_wraps_as_one_flow_list() {
        let codes: Vec<String> = (200..=230).map(|c| c.to_string()).collect();
        let yaml = format!(
            "a:\n  expect:\n{}\n",
            codes
                .iter()
                .map(|c| format!("  - {c}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        let out = annotate(&yaml, &Notes::default());
        let lines: Vec<&str> = out.text.lines().collect();
        assert!(lines.len() > 2 && lines.len() < 6, "{}", out.text);
        assert!(lines[1].starts_with("  expect: [200, 201,"), "{}", out.text);
        assert!(
            lines[2].starts_with("           2"),
            "aligned after `[`:\n{}",
            out.text
        );
        assert!(lines.iter().all(|l| l.len() <= FLOW_WIDTH), "{}", out.text);
        assert_eq!(value(&out.text), value(&yaml));
    }

    #[test]
    fn only_what_reads_the_same_goes_on_one_line() {
        for safe in ["v", "'a, b'", "\"x\\n\"", "2001:db8::1", "/v2/", "-30"] {
            assert!(flow_safe(safe), "{safe}");
        }
        for unsafe_ in ["a,b", "[x]", "{", "x #y", "a: b", "a:", "|-", "", "[]"] {
            assert!(!flow_safe(unsafe_), "{unsafe_}");
        }
    }

    /// Whatever a string holds, the layout keeps it the string `to_yaml`
    /// wrote: quoted where YAML would read another type, escaped where a
    /// character cannot stand in a document, a block where it has lines.
    #[test]
    fn strings_stay_strings() {
        let odd = [
            "registry",
            "/v2/",
            "1111",
            "yes",
            "a: b",
            "x\"y\n",
            "",
            "a,b",
            "[x]",
            "{",
            "#c",
            " lead",
            "trail ",
            "two\nlines\n",
            "\u{7f}",
            "- dash",
            "? q",
            "null",
        ];
        let yaml = "interface: eth0\nvrrp: { virtual_router_id: 1, virtual_ipaddresses: [192.0.2.100] }\n\
                    services: [{ name: s, vip: 192.0.2.100, port: 1, backends: [{ address: 192.0.2.11 }] }]\n";
        let mut config = Config::from_yaml_str(yaml).expect("valid");
        let vrrp = config.vrrp.first_mut().expect("vrrp");
        vrrp.track_interfaces = odd
            .iter()
            .map(|name| TrackInterface {
                name: (*name).to_owned(),
                weight: -1,
            })
            .collect();
        let mut notes = Notes::default();
        for (i, s) in odd.iter().enumerate() {
            let health = regha_config::HealthKind::Http {
                path: "/".to_owned(),
                host: Some((*s).to_owned()),
                expect: vec![200],
                expect_header: Some((*s).to_owned()),
                tls: None,
            };
            let mut service = config.services[0].clone();
            service.health.kind = health;
            config.services.push(service);
            notes.beside(&format!("services[{}].health.http.host", i + 1), "a note");
            notes.above(&format!("vrrp.track_interfaces[{i}]"), s.to_string());
        }
        config.stats = Some(StatsConfig {
            listen: regha_config::DEFAULT_STATS_LISTEN,
            auth: Some(StatsAuth {
                user: "two\nlines".to_owned(),
                password: PasswordSource::Env("P".to_owned()),
            }),
        });
        notes.beside("stats.auth.user", "beside a block");
        notes.below("stats.auth.user", "below a block");
        let written = config.to_yaml();
        let out = annotate(&written, &notes);
        assert!(out.unplaced.is_empty(), "{:?}", out.unplaced);
        assert_eq!(value(&out.text), value(&written), "{}", out.text);
    }
}
