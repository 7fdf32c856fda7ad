//! The probes: one HTTP(S) request or one TCP connect against a backend,
//! each bounded by a single timeout.
//!
//! HTTPS (`http.tls`, HAProxy's `check-ssl`): the same request after a TLS
//! handshake with the rustls client the config load built from the PEM
//! files ([`regha_config::tls`]): the checks read no file. The name sent and
//! verified is `tls.server_name`, else the backend's address, for which
//! rustls sends no SNI and the certificate must carry an IP SAN.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper::header::{CONNECTION, HOST, HeaderValue, USER_AGENT};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use regha_config::{HealthKind, TlsCheck};

const USER_AGENT_VALUE: &str = "regha-health/0.1";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckOutcome {
    Ok { detail: String },
    Failed { reason: FailReason, detail: String },
}

impl CheckOutcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok { .. })
    }

    /// Human-readable description, for logs and the status page.
    pub fn detail(&self) -> &str {
        match self {
            Self::Ok { detail } | Self::Failed { detail, .. } => detail,
        }
    }

    pub fn reason(&self) -> Option<FailReason> {
        match self {
            Self::Ok { .. } => None,
            Self::Failed { reason, .. } => Some(*reason),
        }
    }
}

/// Why a check failed; coarse on purpose so it can be a metrics label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailReason {
    /// The connection was actively refused (RST): nothing listens.
    Refused,
    /// No connection or no response headers within the timeout.
    Timeout,
    /// An HTTP response arrived with a status outside `expect`.
    Status,
    /// The status matched but the expected header was missing.
    Header,
    /// The peer did not speak HTTP/1 (unparseable or truncated response).
    Protocol,
    /// The TLS handshake failed: an untrusted or mismatched certificate, a
    /// client certificate refused, or a peer that does not speak TLS.
    Tls,
    /// Any other I/O error (reset, unreachable, ...).
    Io,
}

impl FailReason {
    /// Stable lower-case name, for metrics labels and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refused => "refused",
            Self::Timeout => "timeout",
            Self::Status => "status",
            Self::Header => "header",
            Self::Protocol => "protocol",
            Self::Tls => "tls",
            Self::Io => "io",
        }
    }
}

impl std::fmt::Display for FailReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Runs one probe against `target`. `timeout` bounds everything up to the
/// verdict (connect, and for HTTP the request and the response headers).
/// `source`: the address to connect from (the LB interface's own, never a
/// VIP: see `net/source.rs`); `None` leaves it to the kernel.
/// Returns the outcome and the time it took.
pub async fn run_probe(
    probe: &HealthKind,
    target: SocketAddr,
    source: Option<SocketAddr>,
    timeout: Duration,
) -> (CheckOutcome, Duration) {
    let start = Instant::now();
    // One deadline shared by the phases, so a slow connect leaves less time
    // for the response instead of each phase getting the full timeout.
    let deadline = start + timeout;
    let result = match probe {
        HealthKind::Tcp => connect(target, source, deadline, timeout)
            .await
            .map(|_stream| {
                // Dropping the stream closes it: the connect was the check.
                format!("TCP connect in {}", fmt_latency(start.elapsed()))
            }),
        HealthKind::Http {
            path,
            host,
            expect,
            expect_header,
            tls,
        } => {
            let req = HttpCheck {
                path,
                host: host.as_deref(),
                expect,
                expect_header: expect_header.as_deref(),
                tls: tls.as_deref(),
            };
            http_check(&req, target, source, start, deadline, timeout).await
        }
    };
    let latency = start.elapsed();
    let outcome = match result {
        Ok(detail) => CheckOutcome::Ok { detail },
        Err((reason, detail)) => CheckOutcome::Failed { reason, detail },
    };
    (outcome, latency)
}

type Failure = (FailReason, String);

struct HttpCheck<'a> {
    path: &'a str,
    host: Option<&'a str>,
    expect: &'a [u16],
    expect_header: Option<&'a str>,
    tls: Option<&'a TlsCheck>,
}

async fn connect(
    target: SocketAddr,
    source: Option<SocketAddr>,
    deadline: Instant,
    timeout: Duration,
) -> Result<TcpStream, Failure> {
    let socket = match target {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| (FailReason::Io, format!("socket: {e}")))?;
    if let Some(source) = source {
        socket
            .bind(source)
            .map_err(|e| (FailReason::Io, format!("bind to {}: {e}", source.ip())))?;
    }
    match tokio::time::timeout_at(deadline, socket.connect(target)).await {
        Err(_elapsed) => Err(timed_out(timeout, "connecting")),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err((FailReason::Refused, "connection refused".to_owned()))
        }
        Ok(Err(e)) => Err((FailReason::Io, format!("connect: {e}"))),
        Ok(Ok(stream)) => Ok(stream),
    }
}

