//! Direct access to `BPF_F_MMAPABLE` arrays.
//!
//! `bpf_map_update_elem` on an array copies the value with a plain memcpy:
//! a program reading the element meanwhile may see half of the old value
//! and half of the new. Through the mmap the agent stores the words the
//! program reads with single atomic stores instead (the program reads them
//! with single loads), and fills large arrays (rings) with one copy.

use std::{
    os::fd::{AsFd, AsRawFd},
    ptr::NonNull,
    sync::atomic::{AtomicU32, AtomicU64, Ordering},
};

use aya::maps::MapData;

use super::DataplaneError;

/// Bytes between two elements: the kernel rounds every array value up to 8
/// (`round_up(value_size, 8)` in kernel/bpf/arraymap.c), and the mmap shows
/// exactly that layout.
const fn stride(value_size: u32) -> usize {
    (value_size as usize).div_ceil(8) * 8
}

/// A mapped array; unmapped on drop.
pub struct MmapArray {
    _map: MapData,
    ptr: NonNull<u8>,
    len: usize,
    stride: usize,
    value_size: usize,
    entries: u32,
    name: &'static str,
}

// SAFETY: the mapping is shared memory of the process; every access goes
// through atomics or through `&mut self`.
unsafe impl Send for MmapArray {}

impl MmapArray {
    /// Maps `map` (an array created with `BPF_F_MMAPABLE`) read-write.
    pub fn new(map: MapData, name: &'static str) -> Result<Self, DataplaneError> {
        let info = map
            .info()
            .map_err(|source| DataplaneError::Map { map: name, source })?;
        let (value_size, entries) = (info.value_size(), info.max_entries());
        let stride = stride(value_size);
        let len = stride * entries as usize;
        let fd = map.fd().as_fd().as_raw_fd();
        // SAFETY: mapping an mmapable BPF array: the kernel sizes the mapping
        // to the array's data pages, which cover `len`.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(DataplaneError::MapUse {
                map: name,
                reason: format!(
                    "mmap failed ({}): was the map created without BPF_F_MMAPABLE by an older regha?",
                    std::io::Error::last_os_error()
                ),
            });
        }
        Ok(Self {
            _map: map,
            ptr: NonNull::new(ptr.cast()).expect("mmap never returns NULL on success"),
            len,
            stride,
            value_size: value_size as usize,
            entries,
            name,
        })
    }

    pub fn entries(&self) -> u32 {
        self.entries
    }

    pub fn map(&self) -> &MapData {
        &self._map
    }

    fn elem(&self, index: u32, offset: usize, size: usize) -> Result<*mut u8, DataplaneError> {
        if index >= self.entries || offset + size > self.value_size {
            return Err(DataplaneError::MapUse {
                map: self.name,
                reason: format!(
                    "index {index} (bytes {offset}..{}) is outside {} entries of {} bytes",
                    offset + size,
                    self.entries,
                    self.value_size
                ),
            });
        }
        let at = index as usize * self.stride + offset;
        debug_assert!(at + size <= self.len);
        // SAFETY: in bounds of the mapping, checked above.
        Ok(unsafe { self.ptr.as_ptr().add(at) })
    }

    /// Atomically stores the 8-byte word at `offset` (8-aligned) of element `index`.
    pub fn store_u64(&self, index: u32, offset: usize, v: u64) -> Result<(), DataplaneError> {
        let p = self.elem(index, offset, 8)?;
        assert_eq!(offset % 8, 0, "atomic words are 8-aligned");
        // SAFETY: 8-aligned (stride and offset are multiples of 8, the mapping
        // is page aligned) and inside the mapping.
        unsafe { AtomicU64::from_ptr(p.cast()) }.store(v, Ordering::Release);
        Ok(())
    }

    pub fn load_u64(&self, index: u32, offset: usize) -> Result<u64, DataplaneError> {
        let p = self.elem(index, offset, 8)?;
        // SAFETY: as in `store_u64`.
        Ok(unsafe { AtomicU64::from_ptr(p.cast()) }.load(Ordering::Acquire))
    }

    /// Atomically stores the 4-byte word at `offset` (4-aligned) of element `index`.
    pub fn store_u32(&self, index: u32, offset: usize, v: u32) -> Result<(), DataplaneError> {
        let p = self.elem(index, offset, 4)?;
        assert_eq!(offset % 4, 0, "atomic words are 4-aligned");
        // SAFETY: 4-aligned and inside the mapping.
        unsafe { AtomicU32::from_ptr(p.cast()) }.store(v, Ordering::Release);
        Ok(())
    }

    pub fn load_u32(&self, index: u32, offset: usize) -> Result<u32, DataplaneError> {
        let p = self.elem(index, offset, 4)?;
        // SAFETY: as in `store_u32`.
        Ok(unsafe { AtomicU32::from_ptr(p.cast()) }.load(Ordering::Acquire))
    }

    /// Copies `bytes` into element `index` at `offset`, without atomicity:
    /// for bytes the program does not read, or an element no packet can see yet.
    pub fn write(&mut self, index: u32, offset: usize, bytes: &[u8]) -> Result<(), DataplaneError> {
        let p = self.elem(index, offset, bytes.len())?;
        // SAFETY: in bounds (checked), and `&mut self` excludes other writers here.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
        Ok(())
    }

    /// Sets element `i` to `values[i]` for every `i`, for a `u32` array that
    /// no packet can see yet (a ring before it is published).
    pub fn fill_u32(&mut self, values: &[u32]) -> Result<(), DataplaneError> {
        if self.value_size != 4 || values.len() != self.entries as usize {
            return Err(DataplaneError::MapUse {
                map: self.name,
                reason: format!(
                    "cannot fill {} entries of {} bytes with {} u32 values",
                    self.entries,
                    self.value_size,
                    values.len()
                ),
            });
        }
        for (i, v) in values.iter().enumerate() {
            // SAFETY: i < entries, so the 4 bytes at i * stride are mapped;
            // `&mut self` excludes other writers here.
            unsafe {
                self.ptr
                    .as_ptr()
                    .add(i * self.stride)
                    .cast::<u32>()
                    .write(*v)
            };
        }
        Ok(())
    }

    /// The value bytes of element `index`.
    pub fn read(&self, index: u32) -> Result<Vec<u8>, DataplaneError> {
        let p = self.elem(index, 0, self.value_size)?;
        // SAFETY: in bounds (checked); a racing writer can only change bytes
        // the caller reads as plain data.
        Ok(unsafe { std::slice::from_raw_parts(p, self.value_size) }.to_vec())
    }

    /// Bit `bit` of the 8-byte word `word` (element index), set or cleared atomically.
    pub fn set_bit(&self, word: u32, bit: u32, on: bool) -> Result<(), DataplaneError> {
        let p = self.elem(word, 0, 8)?;
        // SAFETY: as in `store_u64`.
        let a = unsafe { AtomicU64::from_ptr(p.cast()) };
        if on {
            a.fetch_or(1 << bit, Ordering::Release);
        } else {
            a.fetch_and(!(1 << bit), Ordering::Release);
        }
        Ok(())
    }
}

impl Drop for MmapArray {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `new` mapped.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}
