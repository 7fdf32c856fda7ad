//! The config loader (`Config::from_yaml_str`: YAML text to a validated
//! config) against any text: it must never panic, every refusal must say
//! what is wrong, and every config it accepts must hold the invariants the
//! agent relies on without checking again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use regha_config::{Config, MAX_BACKENDS_PER_SERVICE};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::from_yaml_str(text) {
        Ok(config) => check_accepted(&config),
        Err(errors) => {
            assert!(!errors.0.is_empty(), "a refusal with no reason");
            for e in &errors.0 {
                assert!(!e.message.is_empty(), "an error without a message: {e:?}");
            }
            assert!(!errors.to_string().is_empty());
        }
    }
});

/// The invariants `Config` documents, checked on every accepted file.
fn check_accepted(c: &Config) {
    assert!(
        c.role.is_some() || !c.vrrp.is_empty(),
        "neither role nor vrrp"
    );
    assert!(!c.services.is_empty(), "no service");
    assert!(c.services.len() <= regha_common::MAX_SERVICES as usize);
    assert!((1024..=16_777_216).contains(&c.flow_table_size));
    let mut names = std::collections::HashSet::new();
    let mut keys = std::collections::HashSet::new();
    for s in &c.services {
        assert!(names.insert(&s.name), "duplicate service name {}", s.name);
        assert!(
            keys.insert((s.vip, s.port, format!("{:?}", s.protocol))),
            "duplicate VIP:port/proto in {}",
            s.name
        );
        assert!(s.port != 0);
        assert!(!s.backends.is_empty(), "{} has no backend", s.name);
        assert!(s.backends.len() <= MAX_BACKENDS_PER_SERVICE);
        assert!(
            s.ring_size as usize >= s.backends.len(),
            "ring smaller than its backends"
        );
        assert!(
            is_prime(s.ring_size),
            "ring size {} is not prime",
            s.ring_size
        );
        assert!(s.health.timeout <= s.health.interval);
        for b in &s.backends {
            assert_eq!(b.address.is_ipv4(), s.vip.is_ipv4(), "backend family");
            assert_ne!(b.address, s.vip, "a backend is the VIP");
        }
        if !c.vrrp.is_empty() {
            let holder = c
                .holder_of(s)
                .unwrap_or_else(|| panic!("{} has no VRRP instance", s.name));
            assert!(
                holder.holds(s.vip),
                "{} is not a virtual address of its instance",
                s.vip
            );
        }
    }
    let mut names = std::collections::HashSet::new();
    let mut routers = std::collections::HashSet::new();
    let mut vips = std::collections::HashSet::new();
    for v in &c.vrrp {
        assert!(names.insert(&v.name), "duplicate instance name {}", v.name);
        assert!(
            routers.insert(v.router()),
            "duplicate virtual router {}",
            v.router()
        );
        for (a, _) in &v.virtual_ipaddresses {
            assert!(vips.insert(*a), "{a} in two instances");
        }
        assert!(v.virtual_router_id >= 1);
        assert!(!v.virtual_ipaddresses.is_empty());
        let v4 = v.virtual_ipaddresses[0].0.is_ipv4();
        assert!(
            v.virtual_ipaddresses.iter().all(|(a, _)| a.is_ipv4() == v4),
            "mixed families"
        );
        if let Some(p) = &v.auth_pass {
            assert!((1..=8).contains(&p.len()), "auth_pass of {} bytes", p.len());
        }
    }
    let total: usize = c.services.iter().map(|s| s.backends.len()).sum();
    assert!(total <= 4096);
    // The flag override never panics, and a good name always wins.
    let with_flag = c
        .clone()
        .with_interface_override(Some("eth0"))
        .expect("eth0 is a name");
    assert_eq!(with_flag.interface.as_deref(), Some("eth0"));
    assert_eq!(
        c.clone().with_interface_override(None).is_ok(),
        c.interface.is_some()
    );
}

fn is_prime(n: u32) -> bool {
    let n = u64::from(n);
    n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
}
