//! The XDP dataplane as the agent owns it: load the object, pin its maps and
//! its link under `/sys/fs/bpf/regha/<iface>/`, attach, replace the program
//! atomically, and write the maps (`maps.rs`).
//!
//! Pins make the dataplane outlive the agent: a restarted agent loads with
//! the same pin paths, which reuses the pinned maps, and replaces the program
//! behind the pinned link, so traffic is steered throughout.
//!
//! It reuses a pinned map only when the map is of the layout this build
//! expects (`layout.rs`); any other is replaced by a new map, built beside
//! the old pins and moved over them once the new program runs behind the
//! link (`pins.rs`).

mod bpffs;
mod error;
mod held_rings;
pub mod layout;
mod maps;
mod mmap;
mod pins;
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
use layout::{Fate, LayoutPlan};
pub use maps::{AllowPrefix, MapWriter, RingSwap};
use regha_common::{
    DEFAULT_FLOW_TABLE_SIZE, PROGRAM_NAME,
    layout::{LAYOUT_PIN, LAYOUT_VERSION, PINNED_MAPS},
    map_names,
};
pub use service::{ApplyReport, BackendSpec, GENERATION_RETIRED, ServiceSpec, ip_of};
use tracing::{debug, info, warn};

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

pub use pins::{LINK_PIN, STAGING_DIR};

/// How to load the dataplane.
#[derive(Clone, Debug)]
pub struct DataplaneOptions {
    /// Directory for this interface's pins, e.g. `/sys/fs/bpf/regha/eth0`.
    pub pin_dir: PathBuf,
    /// MAC of the interface: the source MAC of every frame sent.
    pub iface_mac: [u8; 6],
    /// Capacity of the LRU flow table. A pinned table of another size is
    /// replaced by one of this size, its flows copied over.
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
    /// What became of each pinned map.
    plan: LayoutPlan,
    /// Replacement maps wait in the staging directory for the new program
    /// to run behind the pinned link (`attach`), which then moves them.
    pending: bool,
}

impl Dataplane {
    /// Loads the embedded object. Maps already pinned in `pin_dir` are reused
    /// when their layout is this build's (their contents survive); the
    /// others are replaced (`layout.rs`), missing ones created and pinned.
    pub fn load(opts: &DataplaneOptions) -> Result<Self, DataplaneError> {
        Self::load_object(&EBPF_OBJECT, opts)
    }

    /// Loads `object` (an upgrade, or a test build) the same way.
    pub fn load_object(object: &[u8], opts: &DataplaneOptions) -> Result<Self, DataplaneError> {
        Self::load_traced(object, opts, None)
    }

    /// Loads `object` the same way, with the packet trace on for `client`
    /// (`regha-agent trace`): the program then logs its decision for each
    /// packet from that address through aya-log (`trace_logger`). With
    /// `None` the trace code is removed by the verifier (see
    /// `regha-ebpf/src/trace.rs`).
    pub fn load_traced(
        object: &[u8],
        opts: &DataplaneOptions,
        client: Option<std::net::IpAddr>,
    ) -> Result<Self, DataplaneError> {
        let pin_dir = &opts.pin_dir;
        ensure_bpffs(pin_dir)?;
        std::fs::create_dir_all(pin_dir).map_err(|source| DataplaneError::PinDir {
            path: pin_dir.clone(),
            source,
        })?;
        // Maps a crashed replacement left half-built: nothing uses them.
        pins::clear_staging(pin_dir)?;
        let expected = pins::expected_shapes(object, opts.flow_table_size)?;
        let plan = layout::plan(&expected, &pins::read_pins(pin_dir)?);
        log_plan(pin_dir, &plan);
        if plan.staged().next().is_some() {
            let staging = pin_dir.join(STAGING_DIR);
            std::fs::create_dir(&staging).map_err(|source| DataplaneError::PinDir {
                path: staging,
                source,
            })?;
        }
        let mut loader = EbpfLoader::new();
        loader
            .override_global("IFACE_MAC", &opts.iface_mac, true)
            .map_max_entries(map_names::FLOWS, opts.flow_table_size);
        // The trace's globals (regha-ebpf/src/trace.rs), by their symbol names.
        let trace_client = client.map(|ip| {
            let (addr, _) = crate::explain::map_addr(ip);
            regha_common::hash::addr_words(&addr)
        });
        if let Some(words) = &trace_client {
            loader
                .override_global("TRACE_ON", &1u8, true)
                .override_global("TRACE_CLIENT", words, true);
        }
        // An existing pin at the path is reused as it is (aya checks
        // nothing): only adopted maps may point at the old pins.
        let paths: Vec<(&str, PathBuf)> = plan
            .maps
            .iter()
            .map(|p| (p.map.name, pins::path_before_commit(pin_dir, &plan, &p.map)))
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
        pins::copy_staged(pin_dir, &plan);
        // With a link, the old program steers through the old pins until
        // `attach` puts the new one behind it; without one, nothing does.
        let pending = !plan.compatible() && pin_dir.join(LINK_PIN).exists();
        if !pending {
            pins::commit(pin_dir, &plan)?;
        }
        debug!(pin_dir = %pin_dir.display(), pending, "dataplane loaded");
        Ok(Self {
            ebpf,
            pin_dir: pin_dir.clone(),
            plan,
            pending,
        })
    }