async fn http_check(
    check: &HttpCheck<'_>,
    target: SocketAddr,
    source: Option<SocketAddr>,
    start: Instant,
    deadline: Instant,
    timeout: Duration,
) -> Result<String, Failure> {
    // Build the request first: a bad path or Host is a config problem and
    // should not cost a connection to the backend.
    let host = match check.host {
        Some(h) => h.to_owned(),
        None => default_host(target),
    };
    let host = HeaderValue::from_str(&host).map_err(|_| {
        (
            FailReason::Protocol,
            format!("invalid Host header {host:?}"),
        )
    })?;
    let req = Request::builder()
        .method(Method::GET)
        .uri(check.path)
        .header(HOST, host)
        .header(USER_AGENT, USER_AGENT_VALUE)
        // One request per connection: nothing to reuse between checks
        // seconds apart, and the backend can free the socket at once.
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| (FailReason::Protocol, format!("invalid request: {e}")))?;

    let tls = check.tls.map(|t| tls_client(t, target)).transpose()?;

    let stream = connect(target, source, deadline, timeout).await?;
    // Latency matters more than throughput for a one-shot request.
    let _ = stream.set_nodelay(true);

    let response = match tls {
        None => exchange(stream, req, deadline, timeout).await?,
        Some((connector, name)) => {
            let stream =
                match tokio::time::timeout_at(deadline, connector.connect(name, stream)).await {
                    Err(_elapsed) => return Err(timed_out(timeout, "TLS handshake")),
                    Ok(Err(e)) => return Err(classify_handshake(&e)),
                    Ok(Ok(stream)) => stream,
                };
            exchange(stream, req, deadline, timeout).await?
        }
    };
    let latency = start.elapsed();

    let status = response.status().as_u16();
    if !check.expect.contains(&status) {
        return Err((
            FailReason::Status,
            format!("HTTP {status} (expected {})", list(check.expect)),
        ));
    }
    if let Some(h) = check.expect_header
        && !response.headers().contains_key(h)
    {
        return Err((
            FailReason::Header,
            format!("HTTP {status} missing header {h}"),
        ));
    }
    Ok(format!("HTTP {status} in {}", fmt_latency(latency)))
}

/// The request and the response's status and headers over `io` (TCP or
/// TLS), within `deadline`.
async fn exchange<S>(
    io: S,
    req: Request<Empty<Bytes>>,
    deadline: Instant,
    timeout: Duration,
) -> Result<Response<Incoming>, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let exchange = async {
        let (mut sender, conn) = http1::handshake::<_, Empty<Bytes>>(TokioIo::new(io))
            .await
            .map_err(|e| classify_hyper(&e))?;
        // Drive the connection in this future rather than a spawned task, so
        // the timeout (which drops this future) also tears the socket down.
        // The wrapper drops the connection as soon as it completes, which
        // settles a still-pending request with an error instead of hanging.
        let conn = async move { conn.await.map_err(|e| classify_hyper(&e)) };
        tokio::pin!(conn);
        let response = sender.send_request(req);
        tokio::pin!(response);
        tokio::select! {
            biased;
            r = &mut response => r.map_err(|e| classify_hyper(&e)),
            r = &mut conn => {
                // The connection can finish in the same poll that delivered
                // the response (empty body + `Connection: close`), so the
                // response may still be waiting; prefer the connection's own
                // error only if the response did not arrive.
                match (response.await, r) {
                    (Ok(resp), _) => Ok(resp),
                    (Err(_), Err(conn_failure)) => Err(conn_failure),
                    (Err(e), Ok(())) => Err(classify_hyper(&e)),
                }
            }
        }
        // Returning drops the connection: the body is never read, and the
        // socket closes as soon as the status and headers are in.
    };
    match tokio::time::timeout_at(deadline, exchange).await {
        Err(_elapsed) => Err(timed_out(timeout, "waiting for response")),
        Ok(r) => r,
    }
}

/// The TLS client of a check, and the name it sends and verifies: the
/// configured one, else the backend's address (no SNI, an IP SAN).
fn tls_client(
    tls: &TlsCheck,
    target: SocketAddr,
) -> Result<(TlsConnector, ServerName<'static>), Failure> {
    let Some(material) = &tls.material else {
        // Config::load fills it in; a config parsed from text alone has none.
        return Err((
            FailReason::Tls,
            "the TLS material was not loaded with the config".to_owned(),
        ));
    };
    let name = match &tls.server_name {
        Some(n) => ServerName::try_from(n.clone())
            .map_err(|e| (FailReason::Tls, format!("server_name {n:?}: {e}")))?,
        None => ServerName::IpAddress(target.ip().into()),
    };
    Ok((TlsConnector::from(material.client_config()), name))
}

