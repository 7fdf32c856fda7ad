//! Whether the maps pinned by an earlier agent can serve this build's
//! program, decided map by map: a pure [`plan`] from what the pins are
//! ([`PinnedView`]) and what the object declares ([`MapShape`] each).
//!
//! A pinned map is adopted only when both hold:
//! - its *shape* is the one the object declares: map type, key size, value
//!   size, max entries and flags, as the kernel reports them for the pin
//!   (`BPF_OBJ_GET_INFO_BY_FD`). A program verified against one value size
//!   and run on a map of another reads the wrong bytes or is rejected;
//! - its *meaning* is: the layout record beside the pins says which
//!   `LAYOUT_VERSION` wrote them, and each map says in which version it last
//!   changed (`regha_common::layout::PINNED_MAPS`), so a field that changed
//!   meaning at the same size is caught too.
//!
//! Any other pinned map is replaced by a new one, never reused:
//! - **copied** when only its size or flags differ (key and value unchanged):
//!   a map resized, say; its entries move to the new map;
//! - **fresh** otherwise: the new map starts empty and what it held is lost
//!   ([`loss`] says what that costs). A later layout change that must carry
//!   state across (a new value shape) adds its conversion where copying
//!   happens (`upgrade.rs`).
//!
//! Maps that name each other's ids travel together ([`CARRIED_WITH`]): a
//! flow entry holds a backend id, a service id and a generation, so when the
//! maps that give those ids their meaning start empty, so does the flow table.
//!
//! Not compared: the inner map template of `RINGS` (the kernel does not
//! report it for a pin); a change to it must bump `RINGS`' `changed_in`.
//! Nor the BTF of keys and values: a change of meaning is what the version
//! is for.

use std::{collections::BTreeMap, fmt};

use regha_common::{
    layout::{LAYOUT_VERSION, PinnedMap},
    map_names as m,
};

/// A map as the kernel sees it: what must agree for a program verified
/// against one map to be run against another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapShape {
    /// `enum bpf_map_type`.
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
}

/// `enum bpf_map_type` values of the maps regha uses (for the log).
const BPF_MAP_TYPE_HASH: u32 = 1;
const BPF_MAP_TYPE_ARRAY: u32 = 2;
const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
const BPF_MAP_TYPE_LRU_HASH: u32 = 9;
const BPF_MAP_TYPE_ARRAY_OF_MAPS: u32 = 12;
const BPF_MAP_TYPE_RINGBUF: u32 = 27;

fn type_name(t: u32) -> String {
    match t {
        BPF_MAP_TYPE_HASH => "hash".into(),
        BPF_MAP_TYPE_ARRAY => "array".into(),
        BPF_MAP_TYPE_PERCPU_ARRAY => "percpu_array".into(),
        BPF_MAP_TYPE_LRU_HASH => "lru_hash".into(),
        BPF_MAP_TYPE_ARRAY_OF_MAPS => "array_of_maps".into(),
        BPF_MAP_TYPE_RINGBUF => "ringbuf".into(),
        other => format!("type {other}"),
    }
}

/// Whether entries of a map of type `from` can be written one by one into a
/// map of type `to` with the same key and value: the same type, or a hash
/// becoming an LRU hash or back.
fn copyable(from: u32, to: u32) -> bool {
    let hash = |t| t == BPF_MAP_TYPE_HASH || t == BPF_MAP_TYPE_LRU_HASH;
    from == to || (hash(from) && hash(to))
}

impl MapShape {
    /// What differs from `want`, as `value size 24 -> 32, max entries ...`.
    pub fn diff(&self, want: &MapShape) -> String {
        let mut parts = Vec::new();
        if self.map_type != want.map_type {
            parts.push(format!(
                "type {} -> {}",
                type_name(self.map_type),
                type_name(want.map_type)
            ));
        }
        let mut num = |what: &str, have: u32, want: u32| {
            if have != want {
                parts.push(format!("{what} {have} -> {want}"));
            }
        };
        num("key size", self.key_size, want.key_size);
        num("value size", self.value_size, want.value_size);
        num("max entries", self.max_entries, want.max_entries);
        if self.flags != want.flags {
            parts.push(format!("flags {:#x} -> {:#x}", self.flags, want.flags));
        }
        parts.join(", ")
    }
}

/// The layout record found beside the pins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinnedVersion {
    /// No record: no pins at all, or pins older than the record (layout 1).
    Missing,
    Known(u32),
    /// A record this agent cannot read (another shape): nothing is trusted.
    Unreadable(String),
}

