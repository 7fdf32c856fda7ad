//! The pin directory's side of a layout change (`layout.rs` decides): what
//! the pins are, the staging directory where replacement maps are built,
//! copying entries into them, and moving them into place.
//!
//! A replacement, in order (`Dataplane::load_object` and `attach`):
//! 1. the new program is loaded with the adopted maps at their pins and
//!    every replaced map pinned in `staging/` (the old pins stay: the old
//!    program is still steering through them);
//! 2. entries are copied into the maps that can take them;
//! 3. the new program replaces the old one behind the pinned link, in one
//!    step (`bpf_link_update`): every packet runs one program or the other,
//!    each with a complete set of maps;
//! 4. [`commit`]: each staged pin is renamed over the old one (a rename
//!    within bpffs replaces the target atomically), unknown pins go, and
//!    the layout record is written last.
//!
//! A crash anywhere before 4 leaves the old pins (with the old record)
//! beside a stale `staging/`: the next start clears it and does it again.
//! A crash during 4 leaves the old record beside some new pins: the next
//! start replaces whatever it cannot trust again; nothing old is adopted as
//! new.

use std::{
    collections::BTreeMap,
    io::ErrorKind,
    path::{Path, PathBuf},
};

use aya::{
    Pod,
    maps::{Array, ArrayOfMaps, HashMap, Map, MapData, MapError, MapInfo, PerCpuArray},
};
use regha_common::{
    Backend, Counters, FlowKey, FlowValue, ServiceKey, ServiceValue, Signals,
    layout::{LAYOUT_PIN, LAYOUT_VERSION, PINNED_MAPS, PinnedMap},
    map_names as m,
};

use super::{
    DataplaneError,
    layout::{Fate, LayoutPlan, MapShape, PinnedVersion, PinnedView, loss},
    maps::map_err,
};
use tracing::{info, warn};

/// Sub-directory of the pin directory where replacement maps are built.
pub const STAGING_DIR: &str = "staging";
/// File name of the pinned link inside the pin directory.
pub const LINK_PIN: &str = "link";
/// `BPF_MAP_TYPE_ARRAY`, for the layout record.
const BPF_MAP_TYPE_ARRAY: u32 = 2;

fn pin_dir_err(path: &Path) -> impl FnOnce(std::io::Error) -> DataplaneError + '_ {
    move |source| DataplaneError::PinDir {
        path: path.to_owned(),
        source,
    }
}

/// The maps `object` declares, in the shapes the loader creates them with
/// (`FLOWS` sized to `flow_table_size`, as `load_object` asks the loader).
pub fn expected_shapes(
    object: &[u8],
    flow_table_size: u32,
) -> Result<Vec<(PinnedMap, MapShape)>, DataplaneError> {
    let obj = aya_obj::Object::parse(object)
        .map_err(|e| DataplaneError::Object(format!("cannot parse it: {e}")))?;
    PINNED_MAPS
        .iter()
        .map(|map| {
            let def = obj.maps.get(map.name).ok_or_else(|| {
                DataplaneError::Object(format!(
                    "it declares no map {}: it was not built from this regha-ebpf",
                    map.name
                ))
            })?;
            let max_entries = if map.name == m::FLOWS {
                flow_table_size
            } else {
                def.max_entries()
            };
            Ok((
                *map,
                MapShape {
                    map_type: def.map_type(),
                    key_size: def.key_size(),
                    value_size: def.value_size(),
                    max_entries,
                    flags: def.map_flags(),
                },
            ))
        })
        .collect()
}

/// A pinned map's shape as the kernel reports it.
fn pinned_shape(path: &Path, name: &'static str) -> Result<MapShape, DataplaneError> {
    let info = MapInfo::from_pin(path).map_err(map_err(name))?;
    Ok(MapShape {
        // A type aya does not know is no type this build declares.
        map_type: info.map_type().map(|t| t as u32).unwrap_or(u32::MAX),
        key_size: info.key_size(),
        value_size: info.value_size(),
        max_entries: info.max_entries(),
        flags: info.map_flags(),
    })
}

