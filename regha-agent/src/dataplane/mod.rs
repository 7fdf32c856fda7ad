//! The XDP dataplane as the agent owns it: load the object, pin its maps and
//! its link under `/sys/fs/bpf/regha/<iface>/`, attach, replace the program
//! atomically, and write the maps (`maps.rs`).
//!
//! Pins make the dataplane outlive the agent: a restarted agent loads with
//! the same pin paths, which reuses the pinned maps, and replaces the program
//! behind the pinned link, so traffic is steered throughout.

mod bpffs;
mod error;
mod maps;
mod mmap;
mod service;

use std::{
    path::{Path, PathBuf},
    sync::LazyLock,
};

use aya::{
    Ebpf, EbpfLoader,
    programs::{
        Xdp, XdpMode,
        links::{FdLink, PinnedLink},
        xdp::XdpLink,
    },
};
pub use bpffs::ensure_bpffs;
pub use error::DataplaneError;
pub use maps::{MapWriter, RingSwap};
use regha_common::{DEFAULT_FLOW_TABLE_SIZE, PROGRAM_NAME, map_names};
pub use service::{ApplyReport, BackendSpec, GENERATION_RETIRED, ServiceSpec, ip_of};
use tracing::{debug, info};

/// Where the pins of every interface live.
pub const DEFAULT_BPFFS_ROOT: &str = "/sys/fs/bpf/regha";

/// The directory build.rs took the embedded object from (`target/bpf/`, or
/// `$REGHA_EBPF_DIR`): where tools find the objects built beside it, such
/// as the bench's `regha-baselines`. The agent itself never reads it.
pub const EBPF_DIR: &str = env!("REGHA_EBPF_DIR");

/// The XDP object this agent was built with (copied into `OUT_DIR` by build.rs).
pub static EBPF_OBJECT: LazyLock<Vec<u8>> = LazyLock::new(|| {
    // An owned, aligned copy: aya parses the ELF in place and wants 8-byte
    // alignment, which a plain include_bytes! does not promise.
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/regha")).to_vec()
});

/// File name of the pinned link inside the pin directory.
const LINK_PIN: &str = "link";

/// Every map and its pin file name (lower case, as operators type it).
pub const PINNED_MAPS: [(&str, &str); 9] = [
    (map_names::SERVICES, "services"),
    (map_names::SERVICE_PORTS, "service_ports"),
    (map_names::SERVICE_GENS, "service_gens"),
    (map_names::RINGS, "rings"),
    (map_names::BACKENDS, "backends"),
    (map_names::FLOWS, "flows"),
    (map_names::SERVICE_STATS, "service_stats"),
    (map_names::BACKEND_STATS, "backend_stats"),
    (map_names::REASONS, "reasons"),
];

/// How to load the dataplane.
#[derive(Clone, Debug)]
pub struct DataplaneOptions {
    /// Directory for this interface's pins, e.g. `/sys/fs/bpf/regha/eth0`.
    pub pin_dir: PathBuf,
    /// MAC of the interface: the source MAC of every frame sent.
    pub iface_mac: [u8; 6],
    /// Capacity of the LRU flow table (only used when the map is created;
    /// a pinned table keeps its size).
    pub flow_table_size: u32,
}

impl DataplaneOptions {
    pub fn for_interface(iface: &str, iface_mac: [u8; 6]) -> Self {
        Self {
            pin_dir: Path::new(DEFAULT_BPFFS_ROOT).join(iface),
            iface_mac,
            flow_table_size: DEFAULT_FLOW_TABLE_SIZE,
        }
    }
}

/// A loaded XDP program with its pinned maps.
pub struct Dataplane {
    ebpf: Ebpf,
    pin_dir: PathBuf,
}

impl Dataplane {
    /// Loads the embedded object. Maps already pinned in `pin_dir` are reused
    /// (their contents survive); missing ones are created and pinned.
    pub fn load(opts: &DataplaneOptions) -> Result<Self, DataplaneError> {
        Self::load_object(&EBPF_OBJECT, opts)
    }

