//! An IP network as people write it: `192.0.2.0/24`, `2001:db8::/32`, or a
//! bare address (one host).

use std::{fmt, net::IpAddr, str::FromStr};

/// A source network: an address and how many of its leading bits count.
/// Always in canonical form (the bits past the prefix are zero), so two
/// spellings of one network compare equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpPrefix {
    addr: IpAddr,
    len: u8,
}

/// Why a text is not an IP network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadPrefix {
    pub text: String,
    pub why: &'static str,
}

impl fmt::Display for BadPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not an IP network ({}): write ADDRESS/LENGTH, e.g. 198.51.100.0/24 or 2001:db8::/32, or a bare address for one host",
            self.text, self.why
        )
    }
}

impl std::error::Error for BadPrefix {}

impl IpPrefix {
    /// The network of `addr` with `len` leading bits; `None` if `len` is
    /// longer than the address.
    pub fn new(addr: IpAddr, len: u8) -> Option<Self> {
        let bits = max_len(addr);
        (len <= bits).then(|| Self {
            addr: masked(addr, len),
            len,
        })
    }

    /// The network's first address (the host bits cleared).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// Whether this is `0.0.0.0/0` or `::/0`.
    pub fn is_everything(&self) -> bool {
        self.len == 0
    }

    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// Whether `ip` lies in this network (another family never does).
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && masked(ip, self.len) == self.addr
    }
}

fn max_len(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

fn masked(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for IpPrefix {
    type Err = BadPrefix;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why| BadPrefix {
            text: s.to_owned(),
            why,
        };
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad("not an IP address"))?;
        let len = match len {
            None => max_len(addr),
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|&l| l <= max_len(addr))
                .ok_or_else(|| {
                    bad(if addr.is_ipv4() {
                        "the length must be 0 to 32"
                    } else {
                        "the length must be 0 to 128"
                    })
                })?,
        };
        let p = Self::new(addr, len).ok_or_else(|| bad("length too long"))?;
        if p.addr != addr {
            return Err(bad("bits set past the prefix length"));
        }
        Ok(p)
    }
}

impl serde::Serialize for IpPrefix {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for IpPrefix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_networks_and_hosts_and_refuses_the_rest() {
        let p: IpPrefix = "198.51.100.0/24".parse().unwrap();
        assert_eq!(p.to_string(), "198.51.100.0/24");
        assert!(p.contains("198.51.100.7".parse().unwrap()));
        assert!(!p.contains("198.51.101.7".parse().unwrap()));
        assert!(!p.contains("2001:db8::1".parse().unwrap()));
        assert_eq!(
            "192.0.2.9".parse::<IpPrefix>().unwrap().to_string(),
            "192.0.2.9/32"
        );
        assert_eq!(
            "2001:db8::/32".parse::<IpPrefix>().unwrap().prefix_len(),
            32
        );
        assert!("0.0.0.0/0".parse::<IpPrefix>().unwrap().is_everything());
        for bad in [
            "198.51.100.1/24",
            "198.51.100.0/33",
            "2001:db8::/129",
            "office",
            "10.0.0.0/x",
            "",
        ] {
            assert!(bad.parse::<IpPrefix>().is_err(), "{bad}");
        }
    }
}
