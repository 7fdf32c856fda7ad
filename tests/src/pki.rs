//! A lab CA and the certificates it signs, made with the `openssl` CLI
//! (`cargo xtask setup` installs it): the TLS registries' certificates and
//! the CA their clients and regha's HTTPS checks trust. EC P-256 keys, so
//! that making them costs milliseconds; valid two days, for a test run.

use std::{
    net::IpAddr,
    path::{Path, PathBuf},
    process::Command,
};

pub const OPENSSL_BIN: &str = "/usr/bin/openssl";

/// A CA: its certificate (PEM) and key, in a directory of its own.
pub struct Ca {
    pub cert: PathBuf,
    dir: PathBuf,
}

/// A server certificate and its key (PEM files).
pub struct ServerCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    assert!(
        Path::new(OPENSSL_BIN).exists(),
        "{OPENSSL_BIN} is missing: `cargo xtask setup` installs Debian's openssl"
    );
    let out = Command::new(OPENSSL_BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

impl Ca {
    /// A new CA named `name` in `dir/name` (made).
    pub fn new(dir: &Path, name: &str) -> Self {
        let dir = dir.join(name);
        std::fs::create_dir_all(&dir).expect("CA directory");
        let subject = format!("/CN={name}");
        let mut args = vec!["req", "-x509", "-nodes", "-days", "2", "-subj", &subject];
        args.extend(EC);
        args.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&dir, &args);
        Self {
            cert: dir.join("ca.crt"),
            dir,
        }
    }

    /// A server certificate named `name` for `addresses` and `dns` names
    /// (its subject alternative names), signed by this CA.
    pub fn server(&self, name: &str, addresses: &[IpAddr], dns: &[&str]) -> ServerCert {
        let sans: Vec<String> = (addresses.iter().map(|a| format!("IP:{a}")))
            .chain(dns.iter().map(|d| format!("DNS:{d}")))
            .collect();
        let ext = self.dir.join(format!("{name}.ext"));
        std::fs::write(
            &ext,
            format!(
                "subjectAltName={}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
                sans.join(",")
            ),
        )
        .expect("write the extensions");
        let (key, csr, cert) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        let subject = format!("/CN={name}");
        let mut args = vec!["req", "-nodes", "-subj", &subject];
        args.extend(EC);
        args.extend(["-keyout", &key, "-out", &csr]);
        openssl(&self.dir, &args);
        let ext = ext.display().to_string();
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext,
                "-out",
                &cert,
            ],
        );
        ServerCert {
            cert: self.dir.join(cert),
            key: self.dir.join(key),
        }
    }

    /// A certs directory for skopeo (`--cert-dir`): `ca.crt`, this CA.
    pub fn certs_dir(&self) -> PathBuf {
        let dir = self.dir.join("certs.d");
        std::fs::create_dir_all(&dir).expect("certs directory");
        std::fs::copy(&self.cert, dir.join("ca.crt")).expect("copy the CA");
        dir
    }
}
