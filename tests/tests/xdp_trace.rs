//! The opt-in packet trace (`regha-agent trace`): the program loaded with
//! the trace on for one client, over the pins of a running dataplane, logs
//! through aya-log the decision for that client's packets (and nothing for
//! another client's), naming the backend the packet went to and what chose
//! it; loaded without it, the trace code is gone from the verified program.

use std::{
    net::{IpAddr, Ipv4Addr},
    sync::{Arc, Mutex},
};

use regha_agent::{
    cli::trace::words,
    dataplane::{BackendSpec, Dataplane, EBPF_OBJECT, ServiceSpec},
};
use regha_model::{BackendState, HashMode, Protocol};
use regha_tests::{
    dataplane::{TestDataplane, XdpAction, test_run},
    packet::{Frame, TCP_ACK, TCP_PSH, TCP_SYN},
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const OTHER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 8);

fn backend(id: u32) -> BackendSpec {
    BackendSpec {
        id,
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10 + id as u8)),
        port: 5000,
        mac: [0x02, 0xbe, 0, 0, 0, id as u8],
        weight: 1,
        state: BackendState::Up,
    }
}

fn service() -> ServiceSpec {
    ServiceSpec {
        allow: Vec::new(),
        id: 0,
        vip: IpAddr::V4(VIP),
        port: 5000,
        protocol: Protocol::Tcp,
        hash: HashMode::Source,
        seed: 0x5eed,
        ring_size: 4099,
        backends: vec![backend(1), backend(2)],
    }
}

/// Collects the records, with their codes as words.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        self.0
            .lock()
            .unwrap()
            .push(words(&record.args().to_string()));
    }
    fn flush(&self) {}
}

/// Runs one frame through `program`: the backend it was sent to.
fn steer(dp: &mut Dataplane, frame: Frame) -> u32 {
    let (action, out) = test_run(dp.program(), &frame.bytes());
    assert_eq!(action, XdpAction::Tx as u32);
    u32::from(out[5])
}

#[test]
fn the_trace_logs_the_decisions_for_one_client_only() {
    let mut t = TestDataplane::load();
    t.maps.apply_service(&service()).unwrap();
    let mut traced =
        Dataplane::load_traced(&EBPF_OBJECT, &t.options(4096), Some(IpAddr::V4(CLIENT)))
            .unwrap_or_else(|e| panic!("load with the trace on: {e}"));
    let capture = Capture::default();
    let mut logger = traced.trace_logger(capture.clone()).unwrap();

    let isn = 0x1000;
    let tcp = |c, flags, seq| Frame::tcp4(c, 40000, VIP, 5000, flags).with_seq(seq);
    let be = steer(&mut traced, tcp(CLIENT, TCP_SYN, isn));
    assert_eq!(steer(&mut traced, tcp(CLIENT, TCP_ACK, isn + 1)), be);
    assert_eq!(
        steer(
            &mut traced,
            tcp(CLIENT, TCP_ACK | TCP_PSH, isn + 1).with_payload(b"GET /v2/ HTTP/1.1\r\n\r\n")
        ),
        be
    );
    steer(&mut traced, tcp(OTHER, TCP_SYN, isn));
    // Not for a service: traced with its reason.
    let (action, _) = test_run(
        traced.program(),
        &Frame::tcp4(CLIENT, 40000, Ipv4Addr::new(192, 0, 2, 99), 5000, TCP_SYN).bytes(),
    );
    assert_eq!(action, XdpAction::Pass as u32);
    logger.flush();

    let lines = capture.0.lock().unwrap().clone();
    let want = [
        format!(
            "trace sport=40000 dport=5000 proto=6 syn=1 -> backend={be} service=0 gen=1 via=ring"
        ),
        format!(
            "trace sport=40000 dport=5000 proto=6 syn=0 -> backend={be} service=0 gen=1 via=handshake"
        ),
        format!(
            "trace sport=40000 dport=5000 proto=6 syn=0 -> backend={be} service=0 gen=1 via=flow_cache"
        ),
        "trace sport=40000 dport=5000 proto=6 syn=1 -> not forwarded reason=not_service".to_owned(),
    ];
    assert_eq!(lines, want);

    // The same object loaded without the trace: the verifier removed the
    // trace code (all but a constant load and a jump).
    let off = t.dataplane.program().info().unwrap().size_translated();
    let on = traced.program().info().unwrap().size_translated();
    eprintln!("translated size: trace off {off:?} bytes, on {on:?}");
    assert!(off.unwrap() + 1024 < on.unwrap(), "{off:?} vs {on:?}");
}

/// `regha-agent trace` beside a running agent in the lab: it swaps the
/// traced program in behind the pinned link, prints the decisions for a
/// real connection from the client (the backend `explain` names), stops
/// after `--count` records and puts a program without the trace back,
/// while traffic keeps flowing.
#[test]
fn the_cli_traces_a_real_connection_and_puts_the_program_back() {
    use regha_tests::{
        agent::agent_bin,
        dataplane::link_prog_id,
        lab::{LabSpec, config, vip_port},
        wait::wait_for,
    };
    use std::{
        process::{Command, Stdio},
        time::Duration,
    };

    let mut lab = LabSpec::one_lb(2).build();
    let cfg = config::with_role(regha_model::Role::Master, vec![lab.service()]);
    lab.start_agent(0, &cfg, &[]);
    lab.wait_backends_up(Duration::from_secs(10));
    let agent = lab.agent(0);
    let link = agent.pin_dir().join(regha_agent::dataplane::LINK_PIN);
    let untraced = link_prog_id(&link);
    let src = lab.sources[0];
    let trace = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", lab.lbs[0].ns.name()))
        .arg(agent_bin())
        .args(["--iface", "eth0", "--bpffs-root"])
        .arg(agent.pin_dir().parent().unwrap())
        .args(["trace", "--client", &src.to_string(), "--count", "3"])
        .args(["--duration", "30s"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start regha-agent trace");
    let traced = wait_for(
        "the traced program behind the link",
        Duration::from_secs(10),
    )
    .every(Duration::from_millis(50))
    .until(|| {
        let id = link_prog_id(&link);
        if id != untraced {
            Ok(id)
        } else {
            Err(Box::new(id))
        }
    });
    let got = lab.clients[0]
        .ns
        .run(move || regha_tests::client::http_get(IpAddr::V4(src), vip_port(), "/v2/"));
    assert_eq!(got, Ok(200));
    let out = trace.wait_with_output().expect("trace ends");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    eprintln!("{stdout}{stderr}");
    assert!(out.status.success(), "{stderr}");
    let explained = agent.cli(&[], &["explain", &src.to_string(), "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&explained.stdout).unwrap();
    let be = doc["services"][0]["new_connection"]["backend"].clone();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.len() >= 3, "{stdout}");
    assert!(
        lines[0].ends_with(&format!("syn=1 -> backend={be} service=0 gen=1 via=ring")),
        "{stdout}"
    );
    assert!(
        lines[1].contains(&format!(
            "syn=0 -> backend={be} service=0 gen=1 via=handshake"
        )),
        "{stdout}"
    );
    let restored = link_prog_id(&link);
    assert!(restored != traced && restored != untraced, "{restored}");
    assert!(lab.get_all().iter().all(|r| r == &Ok(200)));
}
