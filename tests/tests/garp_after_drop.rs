//! Gratuitous ARP and unsolicited NA still leave the LB after the agent has
//! dropped its capabilities (`privileges.rs`): a master announces its VIPs
//! long after setup, on every role change and refresh, with only the kept
//! three. `CAP_NET_RAW` is what the packet socket needs; without it the send
//! fails, which shows the drop is real.
//!
//! The capabilities are dropped in a child process (this test binary run
//! again inside the LB's namespace), so that this process keeps what it
//! needs to tear the lab down.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use regha_agent::{
    net::{Interface, garp},
    privileges::{self, CAP_NET_RAW, KEPT},
};
use regha_tests::lab::{HOST_IFACE, Switch, capture::capture};

/// Set in the child: which capabilities it keeps (`kept` or `no-net-raw`).
const CHILD_ENV: &str = "REGHA_GARP_CHILD";
const TEST_NAME: &str = "announcements_leave_after_the_capability_drop";
const LB_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x02];
const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);

/// In the LB's namespace: drop to `keep`, then announce both VIPs.
fn child(mode: &str) {
    let mut keep = privileges::mask(&KEPT);
    if mode == "no-net-raw" {
        keep &= !(1 << CAP_NET_RAW);
    }
    privileges::drop_all_threads(keep).expect("drop the capabilities");
    let name = std::ffi::CString::new(HOST_IFACE).unwrap();
    // SAFETY: a NUL-terminated name; if_nametoindex only reads it.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert_ne!(index, 0, "no {HOST_IFACE} in the namespace");
    let iface = Interface {
        name: HOST_IFACE.into(),
        index,
        mac: LB_MAC,
    };
    let frames = garp::announcements(LB_MAC, &[IpAddr::V4(VIP4), IpAddr::V6(VIP6)]);
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    match (mode, garp::send_frames(&iface, &refs)) {
        ("kept", Ok(())) => {}
        ("no-net-raw", Err(e)) => assert!(
            e.to_string().contains("Operation not permitted"),
            "expected EPERM, got {e}"
        ),
        (mode, r) => panic!("{mode}: {r:?}"),
    }
}

/// Runs the child in the LB's namespace; panics with its output if it fails.
fn run_child(lb: &regha_tests::netns::NetNs, mode: &str) {
    let exe = std::env::current_exe().unwrap();
    let out = lb
        .command(exe.to_str().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .output()
        .expect("run the child");
    assert!(
        out.status.success(),
        "child ({mode}) failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn announcements_leave_after_the_capability_drop() {
    if let Ok(mode) = std::env::var(CHILD_ENV) {
        return child(&mode);
    }
    regha_tests::require_root();
    let sw = Switch::new();
    let lb = sw.plug("lb", Ipv4Addr::new(192, 0, 2, 2), LB_MAC);
    let peer = sw.plug("peer", Ipv4Addr::new(192, 0, 2, 3), [2, 0, 0, 0, 0, 0x03]);
    let from_lb = |f: &[u8]| f.len() >= 12 && f[6..12] == LB_MAC;
    let arp = peer
        .ns
        .spawn(move || capture(0x0806, Duration::from_secs(3), from_lb));
    let na = peer.ns.spawn(move || {
        capture(0x86dd, Duration::from_secs(3), move |f| {
            from_lb(f) && f.len() == 86 && f[54] == 136
        })
    });
    std::thread::sleep(Duration::from_millis(300));
    run_child(&lb.ns, "kept");
    run_child(&lb.ns, "no-net-raw");
    let (arp, na) = (arp.join().unwrap(), na.join().unwrap());
    // One of each: the child without CAP_NET_RAW sent nothing.
    assert_eq!(arp, vec![garp::garp_frame(LB_MAC, VIP4).to_vec()]);
    assert_eq!(na, vec![garp::unsolicited_na_frame(LB_MAC, VIP6).to_vec()]);
}
