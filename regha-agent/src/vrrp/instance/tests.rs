//! The instance replayed against adverts keepalived 2.2 sent (captured on
//! the wire for the fuzz corpus, `fuzz/corpus/vrrp_decode/keepalived-*`),
//! on tokio's paused clock: the real task, state machine, codec and timers,
//! over a recording [`VrrpIo`]. What it did (adverts sent, VIPs added and
//! removed, announcements, notify scripts) is compared with a golden file
//! per scenario (`golden/<name>.txt`); `REGHA_BLESS=1` rewrites them after
//! a deliberate change.

use std::{
    collections::VecDeque,
    fmt::Write as _,
    io,
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{sync::mpsc, time::Instant};

use super::{InstanceHandle, VrrpIo, start};
use crate::{
    net::{NetError, Vip},
    vrrp::{network::Datagram, trackers::TrackEvent},
};
use regha_config::{Config, VrrpConfig};

/// keepalived, priority 101, VRID 51, v2, `auth_pass 1111`, from 192.0.2.2.
const KA_V2_MASTER: &[u8] =
    include_bytes!("../../../../fuzz/corpus/vrrp_decode/keepalived-v2-pass-0-ctl00");
/// The same keepalived stopping: priority 0.
const KA_V2_STOP: &[u8] =
    include_bytes!("../../../../fuzz/corpus/vrrp_decode/keepalived-v2-pass-1-ctl00");
/// keepalived, priority 150, VRID 52, v3 at 500 ms, from 192.0.2.2.
const KA_V3_MASTER: &[u8] =
    include_bytes!("../../../../fuzz/corpus/vrrp_decode/keepalived-v3-0-ctl00");
/// The same keepalived stopping: priority 0.
const KA_V3_STOP: &[u8] =
    include_bytes!("../../../../fuzz/corpus/vrrp_decode/keepalived-v3-1-ctl00");

/// The corpus files start with the fuzz target's control byte.
fn packet(seed: &'static [u8]) -> Vec<u8> {
    seed[1..].to_vec()
}

const OURS: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3));

/// What the instance did, with the time since the scenario began.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<String>>);

impl Log {
    fn line(&self, base: Instant, text: String) {
        let ms = Instant::now().duration_since(base).as_millis();
        let _ = writeln!(self.0.lock().unwrap(), "{ms:>6} ms  {text}");
    }
}

/// A recording [`VrrpIo`] that delivers a script of datagrams.
struct ReplayIo {
    base: Instant,
    script: VecDeque<(Duration, Vec<u8>)>,
    log: Log,
    track_tx: Option<mpsc::UnboundedSender<TrackEvent>>,
    peers: Vec<IpAddr>,
}

fn describe_advert(p: &[u8]) -> String {
    let version = p[0] >> 4;
    let interval = if version == 2 {
        format!("{}s", p[5])
    } else {
        format!("{}cs", u16::from_be_bytes([p[4], p[5]]) & 0x0fff)
    };
    format!(
        "v{version} vrid {} priority {} interval {interval} addresses {}",
        p[1], p[2], p[3]
    )
}

impl VrrpIo for ReplayIo {
    fn src(&self) -> IpAddr {
        OURS
    }

