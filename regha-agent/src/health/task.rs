//! One tokio task per backend: probe every `interval`, count rise/fall, and
//! publish a [`HealthReport`] on a watch channel after every check.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesOrdered;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use regha_config::HealthKind;

use super::check::{CheckOutcome, FailReason, run_probe};
use crate::net::Sources;
use regha_model::Health;

use super::counter::RiseFall;

/// `tokio::time::interval` panics on a zero period; a zero interval from a
/// config mistake is clamped to this instead of spinning or panicking.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// The most checks of one backend under way at once at the fast interval.
const MAX_FAST_IN_FLIGHT: usize = 4;

/// Everything one checker needs about its backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckSpec {
    /// The check, as the config says it.
    pub probe: HealthKind,
    pub target: SocketAddr,
    pub interval: Duration,
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
    /// Between checks while suspect or in transition.
    pub fast_interval: Duration,
    /// Of one check at the fast interval.
    pub fast_timeout: Duration,
}

/// The latest view of one backend, replaced after every check.
///
/// `state` changes only on a rise/fall transition; the other fields move on
/// every check, so consumers that only care about transitions should compare
/// `state` (or `transitions`) with what they saw last.
#[derive(Clone, Debug)]
pub struct HealthReport {
    pub state: Health,
    pub last: Option<CheckOutcome>,
    pub last_latency: Option<Duration>,
    /// When `state` was entered (for `Unknown`: when the report was created).
    pub since: Instant,
    /// Checks completed.
    pub checks: u64,
    /// State changes, including the first `Unknown -> Up/Down` decision.
    pub transitions: u64,
    /// When the last transition was decided; `None` while still `Unknown`.
    pub decided_at: Option<Instant>,
    /// Checks passed in a row, up to the last one (0 after a failure).
    pub passed_in_a_row: u32,
    /// The checks run at the fast interval: the backend is suspect or in
    /// transition.
    pub fast: bool,
}

impl HealthReport {
    /// The report before any check: `Unknown`, nothing counted.
    pub fn new() -> Self {
        Self {
            state: Health::Unknown,
            last: None,
            last_latency: None,
            since: Instant::now(),
            checks: 0,
            transitions: 0,
            decided_at: None,
            passed_in_a_row: 0,
            fast: false,
        }
    }
}

impl Default for HealthReport {
    fn default() -> Self {
        Self::new()
    }
}

/// Spawns the checker for one backend. Each probe leaves from the source
/// `sources` chooses for the backend at that moment (the LB interface's
/// own address, never a VIP).
///
/// The task owns the report: it starts by publishing a fresh `Unknown`
/// report (so `state` always mirrors its own rise/fall counter), then checks
/// at once and every `spec.interval` after that, or every
/// `spec.fast_interval` (each probe bounded by `spec.fast_timeout`) while
/// `fast` says the backend is suspect or while it is in transition (a
/// contrary result counted, rise/fall not reached yet). When `fast` turns
/// on, the next check is due `fast_interval` after the last one began:
/// usually at once. At the fast interval checks may overlap (see
/// [`in_flight_limit`]); their results count in the order they started.
/// It ends when `shutdown` becomes `true` (or its sender is
/// dropped: nobody could stop it any more) or when `tx` has no receivers
/// left, including in the middle of a probe.
pub fn spawn_checker(
    spec: CheckSpec,
    sources: Sources,
    tx: watch::Sender<HealthReport>,
    shutdown: watch::Receiver<bool>,
    fast: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(run_checker(spec, sources, tx, shutdown, fast))
}

