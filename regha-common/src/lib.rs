//! Types and constants shared by `regha-ebpf` (the XDP program) and
//! `regha-agent` (which writes its maps).
//!
//! Every map key and value is `#[repr(C)]`, `Copy`, with explicit padding and
//! no `bool` or `Option`, and a compile-time size check, so the two sides
//! agree on the bytes and `bpftool` prints named fields from the BTF.
#![no_std]

pub mod consts;
pub mod hash;
pub mod layout;
pub mod maps;

pub use consts::*;
pub use maps::*;