/// A failed handshake: what rustls said (an unknown issuer, a name the
/// certificate does not cover, an alert from the server), or the I/O error
/// that cut it short.
fn classify_handshake(e: &std::io::Error) -> Failure {
    match rustls_source(e) {
        Some(tls) => (FailReason::Tls, format!("TLS handshake: {tls}")),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => (
            FailReason::Tls,
            "TLS handshake: the backend closed the connection (does it speak TLS?)".to_owned(),
        ),
        None => (FailReason::Io, format!("TLS handshake: {e}")),
    }
}

/// The rustls error inside an I/O error, if any.
fn rustls_source(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

fn classify_hyper(e: &hyper::Error) -> Failure {
    let reason = if e.is_parse() || e.is_parse_status() || e.is_incomplete_message() {
        FailReason::Protocol
    } else if io_source(e).and_then(rustls_source).is_some() {
        // TLS 1.3 settles client authentication after the client's side of
        // the handshake: a refused certificate arrives as an alert here.
        FailReason::Tls
    } else if io_source(e).is_some() {
        FailReason::Io
    } else {
        FailReason::Protocol
    };
    let detail = match (reason, io_source(e)) {
        (FailReason::Protocol, _) => format!("bad HTTP response: {e}"),
        (_, Some(io)) => format!("{e}: {io}"),
        (_, None) => e.to_string(),
    };
    (reason, detail)
}

fn io_source(e: &hyper::Error) -> Option<&std::io::Error> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = s.source();
    }
    None
}

fn timed_out(timeout: Duration, phase: &str) -> Failure {
    (
        FailReason::Timeout,
        format!("timeout after {timeout:?} ({phase})"),
    )
}

