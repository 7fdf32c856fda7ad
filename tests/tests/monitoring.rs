//! The monitoring that ships with regha (`contrib/`): the Prometheus
//! alerting rules pass `promtool check rules` and their unit tests
//! (`promtool test rules`), and every metric the Grafana dashboard's
//! queries (and the rules) name is one a running agent exports, read from
//! the `/metrics` of an agent in a lab: a renamed metric breaks this test,
//! not an operator's dashboard.

use std::{collections::BTreeSet, path::Path, process::Command, time::Duration};

use regha_config::VrrpConfig;
use regha_tests::lab::{LabSpec, VIP, config};

const RULES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../contrib/prometheus/regha-rules.yml"
);
const RULE_TESTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../contrib/prometheus/regha-rules.test.yml"
);
const DASHBOARD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../contrib/grafana/regha.json");
/// Debian's `prometheus` package (`cargo xtask setup`) ships it.
const PROMTOOL: &str = "/usr/bin/promtool";

fn promtool(args: &[&str]) -> String {
    assert!(
        Path::new(PROMTOOL).exists(),
        "{PROMTOOL} is missing: `cargo xtask setup` installs Debian's prometheus"
    );
    let out = Command::new(PROMTOOL)
        .args(args)
        .current_dir(Path::new(RULES).parent().unwrap())
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
fn promtool_accepts_the_rules_and_their_tests_pass() {
    let checked = promtool(&["check", "rules", RULES]);
    assert!(checked.contains("SUCCESS: 7 rules found"), "{checked}");
    let tested = promtool(&["test", "rules", RULE_TESTS]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

/// The metric names a PromQL expression selects: what is left once label
/// matchers, ranges, strings, label lists (`by (...)`, `on (...)`, ...),
/// function and operator names and Grafana's `$variables` are taken out.
fn metric_names(expr: &str) -> BTreeSet<String> {
    // Keywords, and the aggregations (which `by (...)` may part from
    // their parenthesis).
    const KEYWORDS: [&str; 25] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "inf",
        "nan",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    ];
    const LISTS: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    // Strings, matchers and ranges out.
    let mut plain = String::new();
    let mut depth_brace = 0;
    let mut depth_bracket = 0;
    let mut in_string = false;
    for c in expr.chars() {
        match c {
            '"' if depth_brace == 0 => in_string = !in_string,
            _ if in_string => {}
            '{' => depth_brace += 1,
            '}' => depth_brace -= 1,
            '[' => depth_bracket += 1,
            ']' => depth_bracket -= 1,
            _ if depth_brace > 0 || depth_bracket > 0 => {}
            c => plain.push(c),
        }
        if matches!(c, '}' | ']') {
            plain.push(' ');
        }
    }
    let chars: Vec<char> = plain.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let mut skip_list = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '$' {
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            continue;
        }
        if c.is_ascii_digit() {
            // A number (1e3, 0.5): none of it is a name.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace()).copied();
            if LISTS.contains(&word.as_str()) && next == Some('(') {
                skip_list = true;
            } else if !KEYWORDS.contains(&word.as_str()) && next != Some('(') {
                names.insert(word);
            }
            continue;
        }
        if c == '(' && skip_list {
            // A label list: up to its closing parenthesis.
            while i < chars.len() && chars[i] != ')' {
                i += 1;
            }
            skip_list = false;
        }
        i += 1;
    }
    names
}

#[test]
fn metric_names_are_told_from_labels_functions_and_variables() {
    let names = metric_names(
        r#"(regha_backend_weight{instance=~"$instance"} * regha_backend_up{state="up"}) / on (instance, service) group_left sum by (instance, service) (rate(regha_x_total{a="b"}[$__rate_interval])) > 0 unless on (backend) up"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        [
            "regha_backend_up",
            "regha_backend_weight",
            "regha_x_total",
            "up"
        ]
    );
    assert!(metric_names("absent(up{job=\"regha\"})").contains("up"));
}

/// Every PromQL query of the dashboard (panels and variables).
fn dashboard_queries() -> Vec<String> {
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(DASHBOARD).unwrap()).expect("dashboard JSON");
    let mut out = Vec::new();
    let panels = dash["panels"].as_array().expect("panels");
    for p in panels {
        if p["type"] == "row" {
            continue;
        }
        let targets = p["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("panel {} has no targets", p["title"]));
        assert!(!targets.is_empty(), "panel {} queries nothing", p["title"]);
        for t in targets {
            let expr = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {}: a target without expr", p["title"]));
            out.push(expr.to_owned());
        }
    }
    for v in dash["templating"]["list"].as_array().expect("templating") {
        if let Some(q) = v["query"]["query"].as_str() {
            // label_values(metric, label): the metric.
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|r| r.split(',').next())
                .unwrap_or(q);
            out.push(inner.to_owned());
        }
    }
    out
}

/// The `expr` of every rule.
fn rule_queries() -> Vec<String> {
    let text = std::fs::read_to_string(RULES).unwrap();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("expr: "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_metric_the_dashboard_and_rules_name_is_exported_by_a_running_agent() {
    let mut lab = LabSpec::one_lb(2).build();
    // VRRP, so that its metrics are there too.
    let vrrp = VrrpConfig {
        priority: 150,
        ..config::vrrp(51, &[(std::net::IpAddr::V4(VIP), 32)])
    };
    lab.start_agent(0, &config::with_vrrp(vrrp, vec![lab.service()]), &[]);
    lab.wait_backends_up(Duration::from_secs(10));
    lab.agent(0)
        .wait_for("VRRP master", Duration::from_secs(10), |s| {
            s.role == regha_model::Role::Master
        });
    assert!(
        lab.get_all().iter().all(|r| *r == Ok(200)),
        "traffic through the VIP"
    );
    let page = lab.stats("/metrics", &[]).expect("/metrics");
    assert_eq!(page.status, 200);
    let exported: BTreeSet<String> = regha_tests::metrics::parse_metrics(&page.body)
        .into_keys()
        .map(|(name, _)| name)
        .collect();

    let mut missing = Vec::new();
    let dashboard = dashboard_queries();
    assert!(dashboard.len() >= 15, "{dashboard:?}");
    for q in &dashboard {
        let names = metric_names(q);
        assert!(!names.is_empty(), "a query that names no metric: {q}");
        missing.extend(
            names
                .into_iter()
                .filter(|n| !exported.contains(n))
                .map(|n| format!("dashboard: {n} in {q}")),
        );
    }
    for q in rule_queries() {
        // `up` is Prometheus's own, about the scrape.
        missing.extend(
            metric_names(&q)
                .into_iter()
                .filter(|n| n != "up" && !exported.contains(n))
                .map(|n| format!("rules: {n} in {q}")),
        );
    }
    assert!(
        missing.is_empty(),
        "named but not exported by the agent:\n{}\nexported: {exported:#?}",
        missing.join("\n")
    );
}
