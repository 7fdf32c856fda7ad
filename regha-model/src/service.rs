//! What a service is: the transport it carries, what picks its backend, how
//! packets reach the backend, and the identities the agent keys services
//! and backends by (the same on every LB host, unlike dataplane ids).

use std::net::{IpAddr, SocketAddr};

use regha_common::{PROTO_TCP, PROTO_UDP};
use serde::{Deserialize, Serialize};

words! {
    /// Transport protocol of a service.
    pub enum Protocol ("protocol") {
        Tcp = "tcp",
        Udp = "udp",
    }
}

impl Protocol {
    /// The IP protocol number, as the maps key services.
    pub const fn number(self) -> u8 {
        match self {
            Self::Tcp => PROTO_TCP,
            Self::Udp => PROTO_UDP,
        }
    }

    /// The protocol of an IP protocol number the dataplane steers.
    pub const fn from_number(n: u8) -> Option<Self> {
        match n {
            PROTO_TCP => Some(Self::Tcp),
            PROTO_UDP => Some(Self::Udp),
            _ => None,
        }
    }
}

words! {
    /// What part of a packet picks the backend.
    pub enum HashMode ("hash mode") {
        /// The client's source address: all its connections on one backend
        /// (HAProxy's `balance source`), IPv4 fragments included.
        Source = "source",
        /// The 5-tuple: connections of one client spread over backends.
        Flow = "flow",
    }
}

words! {
    /// How packets reach a backend.
    pub enum Forwarding ("forwarding mode") {
        /// Direct server return at L2: only the destination MAC is
        /// rewritten, so a backend holds the VIP on `lo` and answers the
        /// client itself.
        Dsr = "dsr",
    }
}

/// A service as the dataplane keys it: `VIP:port/protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ServiceIdentity {
    pub vip: IpAddr,
    pub port: u16,
    pub protocol: Protocol,
}

impl std::fmt::Display for ServiceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}",
            SocketAddr::new(self.vip, self.port),
            self.protocol
        )
    }
}

/// A backend of one service. A host that serves two services is two
/// backends: each has its own health, state and dataplane id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BackendIdentity {
    pub service: ServiceIdentity,
    pub addr: SocketAddr,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_unknown_words_list_the_choices() {
        for p in Protocol::ALL {
            assert_eq!(p.as_str().parse::<Protocol>().unwrap(), *p);
            assert_eq!(Protocol::from_number(p.number()), Some(*p));
        }
        let e = "sctp".parse::<Protocol>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown protocol \"sctp\": expected one of tcp, udp"
        );
        assert_eq!(serde_json::to_string(&HashMode::Flow).unwrap(), "\"flow\"");
        assert_eq!(
            serde_json::from_str::<HashMode>("\"source\"").unwrap(),
            HashMode::Source
        );
        assert!(serde_json::from_str::<HashMode>("\"Source\"").is_err());
    }

    #[test]
    fn a_service_displays_as_an_operator_writes_it() {
        let s = ServiceIdentity {
            vip: "2001:db8::100".parse().unwrap(),
            port: 5000,
            protocol: Protocol::Tcp,
        };
        assert_eq!(s.to_string(), "[2001:db8::100]:5000/tcp");
    }
}
