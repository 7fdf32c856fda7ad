//! The access policy the pair regha replaces enforced with iptables (issue
//! 18), kept with direct server return: `regha-agent backend-setup
//! --lb-mac ... --lb-address ... --apply` on every registry host. Through
//! the VIP everything works (requests, a push and a pull, health checks, a
//! takeover by the other LB with its other MAC); straight to a registry's
//! own address a client is refused; a client that bypasses the LB at L2
//! (sending VIP packets to a registry's MAC) is dropped; and
//! `--remove-policy` restores each host's ruleset exactly.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use regha_tests::{
    client::{connect_from, http_get},
    lab::{Lab, LabSpec, PORT, VIP, lb_ip},
    wait::wait_for,
};

fn ruleset(lab: &Lab, be: usize) -> String {
    lab.backends[be].ns.exec("nft", &["list", "ruleset"])
}

/// `backend-setup` on backend `be`, with `args` after the lab's common ones.
fn backend_setup(lab: &Lab, be: usize, args: &[&str]) -> String {
    let file = lab.path(&format!("be{}-policy.nft", be + 1));
    let mut all = vec![
        "backend-setup".to_owned(),
        "--policy-file".to_owned(),
        file.display().to_string(),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    lab.backends[be]
        .ns
        .exec(regha_tests::agent::agent_bin().to_str().unwrap(), &all)
}

#[test]
fn registries_answer_only_through_an_lb_and_removing_the_policy_restores_them() {
    let lab = Lab::new(LabSpec::default());
    lab.wait_sole_master(0, Duration::from_secs(15));
    lab.wait_backends_up(Duration::from_secs(15));
    let before: Vec<String> = (0..lab.backends.len()).map(|b| ruleset(&lab, b)).collect();
    let (vip, port) = (VIP.to_string(), PORT.to_string());
    let (mac1, mac2) = (lab.lb_mac(0), lab.lb_mac(1));
    let (lb1, lb2) = (lb_ip(0).to_string(), lb_ip(1).to_string());
    for be in 0..lab.backends.len() {
        let said = backend_setup(
            &lab,
            be,
            &[
                "--apply",
                "--vip",
                &vip,
                "--port",
                &port,
                "--lb-mac",
                &mac1,
                "--lb-mac",
                &mac2,
                "--lb-address",
                &lb1,
                "--lb-address",
                &lb2,
            ],
        );
        assert!(said.contains("access policy loaded"), "{said}");
    }

    // Straight to a registry's own address: refused at once.
    let client = IpAddr::V4(lab.clients[0].ip);
    let be1 = SocketAddr::new(IpAddr::V4(lab.backends[0].ip), PORT);
    let direct = lab.clients[0]
        .ns
        .run(move || connect_from(client, be1, Duration::from_secs(2)).map(|_| ()));
    assert_eq!(
        direct.as_ref().map_err(std::io::Error::kind),
        Err(std::io::ErrorKind::ConnectionRefused),
        "a client reaches a registry directly: {direct:?}"
    );

    // Around the LB at L2: VIP packets in frames from the client's own MAC
    // to be1's. Dropped, so the connection times out.
    let be1_mac = lab.backends[0].mac_str();
    lab.clients[0].ns.ip(&[
        "neigh",
        "replace",
        &vip,
        "lladdr",
        &be1_mac,
        "dev",
        "eth0",
        "nud",
        "permanent",
    ]);
    let around = lab.clients[0].ns.run(move || {
        connect_from(
            client,
            SocketAddr::new(IpAddr::V4(VIP), PORT),
            Duration::from_secs(1),
        )
        .map(|_| ())
    });
    assert!(
        around.is_err(),
        "a frame around the LB reached the registry"
    );
    lab.clients[0].ns.ip(&["neigh", "del", &vip, "dev", "eth0"]);

    // Through the LB: requests, a push and a pull; the health checks hold.
    wait_for("a request through lb1", Duration::from_secs(10)).until(|| lab.get_v2(0) == Ok(200));
    let image = lab.image("policy", &[256 * 1024, 1024 * 1024], 18);
    lab.round_trip(0, &image, "lab/policy", Duration::from_secs(120));
    lab.wait_backends_up(Duration::from_secs(5));
    assert!(
        lab.backends.iter().all(|b| b
            .ns
            .exec("nft", &["list", "chain", "inet", "regha_backend", "input"])
            .contains("ether saddr @lb_macs accept")),
        "the policy is in place"
    );

    // lb2 takes over: its frames carry its own MAC, which the policy admits.
    lab.agent(0).signal(libc::SIGTERM);
    lab.wait_sole_master(1, Duration::from_secs(15));
    wait_for("a request through lb2", Duration::from_secs(15))
        .context(|| lab.logs())
        .until(|| lab.get_v2(0) == Ok(200));
    assert_eq!(
        lab.clients[0].ns.run(move || http_get(
            client,
            SocketAddr::new(IpAddr::V4(VIP), PORT),
            "/v2/"
        )),
        Ok(200)
    );

    // Removed: each host's ruleset is what it was, and direct access is back.
    for (be, before) in before.iter().enumerate() {
        let said = backend_setup(&lab, be, &["--remove-policy"]);
        assert!(said.contains("access policy removed"), "{said}");
        assert_eq!(&ruleset(&lab, be), before, "be{} restored exactly", be + 1);
    }
    let direct = lab.clients[0].ns.run(move || http_get(client, be1, "/v2/"));
    assert_eq!(direct, Ok(200), "direct access restored");
}