/// What the pin directory holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinnedView {
    pub version: PinnedVersion,
    /// Pin file name -> shape, for every pin of a map this build knows.
    pub maps: BTreeMap<String, MapShape>,
    /// Pins this build does not know (a map a newer layout added, or an
    /// older one removed): unpinned once the new program runs.
    pub unknown: Vec<String>,
}

/// What happens to one map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// The pinned map is reused as it is: everything in it survives.
    Adopt,
    /// There was no pin: the map is created (nothing to lose).
    Create,
    /// Replaced by a new map of the expected shape, its entries copied.
    Copy,
    /// Replaced by an empty new map: its contents are lost ([`loss`]).
    Fresh,
}

impl Fate {
    /// Whether the new map is built in the staging directory and moved over
    /// the old pin once the new program runs.
    pub fn staged(self) -> bool {
        matches!(self, Fate::Copy | Fate::Fresh)
    }
}

/// One map's decision, and why (for the log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapPlan {
    pub map: PinnedMap,
    pub fate: Fate,
    /// What differs, when the map is not adopted as it is.
    pub change: Option<String>,
}

/// The decision for every map of the pin directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutPlan {
    /// The layout the pins are of (`None`: there were no pins).
    pub pinned: Option<u32>,
    pub maps: Vec<MapPlan>,
    /// Pins to remove once the new program runs.
    pub unknown: Vec<String>,
}

/// A map whose entries hold ids or generations that another map gives their
/// meaning: carried over only with all of those (else it starts empty too).
pub const CARRIED_WITH: [(&str, &[&str]); 13] = [
    (m::SERVICE_GENS, &[m::SERVICES]),
    (m::SERVICE_PORTS, &[m::SERVICES]),
    (m::RINGS, &[m::SERVICES, m::BACKENDS]),
    (m::FLOWS, &[m::SERVICES, m::SERVICE_GENS, m::BACKENDS]),
    (m::SERVICE_STATS, &[m::SERVICES]),
    (m::BACKEND_STATS, &[m::BACKENDS]),
    (
        m::FLOW_CACHE,
        &[m::FLOWS, m::SERVICES, m::SERVICE_GENS, m::BACKENDS],
    ),
    (m::HANDSHAKES, &[m::SERVICES, m::SERVICE_GENS, m::BACKENDS]),
    (m::BACKEND_SIGNALS, &[m::BACKENDS]),
    (m::ALLOW, &[m::SERVICES]),
    (m::SERVICE_ALLOW, &[m::SERVICES, m::SERVICE_GENS]),
    (m::SERVICE_DENIED, &[m::SERVICES]),
    // Its events name this host's service and backend ids.
    (m::FLOW_EVENTS, &[m::SERVICES, m::SERVICE_GENS, m::BACKENDS]),
];

/// What a map's contents are worth, said when it is replaced empty.
pub fn loss(name: &str) -> &'static str {
    match name {
        m::FLOWS => {
            "established flows re-hash on their next packet: they stay on their backend unless its ring slot moved since they began"
        }
        m::SERVICE_STATS
        | m::BACKEND_STATS
        | m::BACKEND_SIGNALS
        | m::REASONS
        | m::SERVICE_DENIED
        | m::SYNC_LOST => "counters restart from zero (a counter reset to Prometheus)",
        m::FLOW_EVENTS => {
            "recorded flows not yet read by the agent: they are not sent to the peer LBs"
        }
        m::FLOW_CACHE => {
            "copies of flow-table entries: established packets read the flow table until they are cached again"
        }
        m::HANDSHAKES => {
            "handshakes in progress: their ACKs follow the ring (the same backend, unless the ring changed since their SYN)"
        }
        _ => {
            "rewritten by the agent from its config and health checks; until its first reconcile, packets to the services pass to the stack"
        }
    }
}

