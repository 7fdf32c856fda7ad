use std::net::IpAddr;

use super::*;

fn service(backends: &[(u8, Health)]) -> ServiceInput {
    ServiceInput {
        identity: ServiceIdentity {
            vip: "192.0.2.100".parse().unwrap(),
            port: 5000,
            proto: 6,
        },
        protocol: Protocol::Tcp,
        hash: HashMode::Source,
        ring_size: 13,
        backends: backends
            .iter()
            .map(|(last, health)| BackendInput {
                addr: SocketAddr::new(IpAddr::from([192, 0, 2, *last]), 5000),
                weight: 1,
                health: *health,
                mac: Some([2, 0, 0, 0, 0, *last]),
            })
            .collect(),
    }
}

/// (last address octet, state) of each backend, by address.
fn states(spec: &ServiceSpec) -> Vec<(u8, BackendState)> {
    let mut v: Vec<(u8, BackendState)> = spec
        .backends
        .iter()
        .map(|b| match b.addr {
            IpAddr::V4(a) => (a.octets()[3], b.state),
            IpAddr::V6(_) => unreachable!(),
        })
        .collect();
    v.sort_by_key(|(last, _)| *last);
    v
}

#[test]
fn first_plan_applies_everything_and_a_second_identical_one_nothing() {
    let mut r = Reconciler::new(Ids::default(), 7);
    let now = Instant::now();
    let input = [service(&[(11, Health::Up), (12, Health::Up)])];
    let plan = r.plan(&input, now).unwrap();
    assert_eq!(plan.apply.len(), 1);
    assert_eq!(plan.apply[0].seed, 7);
    assert_eq!(
        states(&plan.apply[0]),
        vec![(11, BackendState::Up), (12, BackendState::Up)]
    );
    assert!(r.plan(&input, now).unwrap().is_empty());
}

#[test]
fn a_health_transition_reapplies_the_service_with_the_same_ids() {
    let mut r = Reconciler::new(Ids::default(), 0);
    let now = Instant::now();
    let first = r
        .plan(&[service(&[(11, Health::Up), (12, Health::Up)])], now)
        .unwrap();
    let plan = r
        .plan(&[service(&[(11, Health::Down), (12, Health::Up)])], now)
        .unwrap();
    assert_eq!(plan.apply.len(), 1);
    assert_eq!(
        states(&plan.apply[0]),
        vec![(11, BackendState::Down), (12, BackendState::Up)]
    );
    let ids = |s: &ServiceSpec| s.backends.iter().map(|b| b.id).collect::<Vec<_>>();
    assert_eq!(ids(&plan.apply[0]), ids(&first.apply[0]));
    assert!(!r.all_down(&service(&[]).identity));
}

#[test]
fn unknown_health_or_unknown_mac_keeps_a_backend_out() {
    let mut r = Reconciler::new(Ids::default(), 0);
    let mut input = service(&[(11, Health::Unknown), (12, Health::Up)]);
    input.backends[1].mac = None;
    let plan = r.plan(&[input.clone()], Instant::now()).unwrap();
    assert_eq!(
        states(&plan.apply[0]),
        vec![(11, BackendState::Down), (12, BackendState::Down)]
    );
    assert!(r.all_down(&input.identity));
}

#[test]
fn a_backend_removed_from_the_config_drains_then_goes() {
    let mut r = Reconciler::new(Ids::default(), 0);
    let t0 = Instant::now();
    r.plan(&[service(&[(11, Health::Up), (12, Health::Up)])], t0)
        .unwrap();
    let only12 = [service(&[(12, Health::Up)])];
    let plan = r.plan(&only12, t0).unwrap();
    assert_eq!(
        states(&plan.apply[0]),
        vec![(11, BackendState::Draining), (12, BackendState::Up)]
    );
    assert_eq!(r.next_deadline(), Some(t0 + DRAIN_PERIOD));
    assert!(r.plan(&only12, t0 + DRAIN_PERIOD / 2).unwrap().is_empty());
    let plan = r.plan(&only12, t0 + DRAIN_PERIOD).unwrap();
    assert_eq!(states(&plan.apply[0]), vec![(12, BackendState::Up)]);
    assert_eq!(plan.clear_backends, vec![0], "be11's id is cleared");
    assert_eq!(r.next_deadline(), None);
}

#[test]
fn a_removed_down_backend_goes_at_once_and_a_returning_one_stops_draining() {
    let mut r = Reconciler::new(Ids::default(), 0);
    let t0 = Instant::now();
    r.plan(&[service(&[(11, Health::Down), (12, Health::Up)])], t0)
        .unwrap();
    let plan = r.plan(&[service(&[(12, Health::Up)])], t0).unwrap();
    assert_eq!(states(&plan.apply[0]), vec![(12, BackendState::Up)]);
    assert_eq!(plan.clear_backends, vec![0]);

    // be12 leaves (drains), then comes back before the drain ends.
    r.plan(&[service(&[(13, Health::Up)])], t0).unwrap();
    let plan = r
        .plan(&[service(&[(12, Health::Up), (13, Health::Up)])], t0)
        .unwrap();
    assert_eq!(
        states(&plan.apply[0]),
        vec![(12, BackendState::Up), (13, BackendState::Up)]
    );
    assert_eq!(r.next_deadline(), None);
}

#[test]
fn a_removed_service_is_removed_with_its_backends() {
    let mut r = Reconciler::new(Ids::default(), 0);
    let now = Instant::now();
    r.plan(&[service(&[(11, Health::Up)])], now).unwrap();
    let plan = r.plan(&[], now).unwrap();
    assert_eq!(plan.remove.len(), 1);
    assert_eq!(plan.clear_backends, vec![0]);
    assert!(plan.apply.is_empty());
}