async fn run_checker(
    spec: CheckSpec,
    sources: Sources,
    tx: watch::Sender<HealthReport>,
    mut shutdown: watch::Receiver<bool>,
    mut fast: watch::Receiver<bool>,
) {
    let target = spec.target;
    // What was last said about the source, so that each change is logged once.
    let mut said: Option<(Option<SocketAddr>, Option<std::net::IpAddr>)> = None;
    let mut counter = RiseFall::new(spec.rise, spec.fall);
    tx.send_replace(HealthReport::new());
    let mut suspect = *fast.borrow_and_update();
    let mut fast_open = true;
    let mut passed_in_a_row = 0u32;
    let mut last_start: Option<Instant> = None;
    // The first check runs at once.
    let mut next = Instant::now();
    let period = |fast: bool| {
        if fast {
            spec.fast_interval
        } else {
            spec.interval
        }
        .max(MIN_INTERVAL)
    };
    // Checks under way, their results taken in the order they started.
    let mut in_flight: FuturesOrdered<Probe<'_>> = FuturesOrdered::new();

    loop {
        let fast_now = suspect || counter.streak() > 0;
        let may_start = in_flight.len() < in_flight_limit(&spec, fast_now);
        tokio::select! {
            biased;
            () = stopped(&mut shutdown, &tx) => break,
            Some((start, outcome, latency)) = in_flight.next(), if !in_flight.is_empty() => {
                let from = counter.state();
                // A refused connection is definite (nothing listens: the
                // process is gone): it takes an up backend down at once,
                // where a timeout or a wrong answer counts as one of `fall`.
                let transition = match outcome.reason() {
                    Some(FailReason::Refused) => counter.record_definite_failure(),
                    _ => counter.record(outcome.is_ok()),
                };
                passed_in_a_row = if outcome.is_ok() {
                    passed_in_a_row.saturating_add(1)
                } else {
                    0
                };
                let now = Instant::now();
                if let Some(to) = transition {
                    log_transition(target, from, to, &outcome);
                } else {
                    let result = outcome.detail();
                    tracing::trace!(backend = %target, state = ?from, %result, "health check");
                }
                // As `MissedTickBehavior::Delay`: a slow probe pushes the
                // schedule back instead of causing a burst of catch-up checks
                // that would hit a struggling backend harder.
                let fast_next = suspect || counter.streak() > 0;
                next = (last_start.unwrap_or(start) + period(fast_next)).max(now);
                tx.send_modify(|report| {
                    report.checks += 1;
                    report.last = Some(outcome);
                    report.last_latency = Some(latency);
                    report.passed_in_a_row = passed_in_a_row;
                    report.fast = fast_next;
                    if let Some(to) = transition {
                        report.state = to;
                        report.since = now;
                        report.decided_at = Some(now);
                        report.transitions += 1;
                    }
                });
            }
            () = tokio::time::sleep_until(next.into()), if may_start => {
                let (source, choice) = sources.choose(target.ip());
                if said != Some((source, choice.kernel_vip)) {
                    said = Some((source, choice.kernel_vip));
                    log_source(target, source, choice.kernel_vip);
                }
                let timeout = if fast_now {
                    spec.fast_timeout
                } else {
                    spec.timeout
                };
                let start = Instant::now();
                last_start = Some(start);
                next = start + period(fast_now);
                let probe = &spec.probe;
                in_flight.push_back(Box::pin(async move {
                    let (outcome, latency) = run_probe(probe, target, source, timeout).await;
                    (start, outcome, latency)
                }));
            }
            changed = fast.changed(), if fast_open => {
                if changed.is_err() {
                    // Nobody can say "suspect" any more: keep what was said.
                    fast_open = false;
                    continue;
                }
                suspect = *fast.borrow_and_update();
                let fast_now = suspect || counter.streak() > 0;
                tracing::debug!(backend = %target, suspect, fast = fast_now, "check schedule");
                if let Some(start) = last_start {
                    next = start + period(fast_now);
                }
                tx.send_modify(|r| r.fast = fast_now);
            }
        }
    }
    tracing::debug!(backend = %target, "health checker stopped");
}

/// One check under way: when it started, its outcome and latency.
type Probe<'a> = Pin<Box<dyn Future<Output = (Instant, CheckOutcome, Duration)> + Send + 'a>>;

