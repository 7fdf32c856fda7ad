//! The daemon: a thin shell around the pure core (`core/`). The shell sets
//! up the dataplane, turns what happens (a checker's report, a MAC, a VRRP
//! status, a signal, an admin command, a deadline) into the core's events,
//! and carries out the effects the core returns, in order; after every step
//! it publishes the status.
//!
//! ```text
//!  health checkers (one task per backend) --report--+   (checks and MAC probes leave from
//!  MAC watcher (macs.rs: neighbour table) --MAC-----+    addresses.rs's view: never a VIP)
//!  VRRP instances (vrrp/instance) --status----------+
//!  SIGHUP (reload), SIGTERM / SIGINT (stop) --------+--> Core::step --> effects (effects.rs):
//!  admin socket (drain, disable, enable, resign) ---+      maps, VIPs + GARP, VRRP instances,
//!  deadlines (drains, the hold after adoption) -----+      checkers, MAC watches, stats, files
//!  dataplane signals (sampled every 100 ms) --------+      (suspect: fast checks)
//!                                                   \--> status: state file + stats listener
//! ```

mod addresses;
mod checks;
pub mod core;
mod effects;
mod inputs;
mod macs;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use regha_config::{Config, ConfigErrors};
use regha_model::{Role, ServiceIdentity, XdpMode};
use tokio::signal::unix::SignalKind;
use tracing::{info, warn};

use self::{
    core::{Core, CoreOptions, Event},
    effects::Shell,
};
use crate::{
    admin::{AdminTable, table_path},
    dataplane::{DEFAULT_BPFFS_ROOT, Dataplane, DataplaneOptions, MapWriter},
    ids::Ids,
    net::{self, Interface},
    status::file::DEFAULT_STATE_DIR,
};

pub use checks::Checks;

/// What the command line decides.
#[derive(Clone, Debug)]
pub struct AgentOptions {
    pub config_path: PathBuf,
    pub iface: Option<String>,
    pub role: Option<Role>,
    pub xdp_mode: Option<XdpMode>,
    pub keep_dataplane: bool,
    pub bpffs_root: PathBuf,
    pub state_dir: PathBuf,
}

impl AgentOptions {
    pub fn new(config_path: PathBuf) -> Self {
        Self {
            config_path,
            iface: None,
            role: None,
            xdp_mode: None,
            keep_dataplane: false,
            bpffs_root: PathBuf::from(DEFAULT_BPFFS_ROOT),
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
        }
    }
}

/// Loads and validates the config with the command line's overrides.
pub fn load_config(opts: &AgentOptions) -> Result<Config, ConfigErrors> {
    let mut config =
        Config::load(&opts.config_path)?.with_interface_override(opts.iface.as_deref())?;
    if let Some(role) = opts.role {
        config.role = Some(role);
    }
    if let Some(mode) = opts.xdp_mode {
        config.xdp_mode = mode;
    }
    Ok(config)
}

/// The VIP routes an earlier run left (`bgp:`): those of a VIP still
/// announced, with the dataplane still steering, are adopted (returned);
/// every other route of regha's protocol is deleted, as nothing backs it (a
/// removed VIP, a dataplane that was not running).
async fn bgp_routes_at_start(
    handle: &rtnetlink::Handle,
    config: &Config,
    adopting: bool,
) -> Result<Vec<std::net::IpAddr>> {
    let (protocol, vips) = match &config.bgp {
        Some(b) => (b.route_protocol, b.vips.clone()),
        // `bgp:` taken out while routes were left: those of this config's
        // VIPs with the default protocol go.
        None => (regha_config::DEFAULT_BGP_ROUTE_PROTOCOL, Vec::new()),
    };
    let found = crate::bgp::route::list(handle, protocol)
        .await
        .context("cannot list the VIP routes")?;
    let service_vips: Vec<std::net::IpAddr> = config.services.iter().map(|s| s.vip).collect();
    let mut kept = Vec::new();
    for ip in found {
        if adopting && vips.contains(&ip) {
            info!(vip = %ip, protocol, "VIP route adopted: it stays until the health view decides");
            kept.push(ip);
        } else if config.bgp.is_some() || service_vips.contains(&ip) {
            warn!(vip = %ip, protocol, adopting, "stale VIP route deleted: no running dataplane backs it");
            crate::bgp::route::withdraw(handle, ip, protocol).await?;
        }
    }
    Ok(kept)
}

