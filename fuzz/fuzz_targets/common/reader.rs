//! Reads a fuzz input as fields: bytes off the front, zeros once it runs
//! out, so that every input describes some message. Shared by the targets
//! that build messages field by field (`#[path]`-included: each target is
//! its own binary); a target uses the readers it needs.
#![allow(dead_code)]

use std::net::{Ipv4Addr, Ipv6Addr};

/// Reads bytes off the input, zeros once it runs out.
pub struct Reader<'a>(pub &'a [u8]);

impl Reader<'_> {
    pub fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    pub fn u64(&mut self) -> u64 {
        let mut o = [0u8; 8];
        o.iter_mut().for_each(|b| *b = self.byte());
        u64::from_be_bytes(o)
    }

    pub fn v4(&mut self) -> Ipv4Addr {
        Ipv4Addr::new(self.byte(), self.byte(), self.byte(), self.byte())
    }

    pub fn v6(&mut self) -> Ipv6Addr {
        let mut o = [0u8; 16];
        o.iter_mut().for_each(|b| *b = self.byte());
        Ipv6Addr::from(o)
    }
}