/// How many checks may be under way at once. At the regular interval, one:
/// the next starts only when the last has ended (a slow probe pushes the
/// schedule back). At the fast interval a check starts every
/// `fast_interval` even while earlier ones still wait for their
/// `fast_timeout` (at most [`MAX_FAST_IN_FLIGHT`]): a host that is cut off
/// answers none of them, and waiting for each timeout in turn would put
/// `fall` timeouts end to end instead of one `fast_interval` apart.
fn in_flight_limit(spec: &CheckSpec, fast: bool) -> usize {
    if !fast {
        return 1;
    }
    let interval = spec.fast_interval.max(MIN_INTERVAL).as_nanos();
    let overlap = spec.fast_timeout.as_nanos().div_ceil(interval);
    usize::try_from(overlap)
        .unwrap_or(MAX_FAST_IN_FLIGHT)
        .clamp(1, MAX_FAST_IN_FLIGHT)
}

/// Resolves when the checker should stop: shutdown requested (or its sender
/// gone), or nobody listens to the reports any more.
async fn stopped(shutdown: &mut watch::Receiver<bool>, tx: &watch::Sender<HealthReport>) {
    tokio::select! {
        // Err means the sender was dropped: treat as shutdown rather than
        // leaving an unstoppable task behind.
        _ = shutdown.wait_for(|stop| *stop) => {}
        () = tx.closed() => {}
    }
}

/// The checks' source, once per change; a warning when the host's other
/// traffic to the backend leaves from a VIP, or when the checks must.
fn log_source(
    target: SocketAddr,
    source: Option<SocketAddr>,
    kernel_vip: Option<std::net::IpAddr>,
) {
    match (source, kernel_vip) {
        (None, Some(vip)) => tracing::warn!(
            backend = %target,
            %vip,
            "the LB interface has no address of its own of this family besides the VIPs: checks leave from what the kernel picks, the VIP, and the backend (holding the VIP on lo) never answers; give the interface an address of its own"
        ),
        (Some(source), Some(vip)) => tracing::warn!(
            backend = %target,
            source = %source.ip(),
            %vip,
            "the kernel sends this host's traffic to the backend from a VIP, which the backend holds on lo and answers to itself: regha's checks leave from the interface's own address, anything else on this host does not; give the interface an address of its own in the VIP's subnet, or hold the VIP as a host address (/32)"
        ),
        (Some(source), None) => {
            tracing::debug!(backend = %target, source = %source.ip(), "checks leave from the interface's own address")
        }
        (None, None) => {}
    }
}