/// `{ip}:{port}`, IPv6 in brackets. Built by hand because `SocketAddrV6`'s
/// Display would add a `%scope` that is not valid in a Host header.
fn default_host(target: SocketAddr) -> String {
    match target {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

fn list(codes: &[u16]) -> String {
    let codes: Vec<String> = codes.iter().map(u16::to_string).collect();
    codes.join(", ")
}

fn fmt_latency(d: Duration) -> String {
    format!("{:.1}ms", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;

    const REGISTRY_HEADER: &str = "Docker-Distribution-API-Version";
    const TIMEOUT: Duration = Duration::from_millis(200);

    /// Accepts one connection, reads the request head, answers `response`
    /// verbatim and closes. Resolves to the request bytes it received.
    async fn serve_once(response: &'static str) -> (SocketAddr, JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => req.extend_from_slice(&buf[..n]),
                }
            }
            sock.write_all(response.as_bytes()).await.unwrap();
            let _ = sock.shutdown().await;
            String::from_utf8(req).unwrap()
        });
        (addr, handle)
    }

    fn http(host: Option<&str>, expect: &[u16], expect_header: Option<&str>) -> HealthKind {
        HealthKind::Http {
            path: "/v2/".to_owned(),
            host: host.map(str::to_owned),
            expect: expect.to_vec(),
            expect_header: expect_header.map(str::to_owned),
            tls: None,
        }
    }

    /// An address where nothing listens: bind, note the port, release it.
    async fn closed_port() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    }

    const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    const AUTH: &str = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";
    const AUTH_REG: &str = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\
                            Docker-Distribution-API-Version: registry/2.0\r\n\r\n";
    const AUTH_REG_LC: &str = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\
                               docker-distribution-api-version: registry/2.0\r\n\r\n";
    const BUSY: &str = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nbusy!";
    const SSH: &str = "SSH-2.0-OpenSSH_9.6\r\n\r\n";

    #[tokio::test]
    async fn http_responses() {
        use FailReason::{Header, Protocol, Status};
        // (canned response, expected statuses, require the registry header,
        // expected failure, expected detail prefix)
        type Case = (
            &'static str,
            &'static [u16],
            bool,
            Option<FailReason>,
            &'static str,
        );
        let cases: &[Case] = &[
            (OK, &[200], false, None, "HTTP 200 in "),
            (AUTH_REG, &[200, 401], true, None, "HTTP 401 in "),
            // Header names are case-insensitive.
            (AUTH_REG_LC, &[200, 401], true, None, "HTTP 401 in "),
            (
                AUTH,
                &[200, 401],
                true,
                Some(Header),
                "HTTP 401 missing header Docker-Distribution-API-Version",
            ),
            (
                BUSY,
                &[200, 401],
                false,
                Some(Status),
                "HTTP 503 (expected 200, 401)",
            ),
            // Status is checked before the header.
            (AUTH, &[200], true, Some(Status), "HTTP 401 (expected 200)"),
            (SSH, &[200], false, Some(Protocol), "bad HTTP response: "),
            // Reads the request and closes without a byte of answer.
            ("", &[200], false, Some(Protocol), "bad HTTP response: "),
        ];
        for &(response, expect, header, want_reason, want_detail) in cases {
            let (addr, _server) = serve_once(response).await;
            let probe = http(None, expect, header.then_some(REGISTRY_HEADER));
            let (outcome, latency) = run_probe(&probe, addr, None, TIMEOUT).await;
            let ctx = format!("response {response:?}: {outcome:?}");
            assert_eq!(outcome.reason(), want_reason, "{ctx}");
            assert!(outcome.detail().starts_with(want_detail), "{ctx}");
            assert!(latency < TIMEOUT, "{ctx}");
        }
    }

    #[tokio::test]
    async fn http_request_default_host_and_headers() {
        let (addr, server) = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
        let (outcome, _) = run_probe(&http(None, &[200], None), addr, None, TIMEOUT).await;
        assert!(outcome.is_ok(), "{outcome:?}");
        let req = server.await.unwrap();
        assert!(req.starts_with("GET /v2/ HTTP/1.1\r\n"), "{req}");
        let lower = req.to_ascii_lowercase();
        assert!(lower.contains(&format!("\r\nhost: {addr}\r\n")), "{req}");
        assert!(
            lower.contains("\r\nuser-agent: regha-health/0.1\r\n"),
            "{req}"
        );
        assert!(lower.contains("\r\nconnection: close\r\n"), "{req}");
    }

    #[tokio::test]
    async fn http_request_sends_configured_host() {
        let (addr, server) = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
        let probe = http(Some("registry.example:5000"), &[200], None);
        let (outcome, _) = run_probe(&probe, addr, None, TIMEOUT).await;
        assert!(outcome.is_ok(), "{outcome:?}");
        let req = server.await.unwrap().to_ascii_lowercase();
        assert!(req.contains("\r\nhost: registry.example:5000\r\n"), "{req}");
        assert_eq!(req.matches("host:").count(), 1, "{req}");
    }

    /// The probe leaves from the source it is given (the LB's own address,
    /// never a VIP), whichever address the kernel would have picked.
    #[tokio::test]
    async fn the_probe_leaves_from_the_given_source() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut sock, peer) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = sock.read(&mut buf).await;
            sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
            peer.ip()
        });
        let source: SocketAddr = "127.0.0.2:0".parse().unwrap();
        let (outcome, _) = run_probe(&http(None, &[200], None), addr, Some(source), TIMEOUT).await;
        assert!(outcome.is_ok(), "{outcome:?}");
        assert_eq!(server.await.unwrap(), source.ip());
    }

    #[tokio::test]
    async fn closed_port_is_refused() {
        let addr = closed_port().await;
        for probe in [http(None, &[200], None), HealthKind::Tcp] {
            let (outcome, _) = run_probe(&probe, addr, None, TIMEOUT).await;
            assert_eq!(outcome.reason(), Some(FailReason::Refused), "{outcome:?}");
            assert_eq!(outcome.detail(), "connection refused");
        }
    }

    #[tokio::test]
    async fn http_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Accept and hold the socket open without ever answering.
        let server = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(sock);
        });
        let (outcome, latency) = run_probe(&http(None, &[200], None), addr, None, TIMEOUT).await;
        server.abort();
        assert_eq!(outcome.reason(), Some(FailReason::Timeout), "{outcome:?}");
        assert_eq!(
            outcome.detail(),
            "timeout after 200ms (waiting for response)"
        );
        assert!(latency >= TIMEOUT, "{latency:?}");
        assert!(latency < TIMEOUT * 5, "{latency:?}");
    }

    #[tokio::test]
    async fn tcp_ok() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        // The kernel completes the handshake from the backlog; no accept needed.
        let (outcome, _) = run_probe(
            &HealthKind::Tcp,
            listener.local_addr().unwrap(),
            None,
            TIMEOUT,
        )
        .await;
        assert!(outcome.is_ok(), "{outcome:?}");
        assert!(
            outcome.detail().starts_with("TCP connect in "),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn invalid_path_fails_without_connecting() {
        let mut probe = http(None, &[200], None);
        if let HealthKind::Http { path, .. } = &mut probe {
            *path = "not a path".to_owned();
        }
        let (outcome, _) = run_probe(&probe, closed_port().await, None, TIMEOUT).await;
        assert_eq!(outcome.reason(), Some(FailReason::Protocol), "{outcome:?}");
        assert!(
            outcome.detail().starts_with("invalid request"),
            "{outcome:?}"
        );
    }

    #[test]
    fn default_host_brackets_ipv6_without_scope() {
        for (addr, host) in [
            ("192.0.2.11:5000", "192.0.2.11:5000"),
            ("[2001:db8::1]:5000", "[2001:db8::1]:5000"),
            ("[fe80::1%2]:5000", "[fe80::1]:5000"),
        ] {
            assert_eq!(default_host(addr.parse().unwrap()), host);
        }
    }
}
