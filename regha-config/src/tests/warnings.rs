//! `check-config`'s warnings: tracker weights that cannot change the
//! master, and unsafe settings.

use super::track::{INTERFACES, SCRIPTS, with_trackers};
use super::*;

#[test]
fn a_weight_that_cannot_change_the_master_is_a_warning() {
    // (priority, peer_priorities, track_backends weight, warned, what)
    let cases: &[(u8, &str, i32, bool, &str)] = &[
        (
            101,
            "[100]",
            2,
            false,
            "keepalived's pair: +2 flips 101/100",
        ),
        (101, "[100]", -50, false, "-50 flips it too"),
        (101, "[100]", 1, true, "+1 only ties: the address decides"),
        (
            101,
            "[100]",
            0,
            false,
            "weight 0 is FAULT: always hands over",
        ),
        (
            150,
            "[100, 50]",
            -50,
            true,
            "50 is not more than the gap of 50",
        ),
        (
            150,
            "[100, 140]",
            -20,
            false,
            "it can flip against the closer peer",
        ),
        (
            100,
            "[100]",
            2,
            false,
            "equal priorities: any weight decides",
        ),
        (101, "[]", 1, false, "no peers listed: nothing to say"),
        (255, "[]", -50, true, "the owner is never tracked"),
    ];
    for &(priority, peers, weight, warned, what) in cases {
        let yaml = edit(&[
            ("priority: 101", &format!("priority: {priority}")),
            (
                "weight: -50 }",
                &format!("weight: {weight} }}\n  peer_priorities: {peers}"),
            ),
        ]);
        let warnings = parse(&yaml).warnings();
        assert_eq!(!warnings.is_empty(), warned, "{what}: {warnings:?}");
        if warned {
            assert_eq!(warnings[0].path, "vrrp.track_backends.weight", "{what}");
        }
    }
    // Every tracker is checked, and named by its own path.
    let yaml = with_trackers(SCRIPTS, INTERFACES).replace(
        "  track_scripts:",
        "  peer_priorities: [100]\n  track_scripts:",
    );
    let yaml = yaml.replace("weight: 2\n", "weight: 1\n");
    let paths: Vec<String> = parse(&yaml)
        .warnings()
        .into_iter()
        .map(|w| w.path)
        .collect();
    assert_eq!(paths, ["vrrp.track_scripts[0].weight"]);
    assert_error(
        &edit(&[("weight: -50 }", "weight: -50 }\n  peer_priorities: [0]")]),
        "vrrp.peer_priorities[0]",
        "0 is out of range 1..=255",
    );
}

#[test]
fn unsafe_settings_are_warned_about() {
    let no_auth = (
        "  auth: { user: admin, password_file: /etc/regha/stats.pass }\n",
        "",
    );
    let multicast = ("  unicast_peers: [192.0.2.3]\n", "");
    let v3 = [
        ("version: 2", "version: 3"),
        ("  auth_pass: \"1111\"\n", ""),
    ];
    /// What the file is, its edits of BASE, the warned field paths.
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        ("the base file is safe", vec![], vec![]),
        ("stats on loopback without auth", vec![no_auth], vec![]),
        (
            "stats on every address without auth",
            vec![no_auth, ("listen: 127.0.0.1:1158", "listen: 0.0.0.0:1158")],
            vec!["stats.listen"],
        ),
        (
            "stats on a public address with auth",
            vec![("listen: 127.0.0.1:1158", "listen: 192.0.2.2:1158")],
            vec![],
        ),
        (
            "stats on an IPv6 address without auth",
            vec![
                no_auth,
                ("listen: 127.0.0.1:1158", "listen: \"[2001:db8::2]:1158\""),
            ],
            vec!["stats.listen"],
        ),
        (
            "v2 unicast without auth_pass",
            vec![("  auth_pass: \"1111\"\n", "")],
            vec![],
        ),
        ("v2 multicast with auth_pass", vec![multicast], vec![]),
        (
            "v2 multicast without auth_pass",
            vec![multicast, ("  auth_pass: \"1111\"\n", "")],
            vec!["vrrp.auth_pass"],
        ),
        ("v3 unicast", v3.to_vec(), vec![]),
        (
            "v3 multicast",
            [v3.as_slice(), &[multicast]].concat(),
            vec!["vrrp.version"],
        ),
    ];
    for (what, edits, want) in cases {
        let warnings = parse(&edit(&edits)).warnings();
        let paths: Vec<&str> = warnings.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(paths, want, "{what}: {warnings:?}");
    }
    let w = parse(&edit(&[
        no_auth,
        ("listen: 127.0.0.1:1158", "listen: 0.0.0.0:1158"),
    ]))
    .warnings();
    assert!(
        w[0].message
            .starts_with("0.0.0.0:1158 is not a loopback address and stats.auth is not set"),
        "{}",
        w[0].message
    );
    let w = parse(&edit(&[multicast, ("  auth_pass: \"1111\"\n", "")])).warnings();
    assert!(
        w[0].message
            .contains("anyone on the segment can send a higher priority"),
        "{}",
        w[0].message
    );
}