/// What `pin_dir` holds (nothing, if it does not exist).
pub fn read_pins(pin_dir: &Path) -> Result<PinnedView, DataplaneError> {
    let mut view = PinnedView {
        version: PinnedVersion::Missing,
        maps: BTreeMap::new(),
        unknown: Vec::new(),
    };
    let entries = match std::fs::read_dir(pin_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(view),
        Err(e) => return Err(pin_dir_err(pin_dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(pin_dir_err(pin_dir))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if file == LINK_PIN || file == STAGING_DIR {
            continue;
        }
        if file == LAYOUT_PIN {
            view.version = match read_record(&path) {
                Ok(v) => PinnedVersion::Known(v),
                Err(e) => PinnedVersion::Unreadable(e.to_string()),
            };
        } else if let Some(map) = PINNED_MAPS.iter().find(|m| m.pin == file) {
            view.maps.insert(file, pinned_shape(&path, map.name)?);
        } else {
            view.unknown.push(file);
        }
    }
    view.unknown.sort();
    Ok(view)
}

fn open_record(path: &Path) -> Result<Array<MapData, u32>, MapError> {
    // `Array<_, u32>` refuses a map of another key or value size.
    Map::from_map_data(MapData::from_pin(path)?)?.try_into()
}

fn read_record(path: &Path) -> Result<u32, MapError> {
    open_record(path)?.get(&0, 0)
}

/// Writes this build's `LAYOUT_VERSION` as the record of `pin_dir`: updated
/// in place when a record of the right shape is there, else built in the
/// staging directory and renamed over whatever was there.
fn write_record(pin_dir: &Path) -> Result<(), DataplaneError> {
    const RECORD: &str = "layout record";
    let path = pin_dir.join(LAYOUT_PIN);
    if let Ok(mut record) = open_record(&path) {
        return record.set(0, LAYOUT_VERSION, 0).map_err(map_err(RECORD));
    }
    let staging = pin_dir.join(STAGING_DIR);
    std::fs::create_dir_all(&staging).map_err(pin_dir_err(&staging))?;
    let def = aya_obj::Map::new_from_params(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
    let mut map =
        Map::from_map_data(MapData::create(def, "regha_layout", None).map_err(map_err(RECORD))?)
            .map_err(map_err(RECORD))?;
    Array::<&mut MapData, u32>::try_from(&mut map)
        .and_then(|mut a| a.set(0, LAYOUT_VERSION, 0))
        .map_err(map_err(RECORD))?;
    let staged = staging.join(LAYOUT_PIN);
    map.pin(&staged).map_err(DataplaneError::Pin)?;
    std::fs::rename(&staged, &path).map_err(pin_dir_err(&path))
}

/// Unpins whatever a crashed replacement left in the staging directory and
/// removes it.
pub fn clear_staging(pin_dir: &Path) -> Result<(), DataplaneError> {
    let staging = pin_dir.join(STAGING_DIR);
    let entries = match std::fs::read_dir(&staging) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(pin_dir_err(&staging)(e)),
    };
    for entry in entries {
        let path = entry.map_err(pin_dir_err(&staging))?.path();
        std::fs::remove_file(&path).map_err(pin_dir_err(&path))?;
    }
    std::fs::remove_dir(&staging).map_err(pin_dir_err(&staging))
}

/// Where a map of `plan` is pinned until [`commit`] (staged or not).
pub fn path_before_commit(pin_dir: &Path, plan: &LayoutPlan, map: &PinnedMap) -> PathBuf {
    let staged = plan.staged().any(|p| p.map.name == map.name);
    if staged {
        pin_dir.join(STAGING_DIR).join(map.pin)
    } else {
        pin_dir.join(map.pin)
    }
}

/// Moves the staged pins over the old ones, removes the unknown pins and
/// writes the layout record, last: the pins are then all of this layout.
pub fn commit(pin_dir: &Path, plan: &LayoutPlan) -> Result<(), DataplaneError> {
    let staging = pin_dir.join(STAGING_DIR);
    for p in plan.staged() {
        let (from, to) = (staging.join(p.map.pin), pin_dir.join(p.map.pin));
        std::fs::rename(&from, &to).map_err(pin_dir_err(&to))?;
    }
    for file in &plan.unknown {
        let path = pin_dir.join(file);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(pin_dir_err(&path)(e)),
        }
    }
    write_record(pin_dir)?;
    clear_staging(pin_dir)
}

/// Fills each staged map that can take the old one's entries (`Fate::Copy`).
/// A failure leaves what was copied: the rest costs what an empty map would.
pub fn copy_staged(pin_dir: &Path, plan: &LayoutPlan) {
    for p in plan.staged().filter(|p| p.fate == Fate::Copy) {
        let (old, new) = (
            pin_dir.join(p.map.pin),
            path_before_commit(pin_dir, plan, &p.map),
        );
        match copy_entries(&p.map, &old, &new) {
            Ok(n) => info!(map = p.map.name, entries = n, "copied into the new map"),
            Err(e) => {
                warn!(map = p.map.name, error = %e, lost = loss(p.map.name), "cannot copy every entry");
            }
        }
    }
}

/// Copies the entries of the map pinned at `old` into the one at `new`
/// (same key and value, maybe another size or flags: `Fate::Copy`); returns
/// how many. Entries beyond the new map's size are left behind; the old
/// program may still add or change entries while this runs, and those
/// changes do not reach the new map (flows re-hash, counters miss a few).
pub fn copy_entries(map: &PinnedMap, old: &Path, new: &Path) -> Result<u64, DataplaneError> {
    let open = |p: &Path| -> Result<Map, MapError> { Map::from_map_data(MapData::from_pin(p)?) };
    let (old, new) = (
        open(old).map_err(map_err(map.name))?,
        open(new).map_err(map_err(map.name))?,
    );
    let copied = match map.name {
        m::SERVICES => copy_hash::<ServiceKey, ServiceValue>(old, new),
        m::FLOWS => copy_hash::<FlowKey, FlowValue>(old, new),
        m::SERVICE_PORTS => copy_array::<u64>(old, new),
        m::SERVICE_GENS => copy_array::<u32>(old, new),
        m::BACKENDS => copy_array::<Backend>(old, new),
        m::RINGS => copy_rings(old, new),
        m::SERVICE_STATS | m::BACKEND_STATS => copy_per_cpu::<Counters>(old, new),
        m::BACKEND_SIGNALS => copy_per_cpu::<Signals>(old, new),
        m::REASONS | m::SERVICE_DENIED | m::SYNC_LOST => copy_per_cpu::<u64>(old, new),
        m::SERVICE_ALLOW => copy_array::<regha_common::ServiceAllow>(old, new),
        m::ALLOW => copy_allow(old, new),
        // FLOW_EVENTS: events in flight are not worth carrying.
        // FLOW_CACHE, HANDSHAKES: a slot's index depends on the table's
        // size, so a resized one starts empty (`loss` says what that costs).
        _ => Ok(0),
    };
    copied.map_err(map_err(map.name))
}

fn entries(map: &Map) -> Result<u32, MapError> {
    let data = match map {
        Map::Array(d) | Map::PerCpuArray(d) | Map::ArrayOfMaps(d) => d,
        Map::HashMap(d) | Map::LruHashMap(d) => d,
        _ => return Ok(0),
    };
    Ok(data.info()?.max_entries())
}

fn copy_hash<K: Pod, V: Pod>(old: Map, new: Map) -> Result<u64, MapError> {
    // Bounded: `get_next_key` starts over when the key it stands on is
    // evicted meanwhile, which a busy LRU table does.
    let bound = entries(&old)? as usize;
    let old: HashMap<MapData, K, V> = old.try_into()?;
    let mut new: HashMap<MapData, K, V> = new.try_into()?;
    let mut copied = 0;
    for entry in old.iter().take(bound) {
        match entry {
            Ok((k, v)) => {
                new.insert(k, v, 0)?;
                copied += 1;
            }
            // Deleted or evicted between the key and its lookup.
            Err(MapError::KeyNotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(copied)
}

fn copy_array<V: Pod>(old: Map, new: Map) -> Result<u64, MapError> {
    let n = entries(&old)?.min(entries(&new)?);
    let old: Array<MapData, V> = old.try_into()?;
    let mut new: Array<MapData, V> = new.try_into()?;
    for i in 0..n {
        new.set(i, old.get(&i, 0)?, 0)?;
    }
    Ok(u64::from(n))
}

fn copy_per_cpu<V: Pod>(old: Map, new: Map) -> Result<u64, MapError> {
    let n = entries(&old)?.min(entries(&new)?);
    let old: PerCpuArray<MapData, V> = old.try_into()?;
    let mut new: PerCpuArray<MapData, V> = new.try_into()?;
    for i in 0..n {
        new.set(i, old.get(&i, 0)?, 0)?;
    }
    Ok(u64::from(n))
}

/// Every prefix of every allow-list into the new trie.
fn copy_allow(old: Map, new: Map) -> Result<u64, MapError> {
    let old: aya::maps::LpmTrie<MapData, regha_common::AllowData, u32> = old.try_into()?;
    let mut new: aya::maps::LpmTrie<MapData, regha_common::AllowData, u32> = new.try_into()?;
    let mut copied = 0;
    for entry in old.iter() {
        let (k, v) = entry?;
        new.insert(&k, v, 0)?;
        copied += 1;
    }
    Ok(copied)
}

/// The outer slots point the new outer map at the same inner tables.
fn copy_rings(old: Map, new: Map) -> Result<u64, MapError> {
    let n = entries(&old)?.min(entries(&new)?);
    let old: ArrayOfMaps<MapData, MapData> = old.try_into()?;
    let mut new: ArrayOfMaps<MapData, MapData> = new.try_into()?;
    let mut copied = 0;
    for i in 0..n {
        match old.get(&i, 0) {
            Ok(inner) => {
                new.set(i, &inner, 0)?;
                copied += 1;
            }
            Err(MapError::KeyNotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(copied)
}
