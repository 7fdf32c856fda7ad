//! `cargo xtask lab`: the registry HA lab as a demo a person watches.
//!
//! Brings the lab up (see `regha_tests::lab`), pushes and pulls an
//! image through the VIP, takes a registry away and back, SIGKILLs the
//! master LB's agent during a second, big push, shows that the push
//! completes and the VIP moved, restarts the agent (it preempts back),
//! prints a timeline and both LBs' `regha-agent status`, and tears it all
//! down. `--keep` leaves it running until Ctrl-C and says how to look
//! around. Ctrl-C at any point tears everything down.
//!
//! `--ipv6` runs it over IPv6 alone (one VRRP v3 instance over IPv6 for
//! 2001:db8::100, clients naming the VIP `registry-v6.test` in a hosts file
//! of their own), `--dual-stack` over both (an IPv4 and an IPv6 instance in
//! one sync group: the failover moves both VIPs under a push on each
//! family).

use std::{
    path::PathBuf,
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Result, bail};
use regha_tests::{
    agent::agent_bin,
    lab::{Lab, LabSpec, PORT, Stack, VIP, VIP6, VIP6_NAME},
    wait::wait_for,
};

const MIB: u64 = 1 << 20;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

fn checkpoint() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted: tearing the lab down");
    }
    Ok(())
}

struct Args {
    keep: bool,
    big_mib: u64,
    stack: Stack,
    /// BGP mode's demo instead (issue 14).
    bgp: bool,
}

