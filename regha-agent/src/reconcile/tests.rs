use std::net::IpAddr;

use super::*;

fn service(backends: &[(u8, Health)]) -> ServiceInput {
    ServiceInput {
        identity: ServiceIdentity {
            vip: "192.0.2.100".parse().unwrap(),
            port: 5000,
            protocol: Protocol::Tcp,
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
                admin: AdminState::Enabled,
            })
            .collect(),
        allow: Vec::new(),
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
    // Out of the ring at once, its flows kept for DOWN_GRACE.
    assert_eq!(
        states(&plan.apply[0]),
        vec![(11, BackendState::Draining), (12, BackendState::Up)]
    );
    let ids = |s: &ServiceSpec| s.backends.iter().map(|b| b.id).collect::<Vec<_>>();
    assert_eq!(ids(&plan.apply[0]), ids(&first.apply[0]));
    assert!(!r.all_down(&service(&[]).identity));
    assert_eq!(r.next_deadline(), Some(now + DOWN_GRACE));
    let down = [service(&[(11, Health::Down), (12, Health::Up)])];
    assert!(r.plan(&down, now + DOWN_GRACE / 2).unwrap().is_empty());
    let plan = r.plan(&down, now + DOWN_GRACE).unwrap();
    assert_eq!(
        states(&plan.apply[0]),
        vec![(11, BackendState::Down), (12, BackendState::Up)]
    );
    assert_eq!(r.next_deadline(), None, "the grace ended");
    assert!(r.plan(&down, now + DOWN_GRACE * 3).unwrap().is_empty());
}

#[test]
fn a_flap_shorter_than_the_grace_keeps_the_flows_and_restarts_the_grace_next_time() {
    let mut r = Reconciler::new(Ids::default(), 0);
    let t0 = Instant::now();
    let up = [service(&[(11, Health::Up), (12, Health::Up)])];
    let down = [service(&[(11, Health::Down), (12, Health::Up)])];
    r.plan(&up, t0).unwrap();
    r.plan(&down, t0).unwrap();
    let back = r.plan(&up, t0 + DOWN_GRACE / 2).unwrap();
    assert_eq!(
        states(&back.apply[0]),
        vec![(11, BackendState::Up), (12, BackendState::Up)]
    );
    assert_eq!(r.next_deadline(), None);
    // A later failure gets a whole grace of its own.
    let t1 = t0 + DOWN_GRACE * 2;
    let plan = r.plan(&down, t1).unwrap();
    assert_eq!(states(&plan.apply[0])[0], (11, BackendState::Draining));
    assert_eq!(r.next_deadline(), Some(t1 + DOWN_GRACE));
}