fn log_transition(target: SocketAddr, from: Health, to: Health, outcome: &CheckOutcome) {
    let reason = outcome.detail();
    match to {
        Health::Down => {
            tracing::warn!(backend = %target, ?from, ?to, %reason, "backend is DOWN");
        }
        Health::Up => {
            tracing::info!(backend = %target, ?from, ?to, %reason, "backend is UP");
        }
        // RiseFall never transitions back to Unknown.
        Health::Unknown => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    const FAIL: &str =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    /// Bound for "the task must react promptly" waits; generous so a loaded
    /// CI machine does not flake, far below any real hang.
    const PROMPT: Duration = Duration::from_secs(2);

    /// HTTP server answering request `i` with 200 if `script[i]` else 503, and
    /// 200 once the script is exhausted. Returns its address and the number of
    /// requests served so far.
    async fn scripted_server(script: &'static [bool]) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        let counter = served.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let i = counter.fetch_add(1, Ordering::SeqCst);
                let ok = script.get(i).copied().unwrap_or(true);
                let _ = sock.write_all(if ok { OK } else { FAIL }.as_bytes()).await;
                let _ = sock.shutdown().await;
            }
        });
        (addr, served)
    }

    fn spec(target: SocketAddr, probe: HealthKind) -> CheckSpec {
        CheckSpec {
            probe,
            target,
            interval: Duration::from_millis(20),
            timeout: Duration::from_millis(500),
            rise: 2,
            fall: 3,
            fast_interval: Duration::from_millis(20),
            fast_timeout: Duration::from_millis(500),
        }
    }

    /// Never suspect.
    fn not_fast() -> watch::Receiver<bool> {
        watch::channel(false).1
    }

    fn http() -> HealthKind {
        HealthKind::Http {
            path: "/v2/".to_owned(),
            host: None,
            expect: vec![200],
            expect_header: None,
            tls: None,
        }
    }

    #[tokio::test]
    async fn up_down_up_follows_rise_fall() {
        // Checks:  1  2  3  4  5  6  7  8
        // Result:  ok ok F  F  F  ok F  ok ok
        // State:   Up Up Up Up Dn Dn Dn Dn Up   (fall=3, rise=2, the failure
        // at 7 resets the rise streak)
        const SCRIPT: &[bool] = &[true, true, false, false, false, true, false, true, true];
        fn expected(checks: u64) -> (Health, u64) {
            match checks {
                0 => (Health::Unknown, 0),
                1..=4 => (Health::Up, 1),
                5..=8 => (Health::Down, 2),
                _ => (Health::Up, 3),
            }
        }
        let (addr, served) = scripted_server(SCRIPT).await;
        let (tx, mut rx) = watch::channel(HealthReport::new());
        let (stop_tx, stop_rx) = watch::channel(false);
        let handle = spawn_checker(
            spec(addr, http()),
            Sources::unbound(),
            tx,
            stop_rx,
            not_fast(),
        );

        // Watch coalesces values a slow reader misses, so check every report
        // seen against the state the script dictates for that check count,
        // rather than assuming each one is seen.
        let mut seen = Vec::new();
        let last = tokio::time::timeout(PROMPT * 5, async {
            loop {
                rx.changed().await.unwrap();
                let r = rx.borrow_and_update().clone();
                assert_eq!(
                    (r.state, r.transitions),
                    expected(r.checks),
                    "after {} checks: {r:?}",
                    r.checks
                );
                assert_eq!(r.decided_at.is_some(), r.transitions > 0);
                if r.checks > 0 {
                    assert!(r.last.is_some() && r.last_latency.is_some());
                }
                if !seen.contains(&r.state) {
                    seen.push(r.state);
                }
                if r.checks >= SCRIPT.len() as u64 {
                    return r;
                }
            }
        })
        .await
        .expect("checker did not get through the script");

        assert_eq!(last.state, Health::Up);
        assert_eq!(last.transitions, 3);
        assert!(last.last.as_ref().is_some_and(CheckOutcome::is_ok));
        assert!(
            seen.contains(&Health::Down),
            "never observed Down: {seen:?}"
        );
        assert_eq!(last.decided_at, Some(last.since));

        stop_tx.send(true).unwrap();
        tokio::time::timeout(PROMPT, handle)
            .await
            .expect("checker did not stop on shutdown")
            .unwrap();
        // Stopped means no more checks.
        let after = served.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(served.load(Ordering::SeqCst), after);
    }

    #[tokio::test]
    async fn suspicion_and_transitions_use_the_fast_interval() {
        // ok, then a failure (in transition: fast), two more passes, then ok.
        const SCRIPT: &[bool] = &[true, false, true];
        let (addr, served) = scripted_server(SCRIPT).await;
        let (tx, mut rx) = watch::channel(HealthReport::new());
        let (_stop_tx, stop_rx) = watch::channel(false);
        let (fast_tx, fast_rx) = watch::channel(false);
        let mut s = spec(addr, http());
        s.interval = Duration::from_secs(3600);
        let _handle = spawn_checker(s, Sources::unbound(), tx, stop_rx, fast_rx);
        let first = tokio::time::timeout(PROMPT, rx.wait_for(|r| r.checks >= 1))
            .await
            .unwrap()
            .unwrap()
            .clone();
        assert_eq!((first.state, first.fast), (Health::Up, false));
        // Not suspect: the next check is an hour away.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(served.load(Ordering::SeqCst), 1);

        // Suspect: checks at once and every 20 ms; the failure (fall=3) keeps
        // them fast as a transition too.
        fast_tx.send_replace(true);
        let r = tokio::time::timeout(PROMPT, rx.wait_for(|r| r.checks >= 5))
            .await
            .expect("suspicion did not bring the checks forward")
            .unwrap()
            .clone();
        assert_eq!(r.state, Health::Up);
        assert!(r.fast);
        assert!(r.passed_in_a_row >= 2, "{r:?}");

        // No longer suspect, no transition under way: back to the hour.
        fast_tx.send_replace(false);
        tokio::time::timeout(PROMPT, rx.wait_for(|r| !r.fast))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
        let after = served.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(served.load(Ordering::SeqCst), after);
    }

    #[tokio::test]
    async fn a_transition_checks_at_the_fast_interval() {
        // Up, then failures: fall=3 is reached at the fast interval, not
        // after two more hours.
        const SCRIPT: &[bool] = &[true, false, false, false];
        let (addr, _served) = scripted_server(SCRIPT).await;
        let (tx, mut rx) = watch::channel(HealthReport::new());
        let (_stop_tx, stop_rx) = watch::channel(false);
        let (fast_tx, fast_rx) = watch::channel(false);
        let mut s = spec(addr, http());
        s.interval = Duration::from_secs(3600);
        let _handle = spawn_checker(s, Sources::unbound(), tx, stop_rx, fast_rx);
        tokio::time::timeout(PROMPT, rx.wait_for(|r| r.checks >= 1))
            .await
            .unwrap()
            .unwrap();
        // One suspicion brings the first failure; the rest is the transition.
        fast_tx.send_replace(true);
        tokio::time::timeout(PROMPT, rx.wait_for(|r| r.checks >= 2))
            .await
            .unwrap()
            .unwrap();
        fast_tx.send_replace(false);
        let r = tokio::time::timeout(PROMPT, rx.wait_for(|r| r.state == Health::Down))
            .await
            .expect("the transition did not run at the fast interval")
            .unwrap()
            .clone();
        assert_eq!(r.checks, 4);
    }

    #[tokio::test]
    async fn fast_checks_of_a_silent_host_overlap_and_fall_one_interval_apart() {
        // The first connection is answered (up); every later one is accepted
        // and never answered, as by a host whose registry hangs.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let server = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut sock, _)) = listener.accept().await {
                if count.fetch_add(1, Ordering::SeqCst) == 0 {
                    let mut buf = [0u8; 1024];
                    let _ = sock.read(&mut buf).await;
                    let _ = sock.write_all(OK.as_bytes()).await;
                    let _ = sock.shutdown().await;
                } else {
                    held.push(sock);
                }
            }
        });
        let (tx, mut rx) = watch::channel(HealthReport::new());
        let (_stop_tx, stop_rx) = watch::channel(false);
        let (fast_tx, fast_rx) = watch::channel(false);
        let mut s = spec(addr, http());
        s.interval = Duration::from_secs(3600);
        s.fast_interval = Duration::from_millis(50);
        s.fast_timeout = Duration::from_secs(1);
        assert_eq!(in_flight_limit(&s, true), MAX_FAST_IN_FLIGHT);
        assert_eq!(in_flight_limit(&s, false), 1);
        let _handle = spawn_checker(s, Sources::unbound(), tx, stop_rx, fast_rx);
        tokio::time::timeout(PROMPT, rx.wait_for(|r| r.state == Health::Up))
            .await
            .unwrap()
            .unwrap();
        fast_tx.send_replace(true);
        // Well before the first fast check times out, the next ones have
        // started, up to the limit and no further.
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(rx.borrow().checks, 1, "a held check ended early");
        assert_eq!(accepted.load(Ordering::SeqCst), 1 + MAX_FAST_IN_FLIGHT);
        // fall=3 timeouts: down after the third, counted in order.
        let r = tokio::time::timeout(PROMPT * 2, rx.wait_for(|r| r.state == Health::Down))
            .await
            .expect("the overlapping checks did not take the backend down")
            .unwrap()
            .clone();
        assert_eq!(r.checks, 4, "{r:?}");
        assert_eq!(
            r.last.as_ref().and_then(CheckOutcome::reason),
            Some(FailReason::Timeout)
        );
        server.abort();
    }

    #[tokio::test]
    async fn a_refused_check_takes_an_up_backend_down_at_once() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut rx) = watch::channel(HealthReport::new());
        let (_stop_tx, stop_rx) = watch::channel(false);
        let (fast_tx, fast_rx) = watch::channel(false);
        let mut s = spec(addr, HealthKind::Tcp);
        s.interval = Duration::from_secs(3600);
        let _handle = spawn_checker(s, Sources::unbound(), tx, stop_rx, fast_rx);
        tokio::time::timeout(PROMPT, rx.wait_for(|r| r.state == Health::Up))
            .await
            .unwrap()
            .unwrap();
        drop(listener);
        fast_tx.send_replace(true);
        let r = tokio::time::timeout(PROMPT, rx.wait_for(|r| r.checks >= 2))
            .await
            .unwrap()
            .unwrap()
            .clone();
        assert_eq!((r.state, r.transitions), (Health::Down, 2), "{r:?}");
    }

    #[tokio::test]
    async fn first_failure_decides_down() {
        let addr = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        let (tx, mut rx) = watch::channel(HealthReport::new());
        let (_stop_tx, stop_rx) = watch::channel(false);
        let handle = spawn_checker(
            spec(addr, HealthKind::Tcp),
            Sources::unbound(),
            tx,
            stop_rx,
            not_fast(),
        );
        let r = tokio::time::timeout(PROMPT, rx.wait_for(|r| r.checks >= 1))
            .await
            .unwrap()
            .unwrap()
            .clone();
        assert_eq!((r.state, r.transitions), (Health::Down, 1));
        assert_eq!(
            r.last.as_ref().and_then(CheckOutcome::reason),
            Some(FailReason::Refused)
        );
        drop(rx);
        tokio::time::timeout(PROMPT, handle)
            .await
            .expect("checker did not stop once all receivers were dropped")
            .unwrap();
    }

    #[tokio::test]
    async fn shutdown_interrupts_a_probe_in_flight() {
        // Accepts and never answers, so the probe would wait its full timeout.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        });
        let (tx, rx) = watch::channel(HealthReport::new());
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut s = spec(addr, http());
        s.timeout = Duration::from_secs(60);
        let handle = spawn_checker(s, Sources::unbound(), tx, stop_rx, not_fast());
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop_tx.send(true).unwrap();
        tokio::time::timeout(PROMPT, handle)
            .await
            .expect("checker waited for the probe instead of stopping")
            .unwrap();
        assert_eq!(rx.borrow().checks, 0);
        server.abort();
    }

    #[tokio::test]
    async fn dropped_shutdown_sender_stops_the_checker() {
        let (addr, _served) = scripted_server(&[]).await;
        let (tx, _rx) = watch::channel(HealthReport::new());
        let (stop_tx, stop_rx) = watch::channel(false);
        let handle = spawn_checker(
            spec(addr, HealthKind::Tcp),
            Sources::unbound(),
            tx,
            stop_rx,
            not_fast(),
        );
        drop(stop_tx);
        tokio::time::timeout(PROMPT, handle)
            .await
            .expect("checker outlived its shutdown sender")
            .unwrap();
    }

    #[tokio::test]
    async fn zero_interval_does_not_panic() {
        let (addr, _served) = scripted_server(&[]).await;
        let (tx, mut rx) = watch::channel(HealthReport::new());
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut s = spec(addr, HealthKind::Tcp);
        s.interval = Duration::ZERO;
        let handle = spawn_checker(s, Sources::unbound(), tx, stop_rx, not_fast());
        tokio::time::timeout(PROMPT, rx.wait_for(|r| r.checks >= 3))
            .await
            .unwrap()
            .unwrap();
        stop_tx.send(true).unwrap();
        tokio::time::timeout(PROMPT, handle).await.unwrap().unwrap();
    }
}
