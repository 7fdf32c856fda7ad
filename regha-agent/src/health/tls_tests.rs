//! The HTTPS check against a rustls server on 127.0.0.1, with a CA and
//! certificates made for the test (rcgen): which handshakes pass, and what
//! a failure says.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use regha_config::tls::{TlsError, TlsMaterial, TlsPem};
use regha_config::{HealthKind, TlsCheck};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::{FailReason, run_probe};

const TIMEOUT: Duration = Duration::from_secs(2);
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// A CA that signs leaves.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// A CA of its own name: two CAs of one name would make a leaf of the
    /// other look like a bad signature rather than an unknown issuer.
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `names` (DNS names or addresses): (certificate, key) PEM.
    fn leaf(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*n).try_into().unwrap()),
            })
            .collect();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// Serves HTTPS on 127.0.0.1 with `cert`/`key`, requiring a client
/// certificate signed by `client_ca` if given, answering 200 to every
/// request, until dropped.
async fn server(cert: &str, key: &str, client_ca: Option<&Ca>) -> (SocketAddr, ServerGuard) {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca.pem.as_bytes()) {
                roots.add(c.unwrap()).unwrap();
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(chain, key).unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let (sock, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tls.write_all(OK).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, ServerGuard(task))
}

struct ServerGuard(tokio::task::JoinHandle<()>);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the client trusts and shows.
struct Client<'a> {
    verify: bool,
    ca: Option<&'a Ca>,
    identity: Option<&'a (String, String)>,
    server_name: Option<&'a str>,
}

impl Client<'_> {
    fn trusting(ca: &Ca) -> Client<'_> {
        Client {
            verify: true,
            ca: Some(ca),
            identity: None,
            server_name: None,
        }
    }

    fn probe(&self) -> HealthKind {
        let pem = TlsPem {
            verify: self.verify,
            ca: self.ca.map(|ca| ("the test CA", ca.pem.as_bytes())),
            client: self.identity.map(|(cert, key)| {
                (
                    ("the client certificate", cert.as_bytes()),
                    ("the client key", key.as_bytes()),
                )
            }),
        };
        let mut no_system_roots =
            || -> Result<_, TlsError> { panic!("the tests never use the system roots") };
        let material = TlsMaterial::from_pem(&pem, &mut no_system_roots).unwrap();
        HealthKind::Http {
            path: "/v2/".to_owned(),
            host: None,
            expect: vec![200],
            expect_header: None,
            tls: Some(Box::new(TlsCheck {
                server_name: self.server_name.map(str::to_owned),
                verify: self.verify,
                material: Some(material),
                ..TlsCheck::verified()
            })),
        }
    }

    /// The failure reason (none: passed) and the detail of one check.
    async fn check(&self, addr: SocketAddr) -> (Option<FailReason>, String) {
        let (outcome, _) = run_probe(&self.probe(), addr, None, TIMEOUT).await;
        (outcome.reason(), outcome.detail().to_owned())
    }
}

fn assert_tls_failure((reason, detail): (Option<FailReason>, String), want: &str) {
    assert_eq!(reason, Some(FailReason::Tls), "{detail}");
    assert!(
        detail.contains(want),
        "the detail should say {want:?}: {detail}"
    );
}

#[tokio::test]
async fn the_certificate_is_verified_against_the_ca_and_the_address() {
    let ca = Ca::new("test CA 1");
    let (cert, key) = ca.leaf(&["127.0.0.1", "registry.test"]);
    let (addr, _server) = server(&cert, &key, None).await;

    // The address as an IP SAN, no SNI.
    let (reason, detail) = Client::trusting(&ca).check(addr).await;
    assert_eq!(reason, None, "{detail}");
    assert!(detail.starts_with("HTTP 200 in "), "{detail}");
    // A configured name, sent and verified.
    let named = Client {
        server_name: Some("registry.test"),
        ..Client::trusting(&ca)
    };
    assert_eq!(named.check(addr).await.0, None);

    // Another CA: the check fails, and says why.
    let other = Ca::new("test CA 2");
    assert_tls_failure(
        Client::trusting(&other).check(addr).await,
        "TLS handshake: invalid peer certificate: UnknownIssuer",
    );
    // A name the certificate does not carry.
    let wrong_name = Client {
        server_name: Some("other.test"),
        ..Client::trusting(&ca)
    };
    assert_tls_failure(
        wrong_name.check(addr).await,
        "certificate not valid for name \"other.test\"",
    );
    // verify: false takes the certificate of any CA, for any name.
    let anything = Client {
        verify: false,
        ca: None,
        server_name: Some("other.test"),
        ..Client::trusting(&other)
    };
    assert_eq!(anything.check(addr).await.0, None);
}

#[tokio::test]
async fn a_certificate_without_the_address_fails_unless_the_name_is_given() {
    let ca = Ca::new("test CA 3");
    let (cert, key) = ca.leaf(&["registry.test"]);
    let (addr, _server) = server(&cert, &key, None).await;
    assert_tls_failure(
        Client::trusting(&ca).check(addr).await,
        "certificate not valid for name \"127.0.0.1\"",
    );
    let named = Client {
        server_name: Some("registry.test"),
        ..Client::trusting(&ca)
    };
    assert_eq!(named.check(addr).await.0, None);
}

#[tokio::test]
async fn a_client_certificate_is_shown_when_the_server_requires_one() {
    let ca = Ca::new("test CA 4");
    let (cert, key) = ca.leaf(&["127.0.0.1"]);
    let clients = Ca::new("test CA 5");
    let (addr, _server) = server(&cert, &key, Some(&clients)).await;

    let identity = clients.leaf(&["regha-lb.test"]);
    let with_cert = Client {
        identity: Some(&identity),
        ..Client::trusting(&ca)
    };
    let (reason, detail) = with_cert.check(addr).await;
    assert_eq!(reason, None, "{detail}");
    // Without one, or with one the server does not trust: refused, as TLS.
    let (reason, detail) = Client::trusting(&ca).check(addr).await;
    assert_eq!(reason, Some(FailReason::Tls), "{detail}");
    let stranger = Ca::new("test CA 6").leaf(&["regha-lb.test"]);
    let untrusted = Client {
        identity: Some(&stranger),
        ..Client::trusting(&ca)
    };
    let (reason, detail) = untrusted.check(addr).await;
    assert_eq!(reason, Some(FailReason::Tls), "{detail}");
}

#[tokio::test]
async fn a_plain_http_backend_fails_the_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = sock.read(&mut buf).await;
        let _ = sock
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
        let _ = sock.shutdown().await;
    });
    let ca = Ca::new("test CA 7");
    let (reason, detail) = Client::trusting(&ca).check(addr).await;
    server.abort();
    assert_eq!(reason, Some(FailReason::Tls), "{detail}");
    assert!(detail.starts_with("TLS handshake: "), "{detail}");
}

#[tokio::test]
async fn a_config_parsed_without_its_files_fails_the_check_saying_so() {
    let probe = HealthKind::Http {
        path: "/v2/".to_owned(),
        host: None,
        expect: vec![200],
        expect_header: None,
        tls: Some(Box::new(TlsCheck::verified())),
    };
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let (outcome, _) = run_probe(&probe, addr, None, TIMEOUT).await;
    assert_eq!(outcome.reason(), Some(FailReason::Tls), "{outcome:?}");
    assert!(outcome.detail().contains("not loaded"), "{outcome:?}");
}