fn args() -> Result<Args> {
    let mut a = Args {
        keep: false,
        big_mib: 200,
        stack: Stack::V4,
        bgp: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--keep" => a.keep = true,
            "--ipv6" => a.stack = Stack::V6,
            "--dual-stack" => a.stack = Stack::Dual,
            "--bgp" => a.bgp = true,
            "--big-layer-mib" => {
                a.big_mib = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| anyhow::anyhow!("--big-layer-mib needs a number"))?;
            }
            "-h" | "--help" => {
                println!(
                    "regha-lab [--keep] [--big-layer-mib N] [--ipv6 | --dual-stack | --bgp]\n\nRuns the registry HA demo in network namespaces (as root).\n--keep: leave the lab up until Ctrl-C and print how to look around.\n--ipv6: the service and VRRP over IPv6 alone; --dual-stack: over both, one instance per family in a sync group.\n--bgp: three active LBs announcing the VIP over BGP (FRR) to a router doing ECMP."
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    Ok(a)
}

/// What an observer thread sees, polled every 50 ms: who holds the VIP and
/// each agent's role and backend health. Changes become timeline events.
#[derive(Clone, PartialEq, Eq, Default)]
struct Seen {
    /// (LB, VIP) held.
    holders: Vec<(String, String)>,
    roles: Vec<String>,
    health: Vec<(String, String, String)>,
}

struct Timeline {
    start: Instant,
    events: Mutex<Vec<(f64, String)>>,
}

impl Timeline {
    fn note(&self, what: impl Into<String>) {
        let what = what.into();
        let t = self.start.elapsed().as_secs_f64();
        println!("  [{t:7.2}s] {what}");
        self.events.lock().unwrap().push((t, what));
    }
}

fn observe(lab_view: LabView, tl: Arc<Timeline>, stop: Arc<AtomicBool>) {
    let mut last = Seen::default();
    while !stop.load(Ordering::SeqCst) {
        let now = lab_view.look();
        for (h, vip) in &now.holders {
            if !last.holders.contains(&(h.clone(), vip.clone())) {
                tl.note(format!("{h} holds the VIP {vip}"));
            }
        }
        for (h, vip) in &last.holders {
            if !now.holders.contains(&(h.clone(), vip.clone())) {
                tl.note(format!("{h} released the VIP {vip}"));
            }
        }
        for (i, r) in now.roles.iter().enumerate() {
            if last.roles.get(i) != Some(r) {
                tl.note(format!("lb{} regha-agent: {r}", i + 1));
            }
        }
        for (lb, be, h) in &now.health {
            let before = last
                .health
                .iter()
                .find(|(l, b, _)| l == lb && b == be)
                .map(|(_, _, h)| h.as_str());
            if before.is_some_and(|b| b != h) {
                tl.note(format!("{lb} sees backend {be} {h}"));
            }
        }
        last = now;
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the observer needs, by name (the lab itself stays on the main
/// thread).
struct LabView {
    lbs: Vec<(String, String)>,
    state_dirs: Vec<Option<PathBuf>>,
    /// The VIPs of the stack, as `ip addr` prints them (`inet 192.0.2.100/`).
    vips: Vec<(String, String)>,
}

impl LabView {
    fn look(&self) -> Seen {
        let mut s = Seen::default();
        for (i, (name, ns)) in self.lbs.iter().enumerate() {
            let out = Command::new("ip")
                .args(["-n", ns, "-o", "addr", "show", "dev", "eth0"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            for (vip, pattern) in &self.vips {
                if out.contains(pattern) {
                    s.holders.push((name.clone(), vip.clone()));
                }
            }
            let state = self.state_dirs[i]
                .as_ref()
                .and_then(|d| regha_agent::status::file::read(d, "eth0"));
            let alive = state
                .as_ref()
                .is_some_and(|st| std::path::Path::new(&format!("/proc/{}", st.pid)).exists());
            s.roles.push(match (&state, alive) {
                (Some(st), true) => st.role.to_string(),
                _ => "not running".into(),
            });
            if let (Some(st), true) = (state, alive) {
                for svc in st.services {
                    for b in svc.backends {
                        s.health
                            .push((name.clone(), b.address.to_string(), b.health.to_string()));
                    }
                }
            }
        }
        s
    }
}

fn status(lab: &Lab, lb: usize) -> String {
    let Some(a) = lab.agents[lb].as_ref() else {
        return "  (no regha-agent on this LB)\n".into();
    };
    let out = Command::new(agent_bin())
        .args(["status", "--iface", "eth0", "--bpffs-root"])
        .arg(a.pin_dir().parent().expect("pin root"))
        .arg("--state-dir")
        .arg(a.state_dir())
        .output();
    match out {
        Ok(o) => format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => format!("  cannot run regha-agent status: {e}\n"),
    }
}

fn main() -> Result<()> {
    let args = args()?;
    // SAFETY: installing a handler that only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    if args.bgp {
        let result = bgp_demo(&args);
        if let Err(e) = &result {
            eprintln!("regha lab: {e:#}");
        }
        println!("\nthe lab is torn down (namespaces, processes, FRR, pins removed)");
        return result;
    }
    println!(
        "regha lab ({}): clients, two LBs (regha-agent, VRRP), two registries, in network namespaces\n",
        args.stack.name()
    );
    let lab = Lab::new(LabSpec {
        clients: 1,
        check_interval: Duration::from_secs(1),
        ..LabSpec::default().stack(args.stack)
    });
    let result = demo(lab, &args);
    if let Err(e) = &result {
        eprintln!("regha lab: {e:#}");
    }
    println!("\nthe lab is torn down (namespaces, processes, pins removed)");
    result
}

fn demo(mut lab: Lab, args: &Args) -> Result<()> {
    let addrs = |h: &regha_tests::lab::Host| match h.ip6 {
        Some(ip6) => format!("{} {ip6}", h.ip),
        None => h.ip.to_string(),
    };
    for (i, h) in lab.lbs.iter().enumerate() {
        println!("  lb{}      {}  ns {}", i + 1, addrs(h), h.ns.name());
    }
    for (i, h) in lab.backends.iter().enumerate() {
        println!(
            "  be{}      {}  ns {}  (docker-registry, VIP on lo)",
            i + 1,
            addrs(h),
            h.ns.name()
        );
    }
    println!(
        "  client   {}  ns {}",
        addrs(&lab.clients[0]),
        lab.clients[0].ns.name()
    );
    for &v6 in lab.spec.stack.families() {
        if v6 {
            println!("  VIP      [{VIP6}]:{PORT} (clients name it {VIP6_NAME})");
        } else {
            println!("  VIP      {VIP}:{PORT}");
        }
    }
    if lab.spec.stack == Stack::Dual {
        println!(
            "  VRRP     registry-v4 (VRID 51, IPv4) and registry-v6 (VRID 51, IPv6), sync group registry"
        );
    }
    println!("  configs  {}/lb1.yaml, lb2.yaml\n", lab.dir().display());

    let tl = Arc::new(Timeline {
        start: Instant::now(),
        events: Mutex::new(Vec::new()),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let view = LabView {
        lbs: lab
            .lbs
            .iter()
            .enumerate()
            .map(|(i, h)| (format!("lb{}", i + 1), h.ns.name().to_owned()))
            .collect(),
        state_dirs: lab
            .agents
            .iter()
            .map(|a| a.as_ref().map(|a| a.state_dir()))
            .collect(),
        vips: lab
            .vips()
            .iter()
            .map(|(ip, _)| {
                let family = if ip.is_ipv4() { "inet" } else { "inet6" };
                (ip.to_string(), format!("{family} {ip}/"))
            })
            .collect(),
    };
    let observer = {
        let (tl, stop) = (tl.clone(), stop.clone());
        std::thread::spawn(move || observe(view, tl, stop))
    };
    let run = steps(&mut lab, args, &tl);
    stop.store(true, Ordering::SeqCst);
    let _ = observer.join();
    if run.is_err() && !INTERRUPTED.load(Ordering::SeqCst) {
        // The lab directory goes with the lab: show what the LBs said.
        eprintln!("\nthe LBs' logs, before the lab goes:\n{}", lab.logs());
    }
    run?;

    println!("\nregha-agent status on lb1:\n{}", status(&lab, 0));
    println!("regha-agent status on lb2:\n{}", status(&lab, 1));
    if args.keep {
        keep(&lab)?;
    }
    Ok(())
}

/// Waits for `cond` (or Ctrl-C): how long it took, or why not.
fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) -> Result<Duration> {
    let start = Instant::now();
    wait_for(what, limit)
        .try_until(|| INTERRUPTED.load(Ordering::SeqCst) || cond())
        .map_err(anyhow::Error::msg)?;
    checkpoint()?;
    Ok(start.elapsed())
}

fn steps(lab: &mut Lab, args: &Args, tl: &Timeline) -> Result<()> {
    tl.note(format!(
        "generating two OCI images of random layers (1+16 MiB, 1+{} MiB)",
        args.big_mib
    ));
    let small = lab.image("demo", &[MIB, 16 * MIB], 1);
    let big = lab.image("big", &[MIB, args.big_mib * MIB], 2);
    tl.note("waiting for VRRP to elect lb1 (priority 101) and for the first health checks");
    wait_until("lb1 to hold the VIP alone", Duration::from_secs(20), || {
        lab.vip_holders() == [0]
    })?;
    lab.wait_backends_up(Duration::from_secs(20));
    tl.note("lb1 is master, both registries are up");

    // 1. A push and a pull through the VIP (in dual stack: pushed over
    // IPv4, pulled over IPv6: one registry cluster behind both VIPs).
    checkpoint()?;
    let families = lab.spec.stack.families();
    let (push_v6, pull_v6) = (families[0], families[families.len() - 1]);
    let over = |v6: bool| if v6 { "IPv6" } else { "IPv4" };
    tl.note(format!(
        "skopeo: pushing lab/demo:1 (1 MiB + 16 MiB layers) to the {} VIP",
        over(push_v6)
    ));
    let took = lab
        .push_over(push_v6, 0, &small, "lab/demo")
        .wait(Duration::from_secs(300))
        .map_err(anyhow::Error::msg)?;
    tl.note(format!("pushed in {:.2}s", took.as_secs_f64()));
    let (pull, dir) = lab.pull_over(pull_v6, 0, "lab/demo", "pulled-demo");
    let took = pull
        .wait(Duration::from_secs(300))
        .map_err(anyhow::Error::msg)?;
    regha_tests::oci::verify_pulled(&dir, "1", &small).map_err(anyhow::Error::msg)?;
    tl.note(format!(
        "pulled over {} in {:.2}s; every layer matches its digest",
        over(pull_v6),
        took.as_secs_f64()
    ));

    // 2. A registry dies and comes back: health checks at work.
    checkpoint()?;
    tl.note("killing the registry on be2");
    lab.registries[1].kill();
    let be2: Vec<std::net::IpAddr> = families
        .iter()
        .map(|&v6| lab.backends[1].addr(v6))
        .collect();
    wait_until("be2 to be marked down", Duration::from_secs(20), || {
        lab.agents.iter().flatten().all(|a| {
            a.state().is_some_and(|s| {
                let listed: Vec<_> = (s.services.iter())
                    .flat_map(|svc| &svc.backends)
                    .filter(|b| be2.contains(&b.address.ip()))
                    .collect();
                !listed.is_empty() && listed.iter().all(|b| b.health == regha_model::Health::Down)
            })
        })
    })?;
    tl.note("starting the registry on be2 again");
    lab.registries[1].resume();
    lab.wait_backends_up(Duration::from_secs(20));

    // 3. The master dies during a big push (one per family).
    checkpoint()?;
    let before: u64 = lab.backend_packets().iter().sum();
    let mut pushes = Vec::new();
    for &v6 in families {
        let repo = if v6 { "lab/big6" } else { "lab/big" };
        tl.note(format!(
            "skopeo: pushing {repo}:1 (1 MiB + {} MiB) to the {} VIP",
            args.big_mib,
            over(v6)
        ));
        pushes.push((v6, repo, lab.push_over(v6, 0, &big, repo)));
    }
    let started = 3000 * pushes.len() as u64;
    wait_until("the push to get going", Duration::from_secs(60), || {
        lab.backend_packets().iter().sum::<u64>() > before + started
            || pushes.iter_mut().any(|(_, _, p)| p.done())
    })?;
    if pushes.iter_mut().any(|(_, _, p)| p.done()) {
        bail!("a push ended before the failover: try a larger --big-layer-mib");
    }
    tl.note("SIGKILL regha-agent on lb1 (the master) mid-push");
    let killed = Instant::now();
    lab.agent(0).signal(libc::SIGKILL);
    lab.agent_mut(0).wait_exit(Duration::from_secs(10));
    wait_until("lb2 to take the VIPs", Duration::from_secs(20), || {
        lab.vip_holders().contains(&1)
    })?;
    let takeover = killed.elapsed();
    tl.note(format!(
        "lb2 took over {:.2}s after the kill (3 x advert_int + skew){}",
        takeover.as_secs_f64(),
        if families.len() > 1 {
            ": both VIPs, one sync group"
        } else {
            ""
        }
    ));
    for (v6, repo, push) in pushes {
        let took = push
            .wait(Duration::from_secs(600))
            .map_err(|e| anyhow::anyhow!("the {} push failed: {e}", over(v6)))?;
        tl.note(format!(
            "the {} push completed ({:.2}s in all), no error and no retry",
            over(v6),
            took.as_secs_f64()
        ));
        let (pull, dir) = lab.pull_over(v6, 0, repo, &format!("pulled-{}", repo.replace('/', "_")));
        pull.wait(Duration::from_secs(600))
            .map_err(anyhow::Error::msg)?;
        regha_tests::oci::verify_pulled(&dir, "1", &big).map_err(anyhow::Error::msg)?;
        tl.note(format!(
            "pulled {repo}:1 back through lb2 over {}; every layer matches its digest",
            over(v6)
        ));
    }

    // 4. lb1 comes back and preempts.
    checkpoint()?;
    tl.note("restarting regha-agent on lb1 (it adopts its pinned dataplane)");
    lab.agent_mut(0).restart();
    let back = wait_until("lb1 to preempt", Duration::from_secs(20), || {
        lab.vip_holders() == [0]
    })?;
    tl.note(format!(
        "lb1 is master again {:.2}s after its restart",
        back.as_secs_f64()
    ));
    lab.wait_backends_up(Duration::from_secs(20));
    Ok(())
}

fn keep(lab: &Lab) -> Result<()> {
    let ns = |h: &regha_tests::lab::Host| h.ns.name().to_owned();
    let lb1 = lab.agent(0);
    println!("The lab stays up until Ctrl-C. Things to try (as root):\n");
    println!("  # a shell on the client (seeing the lab's hosts file: the VIPs by name),");
    println!("  # then push and pull through the VIP");
    println!(
        "  ip netns exec {} unshare --mount sh -c 'mount --bind {} /etc/hosts && exec bash'",
        ns(&lab.clients[0]),
        lab.hosts_file().display()
    );
    for &v6 in lab.spec.stack.families() {
        let (registry, url) = if v6 {
            (
                format!("{VIP6_NAME}:{PORT}"),
                format!("http://[{VIP6}]:{PORT}"),
            )
        } else {
            (format!("{VIP}:{PORT}"), format!("http://{VIP}:{PORT}"))
        };
        println!(
            "  skopeo --insecure-policy copy --dest-tls-verify=false oci:{}:1 docker://{registry}/lab/mine:1",
            lab.path("img-demo").display()
        );
        println!("  curl -s {url}/v2/_catalog");
    }
    println!();
    println!("  # what lb1's agent knows, and its maps");
    println!(
        "  {} status --iface eth0 --bpffs-root {} --state-dir {}",
        agent_bin().display(),
        lb1.pin_dir().parent().expect("pin root").display(),
        lb1.state_dir().display()
    );
    println!(
        "  bpftool map dump pinned {}/backends",
        lb1.pin_dir().display()
    );
    println!(
        "  ip netns exec {} ip addr show eth0   # the VIP (an IPv6 one deprecated: never a source)",
        ns(&lab.lbs[0])
    );
    println!("  less {}   # the agent's log\n", lb1.log_path().display());
    println!("  # a failover: kill lb1's agent, watch lb2 take the VIPs");
    println!(
        "  pkill -KILL -f 'regha-agent --config {}'",
        lb1.config_path().display()
    );
    println!("  ip netns exec {} ip addr show eth0\n", ns(&lab.lbs[1]));
    while !INTERRUPTED.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// `--bgp`: three LBs announce the VIP to an FRR router (ECMP); 200
/// keep-alive connections run through them while lb1 is drained and
/// undrained and lb3's link is cut.
fn bgp_demo(args: &Args) -> Result<()> {
    use regha_tests::lab::bgp::{BGP_VIP, BgpLab, Conns, ROUTER_IP};
    println!(
        "regha lab (BGP mode): a router running FRR, three LBs (regha-agent + FRR), three registries, a client with 50 addresses\n"
    );
    let mut lab = BgpLab::new(3, 3, 50, 100);
    println!(
        "  router   {ROUTER_IP} | 198.51.100.1  ns {}",
        lab.router.ns.name()
    );
    for (i, h) in lab.lab.lbs.iter().enumerate() {
        println!("  lb{}      {}  ns {}", i + 1, h.ip, h.ns.name());
    }
    for (i, h) in lab.lab.backends.iter().enumerate() {
        println!(
            "  be{}      {}  ns {}  (docker-registry, VIP on lo)",
            i + 1,
            h.ip,
            h.ns.name()
        );
    }
    println!(
        "  client   198.51.100.2 (+ .10-.58)  ns {}",
        lab.client.name()
    );
    println!("  VIP      {BGP_VIP}:{PORT}, announced by every ready LB\n");
    for lb in 0..3 {
        checkpoint()?;
        lab.start_lb(lb);
    }
    println!("FRR and regha-agent started on the LBs; waiting for the router's ECMP route");
    let t = lab.wait_next_hops(&[0, 1, 2], Duration::from_secs(60));
    println!("  after {:.1} s:", t.as_secs_f64());
    print!(
        "{}",
        lab.router
            .ns
            .ip(&["route", "show", &format!("{BGP_VIP}/32")])
    );
    println!("\nlb1's `regha-agent status`:");
    print!("{}", status(&lab.lab, 0));
    checkpoint()?;
    println!("200 keep-alive connections from 50 addresses, a request each every 100 ms");
    let conns = Conns::start(&lab, 4, Duration::from_millis(100));
    std::thread::sleep(Duration::from_secs(2));
    let cli = |lab: &BgpLab, args: &[&str]| {
        let out = lab.cli(0, args);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    println!("\n$ regha-agent drain   (on lb1)");
    print!("{}", cli(&lab, &["drain", "--timeout", "10s"]));
    print!(
        "{}",
        lab.router
            .ns
            .ip(&["route", "show", &format!("{BGP_VIP}/32")])
    );
    checkpoint()?;
    println!("\n$ regha-agent undrain   (on lb1)");
    print!("{}", cli(&lab, &["undrain"]));
    lab.wait_next_hops(&[0, 1, 2], Duration::from_secs(20));
    print!(
        "{}",
        lab.router
            .ns
            .ip(&["route", "show", &format!("{BGP_VIP}/32")])
    );
    checkpoint()?;
    println!("\nlb3's link goes down (BFD 100 ms x 3)");
    let w = lab.watch_next_hops(&[0, 1], Duration::from_secs(10));
    lab.lab.switch.set_port(&lab.lab.lbs[2], false);
    match w.join().expect("watcher") {
        Some(d) => println!("  lb3 left the router's FIB after {} ms", d.as_millis()),
        None => println!("  lb3 is still in the router's FIB after 10 s"),
    }
    std::thread::sleep(Duration::from_secs(2));
    let r = conns.stop();
    println!(
        "\n{} connections: {} broken, longest stall {} ms, {} requests answered",
        r.connections,
        r.broken.len(),
        r.max_stall.as_millis(),
        r.answered
    );
    lab.lab.switch.set_port(&lab.lab.lbs[2], true);
    if args.keep {
        println!(
            "\nThe lab stays up until Ctrl-C (lb3's link is back). Things to try (as root):\n"
        );
        println!(
            "  ip netns exec {} ip route show {BGP_VIP}   # the router's ECMP route",
            lab.router.ns.name()
        );
        println!("  vtysh -N {} -c 'show bgp summary'", lab.router.ns.name());
        println!(
            "  vtysh -N {} -c 'show bfd peers brief'",
            lab.router.ns.name()
        );
        let lb1 = lab.lab.agent(0);
        println!(
            "  {} status --iface eth0 --bpffs-root {} --state-dir {}",
            agent_bin().display(),
            lb1.pin_dir().parent().expect("pin root").display(),
            lb1.state_dir().display()
        );
        println!(
            "  ip netns exec {} ip route show proto 250   # the route regha adds for FRR",
            lab.lab.lbs[0].ns.name()
        );
        println!(
            "  ip netns exec {} curl -s http://{BGP_VIP}:{PORT}/v2/_catalog\n",
            lab.client.name()
        );
        while !INTERRUPTED.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(())
}
