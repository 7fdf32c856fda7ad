//! VRRP as the config, the protocol code and the status document all name
//! it, and the role that follows from it.

words! {
    /// VRRP protocol version.
    #[derive(Default)]
    pub enum VrrpVersion ("VRRP version") {
        /// RFC 3768: IPv4, whole-second adverts, optional simple password.
        #[default]
        V2 = "2",
        /// RFC 5798: IPv4 or IPv6, centisecond adverts, no authentication.
        V3 = "3",
    }
}

impl VrrpVersion {
    /// The version field of the VRRP header.
    pub const fn number(self) -> u8 {
        match self {
            Self::V2 => 2,
            Self::V3 => 3,
        }
    }

    pub const fn from_number(n: u8) -> Option<Self> {
        match n {
            2 => Some(Self::V2),
            3 => Some(Self::V3),
            _ => None,
        }
    }
}

words! {
    /// Protocol state of one virtual router (RFC 5798 §6.4, plus
    /// keepalived's FAULT).
    pub enum VrrpState ("VRRP state") {
        /// Not running: before startup and after shutdown.
        Initialize = "initialize",
        /// Watching the master; takes over when its down timer runs out.
        Backup = "backup",
        /// Holding the VIPs and advertising.
        Master = "master",
        /// Started, but the interface (or a tracked object) is down: sends
        /// nothing, holds nothing, runs no timer.
        Fault = "fault",
    }
}

words! {
    /// Whether this host holds a VIP: the consequence of a VRRP state, or
    /// a static role.
    pub enum Role ("role") {
        /// Holds the VIPs.
        Master = "master",
        /// Steers what reaches it, holds no VIP.
        Backup = "backup",
    }
}

impl VrrpState {
    /// The role a host in this state plays: only a master holds the VIPs.
    pub const fn role(self) -> Role {
        match self {
            Self::Master => Role::Master,
            _ => Role::Backup,
        }
    }
}

words! {
    /// The address family of a VRRP instance (its VIPs, its adverts). A
    /// virtual router is identified by its VRID *and* family (RFC 5798
    /// section 5.2.3: IPv4 and IPv6 routers have separate VRID spaces and
    /// virtual MACs), so one interface may run VRID 51 in both.
    pub enum IpFamily ("address family") {
        Ipv4 = "ipv4",
        Ipv6 = "ipv6",
    }
}

impl IpFamily {
    pub const fn of(ip: std::net::IpAddr) -> Self {
        match ip {
            std::net::IpAddr::V4(_) => Self::Ipv4,
            std::net::IpAddr::V6(_) => Self::Ipv6,
        }
    }
}

/// One virtual router on an interface: its family and VRID, what VRRP
/// itself tells instances apart by. The agent keys its instances by it;
/// their names are for people.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct VirtualRouter {
    pub family: IpFamily,
    pub vrid: u8,
}

impl std::fmt::Display for VirtualRouter {
    /// `51/ipv4`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.vrid, self.family)
    }
}
