//! VRRP (RFC 3768 v2, RFC 5798 v3) as keepalived speaks it, so regha and
//! keepalived can share a VRID while a cluster migrates:
//! - `packet.rs`: the codec (pure), with every receive check;
//! - `state.rs`: the state machine (pure: events in, actions out);
//! - `network.rs`: the raw socket;
//! - `instance.rs`: the task that ties them together and owns the VIPs.

mod instance;
pub mod network;
pub mod packet;
pub mod state;

pub use instance::{InstanceHandle, Tracked, VrrpStatus, role_of, start};

/// keepalived's tracking arithmetic for a tracked condition with `weight`:
/// a positive weight is added while the condition holds, a negative one
/// while it fails, and weight 0 means FAULT while it fails. The result is
/// kept in 1..=254; an address owner (255) is never changed.
pub fn effective_priority(base: u8, weight: i32, condition_ok: bool) -> Tracked {
    if base == 255 {
        return Tracked::Priority(255);
    }
    let delta = match (weight, condition_ok) {
        (0, false) => return Tracked::Fault,
        (w, true) if w > 0 => w,
        (w, false) if w < 0 => w,
        _ => 0,
    };
    Tracked::Priority((i32::from(base) + delta).clamp(1, 254) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_follows_keepalived_weights() {
        assert_eq!(effective_priority(101, -50, true), Tracked::Priority(101));
        assert_eq!(effective_priority(101, -50, false), Tracked::Priority(51));
        assert_eq!(effective_priority(100, 2, true), Tracked::Priority(102));
        assert_eq!(effective_priority(100, 2, false), Tracked::Priority(100));
        assert_eq!(effective_priority(100, 0, false), Tracked::Fault);
        assert_eq!(effective_priority(100, 0, true), Tracked::Priority(100));
        assert_eq!(
            effective_priority(20, -50, false),
            Tracked::Priority(1),
            "clamped"
        );
        assert_eq!(
            effective_priority(250, 20, true),
            Tracked::Priority(254),
            "clamped"
        );
        assert_eq!(
            effective_priority(255, -50, false),
            Tracked::Priority(255),
            "owner"
        );
    }
}
