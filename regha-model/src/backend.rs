//! A backend seen three ways: what the dataplane does with it
//! ([`BackendState`]), what the health checks say ([`Health`]) and what an
//! operator asked ([`AdminState`]). The reconciler derives the first from
//! the other two.

use regha_common::{BACKEND_DOWN, BACKEND_DRAINING, BACKEND_UP};

words! {
    /// Whether a backend takes flows, as the dataplane's `BACKENDS` map holds it.
    pub enum BackendState ("backend state") {
        /// New and existing flows.
        Up = "up",
        /// Existing flows only (flow-table hits); out of the ring.
        Draining = "draining",
        /// Nothing: out of the ring, and flow-table entries pointing at it
        /// are ignored.
        Down = "down",
    }
}

impl BackendState {
    /// The `Backend::state` byte the XDP program reads.
    pub const fn wire(self) -> u8 {
        match self {
            Self::Up => BACKEND_UP,
            Self::Draining => BACKEND_DRAINING,
            Self::Down => BACKEND_DOWN,
        }
    }

    /// The state a `Backend::state` byte means; the program treats every
    /// unknown value as down, and so does this.
    pub const fn from_wire(b: u8) -> Self {
        match b {
            BACKEND_UP => Self::Up,
            BACKEND_DRAINING => Self::Draining,
            _ => Self::Down,
        }
    }
}

words! {
    /// The health checks' verdict on one backend.
    #[derive(Default)]
    pub enum Health ("health") {
        /// No check has completed yet: no traffic, and the first result
        /// decides at once.
        #[default]
        Unknown = "unknown",
        Up = "up",
        Down = "down",
    }
}

words! {
    /// What an operator asked for one backend (`regha-agent backend ...`).
    #[derive(Default)]
    pub enum AdminState ("admin state") {
        /// Health checks decide (the default).
        #[default]
        Enabled = "enabled",
        /// Existing flows only, until `enable`.
        Drain = "drain",
        /// Nothing, until `enable`.
        Disabled = "disabled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_round_trip() {
        for s in BackendState::ALL {
            assert_eq!(BackendState::from_wire(s.wire()), *s);
        }
        assert_eq!(BackendState::from_wire(77), BackendState::Down);
    }
}
