//! The YAML as written: text where a value needs checking, `Option` where a
//! key may be absent. Defaults and every check live in `validate`.
//!
//! Every struct refuses unknown keys, so that a misspelt key is an error
//! with its position rather than a silently ignored setting. The same
//! mirror writes the typed config back (`yaml`), which is why every field
//! skips serialising when absent.

use serde::{Deserialize, Deserializer, Serialize};

/// Tells an absent key (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) interface: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) xdp_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) flow_table_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) hash_seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) vrrp: Option<VrrpSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) services: Option<Vec<Service>>,
    #[serde(default, deserialize_with = "present")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stats: Option<Option<Stats>>,
    /// Absent, `null` and an empty `flow_sync:` all mean off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) flow_sync: Option<FlowSync>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bgp: Option<Bgp>,
    /// The packaged example's guard (`example.rs`): a mark on the file, not
    /// a setting, so the typed config does not carry it and nothing writes it.
    #[serde(default, skip_serializing)]
    #[expect(
        dead_code,
        reason = "accepted here so that the file parses; `example::guard_line` is what reads it"
    )]
    pub(crate) unedited_example: Option<bool>,
}

/// `vrrp:` is one instance (a map: how a config with one instance was
/// always written) or a list of instances. Told apart by the YAML node,
/// streaming, so that an error inside either keeps its line and column.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum VrrpSection {
    One(Box<Vrrp>),
    Many(Vec<Vrrp>),
}

impl VrrpSection {
    /// Each instance with its field path: `vrrp` for the map form,
    /// `vrrp[i]` in a list.
    pub(crate) fn instances(&self) -> Vec<(String, &Vrrp)> {
        match self {
            Self::One(v) => vec![("vrrp".to_owned(), &**v)],
            Self::Many(list) => list
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("vrrp[{i}]"), v))
                .collect(),
        }
    }
}

impl<'de> Deserialize<'de> for VrrpSection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = VrrpSection;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a VRRP instance (a map) or a list of VRRP instances")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                Vrrp::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|v| VrrpSection::One(Box::new(v)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                Vec::<Vrrp>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(VrrpSection::Many)
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Vrrp {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sync_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) virtual_router_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) priority: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) advert_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) auth_pass: Option<crate::types::Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) preempt: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) preempt_delay: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) unicast_src: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) unicast_peers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) virtual_ipaddresses: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) track_backends: Option<TrackBackends>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) track_scripts: Vec<TrackScript>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) track_interfaces: Vec<TrackInterface>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) peer_priorities: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) garp_master_delay: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) garp_master_repeat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) garp_master_refresh: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) garp_master_refresh_repeat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) notify: Option<Notify>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrackBackends {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) min_healthy: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) weight: Option<i64>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrackScript {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) script: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) weight: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rise: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fall: Option<i64>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrackInterface {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) weight: Option<i64>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Notify {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) master: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) backup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fault: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stop: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Service {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) vip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) forwarding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ring_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) health: Option<Health>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) backends: Option<Vec<Backend>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) vrrp_instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) allow: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Health {
    /// `http:` with nothing after it means HTTP with the defaults.
    #[serde(default, deserialize_with = "present")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) http: Option<Option<Http>>,
    /// `tcp:` and `tcp: {}` both mean a TCP check.
    #[serde(default, deserialize_with = "present")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tcp: Option<Option<Tcp>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rise: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fall: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fast_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fast_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) suspect: Option<Suspect>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Suspect {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) window: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) min_syns: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) min_retransmits: Option<i64>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Http {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) expect: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) expect_header: Option<String>,
    /// `tls:` with nothing after it means TLS with the defaults.
    #[serde(default, deserialize_with = "present")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tls: Option<Option<Tls>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tls {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) server_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) verify: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ca_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_cert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_key: Option<String>,
}

/// No options yet; a map so that it can grow some.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tcp {}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Backend {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) weight: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mac: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Stats {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) auth: Option<StatsAuth>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatsAuth {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) password_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) password_env: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlowSync {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) key_file: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) peers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_rate: Option<i64>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Bgp {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) vips: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) min_healthy: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) warmup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) route_protocol: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) drain_timeout: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) frr: Option<Option<Frr>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Frr {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) vtysh: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) pathspace: Option<String>,
}
