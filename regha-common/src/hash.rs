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

    #[test]
    fn hash_source_is_murmur3_of_the_16_bytes() {
        let a = [192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(hash_source(&a, 7), murmur3_32(&a, 7));
        assert_ne!(hash_source(&a, 7), hash_source(&a, 8));
    }
}
