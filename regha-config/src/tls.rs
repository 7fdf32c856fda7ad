//! The HTTPS check's TLS client (`services[].health.http.tls`): the PEM
//! files it names, read and checked when the config is loaded, and the
//! rustls client made from them.
//!
//! Read at load, not at the first check: the agent drops the capabilities
//! that would let it read files it does not own once it is set up, and a
//! CA file that does not parse must refuse the config (at start, at a
//! reload, in `check-config`) rather than take every backend down one check
//! later. A reload reads the files again, so a renewed certificate is
//! picked up by `SIGHUP`.
//!
//! Roots: the `ca_file`'s certificates, or else the system's store through
//! rustls-native-certs (the files OpenSSL would use: `SSL_CERT_FILE`,
//! `/etc/ssl/certs`), where an operator installs the private CA a registry's
//! certificate is signed by, as the docker client trusts it there too.
//! `verify: false` keeps the handshake's signatures checked (the server
//! must hold the key of the certificate it sent) but trusts any certificate
//! for any name.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{ConfigError, ConfigErrors};
use crate::load::{ReadError, read_bounded};
use crate::types::{Config, HealthKind, TlsCheck};

/// The largest PEM file read: 4 MiB. A whole system bundle
/// (`ca-certificates.crt`, about 200 KiB) fits many times over.
pub const MAX_PEM_BYTES: u64 = 4 << 20;

/// Why the TLS material was refused. `what` names the file (its path) or,
/// for PEM given as bytes, its role.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what}: {reason}")]
    Read { what: String, reason: ReadError },
    #[error("{what}: {reason}: give the certificates in PEM (-----BEGIN CERTIFICATE-----)")]
    BadPem { what: String, reason: String },
    #[error("{what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate { what: String },
    #[error("{what}: certificate {index} is not a usable CA certificate: {reason}")]
    BadCa {
        what: String,
        index: usize,
        reason: String,
    },
    #[error(
        "{what} holds no PEM private key (-----BEGIN PRIVATE KEY-----, RSA or EC): {reason}; give the key of the client certificate"
    )]
    NoKey { what: String, reason: String },
    #[error(
        "no system root certificate could be read{detail}: install the ca-certificates package, or set ca_file"
    )]
    NoSystemRoots { detail: String },
    #[error("the client certificate and key cannot be used: {0}")]
    ClientIdentity(rustls::Error),
}

/// The roots, and the client identity if any, ready for the checks. Equal
/// when the certificates and keys read are, so that a reload with renewed
/// files counts as a change of the check.
#[derive(Clone)]
pub struct TlsMaterial {
    client: Arc<ClientConfig>,
    /// Every certificate and key read, DER, in order: what equality compares.
    read: Arc<Vec<Vec<u8>>>,
    roots: usize,
    identity: bool,
}

impl PartialEq for TlsMaterial {
    fn eq(&self, other: &Self) -> bool {
        self.read == other.read
    }
}

impl Eq for TlsMaterial {}

impl fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("TlsMaterial")
            .field("roots", &self.roots)
            .field("client_cert", &self.identity)
            .finish_non_exhaustive()
    }
}

/// PEM text already read, with what names it in an error (its path).
pub type Pem<'a> = (&'a str, &'a [u8]);

/// The PEM a [`TlsMaterial`] is made from, already read.
pub struct TlsPem<'a> {
    /// Check the chain and the name.
    pub verify: bool,
    /// The CA certificates; none: `system` (with `verify`).
    pub ca: Option<Pem<'a>>,
    /// The client certificate chain, and the file holding its key.
    pub client: Option<(Pem<'a>, Pem<'a>)>,
}