    fn destinations(&self) -> Vec<IpAddr> {
        if self.peers.is_empty() {
            vec![IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18))]
        } else {
            self.peers.clone()
        }
    }

    async fn recv(&mut self, buf: &mut [u8]) -> io::Result<Datagram> {
        let Some((at, _)) = self.script.front() else {
            return std::future::pending().await;
        };
        // Sleep first, pop after: a cancelled recv keeps its datagram.
        tokio::time::sleep_until(self.base + *at).await;
        let (_, bytes) = self.script.pop_front().expect("checked above");
        buf[..bytes.len()].copy_from_slice(&bytes);
        self.log.line(
            self.base,
            format!("receive {}", describe_advert(&bytes[20..])),
        );
        Ok(Datagram::V4 { len: bytes.len() })
    }

    async fn send(&mut self, payload: &[u8], dst: IpAddr) -> io::Result<()> {
        self.log.line(
            self.base,
            format!("send to {dst}: {}", describe_advert(payload)),
        );
        Ok(())
    }

    async fn add_vips(&mut self, vips: &[Vip]) -> Result<Vec<IpAddr>, NetError> {
        self.log.line(self.base, format!("add VIPs {vips:?}"));
        Ok(vips.iter().map(|(ip, _)| *ip).collect())
    }

    async fn remove_vips(&mut self, vips: &[Vip]) -> Result<(), NetError> {
        if !vips.is_empty() {
            self.log.line(self.base, format!("remove VIPs {vips:?}"));
        }
        Ok(())
    }

    fn announce(&mut self, vips: &[IpAddr], repeat: u32, burst: u32) {
        self.log.line(
            self.base,
            format!("announce {vips:?} x{repeat} (burst {burst})"),
        );
    }

    fn notify(&mut self, script: PathBuf) {
        self.log
            .line(self.base, format!("notify {}", script.display()));
    }

    fn trackers(
        &mut self,
        _config: &VrrpConfig,
    ) -> io::Result<mpsc::UnboundedReceiver<TrackEvent>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.track_tx = Some(tx);
        Ok(rx)
    }

    async fn reopen(&mut self, config: &VrrpConfig) -> anyhow::Result<()> {
        self.peers.clone_from(&config.unicast_peers);
        self.log
            .line(self.base, format!("reopen the socket for {:?}", self.peers));
        Ok(())
    }
}

fn vrrp(yaml: &str) -> VrrpConfig {
    let text = format!(
        "interface: eth0\n{yaml}\nservices: [{{ name: s, vip: 192.0.2.100, port: 5000, backends: [{{ address: 192.0.2.11 }}] }}]\n"
    );
    Config::from_yaml_str(&text)
        .expect("valid scenario config")
        .vrrp
        .remove(0)
}

const V2: &str = "vrrp:
  virtual_router_id: 51
  priority: 100
  auth_pass: \"1111\"
  virtual_ipaddresses: [192.0.2.100/24]
  garp_master_delay: 2s
  notify: { master: /etc/regha/master, backup: /etc/regha/backup, fault: /etc/regha/fault, stop: /etc/regha/stop }";

const V3: &str = "vrrp:
  virtual_router_id: 52
  version: 3
  priority: 100
  virtual_ipaddresses: [192.0.2.100]
  garp_master_delay: 0s
  notify: { master: /etc/regha/master, backup: /etc/regha/backup }";

struct Scenario {
    base: Instant,
    log: Log,
    handle: Option<InstanceHandle>,
}

