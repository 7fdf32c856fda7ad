//! `services[].health.http.tls`: what it accepts and refuses as text, and
//! what `Config::load` says about the PEM files it names.

use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

use super::*;

/// [`MINIMAL`] with an HTTPS check whose `tls:` map is `tls`.
fn with_tls(tls: &str) -> String {
    format!("{MINIMAL}    health: {{ http: {{ tls: {tls} }} }}\n")
}

fn tls_of(config: &Config) -> &TlsCheck {
    match &config.services[0].health.kind {
        HealthKind::Http { tls: Some(t), .. } => t.as_ref(),
        other => panic!("no tls check: {other:?}"),
    }
}

#[test]
fn a_bare_tls_key_verifies_against_the_system_roots_and_the_address() {
    for text in [with_tls("{}"), with_tls("null")] {
        assert_eq!(tls_of(&parse(&text)), &TlsCheck::verified(), "{text}");
    }
    let config = parse(&with_tls(
        "{ server_name: registry.example, ca_file: /etc/regha/ca.pem, client_cert: /etc/regha/c.pem, client_key: /etc/regha/c.key }",
    ));
    let t = tls_of(&config);
    assert_eq!(t.server_name.as_deref(), Some("registry.example"));
    assert!(t.verify);
    assert_eq!(t.ca_file.as_deref(), Some(Path::new("/etc/regha/ca.pem")));
    assert_eq!(t.client_key.as_deref(), Some(Path::new("/etc/regha/c.key")));
    // Written back, it reads the same.
    assert_eq!(parse(&config.to_yaml()), config);
    // An address is a server name too (verified as an IP SAN).
    parse(&with_tls("{ server_name: 192.0.2.11 }"));
    // Plain HTTP stays plain.
    assert!(matches!(
        parse(MINIMAL).services[0].health.kind,
        HealthKind::Http { tls: None, .. }
    ));
}

#[test]
fn tls_refusals_name_the_key() {
    let at = "services[0].health.http.tls";
    for (tls, key, message) in [
        ("{ ca_file: ca.pem }", "ca_file", "is not an absolute path"),
        (
            "{ verify: false, ca_file: /etc/regha/ca.pem }",
            "ca_file",
            "verify: false",
        ),
        (
            "{ client_key: /etc/regha/c.key }",
            "client_key",
            "without client_cert",
        ),
        (
            "{ server_name: \"not a name\" }",
            "server_name",
            "neither a DNS name nor an IP address",
        ),
    ] {
        assert_error(&with_tls(tls), &format!("{at}.{key}"), message);
    }
    let errors = errors(&with_tls("{ verfy: false }"));
    assert!(
        errors[0].message.contains("unknown field `verfy`"),
        "{errors:?}"
    );
}

#[test]
fn verify_false_is_warned_about() {
    let config = parse(&with_tls("{ verify: false }"));
    let warnings = config.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.path == "services[0].health.http.tls.verify"
                && w.message.contains("trust any certificate")),
        "{warnings:?}"
    );
    assert!(
        !parse(&with_tls("{}"))
            .warnings()
            .iter()
            .any(|w| w.path.contains("tls")),
        "verify: true is not warned about"
    );
}

/// A CA, and a leaf it signed (for `name`) with its key, as PEM.
struct Pki {
    ca: String,
    cert: String,
    key: String,
}

fn pki(name: &str) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![name.to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    Pki {
        ca: ca.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// A directory of its own under the temp directory, emptied first.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("regha-config-tls-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Loads [`MINIMAL`] with `tls` from a file in `dir`.
fn load(dir: &Path, tls: &str) -> Result<Config, ConfigErrors> {
    let path = dir.join("regha.yaml");
    std::fs::write(&path, with_tls(tls)).unwrap();
    Config::load(&path)
}

#[test]
fn load_reads_the_pem_files_and_names_the_one_that_is_wrong() {
    let dir = scratch_dir("load");
    let p = pki("registry.example");
    let other = pki("registry.example");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let ca = write("ca.pem", &p.ca);
    let cert = write("cert.pem", &p.cert);
    let key = write("key.pem", &p.key);
    let both = write("both.pem", &format!("{}{}", p.cert, p.key));
    let wrong_key = write("wrong-key.pem", &other.key);
    let garbage = write("garbage.pem", "not PEM at all\n");
    let missing = dir.join("missing.pem").display().to_string();

    let config = load(
        &dir,
        &format!("{{ ca_file: {ca}, client_cert: {cert}, client_key: {key} }}"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let material = tls_of(&config).material.as_ref().expect("loaded");
    assert_eq!(
        format!("{material:?}"),
        "TlsMaterial { roots: 1, client_cert: true, .. }"
    );
    // HAProxy's `crt`: certificate and key in one file.
    let config = load(&dir, &format!("{{ ca_file: {ca}, client_cert: {both} }}")).unwrap();
    assert!(tls_of(&config).material.is_some());
    // Read again, the same files make an equal config; other files do not.
    let again = load(&dir, &format!("{{ ca_file: {ca}, client_cert: {both} }}")).unwrap();
    assert_eq!(again, config);
    std::fs::write(&ca, &other.ca).unwrap();
    let renewed = load(&dir, &format!("{{ ca_file: {ca}, client_cert: {both} }}")).unwrap();
    assert_ne!(renewed, config, "a renewed CA file is a change");
    std::fs::write(&ca, &p.ca).unwrap();

    let at = "services[0].health.http.tls";
    for (tls, key, message) in [
        (
            format!("{{ ca_file: {missing} }}"),
            "ca_file",
            "cannot read",
        ),
        (
            format!("{{ ca_file: {garbage} }}"),
            "ca_file",
            "holds no PEM certificate",
        ),
        (
            format!("{{ ca_file: {key} }}"),
            "ca_file",
            "holds no PEM certificate",
        ),
        (
            format!("{{ ca_file: {ca}, client_cert: {cert} }}"),
            "client_cert",
            "holds no PEM private key",
        ),
        (
            format!("{{ ca_file: {ca}, client_cert: {cert}, client_key: {garbage} }}"),
            "client_key",
            "holds no PEM private key",
        ),
        (
            format!("{{ ca_file: {ca}, client_cert: {cert}, client_key: {wrong_key} }}"),
            "client_cert",
            "cannot be used",
        ),
        (
            format!("{{ ca_file: {ca}, client_cert: {missing} }}"),
            "client_cert",
            "cannot read",
        ),
        (
            format!(
                "{{ ca_file: {ca}, client_cert: {dir} }}",
                dir = dir.display()
            ),
            "client_cert",
            "not a regular file",
        ),
    ] {
        let errors = load(&dir, &tls).expect_err(&tls).0;
        assert!(
            errors
                .iter()
                .any(|e| e.path == format!("{at}.{key}") && e.message.contains(message)),
            "{tls}: no error at {key} containing {message:?}: {errors:?}"
        );
    }
    // verify: false reads no CA: nothing to refuse.
    let config = load(&dir, "{ verify: false }").unwrap();
    assert!(tls_of(&config).material.is_some());
    let _ = std::fs::remove_dir_all(&dir);
}
