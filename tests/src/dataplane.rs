//! A loaded regha dataplane for tests: the production loader and map writer,
//! with pins in a directory of its own that is removed on drop.

use std::{
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
};

use aya::programs::{TestRun, TestRunOptions, Xdp};
use regha_agent::dataplane::{BackendSpec, Dataplane, DataplaneOptions, MapWriter, ServiceSpec};
use regha_model::{BackendState, HashMode, Protocol};

/// Parent of every test's pin directory.
const TEST_PIN_ROOT: &str = "/sys/fs/bpf/regha-test";

/// Removes pin directories of test processes that no longer exist.
fn remove_stale_pins() {
    let Ok(entries) = std::fs::read_dir(TEST_PIN_ROOT) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix('p')
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = Dataplane::remove_pins(&e.path());
        }
    }
}

/// The LB's own MAC in fixtures.
pub const LB_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

pub struct TestDataplane {
    pub dataplane: Dataplane,
    pub maps: MapWriter,
    pin_dir: PathBuf,
    iface_mac: [u8; 6],
}

/// An address as the maps hold it (IPv4 mapped into 16 bytes).
pub fn addr16(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => regha_common::addr_from_v4(a.octets()),
        IpAddr::V6(a) => a.octets(),
    }
}

impl TestDataplane {
    /// Writes these services through the production API, as the agent does.
    pub fn provision(&mut self, specs: &[ServiceSpec]) {
        for s in specs {
            self.maps
                .apply_service(s)
                .unwrap_or_else(|e| panic!("apply service {}: {e}", s.id));
        }
    }

    /// Loads the embedded object with `LB_MAC` and a small flow table.
    pub fn load() -> Self {
        Self::load_with(LB_MAC, 4096)
    }

    pub fn load_with(iface_mac: [u8; 6], flow_table_size: u32) -> Self {
        Self::load_object_with(
            &regha_agent::dataplane::EBPF_OBJECT,
            iface_mac,
            flow_table_size,
        )
    }

    /// Loads `object` (another build of regha-ebpf: the bench compares
    /// builds with it) the same way.
    pub fn load_object_with(object: &[u8], iface_mac: [u8; 6], flow_table_size: u32) -> Self {
        crate::require_root();
        remove_stale_pins();
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let pin_dir = PathBuf::from(TEST_PIN_ROOT).join(format!(
            "p{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let opts = DataplaneOptions {
            pin_dir: pin_dir.clone(),
            iface_mac,
            flow_table_size,
        };
        let dataplane =
            Dataplane::load_object(object, &opts).unwrap_or_else(|e| panic!("load: {e}"));
        let maps = dataplane
            .maps()
            .unwrap_or_else(|e| panic!("open maps: {e}"));
        Self {
            dataplane,
            maps,
            pin_dir,
            iface_mac,
        }
    }

    pub fn pin_dir(&self) -> &std::path::Path {
        &self.pin_dir
    }

    /// The options of a second load from the same pins (an agent restart or
    /// upgrade), with a flow table of `flow_table_size`.
    pub fn options(&self, flow_table_size: u32) -> DataplaneOptions {
        DataplaneOptions {
            pin_dir: self.pin_dir.clone(),
            iface_mac: self.iface_mac,
            flow_table_size,
        }
    }

    /// Runs one packet through the program (BPF_PROG_TEST_RUN): the action
    /// and the output bytes.
    pub fn run(&mut self, input: &[u8]) -> (u32, Vec<u8>) {
        test_run(self.dataplane.program(), input)
    }
}

/// Runs one packet through `program` (BPF_PROG_TEST_RUN): the action and
/// the output bytes.
pub fn test_run(program: &mut Xdp, input: &[u8]) -> (u32, Vec<u8>) {
    let mut out = vec![0u8; input.len() + 256];
    let res = program
        .test_run(TestRunOptions {
            data_in: Some(input),
            data_out: Some(&mut out),
            ..TestRunOptions::default()
        })
        .unwrap_or_else(|e| panic!("test_run of a {}-byte packet: {e}", input.len()));
    out.truncate(res.data_size_out as usize);
    (res.return_value, out)
}

impl Drop for TestDataplane {
    fn drop(&mut self) {
        let _ = Dataplane::remove_pins(&self.pin_dir);
    }
}

/// XDP verdicts as the kernel numbers them (`enum xdp_action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum XdpAction {
    Aborted = 0,
    Drop = 1,
    Pass = 2,
    Tx = 3,
    Redirect = 4,
}

/// The id of the program behind a pinned XDP link, as `bpftool` shows it.
pub fn link_prog_id(link: &std::path::Path) -> String {
    let out = std::process::Command::new("bpftool")
        .args(["link", "show", "pinned"])
        .arg(link)
        .output()
        .expect("bpftool");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .skip_while(|w| *w != "prog")
        .nth(1)
        .unwrap_or_else(|| panic!("no prog id in `bpftool link show`: {text}"))
        .to_owned()
}

/// Pins the calling thread to `cpu`: BPF_PROG_TEST_RUN runs the program on
/// the calling CPU, so per-CPU maps and two-CPU cases need it.
pub fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t with one bit set, for this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set),
            0,
            "sched_setaffinity to CPU {cpu}: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Backend `id` of the flow-state tests: 192.0.2.(10 + id):`port`, a MAC
/// that names it, weight 1.
pub fn test_backend(id: u32, port: u16, state: BackendState) -> BackendSpec {
    BackendSpec {
        id,
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10 + id as u8)),
        port,
        mac: [0x02, 0xbe, 0, 0, 0, id as u8],
        weight: 1,
        state,
    }
}

/// Service 0 of the flow-state tests: TCP `vip`:`port`, source hash.
pub fn source_hashed(
    vip: Ipv4Addr,
    port: u16,
    seed: u32,
    ring_size: u32,
    backends: Vec<BackendSpec>,
) -> ServiceSpec {
    ServiceSpec {
        allow: Vec::new(),
        id: 0,
        vip: IpAddr::V4(vip),
        port,
        protocol: Protocol::Tcp,
        hash: HashMode::Source,
        seed,
        ring_size,
        backends,
    }
}