impl Scenario {
    /// Starts the instance with `config`; `script`: (ms, packet) pairs.
    fn start(config: VrrpConfig, script: &[(u64, &'static [u8])]) -> Self {
        let base = Instant::now();
        let log = Log::default();
        let io = ReplayIo {
            base,
            script: script
                .iter()
                .map(|&(ms, seed)| (Duration::from_millis(ms), packet(seed)))
                .collect(),
            log: log.clone(),
            track_tx: None,
            peers: config.unicast_peers.clone(),
        };
        let handle = start(config, "eth0", io).expect("the replay trackers start");
        Self {
            base,
            log,
            handle: Some(handle),
        }
    }

    async fn until(&self, ms: u64) {
        tokio::time::sleep_until(self.base + Duration::from_millis(ms)).await;
    }

    fn note(&self, text: &str) {
        self.log.line(self.base, format!("# {text}"));
    }

    fn handle(&self) -> &InstanceHandle {
        self.handle.as_ref().expect("running")
    }

    async fn stop(&mut self, ms: u64) {
        self.until(ms).await;
        self.note("stop");
        self.handle.take().expect("running").stop().await;
    }

    fn golden(&self, name: &str) {
        let log = self.log.0.lock().unwrap().clone();
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/vrrp/instance/golden")
            .join(format!("{name}.txt"));
        if std::env::var_os("REGHA_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &log).unwrap();
            return;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; write it with REGHA_BLESS=1 and review it",
                path.display()
            )
        });
        assert!(
            want == log,
            "the instance's behaviour differs from {} (REGHA_BLESS=1 rewrites it after a deliberate change)\n--- want\n{want}\n--- got\n{log}",
            path.display()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn v2_backup_follows_keepalived_and_takes_over_when_it_stops() {
    // keepalived (101) advertises every second, then stops with priority 0:
    // regha (100) takes over after Skew_Time (156/256 s), not the whole
    // Master_Down_Interval.
    let mut script: Vec<(u64, &'static [u8])> =
        (0..5).map(|s| (500 + s * 1000, KA_V2_MASTER)).collect();
    script.push((5200, KA_V2_STOP));
    let mut s = Scenario::start(vrrp(V2), &script);
    s.stop(9000).await;
    s.golden("v2_backup_takes_over_from_keepalived");
}

#[tokio::test(start_paused = true)]
async fn v2_master_yields_to_a_higher_keepalived() {
    // Silence: master after Master_Down_Interval (3 + 156/256 s); then
    // keepalived (101) appears and regha (100) steps down.
    let script = [(5000, KA_V2_MASTER), (6000, KA_V2_MASTER)];
    let mut s = Scenario::start(vrrp(V2), &script);
    s.stop(8000).await;
    s.golden("v2_master_yields");
}

#[tokio::test(start_paused = true)]
async fn v3_backup_adopts_keepalived_interval_and_takes_over() {
    // keepalived (150) at 500 ms: the backup times the master by the
    // advertised interval (RFC 5798), then takes over 156/256 x 500 ms
    // after keepalived's priority 0.
    let mut script: Vec<(u64, &'static [u8])> =
        (0..6).map(|i| (100 + i * 500, KA_V3_MASTER)).collect();
    script.push((3200, KA_V3_STOP));
    let mut s = Scenario::start(vrrp(V3), &script);
    s.stop(6000).await;
    s.golden("v3_backup_takes_over_from_keepalived");
}

#[tokio::test(start_paused = true)]
async fn a_reload_reconfigures_a_master_in_place() {
    let mut s = Scenario::start(vrrp(V2), &[]);
    s.until(4000).await;
    s.note("reload: priority 120, a second VIP, advert 2s, track_backends -50");
    let mut c = vrrp(V2);
    c.priority = 120;
    c.track_backends = Some(regha_config::TrackBackends {
        min_healthy: 1,
        weight: -50,
    });
    c.advert_interval = Duration::from_secs(2);
    c.virtual_ipaddresses
        .push(("192.0.2.101".parse().unwrap(), 32));
    s.handle().reconfigure(c.clone());
    s.until(7000).await;
    s.note("reload: the second VIP removed, unicast to 192.0.2.2");
    c.virtual_ipaddresses.pop();
    c.unicast_peers = vec!["192.0.2.2".parse().unwrap()];
    s.handle().reconfigure(c);
    s.until(9500).await;
    s.note("tracking: no backend is up (the agent's condition): 120 - 50");
    s.handle().backends_ok.send_replace(false);
    s.stop(11_000).await;
    s.golden("reload_in_place");
}

#[tokio::test(start_paused = true)]
async fn tracking_a_weight_zero_backend_condition_faults_the_master() {
    let mut c = vrrp(V2);
    c.track_backends = Some(regha_config::TrackBackends {
        min_healthy: 1,
        weight: 0,
    });
    let mut s = Scenario::start(c, &[]);
    s.until(4000).await;
    s.note("no backend is up: FAULT");
    s.handle().backends_ok.send_replace(false);
    s.until(5000).await;
    s.note("a backend is up again");
    s.handle().backends_ok.send_replace(true);
    s.stop(10_000).await;
    s.golden("track_backends_fault");
}
