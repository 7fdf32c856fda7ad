use std::path::PathBuf;

use aya::{
    EbpfError,
    maps::MapError,
    pin::PinError,
    programs::{ProgramError, XdpMode, links::LinkError},
};

/// What can go wrong between the agent and the kernel's BPF side. Each
/// message says what failed and, where there is one, what to do.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    #[error(
        "cannot mount or use bpffs at {path}: {reason} (mount it with `mount -t bpf bpf /sys/fs/bpf`)"
    )]
    Bpffs { path: PathBuf, reason: String },
    #[error("cannot create or clean the pin directory {path}: {source}")]
    PinDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot load the XDP object: {0}")]
    Load(#[source] EbpfError),
    #[error("the XDP object: {0}")]
    Object(String),
    #[error("the object has no program named {0}: it was not built from regha-ebpf")]
    MissingProgram(&'static str),
    #[error("the kernel rejected the XDP program (verifier): {0}")]
    Verifier(#[source] ProgramError),
    #[error("program error: {0}")]
    Program(#[source] ProgramError),
    #[error(
        "cannot attach XDP to {iface} in {mode:?} mode: {source} (if the driver has no native XDP, choose generic mode explicitly with --xdp-mode generic)"
    )]
    Attach {
        iface: String,
        mode: XdpMode,
        #[source]
        source: ProgramError,
    },
    #[error(
        "the kernel attached XDP to {iface} through netlink, not a bpf_link, so it cannot be pinned (kernel older than 5.9?)"
    )]
    NoBpfLink { iface: String },
    #[error("cannot open the pinned link: {0}")]
    Link(#[source] LinkError),
    #[error("cannot pin: {0}")]
    Pin(#[source] PinError),
    #[error("map {map}: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: MapError,
    },
    #[error("cannot build the Maglev table: {0}")]
    Ring(#[source] crate::maglev::MaglevError),
    #[error("map {map}: {reason}")]
    MapUse { map: &'static str, reason: String },
}