    /// Loads `object` (an upgrade, or a test build) the same way.
    pub fn load_object(object: &[u8], opts: &DataplaneOptions) -> Result<Self, DataplaneError> {
        ensure_bpffs(&opts.pin_dir)?;
        std::fs::create_dir_all(&opts.pin_dir).map_err(|source| DataplaneError::PinDir {
            path: opts.pin_dir.clone(),
            source,
        })?;
        let mut loader = EbpfLoader::new();
        loader
            .override_global("IFACE_MAC", &opts.iface_mac, true)
            .map_max_entries(map_names::FLOWS, opts.flow_table_size);
        let paths: Vec<(&str, PathBuf)> = PINNED_MAPS
            .iter()
            .map(|(name, file)| (*name, opts.pin_dir.join(file)))
            .collect();
        for (name, path) in &paths {
            loader.map_pin_path(name, path.as_path());
        }
        let mut ebpf = loader.load(object).map_err(DataplaneError::Load)?;
        let prog: &mut Xdp = ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or(DataplaneError::MissingProgram(PROGRAM_NAME))?
            .try_into()
            .map_err(DataplaneError::Program)?;
        prog.load().map_err(DataplaneError::Verifier)?;
        debug!(pin_dir = %opts.pin_dir.display(), "dataplane loaded");
        Ok(Self {
            ebpf,
            pin_dir: opts.pin_dir.clone(),
        })
    }

    pub fn pin_dir(&self) -> &Path {
        &self.pin_dir
    }

    /// The loaded program (for `test_run`, and attaching).
    pub fn program(&mut self) -> &mut Xdp {
        self.ebpf
            .program_mut(PROGRAM_NAME)
            .and_then(|p| p.try_into().ok())
            .expect("load() checked the program exists and is XDP")
    }

    /// A writer over this dataplane's pinned maps.
    pub fn maps(&self) -> Result<MapWriter, DataplaneError> {
        MapWriter::open(&self.pin_dir)
    }

    /// Attaches to `iface` through a pinned `bpf_link`. When a link is already
    /// pinned (an agent restart, or an upgrade), the program behind it is
    /// replaced in one step instead: no packet goes unsteered.
    pub fn attach(&mut self, iface: &str, mode: XdpMode) -> Result<(), DataplaneError> {
        let link_path = self.pin_dir.join(LINK_PIN);
        if link_path.exists() {
            let pinned = PinnedLink::from_pin(&link_path).map_err(DataplaneError::Link)?;
            let fd_link: FdLink = pinned.into();
            let link = XdpLink::try_from(fd_link).map_err(DataplaneError::Link)?;
            self.program()
                .attach_to_link(link)
                .map_err(|e| DataplaneError::Attach {
                    iface: iface.to_owned(),
                    mode,
                    source: e,
                })?;
            info!(iface, link = %link_path.display(), "replaced the program behind the pinned link");
            return Ok(());
        }
        let prog = self.program();
        let id = prog
            .attach(iface, mode)
            .map_err(|e| DataplaneError::Attach {
                iface: iface.to_owned(),
                mode,
                source: e,
            })?;
        let link = prog.take_link(id).map_err(DataplaneError::Program)?;
        let fd_link = FdLink::try_from(link).map_err(|_| DataplaneError::NoBpfLink {
            iface: iface.to_owned(),
        })?;
        fd_link.pin(&link_path).map_err(DataplaneError::Pin)?;
        info!(iface, ?mode, link = %link_path.display(), "attached");
        Ok(())
    }

    /// Detaches (by removing the pinned link) and removes every pin of this
    /// interface. Loaded programs die with the last reference.
    pub fn remove_pins(pin_dir: &Path) -> Result<(), DataplaneError> {
        let link = pin_dir.join(LINK_PIN);
        let files = PINNED_MAPS
            .iter()
            .map(|(_, file)| pin_dir.join(file))
            .chain(std::iter::once(link));
        for path in files {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(DataplaneError::PinDir { path, source }),
            }
        }
        match std::fs::remove_dir(pin_dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(DataplaneError::PinDir {
                path: pin_dir.to_owned(),
                source,
            }),
        }
    }
}
