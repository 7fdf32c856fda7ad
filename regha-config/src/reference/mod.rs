//! The configuration reference, written once and rendered twice: as the
//! README's tables (markdown, [`markdown`]) and as the regha.yaml(5) man
//! page (roff, [`man_page`]). A test holds the README's generated region to
//! [`markdown`], and another holds the reference to the keys
//! [`Config::to_yaml`](crate::Config::to_yaml) writes, so the README, the
//! man page and the parser cannot disagree.
//!
//! The text of every cell is markdown of a small kind, which both renderers
//! understand: `` `code` `` and `**bold**`, nothing else (no links, no
//! escapes: a `|` is written as it is, and the markdown renderer escapes it).
//! Paragraphs keep their line breaks, as the README wraps them.

pub mod roff;
mod tables;

pub use roff::man_page;
pub use tables::SECTIONS;

/// One part of the file: a heading, what to know first, a table of keys,
/// and (for the rules that span fields) a list.
#[derive(Clone, Copy, Debug)]
pub struct Section {
    /// `Top level`, `` `vrrp` ``, `` `services[].health` ``, ...
    pub heading: &'static str,
    /// Paragraphs before the table.
    pub intro: &'static [&'static str],
    pub keys: &'static [Key],
    /// Items of a bulleted list after the intro (the rules across fields).
    pub rules: &'static [&'static str],
}

/// One key (or a note that applies to several, such as `(weights)`).
#[derive(Clone, Copy, Debug)]
pub struct Key {
    /// As written in the file, relative to the section (`` `auth.user` ``).
    pub key: &'static str,
    /// What it takes: `` `native` | `generic` ``, `integer, 1..=255`, ...
    pub ty: &'static str,
    /// What applies when the key is absent.
    pub default: &'static str,
    pub meaning: &'static str,
}

/// The first line of the README's generated region.
pub const README_BEGIN: &str = "<!-- The configuration reference below is generated from \
regha-config/src/reference/tables.rs, which the regha.yaml(5) man page is made from too: edit \
it there, then `REGHA_WRITE_README=1 cargo test -p regha-config reference` rewrites this region \
(the same test without the variable fails while they differ). -->";

/// The last line of the README's generated region.
pub const README_END: &str = "<!-- End of the generated configuration reference. -->";

/// The reference as the README shows it: one `###` heading per section,
/// its paragraphs, its table, its list.
pub fn markdown() -> String {
    let mut out = String::new();
    for (i, s) in SECTIONS.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("### {}\n\n", s.heading));
        for p in s.intro {
            out.push_str(p);
            out.push_str("\n\n");
        }
        if !s.keys.is_empty() {
            out.push_str("| key | type | default | meaning |\n|---|---|---|---|\n");
            for k in s.keys {
                out.push('|');
                for cell in [k.key, k.ty, k.default, k.meaning] {
                    if cell.is_empty() {
                        out.push_str(" |");
                    } else {
                        out.push_str(&format!(" {} |", cell.replace('|', "\\|")));
                    }
                }
                out.push('\n');
            }
        }
        for r in s.rules {
            out.push_str("- ");
            out.push_str(&r.replace('\n', "\n  "));
            out.push('\n');
        }
    }
    out
}

/// The README's generated region in `readme` (between the markers, the
/// markers excluded), or `None` when a marker is missing.
pub fn readme_region(readme: &str) -> Option<&str> {
    let start = readme.find(README_BEGIN)? + README_BEGIN.len();
    let end = start + readme[start..].find(README_END)?;
    Some(readme[start..end].trim_matches('\n'))
}

/// `readme` with its generated region replaced by [`markdown`].
pub fn with_region(readme: &str) -> Option<String> {
    let start = readme.find(README_BEGIN)? + README_BEGIN.len();
    let end = start + readme[start..].find(README_END)?;
    Some(format!(
        "{}\n\n{}\n\n{}",
        &readme[..start],
        markdown().trim_end_matches('\n'),
        &readme[end..]
    ))
}
