//! Primes for Maglev table sizes. The config refuses a `ring_size` that is
//! not prime (and suggests one), and the agent's Maglev builder refuses it
//! again; both ask here, so the rule and the suggestion cannot drift apart.

/// The largest prime representable in a `u32`.
pub const LARGEST_U32_PRIME: u32 = 4_294_967_291;

/// Whether `n` is prime (trial division by 2, 3 and 6k +- 1; at most ~22k
/// divisions for any `u32`, which is nothing next to building a table).
pub fn is_prime(n: u32) -> bool {
    if n < 4 {
        return n >= 2;
    }
    if n.is_multiple_of(2) || n.is_multiple_of(3) {
        return false;
    }
    let n = u64::from(n);
    let mut d = 5u64;
    while d * d <= n {
        if n.is_multiple_of(d) || n.is_multiple_of(d + 2) {
            return false;
        }
        d += 6;
    }
    true
}

/// The smallest prime `>= n`. For `n` above 4_294_967_291, the largest prime
/// below 2^32, there is none in a `u32` and this returns 0 (which
/// [`is_prime`] rejects), rather than panicking.
pub fn next_prime(n: u32) -> u32 {
    if n > LARGEST_U32_PRIME {
        return 0;
    }
    (n.max(2)..=LARGEST_U32_PRIME)
        .find(|&k| is_prime(k))
        .unwrap_or(0)
}

/// The largest prime `<= n`, or 0 when there is none (`n < 2`).
pub fn prev_prime(n: u32) -> u32 {
    (2..=n).rev().find(|&k| is_prime(k)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use regha_common::MAX_RING_SIZE;

    use super::*;

    #[test]
    fn primes() {
        // Against a sieve for the small range.
        let limit = 10_000usize;
        let mut sieve = vec![true; limit];
        sieve[0] = false;
        sieve[1] = false;
        for i in 2..limit {
            if sieve[i] {
                for j in (i * i..limit).step_by(i) {
                    sieve[j] = false;
                }
            }
        }
        for (n, &p) in sieve.iter().enumerate() {
            assert_eq!(is_prime(n as u32), p, "{n}");
        }
        assert!(is_prime(65_537));
        assert!(is_prime(LARGEST_U32_PRIME));
        assert!(!is_prime(u32::MAX));
        assert!(!is_prime(MAX_RING_SIZE));
        assert_eq!(next_prime(0), 2);
        assert_eq!(next_prime(2), 2);
        assert_eq!(next_prime(65_536), 65_537);
        assert_eq!(next_prime(65_537), 65_537);
        assert_eq!(next_prime(LARGEST_U32_PRIME), LARGEST_U32_PRIME);
        assert_eq!(next_prime(LARGEST_U32_PRIME + 1), 0);
        assert_eq!(prev_prime(MAX_RING_SIZE), 16_777_213);
        assert_eq!((prev_prime(1), prev_prime(2)), (0, 2));
    }
}