#[test]
fn no_grace_for_a_disabled_backend_one_without_a_mac_or_one_that_never_served() {
    let t0 = Instant::now();
    // Never up: down from the start.
    let mut r = Reconciler::new(Ids::default(), 0);
    let plan = r
        .plan(&[service(&[(11, Health::Down), (12, Health::Up)])], t0)
        .unwrap();
    assert_eq!(states(&plan.apply[0])[0], (11, BackendState::Down));
    assert_eq!(r.next_deadline(), None);
    // Disabled by an operator: every flow moves at once.
    let mut r = Reconciler::new(Ids::default(), 0);
    let mut input = service(&[(11, Health::Up), (12, Health::Up)]);
    r.plan(&[input.clone()], t0).unwrap();
    input.backends[0].admin = AdminState::Disabled;
    input.backends[0].health = Health::Down;
    let plan = r.plan(&[input], t0).unwrap();
    assert_eq!(states(&plan.apply[0])[0], (11, BackendState::Down));
    // Its MAC lost: nothing could reach it.
    let mut r = Reconciler::new(Ids::default(), 0);
    let mut input = service(&[(11, Health::Up), (12, Health::Up)]);
    r.plan(&[input.clone()], t0).unwrap();
    input.backends[0].mac = None;
    input.backends[0].health = Health::Down;
    let plan = r.plan(&[input], t0).unwrap();
    assert_eq!(states(&plan.apply[0])[0], (11, BackendState::Down));
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

#[test]
fn an_admin_drain_keeps_existing_flows_until_enable_without_a_deadline() {
    let mut r = Reconciler::new(Ids::default(), 0);
    let t0 = Instant::now();
    let mut input = service(&[(11, Health::Up), (12, Health::Up)]);
    r.plan(&[input.clone()], t0).unwrap();
    input.backends[0].admin = AdminState::Drain;
    let plan = r.plan(&[input.clone()], t0).unwrap();
    assert_eq!(
        states(&plan.apply[0]),
        vec![(11, BackendState::Draining), (12, BackendState::Up)]
    );
    assert_eq!(
        r.next_deadline(),
        None,
        "an admin drain has no end of its own"
    );
    assert!(
        r.plan(&[input.clone()], t0 + DRAIN_PERIOD * 10)
            .unwrap()
            .is_empty(),
        "still draining long after DRAIN_PERIOD"
    );
    input.backends[0].admin = AdminState::Enabled;
    let plan = r.plan(&[input], t0 + DRAIN_PERIOD * 10).unwrap();
    assert_eq!(
        states(&plan.apply[0]),
        vec![(11, BackendState::Up), (12, BackendState::Up)]
    );
}

#[test]
fn disabled_is_down_at_once_and_a_failing_drained_backend_is_down() {
    let mut r = Reconciler::new(Ids::default(), 0);
    let now = Instant::now();
    let mut input = service(&[(11, Health::Up), (12, Health::Down), (13, Health::Up)]);
    input.backends[0].admin = AdminState::Disabled;
    input.backends[1].admin = AdminState::Drain;
    let plan = r.plan(&[input.clone()], now).unwrap();
    assert_eq!(
        states(&plan.apply[0]),
        vec![
            (11, BackendState::Down),
            (12, BackendState::Down),
            (13, BackendState::Up)
        ]
    );
    // A drained backend without a MAC cannot keep flows either.
    input.backends[1].health = Health::Up;
    input.backends[1].mac = None;
    let plan = r.plan(&[input], now).unwrap();
    assert_eq!(
        states(&plan.apply[0]),
        vec![
            (11, BackendState::Down),
            (12, BackendState::Down),
            (13, BackendState::Up)
        ]
    );
}

#[test]
fn a_drained_backend_removed_from_the_config_drains_for_drain_period() {
    let mut r = Reconciler::new(Ids::default(), 0);
    let t0 = Instant::now();
    let mut input = service(&[(11, Health::Up), (12, Health::Up)]);
    input.backends[0].admin = AdminState::Drain;
    r.plan(&[input], t0).unwrap();
    let plan = r.plan(&[service(&[(12, Health::Up)])], t0).unwrap();
    assert!(plan.is_empty(), "11 was draining already: {plan:?}");
    assert_eq!(r.next_deadline(), Some(t0 + DRAIN_PERIOD));
    let plan = r
        .plan(&[service(&[(12, Health::Up)])], t0 + DRAIN_PERIOD)
        .unwrap();
    assert_eq!(states(&plan.apply[0]), vec![(12, BackendState::Up)]);
}

#[test]
fn an_allow_list_change_reapplies_the_service_with_the_same_id() {
    let mut r = Reconciler::new(Ids::default(), 0);
    let now = Instant::now();
    let open = [service(&[(11, Health::Up)])];
    let first = r.plan(&open, now).unwrap();
    let mut listed = service(&[(11, Health::Up)]);
    listed.allow = vec!["198.51.100.0/24".parse().unwrap()];
    let plan = r.plan(std::slice::from_ref(&listed), now).unwrap();
    assert_eq!(plan.apply.len(), 1);
    assert_eq!(plan.apply[0].id, first.apply[0].id);
    assert_eq!(plan.apply[0].allow, listed.allow);
    assert!(r.plan(&[listed], now).unwrap().is_empty());
}
