//! Golden tests: the import's whole output, one case per directory of
//! `tests/golden/`, as a person reviews it.
//!
//! A case holds its inputs, `keepalived.conf` and/or `haproxy.cfg`, and
//! optionally `args` (the command-line options `--instance NAME`,
//! `--interface NAME`, `--vip ADDRESS` on one line) and `iptables` (the
//! old firewall rules, as `--iptables` reads them). Out: `expected.yaml`
//! and `expected.warnings` (each warning as stderr shows it), or
//! `expected.error` when nothing can be imported. Each input is named
//! `<case>/<file>` in warnings and comments. When nothing is imported,
//! `expected.warnings` holds what was said before the import stopped.
//!
//! `REGHA_BLESS=1 cargo test -p regha-import --test golden` rewrites the
//! expected files from what the import now writes; review the diff before
//! committing it: the golden files are the spec.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use regha_config::Config;
use regha_import::{ImportOptions, Warning, import_with};

const KEEPALIVED: &str = "keepalived.conf";
const HAPROXY: &str = "haproxy.cfg";
const YAML: &str = "expected.yaml";
const WARNINGS: &str = "expected.warnings";
const ERROR: &str = "expected.error";
const IPTABLES: &str = "iptables";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Every case directory, sorted by name.
fn cases() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(golden_dir())
        .expect("tests/golden exists")
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no golden cases");
    dirs
}

/// `--instance NAME --interface NAME --vip ADDRESS`, any of them.
fn options(dir: &Path) -> ImportOptions {
    let mut options = ImportOptions::default();
    let Ok(text) = fs::read_to_string(dir.join("args")) else {
        return options;
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    for pair in words.chunks(2) {
        match pair {
            ["--instance", v] => options.instance = Some((*v).to_owned()),
            ["--interface", v] => options.interface = Some((*v).to_owned()),
            ["--vip", v] => options.vip = Some(v.parse().expect("--vip takes an address")),
            other => panic!("{}: unknown option {other:?}", dir.display()),
        }
    }
    options
}

/// What the import writes for one case: (file name, text) for each
/// expected file.
fn run(dir: &Path) -> Vec<(&'static str, String)> {
    let case = dir.file_name().unwrap().to_string_lossy().into_owned();
    let input = |file: &str| {
        let text = fs::read(dir.join(file)).ok()?;
        Some((
            format!("{case}/{file}"),
            String::from_utf8_lossy(&text).into_owned(),
        ))
    };
    let (k, h) = (input(KEEPALIVED), input(HAPROXY));
    let mut options = options(dir);
    options.iptables = input(IPTABLES);
    assert!(
        k.is_some() || h.is_some(),
        "{case}: neither {KEEPALIVED} nor {HAPROXY}"
    );
    let result = import_with(
        k.as_ref().map(|(n, t)| (n.as_str(), t.as_str())),
        h.as_ref().map(|(n, t)| (n.as_str(), t.as_str())),
        &options,
    );
    let text = |warnings: &[Warning]| {
        let mut text = String::new();
        for w in warnings {
            let _ = writeln!(text, "{w}");
        }
        text
    };
    match result {
        Ok(out) => {
            if let Err(e) = Config::from_yaml_str(&out.yaml) {
                panic!("{case}: the output does not pass check-config:\n{e}");
            }
            vec![(YAML, out.yaml), (WARNINGS, text(&out.warnings))]
        }
        Err(f) => vec![
            (ERROR, format!("{}\n", f.error)),
            (WARNINGS, text(&f.warnings)),
        ],
    }
}

/// Where two texts first differ, with the lines around it.
fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let at = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    format!(
        "first difference at line {}:\n  expected: {:?}\n  actual:   {:?}",
        at + 1,
        e.get(at).copied().unwrap_or("<end>"),
        a.get(at).copied().unwrap_or("<end>")
    )
}

#[test]
fn every_case_writes_what_its_golden_files_say() {
    let bless = std::env::var_os("REGHA_BLESS").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for dir in cases() {
        let outputs = run(&dir);
        for stale in [YAML, WARNINGS, ERROR] {
            if bless && !outputs.iter().any(|(f, _)| *f == stale) {
                let _ = fs::remove_file(dir.join(stale));
            }
        }
        for (file, actual) in outputs {
            let path = dir.join(file);
            if bless {
                fs::write(&path, &actual).expect("write a golden file");
                continue;
            }
            let expected = fs::read_to_string(&path).unwrap_or_default();
            if expected != actual {
                failures.push(format!(
                    "{}: {}",
                    path.display(),
                    first_difference(&expected, &actual)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\nIf the change is meant, rewrite them with REGHA_BLESS=1 and review the diff.",
        failures.join("\n")
    );
}