    /// What became of each pinned map (adopted, created, copied, replaced).
    pub fn layout(&self) -> &LayoutPlan {
        &self.plan
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

    /// The reader of the trace's log records (a program loaded with
    /// `load_traced`), handing each to `logger`. Once only: the ring
    /// buffer is taken from the program's maps.
    pub fn trace_logger<L: log::Log>(
        &mut self,
        logger: L,
    ) -> Result<aya_log::EbpfLogger<L>, DataplaneError> {
        aya_log::EbpfLogger::init_with_logger(&mut self.ebpf, logger)
            .map_err(|e| DataplaneError::Object(format!("the trace's log buffer: {e}")))
    }

    /// A writer over this dataplane's maps (those waiting in the staging
    /// directory included, before `attach` moves them).
    pub fn maps(&self) -> Result<MapWriter, DataplaneError> {
        if self.pending {
            MapWriter::open_with(|m| pins::path_before_commit(&self.pin_dir, &self.plan, m))
        } else {
            MapWriter::open(&self.pin_dir)
        }
    }

    /// Once the new program runs: the replacement maps take the old pins.
    fn commit_replacement(&mut self) -> Result<(), DataplaneError> {
        if !self.pending {
            return Ok(());
        }
        pins::commit(&self.pin_dir, &self.plan)?;
        self.pending = false;
        info!(
            pin_dir = %self.pin_dir.display(),
            layout = LAYOUT_VERSION,
            replaced = self.plan.staged().count(),
            "layout changed: the new program runs behind the link and its new maps hold the pins"
        );
        Ok(())
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
            return self.commit_replacement();
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
        self.commit_replacement()
    }

    /// Detaches (by removing the pinned link) and removes every pin of this
    /// interface. Loaded programs die with the last reference.
    pub fn remove_pins(pin_dir: &Path) -> Result<(), DataplaneError> {
        pins::clear_staging(pin_dir)?;
        let files = PINNED_MAPS
            .iter()
            .map(|m| pin_dir.join(m.pin))
            .chain([pin_dir.join(LINK_PIN), pin_dir.join(LAYOUT_PIN)]);
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

/// Says what the layout check decided: once for the whole, then once for
/// each map whose contents are lost.
fn log_plan(pin_dir: &Path, plan: &LayoutPlan) {
    let pin_dir = pin_dir.display();
    match plan.pinned {
        None => info!(%pin_dir, layout = LAYOUT_VERSION, "no pins: created the maps"),
        Some(v) if plan.compatible() => {
            info!(%pin_dir, layout = v, "layout compatible: adopting the pinned maps");
        }
        Some(v) => {
            warn!(
                %pin_dir,
                pinned_layout = v,
                layout = LAYOUT_VERSION,
                "layout changed ({plan}): replacing"
            );
            for p in plan.maps.iter().filter(|p| p.fate == Fate::Fresh) {
                warn!(
                    map = p.map.name,
                    lost = layout::loss(p.map.name),
                    "map replaced empty"
                );
            }
        }
    }
}
