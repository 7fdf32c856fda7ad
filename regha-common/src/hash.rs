//! The packet hash, shared so that the agent (and tests) can compute which
//! ring slot a client lands on exactly as the XDP program does.
//!
//! MurmurHash3 (x86, 32-bit) over whole words: a handful of multiplies and
//! rotates per word, no tables, no loops the verifier has to bound beyond the
//! fixed word count.

#[inline(always)]
const fn mix(h: u32, k: u32) -> u32 {
    let k = k
        .wrapping_mul(0xcc9e_2d51)
        .rotate_left(15)
        .wrapping_mul(0x1b87_3593);
    (h ^ k)
        .rotate_left(13)
        .wrapping_mul(5)
        .wrapping_add(0xe654_6b64)
}

#[inline(always)]
const fn finish(mut h: u32, len_bytes: u32) -> u32 {
    h ^= len_bytes;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// An address as the XDP program holds it: four words, each the
/// little-endian reading of four address bytes (what a word load from the
/// packet gives on the little-endian BPF target).
pub const fn addr_words(b: &[u8; 16]) -> [u32; 4] {
    [
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
        u32::from_le_bytes([b[12], b[13], b[14], b[15]]),
    ]
}

/// Hash of a client source address (`hash: source`, HAProxy's `balance source`).
#[inline(always)]
pub const fn hash_source(addr: &[u8; 16], seed: u32) -> u32 {
    hash_source_words(&addr_words(addr), seed)
}

/// [`hash_source`] over the word form (the XDP program's).
#[inline(always)]
pub const fn hash_source_words(w: &[u32; 4], seed: u32) -> u32 {
    let mut h = seed;
    h = mix(h, w[0]);
    h = mix(h, w[1]);
    h = mix(h, w[2]);
    h = mix(h, w[3]);
    finish(h, 16)
}

/// Hash of a connection's 5-tuple (`hash: flow`).
#[inline(always)]
pub const fn hash_flow(
    src: &[u8; 16],
    dst: &[u8; 16],
    sport: u16,
    dport: u16,
    proto: u8,
    seed: u32,
) -> u32 {
    hash_flow_words(
        &addr_words(src),
        &addr_words(dst),
        sport,
        dport,
        proto,
        seed,
    )
}

/// [`hash_flow`] over the word form (the XDP program's).
#[inline(always)]
pub const fn hash_flow_words(
    src: &[u32; 4],
    dst: &[u32; 4],
    sport: u16,
    dport: u16,
    proto: u8,
    seed: u32,
) -> u32 {
    let mut h = seed;
    h = mix(h, src[0]);
    h = mix(h, src[1]);
    h = mix(h, src[2]);
    h = mix(h, src[3]);
    h = mix(h, dst[0]);
    h = mix(h, dst[1]);
    h = mix(h, dst[2]);
    h = mix(h, dst[3]);
    h = mix(h, ((sport as u32) << 16) | dport as u32);
    h = mix(h, proto as u32);
    finish(h, 40)
}

/// Seed of [`tuple_hash`] ("reghaflo"). Local to one LB: only the slots of
/// `FLOW_CACHE` and `HANDSHAKES` are placed by it, never a backend choice,
/// so LB hosts need not agree on it; the agent uses it to find a
/// connection's slots.
const TUPLE_SEED: u64 = 0x7265_6768_6166_6c6f;
/// An odd 64-bit constant with well-spread bits (2^64 / golden ratio).
const MUL_A: u64 = 0x9e37_79b9_7f4a_7c15;
/// The second multiplier of MurmurHash3's 64-bit finaliser.
const MUL_B: u64 = 0xc4ce_b9fe_1a85_ec53;

/// Hash of a connection's 5-tuple in word form (`FlowKey::words`), for its
/// slots in the flow cache and the handshake table: a multiply and a shift-xor per word and a short finaliser, about 25
/// instructions, where the ring's MurmurHash3 over the same bytes takes
/// about 80. Not keyed: someone who knows it can aim SYNs or packets at a
/// connection's slots, which costs that connection a cache miss or its
/// pending handshake (its ACK then follows the ring, as after an LB
/// failover), never a wrong backend: a copy is only trusted on the full
/// key, a handshake on the connection and its client's secret initial
/// sequence number.
#[inline(always)]
pub const fn tuple_hash(w: &[u64; 5]) -> u64 {
    let mut h = TUPLE_SEED;
    h = (h ^ w[0]).wrapping_mul(MUL_A);
    h ^= h >> 29;
    h = (h ^ w[1]).wrapping_mul(MUL_A);
    h ^= h >> 29;
    h = (h ^ w[2]).wrapping_mul(MUL_A);
    h ^= h >> 29;
    h = (h ^ w[3]).wrapping_mul(MUL_A);
    h ^= h >> 29;
    h = (h ^ w[4]).wrapping_mul(MUL_A);
    h ^= h >> 32;
    h = h.wrapping_mul(MUL_B);
    h ^ (h >> 29)
}

/// The flow-cache slot of a connection (`FLOW_CACHE_SIZE` slots): the top
/// bits of its [`tuple_hash`].
#[inline(always)]
pub const fn flow_cache_slot(tuple_hash: u64) -> u32 {
    (tuple_hash >> (64 - crate::consts::FLOW_CACHE_BITS)) as u32
}

/// The handshake-table slot of a connection (`HANDSHAKE_TABLE_SIZE` slots):
/// bits of its [`tuple_hash`] that neither the cache slot nor the check
/// use.
#[inline(always)]
pub const fn handshake_slot(tuple_hash: u64) -> u32 {
    (tuple_hash >> 32) as u32 & (crate::consts::HANDSHAKE_TABLE_SIZE - 1)
}

/// The check a flow-cache entry carries (`FlowCacheEntry::check`): the low
/// half of the [`tuple_hash`], which the slot index does not use.
#[inline(always)]
pub const fn flow_check(tuple_hash: u64) -> u32 {
    tuple_hash as u32
}

/// The 40-bit `Handshake` fingerprint of a connection whose client chose
/// initial sequence number `isn`: never 0 (an empty slot). Two attempts of
/// one 5-tuple differ in it (another ISN); a connection that merely shares
/// the slot matches with odds of one in 2^40.
#[inline(always)]
pub const fn handshake_fingerprint(tuple_hash: u64, isn: u32) -> u64 {
    let h = (tuple_hash ^ isn as u64).wrapping_mul(MUL_A) >> 24;
    if h == 0 { 1 } else { h }
}

/// MurmurHash3 x86_32 of arbitrary bytes (for the agent's Maglev
/// permutations; not used on the packet path).
pub fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    let mut h = seed;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        h = mix(h, u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut k = 0u32;
        for (i, b) in rest.iter().enumerate() {
            k |= (*b as u32) << (8 * i);
        }
        h ^= k
            .wrapping_mul(0xcc9e_2d51)
            .rotate_left(15)
            .wrapping_mul(0x1b87_3593);
    }
    finish(h, data.len() as u32)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::{collections::HashSet, vec, vec::Vec};

    use super::*;

    #[test]
    fn murmur3_matches_reference_vectors() {
        // Published MurmurHash3_x86_32 test vectors.
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"", 1), 0x514e_28b7);
        assert_eq!(murmur3_32(b"test", 0), 0xba6b_d213);
        assert_eq!(murmur3_32(b"Hello, world!", 1234), 0xfaf6_cdb3);
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog", 0),
            0x2e4f_f723
        );
    }

    /// The slots of many similar connections (one client, consecutive
    /// ports; consecutive clients, one port) spread over the whole table.
    #[test]
    fn tuple_hash_spreads_similar_connections() {
        let key = |client: u32, sport: u16| {
            let mut src = [0u8; 16];
            src[..4].copy_from_slice(&client.to_be_bytes());
            let mut dst = [0u8; 16];
            dst[..4].copy_from_slice(&[192, 0, 2, 100]);
            crate::FlowKey {
                src,
                dst,
                sport,
                dport: 5000,
                proto: 6,
                family: 4,
                _pad: [0; 2],
            }
        };
        let n = 1u32 << 16;
        for keys in [
            (0..n)
                .map(|i| key(0xc000_0201, i as u16))
                .collect::<Vec<_>>(),
            (0..n).map(|i| key(0x0a00_0000 + i, 40000)).collect(),
        ] {
            let mut buckets = vec![0u32; 256];
            let mut checks = HashSet::new();
            for k in &keys {
                let h = tuple_hash(&k.words());
                buckets[(flow_cache_slot(h) >> 8) as usize] += 1;
                checks.insert(flow_check(h));
            }
            // 256 buckets of 256 expected each: a fair spread stays well
            // within +-25%.
            let (lo, hi) = (
                *buckets.iter().min().unwrap(),
                *buckets.iter().max().unwrap(),
            );
            assert!(lo > 192 && hi < 320, "uneven slots: {lo}..{hi}");
            assert!(
                checks.len() as u32 > n - 8,
                "checks collide: {}",
                checks.len()
            );
        }
    }

    #[test]
    fn handshake_fingerprints_tell_attempts_apart() {
        let h = tuple_hash(&[1, 2, 3, 4, 5]);
        assert_ne!(handshake_fingerprint(h, 7), handshake_fingerprint(h, 8));
        assert_eq!(handshake_fingerprint(h, 7), handshake_fingerprint(h, 7));
        assert_ne!(handshake_fingerprint(h, 7), 0);
    }

    #[test]
    fn hash_source_is_murmur3_of_the_16_bytes() {
        let a = [192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(hash_source(&a, 7), murmur3_32(&a, 7));
        assert_ne!(hash_source(&a, 7), hash_source(&a, 8));
    }
}
