//! `vrrp.track_scripts` and `vrrp.track_interfaces`.

use super::*;

/// [`BASE`] with tracked scripts and interfaces added to `vrrp`.
pub(super) fn with_trackers(scripts: &str, interfaces: &str) -> String {
    edit(&[(
        "  track_backends: { min_healthy: 1, weight: -50 }\n",
        &format!(
            "  track_backends: {{ min_healthy: 1, weight: -50 }}\n  track_scripts:\n{scripts}  track_interfaces:\n{interfaces}"
        ),
    )])
}

pub(super) const SCRIPTS: &str = "    - name: chk_haproxy
      script: /usr/local/keepalived/chk_haproxy.sh --port 5000
      interval: 2s
      timeout: 3s
      weight: 2
      rise: 2
      fall: 3
    - { name: chk_disk, script: /usr/bin/true }
";
pub(super) const INTERFACES: &str = "    - { name: eth1, weight: -20 }\n    - { name: bond0 }\n";

#[test]
fn tracked_scripts_and_interfaces_parse_with_keepalived_defaults() {
    let v = parse(&with_trackers(SCRIPTS, INTERFACES)).vrrp.remove(0);
    assert_eq!(
        v.track_scripts,
        vec![
            TrackScript {
                name: "chk_haproxy".into(),
                program: PathBuf::from("/usr/local/keepalived/chk_haproxy.sh"),
                args: vec!["--port".into(), "5000".into()],
                interval: Duration::from_secs(2),
                timeout: Duration::from_secs(3),
                weight: 2,
                rise: 2,
                fall: 3,
            },
            TrackScript {
                name: "chk_disk".into(),
                program: PathBuf::from("/usr/bin/true"),
                args: vec![],
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
                weight: 0,
                rise: 1,
                fall: 1,
            },
        ]
    );
    assert_eq!(
        v.track_interfaces,
        vec![
            TrackInterface {
                name: "eth1".into(),
                weight: -20
            },
            TrackInterface {
                name: "bond0".into(),
                weight: 0
            },
        ]
    );
    // The timeout defaults to the interval, whatever it is.
    let v = parse(&with_trackers(
        "    - { name: c, script: /bin/c, interval: 5s }\n",
        "    []\n",
    ))
    .vrrp
    .remove(0);
    assert_eq!(v.track_scripts[0].timeout, Duration::from_secs(5));
}

#[test]
fn tracker_problems_name_their_field() {
    let one = |script: &str| with_trackers(&format!("    - {script}\n"), "    []\n");
    let cases: &[(String, &str, &str)] = &[
        (
            one("{ name: c, script: check.sh }"),
            "vrrp.track_scripts[0].script",
            "\"check.sh\" is not an absolute path",
        ),
        (
            one("{ name: c, script: \"\" }"),
            "vrrp.track_scripts[0].script",
            "empty",
        ),
        (
            one("{ name: c }"),
            "vrrp.track_scripts[0].script",
            "required",
        ),
        (
            one("{ script: /bin/c }"),
            "vrrp.track_scripts[0].name",
            "required",
        ),
        (
            one("{ name: \"a b\", script: /bin/c }"),
            "vrrp.track_scripts[0].name",
            "contains ' '",
        ),
        (
            one("{ name: c, script: /bin/c, weight: 255 }"),
            "vrrp.track_scripts[0].weight",
            "255 is out of range -254..=254",
        ),
        (
            one("{ name: c, script: /bin/c, interval: 0s }"),
            "vrrp.track_scripts[0].interval",
            "must be more than zero",
        ),
        (
            one("{ name: c, script: /bin/c, interval: 2 }"),
            "vrrp.track_scripts[0].interval",
            "has no unit",
        ),
        (
            one("{ name: c, script: /bin/c, timeout: 0s }"),
            "vrrp.track_scripts[0].timeout",
            "must be more than zero",
        ),
        (
            one("{ name: c, script: /bin/c, rise: 0 }"),
            "vrrp.track_scripts[0].rise",
            "0 is out of range 1..=100",
        ),
        (
            one("{ name: c, script: /bin/c, fall: 101 }"),
            "vrrp.track_scripts[0].fall",
            "101 is out of range 1..=100",
        ),
        (
            with_trackers(
                "    - { name: c, script: /bin/c }\n    - { name: c, script: /bin/d }\n",
                "    []\n",
            ),
            "vrrp.track_scripts[1].name",
            "\"c\" is also the name of vrrp.track_scripts[0]",
        ),
        (
            with_trackers("    []\n", "    - { name: \"eth/1\" }\n"),
            "vrrp.track_interfaces[0].name",
            "contains '/'",
        ),
        (
            with_trackers("    []\n", "    - { weight: 2 }\n"),
            "vrrp.track_interfaces[0].name",
            "required",
        ),
        (
            with_trackers("    []\n", "    - { name: eth1, weight: -300 }\n"),
            "vrrp.track_interfaces[0].weight",
            "-300 is out of range",
        ),
        (
            with_trackers("    []\n", "    - { name: eth1 }\n    - { name: eth1 }\n"),
            "vrrp.track_interfaces[1].name",
            "\"eth1\" is listed twice (also vrrp.track_interfaces[0])",
        ),
    ];
    for (yaml, path, message) in cases {
        assert_error(yaml, path, message);
    }
    // Unknown keys stop parsing, with the position.
    let e = errors(&one("{ name: c, script: /bin/c, wieght: 2 }"));
    assert!(e[0].message.contains("unknown field `wieght`"), "{e:?}");
    let e = errors(&with_trackers(
        "    []\n",
        "    - { name: eth1, weigth: 2 }\n",
    ));
    assert!(e[0].message.contains("unknown field `weigth`"), "{e:?}");
}
