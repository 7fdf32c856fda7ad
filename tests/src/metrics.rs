//! What the stats listener serves, read the strict way: `/metrics` through
//! a Prometheus text parser, and the basic-auth header to get in.

use std::collections::BTreeMap;

/// `Authorization: Basic ...` for `user:password`.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Authorization: Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Samples of a Prometheus text page, by name and labels.
pub type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// Parses `/metrics` with a Prometheus text parser, strictly: every sample
/// line must parse, counters must be typed as counters.
pub fn parse_metrics(text: &str) -> Samples {
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|e| panic!("not Prometheus text: {e}\n{text}"));
    let sample_lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(
        scrape.samples.len(),
        sample_lines,
        "every sample line parses:\n{text}"
    );
    let mut out = Samples::new();
    for s in scrape.samples {
        let value = match s.value {
            prometheus_parse::Value::Counter(v) => {
                assert!(
                    s.metric.ends_with("_total"),
                    "counter {} without _total",
                    s.metric
                );
                v
            }
            prometheus_parse::Value::Gauge(v) => {
                assert!(
                    !s.metric.ends_with("_total"),
                    "gauge {} named like a counter",
                    s.metric
                );
                v
            }
            other => panic!("{}: unexpected type {other:?}", s.metric),
        };
        assert!(s.metric.starts_with("regha_"), "{}", s.metric);
        let labels: BTreeMap<String, String> = s
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.insert((s.metric, labels), value);
    }
    out
}

/// The value of `name{labels}`; panics when it is missing.
pub fn value(m: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let key = (
        name.to_owned(),
        labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    *m.get(&key)
        .unwrap_or_else(|| panic!("no sample {name}{labels:?} among {:#?}", m.keys()))
}
