use super::*;
use crate::stats::sample;

fn at(t0: Instant, secs: u64) -> Instant {
    t0 + Duration::from_secs(secs)
}

/// The sample document with every counter scaled: `k` times the traffic.
fn doc_with(k: u64) -> StatusDocument {
    let mut d = sample::document("registry");
    let s = &mut d.services[0];
    s.packets *= k;
    s.bytes *= k;
    for b in &mut s.backends {
        b.packets *= k;
        b.bytes *= k;
    }
    d
}

fn be(i: usize) -> SocketAddr {
    sample::document("registry").services[0].backends[i].address
}

#[test]
fn rates_run_from_a_sample_at_least_the_rate_span_old_to_now() {
    let t0 = Instant::now();
    let mut h = History::default();
    h.record(at(t0, 0), &doc_with(1));
    h.record(at(t0, 5), &doc_with(2));
    h.record(at(t0, 8), &doc_with(3));
    // At t0+10 the newest sample 4 s old is the one at 5 s.
    let v = h.view(at(t0, 10), SystemTime::now(), &doc_with(4));
    let (total, backends) = &v.rates["registry"];
    // Service: 1000 packets per step of k; from k=2 to k=4 over 5 s.
    assert_eq!(total.unwrap().packets, 2000.0 / 5.0);
    assert_eq!(backends[&be(0)].packets, 1500.0 / 5.0);
    assert_eq!(backends[&be(1)].bytes, 2.0 * 4096.0 / 5.0);
}

#[test]
fn a_counter_that_went_back_gives_no_rate() {
    let t0 = Instant::now();
    let mut h = History::default();
    h.record(at(t0, 0), &doc_with(3));
    let v = h.view(at(t0, 5), SystemTime::now(), &doc_with(1));
    let (total, backends) = &v.rates["registry"];
    assert_eq!(*total, None);
    assert!(backends.is_empty());
}

#[test]
fn no_sample_yet_no_rate_and_no_graph() {
    let h = History::default();
    let v = h.view(Instant::now(), SystemTime::now(), &doc_with(1));
    assert!(v.rates.is_empty());
    assert!(v.series.is_empty());
    assert_eq!(v.span, Duration::from_secs(300));
}

#[test]
fn the_graph_has_a_point_per_interval_aged_from_the_newest() {
    let t0 = Instant::now();
    let mut h = History::default();
    for i in 0..4 {
        h.record(at(t0, 5 * i), &doc_with(i + 1));
    }
    let v = h.view(at(t0, 16), SystemTime::now(), &doc_with(5));
    let points = &v.series["registry"];
    assert_eq!(points.len(), 3);
    assert_eq!(
        points.iter().map(|p| p.age.as_secs()).collect::<Vec<_>>(),
        [10, 5, 0]
    );
    assert_eq!(points[0].rates[&be(0)].packets, 750.0 / 5.0);
}

#[test]
fn samples_are_bounded() {
    let t0 = Instant::now();
    let mut h = History::default();
    for i in 0..(SAMPLES_KEPT as u64 + 30) {
        h.record(at(t0, 5 * i), &doc_with(1));
    }
    assert_eq!(h.samples.len(), SAMPLES_KEPT);
}

#[test]
fn a_change_is_recorded_once_and_the_first_status_only_sets_the_start() {
    let mut agent = sample::document("registry").agent.unwrap();
    let mut h = History::default();
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    h.observe(t, &agent);
    h.observe(t, &agent);
    assert!(h.changes.is_empty(), "{:?}", h.changes);

    let b = &mut agent.services[0].backends[1];
    b.health = Health::Down;
    b.state = Some(BackendState::Down);
    agent.vrrp[0].state = VrrpState::Backup;
    let later = t + Duration::from_secs(7);
    h.observe(later, &agent);
    h.observe(later + Duration::from_secs(1), &agent);
    let v = h.view(Instant::now(), later, &sample::document("registry"));
    let changes: Vec<String> = v.changes.iter().map(|c| c.transition.to_string()).collect();
    assert_eq!(
        changes,
        [
            "master \u{2192} backup",
            "dataplane up \u{2192} down",
            "health up \u{2192} down"
        ],
        "newest first, VRRP after the backends of the same status"
    );
    let last = v.last_change("registry", be(1)).unwrap();
    assert_eq!(last.at, later);
    assert!(v.last_change("registry", be(0)).is_none());
    assert_eq!(v.service_changes("registry").count(), 2);
    assert_eq!(v.vrrp_changes().count(), 1);
}
