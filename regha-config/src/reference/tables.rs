//! The reference itself: every section of the file, every key with its
//! type, default and meaning. The README's configuration tables and the
//! regha.yaml(5) man page are both rendered from this (see `mod.rs` for
//! the text conventions); edit here, never in the README.

use super::{Key, Section};

/// The sections in the order the file and the README present them.
pub static SECTIONS: &[Section] = &[
    Section {
        heading: "Top level",
        intro: &[],
        keys: &[
            Key {
                key: "`interface`",
                ty: "string",
                default: "none",
                meaning: "The LB interface. The XDP program attaches here, VRRP speaks here and the VIPs are added here. Must be a valid Linux interface name: 1 to 15 bytes, not `.` or `..`, and no `/`, `:` or whitespace. It may be left out of the file if `--iface` supplies it. With neither, the agent refuses to start (`interface: not set: pass --iface or set interface:`).",
            },
            Key {
                key: "`xdp_mode`",
                ty: "`native` | `generic`",
                default: "`native`",
                meaning: "How the XDP program is attached. `native` runs in the driver and needs driver support. `generic` works on any interface but is slower.",
            },
            Key {
                key: "`flow_table_size`",
                ty: "integer, 1024..=16777216",
                default: "262144",
                meaning: "Entries in the LRU table that pins each established flow to its backend. Each entry costs about 100 bytes of kernel memory. A new size takes effect at the next start: the table is replaced by one of that size and its flows are copied over.",
            },
            Key {
                key: "`hash_seed`",
                ty: "integer, 0..=4294967295",
                default: "0",
                meaning: "Seed of the client hash. **Must be the same on every LB host.** Then, after a failover, every client lands on the backend it was already using.",
            },
            Key {
                key: "`role`",
                ty: "`master` | `backup`",
                default: "none",
                meaning: "A static role: `master` holds the VIPs and `backup` does not. It is required when there is no `vrrp` section. When both are set, the static role applies until VRRP decides.",
            },
            Key {
                key: "`vrrp`",
                ty: "map, or a list of maps",
                default: "none",
                meaning: "The VRRP instances that decide which LB host holds the VIPs (see below): one instance as a map, or several as a list (an IPv4 and an IPv6 instance for a dual-stack service, say). Either `role` or `vrrp` must be set.",
            },
            Key {
                key: "`services`",
                ty: "list, 1..=256",
                default: "required",
                meaning: "The `VIP:port/protocol` services to balance (see below).",
            },
            Key {
                key: "`stats`",
                ty: "map or `null`",
                default: "`{ listen: 127.0.0.1:1158 }`",
                meaning: "The HTTP stats listener (see below). `stats: null` (or an empty `stats:`) turns it off.",
            },
            Key {
                key: "`flow_sync`",
                ty: "map or `null`",
                default: "none (off)",
                meaning: "Flow state shared between the LBs, as IPVS's connection sync does (see below). Absent, `flow_sync: null` or an empty `flow_sync:` means off.",
            },
            Key {
                key: "`bgp`",
                ty: "map",
                default: "none (off)",
                meaning: "Several LBs active at once behind a router doing ECMP: the VIPs are announced over BGP by a routing daemon (FRR, BIRD) instead of held by VRRP (see below).",
            },
            Key {
                key: "`unedited_example`",
                ty: "`true`",
                default: "absent",
                meaning: "Marks the packaged example (`/etc/regha/regha.example.yaml`), which carries it. The agent refuses to run a file that has `unedited_example: true` and exits with status 78, which the systemd unit does not restart; `check-config` accepts it and says so. Copy the example to `/etc/regha/<interface>.yaml`, make it this host's, then delete the line.",
            },
        ],
        rules: &[],
    },
    Section {
        heading: "`vrrp`",
        intro: &[
            "This section is compatible with a keepalived `vrrp_instance` on the same VRID, so
regha and keepalived can run side by side while a cluster migrates.",
            "`vrrp:` is one instance (a map) or a list of them. Each instance is its own
election, as each keepalived `vrrp_instance` is: its own virtual router (VRID and
address family; an IPv4 and an IPv6 instance may share a VRID), its own VIPs, its
own trackers. Instances that name the same `sync_group` fail over together, as in
a keepalived `vrrp_sync_group`. The keys below are those of one instance.",
            "IPv6 VIPs are added deprecated (`preferred_lft 0`, as keepalived adds them), and
the agent's own connections (health checks, the probes that resolve a backend's MAC)
leave from the interface's own address, never from a VIP: the backends hold the
VIPs on `lo` and would answer a VIP-sourced packet to themselves.",
        ],
        keys: &[
            Key {
                key: "`name`",
                ty: "string matching `[A-Za-z0-9_.-]{1,63}`",
                default: "`VI_` and the VRID (`VI_51`)",
                meaning: "Names the instance in logs, `status`, the metrics' `vrrp_instance` label, `vrrp resign NAME` and `services[].vrrp_instance`. Must be unique among the instances: two instances on one VRID (one per family) need a `name` each.",
            },
            Key {
                key: "`sync_group`",
                ty: "string matching `[A-Za-z0-9_.-]{1,63}`",
                default: "none",
                meaning: "keepalived's `vrrp_sync_group`: the instances naming the same group fail over together. One that leaves master (to a higher priority, or resigned) takes the others with it; one in FAULT holds them all in FAULT; the group takes over only when every member would. A group of one instance is a warning. Members must all have priority 255 or none.",
            },
            Key {
                key: "`virtual_router_id`",
                ty: "integer, 1..=255",
                default: "required",
                meaning: "The VRID. It must be the same on every LB host of the cluster, and unique among the instances of one address family.",
            },
            Key {
                key: "`priority`",
                ty: "integer, 1..=255",
                default: "100",
                meaning: "The highest priority becomes master. 255 means the owner of the addresses.",
            },
            Key {
                key: "`advert_interval`",
                ty: "duration",
                default: "`1s`",
                meaning: "Time between adverts. Version 2 takes whole seconds from `1s` to `255s`. Version 3 takes a multiple of 10 ms from `10ms` to `40.95s`.",
            },
            Key {
                key: "`version`",
                ty: "`2` | `3`",
                default: "`2`",
                meaning: "VRRP version: 2 is RFC 3768 (IPv4 only) and 3 is RFC 5798 (IPv4 or IPv6). IPv6 addresses need version 3.",
            },
            Key {
                key: "`auth_pass`",
                ty: "string, 1 to 8 bytes",
                default: "none",
                meaning: "Version 2 simple password authentication (keepalived's `auth_type PASS`). Using it with version 3 is an error. A password longer than 8 bytes is an error; keepalived would cut it short without saying so.",
            },
            Key {
                key: "`preempt`",
                ty: "boolean",
                default: "`true`",
                meaning: "Whether a host with a higher priority takes over from a master with a lower one. `false` is keepalived's `nopreempt`.",
            },
            Key {
                key: "`preempt_delay`",
                ty: "duration, at most `1000s`",
                default: "`0s`",
                meaning: "How long after start to wait before preempting. Besides it, a host whose health view is not settled (a check without a first result, a backend whose health changed within the last check `interval`, a ring write pending) does not preempt, nor raise its tracked priority, until it is; it never holds back a takeover when no master is heard.",
            },
            Key {
                key: "`unicast_src`",
                ty: "IP",
                default: "none",
                meaning: "Source address of unicast adverts. If unset, the interface's primary address is used. It must be of the same family as `virtual_ipaddresses` and must not be a virtual address of any instance.",
            },
            Key {
                key: "`unicast_peers`",
                ty: "list of IP",
                default: "`[]`",
                meaning: "Send adverts to these peers instead of multicasting them to `224.0.0.18` / `ff02::12`. No duplicates, none equal to `unicast_src` or to a virtual address of any instance, all of the same family as the VIPs.",
            },
            Key {
                key: "`virtual_ipaddresses`",
                ty: "list of `IP` or `IP/prefix`, 1..=255",
                default: "required",
                meaning: "The addresses the master holds. The prefix defaults to /32 (IPv4) or /128 (IPv6) and must be 1..=32 or 1..=128. No duplicates, and all of one family (one VRRP instance carries one family). A VIP belongs to one instance: no address is listed by two. Every service `vip` must be listed by an instance.",
            },
            Key {
                key: "`track_backends`",
                ty: "map",
                default: "none",
                meaning: r#"Adjusts the priority by backend health. The tracked condition is "at least `min_healthy` backends are healthy", counted over the services whose VIP this instance holds."#,
            },
            Key {
                key: "`track_backends.min_healthy`",
                ty: "integer, 1..=the number of backends configured",
                default: "1",
                meaning: "The threshold.",
            },
            Key {
                key: "`track_backends.weight`",
                ty: "integer, -254..=254",
                default: "0",
                meaning: "Works as keepalived's `weight` on a tracked script. A positive weight is added to the priority while the condition holds. A negative weight is added (that is, subtracted) while it fails. 0 puts the instance in FAULT state, releasing the VIPs, while it fails. The result is kept within 1..=254, and tracking does not change a priority of 255.",
            },
            Key {
                key: "`track_scripts`",
                ty: "list",
                default: "`[]`",
                meaning: "keepalived's `vrrp_script` + `track_script`. Each: `name` (unique, `[A-Za-z0-9_.-]`), `script` (absolute path, then arguments split on whitespace; run without a shell), `interval` (`1s`), `timeout` (the interval), `weight` (-254..=254, `0`), `rise` (1), `fall` (1). Exit 0 is success. A run past its timeout is killed and counts as a failure. A script starts as OK and its first run decides; after that `rise` successes or `fall` failures in a row change it.",
            },
            Key {
                key: "`track_interfaces`",
                ty: "list",
                default: "`[]`",
                meaning: "keepalived's `track_interface`: `{ name, weight }`. Up means administratively up with carrier, watched through rtnetlink link events. The VRRP interface itself going down is always FAULT.",
            },
            Key {
                key: "(weights)",
                ty: "",
                default: "",
                meaning: "For every tracker (`track_backends`, `track_scripts`, `track_interfaces`): a positive weight is added while the check holds, a negative one while it fails; `0` puts the instance in FAULT (VIPs released, priority 0 sent, no adverts) while it fails. All weights are summed and the result kept in 1..=254; 255 is never changed.",
            },
            Key {
                key: "`peer_priorities`",
                ty: "list of 1..=255",
                default: "`[]`",
                meaning: "The other hosts' configured priorities; only `check-config` and the start-up log read it. Assuming mirrored trackers, a weight can change the master only if |weight| > |priority − peer|. A tracker at most the gap to every listed peer is a warning (the exit code stays 0). With 101/100, `weight: 2` and `-50` can flip it, `1` cannot.",
            },
            Key {
                key: "`garp_master_delay`",
                ty: "duration, at most `1000s`",
                default: "`5s`",
                meaning: "Second gratuitous ARP / NA burst after this; `0s`: none.",
            },
            Key {
                key: "`garp_master_repeat`",
                ty: "1..=255",
                default: "`5`",
                meaning: "Frames per VIP in each burst.",
            },
            Key {
                key: "`garp_master_refresh`",
                ty: "duration, at most `1000s`",
                default: "`0s`",
                meaning: "Re-announce this often while master; `0s` turns it off.",
            },
            Key {
                key: "`garp_master_refresh_repeat`",
                ty: "1..=255",
                default: "`1`",
                meaning: "Frames per VIP per refresh.",
            },
            Key {
                key: "`notify.master`",
                ty: "absolute path",
                default: "none",
                meaning: "Script run on becoming master.",
            },
            Key {
                key: "`notify.backup`",
                ty: "absolute path",
                default: "none",
                meaning: "Script run on becoming backup.",
            },
            Key {
                key: "`notify.fault`",
                ty: "absolute path",
                default: "none",
                meaning: "Script run on entering fault.",
            },
            Key {
                key: "`notify.stop`",
                ty: "absolute path",
                default: "none",
                meaning: "Script run when the instance stops.",
            },
        ],
        rules: &[],
    },
    Section {
        heading: "`services[]`",
        intro: &[],
        keys: &[
            Key {
                key: "`name`",
                ty: "string matching `[A-Za-z0-9_.-]{1,63}`",
                default: "required",
                meaning: "Names the service in logs and stats. Must be unique.",
            },
            Key {
                key: "`vip`",
                ty: "IP",
                default: "required",
                meaning: "The address clients connect to. With `vrrp`, it must be in the `virtual_ipaddresses` of an instance.",
            },
            Key {
                key: "`vrrp_instance`",
                ty: "an instance's `name`",
                default: "the instance whose `virtual_ipaddresses` list the `vip`",
                meaning: "The VRRP instance that holds `vip`. It must exist and list the `vip`.",
            },
            Key {
                key: "`port`",
                ty: "integer, 1..=65535",
                default: "required",
                meaning: "The port clients connect to.",
            },
            Key {
                key: "`protocol`",
                ty: "`tcp` | `udp`",
                default: "`tcp`",
                meaning: "The transport protocol. `vip`, `port` and `protocol` together must be unique across services. One VIP and port may carry both TCP and UDP.",
            },
            Key {
                key: "`hash`",
                ty: "`source` | `flow`",
                default: "`source`",
                meaning: "What picks the backend. `source` hashes the client address, so all of a client's connections go to one backend (HAProxy's `balance source`). `flow` hashes the 5-tuple, spreading one client's connections over the backends.",
            },
            Key {
                key: "`forwarding`",
                ty: "`dsr`",
                default: "`dsr`",
                meaning: "How packets reach a backend. `dsr` is direct server return at L2: only the destination MAC is rewritten, so the backend must hold the VIP on `lo` (`arp_ignore=1`, `arp_announce=2`) and answers the client directly. No other mode is implemented yet.",
            },
            Key {
                key: "`ring_size`",
                ty: "prime integer, from the number of backends to 16777216",
                default: "65537",
                meaning: "Number of slots in the Maglev lookup table. It must be prime; if it is not, the error suggests the next prime. For even shares, keep it at least about 100 times the number of backends.",
            },
            Key {
                key: "`allow`",
                ty: "list of IP networks (`198.51.100.0/24`, `2001:db8::/32`, or an address for one host), of the `vip`'s family",
                default: "none: every source",
                meaning: "The clients that may reach the service. The XDP program drops a packet that would start a flow (a SYN, a packet no flow holds) from any other source, before the kernel sees it, and counts it as `denied` (in `status`, `/status`, the stats page and `regha_service_denied_total`). Established connections pay nothing for the list. A reload that removes a network ends the connections already open from it (their next packet is dropped and counted); connections from networks still listed go on untouched. Across all services there may be at most 65536 networks. An empty list is an error: leave `allow` out to allow everyone.",
            },
            Key {
                key: "`health`",
                ty: "map",
                default: "HTTP `GET /v2/` expecting 200 or 401, every 5s, timeout 2s, rise 2, fall 3; fast checks every 250ms (timeout 500ms) while suspect or in transition",
                meaning: "How each backend is checked (see below).",
            },
            Key {
                key: "`backends`",
                ty: "list, 1..=1024",
                default: "required",
                meaning: "The servers behind the VIP (see below). Across all services there may be at most 4096 backends.",
            },
        ],
        rules: &[],
    },
    Section {
        heading: "`services[].health`",
        intro: &[
            "Set at most one of `http` and `tcp`. With neither, the check is HTTP with the
defaults below. A bare `http:` or `tcp:` with nothing after it selects that
check with its defaults.",
        ],
        keys: &[
            Key {
                key: "`http`",
                ty: "map",
                default: "(the default check)",
                meaning: "An HTTP `GET`. It passes when the status is in `expect` (and, if set, the header `expect_header` is present).",
            },
            Key {
                key: "`http.path`",
                ty: "string",
                default: "`/v2/`",
                meaning: "The request path. It must start with `/` and contain no spaces or control characters.",
            },
            Key {
                key: "`http.host`",
                ty: "string",
                default: "the backend's `address:port`",
                meaning: "The `Host` header. No spaces or control characters.",
            },
            Key {
                key: "`http.expect`",
                ty: "list of integers, 100..=599",
                default: "`[200, 401]`",
                meaning: "The accepted status codes. A registry answers 401 when its auth is on. The list must not be empty.",
            },
            Key {
                key: "`http.expect_header`",
                ty: "HTTP header name",
                default: "none",
                meaning: "A header the answer must carry, such as `Docker-Distribution-API-Version`, to be sure it was a registry that answered.",
            },
            Key {
                key: "`http.tls`",
                ty: "map",
                default: "none (plain HTTP)",
                meaning: "Check over HTTPS, as HAProxy's `check-ssl` does: the same `GET` after a TLS handshake with the backend's `address:port`. A bare `tls:` or `tls: {}` verifies the certificate against the system's roots and the backend's address. A failed handshake or an untrusted certificate fails the check with the reason `tls`. The files are read when the config is loaded (at start, at each reload, and by `check-config`), so a missing or malformed file refuses the config instead of failing the checks later.",
            },
            Key {
                key: "`http.tls.server_name`",
                ty: "DNS name or IP",
                default: "none: the backend's address",
                meaning: "The name sent in the TLS server name indication (SNI) and verified in the certificate (HAProxy's `check-sni` and `verifyhost`). By default no SNI is sent, because the checks go to an address, and the certificate must list the backend's address as an IP subject alternative name. The `Host` header is still `http.host`.",
            },
            Key {
                key: "`http.tls.verify`",
                ty: "boolean",
                default: "`true`",
                meaning: "Verify the certificate chain and name. `false` (HAProxy's `verify none`) accepts any certificate, so the check cannot tell the registry from whatever else answers on its address; the agent warns about it at start and `check-config` lists it.",
            },
            Key {
                key: "`http.tls.ca_file`",
                ty: "absolute path",
                default: "none: the system's roots",
                meaning: "PEM file of the CA certificates to trust (HAProxy's `ca-file`), such as the private CA that signed the registries' certificates. Without it, the system's store is used (`/etc/ssl/certs`, or `SSL_CERT_FILE`). Not allowed with `verify: false`.",
            },
            Key {
                key: "`http.tls.client_cert`",
                ty: "absolute path",
                default: "none",
                meaning: "PEM file of the client certificate (with its chain) to present when the backend asks for one (HAProxy's `crt`). The file may hold the private key too.",
            },
            Key {
                key: "`http.tls.client_key`",
                ty: "absolute path",
                default: "the key in `client_cert`'s file",
                meaning: "PEM file of the private key of `client_cert` (PKCS#8, RSA or EC). It must match the certificate.",
            },
            Key {
                key: "`tcp`",
                ty: "`{}`",
                default: "none",
                meaning: "A plain TCP connect instead of HTTP. It has no options yet.",
            },
            Key {
                key: "`interval`",
                ty: "duration, more than 0 and at most `1h`",
                default: "`5s`",
                meaning: "Time between checks of each backend (HAProxy's `inter`).",
            },
            Key {
                key: "`timeout`",
                ty: "duration, more than 0 and at most `interval`",
                default: "`2s`",
                meaning: "How long one check may take.",
            },
            Key {
                key: "`rise`",
                ty: "integer, 1..=100",
                default: "2",
                meaning: "Consecutive successes before a down backend goes up (counted as HAProxy counts them).",
            },
            Key {
                key: "`fall`",
                ty: "integer, 1..=100",
                default: "3",
                meaning: "Consecutive failures before an up backend goes down. A check whose connection is refused (nothing listens: the registry process is gone) is a definite failure and marks an up backend down at once, whatever `fall` says; timeouts and wrong answers count one by one.",
            },
            Key {
                key: "`fast_interval`",
                ty: "duration, more than 0 and at most `interval`",
                default: "`250ms` (or `interval`, if shorter)",
                meaning: "Time between checks while the backend is *suspect* (see `suspect`) or in transition, from its first contrary result until `rise` or `fall` decides (HAProxy's `fastinter`). The first fast check runs at once when suspicion starts. A fast check starts every `fast_interval` even while earlier ones still wait for `fast_timeout` (at most 4 under way; results count in the order the checks started), so a host that answers nothing fails `fall` checks one `fast_interval` apart rather than one `fast_timeout` apart.",
            },
            Key {
                key: "`fast_timeout`",
                ty: "duration, more than 0 and at most `timeout`",
                default: "`500ms` (or `timeout`, if shorter)",
                meaning: "How long one check at the fast interval may take. A host that is cut off never refuses, so only a short timeout detects it quickly.",
            },
            Key {
                key: "`suspect.enabled`",
                ty: "boolean",
                default: "`true`",
                meaning: "Whether the dataplane's per-backend counters (new connections, SYN retransmissions, completed handshakes; sampled every 100 ms) can make a backend suspect. Suspicion never takes a backend out by itself: it only switches its checks to `fast_interval`/`fast_timeout` until `fall` failures mark it down or `rise` successes clear it.",
            },
            Key {
                key: "`suspect.window`",
                ty: "duration, 200ms..=1m",
                default: "`1s`",
                meaning: "How far back the rule looks: the attempts since the last completed one are counted within it, and the retransmissions and completions are summed over it.",
            },
            Key {
                key: "`suspect.min_syns`",
                ty: "integer, 1..=1000000",
                default: "3",
                meaning: "A backend is suspect when, since its last completed connection attempt (within the window), it was sent at least this many connection attempts (new SYNs plus SYN retransmissions). The count starts at the first sample after the last completion, so the traffic completed before a failure does not hide it.",
            },
            Key {
                key: "`suspect.min_retransmits`",
                ty: "integer, 1..=1000000",
                default: "2",
                meaning: "A backend is also suspect when, within the window, it saw at least this many SYN retransmissions and more of them than completed handshakes (retransmissions dominate).",
            },
        ],
        rules: &[],
    },
    Section {
        heading: "`services[].backends[]`",
        intro: &[],
        keys: &[
            Key {
                key: "`address`",
                ty: "IP",
                default: "required",
                meaning: "The backend's own address, of the same family as the service `vip` (DSR at L2 forwards the packet unchanged) and not the VIP itself. Health checks go to `address:port`.",
            },
            Key {
                key: "`port`",
                ty: "integer, 1..=65535",
                default: "the service `port`",
                meaning: "Under `dsr` it must equal the service port, because the backend receives the packets on the VIP's port unchanged. It exists for future forwarding modes. `address:port` must be unique within a service.",
            },
            Key {
                key: "`weight`",
                ty: "integer, 1..=65535",
                default: "1",
                meaning: "Relative share of the Maglev table.",
            },
            Key {
                key: "`mac`",
                ty: "MAC address (`02:00:00:00:00:11`, or with `-` between the bytes)",
                default: "none",
                meaning: "A static unicast MAC to send to. If unset, the MAC is resolved from the kernel's neighbour table.",
            },
        ],
        rules: &[],
    },
    Section {
        heading: "`stats`",
        intro: &[],
        keys: &[
            Key {
                key: "`listen`",
                ty: "`IP:port` (`[v6]:port` for IPv6)",
                default: "`127.0.0.1:1158`",
                meaning: "Where the stats listener binds: `/metrics` (Prometheus), `/status` (JSON) and `/` (a page like HAProxy's stats page). The port must not be 0.",
            },
            Key {
                key: "`auth`",
                ty: "map",
                default: "none",
                meaning: "HTTP basic auth for the listener.",
            },
            Key {
                key: "`auth.user`",
                ty: "string",
                default: "required when `auth` is set",
                meaning: "The user name. It must not be empty and must not contain `:`.",
            },
            Key {
                key: "`auth.password_file`",
                ty: "absolute path",
                default: "one of the two",
                meaning: "A file holding the password (one trailing line break ignored), so that the config itself can stay world-readable.",
            },
            Key {
                key: "`auth.password_env`",
                ty: "variable name",
                default: "one of the two",
                meaning: "An environment variable of the agent holding the password.",
            },
        ],
        rules: &[],
    },
    Section {
        heading: "`flow_sync`",
        intro: &[
            "Each LB sends the flows it records (client address and port, VIP, port, protocol, and
the backend the flow was pinned to) to the other LBs, and writes the flows it receives
into its own flow table. After a takeover, every synced connection stays on the backend
it was using, even when the backends changed since it started (`hash_seed` alone keeps a
client on its backend only while the ring is the same). A flow that was not synced yet
(the last moment before a failure, or one dropped beyond `max_rate`) is hashed as before.",
            "Messages are authenticated with HMAC-SHA256 under the key in `key_file`, and a message
that fails the check is dropped and counted. **Every LB needs the same key file and the
same `port`.** The key is not VRRP's `auth_pass`: that is an 8-byte password sent in clear
text in every advert, and is no substitute. Messages carry a version number: an LB drops
(and counts) messages of a version it does not speak, rather than misread them.",
            "A change of `flow_sync` (the key file's content included) takes effect when the agent
restarts; a reload does not apply it, and says so.",
        ],
        keys: &[
            Key {
                key: "`key_file`",
                ty: "absolute path",
                default: "required",
                meaning: "The shared secret, the HMAC-SHA256 key: at least 16 bytes (one trailing line break is ignored), read when the agent starts. Make it once and copy the same file to every LB: `head -c 32 /dev/urandom > /etc/regha/flow-sync.key; chmod 600 /etc/regha/flow-sync.key`. A file that others than its owner can read is a warning.",
            },
            Key {
                key: "`peers`",
                ty: "list of IPs",
                default: "empty: send to `group`",
                meaning: "The other LBs' own unicast addresses (IPv4 or IPv6), to send to instead of the multicast group. Not 0.0.0.0 or `::`, not loopback, not a VIP (a VIP moves between the LBs), not this LB's `vrrp.unicast_src`, each once.",
            },
            Key {
                key: "`group`",
                ty: "multicast IP",
                default: "`224.0.0.81`",
                meaning: "The multicast group flows are sent to and received on when `peers` is empty (224.0.0.81 is the group IPVS's sync daemon uses). Must be a multicast address.",
            },
            Key {
                key: "`port`",
                ty: "integer, 1..=65535",
                default: "8848",
                meaning: "The UDP port flows are sent to and received on.",
            },
            Key {
                key: "`max_rate`",
                ty: "integer, 100..=1000000",
                default: "50000",
                meaning: "Flows sent per second at most. Beyond it, flows wait to be sent; those that wait too long are dropped and counted, and are hashed after a takeover as without sync.",
            },
        ],
        rules: &[],
    },
    Section {
        heading: "`bgp`",
        intro: &[
            "Each VIP listed is announced as a route: the agent adds `blackhole VIP/32 proto 250`
(`/128` for IPv6) to the kernel's main table when the VIP is ready and deletes it to
withdraw; the routing daemon exports routes of that protocol (FRR: `redistribute kernel
route-map REGHA-VIPS`; BIRD: a `protocol kernel { learn; }` with a filter on the VIPs and
`krt_source = 250`). The VIP is never an address on the LB. `regha-agent bgp-setup`
prints FRR's configuration.",
            "A VIP is announced once the agent has run `warmup`, its health view has settled once
(every check decided, the ring written) and at least `min_healthy` backends of its
services take new flows; it is withdrawn when fewer do, on `regha-agent drain` (until
`undrain`, across restarts) and when the agent stops. A route an earlier run left, with
the pinned program still steering (a crash), is adopted at start, not withdrawn; other
routes of the protocol are deleted.",
            "A change of `route_protocol` moves the routes to the new protocol; the other keys
apply on reload.",
        ],
        keys: &[
            Key {
                key: "`vips`",
                ty: "list of IPs",
                default: "every service VIP no VRRP instance holds",
                meaning: "The VIPs announced. Each is a service's VIP, none is held by VRRP (a VIP is announced or held, never both), each once, without a prefix.",
            },
            Key {
                key: "`min_healthy`",
                ty: "integer, 1..=1024",
                default: "1",
                meaning: "Backends of the VIP's services that must take new flows for it to be announced. No more than the VIP's backends.",
            },
            Key {
                key: "`warmup`",
                ty: "duration, up to 10m",
                default: "2s",
                meaning: "No VIP is announced before the agent has run this long.",
            },
            Key {
                key: "`route_protocol`",
                ty: "integer, 1..=255",
                default: "250",
                meaning: "The kernel route protocol of the VIP routes. Not one the kernel or a routing daemon uses (kernel 2, static 4, zebra 11, bird 12, bgp 186, ...).",
            },
            Key {
                key: "`drain_timeout`",
                ty: "duration, up to 1h",
                default: "30s",
                meaning: "How long `regha-agent drain` waits for the VIPs' packets to stop (overridden by its `--timeout`).",
            },
            Key {
                key: "`frr`",
                ty: "map or `null`",
                default: "`{ vtysh: /usr/bin/vtysh }`",
                meaning: "Where `status`, the page and `/metrics` read FRR's BGP and BFD sessions from, every 5 s. The agent joins the `frrvty` group before it drops its capabilities, to reach FRR's sockets. `frr: null` reads nothing.",
            },
            Key {
                key: "`frr.vtysh`",
                ty: "absolute path",
                default: "`/usr/bin/vtysh`",
                meaning: "The vtysh the agent runs (`show bgp summary json`, `show bfd peers json`).",
            },
            Key {
                key: "`frr.pathspace`",
                ty: "string matching `[A-Za-z0-9_.-]{1,63}`",
                default: "none",
                meaning: "FRR's `-N` name, when it runs in a network namespace with its sockets under `/var/run/frr/<pathspace>/`.",
            },
        ],
        rules: &[],
    },
    Section {
        heading: "Rules across fields",
        intro: &["All of these are reported together with the errors for single fields:"],
        keys: &[],
        rules: &[
            "`role`, `vrrp` or `bgp` must be set; with `bgp` alone, every service VIP must be in `bgp.vips`.",
            "No VIP is both in `bgp.vips` and held by a VRRP instance; with `vrrp`, a service VIP that `bgp` announces need not be in any instance.",
            "With `vrrp`, every `services[].vip` must be in the `virtual_ipaddresses` of an instance (of the one `services[].vrrp_instance` names, when set).",
            "Between instances: names are unique, each (VRID, family) is unique, and no address is a virtual address of two instances. A list of instances may not be empty.",
            "`vrrp.unicast_src` and `vrrp.unicast_peers` must not be virtual addresses of any instance and must be of their family. Version 2 allows IPv4 only.",
            "`vrrp.track_backends.min_healthy` may not exceed the number of backends of the services the instance holds, and an instance that holds no service's VIP cannot track backends.",
            "In a `sync_group`, either every member has priority 255 or none does.",
            "`flow_sync.peers` are no VIP (of a service or an instance) and no instance's `unicast_src`.",
            "Service names are unique. So is each (`vip`, `port`, `protocol`) across services, and each (`address`, `port`) within a service.",
            "A backend has the same address family as its service's VIP.",
            "`ring_size` is at least the number of the service's backends.",
            "There are at most 256 services, at most 1024 backends per service and at most 4096 backends in all.",
        ],
    },
];