/// Decides each map's fate from `pinned`, for an object that declares the
/// maps `expected` (in `PINNED_MAPS` order).
pub fn plan(expected: &[(PinnedMap, MapShape)], pinned: &PinnedView) -> LayoutPlan {
    if pinned.maps.is_empty() && pinned.version == PinnedVersion::Missing {
        return LayoutPlan {
            pinned: None,
            maps: expected
                .iter()
                .map(|(map, _)| MapPlan {
                    map: *map,
                    fate: Fate::Create,
                    change: None,
                })
                .collect(),
            unknown: pinned.unknown.clone(),
        };
    }
    // Pins without a record predate it: they are layout 1.
    let (version, distrust) = match &pinned.version {
        PinnedVersion::Missing => (1, None),
        PinnedVersion::Known(v) if *v > LAYOUT_VERSION => (
            *v,
            Some(format!(
                "pinned by layout {v}, newer than this agent's {LAYOUT_VERSION}"
            )),
        ),
        PinnedVersion::Known(v) => (*v, None),
        PinnedVersion::Unreadable(why) => (0, Some(format!("layout record unreadable: {why}"))),
    };
    let mut maps: Vec<MapPlan> = expected
        .iter()
        .map(|(map, want)| {
            let (fate, change) = match pinned.maps.get(map.pin) {
                None => (Fate::Create, None),
                Some(_) if distrust.is_some() => (Fate::Fresh, distrust.clone()),
                Some(_) if version < map.changed_in => (
                    Fate::Fresh,
                    Some(format!(
                        "changed in layout {}, pins are layout {version}",
                        map.changed_in
                    )),
                ),
                Some(have) if have == want => (Fate::Adopt, None),
                Some(have) => {
                    let same_entries = have.key_size == want.key_size
                        && have.value_size == want.value_size
                        && copyable(have.map_type, want.map_type);
                    let fate = if same_entries {
                        Fate::Copy
                    } else {
                        Fate::Fresh
                    };
                    (fate, Some(have.diff(want)))
                }
            };
            MapPlan {
                map: *map,
                fate,
                change,
            }
        })
        .collect();
    // Ids travel with the maps that define them; repeat until nothing moves
    // (the dependencies are two levels deep at most).
    loop {
        let empty: Vec<&str> = maps
            .iter()
            .filter(|p| matches!(p.fate, Fate::Fresh | Fate::Create))
            .map(|p| p.map.name)
            .collect();
        let mut changed = false;
        for p in maps.iter_mut() {
            let Some((_, needs)) = CARRIED_WITH.iter().find(|(n, _)| *n == p.map.name) else {
                continue;
            };
            if matches!(p.fate, Fate::Adopt | Fate::Copy)
                && let Some(dep) = needs.iter().find(|d| empty.contains(d))
            {
                p.fate = Fate::Fresh;
                p.change = Some(format!("holds ids of {dep}, which starts empty"));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    LayoutPlan {
        pinned: Some(version),
        maps,
        unknown: pinned.unknown.clone(),
    }
}

impl LayoutPlan {
    /// Whether there were pins and every one is adopted as it is.
    pub fn compatible(&self) -> bool {
        self.pinned.is_some()
            && self.maps.iter().all(|p| p.fate == Fate::Adopt)
            && self.unknown.is_empty()
    }

    /// The maps built in the staging directory.
    pub fn staged(&self) -> impl Iterator<Item = &MapPlan> {
        self.maps.iter().filter(|p| p.fate.staged())
    }

    pub fn fate(&self, name: &str) -> Option<Fate> {
        self.maps
            .iter()
            .find(|p| p.map.name == name)
            .map(|p| p.fate)
    }
}

/// The changes, one clause per map not adopted as it is:
/// `BACKEND_STATS (value size 32 -> 24): fresh; flows: copied`.
impl fmt::Display for LayoutPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for p in self.maps.iter().filter(|p| p.fate != Fate::Adopt) {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            let fate = match p.fate {
                Fate::Adopt => "adopted",
                Fate::Create => "created",
                Fate::Copy => "copied",
                Fate::Fresh => "replaced empty",
            };
            match &p.change {
                Some(c) => write!(f, "{} ({c}): {fate}", p.map.name)?,
                None => write!(f, "{}: {fate}", p.map.name)?,
            }
        }
        for u in &self.unknown {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "unknown pin {u}: removed")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use regha_common::layout::PINNED_MAPS;

    use super::*;

    fn shape(value_size: u32, max_entries: u32) -> MapShape {
        MapShape {
            map_type: BPF_MAP_TYPE_ARRAY,
            key_size: 4,
            value_size,
            max_entries,
            flags: 0,
        }
    }

    fn expected() -> Vec<(PinnedMap, MapShape)> {
        PINNED_MAPS.iter().map(|m| (*m, shape(8, 16))).collect()
    }

    fn pins(version: PinnedVersion, f: impl Fn(&str) -> Option<MapShape>) -> PinnedView {
        PinnedView {
            version,
            maps: PINNED_MAPS
                .iter()
                .filter_map(|m| Some((m.pin.to_owned(), f(m.name)?)))
                .collect(),
            unknown: vec![],
        }
    }

    fn fates(p: &LayoutPlan) -> Vec<(&'static str, Fate)> {
        p.maps
            .iter()
            .filter(|m| m.fate != Fate::Adopt)
            .map(|m| (m.map.name, m.fate))
            .collect()
    }

    #[test]
    fn no_pins_create_everything() {
        let p = plan(&expected(), &pins(PinnedVersion::Missing, |_| None));
        assert_eq!(p.pinned, None);
        assert!(p.maps.iter().all(|m| m.fate == Fate::Create));
        assert_eq!(p.staged().count(), 0);
    }

    #[test]
    fn pins_of_this_layout_and_shape_are_adopted() {
        let current = PinnedVersion::Known(LAYOUT_VERSION);
        let p = plan(&expected(), &pins(current, |_| Some(shape(8, 16))));
        assert_eq!(fates(&p), vec![]);
        assert!(p.compatible());
        assert_eq!(p.to_string(), "");
    }

    #[test]
    fn pins_without_a_record_are_layout_1() {
        let p = plan(
            &expected(),
            &pins(PinnedVersion::Missing, |_| Some(shape(8, 16))),
        );
        assert_eq!(p.pinned, Some(1));
        // Read as layout 1: the maps unchanged since are adopted, a map of
        // the same name and shape that changed since is not trusted.
        for m in &p.maps {
            let want = if m.map.changed_in <= 1 {
                Fate::Adopt
            } else {
                Fate::Fresh
            };
            assert_eq!(m.fate, want, "{}", m.map.name);
        }
    }

    /// (what the pin of one map looks like, its fate, the others' fates)
    #[test]
    fn a_changed_map_is_copied_or_replaced_and_takes_its_dependents_along() {
        type Case = (&'static str, MapShape, Fate, Vec<(&'static str, Fate)>);
        let cases: Vec<Case> = vec![
            // Counters grew a field: they restart; nothing depends on them.
            (
                m::BACKEND_STATS,
                shape(16, 16),
                Fate::Fresh,
                vec![(m::BACKEND_STATS, Fate::Fresh)],
            ),
            // The flow table resized: its entries move over.
            (
                m::FLOWS,
                shape(8, 4096),
                Fate::Copy,
                vec![(m::FLOWS, Fate::Copy)],
            ),
            // Only the flags (BPF_F_MMAPABLE missing, say): copied.
            (
                m::BACKENDS,
                MapShape {
                    flags: 1 << 10,
                    ..shape(8, 16)
                },
                Fate::Copy,
                vec![(m::BACKENDS, Fate::Copy)],
            ),
            // The backend value changed: ids start over, so rings, flows and
            // backend counters cannot be carried.
            (
                m::BACKENDS,
                shape(40, 16),
                Fate::Fresh,
                vec![
                    (m::RINGS, Fate::Fresh),
                    (m::BACKENDS, Fate::Fresh),
                    (m::FLOWS, Fate::Fresh),
                    (m::BACKEND_STATS, Fate::Fresh),
                    (m::FLOW_CACHE, Fate::Fresh),
                    (m::HANDSHAKES, Fate::Fresh),
                    (m::BACKEND_SIGNALS, Fate::Fresh),
                    (m::FLOW_EVENTS, Fate::Fresh),
                ],
            ),
            // Generations lost: flows recorded under them are not carried,
            // nor copies of them, nor handshakes steered under them, nor
            // which of them an allow-list reload kept.
            (
                m::SERVICE_GENS,
                shape(4, 16),
                Fate::Fresh,
                vec![
                    (m::SERVICE_GENS, Fate::Fresh),
                    (m::FLOWS, Fate::Fresh),
                    (m::FLOW_CACHE, Fate::Fresh),
                    (m::HANDSHAKES, Fate::Fresh),
                    (m::SERVICE_ALLOW, Fate::Fresh),
                    (m::FLOW_EVENTS, Fate::Fresh),
                ],
            ),
            // The flow table replaced empty: so are the cache's copies of it.
            (
                m::FLOWS,
                shape(12, 16),
                Fate::Fresh,
                vec![(m::FLOWS, Fate::Fresh), (m::FLOW_CACHE, Fate::Fresh)],
            ),
        ];
        for (changed, pinned_shape, fate, others) in cases {
            let view = pins(PinnedVersion::Known(LAYOUT_VERSION), |n| {
                Some(if n == changed {
                    pinned_shape
                } else {
                    shape(8, 16)
                })
            });
            let p = plan(&expected(), &view);
            assert_eq!(p.fate(changed), Some(fate), "{changed}");
            assert_eq!(fates(&p), others, "{changed}");
            assert!(!p.compatible());
        }
    }

    /// Layout 1 to 2 (issue 13): the maps it had are adopted, the flow table
    /// with every flow in it; the flow cache, the handshake table and the
    /// signals are created.
    #[test]
    fn an_upgrade_from_layout_1_keeps_the_flows_and_creates_the_new_maps() {
        let added = [
            m::FLOW_CACHE,
            m::HANDSHAKES,
            m::BACKEND_SIGNALS,
            m::ALLOW,
            m::SERVICE_ALLOW,
            m::SERVICE_DENIED,
            m::FLOW_EVENTS,
            m::SYNC_LOST,
        ];
        for record in [PinnedVersion::Missing, PinnedVersion::Known(1)] {
            let view = pins(record, |n| (!added.contains(&n)).then_some(shape(8, 16)));
            let p = plan(&expected(), &view);
            assert_eq!(p.pinned, Some(1));
            assert_eq!(
                fates(&p),
                added.iter().map(|n| (*n, Fate::Create)).collect::<Vec<_>>()
            );
            assert_eq!(p.fate(m::FLOWS), Some(Fate::Adopt));
        }
    }

    /// Layout 2 to 3 (issue 18): every map of layout 2 is adopted, flows
    /// included; `REASONS`, one slot longer, is copied with its counters;
    /// the allow-list maps are created.
    #[test]
    fn an_upgrade_from_layout_2_keeps_the_flows_and_the_counters() {
        let added = [
            m::ALLOW,
            m::SERVICE_ALLOW,
            m::SERVICE_DENIED,
            m::FLOW_EVENTS,
            m::SYNC_LOST,
        ];
        let view = pins(PinnedVersion::Known(2), |n| {
            if added.contains(&n) {
                None
            } else if n == m::REASONS {
                Some(shape(8, 15))
            } else {
                Some(shape(8, 16))
            }
        });
        let p = plan(&expected(), &view);
        assert_eq!(p.pinned, Some(2));
        let mut want = vec![(m::REASONS, Fate::Copy)];
        want.extend(added.iter().map(|n| (*n, Fate::Create)));
        let mut got = fates(&p);
        got.sort_by_key(|(n, _)| *n);
        want.sort_by_key(|(n, _)| *n);
        assert_eq!(got, want);
        assert_eq!(p.fate(m::FLOWS), Some(Fate::Adopt));
    }

    /// Layout 3 to 4 (issue 16): every map of layout 3 is adopted, flows
    /// included; the flow sync's ring buffer and its loss counter are
    /// created.
    #[test]
    fn an_upgrade_from_layout_3_keeps_everything_and_creates_the_sync_maps() {
        let added = [m::FLOW_EVENTS, m::SYNC_LOST];
        let view = pins(PinnedVersion::Known(3), |n| {
            (!added.contains(&n)).then_some(shape(8, 16))
        });
        let p = plan(&expected(), &view);
        assert_eq!(p.pinned, Some(3));
        assert_eq!(
            fates(&p),
            added.iter().map(|n| (*n, Fate::Create)).collect::<Vec<_>>()
        );
        assert_eq!(p.fate(m::FLOWS), Some(Fate::Adopt));
    }

    #[test]
    fn the_log_says_which_map_and_what_changed() {
        let view = pins(PinnedVersion::Known(LAYOUT_VERSION), |n| {
            Some(if n == m::BACKEND_STATS {
                shape(32, 16)
            } else {
                shape(8, 16)
            })
        });
        let p = plan(&expected(), &view);
        assert_eq!(
            p.to_string(),
            "BACKEND_STATS (value size 32 -> 8): replaced empty"
        );
    }

    #[test]
    fn a_newer_or_unreadable_layout_is_trusted_for_nothing() {
        for version in [
            PinnedVersion::Known(LAYOUT_VERSION + 1),
            PinnedVersion::Unreadable("value size 8".into()),
        ] {
            let p = plan(&expected(), &pins(version.clone(), |_| Some(shape(8, 16))));
            assert!(
                p.maps.iter().all(|m| m.fate == Fate::Fresh),
                "{version:?}: {p}"
            );
        }
    }

    #[test]
    fn a_map_missing_from_the_pins_is_created_and_unknown_pins_go() {
        let mut view = pins(PinnedVersion::Known(LAYOUT_VERSION), |n| {
            (n != m::REASONS).then_some(shape(8, 16))
        });
        view.unknown = vec!["old_map".into()];
        let p = plan(&expected(), &view);
        assert_eq!(fates(&p), vec![(m::REASONS, Fate::Create)]);
        assert!(!p.compatible());
        assert_eq!(
            p.to_string(),
            "REASONS: created; unknown pin old_map: removed"
        );
    }

    #[test]
    fn every_dependency_names_pinned_maps() {
        let known = |n: &str| PINNED_MAPS.iter().any(|m| m.name == n);
        for (map, deps) in CARRIED_WITH {
            assert!(known(map), "{map}");
            assert!(deps.iter().all(|d| known(d)), "{map}: {deps:?}");
        }
    }
}