impl TlsMaterial {
    /// The rustls client every check of the service shares.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.client)
    }

    /// Builds the client from PEM already read; `system` gives the
    /// system's roots when they are needed (`verify` without a CA).
    pub fn from_pem(
        pem: &TlsPem<'_>,
        system: &mut dyn FnMut() -> Result<Vec<CertificateDer<'static>>, TlsError>,
    ) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(TlsError::ClientIdentity)?;
        let mut read = Vec::new();
        let mut roots = RootCertStore::empty();
        let builder = if pem.verify {
            let certs = match pem.ca {
                Some((what, bytes)) => certificates(what, bytes)?,
                None => system()?,
            };
            for (i, cert) in certs.into_iter().enumerate() {
                read.push(cert.to_vec());
                let what = pem.ca.map_or("a system root", |(what, _)| what);
                if let Err(e) = roots.add(cert) {
                    // One unusable system root is the system's business.
                    if pem.ca.is_some() {
                        return Err(TlsError::BadCa {
                            what: what.to_owned(),
                            index: i + 1,
                            reason: e.to_string(),
                        });
                    }
                }
            }
            builder.with_root_certificates(roots.clone())
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        };
        let config = match pem.client {
            None => builder.with_no_client_auth(),
            Some(((cert_what, cert), (key_what, key))) => {
                let chain = certificates(cert_what, cert)?;
                let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| TlsError::NoKey {
                    what: key_what.to_owned(),
                    reason: e.to_string(),
                })?;
                read.extend(chain.iter().map(|c| c.to_vec()));
                read.push(key.secret_der().to_vec());
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(TlsError::ClientIdentity)?
            }
        };
        Ok(Self {
            client: Arc::new(config),
            read: Arc::new(read),
            roots: roots.len(),
            identity: pem.client.is_some(),
        })
    }

    /// Reads the files `check` names and builds the client; the error
    /// names the key (`ca_file`, `client_cert`, `client_key`, or none for
    /// the system roots) it is about.
    pub fn load(
        check: &TlsCheck,
        system: &mut dyn FnMut() -> Result<Vec<CertificateDer<'static>>, TlsError>,
    ) -> Result<Self, (&'static str, TlsError)> {
        let read = |key: &'static str, path: &Path| {
            read_bounded(path, MAX_PEM_BYTES).map_err(|reason| {
                (
                    key,
                    TlsError::Read {
                        what: path.display().to_string(),
                        reason,
                    },
                )
            })
        };
        let ca = match &check.ca_file {
            Some(p) if check.verify => Some((p.display().to_string(), read("ca_file", p)?)),
            _ => None,
        };
        let client = match &check.client_cert {
            None => None,
            Some(cert) => {
                let key = check.client_key.as_deref().unwrap_or(cert);
                let key_field = if check.client_key.is_some() {
                    "client_key"
                } else {
                    "client_cert"
                };
                Some((
                    (cert.display().to_string(), read("client_cert", cert)?),
                    (key.display().to_string(), read(key_field, key)?),
                    key_field,
                ))
            }
        };
        let pem = TlsPem {
            verify: check.verify,
            ca: ca.as_ref().map(|(w, b)| (w.as_str(), b.as_slice())),
            client: client.as_ref().map(|(c, k, _)| {
                (
                    (c.0.as_str(), c.1.as_slice()),
                    (k.0.as_str(), k.1.as_slice()),
                )
            }),
        };
        Self::from_pem(&pem, system).map_err(|e| {
            let key = match &e {
                TlsError::NoSystemRoots { .. } => "",
                TlsError::NoKey { .. } => client.as_ref().map_or("client_key", |c| c.2),
                TlsError::ClientIdentity(_) => "client_cert",
                TlsError::BadPem { what, .. }
                | TlsError::NoCertificate { what }
                | TlsError::Read { what, .. }
                | TlsError::BadCa { what, .. } => {
                    if ca.as_ref().is_some_and(|(w, _)| w == what) {
                        "ca_file"
                    } else {
                        "client_cert"
                    }
                }
            };
            (key, e)
        })
    }
}

/// Whether `name` can be `tls.server_name`: a DNS name or an IP address.
pub fn valid_server_name(name: &str) -> bool {
    ServerName::try_from(name).is_ok()
}

/// Every certificate of a PEM file, at least one.
fn certificates(what: &str, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadPem {
            what: what.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            what: what.to_owned(),
        });
    }
    Ok(certs)
}

/// The system's roots (rustls-native-certs), at least one.
pub fn system_roots() -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        return Err(TlsError::NoSystemRoots {
            detail: if errors.is_empty() {
                String::new()
            } else {
                format!(" ({})", errors.join("; "))
            },
        });
    }
    Ok(found.certs)
}

impl Config {
    /// Reads the TLS material of every HTTPS check ([`TlsCheck::material`]):
    /// each problem named by its field path. [`Config::load`] runs it; the
    /// system roots are read once, when a check needs them.
    pub fn load_tls_material(&mut self) -> Result<(), ConfigErrors> {
        let mut cached: Option<Vec<CertificateDer<'static>>> = None;
        let mut system = || match &cached {
            Some(c) => Ok(c.clone()),
            None => {
                let roots = system_roots()?;
                cached = Some(roots.clone());
                Ok(roots)
            }
        };
        let mut errors = Vec::new();
        for (i, s) in self.services.iter_mut().enumerate() {
            let HealthKind::Http { tls: Some(tls), .. } = &mut s.health.kind else {
                continue;
            };
            match TlsMaterial::load(tls, &mut system) {
                Ok(m) => tls.material = Some(m),
                Err((key, e)) => {
                    let at = format!("services[{i}].health.http.tls");
                    let path = if key.is_empty() {
                        at
                    } else {
                        format!("{at}.{key}")
                    };
                    errors.push(ConfigError::new(path, e.to_string()));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

/// `verify: false`: any certificate, any name. The handshake's signature
/// is still checked, so the server holds the key of what it sent.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