/// Runs the agent until SIGTERM or SIGINT.
pub async fn run(opts: AgentOptions) -> Result<()> {
    let config = load_config(&opts).map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
    for w in config
        .warnings()
        .into_iter()
        .chain(config.script_warnings())
    {
        warn!(warning = %w, "configuration warning (check-config lists them)");
    }
    let iface_name = config
        .interface
        .clone()
        .expect("with_interface_override sets it");
    let handle = net::connect()?;
    let iface = Interface::lookup(&handle, &iface_name).await?;
    let pin_dir = opts.bpffs_root.join(&iface.name);
    let adopting = pin_dir.join("link").exists();
    let dp_opts = DataplaneOptions {
        pin_dir: pin_dir.clone(),
        iface_mac: iface.mac,
        flow_table_size: config.flow_table_size,
    };
    let mut dataplane = Dataplane::load(&dp_opts)?;
    let mode = match config.xdp_mode {
        XdpMode::Native => aya::programs::XdpMode::Driver,
        XdpMode::Generic => aya::programs::XdpMode::Skb,
    };
    dataplane.attach(&iface.name, mode)?;
    let maps = dataplane.maps()?;
    let ids = adopt_ids(&maps)?;
    info!(iface = %iface.name, adopting, pin_dir = %pin_dir.display(), ?mode, "dataplane ready");

    let admin = AdminTable::load(&table_path(&opts.state_dir, &iface.name)).unwrap_or_else(|e| {
        tracing::error!(error = %e, "the admin state file is unreadable: every backend starts enabled");
        AdminTable::default()
    });
    for e in &admin.backends {
        info!(service = %e.service, backend = %e.backend, state = %e.state, "admin state kept from the last run");
    }
    // After a restart the dataplane is steering: nothing is written until
    // the checks have decided (a backend down only after `fall` tries),
    // bounded by the longest time that takes.
    let hold = longest_decision(&config) + Duration::from_millis(500);
    let flow_sync = config.flow_sync.clone();
    let routes = bgp_routes_at_start(&handle, &config, adopting).await?;
    let frr = config.bgp.as_ref().and_then(|b| b.frr.clone());
    let mut core = Core::new(
        config,
        ids,
        admin,
        CoreOptions {
            role_override: opts.role,
        },
    );
    // The handlers go in before anything is started: a SIGTERM during the
    // start (systemctl stop right after start) waits in them and stops the
    // agent cleanly once it is up, where the default action would kill it
    // with its VIPs and listeners half set up.
    let mut hup = tokio::signal::unix::signal(SignalKind::hangup())?;
    let mut term = tokio::signal::unix::signal(SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(SignalKind::interrupt())?;
    // The watchers dump on their own connections (see `net::connect`).
    let addresses = addresses::AddressWatcher::start(net::connect()?, iface.clone()).await?;
    let macs_handle = net::connect()?;
    let (mut shell, mut rx) = Shell::new(
        opts,
        handle,
        macs_handle,
        iface,
        pin_dir,
        maps,
        dataplane,
        addresses,
    );
    if let Some(fs) = &flow_sync {
        shell
            .start_flow_sync(fs)
            .context("cannot start flow sync")?;
    }
    if let Some(frr) = frr {
        // vtysh reaches FRR's sockets through their group, which the agent
        // joins while it still may (see `bgp/frr.rs`).
        match crate::bgp::frr::join_vty_group() {
            Ok(true) => {}
            Ok(false) => warn!(
                group = crate::bgp::frr::VTY_GROUP,
                "FRR's vty group does not exist: the BGP and BFD sessions will not be shown (is FRR installed?)"
            ),
            Err(e) => {
                warn!(error = %e, "cannot join FRR's vty group: the BGP and BFD sessions will not be shown")
            }
        }
        shell.start_frr_reader(frr);
    }
    shell
        .step(
            &mut core,
            Event::Start {
                adopting,
                hold,
                routes,
            },
        )
        .await
        .context("cannot start")?;
    let _admin = shell.start_admin_socket();
    // Setup is over: every socket, listener and map the agent needs to open
    // with more privilege is open.
    let keep = crate::privileges::mask(&crate::privileges::KEPT);
    crate::privileges::drop_all_threads(keep)
        .context("cannot drop the capabilities the agent no longer needs")?;
    info!(
        kept = ?crate::privileges::names(keep),
        no_new_privs = true,
        "capabilities dropped: every other one is gone from all threads"
    );
    shell.step(&mut core, Event::PrivilegesDropped).await?;

    // The dataplane's signals, sampled beside everything else; a late tick
    // is skipped, not caught up.
    let mut sample = tokio::time::interval(crate::health::suspicion::SAMPLE_EVERY);
    sample.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let deadline = core.next_deadline();
        let event = tokio::select! {
            _ = sample.tick() => shell.signals(&core),
            Some((backend, report)) = rx.health.recv() => Event::Health { backend, report },
            Some((addr, mac)) = rx.macs.recv() => Event::Mac { addr, mac: Some(mac) },
            Some((router, status)) = rx.vrrp.recv() => Event::Vrrp { router, status },
            () = sleep_until(deadline) => Event::Tick,
            _ = hup.recv() => Event::Reload(shell.reload_config().map(Box::new)),
            Some((request, answer)) = rx.admin.recv() => {
                shell.answer_next(answer);
                Event::Admin(request)
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        };
        shell.step(&mut core, event).await?;
    }
    info!("stopping");
    let announced = core.config().bgp.is_some();
    shell.step(&mut core, Event::Stop).await?;
    if announced {
        // The routes are withdrawn, but the router sends this LB the VIPs'
        // packets until its FIB drops them (about 0.1 to 0.3 s after a
        // withdrawal): the program steers them meanwhile, as a drain
        // would, rather than the kernel dropping them.
        info!(grace = ?BGP_STOP_GRACE, "VIP routes withdrawn: steering on while the router moves the flows");
        tokio::time::sleep(BGP_STOP_GRACE).await;
    }
    shell.shutdown().await
}

/// How long a stopping agent in BGP mode keeps steering after it withdrew
/// its routes.
const BGP_STOP_GRACE: Duration = Duration::from_secs(1);

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn longest_decision(config: &Config) -> Duration {
    config
        .services
        .iter()
        .map(|s| s.health.interval * s.health.fall.saturating_sub(1) + s.health.timeout)
        .max()
        .unwrap_or_default()
}

/// Ids as the pinned maps hold them (empty on a fresh dataplane).
fn adopt_ids(maps: &MapWriter) -> Result<Ids> {
    let services = maps
        .service_entries()?
        .into_iter()
        .filter(|(k, _)| k.port != regha_common::FRAGMENT_PORT)
        .filter_map(|(k, v)| {
            let vip = crate::dataplane::ip_of(&k.addr, k.family)?;
            Some((
                ServiceIdentity {
                    vip,
                    port: k.port,
                    protocol: regha_model::Protocol::from_number(k.proto)?,
                },
                v.id,
            ))
        });
    let backends = maps.backend_entries()?;
    Ok(Ids::adopt(services, backends))
}
